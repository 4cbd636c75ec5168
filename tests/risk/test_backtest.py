"""`risk backtest`: realised figures equal the labels' own count; predictions made before the outcomes
arrive hold once they do (a simulated county scored from an export cut six months early)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scoring_county import FakeLoaded

from features.build import build_panel
from features.contract.io import load_directory
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from risk.backtest import (
    backtest,
    list_performance,
    load_past_run,
    predicted_performance,
    write_backtest,
)
from risk.config import FanpinConfig
from risk.score import score_month
from simulation import simulate, write_simulation
from training.labels import build_labels
from training.model import RiskModel

KEY = b"backtest-test-key"
CUT = "2026-04"  # the early export: outcomes known up to here
RUN_MONTHS = ("2025-10", "2025-12", "2026-02")  # 2025-10 closes at the cut, the others after it
HORIZON = 6


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 households × 30 months to 2026-10, with the export as it stood at the cut."""
    sim = simulate(households=1500, months=30, end="2026-10", seed=21, truth=False, export_at=[CUT])
    return write_simulation(sim, tmp_path_factory.mktemp("backtest") / "county")


@pytest.fixture(scope="module")
def early(county: Path) -> Tables:
    return load_directory(county / f"export_{CUT}", pseudonym_key=KEY).tables


@pytest.fixture(scope="module")
def full(county: Path) -> Tables:
    return load_directory(county, pseudonym_key=KEY).tables


@pytest.fixture(scope="module")
def runs(early: Tables, county: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A model trained on what was known at the cut, and the runs it scored then (top 10 %)."""
    model = FakeLoaded(_train(early))
    config = FanpinConfig().with_warning(top_percent=10.0)
    root = tmp_path_factory.mktemp("runs")
    for month in RUN_MONTHS:
        score_month(early, month=month, model=model, config=config, out_dir=root / month,
                    data_dir=county / f"export_{CUT}", progress=False)  # fmt: skip
    return [root / month for month in RUN_MONTHS]


def _train(tables: Tables) -> RiskModel:
    cut = pd.Period(CUT, "M")
    months = list(pd.period_range(cut - 18, cut - HORIZON, freq="M"))
    panel = build_panel(tables, months=months, lines=MonitoringLines())
    labels = build_labels(tables.outcomes, tables.households["household_id"], months=months,
                          horizon=HORIZON, known_until=cut)  # fmt: skip
    rows = panel.merge(labels, on=["household_id", "month"], how="inner")
    X = rows.drop(columns=["household_id", "month", "label"])
    model = RiskModel(n_estimators=300, random_state=0, n_jobs=1)
    return model.fit(X, rows["label"].to_numpy(), groups=rows["household_id"].to_numpy())


def _result(tables: Tables, runs: list[Path], *, level: float = 0.95) -> dict:
    config = FanpinConfig()
    past = [load_past_run(path) for path in runs]
    return backtest(
        tables, past, horizon=HORIZON, rules=config.rules, lines=config.lines, level=level
    )


def test_realised_recall_equals_the_labels_count(full: Tables, runs: list[Path]) -> None:
    result = _result(full, runs)
    assert [run["status"] for run in result["runs"]] == ["closed"] * len(RUN_MONTHS)
    for run, path in zip(result["runs"], runs, strict=True):
        scores = pd.read_parquet(path / "scores.parquet")
        labels = build_labels(full.outcomes, scores["household_id"].astype(str),
                              months=[pd.Period(run["month"], "M")], horizon=HORIZON,
                              known_until=full.export_month)  # fmt: skip
        merged = scores.assign(household_id=scores["household_id"].astype(str)).merge(
            labels, on="household_id"
        )
        hits = int((merged["warned"] & (merged["label"] == 1)).sum())
        assert run["realised"]["hits"] == hits
        assert run["realised"]["recall"] == pytest.approx(hits / merged["label"].sum())
        assert run["realised"]["precision"] == pytest.approx(hits / merged["warned"].sum())
        assert run["realised"]["identified"] > 0 and run["list_size"] == int(scores["warned"].sum())
        towns = run["townships"]
        assert sum(t["realised"]["hits"] for t in towns) == hits
        assert sum(t["realised"]["misses"] for t in towns) == run["realised"]["misses"]
        assert sum(t["rules"]["list_size"] for t in towns) == run["list_size"]


def test_predictions_before_the_outcomes_hold_once_they_arrive(
    early: Tables, full: Tables, runs: list[Path]
) -> None:
    # The interval counts the sampling noise of calibrated probabilities only; the model's own
    # calibration error on new months comes on top. At 95 % two open months at one seed land
    # outside by chance often enough; 99 % is what this check can promise.
    before = _result(early, runs, level=0.99)
    assert [run["status"] for run in before["runs"]] == ["closed", "open", "open"]
    after = _result(full, runs, level=0.99)
    for then, now in zip(before["runs"][1:], after["runs"][1:], strict=True):
        assert then["realised"] is None and then["gap"] is None
        predicted = then["predicted"]
        assert predicted == now["predicted"]
        realised = now["realised"]
        assert predicted["recall_low"] <= realised["recall"] <= predicted["recall_high"], then
        assert predicted["hits_low"] <= realised["hits"] <= predicted["hits_high"], then
        assert now["gap"]["recall"] == pytest.approx(realised["recall"] - predicted["recall"])
        assert now["gap"]["recall_inside"] is True


def test_interval_arithmetic_on_literal_probabilities() -> None:
    probability = np.array([0.9, 0.5, 0.2, 0.1, 0.1])
    warned = np.array([True, True, False, False, False])
    p = predicted_performance(probability, warned, z=2.0)
    assert p["expected_hits"] == pytest.approx(1.4)
    assert p["hits_high"] == pytest.approx(1.4 + 2 * np.sqrt(0.09 + 0.25))
    assert p["recall"] == pytest.approx(1.4 / 1.8)
    assert list_performance(np.array([1, 0, 0, 1, 0]), warned)["recall"] == 0.5
    assert list_performance(np.array([0, 0, 0, 0, 0]), warned)["recall"] is None


def test_command_writes_json_and_html(
    full: Tables, county: Path, runs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "backtest"
    done = subprocess.run(
        [sys.executable, "-m", "risk.cli", "backtest", "--data", str(county),
         "--runs", *map(str, runs), "--out", str(out)],
        env={**os.environ, "FANPIN_PSEUDONYM_KEY": KEY.decode()},
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = json.loads((out / "backtest.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(_result(full, runs)))
    html = (out / "backtest.html").read_text(encoding="utf-8")
    assert "2026-02" in html and "召回率 recall" in html
    missing = subprocess.run(
        [sys.executable, "-m", "risk.cli", "backtest", "--data", str(county),
         "--runs", str(tmp_path / "nope"), "--out", str(tmp_path / "b2")],
        env={**os.environ, "FANPIN_PSEUDONYM_KEY": KEY.decode()},
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert missing.returncode == 2 and "scores.parquet" in missing.stderr
    assert not (tmp_path / "b2").exists()


def test_write_backtest_replaces_the_folder_atomically(
    full: Tables, runs: list[Path], tmp_path: Path
) -> None:
    result = _result(full, runs[:1])
    paths = write_backtest(result, tmp_path / "b")
    assert paths["json"].is_file() and paths["html"].is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


# -- the backtest against what `risk train` reported (issue 16, "Done when") -------------------------
TRAIN_UNTIL = "2026-08"  # validation months: the newest three whose windows closed by then
VALID_MONTHS = ("2025-12", "2026-01", "2026-02")
SHARE = 0.05
Z_99 = 2.576


def test_realised_recall_matches_what_train_reported_for_the_same_months(
    county: Path, full: Tables, tmp_path: Path
) -> None:
    """`risk train` reports the evaluated model's recall at the top 5 % pooled over its validation
    months; the backtest counts each month's top 5 % on its own. So the two differ at all for two
    reasons only: the pooled list takes more households from riskier months, and each month's
    identifications are a sample (a binomial draw of hits at the true recall). The registered model
    would differ more (it was refitted on these very months: in-sample), so the pair compared is the
    *evaluated* model scored by `score_month`, listing by share only (no rule forces a household on).

    Two checks: the backtest's hits per month equal the evaluated model's own per-month top 5 % in
    `train`'s validation frame exactly (same model, households, labels); and each month's recall lies
    within the 99 % binomial interval R ± 2.576·√(R(1−R)/n) around the reported pooled recall R,
    n being the month's identified households.
    """
    from training.evaluate import share_key, top_share  # noqa: PLC0415
    from training.train import TrainOptions, train_from_tables  # noqa: PLC0415

    config = FanpinConfig().with_warning(top_percent=SHARE * 100, always_list=())
    options = TrainOptions(
        until=pd.Period(TRAIN_UNTIL, "M"), valid_months=3, horizon=HORIZON, operating_share=SHARE,
        candidates=("risk_model",), compare_monotone=False, n_jobs=1,
        model_params={"n_estimators": 60, "learning_rate": 0.1, "min_child_samples": 20},
    )  # fmt: skip
    trained = train_from_tables(full, lines=config.lines, rule_params=config.rules, options=options)
    assert trained.split.describe()["valid"] == f"{VALID_MONTHS[0]}..{VALID_MONTHS[-1]}"
    reported = trained.evaluation["recall_at"][share_key(SHARE)]
    model = FakeLoaded(trained.evaluated_model)
    for month in VALID_MONTHS:
        score_month(full, month=month, model=model, config=config, out_dir=tmp_path / month,
                    data_dir=county, progress=False)  # fmt: skip
    result = backtest(full, [load_past_run(tmp_path / m) for m in VALID_MONTHS], horizon=HORIZON,
                      rules=config.rules, lines=config.lines)  # fmt: skip
    validation = trained.validation
    for run in result["runs"]:
        assert run["status"] == "closed"
        rows = validation.loc[validation["month"] == pd.Period(run["month"], "M")]
        flagged = top_share(rows["model"].to_numpy(), SHARE, seed=options.random_state)
        label = rows["label"].to_numpy() == 1
        realised = run["realised"]
        assert (run["scored"], run["list_size"]) == (len(rows), int(flagged.sum()))
        assert (realised["hits"], realised["identified"]) == (
            int((flagged & label).sum()),
            int(label.sum()),
        )
        half = Z_99 * np.sqrt(reported * (1 - reported) / realised["identified"])
        assert abs(realised["recall"] - reported) <= half, (run["month"], reported, realised)
    hits = sum(run["realised"]["hits"] for run in result["runs"])
    identified = sum(run["realised"]["identified"] for run in result["runs"])
    pooled_half = Z_99 * np.sqrt(reported * (1 - reported) / identified)
    assert abs(hits / identified - reported) <= pooled_half
