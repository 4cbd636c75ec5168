"""Household make-up from `members`: size, ages, working-age and able members, the head.

Only stable fields are read (birth date, sex, relation, education of adults). Whether a member is able
to work comes from dated evidence (disability certificates, serious-illness claims), never from the
snapshot 健康状况 / 劳动技能; school stage is inferred from age, not from the snapshot 在校生状况.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from features.panel import Grid, equals, month_codes
from features.sources import flag

NAMES = (
    "household_size",
    "working_age_members",
    "able_working_age_members",
    "elderly_members",
    "children_members",
    "dependency_ratio",
    "preschool_children",
    "primary_school_age_children",
    "junior_secondary_age_children",
    "senior_secondary_age_members",
    "college_age_members",
    "elderly_only_household",
    "single_elderly_household",
    "head_age",
    "head_is_female",
    "head_education_level",
)

EDUCATION_LEVEL = {"文盲或半文盲": 0, "小学": 1, "初中": 2, "高中": 3, "大专": 4, "本科及以上": 5}
#: A claim counts as serious illness when 大病保险 paid or an inpatient stay cost at least this much.
SERIOUS_INPATIENT_COST = 30_000.0
#: Disability grades that take a member out of the able workforce (1 = most severe).
SEVERE_GRADES = (1, 2)

_AGE_BANDS = {
    "preschool_children": (0, 5),
    "primary_school_age_children": (6, 11),
    "junior_secondary_age_children": (12, 14),
    "senior_secondary_age_members": (15, 17),
    "college_age_members": (18, 22),
}


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Household make-up, as-of months × households."""
    age = grid.member_age_at_query
    present = grid.member_present

    def count(mask: np.ndarray) -> np.ndarray:
        return grid.to_households(flag(mask & present))

    size = grid.household_size
    working = count((age >= 16) & (age <= 64))
    elderly = count(age >= 65)
    children = count(age < 16)
    able = count(able_by_month(grid, tables)[grid.query_cols])
    out = {
        "household_size": size,
        "working_age_members": working,
        "able_working_age_members": able,
        "elderly_members": elderly,
        "children_members": children,
        "dependency_ratio": (children + elderly) / np.maximum(working, 1.0),
    }
    for name, (low, high) in _AGE_BANDS.items():
        out[name] = count((age >= low) & (age <= high))
    out["elderly_only_household"] = flag((size > 0) & (elderly == size))
    out["single_elderly_household"] = flag((size == 1) & (elderly == 1))
    out.update(_head(grid))
    return out


def able_by_month(grid: Grid, tables: Tables) -> np.ndarray:
    """Grid columns × members: aged 16–64, no grade 1–2 certificate so far, no serious claim in 12 months.

    Without a disability or medical table that evidence is unknown and does not disqualify anyone.
    """
    return grid.memo("able_by_month", lambda: _able_by_month(grid, tables))


def people_of(grid: Grid, tables: Tables, table: str) -> np.ndarray:
    """Member row of each record of a person-level table (computed once per grid)."""
    frame = getattr(tables, table)
    return grid.memo(f"people:{table}", lambda: grid.person_rows(frame["person_id"]))


def _able_by_month(grid: Grid, tables: Tables) -> np.ndarray:
    # Whole-number comparisons on month codes, never a (columns × members) array of ages or counts:
    # aged 16–64 in month m ⟺ birth + 192 ≤ m ≤ birth + 779.
    months = grid.col_months[:, None]
    birth = grid.member_birth[None, :]
    able = (months >= birth + 16 * 12) & (months <= birth + 65 * 12 - 1)
    columns = np.arange(grid.n_cols)[:, None]
    if tables.disability is not None:
        certs = tables.disability
        severe = certs["grade"].isin(SEVERE_GRADES).to_numpy(dtype=bool, na_value=False)
        people, cols = _placed(
            grid, people_of(grid, tables, "disability")[severe], certs["certified_date"][severe]
        )
        first = np.full(len(grid.members), grid.n_cols)
        np.minimum.at(first, people, cols)
        able &= columns < first[None, :]  # no grade 1–2 certificate in or before the column
    if tables.medical is not None:
        claims = tables.medical
        serious = serious_claims(claims)
        people, cols = _placed(
            grid, people_of(grid, tables, "medical")[serious], claims["settle_date"][serious]
        )
        ill, local = np.unique(people, return_inverse=True)
        cells = np.bincount(cols * len(ill) + local, minlength=grid.n_cols * len(ill))
        running = np.cumsum(cells.reshape(grid.n_cols, len(ill)), axis=0)
        running[12:] -= running[:-12].copy()
        able[:, ill] &= running == 0  # no serious claim in the 12 months up to the column
    return able


def _placed(grid: Grid, people: np.ndarray, dates: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Member row and grid column of dated records, those outside the grid or members dropped."""
    cols = grid.columns_of(month_codes(dates))
    keep = (people >= 0) & (cols >= 0)
    return people[keep], cols[keep]


def serious_claims(claims: pd.DataFrame) -> np.ndarray:
    """Boolean mask of claims that mark serious illness (大病保险 paid, or a costly inpatient stay)."""
    critical = claims["critical_illness_paid"].fillna(0.0).to_numpy(dtype=float) > 0
    costly = equals(claims["visit_type"], "住院") & (
        claims["total_cost"].fillna(0.0).to_numpy(dtype=float) >= SERIOUS_INPATIENT_COST
    )
    return critical | costly


def _head(grid: Grid) -> dict[str, np.ndarray]:
    """Age, sex and education of the 户主 (NaN when the household has no head born by as-of)."""
    members = grid.members
    is_head = equals(members["relation"], "户主")
    rows = np.flatnonzero(is_head & (grid.member_household >= 0))
    shape = (len(grid.months), grid.n_households)
    out = {
        name: np.full(shape, np.nan)
        for name in ("head_age", "head_is_female", "head_education_level")
    }
    households = grid.member_household[rows]
    age = grid.member_age_at_query[:, rows].astype(np.float64)
    age = np.where(age >= 0, age, np.nan)
    female = equals(members["sex"], "女")[rows].astype(np.float64)
    education = (
        members["education"]
        .take(rows)
        .map(EDUCATION_LEVEL)
        .astype("Float64")
        .to_numpy(dtype=float, na_value=np.nan)
        if "education" in members.columns
        else np.full(len(rows), np.nan)
    )
    born = ~np.isnan(age)
    out["head_age"][:, households] = age
    out["head_is_female"][:, households] = np.where(born, female[None, :], np.nan)
    out["head_education_level"][:, households] = np.where(born, education[None, :], np.nan)
    return out
