"""The bad-input corpus: named mutations of a small valid data directory, each with its expected outcome.

Every `Mutation` changes a copy of a valid simulated data directory (CSV, UTF-8) in one way users'
systems really do — a missing table, a GBK file, an Excel sheet with a title above the header, a
second 户主, money written as `1,234元`, a department feed that stopped — and declares what fanpin must
do with it:

- ``error``: `risk validate` exits 2 and names the rule's file, row and column (no traceback);
- ``warning``: the directory stays usable and the warning names what is affected;
- ``accepted``: the directory is usable, nothing new is reported, and the values are read correctly.

Mutations marked ``command="score"`` are checked through `risk score` instead (their warning must
appear in the run's `manifest.json` and in the printed summary).

Run ``python -m tests.corpus.mutations --markdown > docs/corpus.md`` to regenerate the list of cases.
"""

from __future__ import annotations

import argparse
import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import PatternFill

from features.contract.tables import Tables

Outcome = Literal["error", "warning", "accepted"]
Command = Literal["validate", "score"]

#: A money value no rural household has in a month (the issue's "¥10⁹ per month").
ABSURD_MONEY = 1_000_000_000.0
#: The file size used for the "2 GB file" case (written sparse: no disk space, no memory).
HUGE_FILE_BYTES = 2 * 1024**3
#: The first data row of a CSV as the user counts it (the header is row 1).
FIRST_ROW = 2


@dataclass(frozen=True)
class Mutation:
    """One bad (or awkward) input and what fanpin must do with it.

    Parameters
    ----------
    name
        Short identifier (test id, docs anchor).
    description
        One line: what was changed.
    outcome
        ``error``, ``warning`` or ``accepted``.
    mutate
        Changes a copy of the base directory in place.
    rule
        The validation rule that must report it (`Issue.rule`), when there is one.
    file, column, row
        What the message must name (file name, English column name, row as the user counts it).
    text
        Further words the message must contain.
    check
        For accepted (and warned) cases: `check(tables, base)` asserts the loaded tables hold the values of the
        unmutated base directory `base`.
    command
        ``validate`` (the default) or ``score`` (the warning is looked for in the scoring outputs).
    known_failure
        Why fanpin does not behave as expected yet (the test is a strict xfail until it does).
    """

    name: str
    description: str
    outcome: Outcome
    mutate: Callable[[Path], None]
    rule: str | None = None
    file: str | None = None
    column: str | None = None
    row: int | None = None
    text: tuple[str, ...] = ()
    check: Callable[[Tables, Path], None] | None = None
    command: Command = "validate"
    known_failure: str | None = None

    def apply(self, base: Path, target: Path) -> Path:
        """Copy `base` to `target` and mutate the copy."""
        shutil.copytree(base, target)
        self.mutate(target)
        return target


# --- reading and writing tables of the base directory -------------------------------------------


def read(folder: Path, table: str) -> pd.DataFrame:
    """A CSV table of the directory, every cell as text (empty cells as "")."""
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def write(folder: Path, table: str, frame: pd.DataFrame, *, encoding: str = "utf-8") -> None:
    """Write a table as CSV (replacing the file of that name)."""
    frame.to_csv(folder / f"{table}.csv", index=False, encoding=encoding)


def edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    """A mutation that rewrites one table through `change`."""

    def mutate(folder: Path) -> None:
        write(folder, table, change(read(folder, table).copy()))

    return mutate


def set_cell(table: str, index: int, column: str, value: str) -> Callable[[Path], None]:
    """A mutation that sets one cell (data row `index`, i.e. file row `index + 2`)."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[index, column] = value
        return frame

    return edit(table, change)


def remove(name: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        (folder / name).unlink()

    return mutate


def _cell(value: str, *, column: str) -> object:
    """An Excel cell for a CSV value: numbers as numbers, ids and text as text."""
    if value == "":
        return None
    if column.endswith("_id"):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def to_xlsx(
    table: str,
    *,
    title_rows: int = 0,
    merge_title: bool = False,
    trailing_blank: int = 0,
    cells: Callable[[str, str], object] = lambda column, value: _cell(value, column=column),
    formula: tuple[int, str, str] | None = None,
) -> Callable[[Path], None]:
    """A mutation that replaces `table.csv` by `table.xlsx` laid out as the arguments say."""

    def mutate(folder: Path) -> None:
        frame = read(folder, table)
        (folder / f"{table}.csv").unlink()
        book = Workbook()
        sheet = book.active
        width = len(frame.columns)
        for i in range(title_rows):
            sheet.append([f"{table} 导出 2026年10月" if i == 0 else "制表单位：某县乡村振兴局"])
        if merge_title and title_rows:
            sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        sheet.append(list(frame.columns))
        for values in frame.itertuples(index=False, name=None):
            sheet.append([cells(c, v) for c, v in zip(frame.columns, values, strict=True)])
        grey = PatternFill("solid", start_color="DDDDDD")
        for _ in range(trailing_blank):  # formatted but empty rows, and a stray space
            row = sheet.max_row + 1
            for column in range(1, width + 1):
                sheet.cell(row=row, column=column).fill = grey
            sheet.cell(row=row, column=1).value = " "
        if formula is not None:
            index, column, text = formula
            position = list(frame.columns).index(column) + 1
            sheet.cell(row=title_rows + 2 + index, column=position).value = text
        book.save(folder / f"{table}.xlsx")

    return mutate


# --- checks of accepted cases --------------------------------------------------------------------


def _loaded_money(tables: Tables, base: Path, *, index: int, column: str) -> float:
    """The parsed income value of base income row `index` (found by household and month)."""
    row = read(base, "income").iloc[index]
    income = tables.income
    assert income is not None
    found = income.loc[
        (income["household_id"] == row["household_id"])
        & (income["month"] == pd.Period(row["month"], "M")),
        column,
    ]
    assert len(found) == 1, f"income {row['household_id']} {row['month']}: {len(found)} rows"
    return float(found.iloc[0])


def money_is(value: float, *, index: int = 4, column: str = "wage_income"):
    def check(tables: Tables, base: Path) -> None:
        got = _loaded_money(tables, base, index=index, column=column)
        assert got == value, f"income row {index + FIRST_ROW} {column}: {got} != {value}"

    return check


def same_table(table: str, *, columns: tuple[str, ...] | None = None):
    """The table loads with the same rows and values as the base directory's."""

    def check(tables: Tables, base: Path) -> None:
        expected = getattr(_base_tables(base), table)
        got = getattr(tables, table)
        keep = list(columns or [c for c in expected.columns if c != "source_row"])
        order = [c for c in keep if c in ("household_id", "person_id", "month", "settle_date")]
        left = expected[keep].sort_values(order or keep).reset_index(drop=True)
        right = got[keep].sort_values(order or keep).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_dtype=False)

    return check


@functools.lru_cache(maxsize=2)
def _base_tables(base: Path) -> Tables:
    """The base directory loaded once."""
    from features.contract.io import load_directory  # noqa: PLC0415

    return load_directory(base, pseudonym_key=CORPUS_KEY).tables


#: The pseudonymisation key of the corpus runs.
CORPUS_KEY = b"corpus-test-key"


# --- mutations that need a few lines -----------------------------------------------------------


def _rename(table: str, renames: dict[str, str]) -> Callable[[Path], None]:
    return edit(table, lambda f: f.rename(columns=renames))


def _chinese_headers(folder: Path) -> None:
    """Every header of households as its Chinese label, full-width and with stray spaces."""
    from features.contract.schema import CONTRACT  # noqa: PLC0415

    spec = CONTRACT["households"]
    frame = read(folder, "households")
    labels = {
        c.name: " " + c.label_zh.replace("(", "（").replace(")", "）") + " " for c in spec.columns
    }
    write(folder, "households", frame.rename(columns=labels))
    (folder / "households.csv").rename(folder / "户信息.csv")


def _gbk(folder: Path) -> None:
    """members.csv saved by Excel on a Chinese Windows: GBK, Chinese headers, renamed 家庭成员.csv."""
    from features.contract.schema import CONTRACT  # noqa: PLC0415

    frame = read(folder, "members")
    labels = {c.name: c.label_zh for c in CONTRACT["members"].columns}
    (folder / "members.csv").unlink()
    frame.rename(columns=labels).to_csv(folder / "家庭成员.csv", index=False, encoding="gbk")


def _utf16(folder: Path) -> None:
    frame = read(folder, "members")
    frame.to_csv(folder / "members.csv", index=False, encoding="utf-16")


def _garbage(folder: Path) -> None:
    rng = np.random.default_rng(0)
    data = bytes(rng.integers(128, 256, 4096, dtype=np.uint8))
    (folder / "medical.csv").write_bytes(b"person_id,settle_date\n" + data + b"\xff\xfe\n")


def _huge(folder: Path) -> None:
    """A 2 GB medical.csv written sparse (a valid header, then holes)."""
    path = folder / "medical.csv"
    with path.open("r+b") as handle:
        handle.truncate(HUGE_FILE_BYTES)


def _empty_table(table: str) -> Callable[[Path], None]:
    return edit(table, lambda f: f.iloc[0:0])


def _duplicate_row(table: str, index: int, *, change: dict[str, str] | None = None):
    """Data row `index` repeated right after itself (file rows index + 2 and index + 3)."""

    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        copy = frame.iloc[[index]].copy()
        for column, value in (change or {}).items():
            copy[column] = value
        parts = [frame.iloc[: index + 1], copy, frame.iloc[index + 1 :]]
        return pd.concat(parts, ignore_index=True)

    return edit(table, mutate)


def _two_heads(frame: pd.DataFrame) -> pd.DataFrame:
    """The first household's second member becomes a second 户主."""
    first = frame["household_id"].iloc[0]
    members = frame.index[frame["household_id"] == first]
    frame.loc[members[1], "relation"] = "户主"
    return frame


def _no_head(frame: pd.DataFrame) -> pd.DataFrame:
    """The first household's 户主 is relabelled 配偶: the household has no 户主."""
    frame.loc[0, "relation"] = "其他"
    return frame


def _unknown_people(share: float) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        count = int(len(frame) * share)
        frame.loc[: count - 1, "person_id"] = [f"X{i:07d}" for i in range(count)]
        return frame

    return edit("medical", change)


def _bad_check_digit(frame: pd.DataFrame) -> pd.DataFrame:
    """Member row 2's ID number gets a wrong last character (same length, still 18)."""
    person = frame.loc[0, "person_id"]
    wrong = "0" if person[-1] != "0" else "1"
    frame.loc[0, "person_id"] = person[:-1] + wrong
    return frame


def _id_length(frame: pd.DataFrame) -> pd.DataFrame:
    """Member row 2's ID number loses its last digit (17 characters)."""
    frame.loc[0, "person_id"] = frame.loc[0, "person_id"][:17]
    return frame


def _shuffle(table: str) -> Callable[[Path], None]:
    return edit(table, lambda f: f.sample(frac=1.0, random_state=1).reset_index(drop=True))


def _months_as(form: Callable[[pd.Period], str]) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame["month"] = [form(pd.Period(m, "M")) for m in frame["month"]]
        return frame

    return edit("income", change)


def _excel_dates(kind: str) -> Callable[[Path], None]:
    """members.xlsx with birth dates as text, as Excel serial numbers, or as date cells."""
    import datetime as dt  # noqa: PLC0415

    def cells(column: str, value: str) -> object:
        if column != "birth_date" or not value:
            return _cell(value, column=column)
        day = dt.date.fromisoformat(value)
        if kind == "serial":
            return (day - dt.date(1899, 12, 30)).days
        if kind == "cell":
            return dt.datetime(day.year, day.month, day.day)
        return day.strftime("%Y/%m/%d") if kind == "slashes" else value

    return to_xlsx("members", cells=cells)


def _id_as_excel_number(folder: Path) -> None:
    def cells(column: str, value: str) -> object:
        if column == "person_id" and value.isdigit():
            return float(value)  # what Excel does to a long number typed into a General cell
        return _cell(value, column=column)

    to_xlsx("members", cells=cells)(folder)


def _two_files(folder: Path) -> None:
    shutil.copy(folder / "income.csv", folder / "收入.csv")


def _stray_file(folder: Path) -> None:
    (folder / "说明.txt").write_text("这是导出说明", encoding="utf-8")
    (folder / "~$households.xlsx").write_bytes(b"lock")


def _corrupt(name: str) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        stem = name.rsplit(".", 1)[0]
        (folder / f"{stem}.csv").unlink()
        (folder / name).write_bytes(b"PK\x03\x04 this is not a real file " * 20)

    return mutate


def _zero_bytes(folder: Path) -> None:
    (folder / "events.csv").write_bytes(b"")


def _future_rows(folder: Path) -> None:
    """Income records after the scoring month are changed (they must not change its scores)."""
    frame = read(folder, "income")
    late = frame["month"] > SCORE_MONTH
    frame.loc[late, "wage_income"] = "0"
    frame.loc[late, "transfer_income"] = "99999"
    write(folder, "income", frame)


def _feed_month(table: str, *, keep: float) -> Callable[[Path], None]:
    """Keep only a share of the feed's records in the scoring month (0: none at all)."""
    date_column = {"income": "month", "medical": "settle_date"}[table]

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        in_month = frame.index[frame[date_column].str[:7] == SCORE_MONTH]
        dropped = in_month[int(len(in_month) * keep) :] if keep else in_month
        return frame.drop(index=dropped)

    return edit(table, change)


#: The month the `score` cases are scored for: a steady month of the base directory.
SCORE_MONTH = "2026-09"

# --- the corpus ----------------------------------------------------------------------------------

MUTATIONS: list[Mutation] = []


def case(name: str, description: str, outcome: Outcome, mutate, **expected: object) -> None:
    """Declare one mutation (see `Mutation`)."""
    MUTATIONS.append(Mutation(name, description, outcome, mutate, **expected))  # type: ignore[arg-type]


# tables and columns
case(
    "missing_households",
    "households.csv is absent",
    "error",
    remove("households.csv"),
    rule="required_table",
    text=("households", "户信息"),
)
case(
    "missing_members",
    "members.csv is absent",
    "error",
    remove("members.csv"),
    rule="required_table",
    text=("members", "家庭成员"),
)
case(
    "missing_optional_table",
    "medical.csv is absent (the department sent nothing)",
    "warning",
    remove("medical.csv"),
    rule="optional_table",
    text=("医保结算",),
)
case(
    "missing_required_column",
    "members has no relation (与户主关系) column",
    "error",
    edit("members", lambda f: f.drop(columns=["relation"])),
    rule="required_column",
    file="members.csv",
    column="relation",
    text=("与户主关系",),
)
case(
    "unknown_chinese_header",
    "a required column under an unknown Chinese header (所属县区 for 县)",
    "error",
    _rename("households", {"county": "所属县区"}),
    rule="required_column",
    file="households.csv",
    column="county",
)
case(
    "extra_chinese_column",
    "an extra column 联系电话 that the contract does not know",
    "warning",
    edit("households", lambda f: f.assign(联系电话="")),
    rule="unknown_column",
    file="households.csv",
    text=("联系电话",),
)
case(
    "duplicate_header",
    "both county and 县 headers in households",
    "error",
    edit("households", lambda f: f.assign(县=f["county"])),
    rule="duplicate_header",
    file="households.csv",
    column="county",
)
case(
    "chinese_headers_fullwidth",
    "户信息.csv with Chinese, full-width, space-padded headers",
    "accepted",
    _chinese_headers,
    check=same_table("households"),
)
case(
    "required_value_empty",
    "a member row without household_id",
    "error",
    set_cell("members", 7, "household_id", ""),
    rule="required_value",
    file="members.csv",
    column="household_id",
    row=9,
)
case(
    "zero_rows_required",
    "households.csv has a header and no rows",
    "error",
    _empty_table("households"),
    rule="member_household",
    file="members.csv",
)
case(
    "zero_rows_optional",
    "outcomes.csv has a header and no rows",
    "accepted",
    _empty_table("outcomes"),
    check=lambda t, b: _assert(t.outcomes is not None and t.outcomes.empty),
)
case(
    "zero_byte_file",
    "events.csv is an empty file (0 bytes)",
    "error",
    _zero_bytes,
    rule="unreadable",
    file="events.csv",
)

# encodings and file formats
case(
    "gbk_file",
    "家庭成员.csv saved in GBK with Chinese headers",
    "accepted",
    _gbk,
    check=same_table("members"),
)
case(
    "utf8_bom",
    "members.csv in UTF-8 with a byte-order mark",
    "accepted",
    lambda d: write(d, "members", read(d, "members"), encoding="utf-8-sig"),
    check=same_table("members"),
)
case(
    "utf16_file",
    "members.csv saved as UTF-16 (neither UTF-8 nor GB18030)",
    "error",
    _utf16,
    rule="encoding",
    file="members.csv",
    text=("UTF-8", "GB18030"),
)
case(
    "binary_garbage",
    "medical.csv holds bytes that are no text encoding",
    "error",
    _garbage,
    rule="encoding",
    file="medical.csv",
    text=("UTF-8", "GB18030"),
)
case(
    "huge_file",
    "a 2 GB medical.csv (sparse): refused before reading",
    "error",
    _huge,
    rule="file_size",
    file="medical.csv",
    text=("GB",),
)
case(
    "corrupt_xlsx",
    "income.xlsx is not a real workbook",
    "error",
    _corrupt("income.xlsx"),
    rule="unreadable",
    file="income.xlsx",
)
case(
    "corrupt_parquet",
    "income.parquet is not a real Parquet file",
    "error",
    _corrupt("income.parquet"),
    rule="unreadable",
    file="income.parquet",
)
case(
    "two_files_one_table",
    "income.csv and 收入.csv both present",
    "error",
    _two_files,
    rule="two_files",
    text=("income.csv", "收入.csv"),
)
case(
    "stray_files",
    "a 说明.txt and an Excel lock file beside the tables",
    "warning",
    _stray_file,
    rule="unknown_file",
    text=("说明.txt",),
)

# Excel layouts
case(
    "xlsx_plain",
    "households.xlsx, header on row 1",
    "accepted",
    to_xlsx("households"),
    check=same_table("households"),
)
case(
    "xlsx_header_row3",
    "households.xlsx with two title rows: the header is on row 3",
    "warning",
    to_xlsx("households", title_rows=2),
    rule="header_row",
    file="households.xlsx",
    text=("row 3",),
    check=same_table("households"),
)
case(
    "xlsx_merged_title",
    "households.xlsx with a merged title cell above the header",
    "warning",
    to_xlsx("households", title_rows=1, merge_title=True),
    rule="header_row",
    file="households.xlsx",
    text=("row 2",),
    check=same_table("households"),
)
case(
    "xlsx_trailing_empty_rows",
    "households.xlsx with 30 formatted empty rows after the data",
    "accepted",
    to_xlsx("households", trailing_blank=30),
    check=same_table("households"),
)
case(
    "xlsx_formula_without_value",
    "a money cell holding a formula Excel never computed",
    "error",
    to_xlsx("income", formula=(4, "wage_income", "=1000+234")),
    rule="formula_without_value",
    file="income.xlsx",
    column="wage_income",
    row=6,
    text=("=1000+234",),
)
case(
    "xlsx_dates_as_text",
    "members.xlsx with birth dates typed as text 1982/06/12",
    "accepted",
    _excel_dates("slashes"),
    check=same_table("members"),
)
case(
    "xlsx_dates_as_serials",
    "members.xlsx with birth dates as Excel serial numbers",
    "accepted",
    _excel_dates("serial"),
    check=same_table("members"),
)
case(
    "xlsx_date_cells",
    "members.xlsx with birth dates as Excel date cells",
    "accepted",
    _excel_dates("cell"),
    check=same_table("members"),
)
case(
    "xlsx_id_as_number",
    "members.xlsx with ID numbers stored as numbers (digits lost)",
    "error",
    _id_as_excel_number,
    rule="value_form",
    file="members.xlsx",
    column="person_id",
    row=2,
    text=("****",),
)

# keys and references
case(
    "duplicate_household",
    "two different households rows with the same household_id",
    "error",
    _duplicate_row("households", 3, change={"village": "新村"}),
    rule="unique_key",
    file="households.csv",
    text=("household_id", "rows 5, 6"),
)
case(
    "exact_duplicate_rows",
    "an income row repeated exactly",
    "warning",
    _duplicate_row("income", 4),
    rule="exact_duplicate",
    file="income.csv",
    row=7,
)
case(
    "duplicate_household_month",
    "two different income rows for one household and month",
    "error",
    _duplicate_row("income", 4, change={"wage_income": "1"}),
    rule="unique_key",
    file="income.csv",
    text=("rows 6, 7",),
)
case(
    "member_unknown_household",
    "a member names a household that is not in households",
    "error",
    set_cell("members", 10, "household_id", "9999999999999999"),
    rule="member_household",
    file="members.csv",
    column="household_id",
    row=12,
)
case(
    "two_heads",
    "a household with two 户主",
    "error",
    edit("members", _two_heads),
    rule="one_head",
    file="members.csv",
    column="relation",
    row=2,
    text=("户主",),
)
case(
    "no_head",
    "a household without 户主",
    "error",
    edit("members", _no_head),
    rule="one_head",
    file="households.csv",
    text=("户主",),
)
case(
    "unknown_people_few",
    "3% of medical claims name people not in members (left, died)",
    "warning",
    _unknown_people(0.03),
    rule="unknown_reference",
    file="medical.csv",
    column="person_id",
    row=2,
)
case(
    "unknown_people_many",
    "30% of medical claims name unknown people (another id scheme)",
    "error",
    _unknown_people(0.30),
    rule="unknown_reference",
    file="medical.csv",
    column="person_id",
    text=("20%",),
)

# identifiers
case(
    "id_bad_check_digit",
    "an ID number whose check digit is wrong",
    "warning",
    edit("members", _bad_check_digit),
    rule="id_check_digit",
    file="members.csv",
    column="person_id",
    row=2,
)
case(
    "id_wrong_length",
    "an ID number of 17 characters",
    "warning",
    edit("members", _id_length),
    rule="id_length",
    file="members.csv",
    column="person_id",
    row=2,
)

# money
case(
    "negative_money",
    "a negative wage income",
    "error",
    set_cell("income", 4, "wage_income", "-500"),
    rule="negative",
    file="income.csv",
    column="wage_income",
    row=6,
)
case(
    "absurd_money",
    "¥10⁹ of wage income in one month",
    "error",
    set_cell("income", 4, "wage_income", "1000000000"),
    rule="implausible_amount",
    file="income.csv",
    column="wage_income",
    row=6,
)
case(
    "money_with_yuan",
    "money written as 12345.5元",
    "accepted",
    set_cell("income", 4, "wage_income", "12345.5元"),
    check=money_is(12345.5),
)
case(
    "money_thousands",
    "money written as 12,345.5",
    "accepted",
    set_cell("income", 4, "wage_income", "12,345.5"),
    check=money_is(12345.5),
)
case(
    "money_fullwidth",
    "money in full-width digits １２３４５.５",
    "accepted",
    set_cell("income", 4, "wage_income", "１２３４５.５"),
    check=money_is(12345.5),
)
case(
    "money_text",
    "money written as 约1000",
    "error",
    set_cell("income", 4, "wage_income", "约1000"),
    rule="value_form",
    file="income.csv",
    column="wage_income",
    row=6,
    text=("约1000",),
)
case(
    "out_of_pocket_above_total",
    "a claim whose 个人自付 exceeds its 医疗费总额",
    "error",
    set_cell("medical", 4, "out_of_pocket", "999999"),
    rule="out_of_pocket",
    file="medical.csv",
    column="out_of_pocket",
    row=6,
)

# months and dates
case(
    "months_out_of_order",
    "income rows shuffled (months out of order)",
    "accepted",
    _shuffle("income"),
    check=same_table("income"),
)
case(
    "months_chinese",
    "income months written 2024年3月",
    "accepted",
    _months_as(lambda m: f"{m.year}年{m.month}月"),
    check=same_table("income"),
)
case(
    "months_compact",
    "income months written 202403",
    "accepted",
    _months_as(lambda m: f"{m.year}{m.month:02d}"),
    check=same_table("income"),
)
case(
    "month_invalid",
    "an income month 2026-13",
    "error",
    set_cell("income", 4, "month", "2026-13"),
    rule="value_form",
    file="income.csv",
    column="month",
    row=6,
    text=("2026-13",),
)
case(
    "date_invalid",
    "a settle date 2026-02-30",
    "error",
    set_cell("medical", 4, "settle_date", "2026-02-30"),
    rule="value_form",
    file="medical.csv",
    column="settle_date",
    row=6,
)
case(
    "month_far_future",
    "one income month typed 2062-09 instead of 2026-09",
    "error",
    set_cell("income", 4, "month", "2062-09"),
    rule="future_date",
    file="income.csv",
    column="month",
    row=6,
    text=("2062-09",),
)
case(
    "eliminated_before_identified",
    "an outcome eliminated before it was identified",
    "error",
    set_cell("outcomes", 4, "eliminated_month", "2020-01"),
    rule="elimination_order",
    file="outcomes.csv",
    column="eliminated_month",
    row=6,
)
case(
    "spell_ends_before_start",
    "a work spell that ends before it starts",
    "error",
    set_cell("employment", 4, "end_month", "2001-01"),
    rule="spell_order",
    file="employment.csv",
    column="end_month",
    row=6,
)

# categories
case(
    "unknown_relation",
    "a relation 儿子 (the contract says 之子)",
    "error",
    set_cell("members", 1, "relation", "儿子"),
    rule="value_form",
    file="members.csv",
    column="relation",
    row=3,
    text=("儿子",),
)
case(
    "bool_unknown",
    "a 是否易地扶贫搬迁 value 不清楚",
    "error",
    set_cell("households", 2, "relocated", "不清楚"),
    rule="value_form",
    file="households.csv",
    column="relocated",
    row=4,
)
case(
    "health_fullwidth_comma",
    "health 长期慢性病，残疾 joined by a full-width comma",
    "accepted",
    set_cell("members", 1, "health", "长期慢性病，残疾"),
    check=lambda t, b: _assert("长期慢性病,残疾" in set(t.members["health"])),
)
case(
    "exit_year_not_poor",
    "a 一般农户 with a 脱贫年度",
    "error",
    edit(
        "households",
        lambda f: f.assign(
            household_type=f["household_type"].where(f.index != 4, "一般农户"),
            exit_year=f["exit_year"].where(f.index != 4, "2018"),
        ),
    ),
    rule="exit_year",
    file="households.csv",
    column="exit_year",
    row=6,
)

# department feeds, seen by `risk score`
case(
    "feed_empty",
    "medical.csv has a header and no rows",
    "warning",
    _empty_table("medical"),
    command="score",
    text=("medical", "stale"),
)
case(
    "feed_missing_month",
    "no income records for the scoring month",
    "warning",
    _feed_month("income", keep=0.0),
    command="score",
    text=("income", "no_records"),
)
case(
    "feed_halved",
    "half the income records of the scoring month are missing",
    "warning",
    _feed_month("income", keep=0.5),
    command="score",
    text=("income", "volume_drop"),
)
case(
    "feed_not_sent",
    "medical.csv is absent when scoring",
    "warning",
    remove("medical.csv"),
    command="score",
    text=("medical", "missing_table"),
)
case(
    "records_after_scoring_month",
    "income after the scoring month altered: same scores",
    "accepted",
    _future_rows,
    command="score",
)


def _assert(condition: bool) -> None:
    assert condition


# --- the generated list of cases -----------------------------------------------------------------

_OUTCOME_ZH = {
    "error": "错误 error (exit 2)",
    "warning": "警告 warning",
    "accepted": "接受 accepted",
}


def markdown() -> str:
    """docs/corpus.md: every case with its expected outcome, generated from `MUTATIONS`."""
    counts = {o: sum(m.outcome == o for m in MUTATIONS) for o in _OUTCOME_ZH}
    lines = [
        "# Bad-input corpus",
        "",
        "<!-- generated by `python -m tests.corpus.mutations --markdown > docs/corpus.md`; "
        "do not edit by hand -->",
        "",
        "Each case mutates a copy of a small valid simulated data directory (150 households × 14 "
        "months, CSV) in one way and declares what fanpin must do. `tests/corpus/test_corpus.py` runs "
        "every case through `risk validate` (or `risk score` for the feed cases) and checks the exit "
        "code, that no traceback is printed, and that the message names the file, row and column.",
        "",
        f"{len(MUTATIONS)} cases: {counts['error']} errors, {counts['warning']} warnings, "
        f"{counts['accepted']} accepted.",
        "",
        "| case | what is changed | expected | reported by | names |",
        "|---|---|---|---|---|",
    ]
    for m in MUTATIONS:
        names = ", ".join(
            p for p in (m.file or "", m.column or "", f"row {m.row}" if m.row else "") if p
        )
        by = f"`risk {m.command}`" + (f" rule `{m.rule}`" if m.rule else "")
        lines.append(
            f"| `{m.name}` | {m.description} | {_OUTCOME_ZH[m.outcome]} | {by} | {names or '-'} |"
            + (f" **known failure:** {m.known_failure}" if m.known_failure else "")
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print docs/corpus.md")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(), end="")
    else:
        for m in MUTATIONS:
            print(f"{m.name:32} {m.outcome:9} {m.description}")


if __name__ == "__main__":
    main()
