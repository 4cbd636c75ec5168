"""The manifest's profile from summaries that add up: any partitioning gives the same numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.report import _bins
from risk.stages.profile import (
    BinCounts,
    add_counts,
    count_bins,
    decile_edges,
    sample_rate,
    sampled,
    shares,
)


def test_the_sample_does_not_depend_on_the_partitioning() -> None:
    ids = pd.Index([f"52{i:08d}" for i in range(20_000)])
    rate = sample_rate(len(ids), size=2_000)
    whole = sampled(ids, rate)
    split = np.concatenate([sampled(ids[:7_000], rate), sampled(ids[7_000:], rate)])
    assert (whole == split).all()
    assert 1_600 < whole.sum() < 2_400
    assert sampled(ids, sample_rate(len(ids), size=len(ids))).all()


def test_counts_added_over_partitions_give_the_exact_shares() -> None:
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 1000.0, 5_000)
    values[rng.random(5_000) < 0.1] = np.nan
    edges = decile_edges(values)
    parts = [values[:1_234], values[1_234:4_000], values[4_000:]]
    total = add_counts([BinCounts({"x": count_bins(p, edges)}, len(p)) for p in parts])
    exact = _bins(values)
    assert edges == exact["edges"]
    assert shares(total.counts["x"], total.n) == exact["shares"]
