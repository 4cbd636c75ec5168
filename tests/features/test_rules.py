"""Department rules on small literal tables: thresholds, 脱贫户 vs others, 'new this month', windows."""

from __future__ import annotations

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.rules import RuleParams, department_rules, triggered_rules

AS_OF = pd.Period("2024-06", freq="M")
LINES = MonitoringLines(default={2024: 7300.0})
PARAMS = RuleParams(rural_income_by_year={2023: 20000.0})


def _tables(
    *, claims: list[tuple[str, str, str, float]], income: list[tuple[str, str, float]]
) -> Tables:
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "county": ["甲县", "甲县"],
            "household_type": ["脱贫户", "一般农户"],
        }
    )
    members = pd.DataFrame(
        {
            "person_id": ["a", "b", "c"],
            "household_id": ["H1", "H1", "H2"],
            "birth_date": pd.to_datetime(["1970-01-01", "2000-01-01", "1980-05-05"]),
        }
    )
    medical = pd.DataFrame(
        claims, columns=["person_id", "settle_date", "visit_type", "out_of_pocket"]
    ).assign(settle_date=lambda f: pd.to_datetime(f["settle_date"]))
    income_frame = pd.DataFrame(income, columns=["household_id", "month", "wage_income"]).assign(
        month=lambda f: pd.PeriodIndex(f["month"], freq="M"),
        business_income=0.0,
        business_expense=0.0,
        property_income=0.0,
        transfer_income=0.0,
    )
    return Tables(
        households=households,
        members=members,
        export_month=AS_OF,
        medical=medical,
        income=income_frame,
    )


def test_large_stay_threshold_depends_on_household_type() -> None:
    tables = _tables(
        claims=[("a", "2024-06-03", "住院", 7000.0), ("c", "2024-06-03", "住院", 7000.0)], income=[]
    )
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert rules.loc["H1", "large_inpatient_stay"]  # 脱贫户: over 6,000
    assert not rules.loc["H2", "large_inpatient_stay"]  # others: 10,000
    assert rules.loc["H1", "large_inpatient_stay_new"]


def test_yearly_oop_rule_is_per_person_and_uses_prior_year_income() -> None:
    # 脱贫户 limit = 50% of 20,000 = 10,000 per person; two people with 6,000 each do not trigger it.
    tables = _tables(
        claims=[
            ("a", "2024-01-10", "门诊慢特病", 6000.0),
            ("b", "2024-02-10", "门诊慢特病", 6000.0),
        ],
        income=[],
    )
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert not rules.loc["H1", "oop_over_income_share"]
    more = _tables(
        claims=[("a", "2024-01-10", "门诊慢特病", 6000.0), ("a", "2024-06-10", "普通门诊", 4500.0)],
        income=[],
    )
    rules = department_rules(more, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert rules.loc["H1", "oop_over_income_share"]
    assert rules.loc["H1", "oop_over_income_share_new"]


def test_records_after_as_of_and_older_than_a_year_are_ignored() -> None:
    tables = _tables(
        claims=[("a", "2024-07-01", "住院", 50000.0), ("a", "2023-06-30", "住院", 50000.0)],
        income=[],
    )
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert not rules.loc["H1", ["large_inpatient_stay", "oop_over_income_share"]].any()
    assert rules.loc["H1", "rule_score"] == 0.0


def test_income_below_line_needs_enough_months_and_is_per_capita() -> None:
    # H1 has 2 members: 3 months of 1,000 → 12,000/yr/household → 6,000 per person < 7,300.
    rows = [("H1", m, 1000.0) for m in ("2024-04", "2024-05", "2024-06")]
    rules = department_rules(
        _tables(claims=[], income=rows), as_of=AS_OF, params=PARAMS, lines=LINES
    )
    assert rules.loc["H1", "income_below_line"] and rules.loc["H1", "income_below_line_new"]
    few = department_rules(
        _tables(claims=[], income=rows[:2]), as_of=AS_OF, params=PARAMS, lines=LINES
    )
    assert not few.loc["H1", "income_below_line"]
    assert not few.loc["H2", "income_below_line"]  # no income data is not "below the line"


def test_rule_score_ranks_more_and_more_severe_rules_higher() -> None:
    tables = _tables(
        claims=[("a", "2024-06-03", "住院", 12000.0), ("c", "2024-06-03", "住院", 11000.0)],
        income=[],
    )
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert rules.loc["H1", "rule_score"] > rules.loc["H2", "rule_score"] > 0
    assert triggered_rules(rules).loc["H1"] == ["oop_over_income_share", "large_inpatient_stay"]


def test_missing_medical_feed_triggers_nothing() -> None:
    tables = _tables(claims=[], income=[]).replace(medical=None, income=None)
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert (
        not rules[["large_inpatient_stay", "oop_over_income_share", "income_below_line"]]
        .any()
        .any()
    )


def test_invalid_parameters_name_the_section() -> None:
    with pytest.raises(ConfigError, match=r"\[rules\] stay thresholds"):
        RuleParams(stay_oop_other=0.0)
