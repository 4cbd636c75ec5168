"""Explanation: contributions, reasons and evidence for the listed households, where their records are.

`explain_part` is the partition step: it explains a piece's listed households (warned and audit sample)
with its own source records, writes every row as the piece's part of ``explanations.parquet``
(`risk.stages.explanation_files`) and sends back only what the client needs — the main reasons, the
report's first households' rows, who the listed households are (masked head, household type) for
the workbook, and the rows per household for the merge. `gather_explanations` puts the partitions'
rows in the list's order. The reasons themselves are `risk.explain`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from features.contract.tables import Tables
from risk.explain import ReasonSpec, explain_households, model_contributions
from risk.run_context import EXPLANATIONS_FILE
from risk.stages.explanation_files import client_rows, part_path, rows_per_rank, write_part
from risk.stages.outputs import household_info
from risk.stages.predict import PartPredictions


@dataclass(frozen=True)
class PartExplained:
    """What one piece sends back after the explanation stage (its rows are in its part file).

    Attributes
    ----------
    explanations
        The rows the client keeps (`risk.stages.explanation_files.client_rows`): main reasons,
        every row of the report's first households, one row of any other explained household.
    listed_info
        ``head`` (masked) and ``household_type`` of its listed households, by ``household_id``.
    rows_by_rank
        Explanation rows per household, by rank (the merge's windows).
    """

    explanations: pd.DataFrame
    listed_info: pd.DataFrame
    rows_by_rank: Mapping[int, int] = field(default_factory=dict)


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
    ranks: pd.DataFrame,
    listed: Sequence[str],
    catalogue: Mapping[str, ReasonSpec],
    month: pd.Period,
    previous_dir: Path | None,
    parts_dir: Path | None,
    key: str,
    full: Sequence[str] = (),
) -> PartExplained:
    """Explain a piece's listed households, write their rows, send back what the client keeps.

    Parameters
    ----------
    part
        The piece after the prediction stage.
    ranks
        ``household_id`` and ``rank`` of (at least) the piece's `listed` households.
    listed
        Its listed households (warned and audit sample), in the list's order.
    previous_dir
        The previous run folder: its main reasons of these households mark the new ones.
    parts_dir
        Where its part of ``explanations.parquet`` goes (`explanation_files.part_path`, named by
        `key`); None: nothing is written and every row comes back (tests, notebooks).
    full
        Households whose every row comes back (the report's waterfalls).
    """
    tables = part.part.tables
    explanations = explain_listed(
        model,
        part.part.features,
        ranks,
        listed,
        catalogue=catalogue,
        tables=tables,
        month=month,
        previous_reasons=previous_reasons_of(previous_dir, listed),
    )
    info = household_info(tables, pd.Series(list(listed), dtype=object))
    if parts_dir is None:
        return PartExplained(explanations, info, rows_per_rank(explanations))
    write_part(explanations, part_path(parts_dir, key))
    return PartExplained(
        explanations=client_rows(explanations, full=full),
        listed_info=info,
        rows_by_rank=rows_per_rank(explanations),
    )


def previous_reasons_of(
    previous_dir: Path | None, households: Sequence[str]
) -> pd.DataFrame | None:
    """The main reasons (``household_id``, ``cause``) of some households in an earlier run folder.

    Read where the households are explained, only their rows (`risk.explain.previous_main_reasons`
    for a few households, so no process reads the whole earlier file into memory).
    """
    if previous_dir is None:
        return None
    path = Path(previous_dir) / EXPLANATIONS_FILE
    if not path.is_file():
        return None
    kind = pq.read_schema(path).field("household_id").type
    wanted = pc.field("household_id").isin(pa.array([str(h) for h in households], type=kind))
    table = pq.read_table(
        path,
        columns=["household_id", "cause", "reason_order"],
        filters=wanted & pc.field("reason_order").is_valid(),
    )
    previous = table.to_pandas()
    return previous.loc[previous["reason_order"].notna(), ["household_id", "cause"]].reset_index(
        drop=True
    )


def gather_explanations(parts: Sequence[PartExplained]) -> PartExplained:
    """The pieces' kept rows in the list's order: by rank (stable within a household)."""
    frames = [p.explanations for p in parts]
    frame = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    counts: dict[int, int] = {}
    for part in parts:
        counts.update(part.rows_by_rank)
    return PartExplained(
        explanations=frame.sort_values("rank", kind="mergesort").reset_index(drop=True),
        listed_info=pd.concat([p.listed_info for p in parts]),
        rows_by_rank=counts,
    )
