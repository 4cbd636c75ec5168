"""Shared fixtures: one small simulated county per test session (seed 7, with truth)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation import Simulation, simulate, write_simulation

SMALL_HOUSEHOLDS = 800
SMALL_MONTHS = 30
SMALL_SEED = 7


@pytest.fixture(scope="session")
def small_simulation() -> Simulation:
    """The in-memory small county: ~800 households × 30 months, seed 7, with truth."""
    return simulate(households=SMALL_HOUSEHOLDS, months=SMALL_MONTHS, seed=SMALL_SEED, truth=True)


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory, small_simulation: Simulation) -> Path:
    """The small county written once as a parquet data directory (with `_truth/`)."""
    out = tmp_path_factory.mktemp("small_county") / "county"
    write_simulation(small_simulation, out, fmt="parquet")
    return out
