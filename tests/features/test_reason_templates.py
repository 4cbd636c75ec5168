"""Every reason sentence of the catalogue reads correctly over awkward values.

Zero, negative, missing, tiny and extreme values must never give a negative multiple of the line,
"减少-…", "nan", "inf", a signed percentage against its direction word, or a flag sentence that
asserts the flag when it is 0; a sentence with a direction word follows the sign of the value.
"""

from __future__ import annotations

import math
import re

import pytest

from features.catalogue import CATALOGUE, FeatureSpec

VALUES = (
    0.0,
    -0.0,
    1e-9,
    -1e-9,
    0.004,
    -0.004,
    0.5,
    -0.5,
    1.0,
    -1.0,
    3.0,
    10.05,
    -10.05,
    95580.0,
    -95580.0,
    1e12,
    -1e12,
    math.nan,
    math.inf,
    -math.inf,
)
NUMERIC = [spec for spec in CATALOGUE if spec.kind == "numeric"]
UP = re.compile("增加|增长")
DOWN = re.compile("减少|下降")
NEGATIVE_NUMBER = re.compile(r"[-−]\s*\d")


def _plain(spec: FeatureSpec, sentence: str) -> bool:
    """The plain fallback "label：value unit" (a value the sentence cannot carry, shown as data)."""
    return sentence.startswith(f"{spec.label_zh}：")


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_sentence_reads_correctly(spec: FeatureSpec, value: float) -> None:
    sentence = spec.reason(value)
    assert sentence and "{" not in sentence and "}" not in sentence
    lowered = sentence.lower()
    assert "nan" not in lowered and "inf" not in lowered, sentence
    assert re.search(r"[\u4e00-\u9fff]", sentence)
    if not _plain(spec, sentence):
        assert not NEGATIVE_NUMBER.search(sentence), sentence
        assert "+" not in sentence, sentence
    assert not re.search(r"[-−]\s*[\d.,]+倍", sentence), sentence
    assert not re.search(r"(减少|下降|亏损|缺口|少)[-−+]", sentence), sentence


@pytest.mark.parametrize("spec", NUMERIC, ids=lambda s: s.name)
def test_direction_words_follow_the_sign(spec: FeatureSpec) -> None:
    for value in (-95580.0, -0.35, -3.0, 0.0, 1e-9, 3.0, 0.35, 95580.0):
        sentence = spec.reason(value)
        if spec.shows_as_zero(value):
            assert not UP.search(sentence) and not DOWN.search(sentence), sentence
        elif value < 0 and UP.search(spec.reason_zh):
            assert DOWN.search(sentence) and not UP.search(sentence), sentence
        elif value > 0:
            assert not DOWN.search(sentence) or DOWN.search(spec.reason_zh), sentence


@pytest.mark.parametrize(
    "spec", [s for s in NUMERIC if s.risky_when == "positive"], ids=lambda s: s.name
)
def test_zero_never_asserts_what_a_positive_value_means(spec: FeatureSpec) -> None:
    assert spec.reason(0.0) != spec.reason(1.0)
    assert spec.reason(1e-12) == spec.reason(0.0)
    assert not spec.points_to_cause(0.0) and spec.points_to_cause(1.0)


@pytest.mark.parametrize(
    "spec", [s for s in NUMERIC if s.risky_when == "negative"], ids=lambda s: s.name
)
def test_only_a_fall_points_to_the_cause(spec: FeatureSpec) -> None:
    assert spec.points_to_cause(-5000.0) and not spec.points_to_cause(5000.0)
    assert not spec.points_to_cause(0.0) and not spec.points_to_cause(math.nan)
    assert spec.reason_negative_zh, "a fall needs its own sentence"


def test_the_sentences_of_the_issue_read_correctly() -> None:
    from features.catalogue import by_name

    assert by_name("income_after_rigid_to_line_12m").reason(-10.05) == (
        "刚性支出超过家庭全年收入，扣除后人均缺口相当于监测线的10.05倍"
    )
    assert by_name("wage_income_change_12m").reason(-95580.0) == "工资性收入同比减少95,580元"
    assert by_name("wage_income_change_12m").reason(95580.0) == "工资性收入同比增加95,580元"
    assert by_name("wage_declared_to_recorded_12m").cause is None  # never a reason


# --- reasons as the list shows them (risk.explain): sentences that read wrong on real counties --------


def _reasons(values: dict, features: dict, **options):
    import numpy as np
    import pandas as pd

    from risk.explain import Contributions, default_catalogue, explain_households, main_reasons

    index = pd.Index(
        [f"H{i}" for i in range(len(next(iter(values.values()))))], name="household_id"
    )
    contributions = Contributions(pd.DataFrame(values, index=index), -2.0)
    frame = pd.DataFrame(features, index=index)
    ranks = pd.Series(np.arange(1, len(index) + 1), index=index)
    table = explain_households(
        contributions, frame, ranks, catalogue=default_catalogue(), **options
    )
    return main_reasons(table)


def test_a_level_that_is_not_low_is_never_the_low_income_reason() -> None:
    # "收入长期偏低：当月务工月收入4,490元": a wage of 4,490 a month for two people (53,880 a year
    # against 14,000 at the line) is not low; no wage at all is. An income at 1.75× the line is
    # not low either; where members work says nothing of their income.
    common = {
        "income_per_capita_12m": [7000.0, 7000.0],
        "income_to_line_ratio_12m": [1.0, 1.0],  # the line: 7,000 a person
        "household_size": [2.0, 2.0],
    }
    reasons = _reasons(
        {
            "monthly_wage_now": [0.9, 0.9],
            "income_checked_to_line_12m": [0.5, 0.5],
            "members_working_out_of_province": [0.4, 0.4],
        },
        {
            **common,
            "monthly_wage_now": [4490.0, 0.0],
            "income_checked_to_line_12m": [1.75, 1.75],
            "members_working_out_of_province": [1.0, 1.0],
        },
    )
    said = dict(zip(reasons["household_id"], reasons["reason_zh"], strict=False))
    assert "H0" not in said  # nothing low to say
    assert said["H1"] == "当月没有务工收入"
    assert list(reasons["feature"]) == ["monthly_wage_now"]


def test_a_reason_explained_by_a_shock_names_it_and_cites_its_records() -> None:
    # an illness reason said as "当月没有务工收入" with no medical evidence: it must name the
    # illness and cite the claim
    import pandas as pd

    from features.contract.tables import Tables

    households = pd.DataFrame({"household_id": ["H0"], "source_row": [2]})
    members = pd.DataFrame({"person_id": ["p1"], "household_id": ["H0"], "source_row": [2]})
    medical = pd.DataFrame(
        {
            "person_id": ["p1"],
            "settle_date": pd.to_datetime(["2026-06-03"]),
            "visit_type": ["住院"],
            "out_of_pocket": [18000.0],
            "is_serious_illness": [True],
            "source_row": [77],
        }
    )
    tables = Tables(
        households=households,
        members=members,
        export_month=pd.Period("2026-10", "M"),
        medical=medical,
        files={"medical": "医保结算.csv"},
    )
    reasons = _reasons(
        {"monthly_wage_now": [0.9]},
        {
            "monthly_wage_now": [0.0],
            "seriously_ill_members_12m": [1.0],
            "income_per_capita_12m": [5000.0],
            "income_to_line_ratio_12m": [0.7],
            "household_size": [3.0],
        },
        tables=tables,
        as_of=pd.Period("2026-10", "M"),
    )
    first = reasons.iloc[0]
    assert first["cause"] == "illness"
    assert first["reason_zh"].endswith("，当月没有务工收入")
    assert first["reason_zh"] != "当月没有务工收入"
    assert "医保结算.csv 第77行" in first["evidence"] and "住院自付1.8万元" in first["evidence"]


def test_a_death_in_the_household_comes_before_its_standing() -> None:
    # a death this month was ranked after "抚养比1.50": the loss of a member is a material shock
    reasons = _reasons(
        {"dependency_ratio": [1.2], "member_deaths_12m": [0.2]},
        {
            "dependency_ratio": [1.5],
            "member_deaths_12m": [1.0],
            "income_per_capita_12m": [6000.0],
            "income_to_line_ratio_12m": [0.9],
            "household_size": [3.0],
        },
    )
    assert list(reasons["cause"]) == ["death", "low_income"]
    assert list(reasons["reason_zh"]) == ["近12个月有1名家庭成员去世", "抚养比1.50"]
