"""`risk simulate --layout province`: a province as a folder of county folders, one county at a time.

What is written (``DIR`` = ``--out``)::

    DIR/<county>/            one per county, exactly what the county layout writes for one county:
                             the contract tables, `_truth/` (truth.parquet, cases.parquet) unless
                             --no-truth, and `_cases/办理步骤.xlsx` with the truth
    DIR/export_<M>/<county>/ with --export-at M: the province as exported at the end of M (itself
                             a province: `risk score --data DIR/export_<M>` scores it)

Each county keeps its own truth in ``DIR/<county>/_truth/`` — the county folder is then exactly a
county directory — and `features.contract.province.county_folders` finds exactly the counties:
it skips folders starting with ``_`` and folders that hold no table files (``export_<M>/`` holds
county folders, not tables).

Counties are entries of `simulation.population.PROVINCE_COUNTIES` in order (folder = county name;
ids begin with the county's code, so they are unique across the province). Their sizes are unequal,
as real counties are (`county_sizes`), and each county is simulated alone, with its own seed derived
from the province's seed and its index (`county_seed`), then written and dropped before the next:
memory stays that of the largest county, whatever the province's size. Same seed, same bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from features.contract.errors import ConfigError, DataContractError
from features.contract.province import county_folders, holds_tables
from simulation.engine import DRAWS, simulate
from simulation.population import PROVINCE_COUNTIES
from simulation.writer import FORMATS, write_county, write_tables

#: The smallest county a province is split into (the simulator's own minimum).
MIN_COUNTY_HOUSEHOLDS = 10
#: Spread (log-normal sigma) of county sizes, as household counts differ between a province's
#: counties: 1,000,000 households in 50 counties (seed 0) gives 6,107 to 41,951 per county.
SIZE_SPREAD = 0.45
#: Streams of the province's seed: county sizes, and each county's own seed.
_SIZES_STREAM, _COUNTY_STREAM = 0, 1


@dataclass(frozen=True)
class CountyPlan:
    """One county of a simulated province: its place in the province, size and seed."""

    index: int
    name: str
    code: str
    households: int
    seed: int


@dataclass
class ProvinceSummary:
    """What `write_province` wrote.

    Attributes
    ----------
    path
        The province folder.
    counties
        The plan, in county order.
    rows
        Rows per table over the whole province (as exported at the last month).
    summaries
        Each county's `Simulation.summary` (oracle AUC and positive rate with the truth, timings).
    """

    path: Path
    counties: list[CountyPlan]
    rows: dict[str, int] = field(default_factory=dict)
    summaries: dict[str, dict[str, float]] = field(default_factory=dict)


#: Called as progress(county, stage, done, total); stage is "simulate" (months) or "written".
CountyProgress = Callable[[CountyPlan, str, int, int], None]


def county_sizes(households: int, counties: int, *, seed: int) -> np.ndarray:
    """Households per county: unequal (log-normal shares), at least 10 each, summing to `households`.

    Examples
    --------
    >>> sizes = county_sizes(1000, 4, seed=0)
    >>> int(sizes.sum()), bool(sizes.min() >= 10), len(set(sizes.tolist())) > 1
    (1000, True, True)
    """
    _check_plan(households=households, counties=counties, seed=seed)
    rng = np.random.default_rng([seed, _SIZES_STREAM])
    weights = rng.lognormal(0.0, SIZE_SPREAD, counties)
    spare = households - MIN_COUNTY_HOUSEHOLDS * counties
    share = weights / weights.sum() * spare
    sizes = np.floor(share).astype(np.int64)
    largest_remainders = np.argsort(-(share - sizes), kind="stable")
    sizes[largest_remainders[: spare - int(sizes.sum())]] += 1
    return sizes + MIN_COUNTY_HOUSEHOLDS


def county_seed(seed: int, index: int) -> int:
    """The seed county `index` of a province of seed `seed` is simulated with.

    Examples
    --------
    >>> county_seed(0, 1) == county_seed(0, 1) != county_seed(0, 2)
    True
    """
    state = np.random.SeedSequence([seed, _COUNTY_STREAM, index]).generate_state(1, np.uint64)
    return int(state[0])


def province_plan(*, households: int, counties: int, seed: int) -> list[CountyPlan]:
    """The counties of a simulated province: names and codes, sizes, seeds."""
    sizes = county_sizes(households, counties, seed=seed)
    return [
        CountyPlan(
            index=i,
            name=PROVINCE_COUNTIES[i][0],
            code=PROVINCE_COUNTIES[i][1],
            households=int(sizes[i]),
            seed=county_seed(seed, i),
        )
        for i in range(counties)
    ]


def write_province(
    out_dir: str | Path,
    *,
    households: int,
    counties: int,
    seed: int = 0,
    months: int = 36,
    end: str = "2026-10",
    truth: bool = True,
    export_at: Sequence[str] = (),
    scenario: str = "baseline",
    fmt: str = "parquet",
    draws: int = DRAWS,
    progress: CountyProgress | None = None,
) -> ProvinceSummary:
    """Simulate a province county by county and write it as ``DIR/<county>/`` folders.

    Everything is written into a temporary sibling folder first and moved into place at the end:
    a failed run leaves `out_dir` as it was. Over an earlier province, its county and export
    folders are replaced (and those this province does not have removed); other files, such as
    ``DIR/risk.toml``, are kept.

    Parameters
    ----------
    out_dir
        The province folder; must not be a county directory (holding table files itself).
    households, counties, seed
        Households over the whole province, counties (1 to ``len(PROVINCE_COUNTIES)``), seed.
    months, end, truth, export_at, scenario, draws
        As for `simulation.simulate`, for every county.
    fmt
        `parquet`, `csv` or `xlsx`.
    progress
        Optional callback ``progress(county, stage, done, total)``.

    Returns
    -------
    ProvinceSummary

    Raises
    ------
    ConfigError
        For an impossible plan or format, or an `out_dir` that is a county directory.
    OSError
        When the folder cannot be written (the message names it).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    plan = province_plan(households=households, counties=counties, seed=seed)
    out = Path(out_dir)
    _refuse_county_directory(out)
    summary = ProvinceSummary(path=out, counties=plan)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise OSError(f"cannot write to {out}: {error}") from error
    try:
        for county in plan:
            _simulate_county(
                county,
                staging,
                summary,
                months=months,
                end=end,
                truth=truth,
                export_at=export_at,
                scenario=scenario,
                fmt=fmt,
                draws=draws,
                progress=progress,
            )
        _move_into_place(staging, out)
    except OSError as error:
        raise OSError(f"cannot write to {out}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return summary


def _simulate_county(
    county: CountyPlan,
    staging: Path,
    summary: ProvinceSummary,
    *,
    months: int,
    end: str,
    truth: bool,
    export_at: Sequence[str],
    scenario: str,
    fmt: str,
    draws: int,
    progress: CountyProgress | None,
) -> None:
    """Simulate one county, write its folder (and its exports), add its rows to `summary`."""

    def report(stage: str, done: int, total: int) -> None:
        if progress:
            progress(county, stage, done, total)

    sim = simulate(
        households=county.households,
        months=months,
        end=end,
        counties=1,
        seed=county.seed,
        truth=truth,
        export_at=tuple(export_at),
        draws=draws,
        scenario=scenario,
        progress=report,
        first_county=county.index,
    )
    write_county(sim, staging / county.name, fmt=fmt)
    for month, tables in sim.exports.items():
        write_tables(tables, staging / f"export_{month}" / county.name, fmt=fmt)
    for name, frame in sim.tables.items():
        summary.rows[name] = summary.rows.get(name, 0) + len(frame)
    summary.summaries[county.name] = dict(sim.summary)
    report("written", 1, 1)


def _check_plan(*, households: int, counties: int, seed: int) -> None:
    if not 1 <= counties <= len(PROVINCE_COUNTIES):
        raise ConfigError(
            f"--counties must be between 1 and {len(PROVINCE_COUNTIES)} for a province "
            f"(模拟省份最多 {len(PROVINCE_COUNTIES)} 个县), got {counties}"
        )
    if households < MIN_COUNTY_HOUSEHOLDS * counties:
        raise ConfigError(
            f"--households {households}: a province of {counties} counties needs at least "
            f"{MIN_COUNTY_HOUSEHOLDS * counties} ({MIN_COUNTY_HOUSEHOLDS} per county)"
        )
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more, got {seed}")


def _refuse_county_directory(out: Path) -> None:
    if out.is_dir() and holds_tables(out):
        raise ConfigError(
            f"--out {out}: 该目录已是县级数据目录 it holds a county's table files; write the province "
            "into an empty folder (or over an earlier province)"
        )


def _earlier_folders(out: Path) -> list[Path]:
    """County and export folders an earlier province left in `out` (nothing else)."""
    try:
        counties = county_folders(out) or []
    except DataContractError:  # holds no counties
        counties = []
    exports = [p for p in out.iterdir() if p.is_dir() and p.name.startswith("export_")]
    return [county.path for county in counties] + exports


def _move_into_place(staging: Path, out: Path) -> None:
    """Rename the staging folder to `out`, or replace an earlier province's folders in it."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        staging.replace(out)
        return
    written = {item.name for item in staging.iterdir()}
    for earlier in _earlier_folders(out):
        if earlier.name not in written:  # a county or export this province does not have
            shutil.rmtree(earlier)
    for item in sorted(staging.iterdir()):
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        item.replace(target)
