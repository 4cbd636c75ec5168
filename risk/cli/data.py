"""CLI commands on data directories: `risk validate` (and, later, `risk import-national`).

Exit status (INTERFACE.md): 0 when the directory is usable (warnings allowed), 2 otherwise — the
summary goes to stdout, the errors (file, row, column, value, expected form) to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.contract.errors import DataContractError
from features.contract.io import validate_directory
from risk.config import load_config

DataOption = Annotated[Path, typer.Option("--data", help="数据目录 the data directory to check")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="risk.toml (default: ./risk.toml)")
]


def validate(data: DataOption, config: ConfigOption = None) -> None:
    """Check every table of a data directory against the data contract and print a summary."""
    key = load_config(config).privacy.pseudonym_key()
    report = validate_directory(data, pseudonym_key=key)
    typer.echo(report.render(include_errors=False))
    if not report.ok:
        raise DataContractError(report.error_text())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("validate")(validate)
    # `risk import-national` (risk/national.py) registers here as well.
