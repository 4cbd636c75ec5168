"""`risk train --data` on the small simulated county: outputs, MLflow, retraining without cleanup."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from risk.cli import main
from training.registry import load_model


def run_train(args: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(["train", *args])
    return int(done.value.code or 0)


def test_train_then_retrain_with_more_outcomes(small_county: Path, tmp_path: Path, capsys) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    export = pd.read_parquet(small_county / "income.parquet")["month"].max()
    last = pd.Period(str(export)[:7], "M")
    common = [
        "--data",
        str(small_county),
        "--tracking-uri",
        uri,
        "--model-name",
        "small",
    ]
    oracle = ["--oracle", str(small_county / "_truth" / "truth.parquet")]
    first_run = [*common, *oracle, "--until", str(last - 2), "--out", str(tmp_path / "first")]
    assert run_train(first_run) == 0
    first = json.loads((tmp_path / "first" / "evaluation.json").read_text(encoding="utf-8"))
    assert first["model_version"] == "1" and first["promotion"]["promoted"]
    assert first["split"]["until"] == str(last - 2)
    assert first["oracle"]["rows_matched"] == first["n_valid"]
    assert (tmp_path / "first" / "evaluation.html").stat().st_size > 10_000
    # two more months of records and outcomes arrive: train again, nothing cleaned up by hand
    assert run_train([*common, "--out", str(tmp_path / "second")]) == 0
    second = json.loads((tmp_path / "second" / "evaluation.json").read_text(encoding="utf-8"))
    assert second["model_version"] == "2"
    assert "oracle" not in second  # the hidden truth is read only when --oracle names it
    assert second["champion"]["version"] == "1"  # re-scored on the new, newest window
    assert second["promotion"]["compared_on"] == second["split"]["valid"] != first["split"]["valid"]
    # the winner scores: the challenger, or the champion's configuration refitted as version 3
    expected = "2" if second["promotion"]["promoted"] else "3"
    if not second["promotion"]["promoted"]:
        assert second["promotion"]["champion_refit"]["version"] == "3"
    assert load_model("models:/small@champion", tracking_uri=uri).version == expected
    output = capsys.readouterr()
    assert "Successfully registered" not in output.out + output.err
    assert "View run" not in output.out + output.err
    assert "comparison on the same validation rows" in output.out


def test_until_after_the_data_is_refused(small_county: Path, tmp_path: Path, capsys) -> None:
    code = run_train(
        [
            "--data",
            str(small_county),
            "--until",
            "2099-01",
            "--out",
            str(tmp_path / "o"),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'm.db'}",
        ]
    )
    assert code == 2
    assert "--until 2099-01 is after the data's last month" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
