"""`Tables`: the contract tables of one data directory, loaded and normalised (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import pandas as pd

#: Contract tables in load order; the first two are required.
TABLE_NAMES: tuple[str, ...] = (
    "households",
    "members",
    "income",
    "medical",
    "disability",
    "employment",
    "assistance",
    "events",
    "outcomes",
)
REQUIRED_TABLES: tuple[str, ...] = ("households", "members")


@dataclass(frozen=True)
class Tables:
    """Normalised contract tables. An optional table that is `None` means "the department sent nothing".

    Attributes
    ----------
    export_month
        The latest month present in the directory: the month the `households`/`members` snapshot
        describes (DATA_CONTRACT.md, "Time").
    files
        Table name → the file it was read from (for messages and for naming source records).
    """

    households: pd.DataFrame
    members: pd.DataFrame
    export_month: pd.Period
    income: pd.DataFrame | None = None
    medical: pd.DataFrame | None = None
    disability: pd.DataFrame | None = None
    employment: pd.DataFrame | None = None
    assistance: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    files: dict[str, str] = field(default_factory=dict)

    def present(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """(name, frame) for every table that was sent."""
        for name in TABLE_NAMES:
            frame = getattr(self, name)
            if frame is not None:
                yield name, frame

    def replace(self, **changes: object) -> Tables:
        """A copy with some tables replaced (tables are treated as immutable)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Tables(**values)  # type: ignore[arg-type]
