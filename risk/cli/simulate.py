"""CLI commands: simulate (see INTERFACE.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("simulate")(simulate_command)


def simulate_command(
    out: Annotated[
        Path, typer.Option("--out", help="Output folder of the simulated data directory")
    ],
    households: Annotated[int, typer.Option(help="Number of households")] = 20000,
    months: Annotated[int, typer.Option(help="Months of data written")] = 36,
    end: Annotated[str, typer.Option(help="Last month (YYYY-MM)")] = "2026-10",
    counties: Annotated[int, typer.Option(help="Number of counties (1-8)")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or xlsx")] = "parquet",
    export_at: Annotated[
        list[str] | None,
        typer.Option("--export-at", help="Also write the directory as exported at YYYY-MM"),
    ] = None,
    no_truth: Annotated[
        bool, typer.Option("--no-truth", help="Skip the Monte Carlo truth (_truth/)")
    ] = False,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help="baseline, illness, disaster, migrant or sparse (情景, see docs)"
        ),
    ] = "baseline",
) -> None:
    """Simulate a rural county's department feeds and the hidden truth (p_true)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    from risk.atomic import OutputError  # noqa: PLC0415
    from simulation import simulate, write_simulation  # noqa: PLC0415
    from simulation.scenarios import SCENARIOS  # noqa: PLC0415
    from simulation.writer import FORMATS  # noqa: PLC0415

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if scenario not in SCENARIOS:
        raise typer.BadParameter(
            f"未知情景 unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}",
            param_hint="--scenario",
        )
    started = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    with Progress(*columns, TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("模拟 simulating months", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        sim = simulate(
            households=households,
            months=months,
            end=end,
            counties=counties,
            seed=seed,
            truth=not no_truth,
            export_at=tuple(export_at or ()),
            scenario=scenario,
            progress=report,
        )
        bar.update(task, description="写出 writing files")
        try:
            write_simulation(sim, out, fmt=fmt)
        except OSError as error:
            raise OutputError(str(error)) from error
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in sim.tables.items())
    typer.echo(f"wrote {out} ({fmt}, scenario {scenario}): {rows}")
    if sim.truth is not None:
        s = sim.summary
        typer.echo(
            f"oracle AUC {s['oracle_auc']:.3f} · 6-month positive rate {s['positive_rate']:.2%} "
            f"· mean p_true {s['mean_p_true']:.2%} over {int(s['rows']):,} household-months"
        )
        causes = sorted(
            ((k.removeprefix("cause_"), v) for k, v in s.items() if k.startswith("cause_")),
            key=lambda kv: -kv[1],
        )
        shares = ", ".join(f"{name} {share:.0%}" for name, share in causes if share > 0)
        typer.echo(f"true causes among households identified within 6 months: {shares}")
    typer.echo(f"done in {time.perf_counter() - started:.1f}s")
