"""What the `make bench` stages share within one run, and how every stage measures itself.

Loading the 200,000-household directory takes ~20 s; the stages used to load it once each (four
times per run). It is now loaded once, by the first stage that needs it, and that one load is timed
(wall, CPU, peak memory) and reported by every stage that uses the copy (``load`` figures, with
``shared: true`` in the stages that reused it). No stage modifies the tables.

The training stage leaves its model and its prepared rows here (the model-shape comparison and the
monthly run use them instead of fitting their own), and the monthly-run stage leaves its output
folder (the Dask stage compares its files with it instead of running the local engine again).

`measured` is the one way a stage is measured: wall seconds, CPU seconds of the process (all
threads; steadier than wall time on a machine shared with other jobs) and the peak resident memory
above the stage's start (sampled every 20 ms).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

#: One pseudonym key for the whole run (every stage sees the same household ids).
KEY = b"bench-pseudonym-key"

_state: dict[str, Any] = {}


def tables(data_dir: Path) -> tuple[Any, dict[str, Any]]:
    """The directory's tables, loaded once per run, and the figures of that one load."""
    key = ("tables", str(Path(data_dir).resolve()))
    if key in _state:
        loaded, figures = _state[key]
        return loaded, {**figures, "shared": True}
    from features.contract.io import load_directory  # noqa: PLC0415

    figures: dict[str, Any] = {}
    with measured(figures):
        loaded = load_directory(data_dir, pseudonym_key=KEY).tables
    _state[key] = (loaded, figures)
    return loaded, {**figures, "shared": False}


def put(name: str, value: Any) -> None:
    """Leave something for a later stage of this run."""
    _state[name] = value


def get(name: str) -> Any:
    """What an earlier stage of this run left under `name`, or None."""
    return _state.get(name)


def scratch() -> Path:
    """A temporary folder that lives until the end of the run (removed at exit)."""
    if "scratch" not in _state:
        _state["scratch"] = tempfile.TemporaryDirectory(prefix="fanpin-bench-")
    return Path(_state["scratch"].name)


@contextmanager
def measured(into: dict[str, Any], *, every: float = 0.02) -> Iterator[None]:
    """Add ``seconds``, ``cpu_seconds`` and ``peak_rss_above_start_gib`` of the block to `into`."""
    process = psutil.Process()
    start = process.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak[0] = max(peak[0], process.memory_info().rss)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        yield
    finally:
        into["seconds"] = round(time.perf_counter() - wall, 2)
        into["cpu_seconds"] = round(time.process_time() - cpu, 2)
        done.set()
        thread.join()
        peak[0] = max(peak[0], process.memory_info().rss)
        into["peak_rss_above_start_gib"] = round((peak[0] - start) / 2**30, 3)
