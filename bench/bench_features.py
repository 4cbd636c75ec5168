"""Feature-building throughput and memory at 200,000 households (`make bench`, via bench/run.py).

Figures added to ``results["features"]``:
- ``one_month``: `build_features` for the latest month — seconds, households/second, peak memory
  (tracemalloc: Python and NumPy allocations during the call) — and the process's peak RSS;
- ``panel_12m``: `build_panel` over the 12 latest months, same figures;
- ``month_by_month_12m``: the same 12 months built one `build_features` call at a time, and
  ``panel_speedup`` = month-by-month seconds / one-pass seconds (must be ≥ 3);
- ``load_seconds``: reading the directory (not part of the feature figures).

Wall seconds and CPU seconds (``time.process_time``) are both reported: on a machine shared with other
jobs, CPU seconds are the steadier measure of the work done.

When ``data_dir`` does not exist (the simulator has not produced it), a synthetic set of tables of
the same size is generated in memory instead, and ``source`` says so.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features, build_panel
from features.lines import MonitoringLines
from features.tables import Tables

PANEL_MONTHS = 12


def run(results: dict, data_dir: Path) -> None:
    """Time one month and a 12-month panel; add the figures to ``results["features"]``."""
    figures: dict[str, Any] = {}
    tables, figures["source"], figures["load_seconds"] = _tables(Path(data_dir))
    lines = MonitoringLines()
    n = len(tables.households)
    figures["households"] = n
    last = tables.export_month
    months = [last - k for k in range(PANEL_MONTHS - 1, -1, -1)]

    seconds, _ = _timed(lambda: build_features(tables, as_of=last, lines=lines))
    peak = _peak_bytes(lambda: build_features(tables, as_of=last, lines=lines))
    figures["one_month"] = _figures(seconds, n, peak)
    figures["one_month"]["cpu_seconds"] = round(
        _cpu_timed(lambda: build_features(tables, as_of=last, lines=lines)), 2
    )

    seconds, panel = _timed(lambda: build_panel(tables, months=months, lines=lines))
    figures["panel_12m"] = _figures(seconds, n * PANEL_MONTHS, None)
    figures["panel_12m"]["rows"] = len(panel)
    del panel
    figures["panel_12m"]["peak_memory_gib"] = (
        _peak_bytes(lambda: build_panel(tables, months=months, lines=lines)) / 2**30
    )

    figures["panel_12m"]["cpu_seconds"] = round(
        _cpu_timed(lambda: build_panel(tables, months=months, lines=lines)), 2
    )
    start, cpu_start = time.perf_counter(), time.process_time()
    for month in months:
        build_features(tables, as_of=month, lines=lines)
    loop, loop_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    figures["month_by_month_12m"] = {"seconds": round(loop, 2), "cpu_seconds": round(loop_cpu, 2)}
    figures["panel_speedup"] = round(loop / figures["panel_12m"]["seconds"], 2)
    figures["panel_speedup_cpu"] = round(loop_cpu / figures["panel_12m"]["cpu_seconds"], 2)
    figures["process_peak_rss_gib"] = round(_max_rss_bytes() / 2**30, 2)
    figures["within_budget_one_month"] = (
        figures["one_month"]["seconds"] < 60 and figures["one_month"]["peak_memory_gib"] < 8
    )
    results["features"] = figures


def _tables(data_dir: Path) -> tuple[Tables, str, float]:
    start = time.perf_counter()
    source = "synthetic (data_dir missing)"
    if data_dir.exists():
        from features.errors import DataContractError  # noqa: PLC0415
        from features.io import load_directory  # noqa: PLC0415

        try:
            tables = load_directory(data_dir, pseudonym_key=b"bench").tables
            return tables, str(data_dir), round(time.perf_counter() - start, 2)
        except DataContractError as error:
            source = f"synthetic ({data_dir} not loadable: {str(error)[:300]})"
    tables = synthetic_tables(n_households=200_000, n_months=24, seed=0)
    return tables, source, round(time.perf_counter() - start, 2)


def _timed(call: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def _cpu_timed(call: Any) -> float:
    """CPU seconds of this process (all threads): steadier than wall time on a shared machine."""
    start = time.process_time()
    call()
    return time.process_time() - start


def _peak_bytes(call: Any) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _figures(seconds: float, rows: int, peak: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "households_per_second": round(rows / seconds),
    }
    if peak is not None:
        out["peak_memory_gib"] = round(peak / 2**30, 3)
    return out


def _max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def synthetic_tables(*, n_households: int, n_months: int, seed: int) -> Tables:
    """Contract tables of realistic volume (not realism): for timing when no simulated data exist."""
    rng = np.random.default_rng(seed)
    end = pd.Period("2026-10", "M")
    first = end.ordinal - n_months + 1
    ids = np.array([f"H{i:07d}" for i in range(n_households)], dtype=object)
    households = pd.DataFrame(
        {
            "household_id": pd.Series(ids, dtype="str"),
            "county": pd.Series(rng.choice(["甲县", "乙县"], n_households), dtype="str"),
            "township": pd.Series(["t"] * n_households, dtype="str"),
            "village": pd.Series(["v"] * n_households, dtype="str"),
            "household_type": pd.Series(
                rng.choice(["脱贫户", "一般农户"], n_households), dtype="str"
            ),
            "exit_year": pd.Series(rng.integers(2016, 2021, n_households), dtype="Int64"),
            "relocated": pd.Series(rng.random(n_households) < 0.1, dtype="boolean"),
            "cultivated_land_mu": rng.gamma(2.0, 1.5, n_households),
        }
    )
    size = rng.integers(1, 7, n_households)
    member_household = np.repeat(np.arange(n_households), size)
    n_members = len(member_household)
    rank = np.arange(n_members) - np.repeat(np.cumsum(size) - size, size)
    person = np.array([f"P{i:08d}" for i in range(n_members)], dtype=object)
    birth = pd.to_datetime("1940-01-01") + pd.to_timedelta(rng.integers(0, 30000, n_members), "D")
    members = pd.DataFrame(
        {
            "person_id": pd.Series(person, dtype="str"),
            "household_id": pd.Series(ids[member_household], dtype="str"),
            "relation": pd.Series(np.where(rank == 0, "户主", "之子"), dtype="str"),
            "sex": pd.Series(rng.choice(["男", "女"], n_members), dtype="str"),
            "birth_date": pd.Series(birth).astype("datetime64[us]"),
            "education": pd.Series(rng.choice(["小学", "初中", "高中"], n_members), dtype="str"),
        }
    )

    def months_of(count: int) -> pd.Series:
        return pd.Series(
            pd.PeriodIndex.from_ordinals(rng.integers(first, end.ordinal + 1, count), freq="M")
        )

    def dates_of(count: int) -> pd.Series:
        return months_of(count).dt.to_timestamp().astype("datetime64[us]")

    hh_month = np.arange(n_households * n_months)
    seen = hh_month[rng.random(len(hh_month)) < 0.9]
    n_income = len(seen)
    income = pd.DataFrame(
        {
            "household_id": pd.Series(ids[seen // n_months], dtype="str"),
            "month": pd.Series(pd.PeriodIndex.from_ordinals(first + seen % n_months, freq="M")),
            "wage_income": rng.gamma(2.0, 600.0, n_income),
            "business_income": rng.gamma(1.0, 300.0, n_income),
            "business_expense": rng.gamma(1.0, 100.0, n_income),
            "property_income": rng.gamma(0.5, 20.0, n_income),
            "transfer_income": rng.gamma(1.0, 150.0, n_income),
        }
    )
    n_claims = n_members * n_months // 6
    claim_person = rng.integers(0, n_members, n_claims)
    total = rng.gamma(1.0, 3000.0, n_claims)
    medical = pd.DataFrame(
        {
            "person_id": pd.Series(person[claim_person], dtype="str"),
            "settle_date": dates_of(n_claims),
            "visit_type": pd.Series(
                rng.choice(["住院", "门诊慢特病", "普通门诊"], n_claims, p=[0.2, 0.3, 0.5]),
                dtype="str",
            ),
            "total_cost": total,
            "insurance_paid": total * 0.6,
            "critical_illness_paid": np.where(total > 20000, total * 0.1, 0.0),
            "assistance_paid": total * 0.05,
            "out_of_pocket": total * 0.25,
        }
    )
    n_disabled = n_members // 15
    disability = pd.DataFrame(
        {
            "person_id": pd.Series(
                person[rng.choice(n_members, n_disabled, replace=False)], dtype="str"
            ),
            "disability_type": pd.Series(["肢体"] * n_disabled, dtype="str"),
            "grade": pd.Series(rng.integers(1, 5, n_disabled), dtype="Int64"),
            "certified_date": dates_of(n_disabled),
        }
    )
    n_spells = n_members // 2
    start = rng.integers(first - 24, end.ordinal + 1, n_spells)
    stop = start + rng.integers(0, 18, n_spells)
    stop = np.where((stop > end.ordinal) | (rng.random(n_spells) < 0.2), -1, stop)
    employment = pd.DataFrame(
        {
            "person_id": pd.Series(person[rng.integers(0, n_members, n_spells)], dtype="str"),
            "start_month": pd.Series(pd.PeriodIndex.from_ordinals(start, freq="M")),
            "end_month": pd.Series(
                pd.PeriodIndex.from_ordinals(
                    np.where(stop < 0, np.iinfo(np.int64).min, stop), freq="M"
                )
            ),
            "work_location": pd.Series(
                rng.choice(["县内", "省内县外", "省外"], n_spells), dtype="str"
            ),
            "monthly_income": rng.gamma(3.0, 800.0, n_spells),
        }
    )
    n_payments = n_households * n_months // 8
    assistance = pd.DataFrame(
        {
            "household_id": pd.Series(ids[rng.integers(0, n_households, n_payments)], dtype="str"),
            "month": months_of(n_payments),
            "type": pd.Series(
                rng.choice(["低保金", "临时救助", "防贫保理赔", "医疗救助"], n_payments),
                dtype="str",
            ),
            "amount": rng.gamma(2.0, 300.0, n_payments),
        }
    )
    n_events = n_households // 10
    events = pd.DataFrame(
        {
            "household_id": pd.Series(ids[rng.integers(0, n_households, n_events)], dtype="str"),
            "person_id": pd.Series([None] * n_events, dtype="str"),
            "date": dates_of(n_events),
            "event_type": pd.Series(
                rng.choice(["自然灾害", "意外事故", "产业项目失败", "失业"], n_events), dtype="str"
            ),
            "loss_amount": rng.gamma(1.0, 5000.0, n_events),
        }
    )
    n_outcomes = n_households // 20
    identified = months_of(n_outcomes)
    outcomes = pd.DataFrame(
        {
            "household_id": pd.Series(ids[rng.integers(0, n_households, n_outcomes)], dtype="str"),
            "identified_month": identified,
            "category": pd.Series(["边缘易致贫户"] * n_outcomes, dtype="str"),
            "eliminated_month": identified + 8,
        }
    )
    return Tables(
        households=households,
        members=members,
        export_month=end,
        income=income,
        medical=medical,
        disability=disability,
        employment=employment,
        assistance=assistance,
        events=events,
        outcomes=outcomes,
    )


if __name__ == "__main__":
    import json

    sink: dict = {}
    run(sink, Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/cache/county200k"))
    print(json.dumps(sink, indent=2, ensure_ascii=False))
