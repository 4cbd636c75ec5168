"""CLI commands: build — `risk features --data DIR --month YYYY-MM --out FILE.parquet` (INTERFACE.md)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from features.contract.errors import FanpinError
from risk.atomic import OutputError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("features")(features_command)


def features_command(
    data: Annotated[Path, typer.Option("--data", help="Data directory (DATA_CONTRACT.md).")],
    month: Annotated[str, typer.Option("--month", help="As-of month, YYYY-MM.")],
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="risk.toml (default: ./risk.toml).")
    ] = None,
) -> None:
    """One row per household for one month: household_id, month, then every catalogue feature."""
    from features.build import build_features  # noqa: PLC0415 - keep `risk --help` fast
    from features.contract.io import load_directory  # noqa: PLC0415
    from risk.config import load_config  # noqa: PLC0415

    as_of = parse_month(month)
    settings = load_config(config)
    loaded = load_directory(data, pseudonym_key=settings.privacy.pseudonym_key())
    for issue in loaded.report.warnings:
        typer.echo(f"警告 warning: {issue.message}", err=True)
    frame = build_features(loaded.tables, as_of=as_of, lines=settings.lines)
    write_parquet_atomically(frame, out)
    typer.echo(f"{len(frame)} households × {frame.shape[1] - 2} features for {as_of} → {out}")


def parse_month(text: str) -> pd.Period:
    """`YYYY-MM` → a monthly Period; anything else is a usage error (`FanpinError`: exit 2)."""
    try:
        if len(text) != 7 or text[4] != "-":
            raise ValueError(text)
        return pd.Period(text, "M")
    except (ValueError, TypeError):
        raise FanpinError(
            f"--month: expected a month as YYYY-MM (e.g. 2025-06), got {text!r}"
        ) from None


def write_parquet_atomically(frame: pd.DataFrame, out: Path) -> None:
    """Write to a temporary file beside `out`, then move it into place (no partial output)."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        os.close(handle)
    except OSError as error:
        raise OutputError(f"cannot write {out}: {error}; choose a writable --out") from error
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, out)
    except OSError as error:
        raise OutputError(f"cannot write {out}: {error}; choose a writable --out") from error
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
