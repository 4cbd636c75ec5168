"""Simulation benchmark: `simulate` at 20,000 households × 36 months with truth, and the cached
200,000 × 24 county (no truth) that the other stages read from `bench/cache/county200k/`.

The cache is rebuilt when the simulator's source changes (its hash is kept next to the tables), so
the benchmarks never measure a county the current simulator would not produce.

`python bench/bench_simulate.py --scenarios baseline illness …` measures the given scenarios one
after the other (time, oracle AUC, positive rate, true causes among the households identified)
and prints them as JSON; `make bench` measures the baseline county only."""

from __future__ import annotations

import argparse
import hashlib
import json
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
    for path in sorted((HERE.parent / "simulation").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run(results: dict) -> None:
    """Time the 20k × 36 run with truth (budget 180 s) and build the 200k × 24 cache if absent."""
    figures: dict[str, object] = {}
    figures.update(measure("baseline"))
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


def measure(scenario: str, *, households: int = 20_000, months: int = 36, seed: int = 0) -> dict:
    """Time one scenario with truth; its oracle AUC, positive rate and causes of the positives."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    sim = simulate(households=households, months=months, seed=seed, truth=True, scenario=scenario)
    summary = sim.summary
    return {
        "scenario": scenario,
        "truth_20k_36m_seconds": round(time.perf_counter() - wall0, 1),
        "truth_20k_36m_cpu_seconds": round(time.process_time() - cpu0, 1),
        "truth_20k_36m_budget_seconds": 180,
        "truth_20k_36m_stages": {
            k: round(v, 1) for k, v in summary.items() if k.startswith("seconds")
        },
        "oracle_auc": round(summary["oracle_auc"], 4),
        "positive_rate_6m": round(summary["positive_rate"], 4),
        "mean_p_true": round(summary["mean_p_true"], 4),
        "truth_rows": int(summary["rows"]),
        "causes_of_positives": {
            k.removeprefix("cause_"): round(v, 3)
            for k, v in summary.items()
            if k.startswith("cause_")
        },
    }


def main() -> None:
    """Measure the scenarios named on the command line, one at a time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["baseline"])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for scenario in args.scenarios:
        figures = measure(scenario, households=args.households, months=args.months, seed=args.seed)
        print(json.dumps(figures, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
