"""The month axis that lets one pass over sorted records serve many as-of months.

Every source module works on a `Grid`: a run of calendar months ("columns", stored as the first, slow
axis so that a month is one contiguous row of memory) × households (or members).
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.errors import DataContractError
from features.contract.tables import Tables

T = TypeVar("T")

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
        f"got {values.dtype}; load the directory with features.contract.io.load_directory"
    )


def equals(values: pd.Series, wanted: str | tuple[str, ...]) -> np.ndarray:
    """Boolean mask of a text column equal to `wanted` (or one of several); missing → False."""
    hit = values.isin(wanted) if isinstance(wanted, tuple) else values.eq(wanted)
    return hit.to_numpy(dtype=bool, na_value=False)


def lookup(keys: pd.Series, index: pa.Array) -> np.ndarray:
    """Position of each key in `index` (-1 when absent or missing); a hash join in Arrow."""
    found = pc.index_in(_text(keys), value_set=index)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _text(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """Arrow large_string view of a text column (zero-copy for pandas' Arrow-backed `str`)."""
    if not (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"):
        values = values.astype("str")
    array = pa.array(values)
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


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
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", int(self.months.min()) - LOOKBACK)
        object.__setattr__(self, "end", int(self.months.max()))

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute once per grid what several sources need (e.g. able members by month)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]

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
    def counties(self) -> tuple[np.ndarray, np.ndarray]:
        """(county names, county position of each household)."""
        county = self.households["county"].astype(str).to_numpy()
        names, position = np.unique(county, return_inverse=True)
        return names, position

    @cached_property
    def household_ids(self) -> pa.Array:
        return _text(self.households["household_id"])

    def household_rows(self, ids: pd.Series) -> np.ndarray:
        """Row of each household id (-1 when unknown)."""
        return lookup(ids, self.household_ids)

    # --- members ----------------------------------------------------------------------------
    @cached_property
    def person_ids(self) -> pa.Array:
        return _text(self.members["person_id"])

    def person_rows(self, ids: pd.Series) -> np.ndarray:
        """Member row of each person id (-1 when unknown)."""
        return lookup(ids, self.person_ids)

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
        """Age in whole years (months × members) at each month code; negative = not born yet."""
        return np.floor_divide(codes[:, None] - self.member_birth[None, :], 12)

    @cached_property
    def member_age_at_query(self) -> np.ndarray:
        return self.member_age(self.months)

    @cached_property
    def member_present(self) -> np.ndarray:
        """As-of months × members: born on or before the month and in a known household."""
        return (self.member_age_at_query >= 0) & (self.member_household >= 0)[None, :]

    @cached_property
    def household_size(self) -> np.ndarray:
        """As-of months × households: members born on or before the month."""
        return self.to_households(self.member_present)

    def to_households(self, per_member: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Sum a (months × members) array into months × households (members of row -1 dropped)."""
        n_months = per_member.shape[0]
        if rows is None:
            keep, flat = self._member_cells(n_months)
        else:
            keep = rows >= 0
            flat = (np.arange(n_months)[:, None] * self.n_households + rows[keep][None, :]).ravel()
        weights = per_member[:, keep].astype(np.float64, copy=False)
        total = np.bincount(flat, weights.reshape(-1), minlength=n_months * self.n_households)
        return total.reshape(n_months, self.n_households)

    def _member_cells(self, n_months: int) -> tuple[np.ndarray, np.ndarray]:
        """Members in a known household, and their (month, household) cell: built once per shape."""
        cache = self.__dict__.setdefault("_member_cells_cache", {})
        if n_months not in cache:
            rows = self.member_household
            keep = rows >= 0
            flat = np.arange(n_months)[:, None] * self.n_households + rows[keep][None, :]
            cache[n_months] = (keep, flat.ravel())
        return cache[n_months]

    # --- dense cells (columns × rows) and windows ---------------------------------------------
    def dense(
        self, rows: np.ndarray, codes: np.ndarray, n_rows: int, values: np.ndarray | None = None
    ) -> np.ndarray:
        """Sum of `values` (or a count) per (column, row); rows or columns of -1 are dropped."""
        cols = self.columns_of(codes)
        keep = (rows >= 0) & (cols >= 0)
        if values is not None:
            keep &= ~np.isnan(values)
        flat = cols[keep] * n_rows + rows[keep]
        weights = None if values is None else values[keep]
        counts = np.bincount(flat, weights, minlength=n_rows * self.n_cols)
        return counts.astype(np.float64, copy=False).reshape(self.n_cols, n_rows)

    def dense_max(
        self, rows: np.ndarray, codes: np.ndarray, n_rows: int, values: np.ndarray
    ) -> np.ndarray:
        """Largest value per (column, row), 0 where there is none."""
        cols = self.columns_of(codes)
        keep = (rows >= 0) & (cols >= 0) & ~np.isnan(values)
        out = np.zeros(n_rows * self.n_cols)
        np.maximum.at(out, cols[keep] * n_rows + rows[keep], values[keep])
        return out.reshape(self.n_cols, n_rows)

    def window_sum(self, cells: np.ndarray, months: int, *, lag: int = 0) -> np.ndarray:
        """As-of months × rows: sum over months m with t - lag - months < m <= t - lag."""
        last = self.query_cols - lag
        out = cells[last]
        for back in range(1, months):
            out += cells[last - back]
        return out

    def window_count(self, cells: np.ndarray, months: int, *, lag: int = 0) -> np.ndarray:
        """`window_sum` for cells holding whole numbers: a difference of running totals.

        Exact (integers below 2**53 are exact in float64), so either way of adding gives the same
        value: running totals when many as-of months share the grid, the window's own columns when
        few do. Money must use `window_sum`, whose order of additions does not depend on the grid.
        """
        last = self.query_cols - lag
        if len(last) * months >= cells.shape[0]:
            # running totals over the columns the windows reach only, not the whole look-back
            low = max(0, int(last.min()) - months)
            running = np.cumsum(cells[low : int(last.max()) + 1], axis=0)
            return running[last - low] - running[last - months - low]
        # few as-of months (one, when scoring): add the window's columns instead of the whole grid
        dtype = np.cumsum(cells[:1], axis=0).dtype
        out = np.empty((len(last), *cells.shape[1:]), dtype=dtype)
        for j, t in enumerate(last):
            np.sum(cells[t - months + 1 : t + 1], axis=0, dtype=dtype, out=out[j])
        return out

    def window_max(self, cells: np.ndarray, months: int) -> np.ndarray:
        """As-of months × rows: largest cell over the `months` months ending at each as-of month."""
        out = cells[self.query_cols]
        for back in range(1, months):
            np.maximum(out, cells[self.query_cols - back], out=out)
        return out

    def ever(self, cells: np.ndarray) -> np.ndarray:
        """As-of months × rows: cumulative count up to each as-of month (cells must hold counts)."""
        return np.cumsum(cells, axis=0)[self.query_cols]

    def ever_max(self, cells: np.ndarray) -> np.ndarray:
        """As-of months × rows: largest cell up to each as-of month."""
        if len(self.query_cols) > 2:
            # the largest cell up to the first as-of month once, then running maxima from there
            first, last = int(self.query_cols.min()), int(self.query_cols.max())
            running = cells[first : last + 1].copy()
            np.maximum(running[0], cells[: first + 1].max(axis=0), out=running[0])
            np.maximum.accumulate(running, axis=0, out=running)
            return running[self.query_cols - first]
        return np.stack([cells[: t + 1].max(axis=0) for t in self.query_cols])

    def months_since(self, rows: np.ndarray, codes: np.ndarray, n_rows: int) -> np.ndarray:
        """As-of months × rows: months from the latest record on or before t to t (NaN if none)."""
        return self.months[:, None] - self.last_month(rows, codes, n_rows)

    def last_month(self, rows: np.ndarray, codes: np.ndarray, n_rows: int) -> np.ndarray:
        """As-of months × rows: month code of the latest record on or before t (NaN if none)."""
        keep = (rows >= 0) & (codes != NO_MONTH) & (codes <= self.end)
        latest = np.full(n_rows * self.n_cols, -np.inf)
        cols = self.columns_of(codes[keep])
        np.maximum.at(latest, cols * n_rows + rows[keep], codes[keep].astype(np.float64))
        out = self.ever_max(latest.reshape(self.n_cols, n_rows))
        return np.where(np.isinf(out), np.nan, out)

    def rows_with_record(
        self, person_rows: np.ndarray, codes: np.ndarray, months: int
    ) -> np.ndarray:
        """As-of months × households: members with at least one record in the window."""
        keep = person_rows >= 0
        uniq, local = np.unique(person_rows[keep], return_inverse=True)
        cells = self.dense(local, codes[keep], len(uniq))
        flagged = self.window_count(cells, months) > 0
        return self.to_households(flagged, self.member_household[uniq])

    def household_line(self, lines: object) -> np.ndarray:
        """As-of months × households: monitoring line for the county and the as-of year."""
        return self.memo(f"line:{id(lines)}", lambda: self._household_line(lines))

    def _household_line(self, lines: object) -> np.ndarray:
        county = self.households["county"].astype(str).reset_index(drop=True)
        out = np.empty((len(self.months), self.n_households))
        years = 1970 + np.floor_divide(self.months, 12)
        for j, year in enumerate(years):
            out[j] = lines.lookup(county, int(year))  # type: ignore[attr-defined]
        return out


class Cells:
    """Records dropped into (month column, row) cells once; counts, sums and maxima over any subset.

    Parameters
    ----------
    grid
        The grid whose columns the records' months map to.
    rows, codes
        Row (household or member; -1 = unknown) and month code of each record.
    n_rows
        Number of rows (households or members).
    """

    def __init__(self, grid: Grid, rows: np.ndarray, codes: np.ndarray, n_rows: int) -> None:
        cols = grid.columns_of(codes)
        self._keep = (rows >= 0) & (cols >= 0)
        self._flat = cols[self._keep] * n_rows + rows[self._keep]
        self._shape = (grid.n_cols, n_rows)

    def _select(self, values: np.ndarray | None, mask: np.ndarray | None) -> tuple[np.ndarray, ...]:
        flat = self._flat
        kept = None if values is None else values[self._keep]
        if mask is not None:
            chosen = mask[self._keep]
            flat = flat[chosen]
            kept = None if kept is None else kept[chosen]
        return (flat,) if kept is None else (flat, np.where(np.isnan(kept), 0.0, kept))

    def count(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Number of records (where `mask`) per cell."""
        (flat,) = self._select(None, mask)
        counts = np.bincount(flat, minlength=self._shape[0] * self._shape[1])
        return counts.astype(np.float64).reshape(self._shape)

    def total(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Sum of `values` (missing counts as nothing) of the records (where `mask`) per cell."""
        flat, kept = self._select(values, mask)
        return np.bincount(flat, kept, minlength=self._shape[0] * self._shape[1]).reshape(
            self._shape
        )

    def maximum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Largest value of the records (where `mask`) per cell, 0 where there is none."""
        flat, kept = self._select(values, mask)
        out = np.zeros(self._shape[0] * self._shape[1])
        np.maximum.at(out, flat, kept)
        return out.reshape(self._shape)


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
    """As-of months × households: months in the window in which the household's county has a record."""
    names, county_of_household = grid.counties
    keep = household_rows >= 0
    cells = grid.dense(county_of_household[household_rows[keep]], codes[keep], len(names))
    covered = grid.window_count((cells > 0).astype(np.float64), months)
    return covered[:, county_of_household]
