"""`make bench-province` — a province of 1,000,000 households in 50 counties scored with Dask (issue 14).

Three runs of `risk score` through the CLI, each in a fresh subprocess so that every memory figure is
one process's own (its ``ru_maxrss``), all with the same model folder and operating point (top 5 %):

1. ``--engine local`` on the 200,000-household county of `make bench` (`bench/cache/county200k/`,
   bench_simulate's cache; built here when absent or stale) — the reference rate;
2. ``--engine dask --scheduler ADDR`` on the province. The harness starts the 2-worker LocalCluster
   itself (`risk.engine_dask.dask_client`, the cluster `--engine dask` would start) before the run
   and closes it after, so the subprocess is the client alone and the workers' memory can be
   sampled (psutil, every 0.1 s) while it runs. The cluster's start-up is reported beside the run,
   not in it: the issue's setting is a province on an existing cluster. ``--cluster own`` instead
   lets `risk score --engine dask` start its own LocalCluster (one worker per core, its start-up
   inside the run; the process then also hosts the scheduler) and samples the processes it spawns;
3. ``--engine local`` on the province when it fits: its peak is estimated from run 1's (× the
   households ratio) against the memory available now; when it does not fit, why is recorded.

End to end = the subprocess's wall time: interpreter start, imports, loading and validating the
data, scoring, explaining, writing. Households per second = the data's households ÷ that time.
Ratios printed and saved: the Dask province rate ÷ the local 200k rate (target ≥ 0.75) and the
client's peak memory (target < 1.5 GiB). Figures → ``bench/province.json`` (and
``results["province"]`` when run as a stage of `make bench`, which skips it while the province has
not been built: ``make bench-province`` builds it, or ``--build-only``).

Built once and cached under ``bench/cache/`` (simulation is never timed), keyed by the simulator's
source hash (``FANPIN_BENCH_SIMULATOR_KEY`` replaces it, as for bench_generalisation): the province
(`risk simulate --layout province`, 24 months ending 2026-10, seed 0, no truth) and a model folder
fitted on the province's first county (the default model shape on three as-of months).

Run: ``python bench/bench_province.py [--households 1000000] [--counties 50]
[--county-households 200000] [--province-local auto|always|never] [--build-only]``; a quick check:
``--households 100000 --counties 10 --county-households 20000``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
RESULTS = HERE / "province.json"
HOUSEHOLDS = 1_000_000
COUNTIES = 50
COUNTY_HOUSEHOLDS = 200_000
MONTHS = 24
END = "2026-10"
SEED = 0
WORKERS = 2
TOP_PERCENT = "5"
KEY = "bench-pseudonym-key"
#: Targets of issue 14.
RATE_RATIO_TARGET = 0.75
CLIENT_PEAK_TARGET_GIB = 1.5
#: The local engine on the province is tried only when its estimated peak stays below this share
#: of the memory available; a run is stopped when the machine's free memory falls below the floor.
LOCAL_FIT_SHARE = 0.8
MEMORY_FLOOR_GIB = 0.5
SAMPLE_SECONDS = 0.1
#: The projection: a province of 10⁷ households on N workers.
PROJECTED_HOUSEHOLDS = 10_000_000
PROJECTED_WORKERS = (2, 8, 32)


# ------------------------------------------------------------------------------ the cached inputs
def simulator_key() -> str:
    """The simulator's source hash (10 hex digits), or ``FANPIN_BENCH_SIMULATOR_KEY`` when set."""
    if key := os.environ.get("FANPIN_BENCH_SIMULATOR_KEY"):
        return key
    from bench_simulate import simulator_fingerprint  # noqa: PLC0415

    return simulator_fingerprint()[:10]


def province_path(households: int, counties: int) -> Path:
    """Where the province of this size is cached for the current simulator."""
    return CACHE / f"province-{households}-c{counties}-m{MONTHS}-s{SEED}-{simulator_key()}"


def cached_province(households: int, counties: int) -> Path | None:
    """The cached province when it is complete (written atomically: present means complete)."""
    from features.contract.province import county_folders  # noqa: PLC0415

    path = province_path(households, counties)
    if not path.is_dir():
        return None
    found = county_folders(path)
    return path if found is not None and len(found) == counties else None


def build_province(households: int, counties: int) -> tuple[Path, float | None]:
    """The cached province, simulated and written first when absent; seconds spent building."""
    if (path := cached_province(households, counties)) is not None:
        return path, None
    from simulation.province import write_province  # noqa: PLC0415

    path = province_path(households, counties)
    print(f"[bench] simulating the province ({households:,} households, {counties} counties) …")
    started = time.perf_counter()

    def report(county: Any, stage: str, done: int, total: int) -> None:
        if stage == "written":
            print(f"[bench]   {county.name} {county.households:,} households written", flush=True)

    write_province(
        path,
        households=households,
        counties=counties,
        seed=SEED,
        months=MONTHS,
        end=END,
        truth=False,
        progress=report,
    )
    return path, round(time.perf_counter() - started, 1)


def build_county(households: int) -> tuple[Path, float | None]:
    """The reference county: `make bench`'s 200,000-household cache, or one of another size."""
    from bench_simulate import CACHE as COUNTY200K  # noqa: PLC0415
    from bench_simulate import STAMP, simulator_fingerprint  # noqa: PLC0415

    if households == COUNTY_HOUSEHOLDS:
        path, stamp, fingerprint = COUNTY200K, STAMP, simulator_fingerprint()
    else:
        path = CACHE / f"county-{households}-m{MONTHS}-s{SEED}-{simulator_key()}"
        stamp, fingerprint = path / ".simulator.sha256", simulator_key()
    if stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return path, None
    from simulation import simulate, write_simulation  # noqa: PLC0415

    print(f"[bench] simulating the reference county ({households:,} households) …", flush=True)
    started = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    sim = simulate(households=households, months=MONTHS, end=END, seed=SEED, truth=False)
    write_simulation(sim, path, fmt="parquet")
    stamp.write_text(fingerprint + "\n")
    return path, round(time.perf_counter() - started, 1)


def build_model(province: Path) -> Path:
    """A model folder fitted once on the province's first county (cached beside the province)."""
    folder = province.parent / f"{province.name}-model"
    if (folder / "MLmodel").is_file():
        return folder
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from bench_score import fit_default_model  # noqa: PLC0415

    from features.contract.io import load_directory  # noqa: PLC0415
    from features.contract.province import county_folders  # noqa: PLC0415
    from training.registry import save_local  # noqa: PLC0415

    first = (county_folders(province) or [])[0]
    print(f"[bench] fitting the model on {first.name} …", flush=True)
    tables = load_directory(first.path, pseudonym_key=KEY.encode()).tables
    model, rows = fit_default_model(tables)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        save_local(model, staging / "model", signature_frame=rows)
        (staging / "model").replace(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def household_count(data: Path) -> int:
    """Households in a county directory or a province (from the parquet footers, nothing loaded)."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    from features.contract.province import county_folders  # noqa: PLC0415

    folders = [c.path for c in county_folders(data) or []] or [data]
    return sum(pq.ParquetFile(f / "households.parquet").metadata.num_rows for f in folders)


# ------------------------------------------------------------------------------ one measured run
class Sampler:
    """Peak resident memory of some processes, sampled in a thread; the machine's lowest free memory.

    With `spawned`, the processes `victim` starts (the workers of a cluster it starts itself) are
    sampled too, each from when it is first seen. When free memory falls below `MEMORY_FLOOR_GIB`,
    `victim` and its processes are killed (and `starved` set): a run that does not fit ends as
    "out of memory" rather than taking the machine down with it.
    """

    def __init__(self, pids: dict[str, int], *, victim: Any = None, spawned: bool = False) -> None:
        import psutil  # noqa: PLC0415

        self._psutil = psutil
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start = {name: self._rss(p) for name, p in self.processes.items()}
        self.peak = dict(self.start)
        self.victim = victim
        self.family = psutil.Process(victim.pid) if spawned and victim is not None else None
        self._helpers: set[int] = set()
        self.lowest_available = psutil.virtual_memory().available
        self.starved = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rss(self, process: Any) -> int:
        try:
            return int(process.memory_info().rss)
        except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
            return 0

    def _loop(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            self._discover()
            for name, process in self.processes.items():
                self.peak[name] = max(self.peak[name], self._rss(process))
            available = self._psutil.virtual_memory().available
            self.lowest_available = min(self.lowest_available, available)
            if available < MEMORY_FLOOR_GIB * 2**30 and self.victim is not None:
                self.starved = True
                for process in self._descendants():
                    process.kill()
                self.victim.kill()

    def _descendants(self) -> list[Any]:
        if self.family is None:
            return []
        try:
            return list(self.family.children(recursive=True))
        except self._psutil.NoSuchProcess:
            return []

    def _discover(self) -> None:
        for process in self._descendants():
            name = f"spawned {process.pid}"
            if name in self.processes or process.pid in self._helpers:
                continue
            try:
                command = " ".join(process.cmdline())
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
            if "resource_tracker" in command or "forkserver" in command:
                self._helpers.add(process.pid)  # multiprocessing's helpers, not workers
                continue
            self.processes[name] = process
            self.start[name] = self.peak[name] = self._rss(process)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def figures(self) -> dict[str, dict[str, float]]:
        """Per process: resident memory at the start and at the peak (GiB)."""
        return {
            name: {
                "start_rss_gib": round(self.start[name] / 2**30, 3),
                "peak_rss_gib": round(self.peak[name] / 2**30, 3),
            }
            for name in self.processes
        }


def score_in_subprocess(
    data: Path,
    out: Path,
    *,
    model: Path,
    engine: str,
    scheduler: str | None = None,
    workers: dict[str, int] | None = None,
    spawned: bool = False,
) -> dict[str, Any]:
    """`risk score` on `data` in a fresh process; its wall time, rate and memory (and the workers').

    `workers`: pids of the cluster's workers (started by the harness); `spawned`: the process starts
    its own cluster, whose processes are sampled as they appear.
    """
    report = out.parent / f"{out.name}.process.json"
    log = out.parent / f"{out.name}.log"
    argv = [
        "score", "--data", str(data), "--month", END, "--out", str(out), "--model", str(model),
        "--top-percent", TOP_PERCENT, "--engine", engine, "--no-progress",
        *(["--scheduler", scheduler] if scheduler else []),
    ]  # fmt: skip
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(report), "--", *argv]
    environment = {**os.environ, "FANPIN_PSEUDONYM_KEY": KEY, "OMP_WAIT_POLICY": "PASSIVE"}
    households = household_count(data)
    print(f"[bench] risk {' '.join(argv)}", flush=True)
    with log.open("w", encoding="utf-8") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=out.parent, env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
        pids = {"client": child.pid, **{f"worker {k}": v for k, v in (workers or {}).items()}}
        with Sampler(pids, victim=child, spawned=spawned) as sampler:
            code = child.wait()
        seconds = time.perf_counter() - started
    own = json.loads(report.read_text()) if report.is_file() else {}
    sampled = sampler.figures()
    figures: dict[str, Any] = {
        "engine": engine,
        "data": str(data),
        "households": households,
        "exit_code": code,
        "end_to_end_seconds": round(seconds, 2),
        "households_per_second": round(households / seconds, 1),
        "client_peak_rss_gib": own.get("peak_rss_gib", sampled["client"]["peak_rss_gib"]),
        "client_cpu_seconds": own.get("cpu_seconds"),
        "lowest_available_memory_gib": round(sampler.lowest_available / 2**30, 2),
    }
    if workers or spawned:
        figures["workers"] = {k: v for k, v in sampled.items() if k != "client"}
    if code != 0:
        figures["failed"] = "out of memory (stopped)" if sampler.starved else _tail(log)
        del figures["households_per_second"]
    return figures


def child(report: Path, argv: Sequence[str]) -> int:
    """In the subprocess: run the CLI here, then record this process's own peak memory and CPU."""
    code: int
    try:
        from risk.cli import main  # noqa: PLC0415

        code = main(list(argv))
    except SystemExit as done:
        code = int(done.code or 0) if not isinstance(done.code, str) else 1
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report.write_text(
        json.dumps(
            {
                "exit_code": code,
                "peak_rss_gib": round(usage.ru_maxrss / 2**20, 3),  # KiB on Linux
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            }
        )
    )
    return code


def _tail(log: Path, lines: int = 6) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return "\n".join(text[-lines:]) or "no output"


@contextmanager
def local_cluster(n_workers: int) -> Iterator[tuple[str, dict[str, int], float, Any]]:
    """A LocalCluster as `--engine dask` starts it: address, worker pids, start-up seconds, client.

    The harness's client reads the scheduler's task stream after the run (the workers' compute
    seconds); the run itself is another process with its own client.
    """
    import logging  # noqa: PLC0415

    from risk.engine_dask import dask_client  # noqa: PLC0415

    logging.getLogger("distributed").setLevel(logging.ERROR)
    started = time.perf_counter()
    with dask_client(n_workers=n_workers) as client:
        client.wait_for_workers(n_workers)
        seconds = time.perf_counter() - started
        pids = {address: int(pid) for address, pid in client.run(os.getpid).items()}
        yield client.scheduler.address, pids, round(seconds, 2), client


# ------------------------------------------------------------------------------ the benchmark
def measure(
    province: Path,
    county: Path,
    *,
    model: Path,
    province_local: str = "auto",
    workers: int = WORKERS,
    cluster: str = "harness",
) -> dict[str, Any]:
    """The three runs, the ratios against the targets, and whether both engines' lists agree."""
    figures: dict[str, Any] = {"model": str(model), "workers": workers}
    with tempfile.TemporaryDirectory(prefix="fanpin-bench-province-") as scratch:
        runs = Path(scratch)
        figures["local_county"] = score_in_subprocess(
            county, runs / "local-county", model=model, engine="local"
        )
        figures["dask_province"] = _dask_province(
            province, runs, model=model, workers=workers, cluster=cluster
        )
        figures["local_province"] = _local_province(
            province, runs, model=model, reference=figures["local_county"], choice=province_local
        )
        figures["dask_equals_local_province"] = _same_files(
            runs / "dask-province", runs / "local-province"
        )
    figures["ratios"] = ratios(figures)
    return figures


def _dask_province(
    province: Path, runs: Path, *, model: Path, workers: int, cluster: str
) -> dict[str, Any]:
    """`--engine dask` on the province: on a LocalCluster started (and timed) here, or its own."""
    if cluster == "own":  # `risk score --engine dask` starts a LocalCluster of one worker per core
        dask = score_in_subprocess(
            province, runs / "dask-province", model=model, engine="dask", spawned=True
        )
        dask["cluster"] = "started by risk score (one worker per core), inside the run"
        return dask
    try:
        with local_cluster(workers) as (address, pids, startup, client):
            client.get_task_stream()  # starts the scheduler's task stream (empty until asked once)
            since = time.time()
            dask = score_in_subprocess(
                province,
                runs / "dask-province",
                model=model,
                engine="dask",
                scheduler=address,
                workers=pids,
            )
            stream = client.get_task_stream(start=since)
    except Exception as error:  # noqa: BLE001 - a cluster that cannot start is a figure too
        return {"engine": "dask", "failed": f"LocalCluster: {type(error).__name__}: {error}"}
    dask["cluster_start_seconds"] = startup
    timings = _run_timings(runs / "dask-province")
    if timings:
        dask["stage_seconds"] = timings
        dask["worker_seconds_by_stage"] = worker_seconds_by_stage(stream, timings)
        dask["projection"] = projection(dask)
    dask["cluster"] = f"LocalCluster of {workers} workers started by the harness (--scheduler)"
    return dask


def _run_timings(out: Path) -> dict[str, float]:
    """The stage timings of a run's manifest (empty when the run wrote none)."""
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return {}
    return {k: float(v) for k, v in json.loads(manifest.read_text())["timings"].items()}


def worker_seconds_by_stage(
    stream: Sequence[dict[str, Any]], timings: dict[str, float]
) -> dict[str, float]:
    """The workers' compute seconds, by the stage in whose time window each task started.

    `stream` is the scheduler's task stream of the run (``Client.get_task_stream``); the stages'
    windows are the manifest's timings laid end to end from the first task's start (the feeds
    stage opens with the county loads).

    Examples
    --------
    >>> stream = [{"startstops": [{"action": "compute", "start": 10.0, "stop": 12.0}]},
    ...           {"startstops": [{"action": "compute", "start": 13.5, "stop": 14.0}]}]
    >>> worker_seconds_by_stage(stream, {"feeds": 3.0, "features": 2.0})
    {'feeds': 2.0, 'features': 0.5}
    """
    spans = [
        (float(step["start"]), float(step["stop"]))
        for task in stream
        for step in task.get("startstops", ())
        if step.get("action") == "compute"
    ]
    seconds = dict.fromkeys(timings, 0.0)
    if not spans:
        return seconds
    origin = min(start for start, _ in spans)
    ends, elapsed = [], 0.0
    for stage, duration in timings.items():
        elapsed += duration
        ends.append((elapsed, stage))
    for start, stop in spans:
        stage = next((name for end, name in ends if start - origin <= end), ends[-1][1])
        seconds[stage] += stop - start
    return {stage: round(value, 2) for stage, value in seconds.items()}


def projection(
    dask: dict[str, Any],
    *,
    households: int = PROJECTED_HOUSEHOLDS,
    workers: Sequence[int] = PROJECTED_WORKERS,
) -> dict[str, Any]:
    """Seconds for `households` on N workers, from this run's costs per household.

    Worker seconds per household (the task stream's compute seconds, by stage) spread over N
    workers, plus the client's CPU seconds per household (start-up included), which do not spread:
    ``households × (worker_s / N + client_s)``. Counties are the unit of work, so N is useful up
    to about the number of counties; the client's share bounds the speed-up.
    """
    n = max(int(dask["households"]), 1)
    by_stage = dask.get("worker_seconds_by_stage", {})
    worker = sum(by_stage.values()) / n
    client = float(dask.get("client_cpu_seconds") or 0.0) / n
    return {
        "households": households,
        "worker_seconds_per_household": {k: v / n for k, v in by_stage.items()},
        "worker_seconds_per_household_total": worker,
        "client_seconds_per_household": client,
        "seconds_by_workers": {
            str(count): round(households * (worker / count + client), 1) for count in workers
        },
    }


def _local_province(
    province: Path, runs: Path, *, model: Path, reference: dict[str, Any], choice: str
) -> dict[str, Any]:
    """The local engine on the whole province, when it fits (or when asked to try regardless)."""
    import psutil  # noqa: PLC0415

    if choice == "never":
        return {"skipped": "not asked (--province-local never)"}
    households = household_count(province)
    scale = households / max(reference.get("households", 1), 1)
    estimate = reference.get("client_peak_rss_gib", 0.0) * scale
    available = psutil.virtual_memory().available / 2**30
    if choice == "auto" and (
        reference.get("exit_code") != 0 or estimate > LOCAL_FIT_SHARE * available
    ):
        return {
            "skipped": (
                f"does not fit: estimated peak {estimate:.1f} GiB (the 200k county's "
                f"{reference.get('client_peak_rss_gib')} GiB × {scale:.1f}) against "
                f"{available:.1f} GiB available now"
            )
        }
    ran = score_in_subprocess(province, runs / "local-province", model=model, engine="local")
    ran["estimated_peak_gib"] = round(estimate, 2)
    return ran


def _same_files(one: Path, other: Path) -> dict[str, bool] | None:
    """Whether each output file of the two runs is byte-identical (None unless both ran)."""
    if not (one.is_dir() and other.is_dir()):
        return None
    names = sorted(
        p.relative_to(one).as_posix()
        for p in one.rglob("*")
        if p.is_file() and p.suffix in {".parquet", ".xlsx", ".csv"}
    )
    return {
        name: (other / name).is_file() and _sha256(one / name) == _sha256(other / name)
        for name in names
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ratios(figures: dict[str, Any]) -> dict[str, Any]:
    """Dask province rate ÷ local county rate, and the client's peak, against issue 14's targets."""
    local, dask = figures["local_county"], figures["dask_province"]
    out: dict[str, Any] = {
        "rate_target": RATE_RATIO_TARGET,
        "client_peak_target_gib": CLIENT_PEAK_TARGET_GIB,
        "client_peak_gib": dask.get("client_peak_rss_gib"),
    }
    if "households_per_second" in local and "households_per_second" in dask:
        ratio = dask["households_per_second"] / local["households_per_second"]
        out["dask_province_over_local_county_rate"] = round(ratio, 3)
        out["rate_met"] = ratio >= RATE_RATIO_TARGET
        out["client_peak_met"] = dask["client_peak_rss_gib"] < CLIENT_PEAK_TARGET_GIB
    return out


def print_figures(figures: dict[str, Any]) -> None:
    """Print the figures in a few lines."""
    for name in ("local_county", "dask_province", "local_province"):
        run = figures[name]
        if "skipped" in run:
            print(f"[bench] {name}: skipped — {run['skipped']}")
        elif "failed" in run:
            print(f"[bench] {name}: failed (exit {run['exit_code']}) — {run['failed']}")
        else:
            print(
                f"[bench] {name}: {run['households']:,} households in "
                f"{run['end_to_end_seconds']:.1f} s = {run['households_per_second']:,.0f}/s; "
                f"client peak {run['client_peak_rss_gib']:.2f} GiB"
            )
        for worker, memory in run.get("workers", {}).items():
            print(f"[bench]   {worker}: peak {memory['peak_rss_gib']:.2f} GiB")
    dask = figures["dask_province"]
    if "worker_seconds_by_stage" in dask:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in dask["worker_seconds_by_stage"].items())
        print(f"[bench] dask province, workers' compute seconds by stage: {stages}")
    if "projection" in dask:
        plan = dask["projection"]
        print(
            f"[bench] projection for {plan['households']:,} households: "
            f"{plan['worker_seconds_per_household_total'] * 1e3:.3f} worker ms and "
            f"{plan['client_seconds_per_household'] * 1e3:.3f} client ms a household → "
            + ", ".join(
                f"{count} workers ≈ {seconds / 60:.0f} min"
                for count, seconds in plan["seconds_by_workers"].items()
            )
        )
    r = figures["ratios"]
    if "dask_province_over_local_county_rate" in r:
        print(
            f"[bench] dask province rate ÷ local county rate = "
            f"{r['dask_province_over_local_county_rate']:.2f} (target ≥ {r['rate_target']}); "
            f"client peak {r['client_peak_gib']:.2f} GiB (target < {r['client_peak_target_gib']})"
        )


# ------------------------------------------------------------------------------ entry points
def run(results: dict[str, Any], data_dir: Path) -> None:
    """`make bench` stage: skipped while the province is not built (``make bench-province``)."""
    province = cached_province(HOUSEHOLDS, COUNTIES)
    if province is None:
        results["province"] = {
            "skipped": f"province not built ({province_path(HOUSEHOLDS, COUNTIES).name}); "
            "run `make bench-province` (or bench/bench_province.py --build-only)"
        }
        print(f"[bench] bench_province: {results['province']['skipped']}")
        return
    results["province"] = _measure_and_save(province, data_dir, build={})


def _measure_and_save(
    province: Path,
    county: Path,
    *,
    build: dict[str, Any],
    province_local: str = "auto",
    cluster: str = "harness",
) -> dict[str, Any]:
    model = build_model(province)
    figures: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "province": str(province),
        "county": str(county),
        "simulator": simulator_key(),
        "build_seconds": build,
        **measure(province, county, model=model, province_local=province_local, cluster=cluster),
    }
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    print_figures(figures)
    print(f"[bench] figures written to {RESULTS}")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Build what is missing, then measure (``--build-only``: build and stop)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--child"]:
        return child(Path(arguments[1]), arguments[3:])  # --child REPORT -- risk arguments
    sys.path.insert(0, str(HERE))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=HOUSEHOLDS)
    parser.add_argument("--counties", type=int, default=COUNTIES)
    parser.add_argument("--county-households", type=int, default=COUNTY_HOUSEHOLDS)
    parser.add_argument("--province-local", choices=("auto", "always", "never"), default="auto")
    parser.add_argument(
        "--cluster",
        choices=("harness", "own"),
        default="harness",
        help="harness: start the 2-worker LocalCluster here and pass --scheduler (default); "
        "own: let risk score --engine dask start its own",
    )
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(arguments)
    province, province_seconds = build_province(args.households, args.counties)
    county, county_seconds = build_county(args.county_households)
    build_model(province)
    build = {"province": province_seconds, "county": county_seconds}
    if args.build_only:
        print(f"[bench] built: {province} and {county} (seconds: {build})")
        return 0
    _measure_and_save(
        province, county, build=build, province_local=args.province_local, cluster=args.cluster
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
