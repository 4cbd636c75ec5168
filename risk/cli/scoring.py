"""CLI commands: `risk score` (one month, INTERFACE.md) and `risk demo` (simulate, train, score).

Thin layer: options are read and checked here, configuration is loaded once, and the work is done by
`risk.score.score_month` (and, for the demo, the simulator's and training's Python APIs).

``--data`` is a county's data directory or a province (``DIR/<county>/`` folders,
`features.contract.province`). A province is not loaded here: its counties are read where they are
scored (in turn with ``--engine local``, on the workers with ``--engine dask``), and its settings are
``--config``, else ``DIR/risk.toml``, else ``./risk.toml`` — one file for every county (a county
folder's own risk.toml is not read; the run says so in its warnings).
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from features.contract.errors import ConfigError, FanpinError
from risk.cli.engine import EngineOption, SchedulerOption, wants_dask
from risk.config import FanpinConfig, check_operating_point, load_config, require_policy

DataOption = Annotated[Path, typer.Option("--data", help="数据目录 the data directory")]
MonthOption = Annotated[str, typer.Option("--month", help="评分月份 YYYY-MM")]
OutOption = Annotated[Path, typer.Option("--out", help="运行目录 the run folder to write")]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="models:/name@alias, models:/name/N or a model folder"),
]
CapacityOption = Annotated[
    int | None, typer.Option("--capacity", help="名单户数 warn the top N households")
]
TopPercentOption = Annotated[
    float | None, typer.Option("--top-percent", help="warn the top P % of households")
]
ThresholdOption = Annotated[
    float | None, typer.Option("--threshold", help="warn households with probability ≥ P")
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="risk.toml (default: ./risk.toml)")
]
PreviousOption = Annotated[
    Path | None,
    typer.Option(
        "--previous",
        help="上期运行目录 an earlier run folder (default: the latest earlier run beside --out)",
    ),
]
ProgressOption = Annotated[
    bool, typer.Option("--progress/--no-progress", help="show a progress bar per stage")
]

#: Module and function of the partitioned engine (issue 7), looked up when --engine dask is asked.
DASK_ENGINE = ("risk.engine_dask", "score_month_dask")


def parse_month(text: str) -> pd.Period:
    """``YYYY-MM`` (or ``YYYYMM``) → a monthly period; a usage error names the expected form."""
    cleaned = text.strip()
    if len(cleaned) == 6 and cleaned.isdigit():
        cleaned = f"{cleaned[:4]}-{cleaned[4:]}"
    try:
        return pd.Period(cleaned, freq="M")
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"--month {text!r} is not a month; expected YYYY-MM, e.g. 2026-10"
        ) from error


def operating_config(
    config: FanpinConfig,
    *,
    capacity: int | None,
    top_percent: float | None,
    threshold: float | None,
) -> FanpinConfig:
    """The config with the operating point given on the command line (at most one of the three)."""
    given = {
        k: v
        for k, v in {
            "capacity": capacity,
            "top_percent": top_percent,
            "threshold": threshold,
        }.items()
        if v is not None
    }
    if len(given) > 1:
        raise ConfigError(
            "give one of --capacity, --top-percent, --threshold (got "
            + ", ".join(f"--{k.replace('_', '-')}" for k in given)
            + ")"
        )
    if not given:
        return config
    changed = config.with_warning(
        capacity=given.get("capacity"),
        top_percent=given.get("top_percent"),
        threshold=given.get("threshold"),
    )
    check_operating_point(changed.warning)
    return changed


def score(
    data: DataOption,
    month: MonthOption,
    out: OutOption,
    model: ModelOption = None,
    capacity: CapacityOption = None,
    top_percent: TopPercentOption = None,
    threshold: ThresholdOption = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
    config: ConfigOption = None,
    previous: PreviousOption = None,
    progress: ProgressOption = True,
) -> None:
    """Score every household not yet monitored in a month, explain the warned ones, write the list."""
    period = parse_month(month)
    from features.contract.province import county_folders  # noqa: PLC0415

    counties = county_folders(data)
    settings = operating_config(
        load_config(settings_path(config, data, province=counties is not None)),
        capacity=capacity,
        top_percent=top_percent,
        threshold=threshold,
    )
    runner = _engine(engine, scheduler)
    from features.contract.io import load_directory  # noqa: PLC0415
    from risk.pipeline import Province  # noqa: PLC0415
    from risk.stages.outputs import print_summary  # noqa: PLC0415

    key = settings.privacy.pseudonym_key()
    source: Any
    if counties is not None:
        source, warnings = Province(Path(data), tuple(counties), key), []
    else:
        loaded = load_directory(data, pseudonym_key=key)
        require_policy(settings, loaded.tables, months=[period], doing="score")
        source, warnings = loaded.tables, [issue.message for issue in loaded.report.warnings]
    chosen = load_scoring_model(model, settings)
    result = runner(
        source,
        month=period,
        model=chosen,
        config=settings,
        out_dir=out,
        data_dir=data,
        previous_dir=previous,
        progress=progress,
        load_warnings=warnings,
    )
    print_summary(result)


def settings_path(config: Path | None, data: Path, *, province: bool) -> Path | None:
    """The settings file: ``--config``, else a province's ``DIR/risk.toml``, else the default."""
    if config is not None or not province:
        return config
    own = Path(data) / "risk.toml"
    return own if own.is_file() else None


def _engine(engine: str, scheduler: str | None) -> Any:
    """The scoring function for `--engine`; Dask only once its engine module exists."""
    from risk.score import score_month  # noqa: PLC0415

    if not wants_dask(engine, scheduler):
        return score_month
    module_name, function_name = DASK_ENGINE
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise FanpinError(
            "--engine dask is not available yet in this fanpin version (分布式引擎尚未提供); "
            "run with --engine local (the default)"
        ) from error
    runner = getattr(module, function_name)

    def with_scheduler(*args: Any, **kwargs: Any) -> Any:
        return runner(*args, scheduler=scheduler, **kwargs)

    return with_scheduler


def load_scoring_model(model: str | None, settings: FanpinConfig) -> Any:
    """The named model, or the registered champion (`models:/<name>@champion`)."""
    from training.registry import CHAMPION, load_model  # noqa: PLC0415

    uri = model or f"models:/{settings.model.name}@{CHAMPION}"
    return load_model(uri, tracking_uri=settings.model.resolved_tracking_uri())


# --- demo ---------------------------------------------------------------------------------------

DemoOut = Annotated[
    Path, typer.Option("--out", help="演示目录 folder for the demo's data and outputs")
]
DemoHouseholds = Annotated[int, typer.Option("--households", help="simulated households")]
DemoSeed = Annotated[int, typer.Option("--seed", help="random seed of the simulation")]


def demo(
    out: DemoOut = Path("demo"), households: DemoHouseholds = 20000, seed: DemoSeed = 0
) -> None:
    """Simulate a county, train a model, score the latest month and print where the list is."""
    from risk.demo import run_demo  # noqa: PLC0415
    from risk.stages.outputs import print_summary  # noqa: PLC0415

    start = time.perf_counter()
    result = run_demo(out, households=households, seed=seed, echo=typer.echo)
    print_summary(result)
    typer.echo(f"演示完成 demo finished in {time.perf_counter() - start:.0f} s")
    typer.echo(f"预警名单 warning list: {result.paths['warnings.xlsx']}")
    typer.echo(f"报告 report:           {result.paths['report.html']}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("score")(score)
    app.command("demo")(demo)
