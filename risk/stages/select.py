"""Ranking, tiers, department rules and the list: who is warned this month, and the audit sample.

The department rules run per partition (`scores_of_part`, which also packs what the partition sends to
the client: predictions, regions, the rules that fired — a few values per household, never its
features). Ranking, tiers and
the operating point (capacity / top percent / threshold) are province-wide: the client combines the
partitions (`gather_scores`) and selects once, so "the top 5 %" is of everyone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from risk.config import FanpinConfig, WarningConfig
from risk.run_context import TIERS
from risk.stages.predict import PartPredictions

REGION_COLUMNS = ("county", "township", "village")


@dataclass(frozen=True)
class PartScores:
    """What one partition sends to the client for the selection: a few values per household.

    Attributes
    ----------
    predictions
        ``probability`` and ``raw_score`` of the partition's candidates, by ``household_id``.
    regions
        ``county``, ``township``, ``village`` of the candidates, same index.
    triggers
        Household → rules fired on a record of the month, only households where one fired.
    n_households, n_monitored
        Households of the partition, and those already monitored.
    """

    predictions: pd.DataFrame
    regions: pd.DataFrame
    triggers: pd.Series
    n_households: int
    n_monitored: int


def policy_rule_triggers(tables: Tables, *, month: pd.Period, config: FanpinConfig) -> pd.Series:
    """Department rules that fired on a record of `month` itself, per household (list of names)."""
    from features.rules import RULE_NAMES, department_rules, triggered_rules  # noqa: PLC0415

    rules = department_rules(tables, as_of=month, params=config.rules, lines=config.lines)
    # Name the rules only where one fired (a few percent of households); the others get [].
    fired = rules[[f"{name}_new" for name in RULE_NAMES]].to_numpy(bool).any(axis=1)
    values: list[list[str]] = [[] for _ in range(len(rules))]
    for position, names in zip(
        np.flatnonzero(fired), triggered_rules(rules.loc[fired], new_only=True), strict=True
    ):
        values[position] = names
    return pd.Series(values, index=rules.index.astype(str), name="rule_triggers", dtype=object)


def scores_of_part(part: PartPredictions, *, month: pd.Period, config: FanpinConfig) -> PartScores:
    """Run the department rules on a partition and pack what it sends to the client."""
    tables, predictions = part.part.tables, part.predictions
    triggers = policy_rule_triggers(tables, month=month, config=config)
    households = tables.households
    regions = (
        households[list(REGION_COLUMNS)]
        .set_axis(households["household_id"].astype(str), axis=0)
        .reindex(predictions.index.astype(str))
    )
    return PartScores(
        predictions=predictions,
        regions=regions,
        triggers=triggers.loc[triggers.map(len).to_numpy() > 0],
        n_households=len(part.part.features),
        n_monitored=int(part.part.monitored.sum()),
    )


def gather_scores(parts: Sequence[PartScores]) -> PartScores:
    """The partitions' results as one (the client's view of the whole run)."""
    return PartScores(
        predictions=pd.concat([p.predictions for p in parts]),
        regions=pd.concat([p.regions for p in parts]),
        triggers=pd.concat([p.triggers for p in parts]),
        n_households=sum(p.n_households for p in parts),
        n_monitored=sum(p.n_monitored for p in parts),
    )


def rank_and_tier(
    predictions: pd.DataFrame, *, tier_high: float, tier_medium: float
) -> pd.DataFrame:
    """Add ``rank`` (1 = highest; ties by raw score, then household id) and ``tier`` 高/中/低."""
    order = pd.DataFrame(
        {
            "probability": predictions["probability"].to_numpy(),
            "raw_score": predictions["raw_score"].to_numpy(),
            "household_id": predictions.index.astype(str),
        }
    ).sort_values(
        ["probability", "raw_score", "household_id"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order.index.to_numpy()] = np.arange(1, len(order) + 1)
    probability = predictions["probability"].to_numpy()
    tier = np.where(
        probability >= tier_high, TIERS[0], np.where(probability >= tier_medium, TIERS[1], TIERS[2])
    )
    return predictions.assign(rank=ranks, tier=tier)


def select_warned(
    ranked: pd.DataFrame, rule_triggers: pd.Series, *, warning: WarningConfig
) -> pd.Series:
    """Warned households: the operating point's pick plus every household a listing rule fired for.

    Parameters
    ----------
    ranked
        From `rank_and_tier` (``probability``, ``rank``), one row per scored household.
    rule_triggers
        Household → list of rules fired this month (any household; others are ignored).
    warning
        ``capacity`` N (the top N), ``top_percent`` P (the top ⌈P % · n⌉) or ``threshold`` p
        (probability ≥ p); the first one set wins in that order. A household one of whose
        triggered rules is in ``always_list`` is listed whatever its rank.

    Examples
    --------
    >>> ranked = pd.DataFrame({"probability": [.9, .5, .1, .05], "rank": [1, 2, 3, 4]},
    ...                       index=list("ABCD"))
    >>> triggers = pd.Series([[], [], ["dibao_edge"], ["large_inpatient_stay"]], index=list("ABCD"))
    >>> select_warned(ranked, triggers, warning=WarningConfig(capacity=1, top_percent=None)).tolist()
    [True, False, False, True]
    """
    n = len(ranked)
    if warning.capacity is not None:
        picked = ranked["rank"].to_numpy() <= min(warning.capacity, n)
    elif warning.top_percent is not None:
        picked = ranked["rank"].to_numpy() <= math.ceil(n * warning.top_percent / 100.0)
    elif warning.threshold is not None:
        picked = ranked["probability"].to_numpy() >= warning.threshold
    else:
        picked = np.zeros(n, dtype=bool)
    listing = frozenset(warning.always_list)
    fired = (
        np.fromiter(
            (
                isinstance(v, list) and not listing.isdisjoint(v)
                for v in rule_triggers.reindex(ranked.index)
            ),
            dtype=bool,
            count=n,
        )
        if len(rule_triggers) and listing
        else np.zeros(n, dtype=bool)
    )
    return pd.Series(picked | fired, index=ranked.index)


def operating_point(warning: WarningConfig) -> dict[str, Any]:
    """The chosen operating point as a small mapping (manifest, report, workbook)."""
    if warning.capacity is not None:
        return {"mode": "capacity", "value": warning.capacity}
    if warning.top_percent is not None:
        return {"mode": "top_percent", "value": warning.top_percent}
    return {"mode": "threshold", "value": warning.threshold}


def assemble_scores(
    ranked: pd.DataFrame,
    regions: pd.DataFrame,
    rule_triggers: pd.Series,
    warned: pd.Series,
    *,
    month: pd.Period,
    model_version: str,
    run_id: str,
) -> pd.DataFrame:
    """The ``scores.parquet`` frame: `SCORE_COLUMNS`, one row per scored household, by rank.

    `regions` gives ``county``, ``township`` and ``village`` by household id.
    """
    # Every column is taken once in rank order and text stays in arrow arrays: at 10⁶ households
    # the object arrays of strings and the sorted copy of the frame were the client's peak.
    order = np.argsort(ranked["rank"].to_numpy(dtype=np.int64), kind="stable")
    ids = ranked.index.astype(str)
    region = regions.reindex(ids)
    triggers = rule_triggers.reindex(ids).to_numpy(dtype=object)[order]
    columns: dict[str, Any] = {
        "household_id": ids.take(order).array,
        **{name: region[name].astype(str).array.take(order) for name in REGION_COLUMNS},
        "month": str(month),
        "probability": ranked["probability"].to_numpy(dtype=float)[order],
        "rank": ranked["rank"].to_numpy(dtype=np.int64)[order],
        "tier": ranked["tier"].astype(str).array.take(order),
        "warned": warned.reindex(ranked.index).to_numpy(dtype=bool)[order],
        "rule_triggers": [list(v) if isinstance(v, list) else [] for v in triggers],
        "model_version": str(model_version),
        "run_id": run_id,
    }
    del region, triggers
    return pd.DataFrame(columns, copy=False)


def select_list(
    gathered: PartScores, *, month: pd.Period, config: FanpinConfig, model_version: str, run_id: str
) -> pd.DataFrame:
    """Rank, tier and select over every partition's households: the ``scores.parquet`` frame."""
    warning = config.warning
    ranked = rank_and_tier(
        gathered.predictions, tier_high=warning.tier_high, tier_medium=warning.tier_medium
    )
    warned = select_warned(ranked, gathered.triggers, warning=warning)
    return assemble_scores(
        ranked,
        gathered.regions,
        gathered.triggers,
        warned,
        month=month,
        model_version=model_version,
        run_id=run_id,
    )


def operating_pick(scores: pd.DataFrame, *, warning: WarningConfig) -> np.ndarray:
    """Rows of the whole run's `scores` that the operating point picks (rules left aside)."""
    return select_warned(
        scores.set_index("household_id")[["probability", "rank"]],
        pd.Series(dtype=object),
        warning=warning,
    ).to_numpy()


def draw_audit(scores: pd.DataFrame, *, size: int, run_id: str) -> dict[str, Any]:
    """The review audit sample of households not warned; its seed derives from the run id."""
    from risk.review.audit import draw_audit_sample  # noqa: PLC0415

    seed = int(run_id.rsplit("-", 1)[-1][:8], 16) % (2**31)
    # the draw needs three columns: a copy of those, not of the whole frame (10⁶ rows on a province)
    few = scores.loc[:, ["household_id", "rank", "warned"]]
    drawn = draw_audit_sample(few, size=size, seed=seed) if size > 0 else few.iloc[:0]
    return {"seed": seed, "size": int(size), "household_ids": drawn["household_id"].tolist()}


def run_counts(
    scores: pd.DataFrame,
    *,
    warning: WarningConfig,
    n_households: int,
    n_monitored: int,
    n_explained: int,
    n_audit: int,
    n_feed_warnings: int,
    picked: np.ndarray | None = None,
) -> dict[str, int]:
    """Households in the data, monitored (not scored), scored, warned, rule-triggered, ...

    `picked` says which rows of `scores` the operating point picked (`operating_pick`); by default
    it is computed from `scores` itself, which must then be the whole run's.
    """
    fired = scores["rule_triggers"].map(len).to_numpy() > 0
    if picked is None:
        picked = operating_pick(scores, warning=warning)
    warned = scores["warned"].to_numpy(dtype=bool)
    return {
        "households": n_households,
        "already_monitored": n_monitored,
        "scored": len(scores),
        "warned": int(warned.sum()),
        "warned_by_model": int(picked.sum()),
        "warned_by_rules_only": int((warned & ~picked).sum()),
        "rule_triggered": int(fired.sum()),
        "tier_high": int((scores["tier"] == TIERS[0]).sum()),
        "tier_medium": int((scores["tier"] == TIERS[1]).sum()),
        "tier_low": int((scores["tier"] == TIERS[2]).sum()),
        "explained": n_explained,
        "audit_sample": n_audit,
        "feed_warnings": n_feed_warnings,
    }
