"""History of monitoring from `outcomes`: earlier episodes, months since risk was eliminated.

An episode is known from its identified_month on; its elimination from its eliminated_month on (an
eliminated_month after the as-of month is future knowledge and is ignored).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from features.panel import NO_MONTH, Grid, month_codes
from features.sources import all_missing

#: Where an episode has no elimination month it is still open: it compares as far in the future.
_OPEN = pd.Period("2200-01", "M")

NAMES = ("previous_monitoring_episodes", "months_since_risk_eliminated", "monitored_now")


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Monitoring-history features, as-of months × households (NaN without an outcomes table)."""
    if tables.outcomes is None:
        return all_missing(grid, NAMES)
    outcomes = tables.outcomes
    rows = grid.household_rows(outcomes["household_id"])
    identified = month_codes(outcomes["identified_month"])
    eliminated = month_codes(outcomes["eliminated_month"])
    # An elimination is dated by its own month, never before the identification it closes.
    closed = np.where(eliminated == NO_MONTH, NO_MONTH, np.maximum(eliminated, identified))
    n = grid.n_households
    opened = grid.ever(grid.dense(rows, identified, n))
    ended = grid.ever(grid.dense(rows, closed, n))
    return {
        "previous_monitoring_episodes": ended,
        "months_since_risk_eliminated": grid.months_since(rows, closed, n),
        "monitored_now": (opened > ended).astype(np.float64),
    }


def monitored_at(outcomes: pd.DataFrame | None, *, month: pd.Period) -> pd.Index:
    """Households already monitored in `month`: an episode identified ≤ month and not eliminated ≤ month.

    The one definition of "already monitored", used by training (such household-months carry no
    label) and by scoring (such households are followed, not scored as new warnings).

    Parameters
    ----------
    outcomes
        Rows with ``household_id``, ``identified_month`` and optionally ``eliminated_month``
        (months as period[M] or dates; missing = never eliminated). None or empty: nobody.
    month
        The month asked about.

    Returns
    -------
    pd.Index
        Sorted household ids (str), named ``household_id``.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "household_id": ["H1", "H2", "H2"],
    ...     "identified_month": pd.PeriodIndex(["2024-01", "2024-01", "2025-03"], freq="M"),
    ...     "eliminated_month": pd.PeriodIndex(["2024-09", "2024-06", None], freq="M"),
    ... })
    >>> list(monitored_at(outcomes, month=pd.Period("2024-08", "M")))
    ['H1']
    >>> list(monitored_at(outcomes, month=pd.Period("2025-04", "M")))
    ['H2']
    """
    if outcomes is None or outcomes.empty:
        return pd.Index([], dtype=object, name="household_id")
    identified = _months(outcomes["identified_month"]) <= month
    if "eliminated_month" in outcomes.columns:
        eliminated = _months(outcomes["eliminated_month"]).fillna(_OPEN) <= month
    else:
        eliminated = pd.Series(False, index=outcomes.index)
    ids = outcomes.loc[identified & ~eliminated, "household_id"].astype(str).unique()
    return pd.Index(np.sort(ids), name="household_id")


def _months(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.PeriodDtype):
        return values
    return pd.to_datetime(values).dt.to_period("M")
