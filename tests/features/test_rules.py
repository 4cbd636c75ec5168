"""Department rules on small literal tables: thresholds, 脱贫户 vs others, 'new this month', windows,
the 2025–2026 rules (低保边缘, 刚性支出困难, the push rules) and figures by province, county and year."""

from __future__ import annotations

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.lines import MonitoringLines, PolicyPack, RegionPolicy
from features.contract.tables import Tables
from features.rules import (
    RULE_LABELS_ZH,
    RULE_NAMES,
    RuleParams,
    department_rules,
    triggered_rules,
)

AS_OF = pd.Period("2024-06", freq="M")
LINES = MonitoringLines(default={2024: 7300.0})
PARAMS = RuleParams(rural_income_by_year={2023: 20000.0})


def _pack(*, dibao: float = 4500.0, **county_2024: float) -> PolicyPack:
    """某省 2024: line 7,300, the given 低保 standard, rural income 20,000; 乙县 overrides 2024."""
    figures = {
        "monitoring_line": 7300.0,
        "dibao_standard": dibao,
        "rural_income_last_year": 20000.0,
    }
    return PolicyPack(
        provinces={"某省": RegionPolicy(by_year={2024: figures})},
        counties={"乙县": RegionPolicy(by_year={2024: county_2024})},
        default_province="某省",
    )


def _tables(
    *,
    claims: list[tuple[str, str, str, float]],
    income: list[tuple[str, str, float]],
    events: list[tuple[str, str, str]] | None = None,
    counties: tuple[str, str] = ("甲县", "甲县"),
) -> Tables:
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2"],
            "county": list(counties),
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
    event_frame = pd.DataFrame(events or [], columns=["household_id", "date", "event_type"]).assign(
        date=lambda f: pd.to_datetime(f["date"])
    )
    return Tables(
        households=households,
        members=members,
        export_month=AS_OF,
        medical=medical,
        income=income_frame,
        events=event_frame,
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
    assert triggered_rules(rules).loc["H1"] == [
        "oop_over_income_share",
        "large_inpatient_stay",
        "inpatient_oop_push",
    ]


def test_missing_feeds_trigger_nothing() -> None:
    tables = _tables(claims=[], income=[]).replace(medical=None, income=None, events=None)
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert not rules[list(RULE_NAMES)].any().any()
    assert (rules["rule_score"] == 0.0).all()


def test_invalid_parameters_name_the_section() -> None:
    with pytest.raises(ConfigError, match=r"\[rules\] stay thresholds"):
        RuleParams(stay_oop_other=0.0)


# --- 2025–2026 rules ------------------------------------------------------------------------


THREE_MONTHS = ("2024-04", "2024-05", "2024-06")


def test_dibao_edge_is_per_capita_income_below_one_and_a_half_standards() -> None:
    # H1: 3 × 1,000 a month → 12,000 a year for 2 people → 6,000 per person.
    tables = _tables(claims=[], income=[("H1", m, 1000.0) for m in THREE_MONTHS])
    above = RuleParams(policy=_pack(dibao=4500.0))  # 1.5 × 4,500 = 6,750 > 6,000
    rules = department_rules(tables, as_of=AS_OF, params=above, lines=LINES)
    assert rules.loc["H1", "dibao_edge"] and rules.loc["H1", "dibao_edge_new"]
    below = RuleParams(policy=_pack(dibao=3900.0))  # 5,850 < 6,000
    assert not department_rules(tables, as_of=AS_OF, params=below, lines=LINES).loc[
        "H1", "dibao_edge"
    ]
    twice = RuleParams(policy=_pack(dibao=3900.0), dibao_edge_multiple=2.0)  # 7,800
    assert department_rules(tables, as_of=AS_OF, params=twice, lines=LINES).loc["H1", "dibao_edge"]


@pytest.mark.parametrize(("spent", "fires"), [(6500.0, True), (5500.0, False)])
def test_rigid_spending_needs_low_income_and_medical_over_a_share_of_income(
    spent: float, fires: bool
) -> None:
    # H1 earns 12,000 a year (6,000 per person < 20,000); half of it is 6,000.
    tables = _tables(
        claims=[
            ("a", "2024-02-10", "门诊慢特病", spent - 1000.0),
            ("b", "2024-03-01", "普通门诊", 1000.0),
        ],
        income=[("H1", m, 1000.0) for m in THREE_MONTHS],
    )
    rules = department_rules(tables, as_of=AS_OF, params=RuleParams(policy=_pack()), lines=LINES)
    assert rules.loc["H1", "rigid_spending_hardship"] == fires
    assert rules.loc["H1", "rigid_spending_hardship_new"] == fires  # an income report of June
    assert not rules.loc["H2", "rigid_spending_hardship"]  # no income known: never


def test_rigid_spending_needs_income_below_last_years_rural_income() -> None:
    rich = [("H1", m, 5000.0) for m in THREE_MONTHS]  # 30,000 per person > 20,000
    tables = _tables(claims=[("a", "2024-02-10", "住院", 40000.0)], income=rich)
    rules = department_rules(tables, as_of=AS_OF, params=RuleParams(policy=_pack()), lines=LINES)
    assert not rules.loc["H1", "rigid_spending_hardship"]


def test_inpatient_push_is_at_least_5000_for_formerly_poor_and_20000_for_others() -> None:
    tables = _tables(
        claims=[("a", "2024-06-03", "住院", 5000.0), ("c", "2024-05-03", "住院", 19999.0)],
        income=[],
    )
    rules = department_rules(tables, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert rules.loc["H1", "inpatient_oop_push"] and rules.loc["H1", "inpatient_oop_push_new"]
    assert not rules.loc["H2", "inpatient_oop_push"]
    more = _tables(claims=[("c", "2024-05-03", "住院", 20000.0)], income=[])
    rules = department_rules(more, as_of=AS_OF, params=PARAMS, lines=LINES)
    assert rules.loc["H2", "inpatient_oop_push"] and not rules.loc["H2", "inpatient_oop_push_new"]


@pytest.mark.parametrize(
    ("claims", "fires"),
    [
        ([("a", "2024-06-03", "普通门诊", 300.0), ("a", "2024-06-20", "门诊慢特病", 200.0)], True),
        ([("a", "2024-05-03", "普通门诊", 300.0), ("a", "2024-06-20", "普通门诊", 300.0)], False),
        ([("a", "2024-06-03", "普通门诊", 300.0), ("b", "2024-06-20", "普通门诊", 300.0)], False),
        ([("a", "2024-06-03", "住院", 900.0)], False),
    ],
    ids=["one-person-one-month", "two-months", "two-people", "inpatient"],
)
def test_outpatient_push_is_one_persons_outpatient_cost_in_one_month(
    claims: list[tuple[str, str, str, float]], fires: bool
) -> None:
    rules = department_rules(
        _tables(claims=claims, income=[]), as_of=AS_OF, params=PARAMS, lines=LINES
    )
    assert rules.loc["H1", "outpatient_oop_push"] == fires
    assert rules.loc["H1", "outpatient_oop_push_new"] == fires


def test_disaster_and_death_on_record_within_the_year() -> None:
    events = [
        ("H1", "2024-06-15", "自然灾害"),
        ("H2", "2024-01-15", "家庭成员死亡"),
        ("H2", "2023-05-31", "自然灾害"),  # older than 12 months
        ("H1", "2024-07-01", "家庭成员死亡"),  # after as-of
        ("H9", "2024-06-01", "自然灾害"),  # unknown household
    ]
    rules = department_rules(
        _tables(claims=[], income=[], events=events), as_of=AS_OF, params=PARAMS, lines=LINES
    )
    assert rules.loc["H1", "disaster_on_record"] and rules.loc["H1", "disaster_on_record_new"]
    assert not rules.loc["H1", "death_on_record"]
    assert rules.loc["H2", "death_on_record"] and not rules.loc["H2", "death_on_record_new"]
    assert not rules.loc["H2", "disaster_on_record"]
    assert rules.loc["H2", "rule_score"] == 1.0  # one rule, no severity


def test_thresholds_and_standards_follow_the_county() -> None:
    # Same income in both counties: 6,000 per person. 乙县 sets a higher 低保 standard for 2024 and
    # a lower stay threshold for 一般农户.
    income = [(h, m, 1000.0 if h == "H1" else 500.0) for h in ("H1", "H2") for m in THREE_MONTHS]
    tables = _tables(
        claims=[("c", "2024-06-03", "住院", 8000.0)], income=income, counties=("甲县", "乙县")
    )
    params = RuleParams(policy=_pack(dibao=3900.0, dibao_standard=4200.0, stay_oop_other=7000.0))
    rules = department_rules(tables, as_of=AS_OF, params=params, lines=LINES)
    assert not rules.loc["H1", "dibao_edge"]  # 甲县: 1.5 × 3,900 = 5,850 < 6,000
    assert rules.loc["H2", "dibao_edge"]  # 乙县: 1.5 × 4,200 = 6,300 > 6,000
    assert rules.loc["H2", "large_inpatient_stay"]  # 8,000 > 乙县's 7,000 (default 10,000)


def test_a_year_missing_from_the_pack_is_an_error_naming_the_key() -> None:
    tables = _tables(claims=[], income=[])
    params = RuleParams(policy=_pack())
    with pytest.raises(
        ConfigError,
        match=r'^\[policy\.provinces\."某省"\.2025\] monitoring_line \(防止返贫监测线\) is missing',
    ):
        department_rules(
            tables,
            as_of=pd.Period("2025-01", "M"),
            params=params,
            lines=MonitoringLines(pack=params.policy),
        )


def test_every_rule_has_a_chinese_label() -> None:
    assert list(RULE_LABELS_ZH) == list(RULE_NAMES)
    assert all(label.strip() for label in RULE_LABELS_ZH.values())


def test_push_thresholds_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"^\[rules\] push thresholds"):
        RuleParams(outpatient_push_month=0.0)
    with pytest.raises(ConfigError, match=r"^\[rules\] dibao_edge_multiple"):
        RuleParams(dibao_edge_multiple=0.5)
