"""Cases and their deadlines: the dated steps after a lead, read from a step file, checked, stored.

A *case* is one household in one run. It starts with the lead (线索): the household's listing in the
run's warning list, or a 线索 step recorded with its own date. It must then pass 入户核实 → 村级评议 →
公示 (a public notice of at least `MIN_NOTICE_DAYS` days) → 乡镇审核 → 县级审定 within
`DEADLINE_DAYS` days of the lead (DOMAIN.md, "Process and deadlines"). A reviewer's 排除 ends the case.

Three parts:

- reading a step file (Excel or CSV, Chinese or English headers) into `CaseStep` records, every row
  checked, each problem naming file, row (as Excel or a text editor counts it) and column;
- checking the order of a household's steps against what the store already holds, inside the store's
  write transaction, so a file with any problem stores nothing (`record_steps`);
- `case_status`: a pure function from the step history to one row per case — days open, overdue
  (逾期N天), notice length (公示仅N天), the next step and how many days are left.

Counting days: a notice from 11-01 to 11-05 lasts 5 days (both ends count). A case is open
``today − lead`` days, or ``县级审定 − lead`` days once approved; it is overdue when that exceeds
`DEADLINE_DAYS`.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from features.contract.errors import DataContractError
from risk.atomic import OutputError
from risk.review.excel_io import (
    cell_id_text,
    cell_key,
    cell_text,
    is_blank_cell,
    parse_review_date,
)
from risk.review.run import ReviewRun
from risk.review.store import (
    CASE_STEPS,
    NOTICE_STEP,
    STEP_COLUMNS,
    CaseStep,
    ReviewStore,
    StepAddResult,
)

#: Days from the lead to 县级审定 (DOMAIN.md: "within 15 days of the first lead").
DEADLINE_DAYS = 15
#: The shortest public notice, both ends counted (DOMAIN.md: "at least 5 days").
MIN_NOTICE_DAYS = 5
#: An open case with this many days or fewer left is "due soon" (临近期限).
DUE_SOON_DAYS = 3
#: The step that ends every case.
FINAL_STEP = CASE_STEPS[-1]
#: Columns of `case_status`, in order.
CASE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "household_id",
    "lead_date",
    "lead_source",
    "last_step",
    "last_date",
    "next_step",
    "deadline",
    "closed",
    "closed_by",
    "days_open",
    "days_left",
    "overdue",
    "overdue_days",
    "due_soon",
    "notice_start",
    "notice_end",
    "notice_days",
    "notice_too_short",
    "flags",
)

#: Header of each column of a step file; English names are accepted too.
STEP_HEADERS: dict[str, str] = {
    "household_id": "户编号",
    "step": "步骤",
    "step_date": "日期",
    "notice_start": "公示开始日期",
    "notice_end": "公示结束日期",
    "handler": "经办人",
    "note": "备注",
}
_ENGLISH_ALIASES = {
    "step_date": ("date",),
    "notice_start": ("notice_from",),
    "notice_end": ("notice_to",),
}
#: Other spellings of the steps met in county files.
STEP_ALIASES: dict[str, str] = {
    "线索发现": "线索",
    "入户": "入户核实",
    "入户核查": "入户核实",
    "村级评议": "村级评议",
    "村民代表评议": "村级评议",
    "民主评议": "村级评议",
    "公示": "公示",
    "村级公示": "公示",
    "乡镇审核": "乡镇审核",
    "乡镇审查": "乡镇审核",
    "县级审定": "县级审定",
    "县级审批": "县级审定",
    "县级确认": "县级审定",
}
_HEADER_SCAN_ROWS = 20
_ORDER = {name: number for number, name in enumerate(CASE_STEPS)}


@dataclass(frozen=True)
class StepProblem:
    """A problem with one row of a step file (`row` as the user counts it, `column` its header)."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} 第{self.row}行 row {self.row}, 列 column {self.column}: {self.message}"


class StepFileError(DataContractError):
    """A step file (or a page entry) with problems: nothing of it was stored."""

    def __init__(self, problems: Sequence[StepProblem]) -> None:
        self.problems = list(problems)
        shown = "\n".join(f"  {problem}" for problem in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  … {more} more" if more > 0 else ""
        super().__init__(
            f"{len(self.problems)} 处错误, 未保存任何步骤 {len(self.problems)} problem(s); "
            f"nothing was stored — fix them and import the file again:\n{shown}{tail}"
        )


@dataclass(frozen=True)
class StepRows:
    """The steps read from one file: (row number, step), and the column letter of each field."""

    file: Path
    steps: list[tuple[int, CaseStep]]
    letters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepImportSummary:
    """What a step import did."""

    file: Path
    read: int
    result: StepAddResult

    def text(self) -> str:
        """A one-line summary in Chinese and English (what the CLI prints)."""
        return (
            f"{self.file.name}: 读取 read {self.read}, 新增 new {len(self.result.new)}, "
            f"更正 corrected {len(self.result.corrected)}, 未变 unchanged "
            f"{len(self.result.unchanged)}"
        )


# -- reading a step file ---------------------------------------------------------------------------
def read_step_file(path: str | Path, *, run: ReviewRun, source: str = "excel") -> StepRows:
    """Read and check every row of a step file (`.xlsx` or `.csv`).

    Parameters
    ----------
    path
        The file: headers 户编号, 步骤, 日期, 公示开始日期, 公示结束日期, 经办人, 备注 (or their English
        names) on any of the first rows; CSV in UTF-8 or GB18030.
    run
        The run the cases belong to: every 户编号 must be among its scored households.
    source
        The store's channel name for these rows.

    Returns
    -------
    StepRows

    Raises
    ------
    StepFileError
        Listing every bad row (unknown household or step, a bad date, a notice that ends before it
        starts, one step twice with different entries).
    DataContractError
        When the file cannot be read or has no 户编号 and 步骤 headers.
    """
    file = Path(path)
    header_row, columns, rows = _table_rows(file)
    letters = {name: get_column_letter(index + 1) for name, index in columns.items()}
    known = run.household_ids()
    problems: list[StepProblem] = []
    steps: list[tuple[int, CaseStep]] = []
    for number, row in rows:
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        if all(is_blank_cell(value) for value in cells.values()):
            continue
        parsed = _parse_step_row(
            cells, _Where(file.name, number, letters), run=run, known=known, source=source
        )
        if isinstance(parsed, CaseStep):
            steps.append((number, parsed))
        else:
            problems += parsed
    problems += _duplicate_problems(file.name, steps, letters)
    if problems:
        raise StepFileError(sorted(problems, key=lambda p: (p.row, p.column)))
    return StepRows(file, steps, letters)


def _table_rows(file: Path) -> tuple[int, dict[str, int], list[tuple[int, tuple[Any, ...]]]]:
    """(header row, field → column index, [(row number, cells)]) of the file's first fitting table."""
    if not file.is_file():
        raise DataContractError(f"{file}: not found; --file must be the step file (.xlsx or .csv)")
    if file.suffix.lower() == ".csv":
        tables = [_csv_rows(file)]
    elif file.suffix.lower() in (".xlsx", ".xlsm"):
        tables = _xlsx_rows(file)
    else:
        raise DataContractError(
            f"{file}: expected an .xlsx or .csv step file (步骤文件应为 .xlsx 或 .csv)"
        )
    for rows in tables:
        for number, row in rows[:_HEADER_SCAN_ROWS]:
            columns = _header_columns(row)
            if {"household_id", "step"} <= set(columns):
                return number, columns, [(n, r) for n, r in rows if n > number]
    raise DataContractError(
        f"{file}: no header row with 户编号 and 步骤 in the first {_HEADER_SCAN_ROWS} rows; the step "
        f"file needs the columns {', '.join(STEP_HEADERS.values())}"
    )


def _csv_rows(file: Path) -> list[tuple[int, tuple[Any, ...]]]:
    raw = file.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise DataContractError(f"{file}: neither UTF-8 nor GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    for cells in reader:
        rows.append((reader.line_num, tuple(cells)))
    return rows


def _xlsx_rows(file: Path) -> list[list[tuple[int, tuple[Any, ...]]]]:
    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise DataContractError(
            f"{file}: cannot be read as an .xlsx workbook ({type(error).__name__}: {error}); "
            "save it from Excel or WPS as .xlsx"
        ) from error
    try:
        tables = []
        for sheet in book.worksheets:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()
            values = sheet.iter_rows(values_only=True)
            tables.append([(number, tuple(row)) for number, row in enumerate(values, start=1)])
        return tables
    finally:
        book.close()


def _header_columns(row: tuple[Any, ...]) -> dict[str, int]:
    keys = [cell_key(value) for value in row]
    columns: dict[str, int] = {}
    for name, label in STEP_HEADERS.items():
        for spelling in (label, name, *_ENGLISH_ALIASES.get(name, ())):
            if cell_key(spelling) in keys:
                columns[name] = keys.index(cell_key(spelling))
                break
    return columns


@dataclass(frozen=True)
class _Where:
    file: str
    row: int
    letters: dict[str, str]

    def problem(self, name: str, message: str) -> StepProblem:
        return StepProblem(self.file, self.row, _column(name, self.letters), message)


def _parse_step_row(
    cells: dict[str, Any], where: _Where, *, run: ReviewRun, known: frozenset[str], source: str
) -> CaseStep | list[StepProblem]:
    problems: list[StepProblem] = []
    household = cell_id_text(cells.get("household_id"))
    if not household:
        problems.append(where.problem("household_id", "户编号为空 户编号 is empty"))
    elif household not in known:
        problems.append(
            where.problem(
                "household_id",
                f"户编号 {household} 不在本次运行的名单或评分中 is not a household of run "
                f"{run.run_id}; check that the file belongs to this --run",
            )
        )
    step = _step_name(cells.get("step"))
    if step is None:
        problems.append(
            where.problem(
                "step",
                f"{cell_text(cells.get('step'))!r} 不是有效步骤 is not a step; expected one of "
                f"{' / '.join(CASE_STEPS)}",
            )
        )
    read = {name: _date(cells.get(name), name, where, problems) for name in _DATE_FIELDS}
    dates = {name: value or "" for name, value in read.items()}
    if step is not None and None not in read.values():
        _check_step_dates(step, dates, where, problems)
    if problems:
        return problems
    assert step is not None  # for mypy: a missing step is a problem above
    step_date = dates["notice_start"] if step == NOTICE_STEP else dates["step_date"]
    return CaseStep(
        run_id=run.run_id,
        month=run.month,
        household_id=household,
        step=step,
        step_date=step_date,
        source=source,
        notice_start=dates["notice_start"],
        notice_end=dates["notice_end"],
        handler=cell_text(cells.get("handler")),
        note=cell_text(cells.get("note")),
    )


_DATE_FIELDS = ("step_date", "notice_start", "notice_end")


def _date(value: Any, name: str, where: _Where, problems: list[StepProblem]) -> str | None:
    """``YYYY-MM-DD`` (``""`` when empty); None, with a problem noted, when unreadable."""
    try:
        return parse_review_date(value)[:10]
    except ValueError as error:
        problems.append(where.problem(name, str(error)))
        return None


def _check_step_dates(
    step: str, dates: dict[str, str], where: _Where, problems: list[StepProblem]
) -> None:
    start, end = dates["notice_start"], dates["notice_end"]
    if step == NOTICE_STEP:
        start = start or dates["step_date"]
        dates["notice_start"] = start
        for name, value in (("notice_start", start), ("notice_end", end)):
            if not value:
                problems.append(
                    where.problem(name, f"公示 需要{STEP_HEADERS[name]} 公示 needs this date")
                )
        if start and end and end < start:
            problems.append(
                where.problem(
                    "notice_end",
                    f"公示结束日期 {end} 早于开始日期 {start}: the notice ends before it starts; "
                    "are the two dates swapped?",
                )
            )
        return
    if not dates["step_date"]:
        problems.append(where.problem("step_date", f"{step} 需要日期 needs its date (日期)"))
    for name in ("notice_start", "notice_end"):
        if dates[name]:
            problems.append(
                where.problem(
                    name,
                    f"{STEP_HEADERS[name]} 只属于公示 belongs to 公示 rows only, not to {step}",
                )
            )


def _duplicate_problems(
    file: str, steps: list[tuple[int, CaseStep]], letters: dict[str, str]
) -> list[StepProblem]:
    """One household and step in several rows with different entries: every such row is bad."""
    rows: dict[tuple[str, str], list[tuple[int, CaseStep]]] = {}
    for number, step in steps:
        rows.setdefault((step.household_id, step.step), []).append((number, step))
    problems = []
    for (household, name), entries in rows.items():
        if len({step.content() for _, step in entries}) > 1:
            numbers = ", ".join(str(number) for number, _ in entries)
            where = _column("step", letters)
            problems += [
                StepProblem(
                    file,
                    number,
                    where,
                    f"户编号 {household} 的 {name} 在第 {numbers} 行各不相同 appears in rows "
                    f"{numbers} with different entries; keep one row per household and step",
                )
                for number, _ in entries
            ]
    return problems


# -- the order of steps -----------------------------------------------------------------------------
def order_problems(
    new: Sequence[tuple[int, CaseStep]],
    stored: pd.DataFrame,
    *,
    file: str,
    letters: dict[str, str] | None = None,
) -> list[StepProblem]:
    """Steps out of order once the new rows join the stored ones (pure).

    For each household the current steps (a new row replaces the stored record of its step) must
    follow `CASE_STEPS`: no step without the one before it (线索 aside: the listing is the lead),
    and no date before the previous step's (for 公示 its start; after 公示, its end).

    Parameters
    ----------
    new
        (row number, step) of the rows being added.
    stored
        The current steps already in the store (`STEP_COLUMNS`).
    file, letters
        The file name and its column letters, for the messages.

    Returns
    -------
    list of StepProblem
        One per bad new row, blaming the later step of a pair when it is new.
    """
    letters = letters or {}
    rows = {(step.household_id, step.step): (number, step) for number, step in new}
    households = sorted({step.household_id for _, step in new})
    problems: list[StepProblem] = []
    for household in households:
        chain = _current_chain(household, stored, new)
        problems += _chain_problems(household, chain, rows, file=file, letters=letters)
    return problems


def _current_chain(
    household: str, stored: pd.DataFrame, new: Sequence[tuple[int, CaseStep]]
) -> dict[str, tuple[str, str, str]]:
    """step → (step_date, notice_start, notice_end) for one household, new rows winning."""
    chain: dict[str, tuple[str, str, str]] = {}
    if len(stored):
        mine = stored.loc[stored["household_id"] == household]
        for row in mine.itertuples(index=False):
            chain[row.step] = (row.step_date, row.notice_start, row.notice_end)
    for _, step in new:
        if step.household_id == household:
            chain[step.step] = (step.step_date, step.notice_start, step.notice_end)
    return chain


def _chain_problems(
    household: str,
    chain: dict[str, tuple[str, str, str]],
    rows: dict[tuple[str, str], tuple[int, CaseStep]],
    *,
    file: str,
    letters: dict[str, str],
) -> list[StepProblem]:
    problems = []
    present = [name for name in CASE_STEPS if name in chain]
    for name in present:
        index = _ORDER[name]
        if index <= 1 or (household, name) not in rows:
            continue  # 线索 and 入户核实 may follow the listing itself
        before = CASE_STEPS[index - 1]
        if before not in chain:
            number = rows[(household, name)][0]
            problems.append(
                StepProblem(
                    file,
                    number,
                    _column("step", letters),
                    f"户编号 {household}: {name} 之前缺少 {before} — {name} has no {before} before "
                    f"it; record the steps in order ({' → '.join(CASE_STEPS)})",
                )
            )
    for earlier, later in zip(present, present[1:], strict=False):
        problem = _pair_problem(household, earlier, later, chain, rows, file, letters)
        if problem is not None:
            problems.append(problem)
    return problems


def _pair_problem(
    household: str,
    earlier: str,
    later: str,
    chain: dict[str, tuple[str, str, str]],
    rows: dict[tuple[str, str], tuple[int, CaseStep]],
    file: str,
    letters: dict[str, str],
) -> StepProblem | None:
    earlier_day = chain[earlier][2] if earlier == NOTICE_STEP else chain[earlier][0]
    later_day = chain[later][1] if later == NOTICE_STEP else chain[later][0]
    if later_day >= earlier_day:
        return None
    blamed = later if (household, later) in rows else earlier
    if (household, blamed) not in rows:
        return None  # both stored already: not this file's doing
    if blamed == later:
        name = "notice_start" if later == NOTICE_STEP else "step_date"
    else:
        name = "notice_end" if earlier == NOTICE_STEP else "step_date"
    earlier_what = f"{earlier}{'结束' if earlier == NOTICE_STEP else ''}"
    later_what = f"{later}{'开始' if later == NOTICE_STEP else ''}"
    return StepProblem(
        file,
        rows[(household, blamed)][0],
        _column(name, letters),
        f"户编号 {household}: {later_what} {later_day} 早于 {earlier_what} {earlier_day} — "
        f"{later} is dated before {earlier}; the steps go {' → '.join(CASE_STEPS)}",
    )


# -- storing -----------------------------------------------------------------------------------------
def record_steps(
    steps: Sequence[tuple[int, CaseStep]],
    *,
    store: ReviewStore,
    file: str,
    letters: dict[str, str] | None = None,
) -> StepAddResult:
    """Store checked steps in one transaction; raise `StepFileError` (storing nothing) on bad order.

    The order is checked inside the store's write transaction against the steps stored by then.
    """

    def check(stored: pd.DataFrame) -> None:
        problems = order_problems(steps, stored, file=file, letters=letters)
        if problems:
            raise StepFileError(sorted(problems, key=lambda p: (p.row, p.column)))

    return store.add_steps((step for _, step in steps), check=check)


def import_step_file(path: str | Path, *, run: ReviewRun, store: ReviewStore) -> StepImportSummary:
    """Read, check and store a step file: all its rows, or none when any row has a problem.

    Raises
    ------
    StepFileError
        Listing every problem (file, row, column, in Chinese and English); nothing is stored.
    """
    rows = read_step_file(path, run=run)
    result = record_steps(rows.steps, store=store, file=rows.file.name, letters=rows.letters)
    return StepImportSummary(rows.file, len(rows.steps), result)


def record_step(
    *,
    run: ReviewRun,
    store: ReviewStore,
    household_id: str,
    step: str,
    step_date: str = "",
    notice_start: str = "",
    notice_end: str = "",
    handler: str = "",
    note: str = "",
) -> StepAddResult:
    """Record one step entered on the review page (source ``web``), checked like a file row.

    Raises
    ------
    StepFileError
        The entry's problems, with ``网页 web page`` as the file and row 1.
    """
    cells = {
        "household_id": household_id,
        "step": step,
        "step_date": step_date,
        "notice_start": notice_start,
        "notice_end": notice_end,
        "handler": handler,
        "note": note,
    }
    where = _Where("网页 web page", 1, {})
    parsed = _parse_step_row(cells, where, run=run, known=run.household_ids(), source="web")
    if not isinstance(parsed, CaseStep):
        raise StepFileError(parsed)
    return record_steps([(1, parsed)], store=store, file=where.file, letters=where.letters)


# -- the cases of a run --------------------------------------------------------------------------------
def list_date(run: ReviewRun) -> str:
    """The day a run's list counts as a lead: the first day after the scored month.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> list_date(SimpleNamespace(month="2026-10"))
    '2026-11-01'
    """
    return (pd.Period(run.month, freq="M") + 1).start_time.date().isoformat()


def case_history(run: ReviewRun, store: ReviewStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's cases as `case_status` reads them: (steps, current decisions).

    Every household on the run's list (warned or audit) and every household with a stored step is a
    case. A case without a recorded 线索 gets one dated `list_date(run)` (``source`` ``list``).
    """
    steps = store.current_steps(run.run_id)
    listed = set(run.review_list()["household_id"].astype(str))
    with_lead = set(steps.loc[steps["step"] == CASE_STEPS[0], "household_id"])
    households = sorted((listed | set(steps["household_id"])) - with_lead)
    leads = pd.DataFrame(
        {
            "id": -1,
            "run_id": run.run_id,
            "month": run.month,
            "household_id": households,
            "step": CASE_STEPS[0],
            "step_date": list_date(run),
            "notice_start": "",
            "notice_end": "",
            "handler": "",
            "note": "",
            "source": "list",
            "recorded_at": "",
        },
        columns=list(STEP_COLUMNS),
    )
    history = pd.concat([leads, steps], ignore_index=True) if len(steps) else leads
    return history, store.current(run.run_id)


def case_status(
    history: pd.DataFrame,
    *,
    today: date | str,
    decisions: pd.DataFrame | None = None,
    deadline_days: int = DEADLINE_DAYS,
    min_notice_days: int = MIN_NOTICE_DAYS,
    due_soon_days: int = DUE_SOON_DAYS,
) -> pd.DataFrame:
    """One row per case with its deadline state (pure: no clock, no files).

    Parameters
    ----------
    history
        Case steps (`STEP_COLUMNS`; at least ``run_id, household_id, step, step_date,
        notice_start, notice_end``). When a step appears more than once for a case, the last row
        counts. A case without 线索 is led by its earliest step (``lead_source`` ``earliest_step``).
    today
        The day the status describes (``YYYY-MM-DD`` or a date).
    decisions
        Current reviewer decisions (``run_id, household_id, decision, decided_at``): a 排除 closes
        the case on its date (or on `today` when it has none).
    deadline_days, min_notice_days, due_soon_days
        The 15-day deadline, the 5-day notice, and how near a deadline counts as due soon.

    Returns
    -------
    DataFrame
        `CASE_COLUMNS`: dates as ``YYYY-MM-DD`` text (``""`` when none); ``days_open`` until today or
        until the case closed; ``overdue`` when that exceeds the deadline (``overdue_days`` by how
        much); ``days_left`` before the deadline for open cases; ``notice_days`` counted with both
        ends (NaN without a notice); ``flags`` the reasons in Chinese (逾期N天, 公示仅N天, 临近期限).

    Examples
    --------
    >>> h = pd.DataFrame({"run_id": "r", "household_id": "H1",
    ...     "step": ["线索", "公示", "县级审定"], "step_date": ["2026-11-01", "2026-11-05", "2026-11-20"],
    ...     "notice_start": ["", "2026-11-05", ""], "notice_end": ["", "2026-11-08", ""]})
    >>> row = case_status(h, today="2026-12-01").iloc[0]
    >>> int(row["days_open"]), int(row["overdue_days"]), float(row["notice_days"]), row["flags"]
    (19, 4, 4.0, '逾期4天；公示仅4天')
    """
    day = date.fromisoformat(today) if isinstance(today, str) else today
    if history.empty:
        return pd.DataFrame(columns=list(CASE_COLUMNS))
    ended = _ended_by_decision(decisions, day)
    frames = history.groupby(["run_id", "household_id"], sort=True)
    rows = [
        _case_row(
            run_id,
            household,
            steps,
            today=day,
            ended=ended.get((run_id, household)),
            deadline_days=deadline_days,
            min_notice_days=min_notice_days,
            due_soon_days=due_soon_days,
        )
        for (run_id, household), steps in frames
    ]
    frame = pd.DataFrame(rows, columns=list(CASE_COLUMNS))
    for name in ("days_open", "overdue_days"):
        frame[name] = frame[name].astype("int64")
    frame["days_left"] = frame["days_left"].astype("Int64")
    frame["notice_days"] = frame["notice_days"].astype(float)
    return frame


def _ended_by_decision(decisions: pd.DataFrame | None, today: date) -> dict[tuple[str, str], date]:
    if decisions is None or decisions.empty:
        return {}
    excluded = decisions.loc[decisions["decision"] == "排除"]
    ended = {}
    for row in excluded.itertuples(index=False):
        text = str(row.decided_at or "")[:10]
        ended[(str(row.run_id), str(row.household_id))] = (
            date.fromisoformat(text) if text else today
        )
    return ended


def _case_row(
    run_id: str,
    household: str,
    steps: pd.DataFrame,
    *,
    today: date,
    ended: date | None,
    deadline_days: int,
    min_notice_days: int,
    due_soon_days: int,
) -> dict[str, Any]:
    latest = steps.drop_duplicates("step", keep="last").set_index("step")
    done = [name for name in CASE_STEPS if name in latest.index]
    if CASE_STEPS[0] in latest.index:
        lead, lead_source = _day(latest.at[CASE_STEPS[0], "step_date"]), _lead_source(latest)
    else:
        lead = min(_day(value) for value in latest["step_date"])
        lead_source = "earliest_step"
    deadline = lead + timedelta(days=deadline_days)
    closed_by, end = _closing(latest, ended=ended, today=today)
    days_open = (end - lead).days
    overdue_days = max(days_open - deadline_days, 0)
    notice = _notice(latest, min_notice_days)
    days_left = None if closed_by else (deadline - today).days
    due_soon = days_left is not None and 0 <= days_left <= due_soon_days
    flags = [f"逾期{overdue_days}天"] if overdue_days else []
    if notice["notice_too_short"]:
        flags.append(f"公示仅{int(notice['notice_days'])}天")
    if due_soon:
        flags.append(f"临近期限(剩{days_left}天)")
    next_index = max(_ORDER[name] for name in done) + 1
    return {
        "run_id": run_id,
        "household_id": household,
        "lead_date": lead.isoformat(),
        "lead_source": lead_source,
        "last_step": done[-1],
        "last_date": _last_date(latest, done[-1]),
        "next_step": "" if closed_by or next_index >= len(CASE_STEPS) else CASE_STEPS[next_index],
        "deadline": deadline.isoformat(),
        "closed": bool(closed_by),
        "closed_by": closed_by,
        "days_open": days_open,
        "days_left": days_left,
        "overdue": overdue_days > 0,
        "overdue_days": overdue_days,
        "due_soon": due_soon,
        **notice,
        "flags": "；".join(flags),
    }


def _closing(latest: pd.DataFrame, *, ended: date | None, today: date) -> tuple[str, date]:
    """(what closed the case — 县级审定, 排除 or "" while open, the day its clock stops)."""
    if FINAL_STEP in latest.index:
        return FINAL_STEP, _day(latest.at[FINAL_STEP, "step_date"])
    if ended is not None:
        return "排除", ended
    return "", today


def _lead_source(latest: pd.DataFrame) -> str:
    if "source" not in latest.columns:
        return "step"
    source = str(latest.at[CASE_STEPS[0], "source"])
    return "list" if source == "list" else "step"


def _notice(latest: pd.DataFrame, min_notice_days: int) -> dict[str, Any]:
    if NOTICE_STEP not in latest.index:
        return {
            "notice_start": "",
            "notice_end": "",
            "notice_days": np.nan,
            "notice_too_short": False,
        }
    start = _day(latest.at[NOTICE_STEP, "notice_start"] or latest.at[NOTICE_STEP, "step_date"])
    end = _day(latest.at[NOTICE_STEP, "notice_end"])
    days = (end - start).days + 1
    return {
        "notice_start": start.isoformat(),
        "notice_end": end.isoformat(),
        "notice_days": float(days),
        "notice_too_short": days < min_notice_days,
    }


def _last_date(latest: pd.DataFrame, step: str) -> str:
    if step == NOTICE_STEP:
        return str(latest.at[step, "notice_end"])
    return str(latest.at[step, "step_date"])


def _day(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def write_cases(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write `case_status`'s frame as Parquet, beside `out` first and then moved into place."""
    target = Path(out)
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(temporary, index=False)
        temporary.replace(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OutputError(
            f"cannot write {target}: {error}; choose a writable --out path"
        ) from error
    return target


def summary_lines(cases: pd.DataFrame) -> list[str]:
    """The cases' counts and every flagged case, in Chinese and English (what the CLI prints)."""
    flagged = cases.loc[cases["flags"] != ""]
    lines = [
        f"案件 cases {len(cases)}, 已办结 closed {int(cases['closed'].sum())}, 逾期 overdue "
        f"{int(cases['overdue'].sum())}, 公示不足{MIN_NOTICE_DAYS}天 short notices "
        f"{int(cases['notice_too_short'].sum())}, 临近期限 due soon {int(cases['due_soon'].sum())}"
    ]
    lines += [
        f"  户编号 {row.household_id}: {row.flags} (线索 lead {row.lead_date}, 下一步 next "
        f"{row.next_step or '-'})"
        for row in flagged.itertuples(index=False)
    ]
    return lines


def _column(name: str, letters: dict[str, str]) -> str:
    """How a message names a column: its letter and header (the header alone without a letter)."""
    letter = letters.get(name)
    return f"{letter} ({STEP_HEADERS[name]})" if letter else STEP_HEADERS[name]


# -- values --------------------------------------------------------------------------------------------
def _step_name(value: Any) -> str | None:
    text = "".join(unicodedata.normalize("NFKC", cell_text(value)).split())
    if text in _ORDER:
        return text
    return STEP_ALIASES.get(text)


def steps_frame(steps: Iterable[CaseStep]) -> pd.DataFrame:
    """Case steps as a history frame (`STEP_COLUMNS`; ``id`` in input order)."""
    records = [
        {"id": number, **{name: getattr(step, name) for name in STEP_COLUMNS[1:-1]}}
        for number, step in enumerate(steps)
    ]
    return pd.DataFrame(records, columns=list(STEP_COLUMNS[:-1])).assign(recorded_at="")
