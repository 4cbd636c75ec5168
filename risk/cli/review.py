"""CLI commands: `risk review import|export|serve|steps|cases|notice` and `risk import-national`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from risk.config import load_config

if TYPE_CHECKING:
    from risk.review.run import ReviewRun
    from risk.review.store import ReviewStore

review_app = typer.Typer(
    help="审核 review: decisions in and out of Excel, and the review web page.",
    no_args_is_help=True,
)

RunOption = Annotated[Path, typer.Option("--run", help="run folder written by `risk score --out`")]
StoreOption = Annotated[
    Path | None, typer.Option("--store", help="review store (SQLite); default: config review.store")
]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="risk.toml")]
TodayOption = Annotated[
    str | None,
    typer.Option("--today", help="统计日期 the day the deadlines are counted to (default: today)"),
]


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
    today: TodayOption = None,
) -> None:
    """Write the run's warnings.xlsx pre-filled with the current decisions and case deadlines (导出)."""
    from risk.review.excel_io import export_decisions  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415

    written = export_decisions(
        load_run(run), store=_store(store, config), out=out, today=_today(today)
    )
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


CasesOutOption = Annotated[
    Path | None,
    typer.Option("--out", help="cases.parquet to write (default: RUN/cases.parquet)"),
]


@review_app.command("steps")
def steps_command(
    run: RunOption,
    file: Annotated[Path, typer.Option("--file", help="步骤文件 the step file (.xlsx or .csv)")],
    store: StoreOption = None,
    today: TodayOption = None,
    out: CasesOutOption = None,
    config: ConfigOption = None,
) -> None:
    """Record case steps (线索 … 县级审定) from a step file, then write the cases' deadlines (办理步骤)."""
    from risk.review.cases import import_step_file  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415

    loaded = load_run(run)
    review_store = _store(store, config)
    summary = import_step_file(file, run=loaded, store=review_store)
    typer.echo(summary.text())
    _write_cases(loaded, review_store, today=today, out=out)


@review_app.command("cases")
def cases_command(
    run: RunOption,
    store: StoreOption = None,
    today: TodayOption = None,
    out: CasesOutOption = None,
    config: ConfigOption = None,
) -> None:
    """Write cases.parquet: each case's days open, overdue days and notice length (案件期限)."""
    from risk.review.run import load_run  # noqa: PLC0415

    _write_cases(load_run(run), _store(store, config), today=today, out=out)


def _write_cases(
    run: ReviewRun, store: ReviewStore, *, today: str | None, out: Path | None
) -> None:
    from risk.review.cases import case_history, case_status, summary_lines, write_cases  # noqa: PLC0415

    day = _today(today)
    history, decisions = case_history(run, store)
    cases = case_status(history, today=day, decisions=decisions)
    written = write_cases(cases, out or run.path / "cases.parquet")
    typer.echo("\n".join(summary_lines(cases)))
    typer.echo(f"已写出 written: {written}")


def _today(text: str | None) -> str:
    """``YYYY-MM-DD`` of --today (any form a review date may take), else today's date."""
    import datetime as dt  # noqa: PLC0415

    from features.contract.errors import ConfigError  # noqa: PLC0415
    from risk.review.excel_io import parse_review_date  # noqa: PLC0415

    if text is None:
        return dt.date.today().isoformat()
    try:
        parsed = parse_review_date(text)[:10]
    except ValueError as error:
        raise ConfigError(f"--today {text!r}: {error}") from error
    if not parsed:
        raise ConfigError("--today is empty; give a date such as 2026-11-20")
    return str(parsed)


@review_app.command("notice")
def notice_command(
    run: RunOption,
    village: Annotated[str, typer.Option("--village", help="村名 the village")],
    out: Annotated[Path, typer.Option("--out", help="公示名单 the workbook to write (.xlsx)")],
    township: Annotated[
        str | None, typer.Option("--township", help="乡镇 when the village name is not unique")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="数据目录 (default: the run's data folder)")
    ] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Write a village's public notice list (公示名单): no ID, phone, bank or health details."""
    from features.contract.errors import DataContractError  # noqa: PLC0415
    from features.contract.io import load_directory  # noqa: PLC0415
    from risk.review.notice import notice_rows, write_notice  # noqa: PLC0415
    from risk.review.run import load_run  # noqa: PLC0415

    settings = load_config(config)
    loaded = load_run(run)
    folder = data or loaded.data_dir()
    if folder is None:
        raise DataContractError(
            f"{run}: the run's manifest names no data folder that exists; give --data DIR "
            "(the data directory the run was scored from)"
        )
    tables = load_directory(folder, pseudonym_key=settings.privacy.pseudonym_key()).tables
    review_store = _store(store, config)
    rows = notice_rows(
        loaded,
        tables=tables,
        decisions=review_store.current(loaded.run_id),
        steps=review_store.current_steps(loaded.run_id),
        village=village,
        township=township,
    )
    written = write_notice(
        rows, out, village=village, township=str(rows["乡镇"].iloc[0]), month=loaded.month
    )
    typer.echo(f"公示名单 {len(rows)} 户 households; 已写出 written: {written}")


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
