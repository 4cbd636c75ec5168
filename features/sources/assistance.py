"""Assistance payments (帮扶救助): 低保/特困 from payments (not the snapshot status), hardship payouts."""

from __future__ import annotations

import numpy as np

from features.contract.tables import Tables
from features.panel import Cells, Grid, county_coverage, equals, month_codes
from features.sources import all_missing

NAMES = (
    "assistance_amount_3m",
    "assistance_amount_12m",
    "dibao_months_12m",
    "dibao_amount_12m",
    "tekun_amount_12m",
    "temporary_assistance_12m",
    "fangpinbao_payout_12m",
    "medical_assistance_12m",
    "education_assistance_12m",
    "months_since_assistance",
    "months_since_hardship_payment",
    "assistance_feed_months_12m",
)

_AMOUNT_BY_TYPE = {
    "dibao_amount_12m": "低保金",
    "tekun_amount_12m": "特困供养金",
    "temporary_assistance_12m": "临时救助",
    "fangpinbao_payout_12m": "防贫保理赔",
    "medical_assistance_12m": "医疗救助",
    "education_assistance_12m": "教育资助",
}
HARDSHIP_TYPES = ("临时救助", "防贫保理赔")


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Assistance features, as-of months × households (NaN without an assistance table)."""
    if tables.assistance is None:
        return all_missing(grid, NAMES)
    payments = tables.assistance
    rows = grid.household_rows(payments["household_id"])
    codes = month_codes(payments["month"])
    amount = payments["amount"].fillna(0.0).to_numpy(dtype=float)
    n = grid.n_households
    by_month = Cells(grid, rows, codes, n)
    cells = by_month.total(amount)
    out = {
        "assistance_amount_3m": grid.window_sum(cells, 3),
        "assistance_amount_12m": grid.window_sum(cells, 12),
    }
    out["dibao_months_12m"] = grid.window_count(
        (by_month.count(equals(payments["type"], "低保金")) > 0) * 1.0, 12
    )
    for name, wanted in _AMOUNT_BY_TYPE.items():
        out[name] = grid.window_sum(by_month.total(amount, equals(payments["type"], wanted)), 12)
    out["months_since_assistance"] = grid.months_since(rows, codes, n)
    hardship_rows = np.where(equals(payments["type"], HARDSHIP_TYPES), rows, -1)
    out["months_since_hardship_payment"] = grid.months_since(hardship_rows, codes, n)
    out["assistance_feed_months_12m"] = county_coverage(grid, rows, codes, 12)
    return {name: out[name] for name in NAMES}
