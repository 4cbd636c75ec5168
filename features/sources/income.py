"""Income: trailing per-capita net income, its ratio to the line, sources, change, coverage, volatility.

The year-on-year change is also given source by source (wage, net business, property, transfer) and
with last year's gap to the line, so an explanation can say which part of the income moved.

A month with no income row is unknown, not zero: sums are annualised from the months observed, and the
number of months observed is a feature of its own.
"""

from __future__ import annotations

import numpy as np

from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.panel import Cells, Grid, month_codes, safe_divide
from features.sources import all_missing

NAMES = (
    "income_per_capita_12m",
    "income_to_line_ratio_12m",
    "income_months_observed_12m",
    "income_per_capita_3m",
    "income_to_line_ratio_3m",
    "income_months_observed_3m",
    "wage_share_12m",
    "business_share_12m",
    "property_share_12m",
    "transfer_share_12m",
    "income_change_ratio_12m",
    "income_volatility_12m",
    "net_income_last_month",
    "wage_income_last_month",
    "wage_income_change_12m",
    "business_income_change_12m",
    "property_income_change_12m",
    "transfer_income_change_12m",
    "income_gap_before_12m",
)

_PARTS = (
    "wage_income",
    "business_income",
    "business_expense",
    "property_income",
    "transfer_income",
)


def features(grid: Grid, tables: Tables, *, lines: MonitoringLines) -> dict[str, np.ndarray]:
    """Income features, as-of months × households (NaN without an income table)."""
    if tables.income is None:
        return all_missing(grid, NAMES)
    income = tables.income
    rows = grid.household_rows(income["household_id"])
    codes = month_codes(income["month"])
    n = grid.n_households
    parts = {p: income[p].fillna(0.0).to_numpy(dtype=float) for p in _PARTS}
    net = (
        parts["wage_income"]
        + parts["business_income"]
        - parts["business_expense"]
        + parts["property_income"]
        + parts["transfer_income"]
    )
    cells = Cells(grid, rows, codes, n)
    observed = cells.count()
    net_cells = cells.total(net)
    wage_cells = cells.total(parts["wage_income"])
    size = grid.household_size
    line = grid.household_line(lines)

    out: dict[str, np.ndarray] = {}
    for months in (12, 3):
        seen = grid.window_count(observed, months)
        total = grid.window_sum(net_cells, months)
        per_capita = safe_divide(safe_divide(total * 12.0, seen), size)
        out[f"income_per_capita_{months}m"] = per_capita
        out[f"income_to_line_ratio_{months}m"] = per_capita / line
        out[f"income_months_observed_{months}m"] = seen
    net_12m = grid.window_sum(net_cells, 12)
    positive = np.where(net_12m > 0, net_12m, np.nan)
    out["wage_share_12m"] = grid.window_sum(wage_cells, 12) / positive
    business = cells.total(parts["business_income"] - parts["business_expense"])
    out["business_share_12m"] = grid.window_sum(business, 12) / positive
    property_cells = cells.total(parts["property_income"])
    transfer_cells = cells.total(parts["transfer_income"])
    out["property_share_12m"] = grid.window_sum(property_cells, 12) / positive
    out["transfer_share_12m"] = grid.window_sum(transfer_cells, 12) / positive
    out["income_change_ratio_12m"] = _change_ratio(grid, observed, net_cells)
    out["income_volatility_12m"] = _volatility(grid, observed, net_cells, cells.total(net**2))
    seen_now = grid.window_sum(observed, 1) > 0
    out["net_income_last_month"] = np.where(seen_now, grid.window_sum(net_cells, 1), np.nan)
    out["wage_income_last_month"] = np.where(seen_now, grid.window_sum(wage_cells, 1), np.nan)
    by_source = {
        "wage_income_change_12m": wage_cells,
        "business_income_change_12m": business,
        "property_income_change_12m": property_cells,
        "transfer_income_change_12m": transfer_cells,
    }
    for name, source_cells in by_source.items():
        out[name] = _change(grid, observed, source_cells)
    before = _annualised(grid, observed, net_cells, lag=12)
    out["income_gap_before_12m"] = line * size - before
    return out


def _change(grid: Grid, observed: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Yearly amount of the last 12 months minus that of the 12 months before (NaN if either unseen)."""
    return _annualised(grid, observed, cells, lag=0) - _annualised(grid, observed, cells, lag=12)


def _annualised(grid: Grid, observed: np.ndarray, cells: np.ndarray, *, lag: int) -> np.ndarray:
    """Yearly amount of a 12-month window ending `lag` months before as-of (NaN if no month seen)."""
    seen = grid.window_count(observed, 12, lag=lag)
    return safe_divide(grid.window_sum(cells, 12, lag=lag) * 12.0, seen)


def _change_ratio(grid: Grid, observed: np.ndarray, net_cells: np.ndarray) -> np.ndarray:
    now = _annualised(grid, observed, net_cells, lag=0)
    before = _annualised(grid, observed, net_cells, lag=12)
    before = np.where(before > 0, before, np.nan)
    return now / before - 1.0


def _volatility(
    grid: Grid, observed: np.ndarray, net_cells: np.ndarray, squares: np.ndarray
) -> np.ndarray:
    """Coefficient of variation of monthly net income over the observed months of the last 12."""
    seen = grid.window_count(observed, 12)
    total = grid.window_sum(net_cells, 12)
    mean = safe_divide(total, seen)
    variance = safe_divide(grid.window_sum(squares, 12) - total * mean, seen - 1.0)
    variance = np.where(seen >= 2, np.maximum(variance, 0.0), np.nan)
    return safe_divide(np.sqrt(variance), np.abs(mean))
