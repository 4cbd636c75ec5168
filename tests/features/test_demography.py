"""Household make-up on literal data: ages from birth months, able members from dated evidence."""

from __future__ import annotations

import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str = "2024-06", **overrides: object) -> pd.DataFrame:
    tables = make_tables(**overrides)  # type: ignore[arg-type]
    frame = build_features(tables, as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_sizes_and_ages() -> None:
    frame = _frame()
    assert frame["household_size"].tolist() == [4, 1, 1]
    assert frame["working_age_members"].tolist() == [3, 1, 0]
    assert frame["elderly_members"].tolist() == [0, 0, 1]
    assert frame["children_members"].tolist() == [1, 0, 0]
    assert frame["preschool_children"].tolist() == [1, 0, 0]
    assert frame.loc["H1", "dependency_ratio"] == 1 / 3
    assert frame.loc["H3", "dependency_ratio"] == 1.0
    assert frame["single_elderly_household"].tolist() == [0, 0, 1]
    assert frame["elderly_only_household"].tolist() == [0, 0, 1]


def test_member_born_after_as_of_is_not_a_member_yet() -> None:
    assert _frame("2024-04").loc["H1", "household_size"] == 3
    assert _frame("2024-05").loc["H1", "household_size"] == 4


def test_head() -> None:
    frame = _frame()
    assert frame["head_age"].tolist() == [54, 63, 70]
    assert frame["head_is_female"].tolist() == [0, 1, 1]
    assert frame["head_education_level"].tolist() == [2, 1, 0]


def test_able_members_from_claims_and_certificates() -> None:
    # 2024-06: P1 had a 大病 claim in 2023-08 (not able), P3 a grade-2 certificate this month.
    assert _frame().loc["H1", "able_working_age_members"] == 1
    # 2024-05: P3 is still able. The claim leaves the 12-month window (m > as_of - 12) in 2024-08.
    assert _frame("2024-05").loc["H1", "able_working_age_members"] == 2
    assert _frame("2024-07").loc["H1", "able_working_age_members"] == 1
    assert _frame("2024-08").loc["H1", "able_working_age_members"] == 2


def test_without_medical_or_disability_nobody_is_disqualified() -> None:
    frame = _frame(medical=None, disability=None)
    assert frame.loc["H1", "able_working_age_members"] == 3


def test_school_stages_from_birth_dates() -> None:
    tables = make_tables()
    members = tables.members.copy()
    members["birth_date"] = pd.to_datetime(
        ["1970-03-10", "2008-07-01", "2011-01-20", "2017-05-15", "2004-12-01", "1954-02-02"]
    ).astype("datetime64[us]")
    frame = build_features(
        tables.replace(members=members), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines()
    ).set_index("household_id")
    assert frame.loc["H1", "senior_secondary_age_members"] == 1  # 15
    assert frame.loc["H1", "junior_secondary_age_children"] == 1  # 13
    assert frame.loc["H1", "primary_school_age_children"] == 1  # 7
    assert frame.loc["H2", "college_age_members"] == 1  # 19
