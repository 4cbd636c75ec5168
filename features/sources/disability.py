"""Disability from certificates (残疾人证): disabled members, severity, recency of certification.

A certificate counts from its certified month on, the as-of month included. The snapshot 健康状况
(残疾) is not used.
"""

from __future__ import annotations

import numpy as np

from features.contract.tables import Tables
from features.panel import Grid, month_codes
from features.sources import all_missing
from features.sources.demography import people_of

NAMES = (
    "disabled_members",
    "severe_disabled_members",
    "max_disability_severity",
    "months_since_disability_certified",
    "disability_certified_12m",
)


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Disability features, as-of months × households (NaN without a disability table)."""
    if tables.disability is None:
        return all_missing(grid, NAMES)
    certs = tables.disability
    people = people_of(grid, tables, "disability")
    rows = np.where(people >= 0, grid.member_household[people], -1)
    codes = month_codes(certs["certified_date"])
    grade = certs["grade"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    n = grid.n_households
    first = _first_per_person(people, codes)
    severe_first = _first_per_person(np.where(grade <= 2, people, -1), codes)
    severity = np.where(np.isnan(grade), 0.0, 5.0 - grade)
    return {
        "disabled_members": grid.ever(grid.dense(np.where(first, rows, -1), codes, n)),
        "severe_disabled_members": grid.ever(
            grid.dense(np.where(severe_first, rows, -1), codes, n)
        ),
        "max_disability_severity": grid.ever_max(grid.dense_max(rows, codes, n, severity)),
        "months_since_disability_certified": grid.months_since(rows, codes, n),
        "disability_certified_12m": grid.window_count(grid.dense(rows, codes, n), 12),
    }


def _first_per_person(people: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mask of each person's earliest certificate (one per person; people of -1 never selected)."""
    order = np.lexsort((codes, people))
    first = np.zeros(len(people), dtype=bool)
    sorted_people = people[order]
    is_first = np.r_[True, sorted_people[1:] != sorted_people[:-1]] & (sorted_people >= 0)
    first[order[is_first]] = True
    return first
