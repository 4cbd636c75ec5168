"""Partitions made of pieces, and loading a province's counties where their partition runs.

A partition is a tuple of `Piece` s: one county folder of a province each (read, validated and
pseudonymised by `load_part` on the worker that runs the partition), or the tables a caller already
loaded (a county directory, a notebook). Every partition step runs piece by piece (`over_pieces`), so a
county gives the same values whichever partition it is packed into, and the local engine, which runs
each county as its own partition, gives the Dask engine's results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract.errors import DataContractError, FanpinError
from features.contract.province import CountyFolder
from features.contract.tables import Tables
from risk.config import FanpinConfig, require_policy
from risk.manifest import input_hashes
from risk.run_context import VOLUME_MONTHS
from risk.stages.feeds import FeedTally, feed_tally

#: A county folder's own settings file; it is not read (the province's DIR/risk.toml applies).
COUNTY_CONFIG = "risk.toml"


@dataclass(frozen=True)
class Piece:
    """One county of a partition (or the tables given), and a stage's value for it.

    Attributes
    ----------
    name
        The county's folder name (the key of its outputs, ``OUT/<name>/``); None for tables given.
    path
        The folder it was read from (its files' digests); None for tables given.
    value
        The stage's value for this piece (its tables, then its features, ...).
    notes
        Warnings from loading it (shown in the manifest and report).
    """

    name: str | None
    path: Path | None
    value: Any
    notes: tuple[str, ...] = ()


Part = tuple[Piece, ...]


@dataclass(frozen=True)
class PieceFeeds:
    """What the feeds stage sends back for one piece: its tally, input digests and load warnings."""

    name: str | None
    tally: FeedTally
    inputs: Mapping[str, str]
    notes: tuple[str, ...]


def tables_part(tables: Tables) -> Part:
    """Tables already loaded, as a partition of one piece."""
    return (Piece(name=None, path=None, value=tables),)


def over_pieces(
    part: Part,
    *,
    do: Callable[..., Any],
    per_piece: Sequence[Mapping[str, Any]] | None = None,
    **common: Any,
) -> Part:
    """``do(piece.value, **common, **per_piece[i])`` for every piece of a partition."""
    extra = per_piece if per_piece is not None else [{}] * len(part)
    return tuple(
        replace(piece, value=do(piece.value, **common, **own))
        for piece, own in zip(part, extra, strict=True)
    )


def load_part(
    counties: Sequence[CountyFolder],
    *,
    pseudonym_key: bytes,
    month: pd.Period,
    config: FanpinConfig,
) -> Part:
    """Load, validate and pseudonymise some counties of a province (a partition step, on a worker).

    Raises
    ------
    DataContractError
        A county's data break the contract (every error with file, row and column, the county
        named), or the month is after its data's latest month.
    ConfigError
        The settings lack a policy figure the county needs for the month.
    """
    return tuple(
        load_county(county, pseudonym_key=pseudonym_key, month=month, config=config)
        for county in counties
    )


def load_county(
    county: CountyFolder, *, pseudonym_key: bytes, month: pd.Period, config: FanpinConfig
) -> Piece:
    """One county folder as a piece, its load warnings prefixed with its name."""
    from features.contract.io import load_directory  # noqa: PLC0415

    try:
        loaded = load_directory(county.path, pseudonym_key=pseudonym_key)
        check_month(loaded.tables, month, county=county.name)
        require_policy(config, loaded.tables, months=[month], doing="score")
    except FanpinError as error:
        raise type(error)(f"县 county {county.name}: {error}") from None
    notes = [f"{county.name}: {issue.message}" for issue in loaded.report.warnings]
    if (county.path / COUNTY_CONFIG).is_file():
        notes.append(
            f"{county.name}: {COUNTY_CONFIG} 未使用 not read — a province's settings are "
            f"DIR/{COUNTY_CONFIG} (or --config) for every county"
        )
    return Piece(name=county.name, path=county.path, value=loaded.tables, notes=tuple(notes))


def check_month(tables: Tables, month: pd.Period, *, county: str | None = None) -> None:
    """Refuse a month after the data's export month."""
    if month > tables.export_month:
        where = f" of county {county}" if county else ""
        raise DataContractError(
            f"--month {month} is after the data's latest month {tables.export_month}{where} "
            f"(评分月份晚于数据最新月份); score a month up to {tables.export_month} or add newer data"
        )


def part_feeds(part: Part, *, month: pd.Period, span: int = VOLUME_MONTHS) -> list[PieceFeeds]:
    """Each piece's feed tally, its files' SHA-256 (``<county>/<file>``) and load warnings."""
    found = []
    for piece in part:
        tables: Tables = piece.value
        inputs: dict[str, str] = {}
        if piece.path is not None:
            hashes = input_hashes(piece.path, tables.files)
            inputs = {f"{piece.name}/{name}": digest for name, digest in hashes.items()}
        tally = feed_tally(tables, month=month, span=span)
        found.append(PieceFeeds(piece.name, tally, inputs, piece.notes))
    return found
