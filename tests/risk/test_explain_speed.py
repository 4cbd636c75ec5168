"""Fast exact TreeSHAP: same values as shap.TreeExplainer / LightGBM, additivity, fallbacks."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import shap

from risk.explain_speed import (
    ShapTables,
    fast_contributions,
    reuse_unchanged,
    row_digests,
    tables_for,
)
from training.model import ModelMismatchError


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    """Numbers with NaN, zeros, ties and a categorical with missing values."""
    rng = np.random.default_rng(7)
    n = 3000
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    X.loc[rng.random(n) < 0.1, "x0"] = np.nan
    X.loc[rng.random(n) < 0.3, "x1"] = 0.0
    X["x2"] = X["x2"].round(0)
    X["kind"] = pd.Categorical(rng.choice(list("abcdef"), n))
    X.loc[rng.random(n) < 0.05, "kind"] = np.nan
    logit = X["x0"].fillna(1) + (X["x1"] > 0) + X["kind"].cat.codes * 0.3 + X["x2"] * X["x3"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


SHAPES = [
    {"num_leaves": 15, "max_depth": 5},
    {"num_leaves": 8, "max_depth": 3},
    {"num_leaves": 7, "zero_as_missing": True},
    {"num_leaves": 6, "use_missing": False},
]


def _fit(frame: tuple[pd.DataFrame, np.ndarray], **shape: object) -> lgb.LGBMClassifier:
    X, y = frame
    params = {"n_estimators": 40, "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1.0}
    return lgb.LGBMClassifier(**params, **shape).fit(X, y)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_equals_shap_tree_explainer(frame, shape) -> None:
    X, _ = frame
    model = _fit(frame, **shape)
    rows = X.iloc[:500]
    expected = shap.TreeExplainer(model).shap_values(rows)
    got = ShapTables.from_booster(model.booster_).contributions(rows)
    np.testing.assert_allclose(got[:, :-1], np.asarray(expected), atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        got, model.booster_.predict(rows, pred_contrib=True), atol=1e-9, rtol=0
    )


def test_additivity(frame) -> None:
    X, _ = frame
    model = _fit(frame, num_leaves=15, max_depth=5)
    got = fast_contributions(model.booster_, X)
    raw = model.booster_.predict(X, raw_score=True)
    np.testing.assert_allclose(got.sum(axis=1), raw, atol=1e-9, rtol=0)


def test_array_input_and_threads_agree(frame) -> None:
    X, _ = frame
    numeric = X.drop(columns="kind")
    y = frame[1]
    model = lgb.LGBMClassifier(n_estimators=30, num_leaves=8, verbose=-1).fit(numeric.to_numpy(), y)
    tables = tables_for(model.booster_)
    one = tables.contributions(numeric.to_numpy(), threads=1)
    two = tables.contributions(numeric.to_numpy(), threads=2)
    np.testing.assert_array_equal(one, two)
    assert tables_for(model.booster_) is tables


def test_wrong_columns_are_named(frame) -> None:
    X, _ = frame
    tables = ShapTables.from_booster(_fit(frame, num_leaves=4).booster_)
    with pytest.raises(ModelMismatchError, match=r"missing \['x5'\]"):
        tables.contributions(X.drop(columns="x5"))


def test_multiclass_falls_back_to_lightgbm(frame) -> None:
    X, y = frame
    labels = y + (X["x3"].to_numpy() > 1)
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=4, verbose=-1).fit(X, labels)
    with pytest.raises(ModelMismatchError, match="multiclass"):
        ShapTables.from_booster(model.booster_)
    got = fast_contributions(model.booster_, X.iloc[:10])
    np.testing.assert_array_equal(got, model.booster_.predict(X.iloc[:10], pred_contrib=True))


def test_reuse_unchanged_rows() -> None:
    matrix = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]])
    digests = row_digests(matrix, model_key="v1")
    assert len(set(digests)) == 3
    assert row_digests(matrix, model_key="v2")[0] != digests[0]
    previous = pd.DataFrame([[0.1, 0.2, -1.0]], index=[digests[1]])
    changed = matrix.copy()
    changed[2, 0] = 4.5
    reused, values = reuse_unchanged(row_digests(changed, model_key="v1"), previous)
    assert reused.tolist() == [False, True, False]
    np.testing.assert_array_equal(values, [[0.1, 0.2, -1.0]])
    assert not reuse_unchanged(digests, None)[0].any()
