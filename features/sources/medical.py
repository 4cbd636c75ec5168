"""Illness and medical cost from settled claims (医保结算): out-of-pocket cost, stays, ill members.

Chronic and serious illness are read from claims, never from the snapshot 健康状况.
"""

from __future__ import annotations

import numpy as np

from features.contract.tables import Tables
from features.panel import Cells, Grid, county_coverage, equals, month_codes, safe_divide
from features.sources import all_missing
from features.sources.demography import people_of, serious_claims

NAMES = (
    "oop_medical_1m",
    "oop_medical_3m",
    "oop_medical_12m",
    "oop_medical_per_capita_3m",
    "oop_medical_per_capita_12m",
    "max_inpatient_oop_12m",
    "inpatient_stays_3m",
    "inpatient_stays_12m",
    "inpatient_members_12m",
    "chronic_outpatient_members_12m",
    "seriously_ill_members_12m",
    "months_since_serious_claim",
    "medical_total_cost_12m",
    "medical_feed_months_12m",
)


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Medical features, as-of months × households (NaN without a medical table)."""
    if tables.medical is None:
        return all_missing(grid, NAMES)
    claims = tables.medical
    people = people_of(grid, tables, "medical")
    rows = np.where(people >= 0, grid.member_household[people], -1)
    codes = month_codes(claims["settle_date"])
    n = grid.n_households
    oop = claims["out_of_pocket"].fillna(0.0).to_numpy(dtype=float)
    inpatient = equals(claims["visit_type"], "住院")
    chronic = equals(claims["visit_type"], "门诊慢特病")
    cells = Cells(grid, rows, codes, n)
    oop_cells = cells.total(oop)
    size = grid.household_size
    out: dict[str, np.ndarray] = {}
    for months in (1, 3, 12):
        out[f"oop_medical_{months}m"] = grid.window_sum(oop_cells, months)
    out["oop_medical_per_capita_3m"] = safe_divide(out["oop_medical_3m"], size)
    out["oop_medical_per_capita_12m"] = safe_divide(out["oop_medical_12m"], size)
    out["max_inpatient_oop_12m"] = grid.window_max(cells.maximum(oop, inpatient), 12)
    stays = cells.count(inpatient)
    out["inpatient_stays_3m"] = grid.window_count(stays, 3)
    out["inpatient_stays_12m"] = grid.window_count(stays, 12)
    out["inpatient_members_12m"] = grid.rows_with_record(np.where(inpatient, people, -1), codes, 12)
    out["chronic_outpatient_members_12m"] = grid.rows_with_record(
        np.where(chronic, people, -1), codes, 12
    )
    serious = serious_claims(claims)
    out["seriously_ill_members_12m"] = grid.rows_with_record(
        np.where(serious, people, -1), codes, 12
    )
    out["months_since_serious_claim"] = grid.months_since(np.where(serious, rows, -1), codes, n)
    total = claims["total_cost"].fillna(0.0).to_numpy(dtype=float)
    out["medical_total_cost_12m"] = grid.window_sum(cells.total(total), 12)
    out["medical_feed_months_12m"] = county_coverage(grid, rows, codes, 12)
    return out
