"""Explanations: exact TreeSHAP, additivity, and reasons built from the household's own values."""

from __future__ import annotations

from types import SimpleNamespace

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from features.contract.tables import Tables
from risk.explain import (
    EXPLANATION_COLUMNS,
    MEASURES,
    explain_households,
    main_reasons,
    reason_sentence,
    shap_contributions,
)


def _spec(name, label, unit, template, risk_type, cause, source):
    return SimpleNamespace(
        name=name,
        label_zh=label,
        unit=unit,
        reason_zh=template,
        risk_type=risk_type,
        cause=cause,
        source=source,
    )


CATALOGUE = {
    s.name: s
    for s in [
        _spec(
            "oop_medical_12m",
            "近12个月医疗自付",
            "元",
            "近12个月医疗自付{value:,.0f}元",
            "因病",
            "medical_cost",
            "medical",
        ),
        _spec(
            "oop_medical_6m",
            "近6个月医疗自付",
            "元",
            "近6个月医疗自付{value:,.0f}元",
            "因病",
            "medical_cost",
            "medical",
        ),
        _spec(
            "oop_medical_3m",
            "近3个月医疗自付",
            "元",
            "近3个月医疗自付{value:,.0f}元",
            "因病",
            "medical_cost",
            "medical",
        ),
        _spec(
            "disabled_members",
            "残疾成员数",
            "人",
            "家中有{value:.0f}名持证残疾人",
            "因残",
            "disability",
            "disability",
        ),
        _spec(
            "months_unemployed_6m",
            "近6个月未务工月数",
            "月",
            "近6个月有{value:.0f}个月无人务工",
            "因务工就业不稳",
            "employment",
            "employment",
        ),
        _spec(
            "income_per_capita_12m",
            "近12个月人均纯收入",
            "元",
            "近12个月人均纯收入{value:,.0f}元",
            "其他",
            "income",
            "income",
        ),
        _spec("county", "县", "", "", "", "region", "households"),
    ]
}
FEATURES = list(CATALOGUE)


@pytest.fixture(scope="module")
def model_and_data():
    """A small LightGBM on random data where medical cost and unemployment raise the risk."""
    rng = np.random.default_rng(7)
    n = 3000
    frame = pd.DataFrame(
        {
            "oop_medical_12m": rng.gamma(1.0, 4000.0, n),
            "oop_medical_6m": rng.gamma(1.0, 2000.0, n),
            "oop_medical_3m": rng.gamma(1.0, 1000.0, n),
            "disabled_members": rng.integers(0, 3, n).astype(float),
            "months_unemployed_6m": rng.integers(0, 7, n).astype(float),
            "income_per_capita_12m": rng.normal(9000, 2500, n),
            "county": pd.Categorical(rng.choice(["甲县", "乙县"], n)),
        },
        index=pd.Index([f"H{i:05d}" for i in range(n)], name="household_id"),
    )
    frame.loc[frame.index[::17], "income_per_capita_12m"] = np.nan
    logit = (
        frame["oop_medical_12m"] / 4000
        + frame["oop_medical_6m"] / 3000
        + 0.8 * frame["disabled_members"]
        + 0.5 * frame["months_unemployed_6m"]
        - frame["income_per_capita_12m"].fillna(9000) / 3000
    )
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 1, "deterministic": True},
        lgb.Dataset(frame, label=label),
        num_boost_round=40,
    )
    return booster, frame


def test_contributions_agree_with_shap_tree_explainer_and_add_up(model_and_data):
    booster, frame = model_and_data
    rows = frame.iloc[:300]
    ours = shap_contributions(booster, rows)
    explainer = shap.TreeExplainer(booster)
    theirs = np.asarray(explainer.shap_values(rows))
    if theirs.ndim == 3:  # older shap: one array per class
        theirs = theirs[-1]
    np.testing.assert_allclose(ours.values.to_numpy(), theirs, atol=1e-6)
    expected = np.ravel(explainer.expected_value)[-1]
    assert ours.base_value == pytest.approx(expected, abs=1e-6)
    raw = booster.predict(rows, raw_score=True)
    np.testing.assert_allclose(ours.raw_score().to_numpy(), raw, atol=1e-9)


def _explain(booster, frame, **options):
    contributions = shap_contributions(booster, frame)
    ranks = pd.Series(np.arange(1, len(frame) + 1), index=frame.index)
    return explain_households(contributions, frame, ranks, catalogue=CATALOGUE, **options)


def test_explanations_have_interface_columns_and_order(model_and_data):
    booster, frame = model_and_data
    table = _explain(booster, frame.iloc[:50])
    assert list(table.columns) == list(EXPLANATION_COLUMNS)
    assert table["rank"].is_monotonic_increasing
    for _, one in table.groupby("household_id"):
        assert one["contribution"].is_monotonic_decreasing
        assert (one["contribution"] != 0).all()


def test_reasons_raise_risk_and_never_repeat_a_cause(model_and_data):
    booster, frame = model_and_data
    reasons = main_reasons(_explain(booster, frame.iloc[:200]))
    assert (reasons["contribution"] > 0).all()
    assert not reasons.duplicated(["household_id", "cause"]).any()
    assert reasons.groupby("household_id").size().max() <= 3
    assert "county" not in set(reasons["feature"])  # no catalogue sentence/risk type: not a reason
    assert set(reasons["measure"]) <= set(MEASURES.values())
    medical = reasons.loc[reasons["cause"] == "medical_cost"]
    assert (medical["risk_type"] == "因病").all()
    assert (medical["measure"] == "医疗救助/健康帮扶").all()


def test_reason_sentence_uses_the_households_own_value(model_and_data):
    booster, frame = model_and_data
    rows = frame.iloc[:200]
    reasons = main_reasons(_explain(booster, rows))
    pick = reasons.loc[reasons["feature"] == "oop_medical_12m"].iloc[0]
    household = pick["household_id"]
    value = rows.loc[household, "oop_medical_12m"]
    assert pick["reason_zh"] == f"近12个月医疗自付{value:,.0f}元"

    changed = rows.copy()
    changed.loc[household, "oop_medical_12m"] = 98765.0
    again = main_reasons(_explain(booster, changed))
    sentence = again.loc[
        (again["household_id"] == household) & (again["feature"] == "oop_medical_12m"),
        "reason_zh",
    ]
    assert list(sentence) == ["近12个月医疗自付98,765元"]


def test_reason_sentence_fallbacks():
    spec = CATALOGUE["oop_medical_12m"]
    assert reason_sentence(spec, value=np.nan, text="", feature="x") == "近12个月医疗自付：无记录"
    region = CATALOGUE["county"]
    assert reason_sentence(region, value=np.nan, text="甲县", feature="county") == "县：甲县"
    broken = _spec("f", "某指标", "元", "{value:%%%}", "其他", "f", "")
    assert reason_sentence(broken, value=3.0, text="3", feature="f") == "某指标：3元"


def test_reasons_new_since_previous_run(model_and_data):
    booster, frame = model_and_data
    rows = frame.iloc[:100]
    first = main_reasons(_explain(booster, rows))
    assert first["is_new"].all()
    previous = first[["household_id", "cause"]]
    again = _explain(booster, rows, previous_reasons=previous)
    assert not main_reasons(again)["is_new"].any()
    assert not again.loc[again["reason_order"].isna(), "is_new"].any()
    dropped = previous.iloc[1:]
    partly = main_reasons(_explain(booster, rows, previous_reasons=dropped))
    assert partly["is_new"].sum() == 1


def test_reasons_name_their_source_rows():
    """A medical reason names the claim rows of the household within the feature's window."""
    households = pd.DataFrame({"household_id": ["A", "B"], "source_row": [2, 3]})
    members = pd.DataFrame(
        {"person_id": ["p1", "p2", "p3"], "household_id": ["A", "A", "B"], "source_row": [2, 3, 4]}
    )
    medical = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p1", "p3", "p1"],
            "settle_date": pd.to_datetime(
                ["2026-09-03", "2026-02-10", "2025-01-05", "2026-10-01", "2026-11-02"]
            ),
            "out_of_pocket": [100.0, 200.0, 300.0, 400.0, 500.0],
            "source_row": [11, 12, 13, 14, 15],
        }
    )
    tables = Tables(
        households=households,
        members=members,
        export_month=pd.Period("2026-11", "M"),
        medical=medical,
        files={"medical": "medical.csv"},
    )
    features = pd.DataFrame(
        {"oop_medical_12m": [300.0, 400.0], "oop_medical_3m": [100.0, 400.0]},
        index=pd.Index(["A", "B"], name="household_id"),
    )
    from risk.explain import Contributions

    contributions = Contributions(
        pd.DataFrame(
            {"oop_medical_12m": [1.0, 0.2], "oop_medical_3m": [0.5, 0.9]}, index=features.index
        ),
        -2.0,
    )
    ranks = pd.Series([1, 2], index=features.index)
    table = explain_households(
        contributions,
        features,
        ranks,
        catalogue=CATALOGUE,
        tables=tables,
        as_of=pd.Period("2026-10", "M"),
    )
    reasons = main_reasons(table).set_index("household_id")
    # A: 12-month window Nov 2025..Oct 2026 → rows 11 and 12 (row 13 too old, row 15 after as_of)
    assert reasons.loc["A", "feature"] == "oop_medical_12m"
    assert reasons.loc["A", "source_records"] == "medical.csv 第11、12行"
    # B: the 3-month feature leads; the 12-month one shares its cause and is not a second reason
    assert reasons.loc["B", "feature"] == "oop_medical_3m"
    assert reasons.loc["B", "source_records"] == "medical.csv 第14行"


def test_every_catalogue_template_makes_a_sentence_with_the_value():
    """The real catalogue: each reason template takes a value and shows it (or the feature's label)."""
    from features.catalogue import CATALOGUE

    for spec in CATALOGUE:
        if spec.kind == "categorical":
            sentence = reason_sentence(spec, value=np.nan, text="甲县", feature=spec.name)
            assert "甲县" in sentence
            continue
        first = reason_sentence(spec, value=3.0, text="3", feature=spec.name)
        second = reason_sentence(spec, value=12345.0, text="12,345", feature=spec.name)
        assert first and second and "{" not in first, spec.name
        if "{value" in spec.reason_zh:
            assert first != second, f"{spec.name}: the sentence must change with the value"
