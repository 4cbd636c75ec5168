"""Fixtures of the scoring tests: a small synthetic county, a model trained on it, one scored run."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoring_county import (
    SCORING_MONTH,  # noqa: F401 - re-exported for the test modules
    FakeLoaded,
    load_county,
    train_small_model,
    write_county,
)

from features.contract.tables import Tables
from risk.config import FanpinConfig
from risk.score import ScoreResult, score_month


@pytest.fixture(scope="session")
def scoring_county_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_county(tmp_path_factory.mktemp("scoring") / "county")


@pytest.fixture(scope="session")
def scoring_tables(scoring_county_dir: Path) -> Tables:
    return load_county(scoring_county_dir)


@pytest.fixture(scope="session")
def scoring_model(scoring_tables: Tables) -> FakeLoaded:
    return FakeLoaded(train_small_model(scoring_tables))


@pytest.fixture(scope="session")
def scored_run(
    tmp_path_factory: pytest.TempPathFactory,
    scoring_tables: Tables,
    scoring_model: FakeLoaded,
    scoring_county_dir: Path,
) -> ScoreResult:
    """One full run of the scoring month (top 5 %), written to a session folder."""
    out = tmp_path_factory.mktemp("runs") / SCORING_MONTH
    return score_month(
        scoring_tables,
        month=SCORING_MONTH,
        model=scoring_model,
        config=FanpinConfig(),
        out_dir=out,
        data_dir=scoring_county_dir,
        progress=False,
    )


@pytest.fixture(scope="module")
def client():
    """A 2-worker LocalCluster (one process per worker) and its client, one per test module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as connected,
    ):
        yield connected
