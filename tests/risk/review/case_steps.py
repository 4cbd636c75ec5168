"""Step files for the case tests: generated from a run's households, with their truth.

What the simulator should one day write itself (issue 16, part 3): each listed household's case steps
with dates, some cases late (县级审定 more than 15 days after the lead), some notices shorter than 5
days, some cases still open. Until then this generator plans them from a list of households and
records the truth it planted, computed from its own plan — not with the code under test.

A plain module (not conftest) so tests can import it by a name no other folder uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

HEADERS = ["户编号", "步骤", "日期", "公示开始日期", "公示结束日期", "经办人", "备注"]
STEPS = ["线索", "入户核实", "村级评议", "公示", "乡镇审核", "县级审定"]
DEADLINE = 15
MIN_NOTICE = 5


@dataclass
class StepPlan:
    """The planted step rows and their truth.

    Attributes
    ----------
    rows
        One row per step with the Chinese headers of a step file (dates as ``YYYY-MM-DD`` text).
    overdue
        Household → days beyond the 15-day deadline as of `today` (only overdue households).
    short_notice
        Household → notice length in days (both ends counted), for notices shorter than 5 days.
    open
        Households whose case has no 县级审定 yet.
    """

    rows: pd.DataFrame
    today: date
    overdue: dict[str, int] = field(default_factory=dict)
    short_notice: dict[str, int] = field(default_factory=dict)
    open: set[str] = field(default_factory=set)


def plan_steps(
    households: list[str],
    *,
    list_day: date,
    today: date,
    seed: int = 0,
    late_share: float = 0.3,
    short_share: float = 0.25,
    open_share: float = 0.25,
) -> StepPlan:
    """Plan every household's steps: on time or late, full or short notice, closed or open.

    A household's lead is the list day, or (for about a third) an earlier 线索 of its own, up to 8
    days before it. On-time cases reach 县级审定 within 15 days of the lead; late ones 16–24 days.
    """
    rng = np.random.default_rng(seed)
    rows: list[list[str]] = []
    plan = StepPlan(pd.DataFrame(), today)
    for household in households:
        own_lead = rng.random() < 0.35
        lead = list_day - timedelta(days=int(rng.integers(1, 9))) if own_lead else list_day
        days = _step_days(
            rng, lead, late=rng.random() < late_share, short=rng.random() < short_share
        )
        last = len(STEPS) - 1
        if rng.random() < open_share:
            last = int(rng.integers(1, len(STEPS) - 1))  # stops after 入户核实 … 乡镇审核
        kept = {step: day for step, day in days.items() if STEPS.index(step) <= last}
        kept = {step: day for step, day in kept.items() if step != "线索" or own_lead}
        rows += _rows(household, kept)
        _truth(plan, household, lead, kept)
    plan.rows = pd.DataFrame(rows, columns=HEADERS)
    return plan


def _step_days(
    rng: np.random.Generator, lead: date, *, late: bool, short: bool
) -> dict[str, object]:
    visit = lead + timedelta(days=int(rng.integers(1, 3)))
    review = visit + timedelta(days=int(rng.integers(1, 3)))
    start = review + timedelta(days=int(rng.integers(0, 2)))
    length = int(rng.integers(2, 5)) if short else int(rng.integers(5, 7))
    end = start + timedelta(days=length - 1)
    township = end + timedelta(days=int(rng.integers(0, 2)))
    county = township + timedelta(days=1)
    if late:
        target = int(rng.integers(DEADLINE + 1, DEADLINE + 10))
        shift = max(target - (county - lead).days, 1)
        township += timedelta(days=shift)
        county += timedelta(days=shift)
    return {
        "线索": lead,
        "入户核实": visit,
        "村级评议": review,
        "公示": (start, end),
        "乡镇审核": township,
        "县级审定": county,
    }


def _rows(household: str, steps: dict[str, object]) -> list[list[str]]:
    rows = []
    for step, day in steps.items():
        if isinstance(day, tuple):
            rows.append([household, step, "", day[0].isoformat(), day[1].isoformat(), "王干部", ""])
        else:
            assert isinstance(day, date)
            rows.append([household, step, day.isoformat(), "", "", "王干部", ""])
    return rows


def _truth(plan: StepPlan, household: str, lead: date, steps: dict[str, object]) -> None:
    if "公示" in steps:
        start, end = steps["公示"]  # type: ignore[misc]
        length = (end - start).days + 1
        if length < MIN_NOTICE:
            plan.short_notice[household] = length
    final = steps.get("县级审定")
    if final is None:
        plan.open.add(household)
    end_day = final if isinstance(final, date) else plan.today
    beyond = (end_day - lead).days - DEADLINE
    if beyond > 0:
        plan.overdue[household] = beyond


def write_step_file(rows: pd.DataFrame, path: Path) -> Path:
    """Write step rows as a step file: `.xlsx` (a title row above the headers) or `.csv`."""
    if path.suffix == ".csv":
        rows.to_csv(path, index=False, encoding="utf-8-sig")
        return path
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "办理步骤"
    sheet.append(["防止返贫监测 办理步骤登记表"])
    sheet.append(HEADERS)
    for record in rows.itertuples(index=False):
        sheet.append([value if value != "" else None for value in record])
    book.save(path)
    return path
