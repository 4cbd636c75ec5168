"""Housing, relocation and years since leaving poverty: stable fields of `households`.

`dangerous_house` and `safe_water` are snapshot fields with no dated history; they feed no feature
(DATA_CONTRACT.md, "Time"). Housing damage is read from dated `events` instead (`events.py`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from features.panel import Grid, equals

NAMES = (
    "county",
    "household_type",
    "is_formerly_poor",
    "years_since_exit",
    "relocated",
    "cultivated_land_mu",
)

#: The contract's household types, in a fixed order so that every month gets the same categories.
HOUSEHOLD_TYPES = ("脱贫户", "一般农户")


def categorical(grid: Grid) -> dict[str, pd.Categorical]:
    """`county` and `household_type` as categories (fixed category lists, one row per household)."""
    households = grid.households
    counties = sorted(households["county"].astype(str).unique())
    return {
        "county": pd.Categorical(households["county"].astype(str), categories=counties),
        "household_type": pd.Categorical(
            households["household_type"].astype(str), categories=list(HOUSEHOLD_TYPES)
        ),
    }


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Numeric housing features, as-of months × households (categoricals: see `categorical`)."""
    households = grid.households
    n_months = len(grid.months)

    def per_month(column: np.ndarray) -> np.ndarray:
        return np.repeat(column.astype(np.float64)[None, :], n_months, axis=0)

    poor = equals(households["household_type"], "脱贫户")
    exit_year = _numbers(households, "exit_year")
    years = (1970 + np.floor_divide(grid.months, 12)).astype(np.float64)
    since_exit = years[:, None] - exit_year[None, :]
    since_exit = np.where(since_exit >= 0, since_exit, np.nan)
    return {
        "is_formerly_poor": per_month(poor),
        "years_since_exit": np.where(poor[None, :], since_exit, np.nan),
        "relocated": per_month(_numbers(households, "relocated")),
        "cultivated_land_mu": per_month(_numbers(households, "cultivated_land_mu")),
    }


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric or boolean column as float (missing → NaN); an absent column is all NaN."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if isinstance(values.dtype, pd.BooleanDtype) or values.dtype == bool:
        values = values.astype("Float64")
    return (
        pd.to_numeric(values, errors="coerce")
        .astype("Float64")
        .to_numpy(dtype=np.float64, na_value=np.nan)
    )
