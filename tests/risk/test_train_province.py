"""`risk train --data PROVINCE` on both engines: three small counties, a 2-worker LocalCluster.

The Dask engine grows its trees with ``lightgbm.DaskLGBMClassifier``, whose distributed histograms
differ from one machine's, so the two engines' models are close but not identical: the test compares
the validation AUCs within a tolerance, and the rows (training, tune, validation) exactly.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import risk.train_province
import training.train
from features.contract.io import load_directory
from features.contract.province import county_folders
from risk.cli import main
from risk.config import FanpinConfig
from risk.train_province import (
    CountySpan,
    check_unique_households,
    concat_tables,
    county_rows,
    province_split,
)
from simulation.province import write_province
from training.train import TrainOptions, rule_scores

distributed = pytest.importorskip("distributed")

HOUSEHOLDS, COUNTIES, MONTHS, SEED = 900, 3, 30, 3
#: Validation AUC difference allowed between the engines (about 2,400 validation rows, ~110
#: identifications: a few positives ranked differently move the AUC by ~0.01).
AUC_TOLERANCE = 0.03
#: Small, fast trees: one candidate, a low cap (the early stop lands near 40–60 trees here).
FAST = {"candidates": ("risk_model",), "model_params": {"n_estimators": 150}}
KEY = b"test-key"


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(args)
    return int(done.value.code or 0)


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("province")
    write_province(
        out, households=HOUSEHOLDS, counties=COUNTIES, seed=SEED, months=MONTHS, truth=False
    )
    return out


@pytest.fixture(scope="module")
def runs(province: Path, client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Both engines through the CLI; every frame the Dask run's client gathered is recorded."""
    root = tmp_path_factory.mktemp("runs")
    gathered: list[tuple[int, list[str]]] = []
    original = distributed.Client.gather

    def spy(self, futures, *args, **kwargs):
        result = original(self, futures, *args, **kwargs)
        for value in result if isinstance(result, list) else [result]:
            if isinstance(value, pd.DataFrame):
                gathered.append((len(value), [str(c) for c in value.columns]))
        return result

    out: dict = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(risk.train_province, "SAMPLE_ROWS", 1)  # the sample: one county
        for engine, name, fast in (
            ("local", "local", FAST),
            ("dask", "dask", FAST),
            ("dask", "dask_challenger", {**FAST, "candidates": ("shallow",)}),
        ):
            patch.setattr(training.train, "TrainOptions", partial(TrainOptions, **fast))
            uri = f"sqlite:///{root / f'{engine}.db'}"
            extra = ["--scheduler", client.scheduler.address] if engine == "dask" else []
            with pytest.MonkeyPatch.context() as spying:
                if name == "dask":
                    spying.setattr(distributed.Client, "gather", spy)
                code = run_cli(
                    ["train", "--data", str(province), "--out", str(root / name)]
                    + ["--tracking-uri", uri, "--model-name", f"province_{engine}"]
                    + ["--engine", engine, *extra]
                )
            assert code == 0
            evaluation = root / name / "evaluation.json"
            out[name] = json.loads(evaluation.read_text(encoding="utf-8"))
            out[f"{engine}_uri"] = uri
    out["gathered"] = gathered
    out["root"] = root
    return out


def test_evaluation_lists_the_counties(runs, province: Path) -> None:
    names = [c.name for c in county_folders(province)]
    for engine in ("local", "dask"):
        listed = runs[engine]["province"]
        assert listed["engine"] == engine
        assert [c["name"] for c in listed["counties"]] == names
        assert sum(c["households"] for c in listed["counties"]) == HOUSEHOLDS
        assert all(c["rows"] > 0 and c["valid_rows"] > 0 for c in listed["counties"])
        assert listed["rows"] == sum(c["rows"] for c in listed["counties"])
    assert runs["local"]["province"]["counties"] == runs["dask"]["province"]["counties"]


def test_engines_use_the_same_rows_and_agree_on_auc(runs) -> None:
    local, dask = runs["local"], runs["dask"]
    for key in ("n_train", "n_tune", "n_valid", "positive_rate", "split"):
        assert local[key] == dask[key], key
    assert abs(local["auc"] - dask["auc"]) <= AUC_TOLERANCE
    assert dask["auc"] > dask["baselines"]["rules"]["auc"]
    # baselines computed on the workers give the local figures: rules and the income ratio exactly
    for name in ("rules", "income_ratio"):
        assert dask["baselines"][name]["auc"] == pytest.approx(local["baselines"][name]["auc"])
    assert dask["registered_model"]["trees_grown"] == FAST["model_params"]["n_estimators"]
    assert 1 <= dask["registered_model"]["trees_kept"] <= dask["registered_model"]["trees_grown"]
    assert dask["promotion"]["promoted"] and dask["model_version"] == "1"


def test_a_champion_of_another_configuration_is_refitted_on_the_cluster(runs) -> None:
    """The second Dask run's champion (version 1, risk_model) is judged on the same rows, refitted."""
    challenger, first = runs["dask_challenger"], runs["dask"]
    assert challenger["configuration"]["name"] == "shallow"
    assert challenger["champion"]["version"] == "1"
    assert "refitted on the cluster" in challenger["champion"]["method"]
    assert challenger["champion"]["auc"] == pytest.approx(first["auc"], abs=AUC_TOLERANCE)
    assert challenger["model_version"] == "2"


def test_the_dask_client_never_holds_the_panel(runs) -> None:
    """Only small frames reach the client: per-row results, ids, and the one sample county."""
    counties = runs["dask"]["province"]["counties"]
    panel_rows = sum(c["rows"] for c in counties)
    largest_county = max(c["train_rows"] for c in counties)
    assert runs["gathered"], "the spy saw nothing"
    assert max(rows for rows, _ in runs["gathered"]) < panel_rows
    wide = [rows for rows, columns in runs["gathered"] if len(columns) > 20]
    assert wide and max(wide) <= largest_county  # the sample county, the SHAP rows
    scored = [(rows, columns) for rows, columns in runs["gathered"] if "model" in columns]
    assert sum(rows for rows, _ in scored) == runs["dask"]["n_valid"]  # one frame per county
    assert all(len(columns) <= 15 and "household_id" not in columns for _, columns in scored)


def test_the_registered_model_scores_a_county(
    runs, province: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    county = county_folders(province)[0]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", runs["dask_uri"])
    out = runs["root"] / "score"
    code = run_cli(
        ["score", "--data", str(county.path), "--month", "2026-10", "--out", str(out)]
        + ["--model", "models:/province_dask@champion", "--no-progress"]
    )
    assert code == 0
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) > 0 and scores["probability"].between(0, 1).all()
    assert set(scores["county"].astype(str)) == {county.name}


def test_rules_of_counties_side_by_side_are_each_countys_own(province: Path) -> None:
    """The local engine reads the rules baseline off the counties' tables put side by side."""
    options = TrainOptions()
    lines, params = FanpinConfig().lines, FanpinConfig().rules
    loaded = [load_directory(c.path, pseudonym_key=KEY).tables for c in county_folders(province)]
    split = province_split(
        [risk.train_province.county_span(str(i), t) for i, t in enumerate(loaded)], options=options
    )
    together = concat_tables(loaded, export_month=split.until)
    for tables in loaded:
        rows = county_rows(tables, split=split, lines=lines, options=options)
        valid = rows.loc[rows["month"].isin(split.valid_months)].reset_index(drop=True)
        own = rule_scores(tables, valid, lines=lines, params=params)
        np.testing.assert_array_equal(rule_scores(together, valid, lines=lines, params=params), own)


def test_a_household_in_two_counties_is_refused() -> None:
    check_unique_households({"甲县": ["H1", "H2"], "乙县": ["H3"]})
    with pytest.raises(ValueError, match="H2.*two counties: 甲县/ and 乙县/"):
        check_unique_households({"甲县": ["H1", "H2"], "乙县": ["H2"]})


def test_province_split_takes_the_latest_start_and_earliest_export() -> None:
    month = partial(pd.Period, freq="M")
    spans = [
        CountySpan("甲县", month("2023-11"), month("2026-10"), 10),
        CountySpan("乙县", month("2024-01"), month("2026-09"), 10),
    ]
    split = province_split(spans, options=TrainOptions())
    assert split.until == month("2026-09")
    assert split.train_months[0] == month("2024-06")  # 2024-01 + 6 months of history - 1
    with pytest.raises(ValueError, match="after the export month of 乙县"):
        province_split(spans, options=TrainOptions(until=month("2026-10")))
