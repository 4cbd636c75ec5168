"""Simulation benchmark: `simulate` at 20,000 households × 36 months with truth, and the cached
200,000 × 24 county (no truth) that the other stages read from `bench/cache/county200k/`.

The cache is rebuilt when the simulator's source changes (its hash is kept next to the tables), so
the benchmarks never measure a county the current simulator would not produce."""

from __future__ import annotations

import hashlib
import resource
import shutil
import time
from pathlib import Path

from simulation import simulate, write_simulation

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache" / "county200k"
STAMP = CACHE / ".simulator.sha256"


def simulator_fingerprint() -> str:
    """sha256 over the simulator's source files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for path in sorted((HERE.parent / "risk" / "simulation").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


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
    fingerprint = simulator_fingerprint()
    current = STAMP.is_file() and STAMP.read_text().strip() == fingerprint
    if not current or not (CACHE / "households.parquet").exists():
        shutil.rmtree(CACHE, ignore_errors=True)
        wall0 = time.perf_counter()
        big = simulate(households=200_000, months=24, seed=0, truth=False)
        figures["county200k_simulate_seconds"] = round(time.perf_counter() - wall0, 1)
        wall1 = time.perf_counter()
        write_simulation(big, CACHE, fmt="parquet")
        figures["county200k_write_seconds"] = round(time.perf_counter() - wall1, 1)
        figures["county200k_rows"] = {name: len(frame) for name, frame in big.tables.items()}
        STAMP.write_text(fingerprint + "\n")
        del big
    else:
        figures["county200k"] = "cached"
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)
    results["simulate"] = figures
