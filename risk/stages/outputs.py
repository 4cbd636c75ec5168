"""Outputs of a run: scores, explanations, lifecycle (parquet), warnings.xlsx, report.html, manifest.

The workbook's content (`workbook_parts`), the manifest (`build_manifest`) and the report
(`risk.report`) are computed from a `RunContext` on the client and written into the run's temporary
folder (`write_scores`, `write_outputs`; ``explanations.parquet`` merged from the partitions' parts),
which the pipeline swaps into place only after success (`risk.atomic`). The run
id depends on the inputs only (`run_settings`, `input_digests`), and the parquet files and the
workbook hold no wall-clock value, so re-running gives identical files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.pseudonym import mask_id
from features.contract.tables import TABLE_NAMES, Tables
from features.rules import RULE_LABELS_ZH
from risk import report
from risk.config import FanpinConfig
from risk.excel import lifecycle_sheet_rows, warning_rows, write_warnings_workbook
from risk.explain import (
    CAUSE_LABELS,
    DEFAULT_MEASURE,
    MEASURES,
    ReasonSpec,
    main_reasons,
)
from risk.ids import isin_ids
from risk.lifecycle import STAGE_LABELS_ZH, STATUS_LABELS_ZH
from risk.manifest import (
    MANIFEST_NAME,
    frame_hashes,
    input_hashes,
    library_versions,
    write_manifest,
)
from risk.run_context import (
    AUDIT_MARK,
    EXPLANATIONS_FILE,
    LIFECYCLE_FILE,
    OUTPUT_FILES,
    REPORT_FILE,
    SCORES_FILE,
    TABLE_LABELS_ZH,
    WARNINGS_FILE,
    RunContext,
    ScoreResult,
)
from risk.stages.explanation_files import merge_parts
from risk.stages.select import operating_point

# --- run identity ----------------------------------------------------------------------------------


def input_digests(tables: Tables, data_dir: str | Path | None) -> dict[str, str]:
    """SHA-256 of the files the tables were read from; content hashes for tables built in memory."""
    if data_dir is not None and tables.files:
        return input_hashes(data_dir, tables.files)
    return frame_hashes({name: getattr(tables, name) for name in TABLE_NAMES})


def run_settings(config: FanpinConfig) -> dict[str, Any]:
    """Everything in the config that can change the outputs (part of the run id)."""
    from risk import __version__ as fanpin_version  # noqa: PLC0415

    rules = {
        key: dict(value) if isinstance(value, Mapping) else value
        for key, value in asdict(config.rules).items()
    }
    return {
        "warning": asdict(config.warning),
        "rules": rules,
        "lines": {
            "default": {str(k): v for k, v in config.lines.default.items()},
            "by_county": {
                county: {str(k): v for k, v in years.items()}
                for county, years in config.lines.by_county.items()
            },
        },
        "audit_sample": config.review.audit_sample,
        "lifecycle": asdict(config.lifecycle),
        "fanpin": fanpin_version,
    }


def earlier_runs(out_dir: Path, *, month: pd.Period) -> list[tuple[pd.Period, Path]]:
    """Run folders before `month`: `out_dir` itself, then its sibling folders by name.

    A run folder holds ``manifest.json`` (naming its month) and ``scores.parquet``; hidden folders
    (the writers' staging folders) and unreadable manifests are skipped.
    """
    candidates = [out_dir] + (
        sorted(
            p
            for p in out_dir.parent.iterdir()
            if p.is_dir() and p != out_dir and not p.name.startswith(".")
        )
        if out_dir.parent.is_dir()
        else []
    )
    found: list[tuple[pd.Period, Path]] = []
    for folder in candidates:
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file() or not (folder / SCORES_FILE).is_file():
            continue
        try:
            earlier = pd.Period(json.loads(manifest.read_text(encoding="utf-8"))["month"], "M")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if earlier < month:
            found.append((earlier, folder))
    return found


def find_previous_run(out_dir: Path, *, month: pd.Period) -> Path | None:
    """The latest run before `month` among `out_dir` itself and its sibling folders."""
    best: tuple[pd.Period, Path] | None = None
    for earlier, folder in earlier_runs(out_dir, month=month):
        if best is None or earlier > best[0]:
            best = (earlier, folder)
    return best[1] if best else None


# --- writing ---------------------------------------------------------------------------------------


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as parquet with a fixed schema and no index: equal frames → equal bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def scores_schema_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """`scores` with arrow-stable dtypes (str ids, list<str> triggers)."""
    return scores.astype({"household_id": "str", "month": "str", "tier": "str"})


def render_county(context: RunContext) -> dict[str, bytes]:
    """A county's list (``warnings.xlsx``, only its households) and ``report.html``, as bytes.

    `context` is the run seen from the county (`risk.stages.counties.county_context`); rendering
    needs no file of the run, so it can happen on any worker. The county's report has no drift
    section of its own (the province's report has it) and no earlier runs' cases.
    """
    manifest = build_manifest(context, timings={})
    with tempfile.TemporaryDirectory(prefix="fanpin-county-") as folder:
        path = Path(folder) / WARNINGS_FILE
        write_warnings_workbook(path, **workbook_parts(context))
        workbook = path.read_bytes()
    page = report.render_report(report.report_data(context, manifest))
    return {WARNINGS_FILE: workbook, REPORT_FILE: page.encode("utf-8")}


def write_scores(scores: pd.DataFrame, folder: Path) -> Path:
    """``scores.parquet`` into the run's temporary folder (the counties' steps read their rows)."""
    path = folder / SCORES_FILE
    write_parquet(scores_schema_frame(scores), path)
    return path


def write_outputs(
    context: RunContext,
    folder: Path,
    *,
    out_dir: Path,
    timings: Mapping[str, float],
    explanation_parts: Sequence[Path],
    rows_by_rank: Mapping[int, int],
) -> dict:
    """Write the province-wide outputs (but ``scores.parquet``) into the run's temporary `folder`.

    ``explanations.parquet`` is merged from the pieces' part files in rank order
    (`risk.stages.explanation_files.merge_parts`); the pipeline swaps `folder` into `out_dir` once
    everything, the counties' folders included, is written.
    """
    from risk.stages.lifecycle import lifecycle_file_frame  # noqa: PLC0415

    manifest = build_manifest(context, timings=timings)
    followups = report_followups(context, out_dir)
    merge_parts(explanation_parts, folder / EXPLANATIONS_FILE, rows_by_rank=rows_by_rank)
    if context.lifecycle is not None:
        write_parquet(lifecycle_file_frame(context.lifecycle), folder / LIFECYCLE_FILE)
    write_warnings_workbook(folder / WARNINGS_FILE, **workbook_parts(context))
    report.write_report(
        folder / REPORT_FILE, context=context, manifest=manifest, followups=followups
    )
    manifest["timings"] = dict(timings)
    write_manifest(folder, manifest)
    return manifest


def report_followups(context: RunContext, out_dir: Path) -> dict[str, Any]:
    """The report's look beyond the run: earlier runs' review cases and the latest backtest.

    Read before the output folder is swapped, from the folders beside `out_dir` and the review
    store named by the config (``review.store``, relative to the working folder as for `risk review`).
    """
    store = context.config.review.store
    return {
        "cases": report.case_deadlines(
            [folder for _, folder in earlier_runs(out_dir, month=context.month)],
            store=Path(store) if store else None,
            month=context.month,
        ),
        "backtest": report.latest_backtest(out_dir.absolute()),
    }


def rewrite_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Replace the run's manifest in one rename (to add the writing time once it is known)."""
    staging = out_dir / f".{MANIFEST_NAME}.tmp"
    staging.mkdir(exist_ok=True)
    try:
        written = write_manifest(staging, manifest)
        with written.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(written, out_dir / MANIFEST_NAME)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_manifest(context: RunContext, *, timings: Mapping[str, float]) -> dict[str, Any]:
    """``manifest.json`` content (INTERFACE.md keys first)."""
    config = context.config
    return {
        "run_id": context.run_id,
        "month": str(context.month),
        "model": {
            "name": str(context.model.name),
            "version": str(context.model.version),
            "uri": str(context.model.uri),
        },
        "inputs": context.inputs,
        "counts": dict(context.counts),
        "thresholds": {
            "tier_high": config.warning.tier_high,
            "tier_medium": config.warning.tier_medium,
            "threshold": config.warning.threshold,
        },
        "capacity": {
            **operating_point(config.warning),
            "capacity": config.warning.capacity,
            "top_percent": config.warning.top_percent,
        },
        "versions": library_versions(),
        "timings": dict(timings),
        "warnings": [asdict(w) for w in context.feed_warnings],
        "load_warnings": list(context.load_warnings),
        "data_dir": str(context.data_dir) if context.data_dir else None,
        "previous_run": str(context.previous_dir) if context.previous_dir else None,
        "audit": context.audit,
        "drift": report.drift_against(context.previous_dir, context.scores, context.drift_shares),
        "profile": report.feature_profile(context.scores, context.feature_bins),
        "rules": {
            "rural_income_by_year": {
                str(k): v for k, v in config.rules.rural_income_by_year.items()
            },
            "oop_share_formerly_poor": config.rules.oop_share_formerly_poor,
            "oop_share_other": config.rules.oop_share_other,
            "stay_oop_formerly_poor": config.rules.stay_oop_formerly_poor,
            "stay_oop_other": config.rules.stay_oop_other,
        },
    }


# --- the workbook ----------------------------------------------------------------------------------


def workbook_parts(context: RunContext) -> dict[str, Any]:
    """Arguments of `risk.excel.write_warnings_workbook` for this run."""
    scores = context.scores
    audit_ids = set(context.audit["household_ids"])
    listed = scores.loc[scores["warned"] | scores["household_id"].isin(audit_ids)].copy()
    info = context.listed_info
    listed["head"] = listed["household_id"].map(info["head"]).fillna("")
    listed["household_type"] = listed["household_id"].map(info["household_type"]).fillna("")
    labels = dict(RULE_LABELS_ZH)
    labels["__audit__"] = AUDIT_MARK
    listed["rule_triggers"] = [
        ["__audit__"] if h in audit_ids and not w else list(t)
        for h, w, t in zip(
            listed["household_id"], listed["warned"], listed["rule_triggers"], strict=True
        )
    ]
    rows = warning_rows(listed, main_reasons(context.explanations), rule_labels=labels)
    return {
        "rows": rows,
        "legend": legend_frame(context.catalogue),
        "notes": reading_notes(context),
        "run_info": run_info_rows(context),
        "fixed_date": dt.datetime(context.month.year, context.month.month, 1),
        "lifecycle": None
        if context.lifecycle is None
        else lifecycle_sheet_rows(
            context.lifecycle, stage_labels=STAGE_LABELS_ZH, status_labels=STATUS_LABELS_ZH
        ),
    }


def household_info(tables: Tables, household_ids: pd.Series) -> pd.DataFrame:
    """Masked head of household and household type for some households (index household_id)."""
    members = tables.members
    ids = pd.Index(household_ids.astype(str))
    heads = members.loc[members["relation"] == "户主"]
    # mask only the listed households' heads (masking all 200k took most of this function)
    heads = heads.loc[isin_ids(pd.Index(heads["household_id"].astype(str)), ids)]
    heads = heads.drop_duplicates("household_id")
    name_column = next((c for c in ("name", "姓名") if c in members.columns), None)
    shown = heads[name_column] if name_column else heads["person_id"]
    head = pd.Series(
        [mask_id(str(v)) for v in shown], index=heads["household_id"].astype(str).to_numpy()
    )
    households = tables.households.set_index(tables.households["household_id"].astype(str))
    return pd.DataFrame(
        {
            "head": head.reindex(ids).fillna("").to_numpy(),
            "household_type": households["household_type"].reindex(ids).astype(str).to_numpy(),
        },
        index=ids,
    )


def legend_frame(catalogue: Mapping[str, ReasonSpec]) -> pd.DataFrame:
    """The 说明 sheet's feature table: every catalogue feature in Chinese."""
    rows = []
    for name, spec in catalogue.items():
        cause = str(getattr(spec, "cause", "") or "")
        rows.append(
            {
                "指标": name,
                "中文名称": str(getattr(spec, "label_zh", "")),
                "单位": str(getattr(spec, "unit", "")),
                "数据来源": _source_zh(str(getattr(spec, "source", ""))),
                "原因类别": CAUSE_LABELS.get(cause, cause) if cause else "（不作为原因）",
                "建议帮扶措施": MEASURES.get(cause, DEFAULT_MEASURE) if cause else "",
                "原因句式": str(getattr(spec, "reason_zh", "")),
                "说明": str(getattr(spec, "description", "")),
            }
        )
    return pd.DataFrame(rows)


def _source_zh(source: str) -> str:
    parts = [p.strip() for p in source.replace(",", "+").split("+") if p.strip()]
    return "、".join(f"{TABLE_LABELS_ZH.get(p, p)}({p})" for p in parts)


def reading_notes(context: RunContext) -> list[tuple[str, str]]:
    """How to read the list (the top block of the 说明 sheet)."""
    warning = context.config.warning
    point = operating_point(warning)
    mode = {
        "capacity": f"按核查能力取前 {point['value']} 户",
        "top_percent": f"取风险最高的前 {point['value']}% 户",
        "threshold": f"取风险概率不低于 {point['value']} 的户",
    }[point["mode"]]
    rules = "；".join(f"{name}：{label}" for name, label in RULE_LABELS_ZH.items())
    return [
        ("排名", "按风险概率从高到低排序，1 为风险最高；已纳入监测的户不参与评分。"),
        ("风险概率", "模型估计该户在未来6个月内被识别为监测对象的概率（已校准）。"),
        (
            "风险等级",
            f"高：概率 ≥ {warning.tier_high:.0%}；中：≥ {warning.tier_medium:.0%}；低：其余。",
        ),
        ("入选名单", f"{mode}；规则当月触发的户一律列入（即使超出名额）。"),
        ("主要原因", "推高风险最多的三项因素，每类原因只列一次，附该户自己的数值和建议帮扶措施。"),
        ("【新】", "上一期名单中该户没有的原因。"),
        ("规则触发", f"部门筛查规则当月触发的规则：{rules}。"),
        ("随机抽查", AUDIT_MARK + "。"),
        ("户主", "已脱敏显示；名单不含身份证号、电话、银行账号和健康状况明细。"),
        ("审核结论", "请在下拉列表中选择：纳入监测 / 排除 / 待核实；排除时填写排除原因。"),
    ]


def run_info_rows(context: RunContext) -> list[tuple[str, Any]]:
    """The 运行信息 sheet: run metadata without wall-clock values."""
    counts = context.counts
    point = operating_point(context.config.warning)
    rows: list[tuple[str, Any]] = [
        ("运行编号 run_id", context.run_id),
        ("评分月份 month", str(context.month)),
        ("模型 model", f"{context.model.name} v{context.model.version}"),
        ("模型地址 model uri", str(context.model.uri)),
        ("参与评分户数 scored", counts["scored"]),
        ("已纳入监测（未评分）already monitored", counts["already_monitored"]),
        ("预警户数 warned", counts["warned"]),
        ("规则触发户数 rule-triggered", counts["rule_triggered"]),
        ("高风险户数 tier 高", counts["tier_high"]),
        ("中风险户数 tier 中", counts["tier_medium"]),
        ("随机抽查户数 audit sample", counts["audit_sample"]),
        ("预警方式 operating point", f"{point['mode']} = {point['value']}"),
        (
            "风险等级阈值 tiers",
            f"高 ≥ {context.config.warning.tier_high}，中 ≥ {context.config.warning.tier_medium}",
        ),
    ]
    for name, digest in sorted(context.inputs.items()):
        rows.append((f"输入文件 {name}", f"sha256 {digest}"))
    for warning in context.feed_warnings:
        rows.append(("数据警告 warning", warning.message))
    if not context.feed_warnings:
        rows.append(("数据警告 warning", "无 none"))
    return rows


# --- summary -------------------------------------------------------------------------------------


def print_summary(result: ScoreResult, *, console: Any = None) -> None:
    """A rich summary table of the run: counts, data warnings, timings and the output paths."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = console or Console()
    counts = result.counts
    table = Table(title=f"防贫监测预警 {result.month} · run {result.run_id}", show_header=True)
    table.add_column("项目 item")
    table.add_column("数值 value", justify="right")
    for label, key in (
        ("户数 households in the data", "households"),
        ("已监测（未评分）already monitored", "already_monitored"),
        ("参与评分 scored", "scored"),
        ("预警 warned", "warned"),
        ("其中仅因规则列入 listed by rules beyond the cut-off", "warned_by_rules_only"),
        ("规则触发 rule-triggered", "rule_triggered"),
        ("高风险 tier 高", "tier_high"),
        ("中风险 tier 中", "tier_medium"),
        ("随机抽查 audit sample", "audit_sample"),
        ("已解释 explained", "explained"),
    ):
        table.add_row(label, f"{counts.get(key, 0):,}")
    total = sum(result.timings.values())
    table.add_row("用时 time", f"{total:.1f} s")
    console.print(table)
    for warning in result.feed_warnings:
        console.print(f"[bold red]⚠ {warning.message}[/bold red]")
    if not result.feed_warnings:
        console.print("[green]各部门数据本月均有记录 all department feeds have records.[/green]")
    for name in OUTPUT_FILES:
        console.print(f"  {name:<22} {result.paths[name]}")
    counties = sorted(
        p.name
        for p in result.out_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / WARNINGS_FILE).is_file()
    )
    if counties:
        console.print(
            f"  县级名单与报告 each county's list and report ({len(counties)}): "
            f"{result.out_dir}/<县 county>/{WARNINGS_FILE}, {REPORT_FILE}"
        )
