"""`--engine local|dask` and `--scheduler`, shared by `risk score` and `risk train`."""

from __future__ import annotations

from typing import Annotated

import typer

from features.contract.errors import ConfigError

EngineOption = Annotated[
    str, typer.Option("--engine", help="local | dask (LocalCluster, or --scheduler ADDRESS)")
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (with --engine dask), e.g. tcp://10.0.0.5:8786. The workers "
        "read a province's county folders (--data) and write into the output's temporary folder "
        "(--out): both must be at the same path on every worker (a shared file system)",
    ),
]


def wants_dask(engine: str, scheduler: str | None) -> bool:
    """True for ``--engine dask``, False for ``local``; a clear error for anything else."""
    if engine == "local":
        if scheduler:
            raise ConfigError("--scheduler only applies with --engine dask")
        return False
    if engine != "dask":
        raise ConfigError(f"--engine {engine!r}: expected local or dask")
    return True
