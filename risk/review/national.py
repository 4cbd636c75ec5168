"""`risk import-national`: a national monitoring-system export becomes contract tables.

The export (e.g. ``（自定义）监测对象信息.xlsx``) has one row per person, title rows above (possibly
merged) and the header on row 3, with 170+ columns. This module keeps the columns the contract uses,
found by their Chinese headers through `features.contract.schema` (full-width characters and spaces
normalised), and writes `households.csv`, `members.csv` and `outcomes.csv` (UTF-8 with BOM, English
contract headers) into the output folder, atomically.

Privacy: ID numbers (证件号码 of 18, 20 or 22 characters, and 户编号 that are a head's ID number, as
some counties use) are pseudonymised here with the configured key by
`features.contract.pseudonym.pseudonymise_ids` -- the same function and key the loader uses, so tables from
other departments that carry the raw number still join. Before that, birth date and sex are read
from an 18-character ID-card number when the export has no 出生日期 / 性别 column. No unmasked number
is ever written.

Household fields come from the 户主's row. `household_type` comes from 户类型 when present, else
from 脱贫年度 (a year means 脱贫户) or the monitoring category (脱贫不稳定户 → 脱贫户, 边缘易致贫户 →
一般农户). `risk_types` joins 致贫返贫风险1…5. `eliminated_month` is 消除监测时间 (or 风险消除时间);
when only 风险是否已消除 = 是 is given, the month is unknown: the outcome is written without it (the
household counts as still monitored) and the summary says how many.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from features.contract.errors import DataContractError
from features.contract.pseudonym import looks_like_id_number, pseudonymise_ids
from features.contract.schema import CONTRACT, header_key
from risk.atomic import atomic_output_dir

HEADER_ROW = 3
_SCAN_ROWS = 6
_SPLIT = re.compile(r"[,，、;；/\s]+")
#: National headers the contract does not list, mapped to what they feed.
EXTRA_HEADERS: dict[str, str] = {
    "风险是否已消除": "risk_eliminated",
    "风险消除时间": "eliminated_month",
    "证件号码": "id_number",
    "人编号": "person_number",
}
RISK_HEADERS = ("致贫返贫风险", *(f"致贫返贫风险{i}" for i in range(1, 6)))
TABLES = ("households", "members", "outcomes")
_MAX_LISTED = 20


@dataclass(frozen=True)
class NationalImport:
    """What `import_national` wrote, and what it noticed."""

    out: Path
    rows: int
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Summary in Chinese and English."""
        lines = [
            f"已读取 read {self.rows} 人 person rows → {self.out}: "
            + ", ".join(f"{name} {count}" for name, count in self.counts.items()),
            "证件号码已假名化 ID numbers pseudonymised with the configured key",
        ]
        return "\n".join(lines + [f"  提示 warning: {w}" for w in self.warnings])


def import_national(file: str | Path, *, out: str | Path, pseudonym_key: bytes) -> NationalImport:
    """Read a national export and write the `households`, `members` and `outcomes` tables.

    Parameters
    ----------
    file
        The export (.xlsx), header on row 3.
    out
        Output folder (created; its previous files are replaced only when everything succeeded).
    pseudonym_key
        `FanpinConfig.privacy.pseudonym_key()`.

    Raises
    ------
    DataContractError
        When the header or a key column is missing, or rows lack 户编号 / person ids / valid months;
        the message lists the Excel rows.
    """
    raw, first_row = read_export(Path(file))
    tables, warnings = national_tables(raw, first_row=first_row, pseudonym_key=pseudonym_key)
    with atomic_output_dir(out) as folder:
        for name, frame in tables.items():
            frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
    counts = {name: len(frame) for name, frame in tables.items()}
    return NationalImport(Path(out), len(raw), counts, warnings)


def read_export(path: Path) -> tuple[pd.DataFrame, int]:
    """The person rows as text, columns named by normalised header; and the first data row."""
    if not path.is_file():
        raise DataContractError(
            f"{path}: not found; --file must be the national system's .xlsx export"
        )
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise DataContractError(
            f"{path}: cannot be read as .xlsx ({error}); save it as .xlsx"
        ) from error
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # exports often carry a wrong <dimension>
        rows = list(sheet.iter_rows(values_only=True))
    finally:
        book.close()
    header_at = _header_row(rows, path)
    header = [header_key(str(v)) if v is not None else "" for v in rows[header_at]]
    body = [list(r) + [None] * (len(header) - len(r)) for r in rows[header_at + 1 :]]
    frame = pd.DataFrame([r[: len(header)] for r in body], columns=range(len(header)), dtype=object)
    frame = _first_of_each_header(frame, header)
    frame.index = range(header_at + 2, header_at + 2 + len(frame))  # Excel row numbers
    frame = frame[~frame.map(_blank).all(axis=1)]
    return frame, header_at + 2


def _header_row(rows: list[tuple[Any, ...]], path: Path) -> int:
    wanted = {header_key("户编号")}
    people = {header_key("证件号码"), header_key("人编号")}
    for index, row in enumerate(rows[:_SCAN_ROWS]):
        keys = {header_key(str(v)) for v in row if v is not None}
        if wanted <= keys and keys & people:
            return index
    raise DataContractError(
        f"{path}: no header row with 户编号 and 证件号码 (or 人编号) in the first {_SCAN_ROWS} rows; "
        f"the national export has its header on row {HEADER_ROW}"
    )


def _first_of_each_header(frame: pd.DataFrame, header: list[str]) -> pd.DataFrame:
    seen: dict[str, int] = {}
    for position, key in enumerate(header):
        if key and key not in seen:
            seen[key] = position
    picked = frame[list(seen.values())]
    picked.columns = list(seen)
    return picked


def national_tables(
    raw: pd.DataFrame, *, first_row: int, pseudonym_key: bytes
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Contract tables from the export's rows (index = Excel row numbers). Pure."""
    people = _columns(raw, ("households", "members", "outcomes"))
    errors: list[str] = []
    warnings: list[str] = []
    people = _check_keys(people, errors)
    _derive_from_id_numbers(people)
    for column in (
        "person_id",
        "household_id",
    ):  # as the loader does (features.contract.io.ID_COLUMNS)
        people[column] = pseudonymise_ids(people[column], key=pseudonym_key)
    people.pop("id_number")
    if errors:
        raise DataContractError(
            f"national export (data from row {first_row}): " + "; ".join(errors[:_MAX_LISTED])
        )
    heads = _heads(people, warnings)
    tables = {
        "households": _households(heads),
        "members": _members(people, warnings),
        "outcomes": _outcomes(heads, errors, warnings),
    }
    if errors:
        raise DataContractError("national export: " + "; ".join(errors[:_MAX_LISTED]))
    return tables, warnings


def _columns(raw: pd.DataFrame, tables: tuple[str, ...]) -> pd.DataFrame:
    """The used columns under English names, values as normalised text ('' when empty)."""
    mapping: dict[str, str] = {}
    for table in tables:
        for key, name in CONTRACT[table].header_map().items():
            mapping.setdefault(key, name)
    mapping.update({header_key(k): v for k, v in EXTRA_HEADERS.items()})
    mapping.update({header_key(h): f"risk_{i}" for i, h in enumerate(RISK_HEADERS)})
    present = {key: name for key, name in mapping.items() if key in raw.columns}
    frame = pd.DataFrame(index=raw.index)
    for key, name in present.items():
        if name not in frame.columns:
            frame[name] = raw[key].map(_text)
    for name in ("id_number", "person_number", "household_id", "relation"):
        if name not in frame.columns:
            frame[name] = ""
    return frame


def _check_keys(people: pd.DataFrame, errors: list[str]) -> pd.DataFrame:
    people = people.copy()
    people["id_number"] = people["id_number"].str.replace(" ", "").str.upper()
    people["person_id"] = people["id_number"].where(
        people["id_number"] != "", people["person_number"]
    )
    for column, label in (("household_id", "户编号"), ("person_id", "证件号码/人编号")):
        empty = people.index[people[column] == ""].tolist()
        if empty:
            errors.append(f"{label} empty in Excel rows {_rows(empty)}; every person row needs one")
    duplicated = people[people.duplicated("person_id", keep=False) & (people["person_id"] != "")]
    if not duplicated.empty:
        errors.append(
            f"证件号码 repeated in Excel rows {_rows(duplicated.index.tolist())}; one row per person"
        )
    return people


def _derive_from_id_numbers(people: pd.DataFrame) -> None:
    """Birth date and sex from 18-character ID-card numbers where the export has none."""
    ids = people["id_number"]
    card = ids.map(lambda v: bool(v) and looks_like_id_number(v))
    birth = ids.str.slice(6, 14).where(card, "")
    birth = birth.map(lambda v: f"{v[:4]}-{v[4:6]}-{v[6:]}" if len(v) == 8 else "")
    sex = ids.str.slice(16, 17).map(lambda d: ("男" if int(d) % 2 else "女") if d.isdigit() else "")
    sex = sex.where(card, "")
    for column, derived in (("birth_date", birth), ("sex", sex)):
        current = people[column] if column in people.columns else pd.Series("", index=people.index)
        people[column] = current.where(current != "", derived)


def _heads(people: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """One row per household: the 户主's row (else the household's first row)."""
    is_head = people["relation"] == "户主"
    counts = is_head.groupby(people["household_id"]).sum()
    none, many = counts.index[counts == 0].tolist(), counts.index[counts > 1].tolist()
    if none:
        warnings.append(f"{len(none)} 户没有户主 households without a 户主 row, e.g. {none[:5]}")
    if many:
        warnings.append(f"{len(many)} 户有多个户主 households with several 户主, e.g. {many[:5]}")
    ordered = people.assign(_head=~is_head).sort_values(["household_id", "_head"], kind="stable")
    return ordered.drop_duplicates("household_id").drop(columns="_head")


def _households(heads: pd.DataFrame) -> pd.DataFrame:
    spec = CONTRACT["households"]
    frame = heads.copy()
    typed = (
        frame["household_type"]
        if "household_type" in frame.columns
        else pd.Series("", index=frame.index)
    )
    frame["household_type"] = typed.where(typed != "", _household_type(frame))
    columns = [c for c in spec.column_names if c in frame.columns]
    return frame[columns].reset_index(drop=True)


def _household_type(frame: pd.DataFrame) -> pd.Series:
    exit_year = (
        frame["exit_year"] if "exit_year" in frame.columns else pd.Series("", index=frame.index)
    )
    category = (
        frame["category"] if "category" in frame.columns else pd.Series("", index=frame.index)
    )
    by_category = category.map({"脱贫不稳定户": "脱贫户", "边缘易致贫户": "一般农户"}).fillna(
        "一般农户"
    )
    return by_category.where(exit_year == "", "脱贫户")


def _members(people: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    spec = CONTRACT["members"]
    frame = people.copy()
    if "health" in frame.columns:
        frame["health"] = frame["health"].map(_joined)
    if "birth_date" in frame.columns:
        frame["birth_date"] = frame["birth_date"].map(_date_text)
    columns = [c for c in spec.column_names if c in frame.columns]
    return frame[columns].reset_index(drop=True)


def _outcomes(heads: pd.DataFrame, errors: list[str], warnings: list[str]) -> pd.DataFrame:
    spec = CONTRACT["outcomes"]
    frame = heads.copy()
    for column in ("category", "identified_month", "eliminated_month", "risk_eliminated"):
        if column not in frame.columns:
            frame[column] = ""
    monitored = frame[frame["category"] != ""].copy()
    no_month = monitored["identified_month"] == ""
    if no_month.any():
        warnings.append(
            f"{int(no_month.sum())} 户有监测对象类别但无识别监测时间 (no 识别监测时间), Excel rows "
            f"{_rows(monitored.index[no_month].tolist())}: no outcome written for them"
        )
    monitored = monitored[~no_month]
    for column in ("identified_month", "eliminated_month"):
        parsed = monitored[column].map(_month_text)
        bad = parsed.isna()
        if bad.any():
            errors.append(
                f"{column} ({spec.column(column).label_zh}) is not a month in Excel rows "
                f"{_rows(monitored.index[bad].tolist())}; expected YYYYMM such as 202103"
            )
        monitored[column] = parsed.fillna("")
    unknown = (monitored["risk_eliminated"].map(_yes)) & (monitored["eliminated_month"] == "")
    if unknown.any():
        warnings.append(
            f"{int(unknown.sum())} 户风险已消除但无消除监测时间 (risk eliminated, month unknown): "
            "written as still monitored; add 消除监测时间 to the export to record when"
        )
    risk_columns = [c for c in monitored.columns if c.startswith("risk_") and c[5:].isdigit()]
    monitored["risk_types"] = [
        _joined(",".join(value for value in row if value))
        for row in monitored[risk_columns].itertuples(index=False)
    ]
    columns = [c for c in spec.column_names if c in monitored.columns]
    return monitored[columns].reset_index(drop=True)


# -- values ---------------------------------------------------------------------------------------
def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    """A cell as normalised text: NFKC, stripped; whole numbers without `.0`; dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def _joined(value: str) -> str:
    """`残疾，长期慢性病` → `残疾,长期慢性病` (order kept, duplicates dropped)."""
    parts = [p for p in _SPLIT.split(value) if p]
    return ",".join(dict.fromkeys(parts))


def _month_text(value: str) -> str | None:
    """YYYYMM, YYYY-MM, YYYY/MM, YYYY年M月 or a date → ``YYYY-MM``; '' stays ''; None if invalid.

    Examples
    --------
    >>> _month_text("202103"), _month_text("2021/3"), _month_text("2021-03-15"), _month_text("x")
    ('2021-03', '2021-03', '2021-03', None)
    """
    if not value:
        return ""
    match = re.fullmatch(r"(\d{4})(\d{2})", value) or re.fullmatch(
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})(?:\s*[-/.月]\s*\d{1,2}\s*日?|\s*月)?(?:\s.*)?", value
    )
    if not match or not 1 <= int(match.group(2)) <= 12:
        return None
    return f"{match.group(1)}-{int(match.group(2)):02d}"


def _date_text(value: str) -> str:
    return value[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", value) else value


def _yes(value: str) -> bool:
    return value.strip().lower() in {"是", "true", "1", "y", "yes"}


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:_MAX_LISTED])
    return shown + (f" … ({len(rows)} rows)" if len(rows) > _MAX_LISTED else "")
