"""Fixtures of the bad-input corpus: one small valid directory, a model for it, one scored run."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mutations import CORPUS_KEY, SCORE_MONTH

from features.build import build_panel
from features.contract.io import load_directory, validate_directory
from features.contract.lines import MonitoringLines
from features.contract.validation import ValidationReport
from risk.cli import main
from simulation import simulate, write_simulation
from training.model import RiskModel
from training.registry import save_local

BASE_HOUSEHOLDS = 150
BASE_MONTHS = 14
BASE_SEED = 3


def run_cli(args: list[str]) -> int:
    """`risk ARGS` in this process; the exit status (output is left to pytest's capture)."""
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    return int(done.value.code or 0)


@pytest.fixture(autouse=True)
def corpus_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of the corpus reads the same pseudonymisation key (never a key file)."""
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", CORPUS_KEY.decode())


@pytest.fixture(scope="session")
def corpus_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The valid directory every mutation starts from: 150 households × 14 months, CSV."""
    sim = simulate(households=BASE_HOUSEHOLDS, months=BASE_MONTHS, seed=BASE_SEED, truth=False)
    return write_simulation(sim, tmp_path_factory.mktemp("corpus") / "base", fmt="csv")


@pytest.fixture(scope="session")
def base_report(corpus_base: Path) -> ValidationReport:
    report = validate_directory(corpus_base, pseudonym_key=CORPUS_KEY)
    assert report.ok, report.error_text()
    return report


@pytest.fixture(scope="session")
def base_ids(corpus_base: Path) -> set[str]:
    """The ID numbers of the base directory: no message may print one."""
    ids = pd.read_csv(corpus_base / "members.csv", dtype=str)["person_id"]
    found = set(ids[ids.str.len().isin([18, 20, 22])])
    assert len(found) > 100
    return found


@pytest.fixture(scope="session")
def corpus_model(corpus_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model folder for the base directory (a path the user names with --model)."""
    tables = load_directory(corpus_base, pseudonym_key=CORPUS_KEY).tables
    last = pd.Period(SCORE_MONTH, "M")
    panel = build_panel(tables, months=[last - k for k in (6, 4, 2)], lines=MonitoringLines())
    features = panel.drop(columns=["household_id", "month"])
    income = features["income_per_capita_12m"].fillna(8000).to_numpy()
    rng = np.random.default_rng(0)
    y = (rng.random(len(features)) < 1 / (1 + np.exp(1 + (income - 8000) / 4000))).astype(int)
    model = RiskModel(n_estimators=30, num_leaves=5, max_depth=3, min_child_samples=10,
                      early_stopping_rounds=10, random_state=0, n_jobs=1)  # fmt: skip
    model.fit(features, y, groups=panel["household_id"].to_numpy())
    folder = tmp_path_factory.mktemp("corpus_model") / "model"
    return save_local(model, folder, signature_frame=features)


@pytest.fixture(scope="session")
def base_run(corpus_base: Path, corpus_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """`risk score` of the unmutated directory for the corpus's scoring month."""
    out = tmp_path_factory.mktemp("corpus_runs") / "base"
    errors = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stderr(errors):
        patch.setenv("FANPIN_PSEUDONYM_KEY", CORPUS_KEY.decode())
        code = run_cli(["score", "--data", corpus_base, "--month", SCORE_MONTH, "--out", out,
                        "--model", corpus_model, "--no-progress"])  # fmt: skip
    assert code == 0, errors.getvalue()
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))
