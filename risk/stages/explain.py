"""Explanation: contributions, reasons and evidence for the listed households, where their records are.

`explain_part` is the partition step: it explains the partition's listed households (warned and audit
sample) with its own source records and says who they are (masked head, household type) for the
workbook. `gather_explanations` puts the partitions' rows in the list's order. The reasons themselves
are `risk.explain`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from features.contract.tables import Tables
from risk.explain import ReasonSpec, explain_households, model_contributions
from risk.stages.outputs import household_info
from risk.stages.predict import PartPredictions


@dataclass(frozen=True)
class PartExplained:
    """What one partition sends back after the explanation stage.

    Attributes
    ----------
    explanations
        Contributions and reasons of its listed households (`risk.explain.EXPLANATION_COLUMNS`).
    listed_info
        ``head`` (masked) and ``household_type`` of its listed households, by ``household_id``.
    """

    explanations: pd.DataFrame
    listed_info: pd.DataFrame


def explain_listed(
    model: Any,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    listed: Sequence[str],
    *,
    catalogue: Mapping[str, ReasonSpec],
    tables: Tables | None,
    month: pd.Period,
    previous_reasons: pd.DataFrame | None,
) -> pd.DataFrame:
    """Contributions and reasons for the listed households (warned and audit sample).

    TreeSHAP for a LightGBM model, the model's own contributions otherwise
    (`risk.explain.model_contributions`); every catalogue column reaches the reasons, so composite
    features split by their parts.
    """
    ids = [str(h) for h in listed]
    rows = features.loc[ids]
    contributions = model_contributions(model, rows)
    ranks = scores.set_index("household_id")["rank"].reindex(ids)
    return explain_households(
        contributions,
        rows,
        ranks,
        catalogue=catalogue,
        tables=tables,
        as_of=month,
        previous_reasons=previous_reasons,
    )


def explain_part(
    part: PartPredictions,
    *,
    model: Any,
    scores: pd.DataFrame,
    listed: Sequence[str],
    catalogue: Mapping[str, ReasonSpec],
    month: pd.Period,
    previous_reasons: pd.DataFrame | None,
) -> PartExplained:
    """`explain_listed` and `household_info` for a partition's listed households (a partition step).

    `scores` and `previous_reasons` need only cover the partition's `listed` households.
    """
    tables = part.part.tables
    explanations = explain_listed(
        model,
        part.part.features,
        scores,
        listed,
        catalogue=catalogue,
        tables=tables,
        month=month,
        previous_reasons=previous_reasons,
    )
    info = household_info(tables, pd.Series(list(listed), dtype=object))
    return PartExplained(explanations=explanations, listed_info=info)


def gather_explanations(parts: Sequence[PartExplained]) -> PartExplained:
    """The partitions' explanations in the list's order: by rank (stable within a household)."""
    frames = [p.explanations for p in parts]
    frame = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    return PartExplained(
        explanations=frame.sort_values("rank", kind="mergesort").reset_index(drop=True),
        listed_info=pd.concat([p.listed_info for p in parts]),
    )
