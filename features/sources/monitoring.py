"""History of monitoring from `outcomes`: earlier episodes, months since risk was eliminated.

An episode is known from its identified_month on; its elimination from its eliminated_month on (an
eliminated_month after the as-of month is future knowledge and is ignored).
"""

from __future__ import annotations

import numpy as np

from features.panel import NO_MONTH, Grid, month_codes
from features.sources import all_missing
from features.tables import Tables

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
