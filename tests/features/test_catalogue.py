"""The catalogue and the built columns agree, both ways and in order; every entry is usable."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from feature_tables import make_tables

from features.build import build_features
from features.catalogue import (
    CATALOGUE,
    CAUSE_NAMES,
    CAUSES,
    RISK_TYPES,
    by_name,
    cause_by_name,
    feature_names,
)
from features.contract.lines import MonitoringLines

REQUIRED = [
    "household_type",
    "county",
    "is_formerly_poor",
    "household_size",
    "elderly_members",
    "working_age_members",
    "income_per_capita_12m",
    "income_to_line_ratio_12m",
    "income_months_observed_12m",
    "oop_medical_3m",
    "oop_medical_12m",
    "oop_medical_per_capita_12m",
    "oop_to_income_12m",
    "max_inpatient_oop_12m",
    "inpatient_stays_12m",
    "disabled_members",
    "members_working_now",
    "spells_ended_6m",
    "months_unemployed_6m",
    "events_12m",
    "event_loss_12m",
    "assistance_amount_12m",
]


def test_built_columns_are_the_catalogue_in_order() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines())
    assert list(frame.columns) == ["household_id", "month", *feature_names()]


def test_names_unique_and_required_present() -> None:
    names = feature_names()
    assert len(names) == len(set(names))
    assert set(REQUIRED) <= set(names), sorted(set(REQUIRED) - set(names))


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_entry_is_complete(spec) -> None:  # noqa: ANN001
    assert re.fullmatch(r"[a-z][a-z0-9_]*", spec.name)
    assert spec.label_zh and spec.description and spec.source and spec.group
    assert spec.cause is None or spec.cause in CAUSE_NAMES
    assert spec.risky_when in ("any", "positive", "negative")
    names = set(feature_names())
    assert set(spec.parts) <= names and spec.name not in spec.parts
    assert all(by_name(part).cause for part in spec.parts)
    if spec.records is not None:
        assert spec.records.table in spec.source
    for event, cause in spec.explained_by:
        assert event in names and cause in CAUSE_NAMES
    for feature, operator, _ in spec.shock_needs:
        assert feature in names and operator in (">", "<=")
        assert spec.cause not in (None, "low_income")  # only a shock can be contradicted
    assert spec.risk_type is None or spec.risk_type in RISK_TYPES
    assert spec.kind in ("numeric", "categorical")
    assert spec.monotone in (-1, 0, 1)
    value = "甲县" if spec.kind == "categorical" else 1234.5
    sentence = spec.reason(value)
    assert sentence and "{" not in sentence
    assert re.search(r"[\u4e00-\u9fff]", sentence)


def test_dtypes_follow_the_catalogue() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines())
    for spec in CATALOGUE:
        expected = "category" if spec.kind == "categorical" else "float64"
        assert str(frame[spec.name].dtype) == expected, spec.name


def test_by_name() -> None:
    assert by_name("oop_medical_12m").reason(23400.0) == "近12个月医疗自付23,400元"
    assert by_name("oop_medical_12m").monotone == 1
    assert by_name("income_to_line_ratio_12m").monotone == -1
    with pytest.raises(KeyError, match="not in the feature catalogue"):
        by_name("no_such_feature")


NO_CAUSE_GROUPS = {"region", "household_type", "exit", "relocation", "calendar", "coverage"}


def test_causes_are_one_vocabulary_with_a_measure_each() -> None:
    assert CAUSE_NAMES == (
        "illness",
        "disability",
        "schooling",
        "work",
        "disaster",
        "business",
        "death",
        "low_income",
        "other",
    )
    assert all(c.label_zh and c.measure_zh for c in CAUSES)
    assert cause_by_name("illness").label_zh == "因病"
    with pytest.raises(KeyError, match="not a cause"):
        cause_by_name("medical_cost")


def test_features_that_name_no_cause_have_none() -> None:
    for spec in CATALOGUE:
        if (
            spec.group in NO_CAUSE_GROUPS
            or spec.source == "outcomes"
            or spec.name.endswith("_feed_months_12m")
        ):
            assert spec.cause is None, spec.name
    assert {s.cause for s in CATALOGUE if s.cause} == set(CAUSE_NAMES)


def test_every_part_splits_a_composite_into_known_causes() -> None:
    rigid = by_name("rigid_expense_12m")
    assert {by_name(p).cause for p in rigid.parts} >= {"illness", "disaster", "death", "business"}
    income = by_name("income_to_line_ratio_12m")
    assert {by_name(p).cause for p in income.parts} >= {"low_income", "work", "business"}


def test_the_shortfall_names_features_and_its_standing_part() -> None:
    from features.catalogue import (
        RECORDED_WAGE_FALL,
        SCHOOLING_COSTS,
        SEVERE_DISABILITY,
        SHORTFALL_PARTS,
        STANDING_PARTS,
    )

    names = set(feature_names())
    assert set(SHORTFALL_PARTS) | set(RECORDED_WAGE_FALL) | {SEVERE_DISABILITY} <= names
    assert set(STANDING_PARTS) < set(SHORTFALL_PARTS)
    assert by_name(SEVERE_DISABILITY).cause == "disability"
    assert {by_name(f).cause for f in SCHOOLING_COSTS} == {"schooling"}
