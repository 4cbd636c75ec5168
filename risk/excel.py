"""`warnings.xlsx`: the review list in Chinese, a legend sheet and a run-information sheet.

The workbook is written in openpyxl's streaming (write-only) mode with fixed document dates and fixed
zip entry times, so the same run gives the same file, byte for byte. Reviewers fill the empty review
columns; 审核结论 has a drop-down (纳入监测 / 排除 / 待核实).
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.child import _WorkbookChild
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

LIST_SHEET = "预警名单"
LEGEND_SHEET = "说明"
INFO_SHEET = "运行信息"
LIFECYCLE_SHEET = "监测户跟踪"
#: Columns of the 监测户跟踪 sheet: monitored households and those recently out of monitoring.
LIFECYCLE_SHEET_COLUMNS: tuple[str, ...] = (
    "户编号",
    "县",
    "乡镇",
    "村",
    "户主",
    "阶段",
    "在该阶段月数",
    "状态",
    "风险概率",
    "说明",
    "依据",
    "尚缺条件",
)

#: Columns of the 预警名单 sheet (INTERFACE.md, "Outputs of risk score"; 原因类别 and 建议措施 added
#: after 主要原因3, every listed column kept in its order).
WARNING_COLUMNS: tuple[str, ...] = (
    "排名",
    "户编号",
    "县",
    "乡镇",
    "村",
    "户主",
    "户类型",
    "风险概率",
    "风险等级",
    "主要原因1",
    "主要原因2",
    "主要原因3",
    "原因类别",
    "建议措施",
    "规则触发",
    "审核结论",
    "排除原因",
    "审核人",
    "审核日期",
    "备注",
)
REVIEW_COLUMNS: tuple[str, ...] = ("审核结论", "排除原因", "审核人", "审核日期", "备注")
DECISIONS: tuple[str, ...] = ("纳入监测", "排除", "待核实")
NEW_MARK = "【新】"

_WIDTHS: Mapping[str, float] = {
    "排名": 7,
    "户编号": 14,
    "县": 10,
    "乡镇": 12,
    "村": 12,
    "户主": 16,
    "户类型": 10,
    "风险概率": 10,
    "风险等级": 9,
    "主要原因1": 38,
    "主要原因2": 38,
    "主要原因3": 38,
    "原因类别": 16,
    "建议措施": 30,
    "规则触发": 30,
    "审核结论": 11,
    "排除原因": 18,
    "审核人": 10,
    "审核日期": 12,
    "备注": 24,
}
_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="305496")
_REVIEW_FILL = PatternFill("solid", fgColor="FFF2CC")
_WRAP = Alignment(wrap_text=True, vertical="top")
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def warning_rows(
    warned: pd.DataFrame,
    reasons: pd.DataFrame,
    *,
    rule_labels: Mapping[str, str],
) -> pd.DataFrame:
    """The 预警名单 rows, one per warned household by rank, with exactly `WARNING_COLUMNS`.

    Parameters
    ----------
    warned
        Warned households: ``household_id, rank, county, township, village, head, household_type,
        probability, tier, rule_triggers`` (``head`` already masked).
    reasons
        Main reasons (``household_id, reason_order, reason_zh, is_new``; optional ``cause_zh``,
        ``evidence`` and ``measure``): each 主要原因 reads "【因病】reason；依据：evidence", 原因类别
        lists the causes in order and 建议措施 the measure of each.
    rule_labels
        Rule name → Chinese label, for the 规则触发 column.
    """
    ordered = warned.sort_values("rank", kind="mergesort")
    slots = _reason_slots_by_block(reasons).reindex(ordered["household_id"].to_numpy())
    triggers = [
        "；".join(rule_labels.get(name, name) for name in names)
        for names in ordered["rule_triggers"]
    ]
    rows = pd.DataFrame(
        {
            "排名": ordered["rank"].to_numpy(dtype="int64"),
            "户编号": ordered["household_id"].astype(str).to_numpy(),
            "县": ordered["county"].astype(str).to_numpy(),
            "乡镇": ordered["township"].astype(str).to_numpy(),
            "村": ordered["village"].astype(str).to_numpy(),
            "户主": ordered["head"].astype(str).to_numpy(),
            "户类型": ordered["household_type"].astype(str).to_numpy(),
            "风险概率": ordered["probability"].to_numpy(dtype=float).round(4),
            "风险等级": ordered["tier"].astype(str).to_numpy(),
            "主要原因1": slots[1].fillna("").to_numpy(),
            "主要原因2": slots[2].fillna("").to_numpy(),
            "主要原因3": slots[3].fillna("").to_numpy(),
            "原因类别": slots["causes"].fillna("").to_numpy(),
            "建议措施": slots["measures"].fillna("").to_numpy(),
            "规则触发": triggers,
        }
    )
    for column in REVIEW_COLUMNS:
        rows[column] = ""
    return rows.loc[:, list(WARNING_COLUMNS)]


#: Households whose reason texts are assembled at once: every step of the assembly copies the texts
#: (cause, reason, evidence, the marks), which for a province's ~70,000 listed households took
#: ~0.35 GB on the client at once.
SLOT_BLOCK_HOUSEHOLDS = 10_000


def _reason_slots_by_block(
    reasons: pd.DataFrame, *, block: int = SLOT_BLOCK_HOUSEHOLDS
) -> pd.DataFrame:
    """`_reason_slots` assembled `block` households at a time (the same frame, less memory)."""
    households = reasons["household_id"].unique() if not reasons.empty else []
    if len(households) <= block:
        return _reason_slots(reasons)
    parts = [
        _reason_slots(reasons.loc[reasons["household_id"].isin(households[start : start + block])])
        for start in range(0, len(households), block)
    ]
    return pd.concat(parts)


def _reason_slots(reasons: pd.DataFrame) -> pd.DataFrame:
    """household_id × slot (1..3, ``causes``, ``measures``) → text, new reasons marked."""
    columns: list[Any] = [1, 2, 3, "causes", "measures"]
    if reasons.empty:
        return pd.DataFrame(columns=columns, dtype=object)
    ordered = reasons.sort_values(["household_id", "reason_order"], kind="mergesort")
    cause = _column_text(ordered, "cause_zh")
    text = ordered["reason_zh"].astype(str)
    text = ("【" + cause + "】").where(cause != "", "") + text
    evidence = _column_text(ordered, "evidence")
    text = text + ("；依据：" + evidence).where(evidence != "", "")
    if "is_new" in ordered.columns:
        text = text.where(~ordered["is_new"].astype(bool), NEW_MARK + text)
    households = ordered["household_id"].to_numpy()
    slots = pd.DataFrame(
        {
            "household_id": households,
            "slot": ordered["reason_order"].astype("int64").to_numpy(),
            "text": text.to_numpy(),
        }
    ).pivot(index="household_id", columns="slot", values="text")
    measure = _column_text(ordered, "measure")
    labelled = (cause + "：" + measure).where(cause != "", measure)
    slots["causes"] = _joined(households, cause, "、")
    slots["measures"] = _joined(households, labelled, "；")
    return slots.reindex(columns=columns)


def _column_text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].fillna("").astype(str)


def _joined(households: Any, texts: pd.Series, separator: str) -> pd.Series:
    """The distinct non-empty texts of each household, in order, joined."""
    frame = pd.DataFrame({"household_id": households, "text": texts.to_numpy()})
    frame = frame.loc[frame["text"] != ""].drop_duplicates()
    # one pass of plain lists: a groupby calling `join` per household cost seconds at 70,000
    texts_of: dict[Any, list[str]] = {}
    for household, text in zip(frame["household_id"].tolist(), frame["text"].tolist(), strict=True):
        texts_of.setdefault(household, []).append(text)
    return pd.Series(
        [separator.join(v) for v in texts_of.values()], index=list(texts_of), dtype=object
    )


def write_warnings_workbook(
    path: str | Path,
    rows: pd.DataFrame,
    *,
    legend: pd.DataFrame,
    notes: Sequence[tuple[str, str]],
    run_info: Sequence[tuple[str, Any]],
    fixed_date: dt.datetime,
    lifecycle: pd.DataFrame | None = None,
) -> Path:
    """Write the review workbook: the list, 监测户跟踪 (when given), 说明 and 运行信息.

    Parameters
    ----------
    path
        Where to write (``warnings.xlsx``).
    rows
        From `warning_rows` (review columns may be pre-filled, e.g. by a review export).
    legend
        One row per feature: its catalogue description, in Chinese column names.
    notes
        (term, explanation) pairs shown above the legend: how to read the list.
    run_info
        (label, value) pairs for the 运行信息 sheet.
    fixed_date
        The workbook's created/modified date (derived from the run, never the clock).
    lifecycle
        From `lifecycle_sheet_rows`: the 监测户跟踪 sheet's rows (`LIFECYCLE_SHEET_COLUMNS`).
    """
    workbook = Workbook(write_only=True)
    workbook.properties.created = fixed_date
    workbook.properties.modified = fixed_date
    workbook.properties.creator = "fanpin"
    workbook.properties.title = "防贫监测预警名单"
    _list_sheet(workbook, rows)
    if lifecycle is not None:
        _lifecycle_sheet(workbook, lifecycle)
    _legend_sheet(workbook, legend, notes)
    _info_sheet(workbook, run_info)
    target = Path(path)
    # openpyxl numbers sheets by position when it saves: the list is the first sheet.
    list_path = f"xl/worksheets/sheet{workbook.sheetnames.index(LIST_SHEET) + 1}.xml"
    with _FixedTimeZip(target, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        archive.rewrite[list_path] = lambda xml: _splice_rows(xml, rows)
        if lifecycle is not None:
            followed = lifecycle.loc[:, list(LIFECYCLE_SHEET_COLUMNS)]
            at = workbook.sheetnames.index(LIFECYCLE_SHEET) + 1
            archive.rewrite[f"xl/worksheets/sheet{at}.xml"] = lambda xml: _splice_rows(
                xml, followed
            )
        ExcelWriter(workbook, archive).write_data()
    return target


_TEMPLATE_ROW = re.compile(r'<row r="2"[^>]*>.*?</row>', re.DOTALL)
_TEMPLATE_CELL = re.compile(r'<c r="([A-Z]+)2"(?: s="(\d+)")?')
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


#: Rows rendered at a time into a sheet's XML (the sheet is streamed into the archive in pieces).
SPLICE_CHUNK_ROWS = 20_000


def _splice_rows(xml: str, rows: pd.DataFrame) -> Iterator[str]:
    """Replace the template row 2 of a sheet by every data row, styled like the template.

    Yields the sheet's XML in pieces of `SPLICE_CHUNK_ROWS` rows, so a sheet of a province's
    hundreds of thousands of rows is never one string in memory.
    """
    template = _TEMPLATE_ROW.search(xml)
    if template is None:
        yield xml
        return
    styles = {letter: style for letter, style in _TEMPLATE_CELL.findall(template.group(0))}
    letters = [get_column_letter(i) for i in range(1, len(rows.columns) + 1)]
    cell_styles = [f' s="{styles[c]}"' if styles.get(c) else "" for c in letters]
    yield xml[: template.start()]
    for first in range(0, len(rows), SPLICE_CHUNK_ROWS):
        chunk = rows.iloc[first : first + SPLICE_CHUNK_ROWS]
        numbers = range(first + 2, first + len(chunk) + 2)
        # Column by column: an all-empty column (the review columns) renders to nothing at all.
        columns = [
            _column_xml(letter, style, chunk.iloc[:, position].tolist(), numbers)
            for position, (letter, style) in enumerate(zip(letters, cell_styles, strict=True))
        ]
        yield "".join(
            f'<row r="{number}">{"".join(cells)}</row>'
            for number, *cells in zip(numbers, *[c for c in columns if c is not None], strict=True)
        )
    yield xml[template.end() :]


def _column_xml(letter: str, style: str, values: list[Any], numbers: range) -> list[str] | None:
    """Every cell of one column (`_cell_xml` of each value); None when all cells are empty.

    A column repeats few texts (county, tier, reasons), so each distinct text is escaped once.
    """
    cells: list[str] = []
    bodies: dict[str, str] = {}
    for number, raw in zip(numbers, values, strict=True):
        value = _cell_value(raw)
        if value is None:
            cells.append("")
        elif type(value) is str:
            body = bodies.get(value)
            if body is None:
                body = bodies[value] = _inline_string(value)
            cells.append(f'<c r="{letter}{number}"{style} t="inlineStr">{body}</c>')
        else:
            cells.append(_cell_xml(f"{letter}{number}", style, value))
    return cells if any(cells) else None


def _cell_xml(reference: str, style: str, value: Any) -> str:
    """One cell as openpyxl writes it in streaming mode (inline strings); "" for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{reference}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{reference}"{style} t="n"><v>{value!r}</v></c>'
    return f'<c r="{reference}"{style} t="inlineStr">{_inline_string(str(value))}</c>'


def _inline_string(value: str) -> str:
    """The ``<is>`` element of an inline-string cell: the text escaped, spaces kept."""
    text = escape(_ILLEGAL_XML.sub("", value))
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f"<is><t{space}>{text}</t></is>"


def _list_sheet(workbook: Workbook, rows: pd.DataFrame) -> None:
    sheet = workbook.create_sheet(LIST_SHEET)
    for index, column in enumerate(WARNING_COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS[column]
    sheet.freeze_panes = "C2"
    last_row = max(len(rows) + 1, 2)
    last_column = get_column_letter(len(WARNING_COLUMNS))
    sheet.auto_filter.ref = f"A1:{last_column}{last_row}"
    decision_column = get_column_letter(WARNING_COLUMNS.index("审核结论") + 1)
    validation = DataValidation(
        type="list",
        formula1='"' + ",".join(DECISIONS) + '"',
        allow_blank=True,
        showDropDown=False,
        showErrorMessage=True,
        errorTitle="审核结论",
        error="请从下拉列表选择：" + " / ".join(DECISIONS),
        promptTitle="审核结论",
        prompt="纳入监测 / 排除 / 待核实",
        showInputMessage=True,
    )
    validation.add(f"{decision_column}2:{decision_column}{max(last_row, 1001)}")
    sheet.data_validations.append(validation)
    sheet.append([_header(sheet, name, review=name in REVIEW_COLUMNS) for name in WARNING_COLUMNS])
    probability_at = WARNING_COLUMNS.index("风险概率")
    wrapped = {
        WARNING_COLUMNS.index(c) for c in ("主要原因1", "主要原因2", "主要原因3", "规则触发")
    }
    # Only the first data row goes through openpyxl: it is the template (cell styles) from which
    # the writer renders every row directly into the sheet's XML (`_splice_rows`), ~20x faster.
    for values in rows.head(1).itertuples(index=False, name=None):
        cells: list[Any] = []
        for position, value in enumerate(values):
            if position == probability_at or position in wrapped:
                cell = WriteOnlyCell(sheet, value=_cell_value(value))
                if position == probability_at:
                    cell.number_format = "0.0%"
                else:
                    cell.alignment = _WRAP
                cells.append(cell)
            else:
                cells.append(_cell_value(value))
        sheet.append(cells)


def _header(sheet: _WorkbookChild, name: str, *, review: bool) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=name)
    cell.font = Font(bold=True) if review else _HEADER_FONT
    cell.fill = _REVIEW_FILL if review else _HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center")
    return cell


def _cell_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, str) and value == "":
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _legend_sheet(
    workbook: Workbook, legend: pd.DataFrame, notes: Sequence[tuple[str, str]]
) -> None:
    sheet = workbook.create_sheet(LEGEND_SHEET)
    widths = [18, 28, 10, 20, 14, 20, 36, 60]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([_bold(sheet, "如何阅读预警名单")])
    for term, text in notes:
        sheet.append([_bold(sheet, term), text])
    sheet.append([])
    sheet.append([_bold(sheet, "指标与原因说明")])
    sheet.append([_header(sheet, str(name), review=False) for name in legend.columns])
    for values in legend.itertuples(index=False, name=None):
        sheet.append([_cell_value(value) for value in values])


def lifecycle_sheet_rows(
    lifecycle: pd.DataFrame,
    *,
    stage_labels: Mapping[str, str],
    status_labels: Mapping[str, str],
) -> pd.DataFrame:
    """The 监测户跟踪 sheet's rows from the run's lifecycle frame (``risk.stages.lifecycle``).

    Stages and statuses in Chinese, the probability rounded to three decimals (empty where the
    stage has none).
    """
    return pd.DataFrame(
        {
            "户编号": _values(lifecycle["household_id"].astype(str)),
            "县": _values(lifecycle["county"]),
            "乡镇": _values(lifecycle["township"]),
            "村": _values(lifecycle["village"]),
            "户主": _values(lifecycle["head"]),
            "阶段": _values(lifecycle["stage"].map(stage_labels)),
            "在该阶段月数": lifecycle["months_in_stage"].astype(int).to_numpy(),
            "状态": _values(lifecycle["status"].map(status_labels)),
            "风险概率": lifecycle["probability"].astype(float).round(3).to_numpy(),
            "说明": _values(lifecycle["reason_zh"]),
            "依据": _values(lifecycle["evidence"]),
            "尚缺条件": _values(lifecycle["missing_zh"]),
        },
        columns=list(LIFECYCLE_SHEET_COLUMNS),
        copy=False,
    )


def _values(column: pd.Series) -> Any:
    """A column's values for a new frame: text stays in its arrow array, the rest as numpy.

    ``to_numpy()`` of a text column makes one Python string per row (a province follows ≈ 300,000
    households: hundreds of MB on the client), which the new frame turns back into an arrow array.
    """
    return column.array if isinstance(column.dtype, pd.StringDtype) else column.to_numpy()


def _lifecycle_sheet(workbook: Workbook, rows: pd.DataFrame) -> None:
    sheet = workbook.create_sheet(LIFECYCLE_SHEET)
    widths = [20, 10, 12, 12, 10, 10, 12, 14, 10, 50, 80, 50]
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "B2"
    sheet.append([_header(sheet, name, review=False) for name in LIFECYCLE_SHEET_COLUMNS])
    # the first row is the template the writer renders every row from (`_splice_rows`), as for
    # the list: a province follows hundreds of thousands of households
    for values in (
        rows.loc[:, list(LIFECYCLE_SHEET_COLUMNS)].head(1).itertuples(index=False, name=None)
    ):
        sheet.append([_cell_value(value) for value in values])


def _info_sheet(workbook: Workbook, run_info: Sequence[tuple[str, Any]]) -> None:
    sheet = workbook.create_sheet(INFO_SHEET)
    sheet.column_dimensions["A"].width = 24
    sheet.column_dimensions["B"].width = 90
    sheet.append([_header(sheet, "项目", review=False), _header(sheet, "内容", review=False)])
    for label, value in run_info:
        sheet.append([_bold(sheet, label), _cell_value(value)])


def _bold(sheet: _WorkbookChild, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = Font(bold=True)
    return cell


class _FixedTimeZip(zipfile.ZipFile):
    """A zip archive whose entries all carry one fixed time, so equal content gives equal bytes.

    ``rewrite`` maps an entry name to a function applied to its XML text before it is stored.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rewrite: dict[str, Callable[[str], Iterable[str]]] = {}

    def writestr(  # type: ignore[override]
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: str | bytes,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        change = self.rewrite.get(zinfo_or_arcname.filename)
        if change is None:
            super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)
            return
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        # what `writestr` does, a piece at a time (the rewritten sheet is streamed)
        with self.open(zinfo_or_arcname, mode="w") as entry:
            for piece in change(text):
                entry.write(piece.encode("utf-8"))

    def write(  # type: ignore[override]
        self,
        filename: str | Path,
        arcname: str | None = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        with open(filename, "rb") as handle:
            self.writestr(arcname or str(filename), handle.read(), compress_type, compresslevel)


def read_list_sheet(path: str | Path) -> pd.DataFrame:
    """The 预警名单 sheet back as a frame of cell values (header row as column names)."""
    from openpyxl import load_workbook  # noqa: PLC0415

    workbook = load_workbook(path, read_only=True)
    try:
        values = list(workbook[LIST_SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    header = [name for name in values[0] if name is not None]
    width = len(header)
    padded = [(list(row) + [None] * width)[:width] for row in values[1:]]
    return pd.DataFrame(padded, columns=header, dtype=object)
