"""CLI commands: simulate (see INTERFACE.md).

``--layout county`` (the default) writes one data directory holding 1–8 counties;
``--layout province`` writes ``DIR/<county>/`` folders, one complete data directory per county,
simulated one county at a time (`simulation.province`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from simulation.province import CountyPlan, ProvinceSummary

LAYOUTS = ("county", "province")


@dataclass(frozen=True)
class SimulateRun:
    """The simulation asked for on the command line (either layout)."""

    households: int
    counties: int
    seed: int
    months: int
    end: str
    truth: bool
    export_at: tuple[str, ...]
    scenario: str
    fmt: str


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("simulate")(simulate_command)


def simulate_command(
    out: Annotated[
        Path,
        typer.Option("--out", help="Output folder: the data directory, or the province's folder"),
    ],
    households: Annotated[
        int, typer.Option(help="Number of households (a province: over all its counties)")
    ] = 20000,
    months: Annotated[int, typer.Option(help="Months of data written")] = 36,
    end: Annotated[str, typer.Option(help="Last month (YYYY-MM)")] = "2026-10",
    counties: Annotated[
        int,
        typer.Option(
            help="Number of counties: 1-8 in one directory (county layout), 1-88 county "
            "folders (province layout)"
        ),
    ] = 2,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes)")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or xlsx")] = "parquet",
    export_at: Annotated[
        list[str] | None,
        typer.Option(
            "--export-at",
            help="Also write the directory as exported at YYYY-MM (a province: "
            "DIR/export_YYYY-MM/<county>/)",
        ),
    ] = None,
    no_truth: Annotated[
        bool,
        typer.Option(
            "--no-truth", help="Skip the Monte Carlo truth (_truth/; a province: each county's)"
        ),
    ] = False,
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help="baseline, illness, disaster, migrant or sparse (情景, see docs)"
        ),
    ] = "baseline",
    layout: Annotated[
        str,
        typer.Option(
            "--layout",
            help="county: one data directory (县); province: DIR/<county>/ folders, one data "
            "directory per county, simulated one county at a time (省)",
        ),
    ] = "county",
) -> None:
    """Simulate a rural county's (or a province's) department feeds and the hidden truth (p_true)."""
    from simulation.scenarios import SCENARIOS  # noqa: PLC0415
    from simulation.writer import FORMATS  # noqa: PLC0415

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    if scenario not in SCENARIOS:
        raise typer.BadParameter(
            f"未知情景 unknown scenario {scenario!r}; expected one of {', '.join(SCENARIOS)}",
            param_hint="--scenario",
        )
    if layout not in LAYOUTS:
        raise typer.BadParameter(
            f"未知布局 unknown layout {layout!r}; expected county or province",
            param_hint="--layout",
        )
    started = time.perf_counter()
    run = SimulateRun(
        households=households,
        counties=counties,
        seed=seed,
        months=months,
        end=end,
        truth=not no_truth,
        export_at=tuple(export_at or ()),
        scenario=scenario,
        fmt=fmt,
    )
    if layout == "province":
        _echo_province(_write_province(out, run), run)
    else:
        _write_county_layout(out, run)
    typer.echo(f"done in {time.perf_counter() - started:.1f}s")


def _progress() -> Progress:
    """The simulation's progress bars: description, bar, done/total, elapsed; gone when finished."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
    )
    return Progress(*columns, TimeElapsedColumn(), transient=True)


def _write_county_layout(out: Path, run: SimulateRun) -> None:
    """One data directory (1–8 counties), with a progress bar over the months."""
    from risk.atomic import OutputError  # noqa: PLC0415
    from simulation import simulate, write_simulation  # noqa: PLC0415

    with _progress() as bar:
        task = bar.add_task("模拟 simulating months", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        sim = simulate(
            households=run.households,
            months=run.months,
            end=run.end,
            counties=run.counties,
            seed=run.seed,
            truth=run.truth,
            export_at=run.export_at,
            scenario=run.scenario,
            progress=report,
        )
        bar.update(task, description="写出 writing files")
        try:
            write_simulation(sim, out, fmt=run.fmt)
        except OSError as error:
            raise OutputError(str(error)) from error
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in sim.tables.items())
    typer.echo(f"wrote {out} ({run.fmt}, scenario {run.scenario}): {rows}")
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


def _write_province(out: Path, run: SimulateRun) -> ProvinceSummary:
    """`simulation.province.write_province` with one progress bar per county (and one overall)."""
    from risk.atomic import OutputError  # noqa: PLC0415
    from simulation.province import write_province  # noqa: PLC0415

    with _progress() as bar:
        overall = bar.add_task("模拟省份 counties", total=run.counties)
        tasks: dict[int, TaskID] = {}

        def report(county: CountyPlan, stage: str, done: int, total: int) -> None:
            _county_progress(bar, tasks, county, stage, done, total)
            if stage == "written":
                bar.update(overall, advance=1)

        try:
            return write_province(
                out,
                households=run.households,
                counties=run.counties,
                seed=run.seed,
                months=run.months,
                end=run.end,
                truth=run.truth,
                export_at=run.export_at,
                scenario=run.scenario,
                fmt=run.fmt,
                progress=report,
            )
        except OSError as error:
            raise OutputError(str(error)) from error


def _county_progress(
    bar: Progress, tasks: dict[int, TaskID], county: CountyPlan, stage: str, done: int, total: int
) -> None:
    """One bar per county while it is simulated and written; removed once it is written."""
    label = f"{county.name} ({county.index + 1}) {county.households:,} 户"
    if county.index not in tasks:
        tasks[county.index] = bar.add_task(f"{label} 模拟 simulating months", total=total)
    task = tasks[county.index]
    if stage == "simulate":
        bar.update(task, completed=done, total=total)
        if done == total:
            bar.update(task, description=f"{label} 写出 writing files")
    elif stage == "written":
        bar.remove_task(task)


def _echo_province(summary: ProvinceSummary, run: SimulateRun) -> None:
    sizes = [county.households for county in summary.counties]
    rows = ", ".join(f"{name} {count:,}" for name, count in summary.rows.items())
    typer.echo(
        f"wrote {summary.path} (province of {len(sizes)} counties in DIR/<county>/, {run.fmt}, "
        f"scenario {run.scenario}): {rows}"
    )
    typer.echo(f"households per county: {min(sizes):,} to {max(sizes):,}")
    aucs = [s["oracle_auc"] for s in summary.summaries.values() if "oracle_auc" in s]
    if aucs:
        typer.echo(
            f"oracle AUC by county {min(aucs):.3f} to {max(aucs):.3f}; truth in DIR/<county>/_truth/"
        )
