"""The month axis that lets one pass over sorted records serve many as-of months.

Every source module works on a `Grid`: households as rows, a run of calendar months as columns.
Records are dropped into cells (household or person × month) once; a feature for as-of month t is then
a reduction over the columns in a window ending at t. Column 0 is a bucket for everything dated before
the grid's first month, so that "ever" counts stay right without widening the grid; windows never
reach into it (the grid starts `LOOKBACK` months before the earliest as-of month).

Months are integer codes (`pd.Period(..., "M").ordinal`: months since 1970-01). Money windows are
summed column by column in calendar order, never as differences of cumulative sums, so that a value is
bit-for-bit the same whichever set of months the grid was built for (`build_panel` equals
`build_features` exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from features.errors import DataContractError
from features.tables import Tables

#: Months of history read before the earliest as-of month (a 12-month window a year earlier).
LOOKBACK = 24
#: int64 stand-in for a missing month code.
NO_MONTH = np.iinfo(np.int64).min


def month_codes(values: pd.Series) -> np.ndarray:
    """Month codes (Period ordinals) of a `period[M]` or datetime column; missing → `NO_MONTH`."""
    if isinstance(values.dtype, pd.PeriodDtype):
        return np.asarray(values.array.asi8, dtype=np.int64)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.to_numpy(dtype="datetime64[M]").astype(np.int64)
    raise DataContractError(
        f"column {values.name!r}: expected months (period[M]) or dates (datetime64), "
        f"got {values.dtype}; load the directory with features.io.load_directory"
    )


@dataclass(frozen=True)
class Grid:
    """Households × months, plus the members, for a set of as-of months.

    Parameters
    ----------
    households, members
        The snapshot tables; only stable fields are read from them.
    months
        As-of months as integer codes, in output order (no duplicates).
    """

    households: pd.DataFrame
    members: pd.DataFrame
    months: np.ndarray
    start: int = field(init=False)
    end: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", int(self.months.min()) - LOOKBACK)
        object.__setattr__(self, "end", int(self.months.max()))

    # --- axes -------------------------------------------------------------------------------
    @property
    def n_households(self) -> int:
        return len(self.households)

    @property
    def n_cols(self) -> int:
        """Column 0 (before the grid) plus one column per month from `start` to `end`."""
        return self.end - self.start + 2

    @property
    def query_cols(self) -> np.ndarray:
        """Column of each as-of month."""
        return self.months - self.start + 1

    @cached_property
    def col_months(self) -> np.ndarray:
        """Month code of each column (column 0 gets `start - 1`)."""
        return np.arange(self.start - 1, self.end + 1, dtype=np.int64)

    def columns_of(self, codes: np.ndarray) -> np.ndarray:
        """Column of each month code; before the grid → 0; after the last as-of month or missing → -1."""
        cols = np.clip(codes - self.start + 1, 0, None)
        return np.where((codes == NO_MONTH) | (codes > self.end), -1, cols)

    @cached_property
    def household_index(self) -> pd.Index:
        return pd.Index(self.households["household_id"].astype(str))

    def household_rows(self, ids: pd.Series) -> np.ndarray:
        """Row of each household id (-1 when unknown)."""
        return self.household_index.get_indexer(ids.astype(str))

    # --- members ----------------------------------------------------------------------------
    @cached_property
    def person_index(self) -> pd.Index:
        return pd.Index(self.members["person_id"].astype(str))

    def person_rows(self, ids: pd.Series) -> np.ndarray:
        """Member row of each person id (-1 when unknown)."""
        return self.person_index.get_indexer(ids.astype(str))

    @cached_property
    def member_household(self) -> np.ndarray:
        """Household row of each member (-1 when the household is unknown)."""
        return self.household_rows(self.members["household_id"])

    @cached_property
    def member_birth(self) -> np.ndarray:
        """Birth month code of each member (missing birth date → treated as born long ago)."""
        codes = month_codes(self.members["birth_date"])
        return np.where(codes == NO_MONTH, np.iinfo(np.int64).min // 2, codes)

    def member_age(self, codes: np.ndarray) -> np.ndarray:
        """Age in whole years (members × months) at each month code; negative = not born yet."""
        return np.floor_divide(codes[None, :] - self.member_birth[:, None], 12)

    @cached_property
    def member_age_at_query(self) -> np.ndarray:
        return self.member_age(self.months)

    @cached_property
    def member_present(self) -> np.ndarray:
        """Members × as-of months: born on or before the month and in a known household."""
        return (self.member_age_at_query >= 0) & (self.member_household >= 0)[:, None]

    @cached_property
    def household_size(self) -> np.ndarray:
        """Households × as-of months: members born on or before the month."""
        return self.to_households(self.member_present.astype(np.float64))

    def to_households(self, per_member: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Sum a (members × as-of months) array into households × as-of months."""
        rows = self.member_household if rows is None else rows
        keep = rows >= 0
        out = np.empty((self.n_households, per_member.shape[1]))
        for j in range(per_member.shape[1]):
            out[:, j] = np.bincount(rows[keep], per_member[keep, j], minlength=self.n_households)
        return out

    # --- dense cells and windows -------------------------------------------------------------
    def dense(
        self, rows: np.ndarray, codes: np.ndarray, n_rows: int, values: np.ndarray | None = None
    ) -> np.ndarray:
        """Sum of `values` (or a count) per (row, column); rows or columns of -1 are dropped."""
        cols = self.columns_of(codes)
        keep = (rows >= 0) & (cols >= 0)
        if values is not None:
            keep &= ~np.isnan(values)
        flat = rows[keep] * self.n_cols + cols[keep]
        weights = None if values is None else values[keep]
        counts = np.bincount(flat, weights, minlength=n_rows * self.n_cols)
        return counts.astype(np.float64).reshape(n_rows, self.n_cols)

    def dense_max(
        self, rows: np.ndarray, codes: np.ndarray, n_rows: int, values: np.ndarray
    ) -> np.ndarray:
        """Largest value per (row, column), 0 where there is none."""
        cols = self.columns_of(codes)
        keep = (rows >= 0) & (cols >= 0) & ~np.isnan(values)
        out = np.zeros(n_rows * self.n_cols)
        np.maximum.at(out, rows[keep] * self.n_cols + cols[keep], values[keep])
        return out.reshape(n_rows, self.n_cols)

    def window_sum(self, cells: np.ndarray, months: int, *, lag: int = 0) -> np.ndarray:
        """Rows × as-of months: sum over months m with t - lag - months < m <= t - lag."""
        last = self.query_cols - lag
        out = cells[:, last].copy()
        for back in range(1, months):
            out += cells[:, last - back]
        return out

    def window_max(self, cells: np.ndarray, months: int) -> np.ndarray:
        """Rows × as-of months: largest cell over the `months` months ending at each as-of month."""
        out = cells[:, self.query_cols].copy()
        for back in range(1, months):
            np.maximum(out, cells[:, self.query_cols - back], out=out)
        return out

    def ever(self, cells: np.ndarray) -> np.ndarray:
        """Rows × as-of months: cumulative count up to each as-of month (cells must hold counts)."""
        return np.cumsum(cells, axis=1)[:, self.query_cols]

    def last_month(self, rows: np.ndarray, codes: np.ndarray, n_rows: int) -> np.ndarray:
        """Rows × as-of months: month code of the latest record on or before t (NaN if none)."""
        keep = (rows >= 0) & (codes != NO_MONTH) & (codes <= self.end)
        latest = np.full(n_rows * self.n_cols, -np.inf)
        cols = self.columns_of(codes[keep])
        np.maximum.at(latest, rows[keep] * self.n_cols + cols, codes[keep].astype(np.float64))
        running = np.maximum.accumulate(latest.reshape(n_rows, self.n_cols), axis=1)
        out = running[:, self.query_cols]
        return np.where(np.isinf(out), np.nan, out)

    def rows_with_record(
        self, person_rows: np.ndarray, codes: np.ndarray, months: int
    ) -> np.ndarray:
        """Households × as-of months: members with at least one record in the window."""
        keep = person_rows >= 0
        uniq, local = np.unique(person_rows[keep], return_inverse=True)
        cells = self.dense(local, codes[keep], len(uniq))
        flagged = (self.window_sum(cells, months) > 0).astype(np.float64)
        return self.to_households(flagged, self.member_household[uniq])

    def household_line(self, lines: object) -> np.ndarray:
        """Households × as-of months: monitoring line for the county and the as-of year."""
        county = self.households["county"].astype(str).reset_index(drop=True)
        out = np.empty((self.n_households, len(self.months)))
        years = 1970 + np.floor_divide(self.months, 12)
        for j, year in enumerate(years):
            out[:, j] = lines.lookup(county, int(year))  # type: ignore[attr-defined]
        return out


def make_grid(tables: Tables, months: Sequence[pd.Period]) -> Grid:
    """A grid for the given as-of months (output order kept, duplicates rejected)."""
    if len(months) == 0:
        raise DataContractError("build_panel: expected at least one as-of month, got none")
    codes = np.array([pd.Period(m, "M").ordinal for m in months], dtype=np.int64)
    if len(np.unique(codes)) != len(codes):
        raise DataContractError(f"build_panel: as-of months repeat: {[str(m) for m in months]}")
    return Grid(
        households=tables.households.reset_index(drop=True),
        members=tables.members.reset_index(drop=True),
        months=codes,
    )


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = numerator / denominator
    return np.where((denominator == 0) | np.isnan(denominator), np.nan, out)


def county_coverage(
    grid: Grid, household_rows: np.ndarray, codes: np.ndarray, months: int
) -> np.ndarray:
    """Households × as-of months: months in the window in which the household's county has any record."""
    county = grid.households["county"].astype(str).to_numpy()
    names, county_of_household = np.unique(county, return_inverse=True)
    keep = household_rows >= 0
    cells = grid.dense(county_of_household[household_rows[keep]], codes[keep], len(names))
    covered = grid.window_sum((cells > 0).astype(np.float64), months)
    return covered[county_of_household]
