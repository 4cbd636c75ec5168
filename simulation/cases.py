"""The county's case register: each identification's dated steps, some late, some with a short notice.

DOMAIN.md's process: a lead (线索) must pass 入户核实 → 村级评议 → 公示 (at least 5 days, both ends
counted) → 乡镇审核 → 县级审定 within 15 days. The simulator decides only *that* a household is
identified in a month (`outcomes.identified_month`); this module dates the steps around that decision:

- every case approved in the last `REGISTER_MONTHS` months of the export: 县级审定 on a day of the
  identified month, the lead `duration` days before it, the steps in between;
- every household discovered but not yet approved at the export (still open): the lead on a day of the
  export month, the steps dated up to the export's last day kept, no 县级审定.

A share `LATE_SHARE` of cases take longer than 15 days, a share `SHORT_NOTICE_SHARE` post a notice of
2–4 days. These shares are assumptions of the simulated county, not measurements.

Which run a case belongs to: the run whose list was current when the lead came, i.e. the run of the
month before the lead's month (its list is dated the first day of the lead's month). ``run_month`` in
the truth says so, and ``案件编号`` in the register tells a household's cases apart: to import a run's
cases, keep the register rows whose case has that ``run_month`` (the run scored those households, none
of them was monitored then).

Everything here is drawn from its own random stream, so the tables and `truth.parquet` do not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

#: Step names in order (DOMAIN.md), as a step file spells them.
STEPS: tuple[str, ...] = ("线索", "入户核实", "村级评议", "公示", "乡镇审核", "县级审定")
NOTICE = "公示"
#: Days from the lead to 县级审定, and the shortest notice (DOMAIN.md).
DEADLINE_DAYS = 15
MIN_NOTICE_DAYS = 5
#: Months of approved cases the register keeps (the open ones are always kept).
REGISTER_MONTHS = 12
#: Assumed share of cases that miss the deadline, and of notices posted for 2–4 days only.
LATE_SHARE = 0.25
SHORT_NOTICE_SHARE = 0.2
#: Largest delay beyond the deadline of a late case, in days.
MAX_DELAY_DAYS = 12
#: Who records each step (offices, never a person's name).
HANDLERS: dict[str, str] = {
    "线索": "村委会",
    "入户核实": "驻村工作队",
    "村级评议": "村民代表会议",
    "公示": "村委会",
    "乡镇审核": "乡镇人民政府",
    "县级审定": "县乡村振兴局",
}
#: Columns of the register (the step file's headers, then the case number `risk review` ignores).
REGISTER_COLUMNS: tuple[str, ...] = (
    "户编号",
    "步骤",
    "日期",
    "公示开始日期",
    "公示结束日期",
    "经办人",
    "备注",
    "案件编号",
)
#: Columns of the register's truth (`_truth/cases.parquet`).
TRUTH_COLUMNS: tuple[str, ...] = (
    "case_id",
    "household_id",
    "run_month",
    "identified_month",
    "lead_date",
    "approved_date",
    "open",
    "as_of",
    "days_open",
    "overdue",
    "overdue_days",
    "notice_start",
    "notice_end",
    "notice_days",
    "notice_too_short",
)


@dataclass(frozen=True)
class CaseRegister:
    """The step rows of every case and the truth they were drawn from.

    Attributes
    ----------
    steps
        `REGISTER_COLUMNS`, one row per step, dates as ``YYYY-MM-DD`` text (``""`` when none).
    truth
        `TRUTH_COLUMNS`, one row per case: ``days_open`` until 县级审定 or, for open cases, until
        ``as_of`` (the export's last day); ``overdue_days`` beyond 15; ``notice_days`` with both
        ends counted (NaN when no notice was posted by ``as_of``).
    """

    steps: pd.DataFrame
    truth: pd.DataFrame


def case_register(
    outcomes: pd.DataFrame,
    pending: np.ndarray,
    *,
    export_month: str | pd.Period,
    rng: np.random.Generator,
    months: int = REGISTER_MONTHS,
) -> CaseRegister:
    """Date the steps of the recent identifications and of the cases still open at the export.

    Parameters
    ----------
    outcomes
        The outcomes table (``household_id, identified_month``) as exported.
    pending
        Household ids discovered but not yet approved at the end of the export month.
    export_month
        The export's last month; its last day is the day the register describes.
    rng
        The register's own random stream.
    months
        Months of approvals to keep, the export month included.

    Returns
    -------
    CaseRegister
    """
    last = pd.Period(export_month, freq="M")
    as_of = last.end_time.date()
    recent = outcomes.loc[
        outcomes["identified_month"].astype(str) > str(last - months),
        ["household_id", "identified_month"],
    ]
    recent = recent.sort_values(["identified_month", "household_id"], kind="stable")
    steps: list[dict[str, str]] = []
    truth: list[dict[str, object]] = []
    for row in recent.itertuples(index=False):
        month = pd.Period(str(row.identified_month), freq="M")
        approved = _day_in(month, rng)
        plan = _plan(rng)
        lead = approved - timedelta(days=plan.duration)
        _add(steps, truth, str(row.household_id), lead, plan, as_of=as_of, month=str(month))
    for household in sorted(str(h) for h in pending):
        lead = _day_in(last, rng)
        _add(steps, truth, household, lead, _plan(rng), as_of=as_of, month="")
    return CaseRegister(
        steps=pd.DataFrame(steps, columns=list(REGISTER_COLUMNS)),
        truth=_truth_frame(truth),
    )


@dataclass(frozen=True)
class _Plan:
    """Day offsets of each step from the lead (公示 as its first and last day)."""

    offsets: dict[str, int]
    notice_end: int
    duration: int


def _plan(rng: np.random.Generator) -> _Plan:
    late = rng.random() < LATE_SHARE
    short = rng.random() < SHORT_NOTICE_SHARE
    visit = int(rng.integers(1, 3))
    review = visit + int(rng.integers(1, 4))
    start = review + int(rng.integers(0, 2))
    length = int(rng.integers(2, 5)) if short else int(rng.integers(MIN_NOTICE_DAYS, 8))
    end = start + length - 1
    township = end + int(rng.integers(0, 3))
    shortest = township + 1  # at most 15 by the draws above
    if late:
        duration = DEADLINE_DAYS + int(rng.integers(1, MAX_DELAY_DAYS + 1))
    else:
        duration = int(rng.integers(shortest, DEADLINE_DAYS + 1))
    township += duration - shortest  # the delay sits with the township's review
    offsets = {
        "线索": 0,
        "入户核实": visit,
        "村级评议": review,
        "公示": start,
        "乡镇审核": township,
        "县级审定": duration,
    }
    return _Plan(offsets=offsets, notice_end=end, duration=duration)


def _day_in(month: pd.Period, rng: np.random.Generator) -> date:
    return month.start_time.date() + timedelta(days=int(rng.integers(0, month.days_in_month)))


def _add(
    steps: list[dict[str, str]],
    truth: list[dict[str, object]],
    household: str,
    lead: date,
    plan: _Plan,
    *,
    as_of: date,
    month: str,
) -> None:
    """Append a case's step rows (only those done by `as_of`; none past 乡镇审核 while open)."""
    case_id = f"{household}-{lead:%Y%m%d}"
    is_open = month == ""
    notice: tuple[date, date] | None = None
    for step in STEPS:
        day = lead + timedelta(days=plan.offsets[step])
        done = lead + timedelta(days=plan.notice_end) if step == NOTICE else day
        if done > as_of or (is_open and step == STEPS[-1]):
            break
        if step == NOTICE:
            notice = (day, done)
        steps.append(_step_row(household, step, day, notice if step == NOTICE else None, case_id))
    end = as_of if is_open else lead + timedelta(days=plan.duration)
    days_open = (end - lead).days
    notice_days = float((notice[1] - notice[0]).days + 1) if notice else float("nan")
    truth.append(
        {
            "case_id": case_id,
            "household_id": household,
            "run_month": str(pd.Period(lead, freq="M") - 1),
            "identified_month": month,
            "lead_date": lead.isoformat(),
            "approved_date": "" if is_open else end.isoformat(),
            "open": is_open,
            "as_of": as_of.isoformat(),
            "days_open": days_open,
            "overdue": days_open > DEADLINE_DAYS,
            "overdue_days": max(days_open - DEADLINE_DAYS, 0),
            "notice_start": notice[0].isoformat() if notice else "",
            "notice_end": notice[1].isoformat() if notice else "",
            "notice_days": notice_days,
            "notice_too_short": bool(notice) and notice_days < MIN_NOTICE_DAYS,
        }
    )


def _step_row(
    household: str, step: str, day: date, notice: tuple[date, date] | None, case_id: str
) -> dict[str, str]:
    return {
        "户编号": household,
        "步骤": step,
        "日期": "" if notice else day.isoformat(),
        "公示开始日期": notice[0].isoformat() if notice else "",
        "公示结束日期": notice[1].isoformat() if notice else "",
        "经办人": HANDLERS[step],
        "备注": "",
        "案件编号": case_id,
    }


def _truth_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS))
    for name in ("open", "overdue", "notice_too_short"):
        frame[name] = frame[name].astype(bool)
    for name in ("days_open", "overdue_days"):
        frame[name] = frame[name].astype("int64")
    frame["notice_days"] = frame["notice_days"].astype(float)
    return frame
