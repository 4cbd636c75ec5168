"""Income features on literal data: annualising over observed months, ratio to the line, change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines

LINES = MonitoringLines(default={2023: 7000.0, 2024: 7300.0}, by_county={"乙县": {2024: 8000.0}})


def _row(household: str, as_of: str = "2024-06") -> pd.Series:
    frame = build_features(make_tables(), as_of=pd.Period(as_of, "M"), lines=LINES)
    return frame.set_index("household_id").loc[household]


def test_missing_month_is_unknown_not_zero() -> None:
    h1 = _row("H1")  # 11 months of 1,250 net (2024-02 missing), 4 members in 2024-06
    assert h1["income_months_observed_12m"] == 11
    assert h1["income_per_capita_12m"] == pytest.approx(1250 * 12 / 4)
    assert h1["income_to_line_ratio_12m"] == pytest.approx(3750 / 7300)
    assert h1["income_months_observed_3m"] == 3
    assert h1["income_volatility_12m"] == pytest.approx(0.0)


def test_line_by_county_and_year() -> None:
    h3 = _row("H3")  # one month of 300, one member, 乙县 line 8,000 in 2024
    assert h3["income_per_capita_12m"] == pytest.approx(3600.0)
    assert h3["income_to_line_ratio_12m"] == pytest.approx(3600 / 8000)
    assert h3["transfer_share_12m"] == pytest.approx(1.0)


def test_shares_change_and_last_month() -> None:
    h1 = _row("H1")
    assert h1["wage_share_12m"] == pytest.approx(1000 / 1250)
    assert h1["business_share_12m"] == pytest.approx(150 / 1250)
    assert h1["property_share_12m"] == 0.0
    # a year earlier: only 2022-08 with 900 net → 10,800 a year; now 15,000 a year
    assert h1["income_change_ratio_12m"] == pytest.approx(15000 / 10800 - 1)
    assert h1["wage_income_change_12m"] == pytest.approx(12000 - 9600)
    assert h1["net_income_last_month"] == 1250
    assert h1["wage_income_last_month"] == 1000


def test_member_born_mid_window_changes_per_capita() -> None:
    # P4 is born in 2024-05: three members in 2024-04, four from 2024-05
    assert _row("H1", "2024-04")["income_per_capita_12m"] == pytest.approx(15000 / 3)
    assert _row("H1", "2024-05")["income_per_capita_12m"] == pytest.approx(15000 / 4)


def test_no_income_row_in_the_month_or_window() -> None:
    h1 = _row("H1", "2024-02")
    assert np.isnan(h1["net_income_last_month"])
    h2 = _row("H2")
    assert h2["income_months_observed_12m"] == 0
    assert np.isnan(h2["income_per_capita_12m"]) and np.isnan(h2["income_to_line_ratio_12m"])


def test_volatility() -> None:
    tables = make_tables()
    income = tables.income.copy()
    january = income["month"] == pd.Period("2024-01", "M")
    income.loc[january, "wage_income"] = 3500.0  # net 3,750 in one month, 1,250 in ten others
    frame = build_features(
        tables.replace(income=income), as_of=pd.Period("2024-06", "M"), lines=LINES
    )
    monthly = np.array([1250.0] * 10 + [3750.0])
    expected = monthly.std(ddof=1) / monthly.mean()
    assert frame.loc[0, "income_volatility_12m"] == pytest.approx(expected)


def test_change_by_source_and_last_years_gap_split_the_gap_to_the_line() -> None:
    h1 = _row(
        "H1"
    )  # now 12,000 wage + 1,800 business + 1,200 transfer; a year before 9,600 + 1,200
    assert h1["business_income_change_12m"] == pytest.approx(1800.0)
    assert h1["property_income_change_12m"] == pytest.approx(0.0)
    assert h1["transfer_income_change_12m"] == pytest.approx(0.0)
    assert h1["income_gap_before_12m"] == pytest.approx(7300 * 4 - 10800)
    changes = [
        "wage_income_change_12m",
        "business_income_change_12m",
        "property_income_change_12m",
        "transfer_income_change_12m",
    ]
    gap_now = 7300 * 4 - h1["income_per_capita_12m"] * 4
    assert gap_now == pytest.approx(h1["income_gap_before_12m"] - h1[changes].sum())
    h3 = _row("H3")  # no income a year before: unknown, not zero
    assert np.isnan(h3["income_gap_before_12m"]) and np.isnan(h3["business_income_change_12m"])
