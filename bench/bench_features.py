"""Feature-building throughput and memory at 200,000 households (`make bench`, via bench/run.py).

Figures added to ``results["features"]``:
- ``month_by_month_12m``: the 12 latest months built one `build_features` call at a time — seconds
  and CPU seconds of the loop, and of each month;
- ``one_month``: `build_features` for the latest month — the last call of that loop (the same call,
  not run a second time): seconds, CPU seconds, households/second, peak memory;
- ``panel_12m``: `build_panel` over the same 12 months in one pass, same figures, and
  ``panel_speedup`` = month-by-month seconds / one-pass seconds (must be ≥ 3; ``panel_speedup_cpu``
  the same in CPU seconds);
- ``load``: reading the directory (not part of the feature figures; shared with the later stages).

Each call is measured once (`session.measured`): wall and CPU seconds (on a machine shared with other
jobs, CPU seconds are the steadier measure of the work done) and the peak resident memory above the
call's start (``peak_memory_gib``, sampled every 20 ms).

When ``data_dir`` does not exist (the simulator has not produced it), a synthetic set of tables of
the same size is generated in memory instead, and ``source`` says so.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import session

from features.build import build_features, build_panel
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables

PANEL_MONTHS = 12


def run(results: dict, data_dir: Path) -> None:
    """Time one month and a 12-month panel; add the figures to ``results["features"]``."""
    figures: dict[str, Any] = {}
    tables, figures["source"], figures["load"] = _tables(Path(data_dir))
    figures["load_seconds"] = figures["load"].get("seconds")
    lines = MonitoringLines()
    n = len(tables.households)
    figures["households"] = n
    last = tables.export_month
    months = [last - k for k in range(PANEL_MONTHS - 1, -1, -1)]

    per_month: dict[str, dict[str, Any]] = {}
    for month in months:
        per_month[str(month)] = {}
        with session.measured(per_month[str(month)]):
            build_features(tables, as_of=month, lines=lines)
    loop = sum(m["seconds"] for m in per_month.values())
    loop_cpu = sum(m["cpu_seconds"] for m in per_month.values())
    figures["month_by_month_12m"] = {
        "seconds": round(loop, 2),
        "cpu_seconds": round(loop_cpu, 2),
        "per_month_seconds": {k: v["seconds"] for k, v in per_month.items()},
    }
    figures["one_month"] = _figures(per_month[str(last)], n)

    measure: dict[str, Any] = {}
    with session.measured(measure):
        panel = build_panel(tables, months=months, lines=lines)
    figures["panel_12m"] = {**_figures(measure, n * PANEL_MONTHS), "rows": len(panel)}
    del panel
    figures["panel_speedup"] = round(loop / figures["panel_12m"]["seconds"], 2)
    figures["panel_speedup_cpu"] = round(loop_cpu / figures["panel_12m"]["cpu_seconds"], 2)
    figures["process_peak_rss_gib"] = round(_max_rss_bytes() / 2**30, 2)
    figures["within_budget_one_month"] = (
        figures["one_month"]["seconds"] < 60 and figures["one_month"]["peak_memory_gib"] < 8
    )
    results["features"] = figures


def _tables(data_dir: Path) -> tuple[Tables, str, dict[str, Any]]:
    source = "synthetic (data_dir missing)"
    if data_dir.exists():
        from features.contract.errors import DataContractError  # noqa: PLC0415

        try:
            tables, load = session.tables(data_dir)
            return tables, str(data_dir), load
        except DataContractError as error:
            source = f"synthetic ({data_dir} not loadable: {str(error)[:300]})"
    start = time.perf_counter()
    tables = synthetic_tables(n_households=200_000, n_months=24, seed=0)
    return tables, source, {"seconds": round(time.perf_counter() - start, 2)}


def _figures(measure: dict[str, Any], rows: int) -> dict[str, Any]:
    return {
        "seconds": measure["seconds"],
        "cpu_seconds": measure["cpu_seconds"],
        "households_per_second": round(rows / max(measure["seconds"], 1e-9)),
        "peak_memory_gib": measure["peak_rss_above_start_gib"],
    }


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
