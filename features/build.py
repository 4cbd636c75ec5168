"""Feature tables: one row per household and as-of month, columns in catalogue order.

`build_features` builds one month; `build_panel` builds many months in one pass over the records
(each record is dropped into its month column once; every as-of month is a window over those columns),
with exactly the values `build_features` gives month by month.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.panel import Grid, make_grid, safe_divide
from features.sources import (
    assistance,
    demography,
    disability,
    employment,
    events,
    housing,
    income,
    medical,
    monitoring,
)


def build_features(tables: Tables, *, as_of: pd.Period, lines: MonitoringLines) -> pd.DataFrame:
    """Point-in-time features of every household for one month.

    Parameters
    ----------
    tables
        Loaded contract tables (`features.contract.io.load_directory(...).tables`).
    as_of
        The as-of month: only records dated in or before it are read.
    lines
        Monitoring lines by county and year.

    Returns
    -------
    DataFrame
        One row per household of `tables.households` (same order): `household_id`, `month`
        (period[M]), then every `features.catalogue.CATALOGUE` feature in catalogue order
        (categoricals as `category`, the rest float64). Missing tables give NaN, not zero.

    Examples
    --------
    >>> frame = build_features(tables, as_of=pd.Period("2025-06", "M"), lines=MonitoringLines())
    ... # doctest: +SKIP
    """
    return build_panel(tables, months=[as_of], lines=lines)


def build_panel(
    tables: Tables, *, months: Sequence[pd.Period], lines: MonitoringLines
) -> pd.DataFrame:
    """Features for many as-of months, stacked month by month (in the order given).

    Identical, value for value, to concatenating `build_features` for each month, but each record
    is read once: the cost grows with the number of records plus households × months, not with
    records × months.

    Parameters
    ----------
    tables
        Loaded contract tables.
    months
        As-of months (no repeats).
    lines
        Monitoring lines by county and year.

    Returns
    -------
    DataFrame
        `len(months) × len(households)` rows; columns as in `build_features`.
    """
    grid = make_grid(tables, months)
    values = _numeric_features(grid, tables, lines=lines)
    return _assemble(grid, values)


def _numeric_features(
    grid: Grid, tables: Tables, *, lines: MonitoringLines
) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    values.update(housing.features(grid, tables))
    values.update(demography.features(grid, tables))
    values.update(income.features(grid, tables, lines=lines))
    values.update(medical.features(grid, tables))
    values.update(disability.features(grid, tables))
    values.update(employment.features(grid, tables))
    values.update(assistance.features(grid, tables))
    values.update(events.features(grid, tables))
    values.update(monitoring.features(grid, tables))
    values.update(_derived(grid, values, lines=lines))
    return values


def _derived(
    grid: Grid, values: dict[str, np.ndarray], *, lines: MonitoringLines
) -> dict[str, np.ndarray]:
    """Features that combine sources: rigid spending against income and the line, the calendar."""
    household_income = values["income_per_capita_12m"] * values["household_size"]
    positive_income = np.where(household_income > 0, household_income, np.nan)
    rigid = values["oop_medical_12m"] + values["event_loss_12m"]
    need = grid.household_line(lines) * values["household_size"]
    month_of_year = (np.mod(grid.months, 12) + 1).astype(np.float64)
    declared_wage = values["wage_share_12m"] * household_income
    recorded_wage = np.where(
        values["employment_feed_months_6m"] > 0, values["employment_wage_12m"], np.nan
    )
    checked_wage = np.fmax(declared_wage, recorded_wage)
    positive_recorded = np.where(recorded_wage > 0, recorded_wage, np.nan)
    return {
        "income_checked_to_line_12m": safe_divide(
            household_income - np.nan_to_num(declared_wage) + checked_wage, need
        ),
        "wage_declared_to_recorded_12m": safe_divide(declared_wage, positive_recorded),
        "oop_to_income_12m": safe_divide(values["oop_medical_12m"], positive_income),
        "rigid_expense_12m": rigid,
        "rigid_expense_to_income_12m": safe_divide(rigid, positive_income),
        "income_after_rigid_to_line_12m": safe_divide(household_income - rigid, need),
        "month_of_year": np.repeat(month_of_year[:, None], grid.n_households, axis=1),
    }


def _assemble(grid: Grid, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Stack as-of months × households arrays into rows (month by month), in catalogue order.

    A months × households array read row after row *is* the column (months first, as the rows are),
    so each numeric column is a view of the array its source built: `copy=False` keeps pandas from
    consolidating them into one new block, which at 200,000 households × 12 months would write 2 GB
    only to hold the same numbers.
    """
    n_months = len(grid.months)
    categorical = housing.categorical(grid)
    ids = grid.households["household_id"].astype("str")
    columns: dict[str, Any] = {
        "household_id": ids.take(np.tile(np.arange(grid.n_households), n_months)).array,
        "month": pd.PeriodIndex.from_ordinals(np.repeat(grid.months, grid.n_households), freq="M"),
    }
    for spec in CATALOGUE:
        if spec.kind == "categorical":
            codes = np.tile(categorical[spec.name].codes, n_months)
            dtype = categorical[spec.name].dtype
            columns[spec.name] = pd.Categorical.from_codes(codes, dtype=dtype)
        else:
            columns[spec.name] = np.ascontiguousarray(values[spec.name], dtype=np.float64).reshape(
                -1
            )
    return pd.DataFrame(columns, copy=False)
