"""Work from employment spells (务工): who works now and where, spells ended, unemployment among able members.

A spell covers months start_month … end_month (both included); an empty end_month, or one after the
as-of month (not yet known then), means still working. A working-age member with no covering spell is
counted as not working only in months the county's employment feed covers (on or after its first spell).
"""

from __future__ import annotations

import numpy as np

from features.contract.tables import Tables
from features.panel import NO_MONTH, Grid, equals, month_codes, safe_divide
from features.sources import all_missing
from features.sources.demography import able_by_month, people_of

NAMES = (
    "members_working_now",
    "members_working_in_county",
    "members_working_in_province",
    "members_working_out_of_province",
    "monthly_wage_now",
    "employment_wage_12m",
    "spells_ended_3m",
    "spells_ended_6m",
    "months_since_spell_ended",
    "short_spell_share_12m",
    "months_unemployed_3m",
    "months_unemployed_6m",
    "employment_feed_months_6m",
)

_LOCATIONS = {
    "members_working_in_county": "县内",
    "members_working_in_province": "省内县外",
    "members_working_out_of_province": "省外",
}
#: A spell this short (months, start and end included) is flexible, odd-job work.
SHORT_SPELL_MONTHS = 3
#: Windows (months up to as-of) over which months without work are counted.
_UNEMPLOYED_WINDOWS = (3, 6)


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Employment features, as-of months × households (NaN without an employment table)."""
    if tables.employment is None:
        return all_missing(grid, NAMES)
    spells = tables.employment
    people = people_of(grid, tables, "employment")
    start = month_codes(spells["start_month"])
    end = month_codes(spells["end_month"])
    known = (people >= 0) & (start != NO_MONTH) & (start <= grid.end)
    people = np.where(known, people, -1)
    rows = np.where(people >= 0, grid.member_household[np.maximum(people, 0)], -1)
    location = {name: equals(spells["work_location"], where) for name, where in _LOCATIONS.items()}
    wage = spells["monthly_income"].fillna(0.0).to_numpy(dtype=float)
    out = _working_now(grid, people, rows, start, end, location, wage)
    n = grid.n_households
    cents = grid.window_sum(_wage_cells(grid, rows, start, end, np.round(wage * 100.0)), 12)
    out["employment_wage_12m"] = cents / 100.0
    ended = grid.dense(rows, end, n)
    out["spells_ended_3m"] = grid.window_count(ended, 3)
    out["spells_ended_6m"] = grid.window_count(ended, 6)
    out["months_since_spell_ended"] = grid.months_since(rows, end, n)
    short = (end - start + 1 <= SHORT_SPELL_MONTHS) & (end != NO_MONTH)
    short_ended = grid.dense(np.where(short, rows, -1), end, n)
    out["short_spell_share_12m"] = safe_divide(
        grid.window_count(short_ended, 12), grid.window_count(ended, 12)
    )
    feed = _feed_covered(grid, rows, start)
    unemployed = _unemployed_cells(grid, tables, people, start, end, feed)
    for months in _UNEMPLOYED_WINDOWS:
        out[f"months_unemployed_{months}m"] = grid.to_households(
            grid.window_count(unemployed, months)
        )
    out["employment_feed_months_6m"] = grid.window_count(feed.astype(np.float64), 6)
    return out


def _working_now(
    grid: Grid,
    people: np.ndarray,
    rows: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    location: dict[str, np.ndarray],
    wage: np.ndarray,
) -> dict[str, np.ndarray]:
    """Members working in each as-of month (in all and by location) and their monthly wages."""
    n_members, n_months = len(grid.members), len(grid.months)
    names = ["members_working_now", *_LOCATIONS, "monthly_wage_now"]
    out = {name: np.empty((n_months, grid.n_households)) for name in names}
    for j, month in enumerate(grid.months):
        covering = (people >= 0) & (start <= month) & ((end == NO_MONTH) | (end >= month))
        selections = {"members_working_now": covering}
        selections.update({name: covering & location[name] for name in _LOCATIONS})
        for name, mask in selections.items():
            working = np.bincount(people[mask], minlength=n_members) > 0
            out[name][j] = grid.to_households(working[None, :])[0]
        out["monthly_wage_now"][j] = np.bincount(
            rows[covering], wage[covering], minlength=grid.n_households
        )
    return out


def _wage_cells(
    grid: Grid, rows: np.ndarray, start: np.ndarray, end: np.ndarray, wage: np.ndarray
) -> np.ndarray:
    """Grid columns × households: wages of the spells covering each month (spell start to end).

    A spell adds its monthly wage from its start month and takes it away after its end month; a
    window ending at as-of month t only reads columns ≤ t, which an end month after t cannot touch.
    Wages come in whole cents, so the running sums are exact whichever months the grid spans.
    """
    n = grid.n_households
    keep = rows >= 0
    change = grid.dense(rows[keep], start[keep], n, wage[keep])
    stop = end[keep] + 1
    stopped = (end[keep] != NO_MONTH) & (stop <= grid.end)
    change -= grid.dense(rows[keep][stopped], stop[stopped], n, wage[keep][stopped])
    return np.cumsum(change, axis=0)


def _feed_covered(grid: Grid, rows: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Grid columns × households: the month is on or after the first spell start in the county."""
    names, county_of_household = grid.counties
    first = np.full(len(names), np.iinfo(np.int64).max)
    keep = rows >= 0
    np.minimum.at(first, county_of_household[rows[keep]], start[keep])
    return grid.col_months[:, None] >= first[county_of_household][None, :]


def _unemployed_cells(
    grid: Grid,
    tables: Tables,
    people: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    feed: np.ndarray,
) -> np.ndarray:
    """Grid columns × members: 1 where an able working-age member has no covering spell in a covered month.

    Only the columns the unemployment windows read are filled (the others stay 0): at 600,000+
    members a whole grid of spell counts cost more than every other employment feature together.
    """
    cols = np.unique(grid.query_cols[:, None] - np.arange(max(_UNEMPLOYED_WINDOWS))[None, :])
    n_members = len(grid.members)
    keep = people >= 0
    who, start_cols = _in_grid(grid, people[keep], start[keep])
    stop = end[keep] + 1
    stopped = (end[keep] != NO_MONTH) & (stop <= grid.end)
    stop_who, stop_cols = _in_grid(grid, people[keep][stopped], stop[stopped])
    # spells started minus spells stopped in or before each column: a spell covers the month
    started = np.stack([np.bincount(who[start_cols <= c], minlength=n_members) for c in cols])
    ended = np.stack([np.bincount(stop_who[stop_cols <= c], minlength=n_members) for c in cols])
    covered = (started - ended) > 0
    household = grid.member_household
    in_feed = feed[cols][:, np.maximum(household, 0)] & (household >= 0)[None, :]
    out = np.zeros((grid.n_cols, n_members))
    out[cols] = able_by_month(grid, tables)[cols] & ~covered & in_feed
    return out


def _in_grid(grid: Grid, rows: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and grid columns of the records that fall on the grid (as `Grid.dense` keeps them)."""
    cols = grid.columns_of(codes)
    keep = (rows >= 0) & (cols >= 0)
    return rows[keep], cols[keep]
