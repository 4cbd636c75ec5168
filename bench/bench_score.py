"""`make bench` — monthly scoring: `risk score` end to end at 200,000 households, and by stage.

Measures one month scored with explanations for the top 5 % (the default operating point): loading
and validating the directory, then `risk.score.score_month` stage by stage (feeds, features,
prediction, rules and list, explanations, writing), and reports each stage's share of the run and the
households per second. The model is the champion registered by the training benchmark when it left
one in ``results["training"]["model_uri"]``; otherwise a model of the default training shape is fitted
here on three as-of months of the same directory (its time is reported separately, not in the run).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.io import load_directory
from risk.config import FanpinConfig
from risk.score import score_month

KEY = b"bench-pseudonym-key"
SCORED_SHARE_PERCENT = 5.0
STAGES = ("feeds", "features", "predict", "select", "explain", "write")


@dataclass(frozen=True)
class _Loaded:
    model: Any
    name: str
    version: str
    uri: str


def run(results: dict, data_dir: Path) -> None:
    """Score the latest month of `data_dir` and add the figures to ``results["score"]``."""
    figures: dict[str, Any] = {}
    clock = time.perf_counter()
    loaded = load_directory(data_dir, pseudonym_key=KEY)
    figures["load_seconds"] = round(time.perf_counter() - clock, 2)
    tables = loaded.tables
    model, model_seconds, model_source = _model(results, tables)
    figures["model_source"] = model_source
    figures["model_fit_seconds"] = model_seconds
    config = FanpinConfig().with_warning(top_percent=SCORED_SHARE_PERCENT)
    with tempfile.TemporaryDirectory(dir=data_dir.parent) as scratch:
        clock = time.perf_counter()
        result = score_month(
            tables,
            month=tables.export_month,
            model=model,
            config=config,
            out_dir=Path(scratch) / "run",
            data_dir=data_dir,
            progress=False,
        )
        scoring = time.perf_counter() - clock
    households = int(result.counts["households"])
    total = scoring + figures["load_seconds"]
    figures.update(
        {
            "households": households,
            "scored": int(result.counts["scored"]),
            "explained": int(result.counts["explained"]),
            "score_month_seconds": round(scoring, 2),
            "end_to_end_seconds": round(total, 2),
            "households_per_second": round(households / total, 1),
            "stage_seconds": {s: round(result.timings.get(s, 0.0), 2) for s in STAGES},
            "stage_share": {s: round(result.timings.get(s, 0.0) / scoring, 3) for s in STAGES},
            "explanations_per_second": round(
                result.counts["explained"] / max(result.timings.get("explain", 0.0), 1e-9), 1
            ),
            "target_seconds": 90,
            "within_target": total < 90,
        }
    )
    results["score"] = figures
    _print(figures)


def _model(results: dict, tables: Any) -> tuple[Any, float, str]:
    """The training benchmark's model if it registered one, else a model fitted here."""
    uri = (results.get("training") or {}).get("model_uri")
    if uri:
        from training.registry import load_model  # noqa: PLC0415

        tracking = (results.get("training") or {}).get("tracking_uri")
        return load_model(uri, tracking_uri=tracking), 0.0, str(uri)
    clock = time.perf_counter()
    model = _fit_here(tables)
    return (
        _Loaded(model, "bench", "0", "in-memory"),
        round(time.perf_counter() - clock, 2),
        "fitted here",
    )


def _fit_here(tables: Any) -> Any:
    from features.build import build_panel  # noqa: PLC0415
    from features.lines import MonitoringLines  # noqa: PLC0415
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
    X = rows.drop(columns=["household_id", "month", "label"])
    return RiskModel(random_state=0).fit(X, rows["label"], groups=rows["household_id"])


def _print(figures: dict[str, Any]) -> None:
    print(
        f"[bench] risk score: {figures['households']:,} households in "
        f"{figures['end_to_end_seconds']:.1f} s ({figures['households_per_second']:,.0f}/s; "
        f"load {figures['load_seconds']:.1f} s), {figures['explained']:,} explained"
    )
    for stage in STAGES:
        print(
            f"[bench]   {stage:<9} {figures['stage_seconds'][stage]:7.2f} s "
            f"{figures['stage_share'][stage]:6.1%}"
        )
