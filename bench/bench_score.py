"""`make bench` — monthly scoring: `risk score` end to end at 200,000 households, and by stage.

Measures one month scored with explanations for the top 5 % (the default operating point): loading
and validating the directory, then `risk.score.score_month` stage by stage (feeds, features,
prediction, rules and list, explanations, lifecycle, writing), and reports each stage's share of the run, the
households per second, CPU seconds and peak memory. End to end = the run's one load of the directory
(`session.tables`: measured once, by the first stage that loaded it) + `score_month`.

The model is the one the training benchmark trained in this run (`session`); run alone, a model of
the default training shape is fitted here on three as-of months of the same directory (its time is
reported separately, not in the run). The run's output folder is left in `session` for the Dask
comparison (bench_scale), which checks its own files against these.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import session

from risk.config import FanpinConfig
from risk.pipeline import STAGES as PIPELINE_STAGES
from risk.score import score_month

SCORED_SHARE_PERCENT = 5.0
#: The stages as the pipeline declares them (lifecycle included), so the table never drops one.
STAGES = tuple(stage.name for stage in PIPELINE_STAGES)


@dataclass(frozen=True)
class LoadedModel:
    """What `score_month` needs of a registered model (`training.registry.load_model`)."""

    model: Any
    name: str = "bench"
    version: str = "0"
    uri: str = "in-memory"


def run(results: dict, data_dir: Path) -> None:
    """Score the latest month of `data_dir` and add the figures to ``results["score"]``."""
    figures: dict[str, Any] = {}
    tables, load = session.tables(data_dir)
    figures["load"] = load
    figures["load_seconds"] = load["seconds"]
    model, model_seconds, model_source = _model(tables)
    figures["model_source"] = model_source
    figures["model_fit_seconds"] = model_seconds
    config = FanpinConfig().with_warning(top_percent=SCORED_SHARE_PERCENT)
    out = session.scratch() / "local" / "run"
    measure: dict[str, Any] = {}
    with session.measured(measure):
        result = score_month(
            tables,
            month=tables.export_month,
            model=model,
            config=config,
            out_dir=out,
            data_dir=data_dir,
            progress=False,
        )
    session.put("score", {"out_dir": out, "model": model, "config": config})
    scoring = measure["seconds"]
    households = int(result.counts["households"])
    total = scoring + figures["load_seconds"]
    figures.update(
        {
            "households": households,
            "scored": int(result.counts["scored"]),
            "explained": int(result.counts["explained"]),
            "score_month_seconds": round(scoring, 2),
            "score_month_cpu_seconds": measure["cpu_seconds"],
            "peak_memory_above_start_gib": measure["peak_rss_above_start_gib"],
            "end_to_end_seconds": round(total, 2),
            "households_per_second": round(households / total, 1),
            "stage_seconds": {s: round(result.timings.get(s, 0.0), 2) for s in STAGES},
            "stage_share": {s: round(result.timings.get(s, 0.0) / scoring, 3) for s in STAGES},
            "explanations_per_second": round(
                result.counts["explained"] / max(result.timings.get("explain", 0.0), 1e-9), 1
            ),
            "target_seconds": 40,
            "within_target": total < 40,
            "at_least_5000_households_per_second": households / total >= 5000,
        }
    )
    results["score"] = figures
    _print(figures)


def _model(tables: Any) -> tuple[LoadedModel, float, str]:
    """The model the training benchmark trained in this run, else a model fitted here."""
    trained = session.get("training")
    if trained is not None:
        return LoadedModel(trained["model"]), 0.0, "bench_training (train_from_tables)"
    clock = time.perf_counter()
    model, _ = fit_default_model(tables)
    return LoadedModel(model), round(time.perf_counter() - clock, 2), "fitted here"


def fit_default_model(tables: Any) -> tuple[Any, Any]:
    """The default model shape fitted on three as-of months whose 6-month labels have closed.

    Returns the fitted `RiskModel` and its feature rows (a model folder's signature). Shared by
    bench_score (a county without a trained model) and bench_province (the province's model).
    """
    from features.build import build_panel  # noqa: PLC0415
    from features.contract.lines import MonitoringLines  # noqa: PLC0415
    from training.labels import build_labels  # noqa: PLC0415
    from training.model import RiskModel  # noqa: PLC0415

    last = tables.export_month - 6
    months = [last - 6, last - 3, last]
    labels = build_labels(
        tables.outcomes,
        tables.households["household_id"],
        months=months,
        horizon=6,
        known_until=tables.export_month,
    )
    panel = build_panel(tables, months=months, lines=MonitoringLines())
    rows = panel.merge(labels[["household_id", "month", "label"]], on=["household_id", "month"])
    features = rows.drop(columns=["household_id", "month", "label"])
    model = RiskModel(random_state=0).fit(features, rows["label"], groups=rows["household_id"])
    return model, features


def _print(figures: dict[str, Any]) -> None:
    print(
        f"[bench] risk score: {figures['households']:,} households in "
        f"{figures['end_to_end_seconds']:.1f} s ({figures['households_per_second']:,.0f}/s; "
        f"load {figures['load_seconds']:.1f} s; score_month {figures['score_month_seconds']:.1f} s, "
        f"CPU {figures['score_month_cpu_seconds']:.1f} s), {figures['explained']:,} explained; "
        f"under 40 s: {figures['within_target']}"
    )
    for stage in STAGES:
        print(
            f"[bench]   {stage:<9} {figures['stage_seconds'][stage]:7.2f} s "
            f"{figures['stage_share'][stage]:6.1%}"
        )
