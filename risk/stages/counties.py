"""A province's county files, rendered and written where each county's partition runs.

`county_files_of_part` is the write stage's partition step: for every county of the partition it puts
together the run seen from the county — its rows of the province's ``scores.parquet`` (already in the
run's temporary output folder), its own explanation rows (its part file), its lifecycle rows (from its
own lifecycle results and the province-wide relapse cut) and its feeds — and writes its
``warnings.xlsx`` and ``report.html`` into ``<temporary folder>/<county>/``. The client sends only
small values (the county's relapse ids, its feed tally, the run's settings); the output folder must
be on a file system every worker shares, as the data folder already is.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from risk.ids import isin_ids
from risk.run_context import SCORES_FILE, RunContext
from risk.stages.explanation_files import PARTS_FOLDER, part_path, read_part
from risk.stages.feeds import feed_warnings
from risk.stages.lifecycle import PartLifecycle, assemble_lifecycle
from risk.stages.load import Part, PieceFeeds
from risk.stages.outputs import household_info, render_county
from risk.stages.predict import PartPredictions
from risk.stages.select import run_counts


def county_files_of_part(
    part: Part,
    *,
    lifecycles: Part,
    relapse_reasons: Part,
    per_piece: Sequence[Mapping[str, Any] | None],
    base: RunContext,
    n_picked: int,
    out: Path,
) -> list[str]:
    """Write each named county's files of a partition (a partition step); their names.

    `part`, `lifecycles` and `relapse_reasons` are the same partition after the prediction stage,
    the lifecycle stage and the relapse reasons, piece by piece; `per_piece` gives each county its
    ``name``, ``fed`` (`PieceFeeds`) and ``relapse`` (its exited households on the relapse list),
    None for a piece without a county folder.
    """
    written = []
    for piece, lifecycle, reasons, own in zip(
        part, lifecycles, relapse_reasons, per_piece, strict=True
    ):
        if own is None:
            continue
        context = county_context(
            base,
            piece.value,
            lifecycle=lifecycle.value,
            relapse_reasons=reasons.value,
            relapse=own["relapse"],
            fed=own["fed"],
            explanations=read_part(part_path(out / PARTS_FOLDER, str(own["name"]))),
            scores=county_scores(out / SCORES_FILE, piece.value),
            n_picked=n_picked,
        )
        write_files(render_county(context), out / str(own["name"]))
        written.append(str(own["name"]))
    return written


def county_scores(path: Path, part: PartPredictions) -> pd.DataFrame:
    """The county's rows of the province's ``scores.parquet`` (by rank), as the client built them."""
    households = part.part.tables.households
    counties = sorted(set(households["county"].astype(str)))
    kind = pq.read_schema(path).field("county").type
    table = pq.read_table(path, filters=pc.field("county").isin(pa.array(counties, type=kind)))
    frame = table.to_pandas()
    frame = frame.loc[isin_ids(frame["household_id"], set(part.predictions.index.astype(str)))]
    frame["rule_triggers"] = [list(v) for v in frame["rule_triggers"]]
    return frame.reset_index(drop=True)


def county_context(
    base: RunContext,
    part: PartPredictions,
    *,
    lifecycle: PartLifecycle,
    relapse_reasons: pd.DataFrame,
    relapse: Sequence[str],
    fed: PieceFeeds,
    explanations: pd.DataFrame,
    scores: pd.DataFrame,
    n_picked: int,
) -> RunContext:
    """The run seen from one county: its households' rows, its feeds, its counts (province ranks).

    `base` is the province's run without its per-household frames; `n_picked` the households the
    operating point picked over the province (ranks 1..n_picked: the pick is a prefix of the ranks).
    """
    audit_ids = set(base.audit["household_ids"])
    own = set(scores["household_id"])
    audit = {**base.audit, "household_ids": [h for h in base.audit["household_ids"] if h in own]}
    warnings = feed_warnings(fed.tally, month=base.month)
    exited = lifecycle.exited["household_id"].astype(str)
    chosen = set(relapse)
    status = pd.Series(
        np.where(exited.isin(chosen).to_numpy(), "relapse_risk", "stable"), index=exited.to_numpy()
    )
    listed = scores.loc[scores["warned"] | scores["household_id"].isin(audit_ids), "household_id"]
    counts = run_counts(
        scores,
        warning=base.config.warning,
        n_households=len(part.part.features),
        n_monitored=int(part.part.monitored.sum()),
        n_explained=int(explanations["household_id"].nunique()),
        n_audit=len(audit["household_ids"]),
        n_feed_warnings=len(warnings),
        picked=scores["rank"].to_numpy() <= n_picked,
    )
    return replace(
        base,
        scores=scores,
        explanations=explanations,
        listed_info=household_info(part.part.tables, listed.astype(str)),
        volumes=fed.tally.volumes,
        feed_warnings=tuple(warnings),
        load_warnings=fed.notes,
        inputs=dict(fed.inputs),
        audit=audit,
        counts=counts,
        lifecycle=assemble_lifecycle([lifecycle], status, relapse_reasons, month=base.month),
    )


def write_files(files: Mapping[str, bytes], folder: Path) -> None:
    """Write files into an existing folder, each in one rename (a rerun task replaces them)."""
    for name, content in files.items():
        staging = folder / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            staging.write_bytes(content)
            os.replace(staging, folder / name)
        finally:
            if staging.exists():
                staging.unlink()
