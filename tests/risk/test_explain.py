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
            "illness",
            "medical",
        ),
        _spec(
            "oop_medical_6m",
            "近6个月医疗自付",
            "元",
            "近6个月医疗自付{value:,.0f}元",
            "因病",
            "illness",
            "medical",
        ),
        _spec(
            "oop_medical_3m",
            "近3个月医疗自付",
            "元",
            "近3个月医疗自付{value:,.0f}元",
            "因病",
            "illness",
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
            "work",
            "employment",
        ),
        _spec(
            "income_per_capita_12m",
            "近12个月人均纯收入",
            "元",
            "近12个月人均纯收入{value:,.0f}元",
            "其他",
            "low_income",
            "income",
        ),
        _spec("county", "县", "", "", "", None, "households"),
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
    assert "county" not in set(reasons["feature"])  # no cause: never a reason
    assert set(reasons["measure"]) <= set(MEASURES.values())
    medical = reasons.loc[reasons["cause"] == "illness"]
    assert (medical["cause_zh"] == "因病").all()
    assert (medical["measure"] == "医疗救助/大病保险").all()


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


# --- causes, composites, evidence, models without trees ---------------------------------------------


def _real_catalogue():
    from risk.explain import default_catalogue

    return default_catalogue()


def _explain_values(values: dict, features: dict, **options):
    from risk.explain import Contributions

    index = pd.Index(
        [f"H{i}" for i in range(len(next(iter(values.values()))))], name="household_id"
    )
    contributions = Contributions(pd.DataFrame(values, index=index), -2.0)
    frame = pd.DataFrame(features, index=index)
    ranks = pd.Series(np.arange(1, len(index) + 1), index=index)
    return explain_households(contributions, frame, ranks, catalogue=_real_catalogue(), **options)


def test_without_a_material_shock_the_first_reason_has_the_largest_summed_contribution():
    table = _explain_values(
        {
            "oop_medical_12m": [0.9],
            "income_per_capita_12m": [0.5],
            "head_age": [0.3],
            "elderly_members": [0.3],
            "county": [2.0],  # no cause: never a reason, whatever its size
        },
        {
            "oop_medical_12m": [600.0],  # under a quarter of the household's 4,200 yuan a year
            "income_per_capita_12m": [4200.0],
            "head_age": [71.0],
            "elderly_members": [2.0],
            "county": pd.Categorical(["甲县"]),
        },
    )
    reasons = main_reasons(table)
    assert list(reasons["cause"]) == ["low_income", "illness"]  # 1.1 against 0.9
    first = reasons.iloc[0]
    assert first["feature"] == "income_per_capita_12m"
    assert first["cause_contribution"] == pytest.approx(1.1)
    assert first["measure"] == "低保/兜底保障" and first["cause_zh"] == "收入长期偏低"
    assert (table.loc[table["feature"] == "county", "cause"] == "").all()


def test_a_composite_splits_by_its_parts_and_names_the_part_that_moved():
    table = _explain_values(
        {"rigid_expense_12m": [1.0], "oop_medical_12m": [0.3]},
        {
            "rigid_expense_12m": [32000.0],
            "oop_medical_12m": [2000.0],
            "disaster_loss_12m": [30000.0],
            "death_loss_12m": [0.0],
            "business_loss_12m": [0.0],
            "other_event_loss_12m": [0.0],
        },
    )
    reasons = main_reasons(table).set_index("cause")
    # 30,000 of 32,000 is disaster: 0.9375 to disaster, 0.0625 + 0.3 to illness
    assert list(reasons.index) == ["disaster", "illness"]
    assert reasons.loc["disaster", "feature"] == "rigid_expense_12m"
    assert reasons.loc["disaster", "reason_zh"] == "近12个月自然灾害和房屋损毁损失30,000元"
    assert reasons.loc["disaster", "cause_contribution"] == pytest.approx(0.9375)
    assert reasons.loc["illness", "cause_contribution"] == pytest.approx(0.3625)


def test_risk_lowering_or_harmless_values_are_never_reasons():
    table = _explain_values(
        {
            "oop_medical_12m": [-0.8, 0.4],
            "wage_income_change_12m": [0.6, 0.6],
            "disabled_members": [0.5, 0.5],
        },
        {
            "oop_medical_12m": [50000.0, 0.0],  # no cost: harmless whatever the model says
            "wage_income_change_12m": [8000.0, -8000.0],  # a rise is not a job loss
            "disabled_members": [0.0, 1.0],
        },
    )
    reasons = main_reasons(table)
    assert (reasons["contribution"] > 0).all()
    assert list(reasons.loc[reasons["household_id"] == "H0", "cause"]) == []
    h1 = reasons.loc[reasons["household_id"] == "H1"]
    assert list(h1["cause"]) == ["work", "disability"]
    assert list(h1["reason_zh"]) == ["工资性收入同比减少8,000元", "家中有1名残疾人"]


def test_evidence_names_amount_month_file_and_row():
    households = pd.DataFrame({"household_id": ["H0"], "source_row": [2]})
    members = pd.DataFrame({"person_id": ["p1"], "household_id": ["H0"], "source_row": [2]})
    medical = pd.DataFrame(
        {
            "person_id": ["p1", "p1", "p1"],
            "settle_date": pd.to_datetime(["2026-05-03", "2026-08-10", "2024-01-05"]),
            "visit_type": ["住院", "普通门诊", "住院"],
            "out_of_pocket": [23400.0, 300.0, 9000.0],
            "source_row": [1234, 1240, 1300],
        }
    )
    events = pd.DataFrame(
        {
            "household_id": ["H0", "H0"],
            "date": pd.to_datetime(["2026-07-02", "2026-03-01"]),
            "event_type": ["家庭成员死亡", "自然灾害"],
            "loss_amount": [8000.0, 12000.0],
            "source_row": [5, 6],
        }
    )
    tables = Tables(
        households=households,
        members=members,
        export_month=pd.Period("2026-10", "M"),
        medical=medical,
        events=events,
        files={"medical": "医保结算.csv", "events": "突发事件.csv"},
    )
    table = _explain_values(
        {"oop_medical_12m": [1.0], "disasters_12m": [0.5]},
        {"oop_medical_12m": [23700.0], "disasters_12m": [1.0]},
        tables=tables,
        as_of=pd.Period("2026-10", "M"),
    )
    reasons = main_reasons(table).set_index("cause")
    assert (
        reasons.loc["illness", "evidence"]
        == "2026年5月住院自付2.3万元（医保结算.csv 第1234行，同期共2条记录）"
    )
    assert reasons.loc["illness", "source_records"] == "医保结算.csv 第1234、1240行"
    # the disaster reason cites the disaster, not the death in the same table
    assert (
        reasons.loc["disaster", "evidence"]
        == "2026年3月自然灾害，损失1.2万元（突发事件.csv 第6行）"
    )


class _LinearModel:
    """A model without trees: exact log-odds contributions from ``predict_contributions``."""

    booster_ = None

    def __init__(self, weights: dict[str, float], bias: float) -> None:
        self.feature_names_in_ = np.array(list(weights), dtype=object)
        self.weights = np.array(list(weights.values()))
        self.bias = bias

    def transform_features(self, X):
        return X

    def predict_contributions(self, X):
        values = X.to_numpy(dtype=float) * self.weights
        return np.column_stack([values, np.full(len(X), self.bias)])


def test_a_model_without_a_booster_is_explained_by_its_own_contributions():
    from risk.explain import model_contributions

    model = _LinearModel({"oop_medical_12m": 1e-4, "disabled_members": 0.5}, -3.0)
    rows = pd.DataFrame(
        {"disabled_members": [1.0, 0.0], "oop_medical_12m": [20000.0, 0.0], "extra": [1, 2]},
        index=pd.Index(["A", "B"], name="household_id"),
    )
    contributions = model_contributions(model, rows)
    assert contributions.method == "model"
    assert list(contributions.values.columns) == ["oop_medical_12m", "disabled_members"]
    np.testing.assert_allclose(contributions.values.loc["A"].to_numpy(), [2.0, 0.5])
    assert contributions.base_value == -3.0
    reasons = main_reasons(
        explain_households(
            contributions,
            rows,
            pd.Series([1, 2], index=rows.index),
            catalogue=_real_catalogue(),
        )
    )
    assert list(reasons["cause"]) == ["illness", "disability"]


def test_trees_use_the_tables_and_fall_back_where_they_do_not_apply(model_and_data, monkeypatch):
    from risk import explain_speed
    from risk.explain import model_contributions

    booster, frame = model_and_data
    model = SimpleNamespace(
        booster_=booster,
        feature_names_in_=np.array(FEATURES, dtype=object),
        transform_features=lambda rows: rows,
    )
    fast = model_contributions(model, frame.iloc[:20])
    assert fast.method == "treeshap_tables"
    monkeypatch.setattr(explain_speed, "MAX_PATH_FEATURES", 1)
    explain_speed._cache.clear()
    exact = model_contributions(model, frame.iloc[:20])
    explain_speed._cache.clear()
    assert exact.method == "treeshap"
    np.testing.assert_allclose(exact.values.to_numpy(), fast.values.to_numpy(), atol=1e-6)


def test_a_material_shock_comes_first_whatever_its_contribution():
    table = _explain_values(
        {"oop_medical_12m": [0.2], "income_per_capita_12m": [0.6], "head_age": [0.5]},
        {"oop_medical_12m": [23400.0], "income_per_capita_12m": [4200.0], "head_age": [71.0]},
    )
    reasons = main_reasons(table)
    # 23,400 yuan of medical cost for a household living on 4,200 a year: the shock is named first
    assert list(reasons["cause"]) == ["illness", "low_income"]
    assert reasons.iloc[0]["reason_zh"] == "近12个月医疗自付23,400元"


def test_a_shock_that_lowers_the_risk_is_never_a_reason_however_large():
    table = _explain_values(
        {"oop_medical_12m": [-0.4], "income_per_capita_12m": [0.6]},
        {"oop_medical_12m": [50000.0], "income_per_capita_12m": [4200.0]},
    )
    assert list(main_reasons(table)["cause"]) == ["low_income"]


def test_an_income_fall_the_records_explain_speaks_for_the_shock_behind_it():
    values = {"wage_income_change_12m": [0.8, 0.8], "member_deaths_12m": [0.1, 0.0]}
    features = {
        "wage_income_change_12m": [-20000.0, -20000.0],
        "member_deaths_12m": [1.0, 0.0],
        "income_per_capita_12m": [6000.0, 6000.0],
        "household_size": [3.0, 3.0],
        "income_to_line_ratio_12m": [0.8, 0.8],
    }
    reasons = main_reasons(_explain_values(values, features)).set_index("household_id")
    # the wages fell in the year a working-age member died: the death's, not a job loss
    assert reasons.loc["H0", "cause"] == "death"
    assert reasons.loc["H0", "cause_contribution"] == pytest.approx(0.9)
    # the sentence names the death first, then what it did to the wages
    assert reasons.loc["H0", "reason_zh"] == "近12个月有1名家庭成员去世，工资性收入同比减少20,000元"
    assert reasons.loc["H1", "cause"] == "work"
    assert reasons.loc["H1", "reason_zh"] == "工资性收入同比减少20,000元"


def test_a_business_fall_in_a_disaster_year_and_a_gap_with_severe_disability():
    values = {"business_income_change_12m": [0.7], "income_gap_before_12m": [0.5]}
    features = {
        "business_income_change_12m": [-9000.0],
        "disasters_12m": [1.0],
        "income_gap_before_12m": [3000.0],
        "severe_disabled_members": [1.0],
        "income_per_capita_12m": [5000.0],
        "household_size": [2.0],
        "income_to_line_ratio_12m": [0.7],
    }
    reasons = main_reasons(_explain_values(values, features))
    assert list(reasons["cause"]) == ["disaster", "disability"]


def test_a_wage_fall_is_a_job_loss_only_where_the_employment_feed_agrees():
    n = 4
    values = {"wage_income_change_12m": [0.8] * n, "income_per_capita_12m": [0.3] * n}
    features = {
        "wage_income_change_12m": [-9000.0] * n,
        "income_per_capita_12m": [6000.0] * n,
        # H0 an able member out of work after a spell ended 3 months ago; H1 nobody able is out of
        # work (the earner retired or left); H2 the last spell ended 14 months ago; H3 no feed
        "months_unemployed_6m": [4.0, 0.0, 6.0, np.nan],
        "months_since_spell_ended": [3.0, 3.0, 14.0, np.nan],
    }
    first = main_reasons(_explain_values(values, features)).drop_duplicates("household_id")
    assert list(first["cause"]) == ["work", "low_income", "low_income", "work"]
    assert first.iloc[1]["reason_zh"] == "工资性收入同比减少9,000元"  # the value, said as it is


def test_a_recorded_wage_that_stopped_is_a_job_loss_named_before_a_larger_standing_gap():
    values = {
        "monthly_wage_now": [0.9],
        "income_gap_before_12m": [1.2],
        "wage_income_change_12m": [0.0001],
    }
    features = {
        "monthly_wage_now": [0.0],
        "employment_wage_12m": [30000.0],  # 2,500 a month recorded this year, nothing now
        "spells_ended_6m": [1.0],
        "months_unemployed_6m": [3.0],
        "months_since_spell_ended": [2.0],
        "wage_income_change_12m": [4000.0],  # the income checks still show a rise
        "income_gap_before_12m": [16000.0],
        "income_per_capita_12m": [5000.0],
        "income_to_line_ratio_12m": [0.625],
        "household_size": [4.0],
    }
    reasons = main_reasons(_explain_values(values, features))
    assert list(reasons["cause"]) == ["work", "low_income"]
    assert reasons.iloc[0]["reason_zh"] == "近6个月有1段务工结束，当月没有务工收入"


def test_without_a_material_shock_the_standing_comes_first_disability_before_low_income():
    values = {
        "oop_medical_12m": [0.9, 0.9],
        "severe_disabled_members": [0.2, 0.0],
        "disabled_members": [0.0, 0.2],
        "income_per_capita_12m": [0.3, 0.3],
    }
    features = {
        "oop_medical_12m": [900.0, 900.0],  # a small bill against 6,000 a year: not material
        "severe_disabled_members": [1.0, 0.0],
        "disabled_members": [1.0, 1.0],  # H1: a grade 3–4 member is not the household's standing
        "income_per_capita_12m": [6000.0, 6000.0],
    }
    reasons = main_reasons(_explain_values(values, features)).set_index(["household_id"])
    assert list(reasons.loc["H0", "cause"]) == ["disability", "low_income", "illness"]
    assert list(reasons.loc["H1", "cause"]) == ["low_income", "illness", "disability"]


def test_a_transfer_fall_is_low_income_not_a_shock():
    table = _explain_values(
        {"transfer_income_change_12m": [0.7]},
        {"transfer_income_change_12m": [-5000.0], "member_deaths_12m": [0.0]},
    )
    assert list(main_reasons(table)["cause"]) == ["low_income"]


def test_a_standing_told_by_a_change_is_not_the_households_standing():
    # H0's low income is told by "转移性收入同比减少…": a payment stopped, not a level; the small
    # wage fall with the larger contribution comes first. H1's is a level (an elderly head): its
    # standing comes first.
    values = {
        "transfer_income_change_12m": [0.5, 0.0],
        "head_age": [0.0, 0.5],
        "wage_income_change_12m": [0.6, 0.6],
    }
    features = {
        "transfer_income_change_12m": [-1000.0, 0.0],
        "head_age": [40.0, 71.0],
        "income_per_capita_12m": [6000.0, 6000.0],
        "wage_income_change_12m": [-1000.0, -1000.0],  # under a quarter of 6,000: not material
        "member_deaths_12m": [0.0, 0.0],
    }
    reasons = main_reasons(_explain_values(values, features)).set_index(["household_id"])
    assert list(reasons.loc["H0", "cause"]) == ["work", "low_income"]
    assert list(reasons.loc["H1", "cause"]) == ["low_income", "work"]


def test_a_member_at_a_costly_school_stage_is_named_before_a_small_shock():
    values = {
        "oop_medical_12m": [0.9, 0.9],
        "college_age_members": [0.2, 0.0],
        "primary_school_age_children": [0.0, 0.2],
        "income_per_capita_12m": [0.3, 0.3],
    }
    features = {
        "oop_medical_12m": [900.0, 900.0],
        "college_age_members": [1.0, 0.0],
        "primary_school_age_children": [0.0, 1.0],  # the nine compulsory years are free
        "senior_secondary_age_members": [0.0, 0.0],
        "income_per_capita_12m": [6000.0, 6000.0],
    }
    reasons = main_reasons(_explain_values(values, features)).set_index(["household_id"])
    assert list(reasons.loc["H0", "cause"]) == ["low_income", "schooling", "illness"]
    assert list(reasons.loc["H1", "cause"]) == ["low_income", "illness", "schooling"]


def test_a_severe_disability_cites_the_most_severe_certificate():
    households = pd.DataFrame({"household_id": ["H0"], "source_row": [2]})
    members = pd.DataFrame(
        {"person_id": ["p1", "p2"], "household_id": ["H0", "H0"], "source_row": [2, 3]}
    )
    disability = pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "certified_date": pd.to_datetime(["2014-11-03", "2017-11-10"]),
            "disability_type": ["肢体", "视力"],
            "grade": [2, 3],
            "source_row": [41, 42],
        }
    )
    tables = Tables(
        households=households,
        members=members,
        export_month=pd.Period("2026-10", "M"),
        disability=disability,
        files={"disability": "残疾人证.csv"},
    )
    table = _explain_values(
        {"severe_disabled_members": [0.8]},
        {"severe_disabled_members": [1.0]},
        tables=tables,
        as_of=pd.Period("2026-10", "M"),
    )
    first = main_reasons(table).iloc[0]
    assert first["cause"] == "disability"
    assert first["evidence"].startswith("2014年11月办理残疾人证（肢体二级）（残疾人证.csv 第41行")


def test_a_wage_this_month_cites_the_spell_that_pays_it():
    households = pd.DataFrame({"household_id": ["H0"], "source_row": [2]})
    members = pd.DataFrame(
        {"person_id": ["p1", "p2"], "household_id": ["H0", "H0"], "source_row": [2, 3]}
    )
    employment = pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "start_month": pd.PeriodIndex(["2023-08", "2025-01"], freq="M"),
            "end_month": pd.PeriodIndex([None, "2026-03"], freq="M"),
            "work_location": ["省内县外", "县内"],
            "monthly_income": [400.0, 280.0],
            "source_row": [7, 8],
        }
    )
    tables = Tables(
        households=households,
        members=members,
        export_month=pd.Period("2026-10", "M"),
        employment=employment,
        files={"employment": "务工.csv"},
    )
    table = _explain_values(
        {"monthly_wage_now": [0.8]},
        {
            "monthly_wage_now": [400.0],
            "income_per_capita_12m": [3000.0],
            "income_to_line_ratio_12m": [0.4],
            "household_size": [2.0],
        },
        tables=tables,
        as_of=pd.Period("2026-10", "M"),
    )
    first = main_reasons(table).iloc[0]
    assert first["reason_zh"] == "当月务工月收入400元"
    # the spell covering 2026-10, not the one that ended in March
    assert first["evidence"].startswith(
        "2023年8月开始务工（省内县外，月收入400元）（务工.csv 第7行"
    )


def test_school_costs_the_records_show_come_before_low_income():
    values = {
        "college_age_members": [0.2, 0.2],
        "income_per_capita_12m": [0.3, 0.3],
        "education_assistance_12m": [0.1, 0.0],
    }
    features = {
        "college_age_members": [1.0, 1.0],
        "income_per_capita_12m": [6000.0, 6000.0],
        "education_assistance_12m": [2000.0, 0.0],  # H0 got 教育资助 this year
    }
    reasons = main_reasons(_explain_values(values, features)).set_index(["household_id"])
    assert list(reasons.loc["H0", "cause"]) == ["schooling", "low_income"]
    assert list(reasons.loc["H1", "cause"]) == ["low_income", "schooling"]


def test_a_low_income_new_this_year_is_not_the_households_standing():
    # Each lives on 6,000 a head against a line of 8,000 (two members) with a small medical bill.
    # H0 lived on 24,000 a year ago (1.5 times the line: not near it), H4 on far more: their low
    # income is new, so the illness the records show is named by its contribution before it. H1
    # (just under 1.5 times), H2 (last year unknown) and H3 (below the line last year too) live on
    # little: the standing comes first.
    n = 5
    values = {"oop_medical_12m": [0.5] * n, "income_per_capita_12m": [0.3] * n}
    features = {
        "oop_medical_12m": [900.0] * n,  # under a quarter of the year: not a material shock
        "income_per_capita_12m": [6000.0] * n,
        "income_to_line_ratio_12m": [0.75] * n,
        "household_size": [2.0] * n,
        "income_gap_before_12m": [-8000.0, -7999.0, np.nan, 5000.0, -1e9],
    }
    reasons = main_reasons(_explain_values(values, features)).set_index(["household_id"])
    assert list(reasons.loc["H0", "cause"]) == ["illness", "low_income"]
    assert list(reasons.loc["H4", "cause"]) == ["illness", "low_income"]
    for standing in ("H1", "H2", "H3"):
        assert list(reasons.loc[standing, "cause"]) == ["low_income", "illness"]
    # the sentences are the features' own: no new wording, no negative amounts
    assert reasons.loc["H0", "reason_zh"].tolist() == [
        "近12个月医疗自付900元",
        "近12个月人均纯收入6,000元",
    ]
