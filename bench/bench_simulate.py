"""Simulation benchmark: `simulate` at 20,000 households × 36 months with truth, and the cached
200,000 × 24 county (no truth) that the other stages read from `bench/cache/county200k/`."""

from __future__ import annotations

import resource
import time
from pathlib import Path

from risk.simulation import simulate, write_simulation

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache" / "county200k"


def run(results: dict) -> None:
    """Time the 20k × 36 run with truth (budget 180 s) and build the 200k × 24 cache if absent."""
    figures: dict[str, object] = {}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sim = simulate(households=20_000, months=36, seed=0, truth=True)
    figures["truth_20k_36m_seconds"] = round(time.perf_counter() - wall0, 1)
    figures["truth_20k_36m_cpu_seconds"] = round(time.process_time() - cpu0, 1)
    figures["truth_20k_36m_budget_seconds"] = 180
    figures["truth_20k_36m_stages"] = {
        k: round(v, 1) for k, v in sim.summary.items() if k.startswith("seconds")
    }
    figures["oracle_auc"] = round(sim.summary["oracle_auc"], 4)
    figures["positive_rate_6m"] = round(sim.summary["positive_rate"], 4)
    figures["mean_p_true"] = round(sim.summary["mean_p_true"], 4)
    figures["truth_rows"] = int(sim.summary["rows"])
    del sim
    if not (CACHE / "households.parquet").exists():
        wall0 = time.perf_counter()
        big = simulate(households=200_000, months=24, seed=0, truth=False)
        figures["county200k_simulate_seconds"] = round(time.perf_counter() - wall0, 1)
        wall1 = time.perf_counter()
        write_simulation(big, CACHE, fmt="parquet")
        figures["county200k_write_seconds"] = round(time.perf_counter() - wall1, 1)
        figures["county200k_rows"] = {name: len(frame) for name, frame in big.tables.items()}
        del big
    else:
        figures["county200k"] = "cached"
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    results["simulate"] = figures
