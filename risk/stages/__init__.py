"""The stages of the monthly job, one module each; `risk.pipeline` runs them in order.

A stage's partition step takes one partition's tables (a county group, or the whole directory for the
local engine) and returns a small result; its client step combines the partitions' results.
"""
