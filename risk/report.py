"""`report.html`: one self-contained page per scoring run.

No external resource is loaded: the CSS is inline and every plot is a PNG embedded as base64. Plots use
a CJK-capable font when the machine has one (Noto Sans CJK, WenQuanYi, SimHei, ...); without one, plot
labels fall back to English (feature names, township numbers keyed in the tables beside the plots), so
the page never shows empty boxes.

Sections: summary (with data warnings first), risk distribution, reasons by frequency (grouped by
cause, with the measure that fits each), warnings by
township, SHAP waterfalls for the top households, monitored and exited households, the earlier runs'
review cases and their deadlines (counted to the scoring month's last day), the latest backtest beside
the run, data completeness by source and month, and drift against the previous run (PSI of the scores
and of every numeric feature).
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd

from risk.review.charts import waterfall_svg
from risk.run_context import FEED_DATES, TABLE_LABELS_ZH, VOLUME_MONTHS, RunContext

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


N_WATERFALLS = 5
#: Rows of the flagged-cases table (the rest is counted, and listed by `risk review cases`).
FLAGGED_ROWS = 30
BACKTEST_JSON = "backtest.json"
BACKTEST_HTML = "backtest.html"
BACKTEST_COMMAND = "risk backtest --data 数据目录 --runs 往期运行目录… --out 输出目录"
WATERFALL_TERMS = 8
COMPLETENESS_MONTHS = VOLUME_MONTHS
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
_EPS = 1e-4
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "概况 Summary"),
    ("distribution", "风险分布 Risk distribution"),
    ("reasons", "主要原因 Reasons by frequency"),
    ("townships", "乡镇分布 Warnings by township"),
    ("households", "重点户解释 Top households explained"),
    ("lifecycle", "监测户跟踪 Monitored and exited households"),
    ("cases", "案件时限 Cases and deadlines"),
    ("backtest", "往期回测 How past lists did"),
    ("completeness", "数据完整性 Data completeness"),
    ("drift", "与上期比较 Drift against the previous run"),
)


# --- fonts and figures --------------------------------------------------------------------------


@functools.cache
def cjk_font() -> str | None:
    """The name of an installed CJK-capable font for matplotlib, or None."""
    from matplotlib import font_manager  # noqa: PLC0415

    def installed() -> set[str]:
        return {font.name for font in font_manager.fontManager.ttflist}

    names = installed()
    if not any(name in names for name in _CJK_FONTS):
        for path in font_manager.findSystemFonts():
            lowered = Path(path).name.lower()
            if any(hint in lowered for hint in ("cjk", "wqy", "simhei", "droidsansfallback")):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = installed()
    return next((name for name in _CJK_FONTS if name in names), None)


def _zh(chinese: str, english: str) -> str:
    """A plot label: Chinese when a CJK font is available, else English."""
    return chinese if cjk_font() else english


def _figure(
    width: float, height: float, *, labels: Sequence[str] = (), bottom: float = 0.55
) -> tuple[Figure, Axes]:
    """A figure with fixed margins wide enough for the y labels (cheaper than a layout engine)."""
    from matplotlib.figure import Figure  # noqa: PLC0415

    figure = Figure(figsize=(width, height), dpi=90)
    longest = max((_text_width(label) for label in labels), default=4.0)
    left = min(0.62, (0.2 + 0.145 * longest) / width)
    figure.subplots_adjust(
        left=max(left, 0.09), right=0.97, top=1 - 0.25 / height, bottom=bottom / height
    )
    return figure, figure.subplots()


def _text_width(label: str) -> float:
    """Width of a label in ems: CJK characters count 1, others about 0.55."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.55 for ch in str(label))


def _png(figure: Figure) -> str:
    """The figure as a base64 PNG data URI (no timestamps in the metadata)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _svg_uri(svg: str) -> str:
    """An SVG drawing as a base64 data URI (an ``<img>`` source, like the PNG plots)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _rendered(draw: Any, *args: Any, **kwargs: Any) -> str:
    """Draw a figure with the CJK font (when there is one) and return it as a data URI."""
    import matplotlib  # noqa: PLC0415

    font = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        figure = draw(*args, **kwargs)
        return _png(figure)


# --- profiles and drift ---------------------------------------------------------------------------


def feature_profile(
    scores: pd.DataFrame, features: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Decile edges and shares of the scores and of every numeric feature (stored in the manifest).

    `features` holds each feature's ``edges`` and ``shares``, computed where the households are
    (`risk.stages.profile`); the scores' are computed here. The next run bins its own values by these
    edges to compute the population stability index.
    """
    profile: dict[str, Any] = {
        "probability": _bins(scores["probability"].to_numpy(dtype=float)),
    }
    profile.update({name: dict(entry) for name, entry in features.items()})
    return profile


def _bins(values: np.ndarray) -> dict[str, Any]:
    present = values[~np.isnan(values)]
    edges = (
        np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))) if present.size else np.array([])
    )
    return {"edges": [round(float(e), 8) for e in edges], "shares": _shares(values, edges)}


def _shares(values: np.ndarray, edges: Sequence[float] | np.ndarray) -> list[float]:
    """Share of values per bin ``(-inf, e1], (e1, e2], ..., (ek, inf)`` then the missing share."""
    n = max(len(values), 1)
    missing = np.isnan(values)
    positions = np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="left")
    counts = np.bincount(positions, minlength=len(edges) + 1)
    return [round(float(c) / n, 8) for c in counts] + [round(float(missing.sum()) / n, 8)]


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two binned distributions (shares summing to 1).

    Examples
    --------
    >>> psi([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> round(psi([0.5, 0.5], [0.9, 0.1]), 3)
    0.879
    """
    e = np.maximum(np.asarray(expected, dtype=float), _EPS)
    a = np.maximum(np.asarray(actual, dtype=float), _EPS)
    return round(float(np.sum((a - e) * np.log(a / e))), 6)


def previous_manifest(previous_dir: Path | None) -> dict[str, Any] | None:
    """An earlier run's manifest, or None when there is none or it cannot be read."""
    if previous_dir is None:
        return None
    try:
        loaded: dict[str, Any] = json.loads(
            (previous_dir / "manifest.json").read_text(encoding="utf-8")
        )
    except (OSError, json.JSONDecodeError):
        return None
    return loaded


def previous_edges(previous_dir: Path | None) -> dict[str, list[float]]:
    """The feature bin edges stored in an earlier run's profile (what this run's drift bins by)."""
    manifest = previous_manifest(previous_dir)
    profile = (manifest or {}).get("profile") or {}
    return {
        str(name): list(entry["edges"])
        for name, entry in profile.items()
        if name != "probability" and isinstance(entry, Mapping) and "edges" in entry
    }


def drift_against(
    previous_dir: Path | None,
    scores: pd.DataFrame,
    feature_shares: Mapping[str, Sequence[float]],
) -> dict[str, Any]:
    """PSI of the scores and each numeric feature against an earlier run's stored profile.

    `feature_shares` are this run's shares per bin of the earlier run's edges (`previous_edges`),
    counted where the households are.
    """
    if previous_dir is None:
        return {"previous_run": None}
    previous = previous_manifest(previous_dir)
    if previous is None:
        return {"previous_run": str(previous_dir), "error": "manifest.json unreadable"}
    profile = previous.get("profile") or {}
    values = {
        name: psi(profile[name]["shares"], list(current))
        for name, current in feature_shares.items()
        if name in profile and name != "probability"
    }
    score_psi = (
        psi(
            profile["probability"]["shares"],
            _shares(scores["probability"].to_numpy(dtype=float), profile["probability"]["edges"]),
        )
        if "probability" in profile
        else None
    )
    ordered = dict(sorted(values.items(), key=lambda item: (-item[1], item[0])))
    return {
        "previous_run": str(previous_dir),
        "previous_run_id": previous.get("run_id"),
        "previous_month": previous.get("month"),
        "score_psi": score_psi,
        "feature_psi": ordered,
        "previous_counts": previous.get("counts", {}),
    }


# --- plots -----------------------------------------------------------------------------------------


def plot_distribution(scores: pd.DataFrame, *, tier_high: float, tier_medium: float) -> Figure:
    """Histogram of calibrated probabilities (log count), tier cut-offs and the list's cut-off."""
    figure, axes = _figure(8, 3.6)
    probability = scores["probability"].to_numpy(dtype=float)
    axes.hist(probability, bins=50, range=(0, max(1e-6, float(probability.max(initial=0)))),
              color="#4472c4", log=True)  # fmt: skip
    for cut, colour, label in (
        (tier_high, "#c00000", _zh(f"高风险 ≥ {tier_high:.0%}", f"high ≥ {tier_high:.0%}")),
        (tier_medium, "#ed7d31", _zh(f"中风险 ≥ {tier_medium:.0%}", f"medium ≥ {tier_medium:.0%}")),
    ):
        axes.axvline(cut, color=colour, linestyle="--", label=label)
    warned = scores.loc[scores["warned"] & (scores["rule_triggers"].map(len) == 0), "probability"]
    if len(warned):
        axes.axvline(float(warned.min()), color="black", linestyle=":",
                     label=_zh("名单截止", "list cut-off"))  # fmt: skip
    axes.set_xlabel(_zh("风险概率", "probability"))
    axes.set_ylabel(_zh("户数（对数）", "households (log)"))
    axes.legend(loc="upper right")
    return figure


def cause_frequencies(explanations: pd.DataFrame) -> pd.DataFrame:
    """Main reasons counted by cause: households whose first reason it is, households with it among
    their reasons, the share of the list, and the measure that fits it (most frequent first)."""
    reasons = explanations.loc[explanations["reason_order"].notna()]
    listed = max(explanations["household_id"].nunique(), 1)
    columns = ["cause", "cause_zh", "measure", "first", "households", "share"]
    if reasons.empty:
        return pd.DataFrame(columns=columns)
    grouped = reasons.groupby(["cause", "cause_zh", "measure"], sort=False)
    counted = grouped["household_id"].nunique().rename("households").to_frame()
    first = reasons.loc[reasons["reason_order"] == 1]
    counted["first"] = (
        first.groupby(["cause", "cause_zh", "measure"], sort=False)["household_id"]
        .nunique()
        .reindex(counted.index)
        .fillna(0)
        .astype(int)
    )
    counted = counted.reset_index().sort_values(
        ["first", "households", "cause"], ascending=[False, False, True], kind="mergesort"
    )
    counted["share"] = counted["households"] / listed
    return counted.loc[:, columns].reset_index(drop=True)


def reason_frequencies(explanations: pd.DataFrame) -> pd.DataFrame:
    """Main reasons counted by feature, grouped by cause (causes in `cause_frequencies` order):
    cause, label, households, and share of the list."""
    reasons = explanations.loc[explanations["reason_order"].notna()]
    listed = max(explanations["household_id"].nunique(), 1)
    counted = (
        reasons.groupby(["cause", "cause_zh", "feature", "label_zh"], sort=False)["household_id"]
        .nunique()
        .rename("households")
        .reset_index()
    )
    causes = cause_frequencies(explanations)["cause"].tolist()
    counted["_cause_rank"] = counted["cause"].map({c: i for i, c in enumerate(causes)})
    counted = counted.sort_values(
        ["_cause_rank", "households", "feature"], ascending=[True, False, True], kind="mergesort"
    )
    counted["share"] = counted["households"] / listed
    return counted.drop(columns="_cause_rank").reset_index(drop=True)


def plot_reasons(frequencies: pd.DataFrame) -> Figure:
    """Horizontal bars per cause: households whose first reason it is, and with it among reasons."""
    shown = frequencies.iloc[::-1]
    labels = [
        _zh(str(label), str(cause))
        for label, cause in zip(shown["cause_zh"], shown["cause"], strict=True)
    ]
    figure, axes = _figure(8, 0.45 * len(shown) + 1.2, labels=labels)
    positions = np.arange(len(shown))
    axes.barh(positions + 0.2, shown["households"], height=0.4, color="#a9d18e",
              label=_zh("列为主要原因", "any of the three reasons"))  # fmt: skip
    axes.barh(positions - 0.2, shown["first"], height=0.4, color="#548235",
              label=_zh("第一原因", "first reason"))  # fmt: skip
    axes.set_yticks(positions, labels)
    axes.set_xlabel(_zh("名单中的户数", "households on the list"))
    axes.legend(loc="lower right")
    return figure


def township_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Scored and warned households per county and township, most warned first."""
    grouped = scores.groupby(["county", "township"], sort=True).agg(
        scored=("household_id", "size"), warned=("warned", "sum")
    )
    grouped["warned"] = grouped["warned"].astype(int)
    grouped["rate"] = grouped["warned"] / grouped["scored"]
    ordered = grouped.reset_index().sort_values(
        ["warned", "county", "township"], ascending=[False, True, True], kind="mergesort"
    )
    ordered.insert(0, "code", [f"T{i}" for i in range(1, len(ordered) + 1)])
    return ordered.reset_index(drop=True)


def plot_townships(counts: pd.DataFrame, *, top: int = 20) -> Figure:
    """Horizontal bars of warned households per township (top `top`)."""
    shown = counts.head(top).iloc[::-1]
    labels = [
        _zh(f"{county} {township}", code)
        for county, township, code in zip(
            shown["county"], shown["township"], shown["code"], strict=True
        )
    ]
    figure, axes = _figure(8, 0.3 * len(shown) + 1.2, labels=labels)
    axes.barh(labels, shown["warned"], color="#5b9bd5")
    axes.set_xlabel(_zh("预警户数", "warned households"))
    return figure


def plot_waterfall(explanations: pd.DataFrame, *, household_id: str, probability: float) -> Figure:
    """SHAP waterfall of one household as a matplotlib figure (notebooks; the report draws SVG).

    Base value → largest contributions → its log-odds.
    """
    mine = explanations.loc[explanations["household_id"] == household_id]
    order = mine["contribution"].abs().sort_values(ascending=False, kind="mergesort").index
    top = mine.loc[order[:WATERFALL_TERMS]]
    rest = float(mine.loc[order[WATERFALL_TERMS:], "contribution"].sum())
    base = float(mine["base_value"].iloc[0]) if len(mine) else 0.0
    labels = [
        _zh(f"{label} = {text or '无记录'}", f"{feature} = {text or 'NA'}")
        for label, feature, text in zip(
            top["label_zh"], top["feature"], top["value_text"], strict=True
        )
    ]
    steps = list(top["contribution"].astype(float))
    if len(order) > WATERFALL_TERMS:
        labels.append(
            _zh(f"其他 {len(order) - WATERFALL_TERMS} 项", f"{len(order) - WATERFALL_TERMS} others")
        )
        steps.append(rest)
    figure, axes = _figure(9, 0.42 * len(steps) + 1.4, labels=labels, bottom=0.65)
    start = base
    for row, step in enumerate(steps):
        y = len(steps) - row
        axes.barh(y, step, left=start, color="#c00000" if step > 0 else "#2e75b6")
        axes.text(start + step, y, f" {step:+.2f}", va="center", fontsize=8)
        start += step
    axes.set_yticks(range(len(steps), 0, -1), labels)
    low, high = axes.get_xlim()
    axes.set_xlim(low, high + 0.12 * (high - low))  # room for the last step's label
    axes.axvline(base, color="grey", linewidth=0.8)
    axes.axvline(start, color="black", linewidth=0.8)
    axes.set_xlabel(
        _zh(
            f"对数几率：基准 {base:.2f} → 该户 {start:.2f}（风险概率 {probability:.1%}）",
            f"log-odds: base {base:.2f} → household {start:.2f} (probability {probability:.1%})",
        )
    )
    return figure


def plot_completeness(volumes: pd.DataFrame) -> Figure:
    """Heat map of records per department feed and month (grey: feed not sent)."""
    figure, axes = _figure(9, 0.45 * len(volumes) + 1.6, labels=["医保结算 "], bottom=0.9)
    data = volumes.to_numpy(dtype=float)
    baseline = np.nanmax(np.where(np.isnan(data), -1, data), axis=1, keepdims=True)
    relative = np.where(baseline > 0, data / np.maximum(baseline, 1), 0.0)
    masked = np.ma.masked_invalid(np.where(np.isnan(data), np.nan, relative))
    axes.imshow(masked, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    axes.set_facecolor("#d9d9d9")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            text = "—" if np.isnan(data[i, j]) else f"{int(data[i, j]):,}"
            axes.text(j, i, text, ha="center", va="center", fontsize=7)
    axes.set_xticks(range(len(volumes.columns)), list(volumes.columns), rotation=45, ha="right")
    axes.set_yticks(
        range(len(volumes.index)),
        [_zh(f"{TABLE_LABELS_ZH.get(t, t)}", t) for t in volumes.index],
    )
    return figure


def plot_drift(drift: Mapping[str, Any], *, top: int = 15) -> Figure:
    """Bars of the PSI of the scores and the most-shifted features, with the usual cut-offs."""
    items = [(_zh("风险概率", "probability"), float(drift.get("score_psi") or 0.0))]
    items += list(drift.get("feature_psi", {}).items())[:top]
    labels = [name for name, _ in items][::-1]
    values = [value for _, value in items][::-1]
    figure, axes = _figure(8, 0.3 * len(items) + 1.4, labels=labels)
    colours = [
        "#c00000" if v >= PSI_MAJOR else "#ed7d31" if v >= PSI_MODERATE else "#70ad47"
        for v in values
    ]
    axes.barh(labels, values, color=colours)
    axes.axvline(PSI_MODERATE, color="#ed7d31", linestyle="--", linewidth=0.8)
    axes.axvline(PSI_MAJOR, color="#c00000", linestyle="--", linewidth=0.8)
    axes.set_xlabel("PSI")
    return figure


# --- the page ----------------------------------------------------------------------------------------


def report_data(
    context: RunContext,
    manifest: Mapping[str, Any],
    *,
    followups: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the template shows, computed from the run (plots as data URIs).

    `followups` holds the ``cases`` (`case_deadlines`) and ``backtest`` (`latest_backtest`)
    sections, which look beyond the run's own data; without it both say nothing was found.
    """
    followups = followups or {}
    scores, explanations = context.scores, context.explanations
    warning = context.config.warning
    volumes = context.volumes.iloc[:, -COMPLETENESS_MONTHS:]
    frequencies = reason_frequencies(explanations)
    causes = cause_frequencies(explanations)
    townships = township_counts(scores)
    drift = manifest.get("drift") or {"previous_run": None}
    top = scores.loc[scores["warned"]].head(N_WATERFALLS)
    # the shown households' rows once (in order), not a scan of every explanation per household
    shown = explanations.loc[explanations["household_id"].isin(top["household_id"].tolist())]
    households = [
        {
            "rank": int(row.rank),
            "household_id": row.household_id,
            "township": f"{row.county} {row.township} {row.village}",
            "probability": row.probability,
            "tier": row.tier,
            "reasons": shown.loc[
                (shown["household_id"] == row.household_id) & shown["reason_order"].notna()
            ]
            .sort_values("reason_order")[["cause_zh", "reason_zh", "measure", "evidence", "is_new"]]
            .to_dict("records"),
            "plot": _svg_uri(
                waterfall_svg(
                    shown.loc[shown["household_id"] == row.household_id],
                    probability=float(row.probability),
                )
            ),
        }
        for row in top.itertuples(index=False)
    ]
    return {
        "sections": SECTIONS,
        "manifest": manifest,
        "counts": manifest["counts"],
        "feed_warnings": [w.message for w in context.feed_warnings],
        "load_warnings": list(context.load_warnings),
        "cjk": cjk_font() is not None,
        "operating_point": manifest["capacity"],
        "tier_high": warning.tier_high,
        "tier_medium": warning.tier_medium,
        "distribution_plot": _rendered(
            plot_distribution, scores, tier_high=warning.tier_high, tier_medium=warning.tier_medium
        ),
        "causes": causes.to_dict("records"),
        "reasons_by_cause": {
            cause: rows.head(8).to_dict("records")
            for cause, rows in frequencies.groupby("cause", sort=False)
        },
        "reasons_plot": _rendered(plot_reasons, causes) if len(causes) else None,
        "townships": townships.head(30).to_dict("records"),
        "townships_plot": _rendered(plot_townships, townships) if len(townships) else None,
        "households": households,
        "volumes": volumes,
        "volume_rows": _volume_rows(volumes),
        "feeds_not_sent": [t for t in FEED_DATES if volumes.loc[t].isna().all()],
        "completeness_plot": _rendered(plot_completeness, volumes),
        "drift": drift,
        "drift_plot": _rendered(plot_drift, drift) if drift.get("score_psi") is not None else None,
        "psi_moderate": PSI_MODERATE,
        "psi_major": PSI_MAJOR,
        "lifecycle": lifecycle_counts(context.lifecycle),
        "cases": followups.get("cases") or case_deadlines((), store=None, month=context.month),
        "backtest": followups.get("backtest") or latest_backtest(None),
    }


def lifecycle_counts(lifecycle: pd.DataFrame | None) -> dict[str, Any] | None:
    """Households by lifecycle status: overall and per township (monitored, then exited statuses).

    Returns None for a run without the lifecycle stage; else ``statuses`` (status, label,
    households) and ``townships`` (county, township, one count per status, total), townships with the
    most followed households first.
    """
    from risk.lifecycle import STATUS_LABELS_ZH  # noqa: PLC0415

    if lifecycle is None:
        return None
    order = list(STATUS_LABELS_ZH)
    overall = lifecycle["status"].value_counts().reindex(order, fill_value=0)
    table = (
        pd.crosstab([lifecycle["county"], lifecycle["township"]], lifecycle["status"])
        .reindex(columns=order, fill_value=0)
        .assign(total=lambda t: t.sum(axis=1))
        .sort_values("total", ascending=False, kind="mergesort")
        .reset_index()
    )
    return {
        "statuses": [
            {"status": s, "label": STATUS_LABELS_ZH[s], "households": int(overall[s])}
            for s in order
        ],
        "townships": table.to_dict("records"),
    }


# --- cases of earlier runs and the latest backtest -------------------------------------------------


def case_deadlines(
    run_dirs: Sequence[Path],
    *,
    store: Path | None,
    month: pd.Period,
    max_rows: int = FLAGGED_ROWS,
) -> dict[str, Any]:
    """The earlier runs' review cases counted to the last day of the scoring month.

    Parameters
    ----------
    run_dirs
        Earlier run folders (`risk.stages.outputs.earlier_runs`); only runs with steps or
        decisions in the store are counted.
    store
        The review store (config ``review.store``); None or a missing file: nothing to count. The
        store is opened only when the file exists, so scoring never creates one.
    month
        The scoring month: "today" is its last day (no clock), and steps and decisions dated after
        it are left out, so re-scoring a month gives the same page.
    max_rows
        Flagged cases shown in the table (the rest are counted).

    Returns
    -------
    dict
        ``today``, ``store``, ``message`` (one line when there is nothing to count, else None),
        ``runs`` (per run: month, run_id, cases, open, overdue, short_notice), ``totals``, ``flagged``
        (overdue or short-notice cases: month, household_id, township, village, last_step,
        last_date, flags; short notices first, then the most overdue) and ``more`` (flagged cases
        beyond `max_rows`).
        Household heads, ID numbers and other personal details are never read.
    """
    today = month.end_time.date()
    result: dict[str, Any] = {"today": today.isoformat(), "store": str(store or ""),
                              "message": None, "runs": [], "totals": None, "flagged": [],
                              "more": 0}  # fmt: skip
    if not run_dirs:
        result["message"] = "没有找到更早的运行结果，无案件可统计。No earlier run beside this one."
        return result
    if store is None or not store.is_file():
        result["message"] = (
            f"未找到审核库 {store or '（未配置）'}（配置项 review.store），无案件可统计。"
            f"No review store at {store or '(none configured)'}: no cases to count."
        )
        return result
    try:
        cases = stored_cases(run_dirs, store=store, today=today)
    except (OSError, ValueError, KeyError, sqlite3.Error) as error:
        result["message"] = f"审核库 {store} 无法读取 cannot be read: {error}"
        return result
    if cases.empty:
        result["message"] = (
            f"审核库 {store} 中没有更早运行的案件。The review store holds no case of an earlier run."
        )
        return result
    return {**result, **_case_tables(cases, max_rows=max_rows)}


def stored_cases(run_dirs: Sequence[Path], *, store: Path, today: date) -> pd.DataFrame:
    """`risk.review.cases.case_status` of every earlier run with cases in `store`, as of `today`.

    Adds ``month``, ``township`` and ``village`` (from the run's scores) to each case row.
    """
    from risk.review.cases import case_history, case_status  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415
    from risk.review.store import ReviewStore  # noqa: PLC0415

    # short waits: a busy review page must not hold up the monthly scoring run for long
    review = ReviewStore(store, timeout=1.0, retries=2)
    steps, decisions = review.current_steps(), review.current()
    stored = set(steps["run_id"].astype(str)) | set(decisions["run_id"].astype(str))
    frames = []
    for folder in run_dirs:
        if _manifest_run_id(folder) not in stored:
            continue
        run = load_run(folder)
        history, current = case_history(run, review)
        history = history.loc[history["step_date"].astype(str).str[:10] <= today.isoformat()]
        current = current.loc[current["decided_at"].astype(str).str[:10] <= today.isoformat()]
        status = case_status(history, today=today, decisions=current)
        places = run.scores.drop_duplicates("household_id").set_index("household_id")
        frames.append(
            status.assign(
                month=run.month,
                township=status["household_id"].map(_column_or_blank(places, "township")),
                village=status["household_id"].map(_column_or_blank(places, "village")),
            ).fillna({"township": "", "village": ""})
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _manifest_run_id(folder: Path) -> str | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(manifest.get("run_id")) if isinstance(manifest, dict) else None


def _column_or_blank(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype(str)
    return pd.Series("", index=frame.index)


def _case_tables(cases: pd.DataFrame, *, max_rows: int) -> dict[str, Any]:
    """Counts per run and overall, and the flagged cases (overdue or short notice) in order."""
    runs = [
        {"month": month, "run_id": run_id, **_case_counts(part)}
        for (month, run_id), part in cases.groupby(["month", "run_id"], sort=True)
    ]
    # short notices first (few, and each a breach already done), then the longest overdue
    flagged = cases.loc[cases["overdue"] | cases["notice_too_short"]].sort_values(
        ["notice_too_short", "overdue_days", "month", "household_id"],
        ascending=[False, False, True, True],
        kind="mergesort",
    )
    columns = ["month", "household_id", "township", "village", "last_step", "last_date", "flags"]
    return {
        "runs": runs,
        "totals": _case_counts(cases),
        "flagged": flagged.head(max_rows).loc[:, columns].to_dict("records"),
        "more": max(len(flagged) - max_rows, 0),
    }


def _case_counts(cases: pd.DataFrame) -> dict[str, int]:
    return {
        "cases": len(cases),
        "open": int((~cases["closed"].astype(bool)).sum()),
        "overdue": int(cases["overdue"].sum()),
        "short_notice": int(cases["notice_too_short"].sum()),
    }


def latest_backtest(out_dir: Path | None) -> dict[str, Any]:
    """The newest ``backtest.json`` in a sibling folder of `out_dir`, with a relative link to its page.

    Newest: the latest ``known_until`` (the data month the backtest judged with), then the folder
    name, so the choice depends on the files' content only. Unreadable files are skipped.

    Returns
    -------
    dict
        ``found`` False with ``command`` (how to make one); or ``found`` True with ``href`` (the
        ``backtest.html`` relative to `out_dir`), ``known_until``, ``horizon`` and ``runs`` (per
        past run: month, status, list_size, realised and rules' recall — None while its outcomes
        are not in — and the predicted recall).
    """
    missing = {"found": False, "command": BACKTEST_COMMAND}
    if out_dir is None or not out_dir.parent.is_dir():
        return missing
    best: tuple[tuple[str, str], Path, dict[str, Any]] | None = None
    for folder in sorted(out_dir.parent.iterdir()):
        if folder == out_dir or folder.name.startswith(".") or not folder.is_dir():
            continue
        result = _read_backtest(folder / BACKTEST_JSON)
        if result is None:
            continue
        key = (str(result.get("known_until", "")), folder.name)
        if best is None or key > best[0]:
            best = (key, folder, result)
    if best is None:
        return missing
    _, folder, result = best
    href = Path(os.path.relpath(folder / BACKTEST_HTML, out_dir)).as_posix()
    return {
        "found": True,
        "href": href,
        "known_until": str(result.get("known_until", "")),
        "horizon": result.get("horizon"),
        "runs": [_backtest_row(run) for run in result["runs"] if isinstance(run, dict)],
    }


def _read_backtest(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(result, dict) or not isinstance(result.get("runs"), list):
        return None
    return result


def _backtest_row(run: Mapping[str, Any]) -> dict[str, Any]:
    def recall(part: Any) -> float | None:
        value = part.get("recall") if isinstance(part, Mapping) else None
        return float(value) if isinstance(value, int | float) else None

    return {
        "month": str(run.get("month", "")),
        "status": str(run.get("status", "")),
        "list_size": run.get("list_size"),
        "realised": recall(run.get("realised")),
        "rules": recall(run.get("rules")),
        "predicted": recall(run.get("predicted")),
    }


def _volume_rows(volumes: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for table, values in volumes.iterrows():
        cells = [None if math.isnan(v) else int(v) for v in values.to_numpy(dtype=float)]
        rows.append(
            {"table": table, "label": TABLE_LABELS_ZH.get(str(table), table), "cells": cells}
        )
    return rows


@functools.cache
def _template() -> jinja2.Template:
    text = (resources.files("risk") / "templates" / "report.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["pct"] = lambda v, digits=1: "" if v is None else f"{v:.{digits}%}"
    environment.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    return environment.from_string(text)


def render_report(data: Mapping[str, Any]) -> str:
    """The page's HTML from `report_data`."""
    return _template().render(**data)


def write_report(
    path: str | Path,
    *,
    context: RunContext,
    manifest: Mapping[str, Any],
    followups: Mapping[str, Any] | None = None,
) -> Path:
    """Render and write ``report.html`` for a run (`followups`: see `report_data`)."""
    target = Path(path)
    data = report_data(context, manifest, followups=followups)
    target.write_text(render_report(data), encoding="utf-8")
    return target
