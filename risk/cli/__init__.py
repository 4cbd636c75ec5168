"""The `risk` console command: a thin typer layer over library functions.

Exit status (INTERFACE.md): 0 success; 2 bad input or usage (a readable message, no traceback);
1 an internal error. Each command group lives in its own module and registers itself here.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from features.contract.errors import FanpinError

app = typer.Typer(
    name="risk",
    help="fanpin 防贫监测预警: validate department data, train, score a month, review warnings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    from risk.cli import backtest, build, data, review, scoring, simulate, train  # noqa: PLC0415

    for module in (simulate, data, build, train, scoring, review, backtest):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; map errors to exit codes and keep tracebacks away from users."""
    logging.basicConfig(
        level=os.environ.get("FANPIN_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
    )
    _register_commands()
    try:
        app(args=argv, standalone_mode=False)
    except FanpinError as error:
        typer.echo(f"错误 error: {error}", err=True)
        return _exit(2)
    except (typer.Exit, SystemExit) as done:
        code = getattr(done, "exit_code", getattr(done, "code", 0))
        return _exit(int(code or 0))
    except typer.Abort:
        typer.echo("已中止 aborted", err=True)
        return _exit(1)
    except Exception as error:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        usage, click_error = _click_exception_types()
        if isinstance(error, usage):
            error.show()  # type: ignore[attr-defined]
            return _exit(2)
        if isinstance(error, click_error):
            error.show()  # type: ignore[attr-defined]
            return _exit(int(getattr(error, "exit_code", 1)))
        if os.environ.get("FANPIN_DEBUG"):
            raise
        typer.echo(
            f"内部错误 internal error: {type(error).__name__}: {error}\n"
            "Set FANPIN_DEBUG=1 to see the traceback, and please report it.",
            err=True,
        )
        return _exit(1)
    return _exit(0)


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Usage-error and click-error classes: typer ≥ 0.29 vendors click as ``typer._click``."""
    modules = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            continue
    usage = tuple(m.UsageError for m in modules)
    click_error = tuple(m.ClickException for m in modules)
    return usage, click_error


def _exit(code: int) -> int:
    if __name__ != "__main__":
        sys.exit(code)
    return code
