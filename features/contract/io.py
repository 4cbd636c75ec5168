"""Reading a data directory into normalised `Tables` (docs/architecture.md, "In-memory tables").

`load_directory` finds one file per contract table (`.csv` in UTF-8/UTF-8-BOM/GB18030, `.xlsx` first
sheet, `.parquet`), maps English or Chinese headers to contract columns, parses every value by its
kind, pseudonymises ID-like person ids, applies every rule of DATA_CONTRACT.md and returns the tables
with a `ValidationReport`. `validate_directory` does the same without raising for data problems.

Everything about columns, labels and allowed values comes from `features.contract.schema`.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.columns import check_columns
from features.contract.errors import DataContractError
from features.contract.id_numbers import check_id_numbers
from features.contract.parsing import arrow_strings, encode_together, parse_column
from features.contract.pseudonym import looks_like_id_numbers, pseudonymise_codes, take_codes
from features.contract.schema import CONTRACT, TableSpec, header_key, table_for_stem
from features.contract.tables import Tables
from features.contract.validation import (
    CODE_SUFFIX,
    ROW,
    Issue,
    ValidationReport,
    check_duplicate_headers,
    check_elimination_order,
    check_exit_year,
    check_member_households,
    check_one_file_per_table,
    check_one_head,
    check_out_of_pocket,
    check_required_columns,
    check_required_tables,
    check_rows_and_key,
    check_spell_order,
    clear_unknown_people,
    code_column,
    drop_unknown_references,
    ids_of,
    keep_rows,
    make_issue,
    months_covered,
    report_missing_optional_tables,
    report_unknown_columns,
    report_unknown_files,
)

__all__ = ["LoadResult", "Tables", "ValidationReport", "load_directory", "validate_directory"]

log = logging.getLogger(__name__)

EXTENSIONS = (".csv", ".xlsx", ".parquet")
#: Encodings tried, strictly, in order: UTF-8 (a BOM is removed), then GB18030 (a superset of GBK).
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
#: The user counts the header as row 1, so the first data row is row 2 (CSV and the first sheet).
FIRST_DATA_ROW = 2
#: Characters looked at to tell GB18030 from UTF-8 when a file decodes as both.
SNIFF_CHARS = 1_000_000
#: Files above this size are refused before reading (a table that would exhaust memory); the
#: environment variable `FANPIN_MAX_FILE_MB` changes it.
MAX_FILE_MB = 1536
#: An Excel sheet may carry title rows above its header: the header is looked for in these rows.
HEADER_SEARCH_ROWS = 10
#: Identifier columns whose ID-number-like values are pseudonymised on load.
ID_COLUMNS = ("person_id", "household_id")


@dataclass(frozen=True)
class LoadResult:
    """Loaded tables and the report of how they were checked."""

    tables: Tables
    report: ValidationReport


def load_directory(path: str | Path, *, pseudonym_key: bytes) -> LoadResult:
    """Load and validate a data directory.

    Parameters
    ----------
    path
        The directory holding one file per contract table.
    pseudonym_key
        Secret key for the keyed hash of ID-like person ids (from configuration; never logged).

    Returns
    -------
    LoadResult
        `.tables` (normalised `Tables`) and `.report` (warnings included).

    Raises
    ------
    DataContractError
        When the directory is not usable; the message lists every error with file, rows, column,
        values and the expected form.
    """
    tables, report = _load(Path(path), key=pseudonym_key)
    if tables is None or not report.ok:
        raise DataContractError(report.error_text())
    return LoadResult(tables=tables, report=report)


def validate_directory(path: str | Path, *, pseudonym_key: bytes) -> ValidationReport:
    """Check a data directory against the contract; never raises for problems in the data.

    Parameters
    ----------
    path
        The directory to check.
    pseudonym_key
        Secret key for the keyed hash of ID-like person ids.

    Returns
    -------
    ValidationReport
        `.ok` is True when the directory is usable (warnings allowed).
    """
    return _load(Path(path), key=pseudonym_key)[1]


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class _Table:
    """One table while it is being loaded."""

    spec: TableSpec
    file: str
    frame: pd.DataFrame
    usable: bool = True


@dataclass
class _Run:
    directory: Path
    issues: list[Issue] = field(default_factory=list)
    #: The month of the clock: no record can be dated after it.
    current: pd.Period = field(default_factory=lambda: pd.Timestamp.now().to_period("M"))
    tables: dict[str, _Table] = field(default_factory=dict)


def _load(directory: Path, *, key: bytes) -> tuple[Tables | None, ValidationReport]:
    run = _Run(directory)
    if not directory.is_dir():
        run.issues.append(make_issue("error", "directory", zh=f"目录不存在 {directory}",
                                     en=f"no such directory: {directory}"))  # fmt: skip
        return None, _report(run)
    files, named = _discover(run)
    run.issues += check_required_tables(named)
    run.issues += report_missing_optional_tables(named)
    for name in (n for n in CONTRACT if n in files):  # contract order: same report for any naming
        table = _read_table(run, CONTRACT[name], directory / files[name])
        if table is not None:
            run.tables[name] = table
    _fill_grade_from_card(run)
    ids = _encode_ids(run)
    _align_card_numbers(run, ids)
    _pseudonymise(run, ids, key=key)
    _check_rows(run)
    _check_references(run)
    export_month = _export_month(run)
    report = _report(run, export_month=export_month)
    log.info("validated %s: %d error(s), %d warning(s)", directory.name, len(report.errors),
             len(report.warnings))  # fmt: skip
    if not report.ok or export_month is None:
        return None, report
    return _tables(run, export_month), report


def _report(run: _Run, *, export_month: pd.Period | None = None) -> ValidationReport:
    coverage = {}
    for name, table in run.tables.items():
        cov = months_covered(table.frame, table.spec) if table.usable else None
        if cov is not None:
            coverage[name] = cov
    missing = tuple(i.table for i in run.issues if i.rule == "optional_table" and i.table)
    return ValidationReport(
        directory=str(run.directory),
        issues=tuple(run.issues),
        rows={n: len(t.frame) for n, t in run.tables.items()},
        files={n: t.file for n, t in run.tables.items()},
        coverage=coverage,
        missing_tables=missing,
        export_month=export_month,
    )


def _tables(run: _Run, export_month: pd.Period) -> Tables:
    frames = {
        n: t.frame.drop(columns=[c for c in t.frame if c.endswith(CODE_SUFFIX)]).reset_index(
            drop=True
        )
        for n, t in run.tables.items()
    }
    return Tables(
        **frames,  # type: ignore[arg-type]
        export_month=export_month,
        files={n: t.file for n, t in run.tables.items()},
    )


# --- files -------------------------------------------------------------------------------------


def _discover(run: _Run) -> tuple[dict[str, str], set[str]]:
    """Table → its one file, and every table some file names.

    Two files for one table are an error, unknown files a warning.
    """
    candidates: dict[str, list[str]] = {}
    unknown = []
    for entry in sorted(run.directory.iterdir()):
        if entry.is_dir() or entry.name.startswith((".", "~$")):
            continue  # `_truth/`, hidden files and Excel lock files are not data
        table = table_for_stem(entry.stem) if entry.suffix.lower() in EXTENSIONS else None
        if table is None:
            unknown.append(entry.name)
        else:
            candidates.setdefault(table, []).append(entry.name)
    run.issues += check_one_file_per_table(candidates)
    run.issues += report_unknown_files(unknown)
    files = {t: names[0] for t, names in candidates.items() if len(names) == 1}
    return files, set(candidates)


def _read_raw(path: Path, spec: TableSpec) -> tuple[pd.DataFrame, int]:
    """The file's first sheet as read (CSV as strings, XLSX as cells, Parquet as stored), and the
    row of its header as the user counts it (1 except in a sheet with title rows above it)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path), 1
    if suffix == ".xlsx":
        return _read_xlsx(path, spec)
    # one block per column: consolidating them is a copy of every number, undone by the renaming
    return pd.read_parquet(path, to_pandas_kwargs={"split_blocks": True}), 1


def _read_xlsx(path: Path, spec: TableSpec) -> tuple[pd.DataFrame, int]:
    """The first sheet, its header found below any title rows (merged or not)."""
    cells = pd.read_excel(path, sheet_name=0, dtype=object, engine="openpyxl", header=None)
    accepted = spec.header_map()
    required = {c.name for c in spec.columns if c.required}
    header = 0
    for i in range(min(HEADER_SEARCH_ROWS, len(cells))):
        found = {accepted.get(header_key(str(v))) for v in cells.iloc[i] if isinstance(v, str)}
        if required <= found:
            header = i
            break
    names = [v if isinstance(v, str) and v.strip() else f"Unnamed: {j}"
             for j, v in enumerate(cells.iloc[header])] if len(cells) else []  # fmt: skip
    frame = cells.iloc[header + 1 :].set_axis(names, axis=1).reset_index(drop=True)
    return frame.apply(_lossy_ints), header + 1


_SHEET = re.compile(rb'<sheet\b[^>]*?\br:id="([^"]+)"')
_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?(?<!/)>(.*?)</c>', re.S)
_FORMULA = re.compile(rb"<f\b[^>]*>([^<]*)</f>|<f\b[^>]*/>")
_CACHED = re.compile(rb"<v>[^<]+</v>|<is>")


def _first_sheet_name(book: zipfile.ZipFile) -> str:
    """The archive member of the workbook's first sheet (ValueError when it cannot be found)."""
    first = _SHEET.search(book.read("xl/workbook.xml"))
    if first is None:
        raise ValueError("no sheet")
    for relation in re.findall(rb"<Relationship\b[^>]*>", book.read("xl/_rels/workbook.xml.rels")):
        if re.search(rb'\bId="' + re.escape(first.group(1)) + rb'"', relation):
            target = re.search(rb'\bTarget="([^"]+)"', relation)
            if target is not None:
                name = target.group(1).decode().lstrip("/")
                return name if name.startswith("xl/") else f"xl/{name}"
    raise ValueError("no sheet target")


def uncomputed_formulas(path: Path) -> list[tuple[int, int, str]]:
    """(row, column index, formula) of first-sheet cells holding a formula never computed.

    A workbook written by a program rather than saved by Excel or WPS may carry formulas without
    their values; reading it gives empty cells, so they are reported instead of silently missing.
    """
    try:
        with zipfile.ZipFile(path) as book:
            xml = book.read(_first_sheet_name(book))
    except (KeyError, ValueError, zipfile.BadZipFile):
        return []
    if b"<f" not in xml:
        return []
    found = []
    for cell in _CELL.finditer(xml):
        formula = _FORMULA.search(cell.group(3))
        if formula and not _CACHED.search(cell.group(3)):
            column = 0
            for letter in cell.group(1).decode():
                column = column * 26 + ord(letter) - 64
            text = (formula.group(1) or b"").decode("utf-8", "replace")
            found.append((int(cell.group(2)), column - 1, f"={text}"))
    return found


def _lossy_ints(column: pd.Series) -> pd.Series:
    """Excel keeps 15 digits: an integral cell of 16+ digits was a number that lost digits
    (pandas reads it as `int`); keep it a float so parsing reports it rather than a wrong id."""
    if column.dtype != object:
        return column
    return column.map(lambda v: float(v) if isinstance(v, int) and abs(v) >= 10**15 else v)


def _too_large(path: Path) -> int | None:
    """The file's size in bytes when it is above the limit (checked before reading)."""
    limit = float(os.environ.get("FANPIN_MAX_FILE_MB", MAX_FILE_MB)) * 1024**2
    size = path.stat().st_size
    return size if size > limit else None


def _read_csv(path: Path) -> pd.DataFrame:
    content = path.read_bytes()
    decodable = []
    for encoding in CSV_ENCODINGS:
        try:
            decodable.append((encoding, _chinese_share(content.decode(encoding))))
        except UnicodeDecodeError:
            continue
    if decodable:
        # A short GBK file can also be valid UTF-8 (住院 reads as "סԺ"): keep the reading whose
        # non-ASCII characters are Chinese.
        encoding = (
            decodable[0][0] if decodable[0][1] >= 0.5 else max(decodable, key=lambda d: d[1])[0]
        )
        return pd.read_csv(io.BytesIO(content), encoding=encoding, dtype=str,
                           keep_default_na=False, skip_blank_lines=False)  # fmt: skip
    raise DataContractError(
        f"[{path.name}] 无法识别文件编码 cannot decode the file: it is neither UTF-8 (with or without "
        "BOM) nor GB18030/GBK; 请另存为 UTF-8 或 GB18030 save it as UTF-8 or GB18030 and try again"
    )


def _chinese_share(text: str) -> float:
    """The share of non-ASCII characters that are CJK ideographs or CJK/full-width punctuation."""
    wide = [c for c in text[:SNIFF_CHARS] if ord(c) > 127 and c != "\ufeff"]
    if not wide:
        return 1.0
    chinese = sum(
        "\u4e00" <= c <= "\u9fff" or "\u3400" <= c <= "\u4dbf" or "\u3000" <= c <= "\u303f"
        or "\uff00" <= c <= "\uffef" for c in wide
    )  # fmt: skip
    return chinese / len(wide)


def _read_table(run: _Run, spec: TableSpec, path: Path) -> _Table | None:
    size = _too_large(path)
    if size is not None:
        limit = float(os.environ.get("FANPIN_MAX_FILE_MB", MAX_FILE_MB))
        run.issues.append(
            make_issue("error", "file_size", table=spec.name, file=path.name,
                       zh=f"文件过大 ({size / 1024**3:.1f} GB), 未读取",
                       en=f"the file is {size / 1024**3:.1f} GB, above the {limit / 1024:.1f} GB "
                       "limit for one table; it was not read (it would exhaust memory)",
                       fix="请另存为 Parquet 或按年份拆分 save it as Parquet or split it by year, "
                       "or raise the limit with FANPIN_MAX_FILE_MB")
        )  # fmt: skip
        return None
    try:
        raw, header_row = _read_raw(path, spec)
    except DataContractError as error:
        run.issues.append(make_issue("error", "encoding", table=spec.name, file=path.name,
                                     zh=str(error), en="unreadable file"))  # fmt: skip
        return None
    except Exception as error:  # noqa: BLE001 - any reader failure is reported against the file
        run.issues.append(
            make_issue("error", "unreadable", table=spec.name, file=path.name,
                       zh="无法读取文件", en=f"cannot read the file ({type(error).__name__}: {error})",
                       fix="请检查文件是否损坏或被加密 check the file is not damaged or protected")
        )  # fmt: skip
        return None
    if path.suffix.lower() == ".xlsx":
        _report_formulas(run, spec, path, raw, header_row=header_row)
    if header_row > 1:
        run.issues.append(
            make_issue("warning", "header_row", table=spec.name, file=path.name,
                       zh=f"表头在第{header_row}行, 上方的标题行已忽略",
                       en=f"the header is on row {header_row}; the title rows above it were ignored")
        )  # fmt: skip
    raw = _normalise_headers(run, spec, raw, file=path.name, first_row=header_row + 1)
    if raw is None:
        return _Table(spec, path.name, pd.DataFrame(columns=[*spec.column_names, ROW]), False)
    run.issues += check_id_numbers(raw, spec, file=path.name)
    return _Table(spec, path.name, _parse_table(run, spec, raw, file=path.name))


def _report_formulas(
    run: _Run, spec: TableSpec, path: Path, raw: pd.DataFrame, *, header_row: int
) -> None:
    """An error per column holding formulas without values (rows as the user sees them)."""
    accepted = spec.header_map()
    by_column: dict[int, list[tuple[int, str]]] = {}
    for row, column, formula in uncomputed_formulas(path):
        if row > header_row:
            by_column.setdefault(column, []).append((row, formula))
    for column, cells in sorted(by_column.items()):
        header = str(raw.columns[column]) if column < len(raw.columns) else ""
        name = accepted.get(header_key(header))
        run.issues.append(
            make_issue("error", "formula_without_value", table=spec.name, file=path.name,
                       column=spec.column(name) if name else None,
                       rows=[r for r, _ in cells], values=[f for _, f in cells], count=len(cells),
                       zh=f"{len(cells)}个公式单元格没有计算结果" + ("" if name else f" (列 {header})"),
                       en=f"{len(cells)} formula cell(s) without a computed value",
                       fix="请在 Excel 或 WPS 中打开并保存, 或把公式粘贴为数值 open and save the file in "
                       "Excel or WPS, or paste the formulas as values")
        )  # fmt: skip


def _normalise_headers(
    run: _Run, spec: TableSpec, raw: pd.DataFrame, *, file: str, first_row: int = FIRST_DATA_ROW
) -> pd.DataFrame | None:
    """Rename headers to contract names; None when a required column is missing or doubled."""
    accepted = spec.header_map()
    names: dict[str, list[str]] = {}
    unknown = []
    for header in raw.columns:
        name = accepted.get(header_key(str(header)))
        if name is None and _blank_unnamed(raw, header):
            continue  # a trailing comma or an empty spreadsheet column, not data
        if name is None:
            unknown.append(str(header))
        else:
            names.setdefault(name, []).append(str(header))
    clashes = {n: h for n, h in names.items() if len(h) > 1}
    missing = check_required_columns(spec, names, file=file)
    run.issues += report_unknown_columns(spec, unknown, file=file)
    run.issues += check_duplicate_headers(spec, clashes, file=file)
    run.issues += missing
    if clashes or missing:
        return None
    renamed = raw.loc[:, [h[0] for h in names.values()]]
    renamed.columns = list(names)
    renamed[ROW] = np.arange(first_row, first_row + len(renamed), dtype=np.int64)
    blank = _blank_rows(renamed.drop(columns=ROW))
    return keep_rows(renamed, ~blank) if blank.any() else renamed


def _blank_unnamed(raw: pd.DataFrame, header: object) -> bool:
    """A column without a header (pandas names it `Unnamed: N`) and without any value."""
    if not str(header).startswith("Unnamed: "):
        return False
    return bool(_blank_rows(raw[[header]]).all())


def _blank_rows(raw: pd.DataFrame) -> np.ndarray:
    blank = np.ones(len(raw), dtype=bool)
    for name in raw.columns:
        column = raw[name]
        is_blank = column.isna()
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            is_blank |= column.astype("str").str.strip() == ""
        blank &= is_blank.to_numpy(dtype=bool)
        if not blank.any():
            break
    return blank


# --- values ------------------------------------------------------------------------------------


def _parse_table(run: _Run, spec: TableSpec, raw: pd.DataFrame, *, file: str) -> pd.DataFrame:
    """Every contract column parsed by kind (absent optional columns all missing) and checked
    against the column rules (`features.contract.columns`)."""
    parsed = {}
    for column in spec.columns:
        source = raw[column.name] if column.name in raw else pd.Series(np.nan, index=raw.index,
                                                                       dtype=object)  # fmt: skip
        parsed[column.name] = parse_column(source, column)
    columns = {name: p.values.set_axis(raw.index) for name, p in parsed.items()}
    frame = pd.DataFrame(columns, index=raw.index, copy=False)  # fresh columns: no 2D copy
    frame[ROW] = raw[ROW].to_numpy()
    frame, issues = check_columns(frame, raw, spec, parsed=parsed, file=file, current=run.current)
    run.issues += issues
    return frame


def _fill_grade_from_card(run: _Run) -> None:
    """A missing disability grade is the last character of a 20-character card number."""
    table = run.tables.get("disability")
    if table is None or not table.usable:
        return
    frame = table.frame
    ids = frame["person_id"].fillna("")
    last = ids.str[-1:]
    fill = frame["grade"].isna() & (ids.str.len() == 20) & last.isin(["1", "2", "3", "4"])
    if fill.any():
        grade = frame["grade"].copy()
        grade[fill] = pd.to_numeric(last[fill]).astype("Int64")
        table.frame = frame.assign(grade=grade)


@dataclass
class _Ids:
    """Every id column of every table as codes into one dictionary of distinct ids, so each id is
    hashed once (pseudonym) and tables are matched by integer codes (references, keys)."""

    dictionary: pa.Array
    holders: list[tuple[_Table, str]]
    codes: list[np.ndarray]
    #: Positions in `holders` whose codes were replaced (card numbers aligned).
    replaced: set[int] = field(default_factory=set)

    def of(self, table: _Table, column: str) -> np.ndarray:
        """The codes of one table's id column."""
        for (holder, name), codes in zip(self.holders, self.codes, strict=True):
            if holder is table and name == column:
                return codes
        raise KeyError(column)

    def replace(self, table: _Table, column: str, codes: np.ndarray) -> None:
        """New codes for one table's id column."""
        for i, (holder, name) in enumerate(self.holders):
            if holder is table and name == column:
                self.codes[i] = codes
                self.replaced.add(i)


def _encode_ids(run: _Run) -> _Ids:
    holders = [(t, c) for t in run.tables.values() for c in ID_COLUMNS if c in t.frame]
    texts = [t.frame[c].astype("str") for t, c in holders]
    strings = [arrow_strings(text) for text in texts]
    dictionary, codes = encode_together(
        [a if a is not None else pa.array(t.to_numpy(dtype=object), from_pandas=True)
         for a, t in zip(strings, texts, strict=True)]
    )  # fmt: skip
    return _Ids(dictionary, holders, codes)


def _align_card_numbers(run: _Run, ids: _Ids) -> None:
    """Match a 20-character card number to its 18-character ID number in members, and back.

    Decided once per distinct id: an id not in members becomes the member's ID number its first
    18 characters are, or the member's card number that starts with it.
    """
    members = run.tables.get("members")
    if members is None or not members.usable:
        return
    member_codes = ids.of(members, "person_id")
    known = np.zeros(len(ids.dictionary) + 1, dtype=bool)  # the last slot: code -1, missing
    known[member_codes[member_codes >= 0]] = True
    remap: np.ndarray | None = None
    for name, table in run.tables.items():
        if name == "members" or not table.usable or "person_id" not in table.frame:
            continue
        codes = ids.of(table, "person_id")
        if not ((codes >= 0) & ~known[codes]).any():
            continue
        if remap is None:
            remap = _aligned_ids(ids.dictionary, member_codes, known)
        ids.replace(table, "person_id", remap[codes])


def _aligned_ids(dictionary: pa.Array, member_codes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Code → the code it is aligned to (itself unless it is unknown and matches a member)."""
    values = pd.Series(dictionary, dtype="str")
    lengths = values.str.len().to_numpy()
    remap = np.append(np.arange(len(values), dtype=np.int32), np.int32(-1))
    unknown = ~known[:-1]
    # a card number whose first 18 characters are a member's ID number
    cards = np.flatnonzero(unknown & (lengths == 20))
    if cards.size:
        heads = values.iloc[cards].str[:18]
        found = pc.index_in(pa.array(heads.array), value_set=dictionary)
        head_codes = np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int64)
        matched = known[head_codes] & (head_codes >= 0)
        remap[cards[matched]] = head_codes[matched]
    # an ID number that a member's card number (one only) starts with
    numbers = np.flatnonzero(unknown & (lengths == 18))
    by_card = member_codes[member_codes >= 0]
    by_card = by_card[lengths[by_card] == 20]
    if numbers.size and by_card.size:
        card_of_id = pd.Series(by_card, index=values.iloc[by_card].str[:18].to_numpy())
        card_of_id = card_of_id[~card_of_id.index.duplicated(keep=False)]
        found_card = values.iloc[numbers].map(card_of_id).to_numpy(dtype=float, na_value=np.nan)
        matched = ~np.isnan(found_card)
        remap[numbers[matched]] = found_card[matched].astype(np.int32)
    return remap


def _pseudonymise(run: _Run, ids: _Ids, *, key: bytes) -> None:
    """Every id column at once, so each distinct id is hashed once; the codes stay with the
    frames (`code_column`) for the checks that match ids.

    Household ids are included: some counties number a household by its head's ID card, and such
    an id would otherwise reach the warning list unmasked.
    """
    hashed = np.append(looks_like_id_numbers(ids.dictionary), False)
    dictionary, codes = pseudonymise_codes(ids.dictionary, ids.codes, key=key)
    for i, ((table, column), column_codes) in enumerate(zip(ids.holders, codes, strict=True)):
        if i in ids.replaced or hashed[ids.codes[i]].any():
            values = pd.Series(take_codes(dictionary, column_codes), dtype="str",
                               index=table.frame.index)  # fmt: skip
        else:  # no id in the column changed (opaque household numbers): the column as it is
            values = table.frame[column].astype("str")
        table.frame = table.frame.assign(**{column: values, code_column(column): column_codes})


# --- rules over rows and tables ----------------------------------------------------------------


def _check_rows(run: _Run) -> None:
    for table in run.tables.values():
        if not table.usable:
            continue
        table.frame, issues = check_rows_and_key(table.frame, table.spec, file=table.file)
        run.issues += issues
    within = {
        "households": check_exit_year,
        "medical": check_out_of_pocket,
        "outcomes": check_elimination_order,
        "employment": check_spell_order,
    }
    for name, rule in within.items():
        found = run.tables.get(name)
        if found is not None and found.usable:
            run.issues += rule(found.frame, file=found.file)


def _check_references(run: _Run) -> None:
    households, members = run.tables.get("households"), run.tables.get("members")
    if households is None or members is None or not (households.usable and members.usable):
        return
    run.issues += check_member_households(members.frame, households.frame, file=members.file)
    run.issues += check_one_head(members.frame, households.frame, members_file=members.file,
                                 households_file=households.file)  # fmt: skip
    known = {
        "person_id": ids_of(members.frame, "person_id"),
        "household_id": ids_of(households.frame, "household_id"),
    }
    for name, table in run.tables.items():
        if name in ("households", "members") or not table.usable:
            continue
        for column in ("household_id", "person_id"):
            if column not in table.frame:
                continue
            if column == "person_id" and "household_id" in table.frame:
                table.frame, issues = clear_unknown_people(
                    table.frame, table.spec, known=known[column], file=table.file
                )
            else:
                table.frame, issues = drop_unknown_references(
                    table.frame, table.spec, column=column, known=known[column], file=table.file
                )
            run.issues += issues


def _export_month(run: _Run) -> pd.Period | None:
    """The latest month of any dated record (the month the snapshot tables describe)."""
    latest: list[pd.Period] = []
    for table in run.tables.values():
        if table.spec.time_column is None or not table.usable:
            continue
        for column in table.spec.columns_of_kind("month", "date"):
            values = table.frame[column.name].dropna()
            if not values.empty:
                top = values.max()
                latest.append(top if isinstance(top, pd.Period) else pd.Period(top, freq="M"))
    if latest:
        return max(latest)
    members = run.tables.get("members")
    births = members.frame["birth_date"].dropna() if members is not None else pd.Series([])
    if births.empty:
        if run.tables.get("households") is not None and members is not None:
            run.issues.append(make_issue(
                "error", "export_month", zh="无法确定导出月份: 没有任何带日期的记录",
                en="cannot tell the export month: no dated record in any table",
                fix="请提供至少一张带日期的表 add at least one dated table (income, medical, …)",
            ))  # fmt: skip
        return None
    run.issues.append(make_issue(
        "warning", "export_month", zh="没有带日期的表, 导出月份取最晚的出生日期",
        en="no dated table: the export month is taken from the latest birth date",
    ))  # fmt: skip
    return pd.Period(births.max(), freq="M")
