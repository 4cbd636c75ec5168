"""The Excel round trip: read a filled `warnings.xlsx` back into the store, write it pre-filled.

Reading is tolerant of what reviewers and WPS do to a workbook: rows re-sorted, deleted or filtered,
extra blank rows, sheets re-ordered or added, strings stored shared or inline, stray and full-width
spaces in decisions, dates typed as text or entered as real dates. Columns are found by their header
(on any of the first rows of the sheet), never by position. Every row is validated; a bad row is
reported with its Excel row number and skipped, the good rows are stored.

Writing copies the run's own `warnings.xlsx` (so its layout, drop-downs and other sheets stay the
scoring step's) and fills the review columns by 户编号 with the current decisions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet

from features.contract.errors import DataContractError
from risk.atomic import save_workbook
from risk.review.run import WARNINGS_SHEET, ReviewRun
from risk.review.store import DECISIONS, EXCLUSION_REASONS, AddResult, Decision, ReviewStore

#: Header of each review column in `warnings.xlsx` (INTERFACE.md).
HEADERS: dict[str, str] = {
    "household_id": "户编号",
    "decision": "审核结论",
    "reason": "排除原因",
    "reviewer": "审核人",
    "decided_at": "审核日期",
    "note": "备注",
}
_HEADER_SCAN_ROWS = 20
_REASON_SEPARATORS = " :：-—,，;；、"
_EXCEL_EPOCH = datetime(1899, 12, 30)


@dataclass(frozen=True)
class RowProblem:
    """A problem with one Excel row (`row` counted as Excel shows it)."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行 row {self.row}, 列 column {self.column}: {self.message}"


@dataclass(frozen=True)
class SheetDecisions:
    """The decisions read from one workbook, before they are stored."""

    file: Path
    sheet: str
    decisions: list[tuple[int, Decision]]
    problems: list[RowProblem]
    warnings: list[RowProblem]
    undecided: int


@dataclass(frozen=True)
class ImportSummary:
    """What an import did: `decided` rows read, of which `new` stored, conflicts listed."""

    file: Path
    decided: int
    result: AddResult
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    undecided: int = 0

    @property
    def new(self) -> int:
        """Rows stored by this import (new decisions and conflicts)."""
        return self.result.stored

    def text(self) -> str:
        """A readable summary in Chinese and English (what the CLI prints)."""
        lines = [
            f"{self.file.name}: 已审核 decided {self.decided}, 新增 new {self.new}, "
            f"冲突 conflicts {len(self.result.conflicts)}, 未变 unchanged "
            f"{len(self.result.unchanged) + len(self.result.stale)}, 未填 undecided "
            f"{self.undecided}, 错误行 bad rows {len(self.problems)}"
        ]
        for earlier, later in self.result.conflicts:
            lines.append(
                f"  冲突 conflict 户编号 {later.household_id}: 之前 earlier {earlier['decision']} "
                f"({earlier['reviewer'] or '-'}, {earlier['decided_at'] or '-'}, "
                f"{earlier['source']}) → 现在 now {later.decision} ({later.reviewer or '-'}, "
                f"{later.decided_at or '-'}); 两条都保留 both kept in history"
            )
        for decision in self.result.stale:
            lines.append(
                f"  旧决定 stale 户编号 {decision.household_id}: {decision.decision} was superseded "
                "by a newer decision; not stored again"
            )
        lines += [f"  跳过 skipped {problem}" for problem in self.problems]
        lines += [f"  提示 warning {warning}" for warning in self.warnings]
        return "\n".join(lines)


# -- reading --------------------------------------------------------------------------------------
def read_decisions(path: str | Path, *, run: ReviewRun) -> SheetDecisions:
    """Read and validate every row of a filled review workbook.

    Parameters
    ----------
    path
        The workbook (`.xlsx`), as saved by Excel or WPS.
    run
        The run the list belongs to: households must be among its scores.

    Returns
    -------
    SheetDecisions
        Valid decisions with their Excel row numbers, the bad rows, and warnings.

    Raises
    ------
    DataContractError
        When the file cannot be read or no sheet has the 户编号 and 审核结论 headers.
    """
    file = Path(path)
    book = _open(file)
    try:
        sheet, header_row, columns = _find_review_sheet(book, file)
        rows = list(sheet.iter_rows(min_row=header_row + 1, values_only=True))
        title = sheet.title
    finally:
        book.close()
    problems: list[RowProblem] = []
    warnings: list[RowProblem] = []
    found: list[tuple[int, Decision]] = []
    undecided = 0
    known = run.household_ids()
    # read-only sheets yield missing rows as empty ones, so the position is the Excel row number
    for number, row in enumerate(rows, start=header_row + 1):
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        if all(is_blank_cell(value) for value in cells.values()):
            continue
        parsed = _parse_row(cells, number, run=run, known=known, warnings=warnings)
        if isinstance(parsed, RowProblem):
            problems.append(parsed)
        elif parsed is None:
            undecided += 1
        else:
            found.append((number, parsed))
    found, duplicates = _drop_duplicates(found)
    return SheetDecisions(file, title, found, problems + duplicates, warnings, undecided)


def import_decisions(path: str | Path, *, run: ReviewRun, store: ReviewStore) -> ImportSummary:
    """Read a filled workbook and store its valid decisions (source ``excel``).

    Importing the same file again stores nothing new: a decision identical to the household's current
    one is `unchanged`, one identical to an earlier, superseded decision is `stale`.
    """
    sheet = read_decisions(path, run=run)
    result = store.add(decision for _, decision in sheet.decisions)
    return ImportSummary(
        sheet.file,
        len(sheet.decisions),
        result,
        sorted(sheet.problems, key=lambda p: p.row),
        sheet.warnings,
        sheet.undecided,
    )


def _open(file: Path) -> openpyxl.Workbook:
    if not file.is_file():
        raise DataContractError(f"{file}: not found; --file must be the filled warnings.xlsx")
    try:
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise DataContractError(
            f"{file}: cannot be read as an .xlsx workbook ({type(error).__name__}: {error}); "
            "save it from Excel or WPS as .xlsx (Excel 工作簿), not .xls or .et"
        ) from error
    for sheet in book.worksheets:
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # WPS and others may write a wrong <dimension>
    return book


def _find_review_sheet(
    book: openpyxl.Workbook, file: Path
) -> tuple[Worksheet, int, dict[str, int]]:
    """The sheet with the review headers (预警名单 first), its header row and column indexes."""
    sheets = sorted(book.worksheets, key=lambda s: cell_key(s.title) != cell_key(WARNINGS_SHEET))
    for sheet in sheets:
        scanned = sheet.iter_rows(min_row=1, max_row=_HEADER_SCAN_ROWS, values_only=True)
        for number, row in enumerate(scanned, start=1):
            keys = [cell_key(value) for value in row]
            columns = {
                name: keys.index(cell_key(label))
                for name, label in HEADERS.items()
                if cell_key(label) in keys
            }
            if {"household_id", "decision"} <= set(columns):
                return sheet, number, columns
    raise DataContractError(
        f"{file}: no sheet has the headers 户编号 and 审核结论 in its first {_HEADER_SCAN_ROWS} rows; "
        f"use the {WARNINGS_SHEET} sheet of the run's warnings.xlsx and keep its header row"
    )


def _parse_row(
    cells: dict[str, Any],
    number: int,
    *,
    run: ReviewRun,
    known: frozenset[str],
    warnings: list[RowProblem],
) -> Decision | RowProblem | None:
    household = cell_id_text(cells.get("household_id"))
    verdict = _squeeze(cells.get("decision"))
    if not household:
        return RowProblem(number, "户编号", "户编号 is empty but the row has review entries")
    if household not in known:
        return RowProblem(
            number,
            "户编号",
            f"户编号 {household} 不属于本次运行 is not a household of run {run.run_id}; "
            "check that the file belongs to this --run",
        )
    if not verdict:
        if any(not is_blank_cell(cells.get(name)) for name in ("reason", "reviewer", "note")):
            warnings.append(
                RowProblem(
                    number, "审核结论", "review columns filled but 审核结论 is empty; skipped"
                )
            )
        return None
    if verdict not in DECISIONS:
        return RowProblem(
            number,
            "审核结论",
            f"{cells.get('decision')!r} 不是有效结论; expected one of {'/'.join(DECISIONS)}",
        )
    try:
        decided_at = parse_review_date(cells.get("decided_at"))
    except ValueError as error:
        return RowProblem(number, "审核日期", str(error))
    reason, reason_text = split_reason(cell_text(cells.get("reason")))
    if verdict == "排除" and not reason:
        warnings.append(
            RowProblem(number, "排除原因", "排除 without 排除原因; stored without a reason")
        )
    return Decision(
        run_id=run.run_id,
        month=run.month,
        household_id=household,
        decision=verdict,
        source="excel",
        reason=reason,
        reason_text=reason_text,
        reviewer=cell_text(cells.get("reviewer")),
        decided_at=decided_at,
        note=cell_text(cells.get("note")),
    )


def _drop_duplicates(
    found: list[tuple[int, Decision]],
) -> tuple[list[tuple[int, Decision]], list[RowProblem]]:
    """A household twice with the same entry counts once; with different entries both are bad."""
    rows: dict[str, list[tuple[int, Decision]]] = {}
    for number, decision in found:
        rows.setdefault(decision.household_id, []).append((number, decision))
    kept: list[tuple[int, Decision]] = []
    problems: list[RowProblem] = []
    for household, entries in rows.items():
        if len({decision.content() for _, decision in entries}) == 1:
            kept.append(entries[0])
            continue
        numbers = ", ".join(str(number) for number, _ in entries)
        problems += [
            RowProblem(
                number,
                "户编号",
                f"户编号 {household} appears in rows {numbers} with different decisions; "
                "keep one row per household",
            )
            for number, _ in entries
        ]
    return sorted(kept, key=lambda item: item[0]), problems


# -- values ---------------------------------------------------------------------------------------
def cell_key(value: Any) -> str:
    """A header or value as compared: NFKC, no spaces, lower case."""
    return "".join(unicodedata.normalize("NFKC", str(value or "")).split()).lower()


def _squeeze(value: Any) -> str:
    """NFKC (full-width → half-width) with every space removed: `' 排 除　'` → `'排除'`."""
    return "".join(unicodedata.normalize("NFKC", cell_text(value)).split())


def is_blank_cell(value: Any) -> bool:
    """An empty cell: None or only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as trimmed text; a whole number typed as 12.0 reads 12."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_id_text(value: Any) -> str:
    """户编号 as text; a number typed into the cell (WPS does this) loses no digits or `.0`.

    Examples
    --------
    >>> cell_id_text(5201230010010001.0), cell_id_text(" Ｈ００１ "), cell_id_text("'0012")
    ('5201230010010001', 'H001', '0012')
    """
    return "".join(unicodedata.normalize("NFKC", cell_text(value)).split()).lstrip("'")


def split_reason(text: str) -> tuple[str, str]:
    """(fixed reason, free text) from an 排除原因 cell.

    Examples
    --------
    >>> split_reason("支出已解决：医保报销后自付不足千元")
    ('支出已解决', '医保报销后自付不足千元')
    >>> split_reason("孩子毕业工作了"), split_reason(""), split_reason(" 信息 有误 ")
    (('其他', '孩子毕业工作了'), ('', ''), ('信息有误', ''))
    """
    text = text.strip()
    if not text:
        return "", ""
    for reason in EXCLUSION_REASONS:
        if text.startswith(reason):
            return reason, text[len(reason) :].lstrip(_REASON_SEPARATORS)
    squeezed = _squeeze(text)
    for reason in EXCLUSION_REASONS:
        if squeezed.startswith(reason):
            return reason, squeezed[len(reason) :].lstrip(_REASON_SEPARATORS)
    return "其他", text


def join_reason(reason: str, reason_text: str) -> str:
    """The 排除原因 cell for a stored reason: the inverse of `split_reason`."""
    if reason and reason_text:
        return f"{reason}：{reason_text}"
    return reason or reason_text


def parse_review_date(value: Any) -> str:
    """审核日期 as ``YYYY-MM-DD`` (or ISO date-time when a time of day was given); ``""`` if empty.

    Accepts real Excel dates, Excel serial numbers, and text such as 2026-11-03, 2026/11/3,
    2026.11.3, 20261103 and 2026年11月3日.

    Examples
    --------
    >>> parse_review_date("2026年11月3日"), parse_review_date(" 2026/11/3 "), parse_review_date(46329)
    ('2026-11-03', '2026-11-03', '2026-11-03')
    """
    if is_blank_cell(value):
        return ""
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float) and 20000 <= value <= 80000:
        return _datetime_text(_EXCEL_EPOCH + timedelta(days=float(value)))
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = re.fullmatch(
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?",
        text,
    ) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    if match:
        parts = [int(part) if part else 0 for part in match.groups()] + [0, 0, 0]
        year, month, day, hour, minute, second = parts[:6]
        try:
            return _datetime_text(datetime(year, month, day, hour, minute, second))
        except ValueError:
            pass
    raise ValueError(f"{value!r} 不是日期 is not a date; type it as 2026-11-03 or 2026/11/3")


def _datetime_text(moment: datetime) -> str:
    moment = moment.replace(microsecond=0)
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds")


# -- writing --------------------------------------------------------------------------------------
#: The case columns an export adds after the review columns: progress, deadline, flags.
CASE_HEADERS: tuple[str, ...] = ("办理进度", "办理期限", "预警标记")


def export_decisions(
    run: ReviewRun, *, store: ReviewStore, out: str | Path, today: str | None = None
) -> Path:
    """Write the run's `warnings.xlsx` to `out` with the review columns filled from the store.

    Households decided in the store but missing from the sheet (an audit household decided on the web
    page, say) are appended at the bottom. With `today` (``YYYY-MM-DD``), each case's progress (last
    step → next step), deadline and flags (逾期N天, 公示仅N天, 临近期限) counted to that day fill the
    columns `CASE_HEADERS`, added after the last column and highlighted where a flag is raised. The
    file is written beside `out` and moved into place.
    """
    if not run.warnings_path.is_file():
        raise DataContractError(
            f"{run.warnings_path}: not found; the run folder must hold the warnings.xlsx "
            "written by `risk score`"
        )
    book = openpyxl.load_workbook(run.warnings_path)
    sheet, header_row, columns = _find_review_sheet(book, run.warnings_path)
    current = store.current(run.run_id).set_index("household_id")
    placed = _fill_rows(sheet, header_row, columns, current)
    missing = current.index.difference(pd.Index(sorted(placed)))
    _append_rows(sheet, header_row, run, current.loc[missing], columns)
    if today is not None:
        from risk.review.cases import case_history, case_status  # noqa: PLC0415

        history, decisions = case_history(run, store)
        cases = case_status(history, today=today, decisions=decisions)
        _write_cases(sheet, header_row, columns, cases.set_index("household_id"))
    return save_workbook(book, out)


def _write_cases(
    sheet: Worksheet, header_row: int, columns: dict[str, int], cases: pd.DataFrame
) -> None:
    """Fill `CASE_HEADERS` (added after the last header) for every row whose household is a case."""
    from openpyxl.styles import Font, PatternFill  # noqa: PLC0415

    headers = {cell_key(cell.value): cell.column for cell in sheet[header_row] if cell.value}
    first = max(headers.values()) + 1
    where = {}
    for offset, title in enumerate(CASE_HEADERS):
        where[title] = headers.get(cell_key(title), first + offset)
        sheet.cell(row=header_row, column=where[title], value=title).font = Font(bold=True)
    flagged = PatternFill("solid", fgColor="F8D7DA")
    index = columns["household_id"]
    for row in sheet.iter_rows(min_row=header_row + 1):
        household = cell_id_text(row[index].value) if index < len(row) else ""
        if household not in cases.index:
            continue
        case = cases.loc[household]
        progress = f"{case['last_step']} → {case['next_step'] or '已办结'}"
        deadline = (
            case["deadline"] if case["closed"] else f"{case['deadline']}（剩{case['days_left']}天）"
        )
        number = row[0].row
        sheet.cell(row=number, column=where["办理进度"], value=progress)
        sheet.cell(row=number, column=where["办理期限"], value=deadline)
        marks = sheet.cell(row=number, column=where["预警标记"], value=case["flags"] or None)
        if case["overdue"] or case["notice_too_short"]:
            marks.fill = flagged


def _fill_rows(
    sheet: Worksheet, header_row: int, columns: dict[str, int], current: pd.DataFrame
) -> set[str]:
    placed: set[str] = set()
    for row in sheet.iter_rows(min_row=header_row + 1):
        index = columns["household_id"]
        household = cell_id_text(row[index].value) if index < len(row) else ""
        if household in current.index:
            _write_decision(sheet, row[0].row, columns, current.loc[household])
            placed.add(household)
    return placed


def _write_decision(
    sheet: Worksheet, number: int, columns: dict[str, int], entry: pd.Series
) -> None:
    values = {
        "decision": entry["decision"],
        "reason": join_reason(entry["reason"], entry["reason_text"]) or None,
        "reviewer": entry["reviewer"] or None,
        "decided_at": _date_cell(entry["decided_at"]),
        "note": entry["note"] or None,
    }
    for name, value in values.items():
        if name in columns:
            cell = sheet.cell(row=number, column=columns[name] + 1, value=value)
            if isinstance(value, datetime):
                cell.number_format = (
                    "yyyy-mm-dd" if value.time() == datetime.min.time() else ("yyyy-mm-dd hh:mm:ss")
                )


def _date_cell(text: str) -> datetime | str | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return text


def _append_rows(
    sheet: Worksheet,
    header_row: int,
    run: ReviewRun,
    entries: pd.DataFrame,
    columns: dict[str, int],
) -> None:
    if entries.empty:
        return
    headers = {cell_key(cell.value): cell.column for cell in sheet[header_row] if cell.value}
    scores = run.scores.set_index("household_id")
    from_scores = {"排名": "rank", "县": "county", "乡镇": "township", "村": "village",
                   "风险概率": "probability", "风险等级": "tier"}  # fmt: skip
    number = max(sheet.max_row, header_row) + 1
    for household, entry in entries.iterrows():
        sheet.cell(row=number, column=columns["household_id"] + 1, value=str(household))
        for label, name in from_scores.items():
            if cell_key(label) in headers and name in scores.columns:
                value = scores.at[household, name]
                sheet.cell(row=number, column=headers[cell_key(label)], value=_plain(value))
        _write_decision(sheet, number, columns, entry)
        number += 1


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
