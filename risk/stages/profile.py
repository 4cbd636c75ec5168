"""The manifest's feature profile and drift, from summaries that add up over partitions.

The profile stores, for the scores and every numeric feature, decile edges and the share of the
scored households in each bin; the next run bins its own values by those edges for the population
stability index (drift). Exact deciles of every household's features would need every feature of
every household on the client, so the edges come from a deterministic sample instead: each partition
sends the features of its candidates whose id hashes below a rate that the client sets so the sample
holds about `PROFILE_SAMPLE` households (every household when the run has fewer — a county's profile
is then exactly its deciles). The shares are exact: each partition counts its households per bin of
this run's edges and of the previous run's, and the client adds the counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk.stages.predict import PartPredictions

#: Households whose features set the profile's decile edges (about; every one below it).
PROFILE_SAMPLE = 100_000
_DECILES = np.linspace(0.1, 0.9, 9)


@dataclass(frozen=True)
class BinCounts:
    """Households per bin for some features, from one partition or added over several.

    Attributes
    ----------
    counts
        Feature → households per bin ``(-inf, e1], (e1, e2], ..., (ek, inf)``, then the missing.
    n
        Households counted (the scored ones).
    """

    counts: Mapping[str, np.ndarray]
    n: int


def numeric_columns(features: pd.DataFrame, *, with_bool: bool = False) -> list[str]:
    """Numeric feature columns (booleans only when asked), in the frame's order."""
    return [
        str(column)
        for column in features.columns
        if pd.api.types.is_numeric_dtype(features[column])
        and (with_bool or not pd.api.types.is_bool_dtype(features[column]))
    ]


def sample_rate(n_scored: int, *, size: int = PROFILE_SAMPLE) -> float:
    """Share of households to sample for the edges: 1 (all) up to `size` households."""
    return 1.0 if n_scored <= size else size / n_scored


def sampled(ids: pd.Index, rate: float) -> np.ndarray:
    """Whether each household is in the sample: its id's hash below `rate` (any partitioning).

    Examples
    --------
    >>> sampled(pd.Index(["a", "b"]), 1.0).tolist()
    [True, True]
    """
    if rate >= 1.0:
        return np.ones(len(ids), dtype=bool)
    hashes = pd.util.hash_array(np.asarray(ids.astype(str), dtype=object))
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53) < rate


def profile_sample(part: PartPredictions, *, rate: float) -> pd.DataFrame:
    """The numeric features (as floats) of the partition's sampled candidates (a partition step)."""
    candidates = part.part.candidates
    columns = numeric_columns(candidates)
    chosen = candidates.loc[sampled(candidates.index, rate), columns]
    return pd.DataFrame(
        {c: chosen[c].to_numpy(dtype=float, na_value=np.nan) for c in columns}, index=chosen.index
    )


def decile_edges(values: np.ndarray) -> list[float]:
    """The distinct deciles 10 %…90 % of the present values, rounded as the manifest stores them."""
    present = values[~np.isnan(values)]
    edges = np.unique(np.quantile(present, _DECILES)) if present.size else np.array([])
    return [round(float(e), 8) for e in edges]


def sample_edges(samples: Sequence[pd.DataFrame]) -> dict[str, list[float]]:
    """Decile edges of every column of the partitions' samples (the first sample's column order)."""
    columns = list(samples[0].columns)
    for frame in samples[1:]:
        columns = [c for c in columns if c in frame.columns]
    return {
        column: decile_edges(np.concatenate([f[column].to_numpy(dtype=float) for f in samples]))
        for column in columns
    }


def bin_counts(part: PartPredictions, *, edges: Mapping[str, Sequence[float]]) -> BinCounts:
    """Candidates per bin of `edges`, for the features the partition has (a partition step)."""
    candidates = part.part.candidates
    present = set(numeric_columns(candidates, with_bool=True))
    counts = {
        name: count_bins(candidates[name].to_numpy(dtype=float, na_value=np.nan), cuts)
        for name, cuts in edges.items()
        if name in present
    }
    return BinCounts(counts=counts, n=len(candidates))


def count_bins(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Values per bin ``(-inf, e1], ..., (ek, inf)`` then the missing ones.

    Examples
    --------
    >>> count_bins(np.array([0.0, 1.0, 2.0, np.nan]), [1.0]).tolist()
    [2, 1, 1]
    """
    missing = np.isnan(values)
    positions = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="left")
    counts = np.bincount(positions, minlength=len(edges) + 1)
    return np.append(counts, int(missing.sum())).astype(np.int64)


def add_counts(parts: Sequence[BinCounts]) -> BinCounts:
    """The counts of all partitions (a feature counted where a partition has it)."""
    total: dict[str, np.ndarray] = {}
    for part in parts:
        for name, counts in part.counts.items():
            total[name] = total[name] + counts if name in total else counts.copy()
    return BinCounts(counts=total, n=sum(p.n for p in parts))


def shares(counts: np.ndarray, n: int) -> list[float]:
    """Counts as shares of `n` households, rounded as the manifest stores them."""
    return [round(float(c) / max(n, 1), 8) for c in counts]
