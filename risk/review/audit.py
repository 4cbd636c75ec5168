"""The audit sample: a few households the model did *not* warn, put on the list at random.

Reviewers only ever seeing what the model flagged would make the model's precision look better than
it is and teach the next model only about its own choices (a feedback loop). A small uniform random
sample of the non-warned households of each run is therefore reviewed too; the seed is recorded in
the run's manifest so the sample can be drawn again and checked.
"""

from __future__ import annotations

import secrets

import numpy as np
import pandas as pd


def draw_audit_sample(scores: pd.DataFrame, *, size: int, seed: int) -> pd.DataFrame:
    """Draw `size` households uniformly at random from those not warned.

    Parameters
    ----------
    scores
        One row per scored household, with `household_id`, `rank` and `warned` (bool).
    size
        How many to draw (``review.audit_sample`` in config); all of them when fewer remain.
    seed
        Seed of the draw. The same scores and seed give the same households, whatever the row order
        of `scores`. Record it in the manifest (``audit: {seed, size, household_ids}``).

    Returns
    -------
    DataFrame
        The drawn rows of `scores` (all columns), by rank.

    Examples
    --------
    >>> scores = pd.DataFrame({"household_id": list("ABCDEF"), "rank": range(1, 7),
    ...                        "warned": [True, True, False, False, False, False]})
    >>> draw_audit_sample(scores, size=2, seed=7).equals(draw_audit_sample(scores, size=2, seed=7))
    True
    >>> draw_audit_sample(scores, size=2, seed=7)["warned"].any()
    np.False_
    """
    if size < 0:
        raise ValueError(f"audit sample size must be ≥ 0, got {size}")
    pool = scores[~scores["warned"].astype(bool)]
    ids = np.sort(pool["household_id"].astype(str).unique())
    chosen = np.random.default_rng(seed).choice(ids, size=min(size, len(ids)), replace=False)
    drawn = pool[pool["household_id"].astype(str).isin(chosen)]
    return drawn.sort_values("rank", kind="stable").reset_index(drop=True)


def new_audit_seed() -> int:
    """A fresh seed for a run's audit sample (record it; never reuse a fixed one across runs)."""
    return secrets.randbelow(2**31)
