"""End to end on a tiny synthetic county: training, evaluation files, registry, promotion gate, reload."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from training_county import synthetic_tables

from features.contract.lines import MonitoringLines
from features.rules import RuleParams
from training.candidates import CANDIDATES, choose, fit_configuration
from training.evaluate import render_html, score_metrics
from training.registry import Registry, load_model
from training.train import (
    TrainOptions,
    recency_weights,
    train_and_register,
    train_from_tables,
    write_json,
)

FAST = {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 20}
#: one candidate (today's shape) where a test is not about choosing: quick, and the choice is fixed
ONE = ("risk_model",)
#: a model that cannot split: constant scores, so it ranks no better than chance
USELESS = {"n_estimators": 2, "num_leaves": 2, "min_child_samples": 100_000}
INTERFACE_KEYS = {
    "auc",
    "pr_auc",
    "brier",
    "ece",
    "precision_at",
    "recall_at",
    "n_train",
    "n_valid",
    "positive_rate",
    "baselines",
    "groups",
    "model_version",
}


@pytest.fixture(scope="module")
def county():
    return synthetic_tables(500, n_months=30, seed=1)


def train(county, params, **options):
    tables, truth = county
    options.setdefault("candidates", ONE)
    settings = TrainOptions(model_params=params, compare_monotone=False, **options)
    result = train_from_tables(
        tables, lines=MonitoringLines(), rule_params=RuleParams(), options=settings, truth=truth
    )
    return result, settings


def write_files(result):
    def write(evaluation, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        html = folder / "evaluation.html"
        html.write_text(
            render_html(
                evaluation, validation=result.validation, shap_importance=result.shap_importance
            ),
            encoding="utf-8",
        )
        return [write_json(evaluation, folder / "evaluation.json"), html]

    return write


def register(result, settings, registry, out: Path) -> dict:
    return train_and_register(
        result,
        registry=registry,
        options=settings,
        out_dir=out,
        fingerprints={"households": "0" * 64},
        write_files=write_files(result),
    )


def test_evaluation_has_interface_keys_and_honest_rows(county, tmp_path: Path) -> None:
    result, settings = train(county, FAST)
    evaluation = result.evaluation
    assert set(evaluation["baselines"]) == {"rules", "logistic", "income_ratio", "plain_reference"}
    assert set(evaluation["recall_at"]) >= {"0.05", "0.10", "0.20"}
    assert evaluation["oracle"]["rows_matched"] == evaluation["n_valid"]
    # the oracle knows the simulator's hidden state: a model above it would be reading a leak
    assert evaluation["auc"] < evaluation["oracle"]["auc"]
    assert {"county", "household_type", "elderly_head", "disabled_member", "minority_head"} <= set(
        evaluation["groups"]
    )
    # validation months come after training months plus a gap of `horizon`
    assert result.split is not None
    assert result.split.train_months[-1] + settings.horizon < result.split.valid_months[0]
    months = set(result.validation["month"].astype(str))
    assert months == {str(m) for m in result.split.valid_months}
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "county", artifact_root=tmp_path / "art"
    )
    final = register(result, settings, registry, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "evaluation.json").read_text(encoding="utf-8"))
    assert set(written) >= INTERFACE_KEYS
    assert written["model_version"] == "1"
    assert final["promotion"]["promoted"] is True
    html = (tmp_path / "out" / "evaluation.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 5
    assert "refitted on 2024-06..2025-12" in html


def test_registered_model_learns_from_every_labelled_month(county) -> None:
    result, settings = train(county, FAST)
    evaluation, split = result.evaluation, result.split
    registered = evaluation["registered_model"]
    assert registered["refit"] is True
    # fitted on training, gap and validation months: up to the last closed label window
    assert (
        registered["fitted_on"]
        == "2024-06..2025-12"
        == f"{split.train_months[0]}..{split.valid_months[-1]}"
    )
    assert split.valid_months[-1] + settings.horizon == split.until
    assert evaluation["evaluated_model"]["fitted_on"] == evaluation["split"]["train"]
    assert registered["n_rows"] > evaluation["n_train"]
    assert registered["tuned_on"] == "2025-07..2025-12"  # the freshest months tune and calibrate
    assert registered["row_weights"] == "every month alike"
    # the reported figures stay those of the evaluation fit, out of time
    assert "fitted on the training months 2024-06..2025-03 only" in evaluation["metrics_of"]
    assert (
        result.evaluated_model.predict_proba(
            result.valid_features.drop(columns=["household_id", "month"])
        )[:, 1]
        == result.validation["model"]
    ).all()
    assert result.model is not result.evaluated_model
    assert result.model.fingerprint() != result.evaluated_model.fingerprint()


def test_candidates_are_reported_and_the_criterion_picks(county) -> None:
    # horizon 3 leaves enough training months for a selection split with its own gap
    result, settings = train(county, FAST, horizon=3, candidates=None)
    candidates = result.evaluation["candidates"]
    names = [c.name for c in CANDIDATES]
    assert set(names) <= set(candidates)
    assert candidates["selected_on"] == {
        "train": "2024-06..2025-03",
        "gap": "2025-04..2025-06",
        "valid": "2025-07..2025-09",
        "until": "2025-12",
        "horizon": "3",
        "method": "out of time",
    }
    assert result.evaluation["split"]["train"] == "2024-06..2025-09"  # selection stays inside it
    judged = {n: candidates[n] for n in names}
    assert all("recall_at" in m and m["auc"] is not None for m in judged.values())
    assert candidates["chosen"] == choose(judged, share=settings.operating_share)
    assert result.configuration.name == candidates["chosen"]
    assert result.evaluation["registered_model"]["candidate"] == candidates["chosen"]
    assert "recall at the operating share" in candidates["criterion"]
    html = render_html(
        result.evaluation, validation=result.validation, shap_importance=result.shap_importance
    )
    assert "候选模型 Candidates" in html
    assert f"<b>{candidates['chosen']} ✓</b>" in html
    assert html.count("<td class='l'>") >= len(names)


def test_recency_weights_halve_every_half_life_back_from_the_newest_month() -> None:
    months = pd.Series(pd.PeriodIndex(["2025-06", "2024-06", "2025-06", "2023-06"], freq="M"))
    assert recency_weights(months, half_life=12.0).tolist() == [1.0, 0.5, 1.0, 0.25]
    assert recency_weights(months, half_life=None) is None
    with pytest.raises(ValueError, match="positive"):
        recency_weights(months, half_life=0.0)


def test_a_short_history_chooses_by_household_folds(county) -> None:
    # horizon 6: 10 training months, too few for 3 + gap 6 + 3 — the choice is made all the same
    names = ("risk_model", "shallow", "logistic")
    result, settings = train(county, FAST, candidates=names)
    candidates = result.evaluation["candidates"]
    selected = candidates["selected_on"]
    assert selected["method"] == "household folds" and selected["folds"] == 3
    assert selected["train"] == result.evaluation["split"]["train"] == "2024-06..2025-03"
    assert "not out of time" in selected["note"]
    train_rows = result.prepared.train
    finished = {n: candidates[n] for n in names if "dropped" not in candidates[n]}
    assert candidates["chosen"] in finished
    # every finishing candidate judged every row once, one fit per fold
    assert all(m["n_valid"] == len(train_rows) for m in finished.values())
    assert all(len(m["trees"]) == 3 for m in finished.values() if m["trees"] is not None)
    for name in set(names) - set(finished):  # stopped after the first fold, and says why
        assert candidates[name]["n_valid"] < len(train_rows)
        assert "not fitted on the other 2 fold(s)" in candidates[name]["dropped"]
    assert candidates["chosen"] == choose(finished, share=settings.operating_share)
    assert result.configuration.name == candidates["chosen"]
    html = render_html(
        result.evaluation, validation=result.validation, shap_importance=result.shap_importance
    )
    assert "household folds within 2024-06..2025-03" in html


def test_promotion_gate_end_to_end(county, tmp_path: Path) -> None:
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "gate", artifact_root=tmp_path / "art"
    )
    useless, settings = train(county, USELESS)
    good, _ = train(county, FAST)
    first = register(useless, settings, registry, tmp_path / "1")
    assert first["promotion"]["promoted"]  # no champion yet
    second = register(good, settings, registry, tmp_path / "2")
    assert second["promotion"]["promoted"], second["promotion"]["reason"]
    assert second["champion"]["version"] == "1"
    third = register(useless, settings, registry, tmp_path / "3")
    assert not third["promotion"]["promoted"]
    assert "kept as challenger" in third["promotion"]["reason"]
    # the champion's configuration won: refitted on every labelled month and promoted as version 4
    refit = third["promotion"]["champion_refit"]
    assert refit["version"] == "4" and refit["fitted_on"] == third["split"]["labelled"]
    assert "refitted on every labelled month" in third["promotion"]["reason"]
    written = json.loads((tmp_path / "3" / "evaluation.json").read_text(encoding="utf-8"))
    assert written["promotion"]["champion_refit"]["version"] == "4"
    champion = load_model("models:/gate@champion", tracking_uri=registry.tracking_uri)
    assert champion.version == "4"
    challenger = load_model("models:/gate@challenger", tracking_uri=registry.tracking_uri)
    assert challenger.version == "3"
    # what was promoted is the refit (every labelled month), not the evaluation fit: the same
    # configuration refitted on the same months gives the same trees as version 2's refit
    assert champion.model.fingerprint() == good.model.fingerprint()
    assert champion.configuration == good.configuration.to_dict()


def test_gate_refits_the_champion_configuration_instead_of_rescoring_it(
    county, tmp_path: Path
) -> None:
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "fair", artifact_root=tmp_path / "art"
    )
    useless, settings = train(county, USELESS)
    register(useless, settings, registry, tmp_path / "1")
    good, _ = train(county, FAST)
    final = register(good, settings, registry, tmp_path / "2")
    champion = final["champion"]
    assert "refitted on 2024-06..2025-03" in champion["method"]
    # the same numbers as the champion's configuration fitted on the challenger's training rows
    prepared = good.prepared
    columns = prepared.feature_columns
    refit = fit_configuration(
        useless.configuration,
        prepared.train[columns],
        prepared.train["label"].to_numpy(),
        prepared.fit_rows,
        prepared.tune_rows,
    )
    expected = score_metrics(
        prepared.valid["label"].to_numpy(),
        refit.predict_proba(prepared.valid[columns])[:, 1],
        calibrated=True,
        shares=[0.05, 0.1, 0.2],
    )
    assert champion["auc"] == expected["auc"]
    assert champion["recall_at"] == expected["recall_at"]
    assert (
        "champion the champion's configuration ('risk_model') refitted"
        in final["promotion"]["reason"]
    )
    # the same configuration again: its evaluation fit is the challenger's, so it ties and passes
    again = register(good, settings, registry, tmp_path / "3")
    assert again["champion"]["auc"] == good.evaluation["auc"]
    assert "same configuration as the challenger" in again["champion"]["method"]
    assert again["promotion"]["promoted"]


def test_a_champion_without_stored_configuration_is_scored_as_before(
    county, tmp_path: Path
) -> None:
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "old", artifact_root=tmp_path / "art"
    )
    old, settings = train(county, FAST)
    old.configuration = None  # as registered before configurations were stored
    register(old, settings, registry, tmp_path / "1")
    assert (
        load_model("models:/old@champion", tracking_uri=registry.tracking_uri).configuration is None
    )
    new, _ = train(county, FAST)
    final = register(new, settings, registry, tmp_path / "2")
    assert "without a stored configuration" in final["champion"]["method"]
    assert "in-sample" in final["promotion"]["reason"]
    features = new.valid_features.drop(columns=["household_id", "month"])
    expected = score_metrics(
        new.validation["label"].to_numpy(),
        old.model.predict_proba(features)[:, 1],
        calibrated=True,
        shares=[0.05, 0.1, 0.2],
    )
    assert final["champion"]["auc"] == expected["auc"]


def test_retraining_with_more_outcomes_compares_on_the_newest_window(
    county, tmp_path: Path
) -> None:
    registry = Registry(
        f"sqlite:///{tmp_path / 'mlflow.db'}", "retrain", artifact_root=tmp_path / "art"
    )
    early, settings_early = train(county, FAST, until=pd.Period("2026-03", "M"))
    register(early, settings_early, registry, tmp_path / "early")
    late, settings_late = train(county, FAST)  # two more months of records and outcomes
    final = register(late, settings_late, registry, tmp_path / "late")
    assert final["champion"]["version"] == "1"
    assert final["promotion"]["compared_on"] == late.evaluation["split"]["valid"]
    assert final["promotion"]["compared_on"] != early.evaluation["split"]["valid"]
    assert final["model_version"] == "2"
