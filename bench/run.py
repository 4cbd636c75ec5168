"""`make bench`: speed and memory figures, measured in one run, printed as ratios, saved to JSON.

Builds (once, cached under bench/cache/) a simulated directory of 200,000 households × 24 months,
then runs each stage's benchmark module: simulation, features, training, scoring. Each module exposes
``run(results, data_dir)`` (simulation: ``run(results)``) and adds its figures to ``results``.
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
STAGES = ("bench_simulate", "bench_features", "bench_training", "bench_score", "bench_scale")


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
    for name in STAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            print(f"[bench] {name}: not present, skipped")
            continue
        print(f"[bench] {name} …", flush=True)
        start = time.perf_counter()
        if name == "bench_simulate":
            module.run(results)
        else:
            module.run(results, data_dir)
        print(f"[bench] {name} done in {time.perf_counter() - start:.1f} s", flush=True)
    out = HERE / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    print(f"[bench] figures written to {out}")
    return 0


def _cpus() -> int:
    import os

    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


if __name__ == "__main__":
    raise SystemExit(main())
