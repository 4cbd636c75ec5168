"""End to end on a tiny synthetic county: training, evaluation files, registry, promotion gate, reload."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from training_county import synthetic_tables

from features.contract.lines import MonitoringLines
from features.rules import RuleParams
from training.evaluate import render_html
from training.registry import Registry, load_model
from training.train import TrainOptions, train_and_register, train_from_tables, write_json

FAST = {"n_estimators": 40, "learning_rate": 0.1, "min_child_samples": 20}
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
    champion = load_model("models:/gate@champion", tracking_uri=registry.tracking_uri)
    assert champion.version == "2"
    challenger = load_model("models:/gate@challenger", tracking_uri=registry.tracking_uri)
    assert challenger.version == "3"
    # the champion was re-scored on the very rows of the new validation window
    features = good.valid_features.drop(columns=["household_id", "month"])
    assert (champion.model.predict_proba(features)[:, 1] == good.validation["model"]).all()


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
