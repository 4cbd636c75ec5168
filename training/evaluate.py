"""Evaluation: list metrics first (precision/recall at capacity), then AUC, calibration, fairness by group.

Every model and baseline is judged on exactly the same rows. Shares of households ("0.05" = the top 5%
of each validation month pooled) are the capacity a county can review; ties in a score are broken by a
seeded random order so a coarse score (the rules) is not flattered by row order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

SHARES: tuple[float, ...] = (0.05, 0.10, 0.20)


def share_key(share: float) -> str:
    """The evaluation.json key of a share: 0.05 → "0.05", 0.1 → "0.10"."""
    return f"{share:.2f}"


def top_share(score: np.ndarray, share: float, *, seed: int = 0) -> np.ndarray:
    """Boolean mask of the top `share` of rows by score (ceil), ties in random (seeded) order."""
    score = np.asarray(score, dtype=float)
    n_top = int(np.ceil(share * len(score)))
    tiebreak = np.random.default_rng(seed).random(len(score))
    order = np.lexsort((tiebreak, -np.nan_to_num(score, nan=-np.inf)))
    mask = np.zeros(len(score), dtype=bool)
    mask[order[:n_top]] = True
    return mask


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, *, bins: int = 10) -> float:
    """ECE with `bins` equal-width probability bins: Σ (n_bin / n) · |mean(y) − mean(p)| per bin."""
    y = np.asarray(y, dtype=float)
    probability = np.asarray(probability, dtype=float)
    which = np.minimum((probability * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.sum() / len(y) * abs(y[rows].mean() - probability[rows].mean())
    return float(total)


def score_metrics(
    y: np.ndarray,
    score: np.ndarray,
    *,
    calibrated: bool,
    shares: Sequence[float] = SHARES,
    seed: int = 0,
) -> dict[str, Any]:
    """AUC, PR-AUC, precision/recall at each share; Brier and ECE when `score` is a probability.

    Examples
    --------
    >>> m = score_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.4]), calibrated=True,
    ...                   shares=[0.5])
    >>> m["auc"], m["recall_at"]["0.50"], m["precision_at"]["0.50"]
    (1.0, 1.0, 1.0)
    """
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    filled = np.nan_to_num(score, nan=np.nanmin(score) if np.isfinite(score).any() else 0.0)
    metrics: dict[str, Any] = {
        "auc": _safe(roc_auc_score, y, filled),
        "pr_auc": _safe(average_precision_score, y, filled),
        "brier": float(brier_score_loss(y, score)) if calibrated else None,
        "ece": expected_calibration_error(y, score) if calibrated else None,
        "precision_at": {},
        "recall_at": {},
    }
    positives = max(int(y.sum()), 1)
    for share in shares:
        flagged = top_share(score, share, seed=seed)
        metrics["precision_at"][share_key(share)] = (
            float(y[flagged].mean()) if flagged.any() else 0.0
        )
        metrics["recall_at"][share_key(share)] = float(y[flagged].sum() / positives)
    return metrics


def group_metrics(
    y: np.ndarray,
    flagged: np.ndarray,
    groups: pd.DataFrame,
    *,
    n_boot: int = 500,
    min_positives: int = 20,
    seed: int = 0,
) -> dict[str, Any]:
    """Recall and false-positive rate at the operating point, by group, with 95% bootstrap CIs.

    The bootstrap resamples a group's positives and negatives separately (stratified); for a
    proportion that is the same as drawing `Binomial(n, p̂) / n`, which is what is done. A group's gap
    is *flagged* when its whole interval lies on one side of the overall value (recall below it, or
    false-positive rate above it). Groups with fewer than `min_positives` positives are reported
    without a flag (too small to say).

    Returns
    -------
    dict
        ``{"overall": {...}, "<group column>": {"<value>": {n, positives, recall, recall_ci, fpr,
        fpr_ci, recall_gap, fpr_gap, flagged}}}``
    """
    y = np.asarray(y, dtype=int)
    flagged = np.asarray(flagged, dtype=bool)
    rng = np.random.default_rng(seed)
    overall_recall = _rate(flagged[y == 1])
    overall_fpr = _rate(flagged[y == 0])
    result: dict[str, Any] = {
        "overall": {
            "n": int(len(y)),
            "positives": int(y.sum()),
            "recall": overall_recall,
            "fpr": overall_fpr,
        }
    }
    for column in groups.columns:
        values = groups[column].astype("string").fillna("未知").to_numpy()
        result[str(column)] = {
            str(value): _one_group(
                y[values == value],
                flagged[values == value],
                rng=rng,
                n_boot=n_boot,
                min_positives=min_positives,
                overall=(overall_recall, overall_fpr),
            )
            for value in sorted(pd.unique(values))
        }
    return result


def _one_group(
    y: np.ndarray,
    flagged: np.ndarray,
    *,
    rng: np.random.Generator,
    n_boot: int,
    min_positives: int,
    overall: tuple[float | None, float | None],
) -> dict[str, Any]:
    recall, recall_ci = _rate_ci(flagged[y == 1], rng=rng, n_boot=n_boot)
    fpr, fpr_ci = _rate_ci(flagged[y == 0], rng=rng, n_boot=n_boot)
    recall_low = recall_ci[1] is not None and overall[0] is not None and recall_ci[1] < overall[0]
    fpr_high = fpr_ci[0] is not None and overall[1] is not None and fpr_ci[0] > overall[1]
    enough = int(y.sum()) >= min_positives
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "recall": recall,
        "recall_ci": recall_ci,
        "fpr": fpr,
        "fpr_ci": fpr_ci,
        "recall_gap": None if recall is None or overall[0] is None else recall - overall[0],
        "fpr_gap": None if fpr is None or overall[1] is None else fpr - overall[1],
        "flagged": bool(enough and (recall_low or fpr_high)),
        "too_small": not enough,
    }


def _rate(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _rate_ci(
    values: np.ndarray, *, rng: np.random.Generator, n_boot: int
) -> tuple[float | None, list[float | None]]:
    if len(values) == 0:
        return None, [None, None]
    rate = float(values.mean())
    draws = rng.binomial(len(values), rate, size=n_boot) / len(values)
    return rate, [float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))]


def recall_share_curve(
    y: np.ndarray, score: np.ndarray, *, points: int = 50, seed: int = 0
) -> pd.DataFrame:
    """Recall and precision as the reviewed share grows (for the capacity plot)."""
    y = np.asarray(y, dtype=int)
    tiebreak = np.random.default_rng(seed).random(len(y))
    order = np.lexsort((tiebreak, -np.nan_to_num(np.asarray(score, float), nan=-np.inf)))
    hits = np.cumsum(y[order])
    shares = np.linspace(0.01, 0.5, points)
    counts = np.maximum(np.ceil(shares * len(y)).astype(int), 1)
    return pd.DataFrame(
        {
            "share": shares,
            "recall": hits[counts - 1] / max(int(y.sum()), 1),
            "precision": hits[counts - 1] / counts,
        }
    )


def comparison_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    """One row per scorer (model, baselines, oracle, champion): AUC, recall and precision at shares."""
    rows = [("model", evaluation)]
    rows += list(evaluation.get("baselines", {}).items())
    for extra in ("oracle", "champion"):
        if evaluation.get(extra) and evaluation[extra].get("auc") is not None:
            rows.append((extra, evaluation[extra]))
    records = []
    for name, metrics in rows:
        record = {"scorer": name, "auc": metrics.get("auc"), "pr_auc": metrics.get("pr_auc")}
        for share in SHARES:
            key = share_key(share)
            record[f"recall@{key}"] = metrics.get("recall_at", {}).get(key)
            record[f"precision@{key}"] = metrics.get("precision_at", {}).get(key)
        record["ece"] = metrics.get("ece")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _safe(metric: Any, y: np.ndarray, score: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(metric(y, score))
