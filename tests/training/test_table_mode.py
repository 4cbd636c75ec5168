"""`risk train --table`: cross-validation without a time column, out of time with one, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk.cli import main
from training.registry import load_model
from training.train import train_from_table

FAST = {"n_estimators": 30, "learning_rate": 0.1, "min_child_samples": 20}


@pytest.fixture(scope="module")
def table(features_and_labels) -> pd.DataFrame:
    X, y = features_and_labels
    frame = X.head(1500).copy()
    frame["county"] = frame["county"].astype(str)  # as read from a CSV: text, not category
    frame.insert(0, "户编号", [f"H{i}" for i in range(len(frame))])
    frame["label"] = y[:1500]
    frame["year_month"] = np.repeat(
        pd.period_range("2024-01", periods=15, freq="M").astype(str), 100
    )
    return frame


def test_cross_validation_scores_every_row_once(table: pd.DataFrame) -> None:
    result = train_from_table(
        table.drop(columns=["year_month"]),
        id_column="户编号",
        label_column="label",
        model_params=FAST,
        candidates=["risk_model"],
    )
    assert len(result.predictions) == len(table)
    assert result.predictions["id"].is_unique
    assert result.predictions["probability"].between(0, 1).all()
    assert result.evaluation["validation"] == "stratified 5-fold cross-validation"
    assert result.evaluation["auc"] > 0.7
    assert "logistic" in result.evaluation["baselines"]
    assert "county" in result.model.categories_


def test_candidates_are_chosen_by_cross_validation(table: pd.DataFrame) -> None:
    from training.candidates import CANDIDATES, choose

    result = train_from_table(
        table.drop(columns=["year_month"]),
        id_column="户编号",
        label_column="label",
        model_params=FAST,
    )
    candidates = result.evaluation["candidates"]
    names = [c.name for c in CANDIDATES]
    judged = {n: candidates[n] for n in names}
    assert candidates["chosen"] == choose(judged, share=0.05)
    chosen = judged[candidates["chosen"]]
    assert result.evaluation["auc"] == chosen["auc"]  # the reported figures are the chosen one's
    assert result.evaluation["recall_at"] == chosen["recall_at"]
    assert result.configuration.name == candidates["chosen"]
    assert result.evaluation["configuration"]["name"] == candidates["chosen"]
    assert "cross-validation" in candidates["selected_on"]
    # a user's columns carry no catalogue meaning: no monotone constraints in table mode
    assert result.configuration.params.get("monotone") is None


def test_time_column_validates_on_the_newest_rows(table: pd.DataFrame) -> None:
    result = train_from_table(
        table,
        id_column="户编号",
        label_column="label",
        time_column="year_month",
        model_params=FAST,
        candidates=["risk_model", "logistic"],
    )
    assert set(result.evaluation["candidates"]) >= {"risk_model", "logistic"}
    newest = set(table.loc[table["year_month"] >= "2025-01", "户编号"])
    assert set(result.predictions["id"]) == newest
    assert "year_month" not in result.model.feature_names_in_


def test_bad_label_names_the_row(table: pd.DataFrame) -> None:
    from features.contract.errors import DataContractError

    broken = table.copy()
    broken.loc[3, "label"] = 2
    with pytest.raises(DataContractError, match="row 5 has .2."):
        train_from_table(broken, id_column="户编号", label_column="label")


def test_cli_table_mode(table: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "households.csv"
    table.drop(columns=["year_month"]).to_csv(path, index=False, encoding="utf-8-sig")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as done:
        main(
            [
                "train",
                "--table",
                str(path),
                "--id-column",
                "户编号",
                "--label-column",
                "label",
                "--out",
                str(out),
            ]
        )
    assert done.value.code == 0
    evaluation = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    assert {
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
    } <= set(evaluation)
    assert evaluation["candidates"]["chosen"] in evaluation["candidates"]
    predictions = pd.read_parquet(out / "predictions.parquet")
    assert list(predictions.columns) == ["id", "label", "probability"]
    assert len(predictions) == len(table)
    loaded = load_model(out / "model")
    assert loaded.model.n_features_in_ == table.shape[1] - 3
    assert loaded.configuration["name"] == evaluation["candidates"]["chosen"]


def test_cli_refuses_a_missing_column(table: pd.DataFrame, tmp_path: Path, capsys) -> None:
    path = tmp_path / "t.csv"
    table.to_csv(path, index=False)
    with pytest.raises(SystemExit) as done:
        main(
            [
                "train",
                "--table",
                str(path),
                "--id-column",
                "nope",
                "--label-column",
                "label",
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert done.value.code == 2
    assert "column(s) ['nope'] not found" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
