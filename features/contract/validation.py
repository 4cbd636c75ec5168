"""The `ValidationReport`, how an issue is worded, and the rules the column rules cannot express.

What one value of one column may be (dtype, empty or not, allowed values, ranges, dates) is declared
in `features.contract.schema` and checked by pandera (`features.contract.columns`). The rules here
look at several rows, columns or tables at once: the directory and its files, headers, repeated rows
and keys (naming both rows), references between tables, exactly one 户主 per household, people who
left, and the order of two columns of a row.

Rules are pure: they take normalised frames (contract columns plus `source_row`, the row as the user
counts it in the file) and return `Issue`s — and, for the rules that drop rows, the kept frame. Every
message names the file, the rows, the column (English and Chinese), the bad values and the expected
form, in Chinese and English; `flag_rows` is the one step from flagged rows to such an issue. At
most `MAX_EXAMPLES` rows are listed per rule ("… and N more").
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from features.contract.parsing import codes_in, is_in
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


def flag_rows(
    severity: Severity,
    rule: str,
    frame: pd.DataFrame,
    mask: np.ndarray | pd.Series,
    *,
    table: str,
    file: str,
    zh: str,
    en: str,
    column: ColumnSpec | None = None,
    values: Sequence[object] | pd.Series = (),
    expected: str = "",
    fix: str = "",
) -> list[Issue]:
    """The issue of the rows of `frame` that `mask` flags, or none when it flags no row.

    Parameters
    ----------
    severity, rule
        As in `Issue`.
    frame
        The table the mask runs over (its `source_row` names the rows).
    mask
        One boolean per row of `frame`.
    table, file, column
        What the message names.
    zh, en
        The finding in Chinese and English; `{count}` becomes the number of flagged rows.
    values
        The values to quote, one per flagged row in order (only the first `MAX_EXAMPLES` are
        read); none by default.
    expected, fix
        The expected form and how to fix it.

    Returns
    -------
    list of Issue
        Empty, or the one issue (its count: the flagged rows).
    """
    flagged = np.asarray(mask, dtype=bool)
    if not flagged.any():
        return []
    count = str(int(flagged.sum()))
    shown = values.iloc[:MAX_EXAMPLES] if isinstance(values, pd.Series) else values[:MAX_EXAMPLES]
    return [
        make_issue(
            severity,
            rule,
            table=table,
            file=file,
            column=column,
            rows=_rows_where(frame, flagged),
            values=list(shown),
            count=int(count),
            zh=zh.replace("{count}", count),
            en=en.replace("{count}", count),
            expected=expected,
            fix=fix,
        )  # fmt: skip
    ]


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
    issues = flag_rows(
        "warning", "exact_duplicate", frame, repeated, table=spec.name, file=file,
        zh="{count}行与前面某行完全相同, 已删除",
        en="{count} row(s) exactly repeat an earlier row and were dropped",
    )  # fmt: skip
    return keep_rows(frame, ~repeated), issues


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
    return flag_rows(
        "error", "member_household", members, mask, table="members", file=file,
        column=CONTRACT["members"].column("household_id"), values=ids[mask],
        zh="{count}名成员的户编号不在户信息中",
        en="{count} member(s) name a household not in households",
        fix="请核对户编号或补充户信息 check the id or add the household",
    )  # fmt: skip


def check_one_head(
    members: pd.DataFrame, households: pd.DataFrame, *, members_file: str, households_file: str
) -> list[Issue]:
    """Every household has exactly one 户主 among its members."""
    is_head = (members["relation"] == HEAD_OF_HOUSEHOLD).to_numpy()
    n_heads, several = _heads_per_household(members, households, is_head)
    none = n_heads == 0
    crowded = int((n_heads > 1).sum())
    one_of_several = np.zeros(len(members), dtype=bool)
    one_of_several[np.flatnonzero(is_head)[several]] = True
    return flag_rows(
        "error", "one_head", households, none, table="households", file=households_file,
        values=households.loc[none, "household_id"],
        zh="{count}户在家庭成员中没有户主", en="{count} household(s) have no 户主 in members",
        expected="exactly one member with 与户主关系 = 户主 per household",
    ) + flag_rows(
        "error", "one_head", members, one_of_several, table="members", file=members_file,
        column=CONTRACT["members"].column("relation"),
        zh=f"{crowded}户有多个户主", en=f"{crowded} household(s) have more than one 户主",
        expected="exactly one 户主 per household",
    )  # fmt: skip


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
    issues = flag_rows(
        severity, "unknown_reference", frame, unknown, table=spec.name, file=file,
        column=spec.column(column), zh=f"{count}行 ({share:.1%}) 所指的对象不在{whom}中",
        en=f"{count} row(s) ({share:.1%}) name an id not in {whom}; {tail}",
    )  # fmt: skip
    return keep_rows(frame, ~unknown), issues


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
    issues = flag_rows(
        "warning", "unknown_reference", frame, unknown, table=spec.name, file=file,
        column=spec.column("person_id"), zh="{count}行所指的人不在家庭成员中, 保留为户级记录",
        en="{count} row(s) name a person not in members (left, died or moved); "
        "kept as household records without the person",
    )  # fmt: skip
    cleared = frame.assign(person_id=ids.mask(unknown))
    if code_column("person_id") in frame:
        codes = frame[code_column("person_id")].to_numpy()
        cleared[code_column("person_id")] = np.where(unknown, np.int32(-1), codes)
    return cleared, issues


# --- rules inside a table ----------------------------------------------------------------------


def check_out_of_pocket(medical: pd.DataFrame, *, file: str) -> list[Issue]:
    """`out_of_pocket` ≤ `total_cost` in every claim."""
    mask = (medical["out_of_pocket"] > medical["total_cost"] + 0.005).to_numpy()
    shown = medical.loc[mask].head(MAX_EXAMPLES)
    values = [f"{o:,.2f} > {t:,.2f}" for o, t in zip(shown["out_of_pocket"], shown["total_cost"],
                                                       strict=True)]  # fmt: skip
    return flag_rows(
        "error", "out_of_pocket", medical, mask, table="medical", file=file,
        column=CONTRACT["medical"].column("out_of_pocket"), values=values,
        zh="{count}条结算的个人自付大于医疗费总额",
        en="{count} claim(s) with out_of_pocket above total_cost (医疗费总额)",
        expected="个人自付 ≤ 医疗费总额 out_of_pocket ≤ total_cost",
    )  # fmt: skip


def check_exit_year(households: pd.DataFrame, *, file: str) -> list[Issue]:
    """`exit_year` (脱贫年度) is given only for 脱贫户."""
    kind = households["household_type"]
    mask = households["exit_year"].notna() & kind.notna() & (kind != FORMERLY_POOR)
    mask = mask.fillna(False).to_numpy(dtype=bool)
    return flag_rows(
        "error", "exit_year", households, mask, table="households", file=file,
        column=CONTRACT["households"].column("exit_year"), values=kind[mask],
        zh="{count}户不是脱贫户却有脱贫年度",
        en="{count} household(s) have an exit year but are not 脱贫户",
        expected="脱贫年度 only for 户类型 = 脱贫户",
    )  # fmt: skip


def _order_rule(
    frame: pd.DataFrame, spec: TableSpec, *, first: str, then: str, file: str, rule: str
) -> list[Issue]:
    mask = (frame[then] < frame[first]).fillna(False).to_numpy(dtype=bool)
    shown = frame.loc[mask].head(MAX_EXAMPLES)
    values = [f"{a} < {b}" for a, b in zip(shown[then], shown[first], strict=True)]
    a, b = spec.column(then), spec.column(first)
    return flag_rows(
        "error", rule, frame, mask, table=spec.name, file=file, column=a, values=values,
        zh=f"{{count}}行的{a.label_zh}早于{b.label_zh}", en=f"{{count}} row(s) with {a.name} before {b.name}",
        expected=f"{a.name} ≥ {b.name}",
    )  # fmt: skip


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
