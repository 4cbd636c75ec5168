"""The lifecycle stage: monitored households' exit readiness and the watch of those that left.

`lifecycle_of_part` is the partition step: the status of every monitored household of the partition
(`risk.lifecycle.monitored_status`, from its own records) and the main model's probability of the
households whose risk was eliminated within the window (they are scored like any household not
monitored). The client picks the ``relapse_risk`` households over all partitions
(`risk.lifecycle.relapse_watch`, one province-wide cut), each partition explains its own
(`explain_relapse_part`, the list's reason machinery), and `assemble_lifecycle` puts the
``lifecycle.parquet`` frame together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk.config import FanpinConfig
from risk.explain import ReasonSpec, main_reasons
from risk.lifecycle import (
    LIFECYCLE_COLUMNS,
    MISSING_COLUMN,
    STATUS_LABELS_ZH,
    LifecycleParams,
    lifecycle_households,
    monitored_status,
    relapse_watch,
)
from risk.stages.explain import explain_listed
from risk.stages.outputs import household_info
from risk.stages.predict import PartPredictions
from risk.stages.select import REGION_COLUMNS

#: Who a lifecycle row is, for the sheet and the page (not in the parquet file).
DISPLAY_COLUMNS: tuple[str, ...] = (*REGION_COLUMNS, "head", MISSING_COLUMN)


@dataclass(frozen=True)
class PartLifecycle:
    """What one partition sends back after the lifecycle stage.

    Attributes
    ----------
    monitored
        Its monitored households: ``household_id``, ``months_in_stage``, the conditions,
        ``status``, ``reason_zh``, ``evidence``, ``missing_zh``.
    exited
        Its households out of monitoring within the window: ``household_id``, ``months_in_stage``,
        ``probability`` (main model; NaN where it gave none).
    info
        ``county``, ``township``, ``village`` and ``head`` (masked) of both, by ``household_id``.
    """

    monitored: pd.DataFrame
    exited: pd.DataFrame
    info: pd.DataFrame


def lifecycle_of_part(
    part: PartPredictions, *, month: pd.Period, config: FanpinConfig
) -> PartLifecycle:
    """Statuses of a partition's monitored households, probabilities of its exited ones."""
    tables = part.part.tables
    params = config.lifecycle
    stages = lifecycle_households(tables.outcomes, month=month, window=params.exited_window_months)
    monitored = stages.loc[stages["stage"] == "monitored"]
    status = monitored_status(tables, monitored, month=month, lines=config.lines, params=params)
    status.insert(1, "months_in_stage", monitored["months_in_stage"].to_numpy())
    exited = stages.loc[stages["stage"] == "exited", ["household_id", "months_in_stage"]]
    probability = part.predictions["probability"]
    probability.index = probability.index.astype(str)
    exited = exited.assign(
        probability=probability.reindex(exited["household_id"]).to_numpy(dtype=float)
    )
    return PartLifecycle(
        monitored=status.reset_index(drop=True),
        exited=exited.reset_index(drop=True),
        info=_info(part, stages["household_id"]),
    )


def _info(part: PartPredictions, ids: pd.Series) -> pd.DataFrame:
    tables = part.part.tables
    households = tables.households.set_index(tables.households["household_id"].astype(str))
    regions = households[list(REGION_COLUMNS)].reindex(ids.astype(str)).astype(str)
    regions["head"] = household_info(tables, ids)["head"].reindex(regions.index).to_numpy()
    return regions


def choose_relapse(parts: Sequence[PartLifecycle], *, params: LifecycleParams) -> pd.Series:
    """``relapse_risk`` / ``stable`` of every exited household of the run, by ``household_id``."""
    exited = pd.concat([p.exited for p in parts], ignore_index=True)
    scored = exited.loc[exited["probability"].notna()]
    watch = relapse_watch(
        pd.Series(scored["probability"].to_numpy(), index=scored["household_id"]), params=params
    )
    return watch.reindex(exited["household_id"].astype(str)).fillna("stable")


def explain_relapse_part(
    part: PartPredictions,
    *,
    model: Any,
    listed: Sequence[str],
    catalogue: Mapping[str, ReasonSpec],
    month: pd.Period,
) -> pd.DataFrame:
    """Main reasons (``household_id``, ``reason_zh``, ``evidence``) of a partition's relapse list."""
    if not listed:
        return pd.DataFrame({"household_id": [], "reason_zh": [], "evidence": []}, dtype=object)
    ranks = pd.DataFrame({"household_id": list(listed), "rank": np.arange(1, len(listed) + 1)})
    explained = explain_listed(
        model,
        part.part.features,
        ranks,
        listed,
        catalogue=catalogue,
        tables=part.part.tables,
        month=month,
        previous_reasons=None,
    )
    reasons = main_reasons(explained)
    return (
        reasons.groupby("household_id", sort=False)
        .agg(reason_zh=("reason_zh", "；".join), evidence=("evidence", _join_nonempty))
        .reset_index()
    )


def assemble_lifecycle(
    parts: Sequence[PartLifecycle],
    relapse: pd.Series,
    reasons: pd.DataFrame,
    *,
    month: pd.Period,
) -> pd.DataFrame:
    """The ``lifecycle.parquet`` frame plus `DISPLAY_COLUMNS`: monitored first, then exited, by id."""
    monitored = _concat([p.monitored for p in parts])
    monitored = monitored.assign(stage="monitored", probability=np.nan)
    exited = _concat([p.exited for p in parts]).assign(stage="exited")
    exited["status"] = relapse.reindex(exited["household_id"].astype(str)).to_numpy()
    # plain dicts: a province has ~10⁵ exited households, a frame lookup per row took seconds
    said = dict(zip(reasons["household_id"], reasons["reason_zh"], strict=True))
    shown = dict(zip(reasons["household_id"], reasons["evidence"].astype(str), strict=True))
    exited["reason_zh"] = [
        _exited_reason(s, p, said.get(h, ""))
        for h, s, p in zip(exited["household_id"], exited["status"], exited["probability"],
                           strict=True)
    ]  # fmt: skip
    exited["evidence"] = [shown.get(h, "") for h in exited["household_id"]]
    exited[MISSING_COLUMN] = ""
    frame = pd.concat([monitored, exited], ignore_index=True)
    frame["month"] = str(month)
    info = pd.concat([p.info for p in parts])
    info = info.loc[~info.index.duplicated()].reindex(frame["household_id"].astype(str))
    for column in (*REGION_COLUMNS, "head"):
        frame[column] = info[column].fillna("").to_numpy()
    frame = frame.sort_values(["stage", "household_id"], ascending=[False, True], kind="mergesort")
    frame["months_in_stage"] = frame["months_in_stage"].astype("int64")
    return frame.loc[:, [*LIFECYCLE_COLUMNS, *DISPLAY_COLUMNS]].reset_index(drop=True)


def _concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The partitions' rows as one frame, text kept as arrow strings.

    A partition without rows has ``object`` text columns, and one such frame in a concatenation
    turns every text column into Python strings, one per row (≈ 300,000 followed households and
    their texts at 10⁶ households: the client's largest frame); empty frames add no rows anyway.
    """
    filled = [frame for frame in frames if len(frame)]
    return pd.concat(filled or list(frames[:1]), ignore_index=True)


def lifecycle_file_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """`assemble_lifecycle`'s frame reduced to the ``lifecycle.parquet`` columns, arrow-stable."""
    out = frame.loc[:, list(LIFECYCLE_COLUMNS)].copy()
    for column in ("household_id", "month", "stage", "status", "reason_zh", "evidence"):
        out[column] = out[column].astype(str)
    out["probability"] = out["probability"].astype(float)
    return out


def _exited_reason(status: str, probability: float, said: str) -> str:
    label = STATUS_LABELS_ZH[status]
    if np.isnan(probability):
        return f"{label}：本月无法评分"
    head = f"{label}：模型估计的返贫（再次识别）风险概率{probability:.0%}"
    return f"{head}；{said}" if said else head


def _join_nonempty(values: pd.Series) -> str:
    return "；".join(str(v) for v in values if str(v))
