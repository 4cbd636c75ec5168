"""`risk demo`: simulate a county, train a model, score the latest month — the whole job in one call.

Everything lands under one folder, so the demo never touches the user's own model registry:

```
DIR/data/              simulated contract tables (DATA_CONTRACT.md)
DIR/mlflow.db          the demo's MLflow store; DIR/mlartifacts/ its artifacts
DIR/model/             evaluation.json of the trained model
DIR/runs/YYYY-MM/      scores.parquet, explanations.parquet, warnings.xlsx, report.html, manifest.json
```
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from risk.atomic import OutputError
from risk.config import FanpinConfig
from risk.run_context import ScoreResult
from risk.score import score_month

DEMO_MONTHS = 30
DEMO_END = "2026-10"


def run_demo(
    out: str | Path,
    *,
    households: int = 20000,
    seed: int = 0,
    config: FanpinConfig | None = None,
    echo: Callable[[str], Any] = print,
    progress: bool = True,
) -> ScoreResult:
    """Simulate, train, register and score the latest month; return the scoring result.

    Parameters
    ----------
    out
        The demo folder (created; its data are re-simulated and the latest run replaced).
    households, seed
        Size and seed of the simulated county.
    config
        Settings (default: the defaults, with the MLflow store inside `out`).
    echo
        Where progress lines go.
    progress
        Progress bars for the scoring stages.
    """
    folder = Path(out).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    settings = config or FanpinConfig()
    settings = dataclasses.replace(
        settings,
        model=dataclasses.replace(settings.model, tracking_uri=f"sqlite:///{folder / 'mlflow.db'}"),
    )
    clock = time.perf_counter()
    data = simulate_county(folder / "data", households=households, seed=seed)
    echo(
        f"模拟完成 simulated {households:,} households in {time.perf_counter() - clock:.0f} s: {data}"
    )
    from features.contract.io import load_directory  # noqa: PLC0415

    tables = load_directory(data, pseudonym_key=settings.privacy.pseudonym_key()).tables
    clock = time.perf_counter()
    model = train_demo_model(tables, data=data, folder=folder, settings=settings)
    echo(f"训练完成 trained and registered {model.uri} (v{model.version}) "
         f"in {time.perf_counter() - clock:.0f} s")  # fmt: skip
    month = tables.export_month
    return score_month(
        tables,
        month=month,
        model=model,
        config=settings,
        out_dir=folder / "runs" / str(month),
        data_dir=data,
        progress=progress,
    )


def simulate_county(data: Path, *, households: int, seed: int) -> Path:
    """Write a simulated county (no hidden truth: the demo does not need it) to `data`."""
    from simulation import simulate, write_simulation  # noqa: PLC0415

    simulation = simulate(
        households=households, months=DEMO_MONTHS, end=DEMO_END, seed=seed, truth=False
    )
    try:
        write_simulation(simulation, data)
    except OSError as error:
        raise OutputError(str(error)) from error
    return data


def train_demo_model(tables: Any, *, data: Path, folder: Path, settings: FanpinConfig) -> Any:
    """Train on every usable month, register in the demo's store, load the champion back."""
    from training.registry import CHAMPION, Registry, file_fingerprints, load_model  # noqa: PLC0415
    from training.train import (  # noqa: PLC0415
        TrainOptions,
        train_and_register,
        train_from_tables,
        write_json,
    )

    share = (settings.warning.top_percent or 5.0) / 100.0
    options = TrainOptions(
        horizon=settings.model.horizon,
        valid_months=settings.model.valid_months,
        operating_share=share,
        compare_monotone=False,
    )
    result = train_from_tables(
        tables, lines=settings.lines, rule_params=settings.rules, options=options
    )
    uri = settings.model.resolved_tracking_uri()
    fingerprints = file_fingerprints({t: data / f for t, f in tables.files.items()})
    model_dir = folder / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    train_and_register(
        result,
        registry=Registry(uri, settings.model.name, artifact_root=folder / "mlartifacts"),
        options=options,
        out_dir=model_dir,
        fingerprints=fingerprints,
        write_files=lambda evaluation, out: [write_json(evaluation, out / "evaluation.json")],
    )
    return load_model(f"models:/{settings.model.name}@{CHAMPION}", tracking_uri=uri)
