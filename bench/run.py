"""`make bench`: speed and memory figures, measured in one run, printed as ratios, saved to JSON.

Builds (once, cached under bench/cache/) a simulated directory of 200,000 households × 24 months,
then runs each stage's benchmark module: simulation, features, training, scoring, scale, and
model quality on every simulated scenario (generalisation: its counties are cached separately), and the
province on Dask (bench_province: skipped, with a note, until `make bench-province` has built its
1,000,000-household province; its figures also go to bench/province.json). Each module
exposes ``run(results, data_dir)`` (simulation: ``run(results)``) and adds its figures to ``results``.
The stages run in one process and share what does not need measuring again (`session`: the
directory is loaded once, the trained model and the local run's outputs are reused by later stages).
Every stage's wall and CPU seconds, and the whole run's, go to ``results["bench_seconds"]``.
Not part of `make test`: timings belong here, not in unit tests.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
STAGES = (
    "bench_simulate",
    "bench_features",
    "bench_training",
    "bench_score",
    "bench_scale",
    "bench_generalisation",
    "bench_province",
)


def main() -> int:
    sys.path.insert(0, str(HERE))
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            "platform": platform.platform(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    data_dir = CACHE / "county200k"
    timings: dict[str, dict[str, float]] = {}
    results["bench_seconds"] = timings
    run_wall, run_cpu = time.perf_counter(), time.process_time()
    for name in STAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            print(f"[bench] {name}: not present, skipped")
            continue
        print(f"[bench] {name} …", flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        if name == "bench_simulate":
            module.run(results)
        else:
            module.run(results, data_dir)
        timings[name] = {
            "seconds": round(time.perf_counter() - start, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1),
        }
        print(f"[bench] {name} done in {timings[name]['seconds']} s", flush=True)
    timings["total"] = {
        "seconds": round(time.perf_counter() - run_wall, 1),
        "cpu_seconds": round(time.process_time() - run_cpu, 1),
    }
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(f"[bench] figures written to {out}; whole run {timings['total']['seconds']} s")
    return 0


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


if __name__ == "__main__":
    raise SystemExit(main())
