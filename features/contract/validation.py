"""The rules of DATA_CONTRACT.md, one function each, and the `ValidationReport` they fill.

Rules are pure: they take normalised frames (contract columns plus `source_row`, the row as the user
counts it in the file) and return `Issue`s — and, for the rules that drop rows, the kept frame. Every
message names the file, the rows, the column (English and Chinese), the bad values and the expected
form, in Chinese and English. At most `MAX_EXAMPLES` rows are listed per rule ("… and N more").
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.parsing import arrow_strings, codes_in, is_in
from features.contract.pseudonym import mask_id, mask_if_id_number
from features.contract.schema import (
    CONTRACT,
    FORMERLY_POOR,
    HEAD_OF_HOUSEHOLD,
    UNKNOWN_REF_LIMIT,
    ColumnSpec,
    TableSpec,
)

Severity = Literal["error", "warning"]
MAX_EXAMPLES = 10
ROW = "source_row"
#: While a directory is checked, an id column may travel with its integer codes (equal codes ⇔
#: equal ids, across every table): rules compare and look ids up by code when both sides have them.
CODE_SUFFIX = ":code"


def code_column(column: str) -> str:
    """The name of the column holding `column`'s codes."""
    return column + CODE_SUFFIX


def ids_of(frame: pd.DataFrame, column: str) -> pd.Series:
    """An id column to match on: its codes when the frame carries them, else its values."""
    code = code_column(column)
    return frame[code] if code in frame else frame[column]


def _matching(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns to compare rows on: codes in place of the id columns that have them."""
    return [code_column(c) if code_column(c) in frame else c for c in columns]


def _is_known(frame: pd.DataFrame, column: str, known: pd.Series) -> np.ndarray:
    """Rows whose `column` is in `known` (values, or codes from `ids_of`); missing never is."""
    if known.name == code_column(column) and code_column(column) in frame:
        return codes_in(frame[code_column(column)].to_numpy(), known.to_numpy())
    return is_in(frame[column], known)


@dataclass(frozen=True)
class Issue:
    """One finding of one rule: all rows of a table (and column) that break it.

    `rows`/`values` hold the first `MAX_EXAMPLES` examples; `count` is the total.
    """

    severity: Severity
    rule: str
    message: str
    table: str | None = None
    file: str | None = None
    column: str | None = None
    rows: tuple[int, ...] = ()
    values: tuple[str, ...] = ()
    count: int = 1

    @property
    def row(self) -> int | None:
        """The first row concerned (as the user counts it), if any."""
        return self.rows[0] if self.rows else None

    @property
    def value(self) -> str | None:
        """The first bad value, if any (ID-like values masked)."""
        return self.values[0] if self.values else None


@dataclass(frozen=True)
class SourceCoverage:
    """Months covered by one dated table."""

    first: pd.Period
    last: pd.Period
    months_with_records: int
    months_without_records: tuple[pd.Period, ...]


@dataclass(frozen=True)
class ValidationReport:
    """What `validate_directory` found: tables, rows, months covered and problems."""

    directory: str
    issues: tuple[Issue, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    coverage: Mapping[str, SourceCoverage] = field(default_factory=dict)
    missing_tables: tuple[str, ...] = ()
    export_month: pd.Period | None = None

    @property
    def errors(self) -> tuple[Issue, ...]:
        """Issues that make the directory unusable."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Issues reported but allowed."""
        return tuple(i for i in self.issues if i.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when the directory is usable (no errors; warnings allowed)."""
        return not self.errors

    def error_text(self) -> str:
        """Every error, one per line (the `DataContractError` message)."""
        lines = [f"数据目录不可用 the data directory {self.directory} is not usable: "
                 f"{len(self.errors)} error(s)"]  # fmt: skip
        lines += [f"  ✗ {issue.message}" for issue in self.errors]
        return "\n".join(lines)

    def render(self, *, include_errors: bool = True) -> str:
        """A readable plain-text summary (tables, rows, months covered per source, problems)."""
        return "\n".join(_render(self, include_errors=include_errors))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: object, width: int, *, right: bool = False) -> str:
    text = str(text)
    fill = " " * max(width - _width(text), 0)
    return fill + text if right else text + fill


def _render(report: ValidationReport, *, include_errors: bool) -> list[str]:
    export = str(report.export_month) if report.export_month is not None else "-"
    lines = [f"数据校验 validation of {report.directory}", f"导出月份 export month: {export}", ""]
    widths = (24, 26, 10, 10, 10, 10)
    heads = ("表 table", "文件 file", "行 rows", "首月 first", "末月 last", "有记录月数")
    lines.append(" ".join(_pad(h, w, right=i in (2, 5)) for i, (h, w) in
                          enumerate(zip(heads, widths, strict=True))) + "  缺月 months without records")  # fmt: skip
    lines.append("-" * 118)
    for name, spec in CONTRACT.items():
        if name not in report.files:
            continue
        cells = [spec.display, report.files[name], f"{report.rows.get(name, 0):,}", "", "", ""]
        gaps = ""
        cov = report.coverage.get(name)
        if cov is not None:
            cells[3:] = [str(cov.first), str(cov.last), str(cov.months_with_records)]
            gaps = ", ".join(str(m) for m in cov.months_without_records[:6]) or "-"
            more = len(cov.months_without_records) - 6
            gaps += f" … +{more}" if more > 0 else ""
        row = " ".join(_pad(c, w, right=i in (2, 5)) for i, (c, w) in
                       enumerate(zip(cells, widths, strict=True)))  # fmt: skip
        lines.append(f"{row}  {gaps}".rstrip())
    if report.missing_tables:
        names = ", ".join(CONTRACT[t].display for t in report.missing_tables)
        lines += [
            "",
            f"未提供 not sent (optional; their features become missing, not zero): {names}",
        ]
    lines += ["", f"问题 problems: {len(report.errors)} 错误 error(s), "
                  f"{len(report.warnings)} 警告 warning(s)"]  # fmt: skip
    shown = [i for i in report.issues if include_errors or i.severity == "warning"]
    lines += [f"  {'✗' if i.severity == 'error' else '!'} {i.message}" for i in shown
              if i.rule != "optional_table"]  # fmt: skip
    verdict = "可用 usable" if report.ok else "不可用 NOT usable"
    lines += ["", f"结论 verdict: {verdict}"]
    return lines


# --- building messages -------------------------------------------------------------------------


def _examples(rows: Sequence[int], values: Sequence[str], count: int) -> str:
    parts = []
    for i, row in enumerate(rows[:MAX_EXAMPLES]):
        value = f': "{values[i]}"' if i < len(values) else ""
        parts.append(f"第{row}行 row {row}{value}")
    text = "; ".join(parts)
    if count > len(parts):
        text += f"; … 另有{count - len(parts)}处 and {count - len(parts)} more"
    return text


def make_issue(
    severity: Severity,
    rule: str,
    *,
    zh: str,
    en: str,
    table: str | None = None,
    file: str | None = None,
    column: ColumnSpec | None = None,
    rows: Sequence[int] | np.ndarray = (),
    values: Sequence[object] = (),
    count: int | None = None,
    expected: str = "",
    fix: str = "",
) -> Issue:
    """Build an `Issue` whose message names file, column, rows, values and the expected form."""
    shown_values = tuple(_masked(_show(v)) for v in list(values)[:MAX_EXAMPLES])
    shown_rows = tuple(int(r) for r in list(rows)[:MAX_EXAMPLES])
    total = count if count is not None else max(len(rows), 1)
    where = [f"[{file}]" if file else "", CONTRACT[table].display if table else ""]
    if column is not None:
        where.append(f"列 column {column.display}")
    message = f"{' '.join(w for w in where if w)}: {zh} — {en}".lstrip(": ")
    if shown_rows:
        message += f" ({_examples(shown_rows, shown_values, total)})"
    if expected:
        message += f"; 应为 expected: {expected}"
    if fix:
        message += f"; {fix}"
    return Issue(severity, rule, message, table, file, column.name if column else None,
                 shown_rows, shown_values, total)  # fmt: skip


def _masked(text: str) -> str:
    """ID-like values masked, and so is a long number in exponent form (an ID number that Excel
    turned into `5.226221982061229e+17` still shows most of its digits)."""
    if "e+" in text.lower() and sum(c.isdigit() for c in text) >= 15:
        return mask_id(text)
    return mask_if_id_number(text)


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value)


def keep_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """`frame.loc[keep]` for a boolean mask, as a positional take (several times faster on wide
    frames of Arrow strings)."""
    return frame.take(np.flatnonzero(keep))


def _rows_where(frame: pd.DataFrame, mask: np.ndarray | pd.Series) -> np.ndarray:
    return frame.loc[np.asarray(mask, dtype=bool), ROW].to_numpy()


# --- the directory -----------------------------------------------------------------------------


def check_required_tables(found: Iterable[str]) -> list[Issue]:
    """`households` and `members` must be present (an error each)."""
    present = set(found)
    return [
        make_issue(
            "error",
            "required_table",
            table=name,
            zh="缺少必需的表",
            en="required table is missing",
            expected=f"a file {name}.csv/.xlsx/.parquet or {CONTRACT[name].label_zh}.csv/.xlsx/.parquet",
            fix="请放入该文件 add the file to the directory",
        )  # fmt: skip
        for name, spec in CONTRACT.items()
        if spec.required and name not in present
    ]


def report_missing_optional_tables(found: Iterable[str]) -> list[Issue]:
    """Optional tables that are absent: reported as warnings ("the department sent nothing")."""
    present = set(found)
    return [
        make_issue(
            "warning",
            "optional_table",
            table=name,
            zh="未提供该表, 其特征将为缺失值",
            en="not sent; its features will be missing, not zero",
        )  # fmt: skip
        for name, spec in CONTRACT.items()
        if not spec.required and name not in present
    ]


def check_one_file_per_table(candidates: Mapping[str, Sequence[str]]) -> list[Issue]:
    """Two files for one table (e.g. `income.csv` and `收入.xlsx`) are an error."""
    return [
        make_issue(
            "error",
            "two_files",
            table=table,
            zh=f"同一张表有多个文件: {', '.join(files)}",
            en=f"more than one file for this table: {', '.join(files)}",
            fix="请只保留一个 keep exactly one",
        )  # fmt: skip
        for table, files in candidates.items()
        if len(files) > 1
    ]


def report_unknown_files(files: Iterable[str]) -> list[Issue]:
    """Files whose name is not a contract table: ignored with a warning."""
    names = sorted(files)
    if not names:
        return []
    known = ", ".join(f"{s.name}/{s.label_zh}" for s in CONTRACT.values())
    return [
        make_issue(
            "warning",
            "unknown_file",
            zh=f"无法识别的文件已忽略: {', '.join(names)}",
            en=f"files that are not contract tables were ignored: {', '.join(names)}",
            expected=f"file stems {known} with .csv, .xlsx or .parquet",
        )  # fmt: skip
    ]


# --- headers -----------------------------------------------------------------------------------


def check_required_columns(spec: TableSpec, present: Iterable[str], *, file: str) -> list[Issue]:
    """A required column absent from the header is an error."""
    have = set(present)
    return [
        make_issue(
            "error",
            "required_column",
            table=spec.name,
            file=file,
            column=column,
            zh="缺少必需的列",
            en="required column is missing",
            expected=f"a header {column.name} or {' / '.join(column.labels_zh)}",
        )  # fmt: skip
        for column in spec.columns
        if column.required and column.name not in have
    ]


def report_unknown_columns(spec: TableSpec, headers: Sequence[str], *, file: str) -> list[Issue]:
    """Extra columns are kept out of modelling and reported once (a warning)."""
    if not headers:
        return []
    listed = ", ".join(f'"{h}"' for h in headers)
    return [
        make_issue(
            "warning",
            "unknown_column",
            table=spec.name,
            file=file,
            zh=f"未知的列不参与建模: {listed}",
            en=f"unknown columns are kept out of modelling: {listed}",
            expected=f"contract columns {', '.join(spec.column_names)}",
        )  # fmt: skip
    ]


def check_duplicate_headers(spec: TableSpec, clashes: Mapping[str, Sequence[str]], *, file: str):
    """Two headers meaning the same column (e.g. `county` and `县`) are an error."""
    return [
        make_issue(
            "error",
            "duplicate_header",
            table=spec.name,
            file=file,
            column=spec.column(name),
            zh=f"多个表头指向同一列: {', '.join(headers)}",
            en=f"several headers name the same column: {', '.join(headers)}",
            fix="请删除多余的列 remove the extra column",
        )  # fmt: skip
        for name, headers in clashes.items()
    ]


# --- values ------------------------------------------------------------------------------------


def check_required_values(
    frame: pd.DataFrame, spec: TableSpec, empty: Mapping[str, np.ndarray], *, file: str
) -> list[Issue]:
    """Required columns must have a value in every row."""
    issues = []
    for column in spec.columns:
        if not column.required or column.name not in empty:
            continue
        mask = empty[column.name]
        if mask.any():
            issues.append(
                make_issue(
                    "error",
                    "required_value",
                    table=spec.name,
                    file=file,
                    column=column,
                    rows=_rows_where(frame, mask),
                    count=int(mask.sum()),
                    zh=f"{int(mask.sum())}行为空",
                    en=f"{int(mask.sum())} row(s) are empty",
                    expected=column.expected_form(),
                    fix="请补全 fill them in",
                )  # fmt: skip
            )
    return issues


def check_value_forms(
    raw: pd.DataFrame, spec: TableSpec, bad: Mapping[str, np.ndarray], *, file: str
) -> list[Issue]:
    """Every value must follow its column's kind and allowed values (raw values are quoted)."""
    issues = []
    for column in spec.columns:
        mask = bad.get(column.name)
        if mask is None or not mask.any():
            continue
        count = int(mask.sum())
        issues.append(
            make_issue(
                "error",
                "value_form",
                table=spec.name,
                file=file,
                column=column,
                rows=_rows_where(raw, mask),
                values=raw.loc[mask, column.name].head(MAX_EXAMPLES),
                count=count,
                zh=f"{count}行的值不符合规定",
                en=f"{count} value(s) do not follow the contract",
                expected=column.expected_form(),
            )  # fmt: skip
        )
    return issues


def check_nonnegative(frame: pd.DataFrame, spec: TableSpec, *, file: str) -> list[Issue]:
    """Money and numbers must not be negative (the contract allows no exception)."""
    issues = []
    for column in spec.columns_of_kind("money", "number"):
        if not column.nonnegative:
            continue
        mask = (frame[column.name] < 0).to_numpy()
        if mask.any():
            count = int(mask.sum())
            issues.append(
                make_issue(
                    "error",
                    "negative",
                    table=spec.name,
                    file=file,
                    column=column,
                    rows=_rows_where(frame, mask),
                    values=frame.loc[mask, column.name].head(10),
                    count=count,
                    zh=f"{count}行为负数",
                    en=f"{count} negative value(s)",
                    expected="≥ 0 (元 yuan)",
                )  # fmt: skip
            )
    return issues


# --- rows and keys -----------------------------------------------------------------------------


def check_rows_and_key(
    frame: pd.DataFrame, spec: TableSpec, *, file: str
) -> tuple[pd.DataFrame, list[Issue]]:
    """`drop_exact_duplicates`, then `check_unique_key` unless no key occurs twice at all."""
    candidates, repeated = _exact_repeats(frame, spec)
    kept, issues = _drop_repeats(frame, spec, repeated, file=file)
    if candidates.any() or list(spec.unique_key) != _cheap_key(spec):
        issues += check_unique_key(kept, spec, file=file)
    return kept, issues


def drop_exact_duplicates(
    frame: pd.DataFrame, spec: TableSpec, *, file: str
) -> tuple[pd.DataFrame, list[Issue]]:
    """Rows repeated exactly (every contract column equal) are dropped with a warning."""
    return _drop_repeats(frame, spec, _exact_repeats(frame, spec)[1], file=file)


def _drop_repeats(
    frame: pd.DataFrame, spec: TableSpec, repeated: np.ndarray, *, file: str
) -> tuple[pd.DataFrame, list[Issue]]:
    if not repeated.any():
        return frame, []
    count = int(repeated.sum())
    issue = make_issue(
        "warning", "exact_duplicate", table=spec.name, file=file, rows=_rows_where(frame, repeated),
        count=count, zh=f"{count}行与前面某行完全相同, 已删除",
        en=f"{count} row(s) exactly repeat an earlier row and were dropped",
    )  # fmt: skip
    return keep_rows(frame, ~repeated), [issue]


def _cheap_key(spec: TableSpec) -> list[str]:
    """A few columns that every exact repeat shares (the key, else ids and the date)."""
    return list(spec.unique_key) or [
        c for c in ("household_id", "person_id", spec.time_column) if c in spec.column_names
    ]


def _exact_repeats(frame: pd.DataFrame, spec: TableSpec) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose cheap key occurs more than once, and rows equal to an earlier row (compared in
    full only where the cheap key already agrees)."""
    candidates = _occurs_twice(frame, _matching(frame, _cheap_key(spec)))
    repeated = np.zeros(len(frame), dtype=bool)
    if candidates.any():
        subset = frame.loc[candidates, _matching(frame, spec.column_names)]
        repeated[np.flatnonzero(candidates)] = subset.duplicated(keep="first").to_numpy()
    return candidates, repeated


def _occurs_twice(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """`frame.duplicated(subset=columns, keep=False)` (missing equals missing).

    When the combinations of the columns' distinct values are few (ids by month), rows are
    counted in an array of all combinations instead of a hash table of millions of keys.
    """
    factors = [pd.factorize(frame[c], use_na_sentinel=False) for c in columns]
    sizes = [len(uniques) for _, uniques in factors]
    if not columns or math.prod(sizes) > 4 * len(frame) + 1_000_000:
        return frame.duplicated(subset=columns, keep=False).to_numpy()
    combined = np.ravel_multi_index([codes for codes, _ in factors], sizes)
    return np.bincount(combined, minlength=math.prod(sizes))[combined] > 1


def check_unique_key(frame: pd.DataFrame, spec: TableSpec, *, file: str) -> list[Issue]:
    """Two different rows with the same key are an error naming both rows."""
    if not spec.unique_key:
        return []
    key = list(spec.unique_key)
    keyed = frame[key].notna().all(axis=1).to_numpy()
    clashes = np.zeros(len(frame), dtype=bool)
    by = frame[_matching(frame, key)]
    clashes[keyed] = (by if keyed.all() else by.loc[keyed]).duplicated(keep=False).to_numpy()
    if not clashes.any():
        return []
    clashing = frame.loc[clashes, [*key, ROW]]
    distinct = clashing.drop_duplicates(subset=key)
    n_keys = len(distinct)
    shown = clashing.merge(distinct.head(MAX_EXAMPLES)[key], on=key)
    described = [
        _describe_clash(key, key_value, sorted(rows.tolist()))
        for key_value, rows in shown.groupby(key, sort=False, observed=True)[ROW]
    ]
    if n_keys > len(described):
        described.append(f"… 另有{n_keys - len(described)}个 and {n_keys - len(described)} more")
    return [
        make_issue(
            "error",
            "unique_key",
            table=spec.name,
            file=file,
            count=n_keys,
            rows=np.sort(shown[ROW].to_numpy()),
            zh=f"{n_keys}个键 ({', '.join(key)}) 对应多行不同的记录",
            en=f"{n_keys} key(s) ({', '.join(key)}) have several different rows: "
            + "; ".join(described),
            fix="每个键只能有一行 keep one row per key",
        )  # fmt: skip
    ]


def _describe_clash(key: list[str], key_value: object, rows: list[int]) -> str:
    values = key_value if isinstance(key_value, tuple) else (key_value,)
    named = ", ".join(f"{k}={mask_if_id_number(str(v))}" for k, v in zip(key, values, strict=True))
    return f"{named}: 第{'、'.join(map(str, rows))}行 rows {', '.join(map(str, rows))}"


# --- references between tables -----------------------------------------------------------------


def check_member_households(
    members: pd.DataFrame, households: pd.DataFrame, *, file: str
) -> list[Issue]:
    """`members.household_id` must exist in `households`."""
    ids = members["household_id"]
    mask = ids.notna().to_numpy() & ~_is_known(members, "household_id",
                                               ids_of(households, "household_id"))  # fmt: skip
    if not mask.any():
        return []
    count = int(mask.sum())
    return [
        make_issue(
            "error",
            "member_household",
            table="members",
            file=file,
            column=CONTRACT["members"].column("household_id"),
            rows=_rows_where(members, mask),
            values=ids[mask].head(MAX_EXAMPLES),
            count=count,
            zh=f"{count}名成员的户编号不在户信息中",
            en=f"{count} member(s) name a household not in households",
            fix="请核对户编号或补充户信息 check the id or add the household",
        )  # fmt: skip
    ]


def check_one_head(
    members: pd.DataFrame, households: pd.DataFrame, *, members_file: str, households_file: str
) -> list[Issue]:
    """Every household has exactly one 户主 among its members."""
    is_head = (members["relation"] == HEAD_OF_HOUSEHOLD).to_numpy()
    heads = members.loc[is_head, "household_id"]
    n_heads, several = _heads_per_household(members, households, is_head)
    issues = []
    none = n_heads == 0
    if none.any():
        count = int(none.sum())
        issues.append(
            make_issue(
                "error",
                "one_head",
                table="households",
                file=households_file,
                rows=_rows_where(households, none),
                count=count,
                values=households.loc[none, "household_id"].head(MAX_EXAMPLES),
                zh=f"{count}户在家庭成员中没有户主",
                en=f"{count} household(s) have no 户主 in members",
                expected="exactly one member with 与户主关系 = 户主 per household",
            )  # fmt: skip
        )
    if several.any():
        rows = members.loc[heads.index[several], ROW].to_numpy()
        count = int((n_heads > 1).sum())
        issues.append(
            make_issue(
                "error",
                "one_head",
                table="members",
                file=members_file,
                column=CONTRACT["members"].column("relation"),
                rows=np.sort(rows),
                count=int(several.sum()),
                zh=f"{count}户有多个户主",
                en=f"{count} household(s) have more than one 户主",
                expected="exactly one 户主 per household",
            )  # fmt: skip
        )
    return issues


def _heads_per_household(
    members: pd.DataFrame, households: pd.DataFrame, is_head: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """户主 per household, and which heads belong to a household with several."""
    code = code_column("household_id")
    if code in members and code in households:
        head_codes = members.loc[is_head, code].to_numpy()
        household_codes = households[code].to_numpy()
        # one slot more than any code: code -1 (missing) counts no head and is no household
        size = max(head_codes.max(initial=-1), household_codes.max(initial=-1)) + 2
        counts = np.bincount(head_codes[head_codes >= 0], minlength=size)
        n_heads = counts[household_codes]
        crowded = np.zeros(size, dtype=bool)
        crowded[household_codes[n_heads > 1]] = True
        return n_heads, crowded[head_codes]
    heads = members.loc[is_head, "household_id"]
    n_heads = households["household_id"].map(heads.value_counts()).fillna(0).to_numpy()
    return n_heads, is_in(heads, households.loc[n_heads > 1, "household_id"])


def drop_unknown_references(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    column: str,
    known: pd.Series,
    file: str,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Rows naming a person (or household) that is not in `members` (`households`) are kept out.

    Counted and warned; above `UNKNOWN_REF_LIMIT` of the rows it is an error (a wrong id scheme is
    more likely than that many departures). `known` holds the ids, or their codes (`ids_of`).
    """
    ids = frame[column]
    named = ids.notna().to_numpy()
    unknown = named & ~_is_known(frame, column, known)
    if not unknown.any():
        return frame, []
    count, share = int(unknown.sum()), unknown.sum() / max(int(named.sum()), 1)
    severity: Severity = "error" if share > UNKNOWN_REF_LIMIT else "warning"
    whom = "members" if column == "person_id" else "households"
    tail = (
        f"超过{UNKNOWN_REF_LIMIT:.0%}, 可能是编号方案不一致 more than {UNKNOWN_REF_LIMIT:.0%}: "
        "probably a different id scheme"
        if severity == "error"
        else "已排除在特征之外 kept out of the features (people who left, died or moved)"
    )
    issue = make_issue(
        severity, "unknown_reference", table=spec.name, file=file, column=spec.column(column),
        rows=_rows_where(frame, unknown), count=count,
        zh=f"{count}行 ({share:.1%}) 所指的对象不在{whom}中",
        en=f"{count} row(s) ({share:.1%}) name an id not in {whom}; {tail}",
    )  # fmt: skip
    return keep_rows(frame, ~unknown), [issue]


def clear_unknown_people(
    frame: pd.DataFrame, spec: TableSpec, *, known: pd.Series, file: str
) -> tuple[pd.DataFrame, list[Issue]]:
    """In a household-keyed table (`events`), an unknown person is cleared, the row kept.

    The household is known, so the record still describes it: a `家庭成员死亡` event names a person
    who, by the time of the snapshot, is no longer in `members`. Counted and warned, never an error.
    """
    ids = frame["person_id"]
    unknown = ids.notna().to_numpy() & ~_is_known(frame, "person_id", known)
    if not unknown.any():
        return frame, []
    count = int(unknown.sum())
    issue = make_issue(
        "warning", "unknown_reference", table=spec.name, file=file,
        column=spec.column("person_id"), rows=_rows_where(frame, unknown), count=count,
        zh=f"{count}行所指的人不在家庭成员中, 保留为户级记录",
        en=f"{count} row(s) name a person not in members (left, died or moved); "
        "kept as household records without the person",
    )  # fmt: skip
    cleared = frame.assign(person_id=ids.mask(unknown))
    if code_column("person_id") in frame:
        codes = frame[code_column("person_id")].to_numpy()
        cleared[code_column("person_id")] = np.where(unknown, np.int32(-1), codes)
    return cleared, [issue]


# --- rules inside a table ----------------------------------------------------------------------


def check_out_of_pocket(medical: pd.DataFrame, *, file: str) -> list[Issue]:
    """`out_of_pocket` ≤ `total_cost` in every claim."""
    mask = (medical["out_of_pocket"] > medical["total_cost"] + 0.005).to_numpy()
    if not mask.any():
        return []
    count = int(mask.sum())
    shown = medical.loc[mask].head(MAX_EXAMPLES)
    values = [f"{o:,.2f} > {t:,.2f}" for o, t in zip(shown["out_of_pocket"], shown["total_cost"],
                                                       strict=True)]  # fmt: skip
    return [
        make_issue(
            "error",
            "out_of_pocket",
            table="medical",
            file=file,
            column=CONTRACT["medical"].column("out_of_pocket"),
            rows=_rows_where(medical, mask),
            values=values,
            count=count,
            zh=f"{count}条结算的个人自付大于医疗费总额",
            en=f"{count} claim(s) with out_of_pocket above total_cost (医疗费总额)",
            expected="个人自付 ≤ 医疗费总额 out_of_pocket ≤ total_cost",
        )  # fmt: skip
    ]


def check_exit_year(households: pd.DataFrame, *, file: str) -> list[Issue]:
    """`exit_year` (脱贫年度) is given only for 脱贫户."""
    kind = households["household_type"]
    mask = households["exit_year"].notna() & kind.notna() & (kind != FORMERLY_POOR)
    mask = mask.fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return []
    count = int(mask.sum())
    return [
        make_issue(
            "error",
            "exit_year",
            table="households",
            file=file,
            column=CONTRACT["households"].column("exit_year"),
            rows=_rows_where(households, mask),
            values=households.loc[mask, "household_type"].head(MAX_EXAMPLES),
            count=count,
            zh=f"{count}户不是脱贫户却有脱贫年度",
            en=f"{count} household(s) have an exit year but are not 脱贫户",
            expected="脱贫年度 only for 户类型 = 脱贫户",
        )  # fmt: skip
    ]


def _order_rule(
    frame: pd.DataFrame, spec: TableSpec, *, first: str, then: str, file: str, rule: str
) -> list[Issue]:
    mask = (frame[then] < frame[first]).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return []
    count = int(mask.sum())
    shown = frame.loc[mask].head(MAX_EXAMPLES)
    values = [f"{a} < {b}" for a, b in zip(shown[then], shown[first], strict=True)]
    a, b = spec.column(then), spec.column(first)
    return [
        make_issue(
            "error",
            rule,
            table=spec.name,
            file=file,
            column=a,
            rows=_rows_where(frame, mask),
            values=values,
            count=count,
            zh=f"{count}行的{a.label_zh}早于{b.label_zh}",
            en=f"{count} row(s) with {a.name} before {b.name}",
            expected=f"{a.name} ≥ {b.name}",
        )  # fmt: skip
    ]


def check_elimination_order(outcomes: pd.DataFrame, *, file: str) -> list[Issue]:
    """`eliminated_month` is not before `identified_month`."""
    return _order_rule(outcomes, CONTRACT["outcomes"], first="identified_month",
                       then="eliminated_month", file=file, rule="elimination_order")  # fmt: skip


def check_spell_order(employment: pd.DataFrame, *, file: str) -> list[Issue]:
    """A work spell's `end_month` is not before its `start_month`."""
    return _order_rule(employment, CONTRACT["employment"], first="start_month",
                       then="end_month", file=file, rule="spell_order")  # fmt: skip


# --- time --------------------------------------------------------------------------------------


def months_covered(frame: pd.DataFrame, spec: TableSpec) -> SourceCoverage | None:
    """First and last month, months with records and the months inside the span without any."""
    if spec.time_column is None:
        return None
    values = frame[spec.time_column].dropna()
    if values.empty:
        return None
    months = values.dt.to_period("M") if spec.column(spec.time_column).kind == "date" else values
    ordinals = np.unique(months.array.asi8)
    span = np.arange(ordinals[0], ordinals[-1] + 1)
    missing = np.setdiff1d(span, ordinals, assume_unique=True)
    as_month = pd.PeriodIndex.from_ordinals
    return SourceCoverage(
        first=as_month([ordinals[0]], freq="M")[0],
        last=as_month([ordinals[-1]], freq="M")[0],
        months_with_records=len(ordinals),
        months_without_records=tuple(as_month(missing, freq="M")),
    )


# --- plausibility (hardening, issue 8) ---------------------------------------------------------

#: A money value at or above this (100 million yuan in one record) is a unit or typing error.
IMPLAUSIBLE_AMOUNT = 1e8
#: GB 11643 weights of the first 17 digits, and the check character for each remainder mod 11.
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)
#: At most this share of ID numbers with a wrong check digit is read as typing slips (warned).
TYPO_SHARE = 0.2
#: Region code and a 19xx/20xx birth date: an ID number, whatever its length.
_ID_HEAD = r"^\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"


def check_implausible_amounts(frame: pd.DataFrame, spec: TableSpec, *, file: str) -> list[Issue]:
    """Money of ¥100,000,000 or more in one record is an error (wrong unit or a typing slip)."""
    issues = []
    for column in spec.columns_of_kind("money"):
        mask = (frame[column.name].abs() >= IMPLAUSIBLE_AMOUNT).to_numpy()
        if mask.any():
            count = int(mask.sum())
            issues.append(
                make_issue(
                    "error",
                    "implausible_amount",
                    table=spec.name,
                    file=file,
                    column=column,
                    rows=_rows_where(frame, mask),
                    values=frame.loc[mask, column.name].head(10),
                    count=count,
                    zh=f"{count}行金额大得不合理 (≥1亿元)",
                    en=f"{count} implausibly large amount(s) (≥ ¥{IMPLAUSIBLE_AMOUNT:,.0f})",
                    expected="元 yuan per record, below ¥100,000,000",
                    fix="请检查单位(元, 不是分)或录入错误 check the unit (yuan, not fen) or a typo",
                )  # fmt: skip
            )
    return issues


def check_future_records(
    frame: pd.DataFrame, spec: TableSpec, *, file: str, current: pd.Period
) -> list[Issue]:
    """A record dated after the current month cannot exist yet (a typing slip such as 2062)."""
    if spec.time_column is None:
        return []
    column = spec.column(spec.time_column)
    values = frame[column.name]
    months = values.dt.to_period("M") if column.kind == "date" else values
    mask = (months > current).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return []
    count = int(mask.sum())
    return [
        make_issue(
            "error",
            "future_date",
            table=spec.name,
            file=file,
            column=column,
            rows=_rows_where(frame, mask),
            values=months[mask].astype(str).head(MAX_EXAMPLES),
            count=count,
            zh=f"{count}行日期晚于当前月份 {current}",
            en=f"{count} record(s) dated after the current month {current}",
            expected=f"a month up to {current}",
            fix="请核对年份 check the year for a typing slip",
        )  # fmt: skip
    ]


def check_id_numbers(frame: pd.DataFrame, spec: TableSpec, *, file: str) -> list[Issue]:
    """ID numbers with a wrong check digit, or of a wrong length, are reported (warnings).

    Check digits are only judged in a column where most ID numbers pass (at most `TYPO_SHARE`
    fail): otherwise the ids follow another scheme. Must run before pseudonymisation. Values in
    messages are masked.
    """
    if "person_id" not in frame:
        return []
    ids = frame["person_id"].astype("str").fillna("")
    column = spec.column("person_id")
    issues = []
    lengths = ids.str.len().to_numpy()
    usual = np.isin(lengths, [18, 20, 22])
    head18, digits = _id_heads(ids, usual)
    if head18.any():
        remainder = _weighted_digit_sum(digits) % 11
        wrong = np.zeros(len(ids), dtype=bool)
        wrong[np.flatnonzero(head18)] = _ID_CHECK[remainder] != digits[:, 17]
        # typing slips are a few; when most fail, the ids are not GB 11643 numbers (test data)
        if wrong.any() and wrong.sum() <= TYPO_SHARE * head18.sum():
            issues.append(_id_issue(frame, spec, column, wrong, ids, file=file, rule="id_check_digit",
                                    zh="证件号码校验位不正确", en="ID number(s) with a wrong check digit",
                                    expected="GB 11643 check digit (last of the 18)"))  # fmt: skip
    odd = _matches(ids, ~usual, _ID_HEAD + r"[\dXx]*$")
    if odd.any():
        issues.append(_id_issue(frame, spec, column, odd, ids, file=file, rule="id_length",
                                zh="证件号码位数不对", en="ID number(s) of a wrong length",
                                expected="18 characters (20 for a disability card, 22 for a system number)"))  # fmt: skip
    return issues


def _weighted_digit_sum(digits: np.ndarray) -> np.ndarray:
    """GB 11643's weighted sum of the first 17 digits of each row (ASCII codes), in blocks (an
    (n, 17) int64 copy of millions of ids would be a quarter gigabyte)."""
    total = np.empty(len(digits), dtype=np.int64)
    step = 1 << 16
    for start in range(0, len(digits), step):
        block = digits[start : start + step, :17].astype(np.int64) - 48
        total[start : start + step] = block @ _ID_WEIGHTS
    return total


def _matches(ids: pd.Series, rows: np.ndarray, pattern: str) -> np.ndarray:
    """`ids.str.match(pattern)` in `rows`, False elsewhere (the pattern run on those rows only)."""
    found = np.zeros(len(ids), dtype=bool)
    if rows.all():
        found[:] = ids.str.match(pattern).to_numpy(dtype=bool)
    elif rows.any():
        found[rows] = ids[rows].str.match(pattern).to_numpy(dtype=bool)
    return found


def _id_heads(ids: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows among `rows` that start with an ID number (`_ID_HEAD`, 3 digits, a digit or X), and
    those first 18 characters, upper-cased, as an (n, 18) byte array.

    Pure-ASCII ids are judged on their bytes (what the pattern says, position by position);
    others by the pattern.
    """
    if not rows.any():
        return np.zeros(len(ids), dtype=bool), np.zeros((0, 18), dtype=np.uint8)
    chosen = ids if rows.all() else ids[rows]
    strings = arrow_strings(chosen)
    if strings is None or not pc.all(pc.string_is_ascii(strings)).as_py():
        head18 = _matches(ids, rows, _ID_HEAD + r"\d{3}[\dXx]")
        first = ids[head18].str[:18].str.upper().to_numpy(dtype="S18")
        return head18, first.view(np.uint8).reshape(-1, 18)
    first = _first_18_bytes(strings)
    starts = _starts_with_id_number(first)
    head18 = np.zeros(len(ids), dtype=bool)
    head18[np.flatnonzero(rows)[starts]] = True
    digits = first[starts]
    check = digits[:, 17]  # the only place a letter can be (x upper-cased)
    check[check == ord("x")] = ord("X")
    return head18, digits


def _first_18_bytes(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The first 18 bytes of ASCII strings at least 18 long, as an (n, 18) byte array."""
    first = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    if not pc.all(pc.equal(pc.binary_length(first), 18)).as_py():
        first = pc.utf8_slice_codeunits(first, 0, 18)
    # 18 bytes each: the values buffer from the first offset on is the array
    width = np.int64 if first.type == pa.large_string() else np.int32
    start = np.frombuffer(first.buffers()[1], dtype=width)[first.offset]
    data = np.frombuffer(first.buffers()[2], dtype=np.uint8)[start : start + 18 * len(first)]
    return data.reshape(-1, 18)


def _starts_with_id_number(first: np.ndarray) -> np.ndarray:
    r"""`_ID_HEAD + r"\d{3}[\dXx]"` on (n, 18) ASCII bytes: 6 digits, 19|20, 2 digits, a month
    01–12, a day 01–31, 3 digits, a digit or X/x."""

    def between(column: int, low: str, high: str) -> np.ndarray:
        return (first[:, column] >= ord(low)) & (first[:, column] <= ord(high))

    def equal(column: int, char: str) -> np.ndarray:
        return first[:, column] == ord(char)

    digits = np.all((first[:, :17] >= ord("0")) & (first[:, :17] <= ord("9")), axis=1)
    century = (equal(6, "1") & equal(7, "9")) | (equal(6, "2") & equal(7, "0"))
    month = (equal(10, "0") & between(11, "1", "9")) | (equal(10, "1") & between(11, "0", "2"))
    day = (
        (equal(12, "0") & between(13, "1", "9"))
        | between(12, "1", "2")
        | (equal(12, "3") & between(13, "0", "1"))
    )
    check = between(17, "0", "9") | equal(17, "X") | equal(17, "x")
    return digits & century & month & day & check


def _id_issue(frame, spec, column, mask, ids, *, file, rule, zh, en, expected) -> Issue:
    count = int(mask.sum())
    return make_issue(
        "warning", rule, table=spec.name, file=file, column=column, rows=_rows_where(frame, mask),
        values=[mask_id(v) for v in ids[mask].head(MAX_EXAMPLES)], count=count,
        zh=f"{count}个{zh}", en=f"{count} {en}; 请核对 check them", expected=expected,
    )  # fmt: skip
