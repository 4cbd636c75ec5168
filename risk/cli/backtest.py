"""CLI command: `risk backtest --data DIR --runs RUN_DIR... --out DIR` (INTERFACE.md version 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from risk.config import load_config


def backtest_command(
    data: Annotated[Path, typer.Option("--data", help="数据目录 the data as known now")],
    runs: Annotated[
        list[Path],
        typer.Option(
            "--runs", help="往期运行目录 past run folders (`risk score --out`), one or more"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="输出目录 for backtest.json and .html")],
    more_runs: Annotated[
        list[Path] | None,
        typer.Argument(help="more run folders: `--runs A B C` reads as --runs A plus B and C"),
    ] = None,
    horizon: Annotated[
        int | None, typer.Option("--horizon", help="观察期 months (default: config model.horizon)")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="risk.toml")] = None,
) -> None:
    """How past lists did: hits, misses, precision and recall per month and township (回测).

    `--runs` takes one or more run folders (`--runs A B C` or `--runs A --runs B`); a folder that
    holds run folders stands for all of them.
    """
    from features.contract.errors import ConfigError  # noqa: PLC0415
    from features.contract.io import load_directory  # noqa: PLC0415
    from risk.backtest import backtest, load_past_run, summary_lines, write_backtest  # noqa: PLC0415

    settings = load_config(config)
    months = settings.model.horizon if horizon is None else horizon
    if not 1 <= months <= 24:
        raise ConfigError(f"--horizon {months}: expected 1–24 months")
    past = [load_past_run(folder) for folder in _expand([*runs, *(more_runs or [])])]
    tables = load_directory(data, pseudonym_key=settings.privacy.pseudonym_key()).tables
    result = backtest(tables, past, horizon=months, rules=settings.rules, lines=settings.lines)
    written = write_backtest(result, out)
    typer.echo("\n".join(summary_lines(result)))
    typer.echo(f"已写出 written: {written['json']}, {written['html']}")


def _expand(runs: list[Path]) -> list[Path]:
    """Run folders as given; a folder holding run folders (no scores.parquet itself) stands for them."""
    found: list[Path] = []
    for folder in runs:
        inner = sorted(p.parent for p in folder.glob("*/scores.parquet"))
        found += [folder] if (folder / "scores.parquet").is_file() or not inner else inner
    return found


def register(app: typer.Typer) -> None:
    """Add `risk backtest` to the `risk` app."""
    app.command("backtest")(backtest_command)
