"""Medical features on literal claims: out-of-pocket windows, stays, ill members, feed coverage."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str = "2024-06", **overrides: object) -> pd.DataFrame:
    tables = make_tables(**overrides)  # type: ignore[arg-type]
    frame = build_features(tables, as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_out_of_pocket_windows() -> None:
    frame = _frame()
    # H1: 8,000 (2024-06 stay), 300 (2024-02 chronic), 10,000 (2023-08 stay); 2023-05 is out.
    assert frame["oop_medical_1m"].tolist() == [8000, 0, 0]
    assert frame["oop_medical_3m"].tolist() == [8000, 0, 2000]
    assert frame["oop_medical_12m"].tolist() == [18300, 0, 2000]
    assert frame.loc["H1", "oop_medical_per_capita_12m"] == pytest.approx(18300 / 4)
    assert frame.loc["H1", "oop_to_income_12m"] == pytest.approx(18300 / 15000)
    assert frame.loc["H1", "medical_total_cost_12m"] == 60800


def test_stays_and_members() -> None:
    frame = _frame()
    assert frame["max_inpatient_oop_12m"].tolist() == [10000, 0, 2000]
    assert frame["inpatient_stays_12m"].tolist() == [2, 0, 1]
    assert frame["inpatient_stays_3m"].tolist() == [1, 0, 1]
    assert frame["inpatient_members_12m"].tolist() == [2, 0, 1]
    assert frame["chronic_outpatient_members_12m"].tolist() == [1, 0, 0]
    assert frame["seriously_ill_members_12m"].tolist() == [1, 0, 0]


def test_same_member_twice_counts_once() -> None:
    tables = make_tables()
    again = tables.medical.iloc[[0]].assign(settle_date=pd.Timestamp("2024-04-01"))
    frame = _frame(medical=pd.concat([tables.medical, again]))
    assert frame.loc["H1", "inpatient_stays_12m"] == 3
    assert frame.loc["H1", "inpatient_members_12m"] == 2


def test_feed_coverage_by_county() -> None:
    frame = _frame()
    # 甲县 has claims in 2023-08, 2024-02 and 2024-06; 乙县 in 2024-05 only.
    assert frame["medical_feed_months_12m"].tolist() == [3, 3, 1]


def test_window_edge_is_exclusive() -> None:
    # At 2024-08 the 2023-08 stay is 12 months back: outside (as_of - 12, as_of].
    assert _frame("2024-07").loc["H1", "max_inpatient_oop_12m"] == 10000
    assert _frame("2024-08").loc["H1", "max_inpatient_oop_12m"] == 8000
