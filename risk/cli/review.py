"""CLI commands: `risk review import|export|serve` and `risk import-national` (INTERFACE.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from risk.config import load_config

review_app = typer.Typer(
    help="审核 review: decisions in and out of Excel, and the review web page.",
    no_args_is_help=True,
)

RunOption = Annotated[Path, typer.Option("--run", help="run folder written by `risk score --out`")]
StoreOption = Annotated[
    Path | None, typer.Option("--store", help="review store (SQLite); default: config review.store")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="risk.toml")]


def _store(store: Path | None, config: Path | None):  # noqa: ANN202 - lazy import keeps --help fast
    from risk.review.store import ReviewStore  # noqa: PLC0415

    return ReviewStore(store or Path(load_config(config).review.store))


@review_app.command("import")
def import_command(
    run: RunOption,
    file: Annotated[Path, typer.Option("--file", help="the filled warnings.xlsx")],
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Read reviewer decisions from a filled warnings.xlsx into the store (导入审核结论)."""
    from risk.review.excel_io import import_decisions  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415

    summary = import_decisions(file, run=load_run(run), store=_store(store, config))
    typer.echo(summary.text())


@review_app.command("export")
def export_command(
    run: RunOption,
    out: Annotated[Path, typer.Option("--out", help="the workbook to write")],
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Write the run's warnings.xlsx pre-filled with the current decisions (导出)."""
    from risk.review.excel_io import export_decisions  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415

    written = export_decisions(load_run(run), store=_store(store, config), out=out)
    typer.echo(f"已写出 written: {written}")


@review_app.command("serve")
def serve_command(
    run: RunOption,
    store: StoreOption = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    config: ConfigOption = None,
) -> None:
    """Serve the review web page (审核网页). Bound elsewhere than 127.0.0.1 it needs a token."""
    import uvicorn  # noqa: PLC0415

    from risk.review.run import load_run  # noqa: PLC0415
    from risk.review.web import check_binding, create_app  # noqa: PLC0415

    settings = load_config(config)
    token = os.environ.get(settings.review.token_env) or None
    check_binding(host, token=token, token_env=settings.review.token_env)
    app = create_app(
        load_run(run),
        store=_store(store, config),
        token=token,
        pseudonym_key=settings.privacy.pseudonym_key,
    )
    typer.echo(f"审核网页 review page: http://{host}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def import_national_command(
    file: Annotated[Path, typer.Option("--file", help="the national-system export (.xlsx)")],
    out: Annotated[Path, typer.Option("--out", help="folder for the contract tables")],
    config: ConfigOption = None,
) -> None:
    """Turn a national-system person-level export (header on row 3) into contract tables."""
    from risk.review.national import import_national  # noqa: PLC0415

    key = load_config(config).privacy.pseudonym_key()
    result = import_national(file, out=out, pseudonym_key=key)
    typer.echo(result.text())


def register(app: typer.Typer) -> None:
    """Add `risk review …` and `risk import-national` to the `risk` app."""
    app.add_typer(review_app, name="review")
    app.command("import-national")(import_national_command)
