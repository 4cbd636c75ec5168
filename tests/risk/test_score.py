"""Monthly scoring end to end: outputs, selection, feed warnings, model checks, determinism, safety."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scoring_county import SCORING_MONTH, FakeLoaded

from features.build import build_features
from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines
from features.sources.monitoring import monitored_at
from risk.config import FanpinConfig, WarningConfig
from risk.run_context import OUTPUT_FILES, SCORE_COLUMNS
from risk.score import score_month
from risk.stages.features import check_model_features
from risk.stages.feeds import check_feeds
from risk.stages.outputs import print_summary
from risk.stages.select import select_warned
from training.model import ModelMismatchError, RiskModel

MONTH = pd.Period(SCORING_MONTH, "M")


def _score(tables, model, out, **options):
    options.setdefault("config", FanpinConfig())
    options.setdefault("progress", False)
    return score_month(tables, month=SCORING_MONTH, model=model, out_dir=out, **options)


# --- outputs ---------------------------------------------------------------------------------------


def test_run_writes_the_five_outputs(scored_run):
    for name in OUTPUT_FILES:
        assert (scored_run.out_dir / name).is_file(), name
    leftovers = [p.name for p in scored_run.out_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_scores_follow_the_interface(scored_run, scoring_tables):
    scores = pd.read_parquet(scored_run.out_dir / "scores.parquet")
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert scores["rank"].tolist() == list(range(1, len(scores) + 1))
    assert scores["probability"].is_monotonic_decreasing
    assert scores["probability"].between(0, 1).all()
    assert set(scores["tier"]) <= {"高", "中", "低"}
    high = scores["probability"] >= 0.30
    assert (scores.loc[high, "tier"] == "高").all()
    assert (scores.loc[scores["probability"] < 0.10, "tier"] == "低").all()
    assert (scores["month"] == SCORING_MONTH).all()
    assert scores["run_id"].nunique() == 1 and scores["run_id"].iloc[0] == scored_run.run_id
    assert all(isinstance(list(v), list) for v in scores["rule_triggers"])
    monitored = set(monitored_at(scoring_tables.outcomes, month=MONTH))
    assert monitored, "the synthetic county should have monitored households"
    assert not monitored & set(scores["household_id"])
    assert len(scores) + len(monitored) == len(scoring_tables.households)


def test_top_percent_and_explanations_of_the_listed(scored_run):
    scores = scored_run.scores
    n_top = int(np.ceil(len(scores) * 0.05))
    assert scores.loc[scores["rank"] <= n_top, "warned"].all()
    beyond = scores.loc[(scores["rank"] > n_top) & scores["warned"]]
    assert (beyond["rule_triggers"].map(len) > 0).all()
    explained = set(scored_run.explanations["household_id"])
    audit = set(scored_run.manifest["audit"]["household_ids"])
    assert explained == set(scores.loc[scores["warned"], "household_id"]) | audit
    explanations = pd.read_parquet(scored_run.out_dir / "explanations.parquet")
    interface = [
        "household_id",
        "rank",
        "feature",
        "label_zh",
        "value",
        "contribution",
        "reason_zh",
    ]
    assert list(explanations.columns[:7]) == interface


def test_contributions_add_up_to_the_models_log_odds(scored_run, scoring_tables, scoring_model):
    explanations = scored_run.explanations
    household = scored_run.scores.loc[scored_run.scores["warned"], "household_id"].iloc[0]
    features = build_features(scoring_tables, as_of=MONTH, lines=MonitoringLines())
    row = features.set_index("household_id").loc[[household]].drop(columns="month")
    raw = scoring_model.model.predict_raw(row)[0]
    mine = explanations.loc[explanations["household_id"] == household]
    assert mine["contribution"].sum() + mine["base_value"].iloc[0] == pytest.approx(raw, abs=1e-9)


def test_manifest_records_inputs_model_versions_and_timings(scored_run, scoring_county_dir):
    manifest = json.loads((scored_run.out_dir / "manifest.json").read_text(encoding="utf-8"))
    for key in ("run_id", "month", "model", "inputs", "counts", "thresholds", "capacity",
                "versions", "timings", "warnings"):  # fmt: skip
        assert key in manifest, key
    assert manifest["model"] == {
        "name": "fanpin-test",
        "version": "1",
        "uri": "models:/fanpin-test/1",
    }
    assert set(manifest["inputs"]) == {p.name for p in scoring_county_dir.glob("*.csv")}
    assert {"python", "lightgbm", "shap", "pandas", "numpy", "fanpin"} <= set(manifest["versions"])
    assert set(manifest["timings"]) == {
        "feeds",
        "features",
        "predict",
        "select",
        "explain",
        "lifecycle",
        "write",
    }
    assert manifest["counts"]["scored"] == len(scored_run.scores)


# --- selection -------------------------------------------------------------------------------------


def _ranked(probabilities):
    index = [f"H{i}" for i in range(len(probabilities))]
    return pd.DataFrame(
        {"probability": probabilities, "rank": np.arange(1, len(probabilities) + 1)}, index=index
    )


@pytest.mark.parametrize(
    ("warning", "expected"),
    [
        (WarningConfig(capacity=2, top_percent=None), [True, True, False, False, False]),
        (WarningConfig(top_percent=40.0), [True, True, False, False, False]),
        (WarningConfig(top_percent=50.0), [True, True, True, False, False]),
        (WarningConfig(threshold=0.5, top_percent=None), [True, True, True, False, False]),
    ],
)
def test_operating_points(warning, expected):
    ranked = _ranked([0.9, 0.7, 0.5, 0.2, 0.1])
    no_rules = pd.Series([[]] * 5, index=ranked.index)
    assert select_warned(ranked, no_rules, warning=warning).tolist() == expected


def test_rule_triggered_households_are_always_listed(scoring_tables, scoring_model, tmp_path):
    config = FanpinConfig().with_warning(capacity=1, top_percent=None)
    result = _score(scoring_tables, scoring_model, tmp_path / "run", config=config)
    scores = result.scores
    listing = set(config.warning.always_list)
    fired = scores["rule_triggers"].map(lambda names: bool(listing.intersection(names)))
    assert fired.sum() > 1
    assert scores.loc[fired, "warned"].all()
    # the broad screens (低保边缘 …) are named in 规则触发 but do not list a household by themselves
    screens_only = (scores["rule_triggers"].map(len) > 0) & ~fired & (scores["rank"] > 1)
    assert not scores.loc[screens_only, "warned"].any()
    assert scores["warned"].sum() == fired.sum() + int(not fired.iloc[0])
    assert result.counts["warned_by_rules_only"] == int((fired & (scores["rank"] > 1)).sum())
    from risk.excel import read_list_sheet

    listed = read_list_sheet(tmp_path / "run" / "warnings.xlsx")
    triggered_ids = set(scores.loc[fired, "household_id"])
    marked = listed.loc[listed["户编号"].isin(triggered_ids), "规则触发"]
    assert len(marked) == len(triggered_ids)
    assert marked.notna().all() and (marked.str.len() > 0).all()


# --- feeds ------------------------------------------------------------------------------------------


def test_missing_feed_is_warned_in_summary_report_and_manifest(
    scoring_tables, scoring_model, tmp_path
):
    medical = scoring_tables.medical
    in_month = medical["settle_date"].dt.to_period("M") == MONTH
    tables = scoring_tables.replace(medical=medical.loc[~in_month])
    result = _score(tables, scoring_model, tmp_path / "run")
    kinds = {(w.table, w.kind) for w in result.feed_warnings}
    assert ("medical", "no_records") in kinds
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert any(w["table"] == "medical" and w["kind"] == "no_records" for w in manifest["warnings"])
    report = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "数据警告" in report and "medical（医保结算）" in report and "没有任何记录" in report
    console = Console(file=io.StringIO(), width=200, record=True)
    print_summary(result, console=console)
    assert "medical（医保结算）" in console.export_text()


def test_feed_checks_find_absent_dropped_and_stale_feeds(scoring_tables):
    assert check_feeds(scoring_tables, month=MONTH) == []
    absent = check_feeds(scoring_tables.replace(employment=None), month=MONTH)
    assert [(w.table, w.kind) for w in absent] == [("employment", "missing_table")]
    income = scoring_tables.income
    month_rows = income.index[income["month"] == MONTH]
    halved = income.drop(month_rows[: int(len(month_rows) * 0.7)])
    dropped = check_feeds(scoring_tables.replace(income=halved), month=MONTH)
    assert [(w.table, w.kind) for w in dropped] == [("income", "volume_drop")]
    events = scoring_tables.events
    old = events.loc[events["date"].dt.to_period("M") <= MONTH - 8]
    stale = check_feeds(scoring_tables.replace(events=old), month=MONTH)
    assert [(w.table, w.kind) for w in stale] == [("events", "stale")]


# --- model checks -----------------------------------------------------------------------------------


def test_mismatched_model_is_refused_naming_the_features(scoring_tables, tmp_path):
    features = build_features(scoring_tables, as_of=MONTH - 3, lines=MonitoringLines())
    X = features.drop(columns=["household_id", "month", "events_12m"]).rename(
        columns={"oop_medical_12m": "oop_medical_24m"}
    )
    y = (X["oop_to_income_12m"].fillna(0) > X["oop_to_income_12m"].median()).astype(int)
    model = RiskModel(n_estimators=5, min_child_samples=5, n_jobs=1).fit(X, y)
    with pytest.raises(ModelMismatchError) as caught:
        _score(scoring_tables, FakeLoaded(model), tmp_path / "run")
    message = str(caught.value)
    assert "oop_medical_24m" in message and "oop_medical_12m" in message
    assert "events_12m" in message
    assert not (tmp_path / "run").exists()


def test_check_model_features_names_missing_and_unexpected():
    with pytest.raises(ModelMismatchError, match=r"missing .*\['b'\].*unexpected .*\['c'\]"):
        check_model_features(["a", "b"], ["a", "c"])
    check_model_features(["a", "b"], ["b", "a"])


def test_month_after_the_data_is_refused(scoring_tables, scoring_model, tmp_path):
    with pytest.raises(DataContractError, match="after the data's latest month"):
        score_month(
            scoring_tables,
            month="2026-03",
            model=scoring_model,
            config=FanpinConfig(),
            out_dir=tmp_path / "run",
            progress=False,
        )


# --- determinism and safety -------------------------------------------------------------------------


def test_rerun_gives_identical_outputs(scored_run, scoring_tables, scoring_model, scoring_county_dir,
                                       tmp_path):  # fmt: skip
    again = _score(scoring_tables, scoring_model, tmp_path / "again", data_dir=scoring_county_dir)
    assert again.run_id == scored_run.run_id
    for name in ("scores.parquet", "explanations.parquet", "warnings.xlsx"):
        first = (scored_run.out_dir / name).read_bytes()
        assert (tmp_path / "again" / name).read_bytes() == first, name


def test_run_id_changes_with_the_settings(scored_run, scoring_tables, scoring_model,
                                          scoring_county_dir, tmp_path):  # fmt: skip
    config = FanpinConfig().with_warning(top_percent=10.0)
    other = _score(scoring_tables, scoring_model, tmp_path / "other", config=config,
                   data_dir=scoring_county_dir)  # fmt: skip
    assert other.run_id != scored_run.run_id


def test_failure_while_writing_leaves_previous_outputs_intact(
    scoring_tables, scoring_model, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    _score(scoring_tables, scoring_model, out)
    before = {name: (out / name).read_bytes() for name in OUTPUT_FILES}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the report")

    import risk.report

    monkeypatch.setattr(risk.report, "write_report", killed)
    config = FanpinConfig().with_warning(capacity=3, top_percent=None)
    with pytest.raises(KeyboardInterrupt):
        _score(scoring_tables, scoring_model, out, config=config)
    after = {name: (out / name).read_bytes() for name in OUTPUT_FILES}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_process_killed_mid_write_keeps_previous_outputs(tmp_path):
    """SIGKILL inside the write stage: the old folder survives, the next run cleans up."""
    target = tmp_path / "run"
    target.mkdir()
    (target / "scores.parquet").write_bytes(b"previous")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from risk.atomic import atomic_output_dir
        with atomic_output_dir(Path({str(target)!r})) as tmp:
            (tmp / "scores.parquet").write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], check=False)
    assert completed.returncode != 0
    assert (target / "scores.parquet").read_bytes() == b"previous"
    assert any(p.name.startswith(".run.tmp-") for p in tmp_path.iterdir())
    from risk.atomic import atomic_output_dir

    with atomic_output_dir(target) as tmp:
        (tmp / "scores.parquet").write_bytes(b"new")
        (tmp / "note.txt").write_text("x")
    assert (target / "scores.parquet").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_replacing_a_run_keeps_files_it_does_not_own(tmp_path):
    from risk.atomic import atomic_output_dir

    target = tmp_path / "run"
    with atomic_output_dir(target) as tmp:
        (tmp / "scores.parquet").write_bytes(b"one")
    (target / "reviewer-notes.txt").write_text("keep me", encoding="utf-8")
    with atomic_output_dir(target) as tmp:
        (tmp / "scores.parquet").write_bytes(b"two")
    assert (target / "reviewer-notes.txt").read_text(encoding="utf-8") == "keep me"
    assert (target / "scores.parquet").read_bytes() == b"two"


# --- previous run ---------------------------------------------------------------------------------------


def test_drift_and_new_reasons_against_the_previous_month(scoring_tables, scoring_model, tmp_path):
    runs = tmp_path / "runs"
    score_month(
        scoring_tables,
        month=str(MONTH - 1),
        model=scoring_model,
        config=FanpinConfig(),
        out_dir=runs / str(MONTH - 1),
        progress=False,
    )
    result = _score(scoring_tables, scoring_model, runs / SCORING_MONTH)
    drift = result.manifest["drift"]
    assert drift["previous_month"] == str(MONTH - 1)
    assert 0 <= drift["score_psi"] < 5
    assert drift["feature_psi"], "feature PSI computed from the previous run's stored profile"
    reasons = result.explanations.loc[result.explanations["reason_order"].notna()]
    assert reasons["is_new"].any() and not reasons["is_new"].all()
    report = (runs / SCORING_MONTH / "report.html").read_text(encoding="utf-8")
    assert "PSI" in report and str(MONTH - 1) in report


# --- command line -------------------------------------------------------------------------------------


def _cli(argv, monkeypatch, model=None):
    from risk.cli import main

    if model is not None:
        import risk.cli.scoring

        monkeypatch.setattr(risk.cli.scoring, "load_scoring_model", lambda uri, settings: model)
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0)


@pytest.fixture
def cli_env(monkeypatch, tmp_path):
    from scoring_county import KEY

    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.chdir(tmp_path)


def test_cli_score_writes_outputs_and_prints_the_summary(
    cli_env, scoring_county_dir, scoring_model, tmp_path, monkeypatch, capsys
):
    argv = ["score", "--data", str(scoring_county_dir), "--month", SCORING_MONTH,
            "--out", str(tmp_path / "run"), "--capacity", "10", "--no-progress"]  # fmt: skip
    assert _cli(argv, monkeypatch, scoring_model) == 0
    out = capsys.readouterr().out
    assert "预警 warned" in out and "warnings.xlsx" in out
    for name in OUTPUT_FILES:
        assert (tmp_path / "run" / name).is_file()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["capacity"]["mode"] == "capacity" and manifest["capacity"]["value"] == 10


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--capacity", "5", "--threshold", "0.3"], "give one of"),
        (["--top-percent", "0"], "top_percent"),
        (["--engine", "spark"], "expected local or dask"),
        (["--month", "2025-13"], "not a month"),
    ],
)
def test_cli_score_refuses_bad_options(
    cli_env, scoring_county_dir, tmp_path, monkeypatch, capsys, extra, message
):
    argv = ["score", "--data", str(scoring_county_dir), "--month", SCORING_MONTH,
            "--out", str(tmp_path / "run"), "--no-progress", *extra]  # fmt: skip
    assert _cli(argv, monkeypatch) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_dask_engine_is_found_or_clearly_missing(
    cli_env, scoring_county_dir, tmp_path, monkeypatch, capsys
):
    import importlib.util

    from risk.cli.scoring import DASK_ENGINE, _engine

    if importlib.util.find_spec(DASK_ENGINE[0]) is not None:
        assert callable(_engine("dask", "tcp://127.0.0.1:8786"))
        monkeypatch.setattr("risk.cli.scoring.DASK_ENGINE", ("risk.no_such_engine", "run"))
    argv = ["score", "--data", str(scoring_county_dir), "--month", SCORING_MONTH,
            "--out", str(tmp_path / "run"), "--engine", "dask"]  # fmt: skip
    assert _cli(argv, monkeypatch) == 2
    assert "--engine dask is not available yet" in capsys.readouterr().err


def test_cli_mismatched_model_exits_2_naming_features(
    cli_env, scoring_county_dir, scoring_tables, tmp_path, monkeypatch, capsys
):
    features = build_features(scoring_tables, as_of=MONTH - 3, lines=MonitoringLines())
    X = features.drop(columns=["household_id", "month"]).rename(columns={"events_12m": "ghost"})
    y = (np.arange(len(X)) % 3 == 0).astype(int)
    model = FakeLoaded(RiskModel(n_estimators=5, min_child_samples=5, n_jobs=1).fit(X, y))
    argv = ["score", "--data", str(scoring_county_dir), "--month", SCORING_MONTH,
            "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert _cli(argv, monkeypatch, model) == 2
    err = capsys.readouterr().err
    assert "ghost" in err and "events_12m" in err and "Traceback" not in err


# --- the simulated county, a model trained and registered by training's API ---------------------------


@pytest.mark.slow
def test_small_county_trained_registered_and_scored_by_the_cli(
    small_county, tmp_path, monkeypatch, capsys
):
    """The whole path users take: simulate → train → register champion → `risk score`."""
    from features.contract.io import load_directory
    from risk.cli import main
    from risk.demo import train_demo_model

    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "small-county-key")
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "risk.toml").write_text(f'[model]\ntracking_uri = "{store}"\n', encoding="utf-8")
    from risk.config import load_config

    settings = load_config(tmp_path / "risk.toml")
    tables = load_directory(small_county, pseudonym_key=b"small-county-key").tables
    champion = train_demo_model(tables, data=small_county, folder=tmp_path, settings=settings)
    assert champion.version == "1"
    month = str(tables.export_month)
    argv = ["score", "--data", str(small_county), "--month", month, "--out",
            str(tmp_path / "runs" / month), "--config", str(tmp_path / "risk.toml"),
            "--no-progress"]  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code in (0, None), capsys.readouterr().err
    run = tmp_path / "runs" / month
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["name"] == "fanpin" and manifest["model"]["version"] == "1"
    scores = pd.read_parquet(run / "scores.parquet")
    assert (scores["model_version"] == "1").all()
    explanations = pd.read_parquet(run / "explanations.parquet")
    reasons = explanations.loc[explanations["reason_order"].notna()]
    assert len(reasons) >= scores["warned"].sum()
    assert reasons["reason_zh"].str.contains(r"\d").mean() > 0.8


def test_cli_missing_required_table_stops_with_a_clear_error(
    cli_env, scoring_county_dir, tmp_path, monkeypatch, capsys
):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(scoring_county_dir, data)
    (data / "members.csv").unlink()
    argv = ["score", "--data", str(data), "--month", SCORING_MONTH,
            "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    assert _cli(argv, monkeypatch) == 2
    err = capsys.readouterr().err
    assert "members" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
