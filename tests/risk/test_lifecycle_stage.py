"""The lifecycle stage in a run: lifecycle.parquet's schema, the relapse list, and no half-written run."""

from __future__ import annotations

import pandas as pd
import pytest
from scoring_county import SCORING_MONTH

import risk.stages.lifecycle
from features.sources.monitoring import monitored_at
from risk.config import FanpinConfig
from risk.lifecycle import LIFECYCLE_COLUMNS, STATUS_LABELS_ZH
from risk.run_context import OUTPUT_FILES
from risk.score import score_month


@pytest.fixture(scope="module")
def with_exits(scoring_tables):
    """The scoring county with identifications before 2025-06 closed then (so some have left)."""
    outcomes = scoring_tables.outcomes.copy()
    early = (outcomes["identified_month"] < pd.Period("2025-06", "M")).to_numpy()
    closed = early
    outcomes["eliminated_month"] = pd.PeriodIndex(
        [pd.Period("2025-06", "M") if c else None for c in closed], freq="M"
    )
    assert closed.sum() >= 5
    return scoring_tables.replace(outcomes=outcomes)


@pytest.fixture(scope="module")
def scored_run(with_exits, scoring_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("lifecycle") / SCORING_MONTH
    return score_month(with_exits, month=SCORING_MONTH, model=scoring_model,
                       config=FanpinConfig(), out_dir=out, progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def lifecycle(scored_run) -> pd.DataFrame:
    return pd.read_parquet(scored_run.out_dir / "lifecycle.parquet")


def test_lifecycle_parquet_has_the_interface_columns_and_types(lifecycle):
    assert list(lifecycle.columns) == list(LIFECYCLE_COLUMNS)
    assert lifecycle["household_id"].is_unique
    assert set(lifecycle["month"]) == {SCORING_MONTH}
    assert set(lifecycle["stage"]) <= {"monitored", "exited"}
    assert set(lifecycle["status"]) <= set(STATUS_LABELS_ZH)
    assert lifecycle["months_in_stage"].dtype == "int64"
    assert (lifecycle["months_in_stage"] >= 0).all()
    assert (lifecycle["reason_zh"].str.len() > 0).all()


def test_every_monitored_household_is_followed_and_none_is_scored(lifecycle, with_exits):
    monitored = set(monitored_at(with_exits.outcomes, month=pd.Period(SCORING_MONTH, "M")))
    followed = set(lifecycle.loc[lifecycle["stage"] == "monitored", "household_id"])
    assert followed == monitored
    assert lifecycle.loc[lifecycle["stage"] == "monitored", "probability"].isna().all()
    statuses = set(lifecycle.loc[lifecycle["stage"] == "monitored", "status"])
    assert statuses <= {"ready_to_exit", "keep_supporting", "worsening"}


def test_exited_households_carry_the_main_models_probability(lifecycle, scored_run):
    exited = lifecycle.loc[lifecycle["stage"] == "exited"].set_index("household_id")
    assert len(exited)
    scores = scored_run.scores.set_index("household_id")["probability"]
    assert exited["probability"].to_numpy() == pytest.approx(
        scores.reindex(exited.index).to_numpy()
    )
    risky = exited.loc[exited["status"] == "relapse_risk"]
    assert len(risky) == int(-(-0.1 * len(exited) // 1))  # the default tenth, rounded up
    assert (
        risky["probability"].min() >= exited.loc[exited["status"] == "stable", "probability"].max()
    )
    assert risky["reason_zh"].str.contains("风险概率").all()


def test_a_failing_lifecycle_stage_leaves_the_previous_run_whole(
    scoring_tables, scoring_model, tmp_path, monkeypatch
):
    out = tmp_path / "run"
    score_month(scoring_tables, month=SCORING_MONTH, model=scoring_model, config=FanpinConfig(),
                out_dir=out, progress=False)  # fmt: skip
    before = {name: (out / name).read_bytes() for name in OUTPUT_FILES}

    def broken(*args, **kwargs):
        raise RuntimeError("income records unreadable")

    monkeypatch.setattr(risk.stages.lifecycle, "monitored_status", broken)
    with pytest.raises(RuntimeError, match="income records unreadable"):
        score_month(scoring_tables, month=SCORING_MONTH, model=scoring_model,
                    config=FanpinConfig().with_warning(capacity=3, top_percent=None),
                    out_dir=out, progress=False)  # fmt: skip
    assert {name: (out / name).read_bytes() for name in OUTPUT_FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
