"""The candidate table, the choosing rule, stored configurations, and the logistic candidate end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import check_estimator

from risk.score import predict_households
from training.baselines import PLAIN_REFERENCE_FEATURES
from training.candidates import (
    CANDIDATES,
    DOMINATED_MARGIN,
    RECALL_TOLERANCE,
    Configuration,
    candidates_named,
    choose,
    configure,
    dominated,
)
from training.linear import LogisticRiskModel
from training.model import ModelMismatchError, RiskModel
from training.registry import load_model, save_local


def metrics(recall: float, auc: float) -> dict:
    return {"recall_at": {"0.05": recall}, "auc": auc}


def test_choose_recall_first_then_auc_then_table_order() -> None:
    assert choose({"a": metrics(0.40, 0.90), "b": metrics(0.45, 0.80)}, share=0.05) == "b"
    # within the tolerance the recalls tie and AUC decides
    tied = {"a": metrics(0.450, 0.80), "b": metrics(0.450 - RECALL_TOLERANCE / 2, 0.85)}
    assert choose(tied, share=0.05) == "b"
    # beyond it recall decides, whatever the AUC
    apart = {"a": metrics(0.450, 0.80), "b": metrics(0.450 - 2 * RECALL_TOLERANCE, 0.99)}
    assert choose(apart, share=0.05) == "a"
    assert choose({"x": metrics(0.3, 0.7), "y": metrics(0.3, 0.7)}, share=0.05) == "x"
    with pytest.raises(ValueError, match="no candidate metrics"):
        choose({}, share=0.05)


def test_only_candidates_far_behind_the_best_are_dominated() -> None:
    recall = {"a": 0.470, "b": 0.466, "c": 0.470 - DOMINATED_MARGIN - 0.001, "d": 0.35}
    # many positives: the fixed margin decides; ties and near-ties are kept
    assert dominated(recall, positives=100_000) == {
        "c": DOMINATED_MARGIN,
        "d": DOMINATED_MARGIN,
    }
    # few positives: two standard errors of the best recall widen the margin
    assert list(dominated(recall, positives=300)) == ["d"]
    assert dominated({"only": 0.4}, positives=10) == {}
    assert dominated({}, positives=10) == {}


def test_the_table_declares_the_five_shapes() -> None:
    assert [c.name for c in CANDIDATES] == [
        "risk_model",
        "plain_core",
        "shallow",
        "deep",
        "logistic",
    ]
    assert [c.name for c in candidates_named(["logistic", "risk_model"])] == [
        "risk_model",
        "logistic",
    ]
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['boosted'\]"):
        candidates_named(["boosted"])


def test_configuration_round_trips_and_builds(features_and_labels) -> None:
    X, _ = features_and_labels
    plain = configure(CANDIDATES[1], columns=list(X.columns), random_state=3, n_jobs=2)
    assert plain.params["features"] == tuple(c for c in PLAIN_REFERENCE_FEATURES if c in X)
    assert plain.params["monotone"] is None
    shaped = configure(CANDIDATES[0], columns=list(X.columns), random_state=3, n_jobs=2)
    assert shaped.params["monotone"]["oop_medical_12m"] == 1
    assert shaped.params["features"] is None
    again = Configuration.from_dict(plain.to_dict())
    assert again.key() == plain.key()
    assert again.build(n_jobs=1).get_params()["features"] == plain.params["features"]
    assert again.build(n_jobs=1).n_jobs == 1
    assert again.key() != shaped.key()
    with pytest.raises(ValueError, match="unknown estimator 'Pickle'"):
        Configuration("x", "Pickle", {}).build()


def test_trees_restricted_to_the_core_never_use_other_features(features_and_labels) -> None:
    X, y = features_and_labels
    core = ["income_per_capita_12m", "oop_medical_12m"]
    model = RiskModel(n_estimators=30, min_child_samples=20, features=core).fit(X, y)
    assert model.features_used_ == core
    assert list(model.feature_names_in_) == list(X.columns)  # scoring sees every column
    contributions = model.predict_contributions(X.head(200))
    others = [i for i, n in enumerate(X.columns) if n not in core]
    assert np.all(contributions[:, others] == 0.0)
    assert np.abs(contributions[:, [list(X.columns).index(c) for c in core]]).sum() > 0
    assert np.allclose(contributions.sum(axis=1), model.predict_raw(X.head(200)), atol=1e-6)


@pytest.fixture(scope="module")
def logistic(features_and_labels) -> tuple[LogisticRiskModel, pd.DataFrame, np.ndarray]:
    X, y = features_and_labels
    return LogisticRiskModel().fit(X, y), X, y


def test_logistic_has_the_risk_model_interface(logistic) -> None:
    model, X, y = logistic
    assert model.booster_ is None
    assert list(model.feature_names_in_) == list(X.columns)
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.7
    raw = model.predict_raw(X.head(100))
    contributions = model.predict_contributions(X.head(100))
    assert contributions.shape == (100, X.shape[1] + 1)
    assert np.allclose(contributions.sum(axis=1), raw, atol=1e-9)
    assert np.all(contributions[:, -1] == model.intercept_)  # the bias is last
    # exact and linear: changing one feature moves only its own contribution
    moved = X.head(100).copy()
    moved["oop_medical_12m"] = moved["oop_medical_12m"] + 1000
    delta = model.predict_contributions(moved) - contributions
    column = list(X.columns).index("oop_medical_12m")
    assert np.allclose(np.delete(delta, column, axis=1), 0.0)
    assert np.all(delta[:, column] >= 0)  # more out-of-pocket cost, higher risk in these data
    frame = model.transform_features(X.head(5)[list(reversed(X.columns))])
    assert list(frame.columns) == list(X.columns)
    assert model.calibrator_.method in {"isotonic", "platt"}
    with pytest.raises(ModelMismatchError, match=r"missing \['county'\]"):
        model.predict_proba(X.drop(columns=["county"]))


def test_logistic_passes_the_scikit_learn_checks() -> None:
    expected = {
        # calibration uses a held-out split of the rows: repeating a row (weight 2) changes which
        # rows are held out, so weights cannot equal repetition exactly (as for RiskModel)
        "check_sample_weight_equivalence_on_dense_data": "held-out split depends on the row count",
    }
    results = check_estimator(LogisticRiskModel(), on_fail=None, expected_failed_checks=expected)
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert failed == []


def test_a_logistic_winner_round_trips_and_scores(logistic, tmp_path: Path) -> None:
    model, X, _ = logistic
    configuration = configure(CANDIDATES[-1], columns=list(X.columns), random_state=0, n_jobs=1)
    folder = save_local(
        model, tmp_path / "model", signature_frame=X, configuration=configuration.to_dict()
    )
    loaded = load_model(folder)
    assert isinstance(loaded.model, LogisticRiskModel)
    assert loaded.configuration == configuration.to_dict()
    features = X.head(300).set_index(pd.Index([f"H{i}" for i in range(300)]))
    scored = predict_households(loaded.model, features)
    assert np.array_equal(scored["probability"], model.predict_proba(X.head(300))[:, 1])
    assert np.allclose(scored["raw_score"], model.predict_raw(X.head(300)))
