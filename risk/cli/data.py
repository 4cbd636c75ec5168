"""CLI commands on data directories: `risk validate` (and, later, `risk import-national`).

Exit status (INTERFACE.md): 0 when the directory is usable (warnings allowed), 2 otherwise — the
summary goes to stdout, the errors (file, row, column, value, expected form) to stderr.

``--data`` may be a province (``DIR/<county>/`` folders): every county is checked (in turn, or on the
workers of a Dask cluster with ``--engine dask``, which send back only their reports), each county's
summary is printed under its name, and the province is usable only when every county is. Its
settings are ``--config``, else ``DIR/risk.toml``, else ``./risk.toml`` (the pseudonym key).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from features.contract.errors import DataContractError
from features.contract.io import validate_directory
from features.contract.province import CountyFolder, county_folders
from features.contract.validation import ValidationReport
from risk.cli.engine import EngineOption, SchedulerOption, wants_dask
from risk.config import load_config

DataOption = Annotated[Path, typer.Option("--data", help="数据目录 the data directory to check")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="risk.toml (default: ./risk.toml)")
]


def validate(
    data: DataOption,
    config: ConfigOption = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Check every table of a data directory (or every county of a province) against the contract."""
    dask = wants_dask(engine, scheduler)
    counties = county_folders(data)
    if counties is None:
        report = validate_directory(data, pseudonym_key=load_config(config).privacy.pseudonym_key())
        typer.echo(report.render(include_errors=False))
        if not report.ok:
            raise DataContractError(report.error_text())
        return
    own = Path(data) / "risk.toml"
    chosen = config if config is not None or not own.is_file() else own
    key = load_config(chosen).privacy.pseudonym_key()
    reports = (
        validate_on_cluster(counties, pseudonym_key=key, scheduler=scheduler)
        if dask
        else [validate_directory(c.path, pseudonym_key=key) for c in counties]
    )
    for county, report in zip(counties, reports, strict=True):
        typer.echo(f"== 县 county {county.name} ==")
        typer.echo(report.render(include_errors=False))
    failed = [(c, r) for c, r in zip(counties, reports, strict=True) if not r.ok]
    typer.echo(
        f"省 province {data}: {len(counties) - len(failed)}/{len(counties)} 个县可用 counties usable"
    )
    if failed:
        raise DataContractError(
            "\n".join(
                f"县 county {county.name}: {report.error_text()}" for county, report in failed
            )
        )


def validate_on_cluster(
    counties: Sequence[CountyFolder], *, pseudonym_key: bytes, scheduler: str | None
) -> list[ValidationReport]:
    """Each county checked by a task on a Dask worker; only the reports come back."""
    from risk.engine_dask import cluster_errors, dask_client  # noqa: PLC0415

    with dask_client(scheduler=scheduler) as client, cluster_errors():
        futures = [
            client.submit(validate_directory, c.path, pseudonym_key=pseudonym_key, pure=False)
            for c in counties
        ]
        return list(client.gather(futures))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("validate")(validate)
    # `risk import-national` (risk/national.py) registers here as well.
