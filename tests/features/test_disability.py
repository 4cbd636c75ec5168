"""Disability features on literal certificates."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str = "2024-06", **overrides: object) -> pd.DataFrame:
    tables = make_tables(**overrides)  # type: ignore[arg-type]
    frame = build_features(tables, as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_certificate_in_the_scoring_month_counts() -> None:
    frame = _frame()
    assert frame["disabled_members"].tolist() == [1, 0, 1]
    assert frame["severe_disabled_members"].tolist() == [1, 0, 0]
    assert frame["max_disability_severity"].tolist() == [3, 0, 1]  # grade 2 → 3, grade 4 → 1
    assert frame.loc["H1", "months_since_disability_certified"] == 0
    assert frame.loc["H3", "months_since_disability_certified"] == 39
    assert np.isnan(frame.loc["H2", "months_since_disability_certified"])
    assert frame["disability_certified_12m"].tolist() == [1, 0, 0]


def test_certificate_after_as_of_does_not_count() -> None:
    frame = _frame("2024-05")
    assert frame.loc["H1", "disabled_members"] == 0
    assert frame.loc["H1", "max_disability_severity"] == 0


def test_two_certificates_of_one_person_count_once_most_severe_wins() -> None:
    tables = make_tables()
    upgraded = tables.disability.iloc[[1]].assign(
        grade=pd.array([1], dtype="Int64"), certified_date=pd.Timestamp("2024-01-05")
    )
    frame = _frame(disability=pd.concat([tables.disability, upgraded]))
    assert frame.loc["H3", "disabled_members"] == 1
    assert frame.loc["H3", "max_disability_severity"] == 4
    assert frame.loc["H3", "severe_disabled_members"] == 1
    assert frame.loc["H3", "months_since_disability_certified"] == 5
