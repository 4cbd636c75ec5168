"""The contract's column rules as pandera schemas generated from `schema.CONTRACT`, and their
failure cases turned into the project's issues.

`table_schema` declares, for every column of one table, what a value may be once parsed: its dtype
(`KIND_DTYPES`), whether it may be empty (`required`), its allowed values (`allowed`; several joined
by ',' in a multicategory), its range (`KIND_BOUNDS`, ≥ 0 where `nonnegative`, money below
`IMPLAUSIBLE_AMOUNT`) and, for the column that dates a record, no month after the current one.
Nothing is restated: every check comes from the declaration.

`check_columns` validates a parsed table lazily and reports every (rule, column) that fails as one
`Issue`, worded as the contract's messages always were: file, rows as the user counts them, the
column in English and 中文, the values (ID numbers masked) and the expected form. Each pandera check
carries the project's rule name as its error, so a failure case names its rule; cells the parser
could not read at all join the `value_form` rule of their column.

Speed: a column the parser read once per distinct cell (categories, and most columns of CSV and
Excel files) has its values judged once per distinct value too (`value_schema`), the verdicts
spread back to the rows by the parser's codes — millions of rows of a category cost a handful of
checks. Only its dtype and emptiness are checked row by row.

Examples
--------
>>> from features.contract.schema import CONTRACT
>>> schema = table_schema(CONTRACT["members"], current=pd.Period("2025-06", "M"))
>>> schema.columns["relation"].nullable, schema.columns["sex"].nullable
(False, True)
>>> [check.error for check in schema.columns["health"].checks]
['value_form']
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.config import ValidationDepth, config_context
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors

from features.contract.parsing import ParsedColumn, distinct_values
from features.contract.schema import (
    IMPLAUSIBLE_AMOUNT,
    KIND_BOUNDS,
    KIND_DTYPES,
    ColumnSpec,
    TableSpec,
)
from features.contract.validation import Issue, Severity, flag_rows

__all__ = ["COLUMN_RULES", "check_columns", "failing_rows", "table_schema", "value_schema"]

#: pandera's name for empty values in a column that may not have any.
NOT_NULLABLE = "not_nullable"


@dataclass(frozen=True)
class _Wording:
    """How one column rule is reported (`{count}` becomes the number of rows)."""

    severity: Severity
    zh: str
    en: str
    expected: Callable[[ColumnSpec, pd.Period], str]
    fix: str = ""
    #: Which values the message quotes: the cells as written, the values read, their months, none.
    quote: Literal["raw", "read", "month", "none"] = "read"


def _form(column: ColumnSpec, _current: pd.Period) -> str:
    return column.expected_form()


#: The column rules in the order they are reported, each column in contract order within a rule;
#: `{current}` becomes the current month.
COLUMN_RULES: Mapping[str, _Wording] = MappingProxyType({
    "value_form": _Wording(
        "error", "{count}行的值不符合规定", "{count} value(s) do not follow the contract", _form,
        quote="raw",
    ),
    "required_value": _Wording(
        "error", "{count}行为空", "{count} row(s) are empty", _form, fix="请补全 fill them in",
        quote="none",
    ),
    "negative": _Wording(
        "error", "{count}行为负数", "{count} negative value(s)",
        lambda c, m: "≥ 0 (元 yuan)" if c.kind == "money" else "≥ 0",
    ),
    "implausible_amount": _Wording(
        "error", "{count}行金额大得不合理 (≥1亿元)",
        f"{{count}} implausibly large amount(s) (≥ ¥{IMPLAUSIBLE_AMOUNT:,.0f})",
        lambda c, m: "元 yuan per record, below ¥100,000,000",
        fix="请检查单位(元, 不是分)或录入错误 check the unit (yuan, not fen) or a typo",
    ),
    "future_date": _Wording(
        "error", "{count}行日期晚于当前月份 {current}",
        "{count} record(s) dated after the current month {current}",
        lambda c, m: f"a month up to {m}", fix="请核对年份 check the year for a typing slip",
        quote="month",
    ),
})  # fmt: skip


# --- the schema --------------------------------------------------------------------------------


class _Text(pandas_engine.STRING):
    """pandas 3's `str` dtype (Arrow storage, NaN for missing): every text column once parsed.

    pandera's own string check answers cell by cell on pandas 3 and then formats a message listing
    no failure: a third of the schema's time on a county. This one compares the dtype once, and
    strictly (object columns, or strings with `pd.NA` for missing, are not the parsed dtype).
    """

    def check(self, pandera_dtype: object, data_container: object = None) -> bool:
        # the column's own dtype: pandera's reading of it forgets how missing values are stored
        actual = getattr(data_container, "dtype", getattr(pandera_dtype, "type", None))
        return bool(actual == self.type)


_TEXT = _Text()  # type: ignore[call-arg]  # mypy reads pandera's dataclass fields as required


def _dtype(column: ColumnSpec) -> object:
    """The pandera dtype of a parsed column of this kind (`KIND_DTYPES`)."""
    return _TEXT if KIND_DTYPES[column.kind] == "str" else KIND_DTYPES[column.kind]


@functools.lru_cache(maxsize=64)
def table_schema(
    spec: TableSpec, *, current: pd.Period, by_value: frozenset[str] = frozenset()
) -> pa.DataFrameSchema:
    """The pandera schema of one parsed contract table, generated from its `TableSpec`.

    Built once per table, month and `by_value` (building one costs more than checking a small
    table).

    Parameters
    ----------
    spec
        The table's declaration.
    current
        The month of the clock: the column that dates a record (`time_column`) may not be later.
    by_value
        Columns whose values are judged apart, once per distinct value (`value_schema`): here they
        keep their dtype and whether they may be empty.

    Returns
    -------
    pandera.pandas.DataFrameSchema
        One column per contract column (other columns, such as `source_row`, are let through).
    """
    columns = {
        column.name: pa.Column(
            _dtype(column),
            [] if column.name in by_value else _value_checks(spec, column, current=current),
            nullable=not column.required,
            title=column.label_zh,
            description=column.description,
        )
        for column in spec.columns
    }
    return pa.DataFrameSchema(columns, name=spec.name, title=spec.label_zh)


@functools.lru_cache(maxsize=64)
def value_schema(
    spec: TableSpec, names: frozenset[str], *, current: pd.Period
) -> pa.DataFrameSchema:
    """The checks of some columns' values alone, for a frame of their distinct values (each column
    as long as it needs, padded with missing values); their dtype and emptiness are judged on the
    rows, by `table_schema`."""
    columns = {
        column.name: pa.Column(None, _value_checks(spec, column, current=current), nullable=True)
        for column in spec.columns
        if column.name in names
    }
    return pa.DataFrameSchema(columns, name=spec.name)


def _value_checks(spec: TableSpec, column: ColumnSpec, *, current: pd.Period) -> list[pa.Check]:
    checks = []
    if column.kind == "category":
        checks.append(pa.Check.isin(column.allowed, error="value_form"))
    if column.kind == "multicategory":
        checks.append(pa.Check(_each_part_in(column.allowed), error="value_form"))
    if column.kind in KIND_BOUNDS:
        low, high = KIND_BOUNDS[column.kind]
        checks.append(pa.Check.in_range(low, high, error="value_form"))
    if column.kind in ("money", "number") and column.nonnegative:
        checks.append(pa.Check.ge(0, error="negative"))
    if column.kind == "money":
        checks.append(pa.Check.in_range(-IMPLAUSIBLE_AMOUNT, IMPLAUSIBLE_AMOUNT, include_min=False,
                                        include_max=False, error="implausible_amount"))  # fmt: skip
    if column.name == spec.time_column:
        checks.append(_not_after(column, current))
    return checks


def _not_after(column: ColumnSpec, current: pd.Period) -> pa.Check:
    """No record dated after the current month (a typing slip such as 2062)."""
    if column.kind == "date":
        return pa.Check.lt((current + 1).start_time, error="future_date")
    return pa.Check.le(current, error="future_date")


def _each_part_in(allowed: tuple[str, ...]) -> Callable[[pd.Series], pd.Series]:
    """A check that every ','-joined part of a cell is allowed, judged once per distinct value."""
    known = frozenset(allowed)

    def check(values: pd.Series) -> pd.Series:
        codes, uniques = distinct_values(values)
        judged = [not text or known.issuperset(text.split(",")) for text in uniques]
        # code -1 (missing) reads the last slot: a missing value breaks no rule of its parts
        return pd.Series(np.append(np.asarray(judged, dtype=bool), True)[codes], index=values.index)

    return check


# --- failure cases -----------------------------------------------------------------------------


def failing_rows(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    current: pd.Period,
    parsed: Mapping[str, ParsedColumn] | None = None,
) -> dict[tuple[str, str], np.ndarray]:
    """(rule, column) → the rows of `frame` (a boolean mask) that break it.

    Validates lazily, whatever pandera's environment settings say (the contract is never switched
    off), and reads the failure cases. Empty values of a required column are reported under
    `required_value`. A column the parser read once per distinct cell (`parsed[name].distinct`)
    has its values judged once per distinct value, and the verdicts spread back to the rows.

    Raises
    ------
    RuntimeError
        When a column does not have its kind's dtype, or a check cannot run: the parser's promise
        was broken, not the contract (pandera reports such failures without rows).
    """
    by_value = _read_per_value(spec, parsed or {}, current=current)
    names = frozenset(by_value)
    found = _flagged(_failure_cases(table_schema(spec, current=current, by_value=names), frame),
                     frame.index)  # fmt: skip
    if not by_value:
        return found
    # one frame of every such column's distinct values, shorter ones padded with missing values
    values = pd.DataFrame(
        {n: distinct.reset_index(drop=True) for n, (_, distinct) in by_value.items()}
    )
    cases = _failure_cases(value_schema(spec, names, current=current), values)
    for (rule, name), bad in _flagged(cases, values.index).items():
        codes, distinct = by_value[name]
        # code -1 (a missing cell) reads the appended slot: it breaks no value rule
        found[rule, name] = np.append(bad[: len(distinct)], False)[codes]
    return found


def _read_per_value(
    spec: TableSpec, parsed: Mapping[str, ParsedColumn], *, current: pd.Period
) -> dict[str, tuple[np.ndarray, pd.Series]]:
    """Columns with value checks that the parser read once per distinct cell: (codes, distinct)."""
    found = {}
    for name, column in parsed.items():
        if column.codes is None or column.distinct is None:
            continue
        if _value_checks(spec, spec.column(name), current=current):
            found[name] = (column.codes, column.distinct)
    return found


def _failure_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame | None:
    """pandera's failure cases of `frame` (None when it passes), each naming its rule in `check`."""
    with config_context(validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA):
        try:
            schema.validate(frame, lazy=True, inplace=True)
        except SchemaErrors as errors:
            cases = errors.failure_cases
        else:
            return None
    cases = cases.assign(check=cases["check"].replace({NOT_NULLABLE: "required_value"}))
    by_row = cases["index"].notna() & cases["check"].isin(list(COLUMN_RULES))
    if not by_row.all():
        raise RuntimeError(
            f"parsed table {schema.name} breaks its schema beyond the column rules (a wrong dtype "
            f"or a failing check):\n{cases.loc[~by_row].to_string(index=False)}"
        )
    return cases


def _flagged(cases: pd.DataFrame | None, index: pd.Index) -> dict[tuple[str, str], np.ndarray]:
    """(rule, column) → a boolean mask over `index` of the rows the failure cases name."""
    if cases is None:
        return {}
    found = {}
    for (rule, column), labels in cases.groupby(["check", "column"], sort=False)["index"]:
        mask = np.zeros(len(index), dtype=bool)
        mask[index.get_indexer(labels.to_numpy())] = True
        found[rule, column] = mask
    return found


def check_columns(
    frame: pd.DataFrame,
    raw: pd.DataFrame,
    spec: TableSpec,
    *,
    parsed: Mapping[str, ParsedColumn],
    file: str,
    current: pd.Period,
) -> tuple[pd.DataFrame, list[Issue]]:
    """Check a parsed table against its column rules; one `Issue` per failing (rule, column).

    Parameters
    ----------
    frame
        The parsed table (contract columns and `source_row`).
    raw
        The table as read, same index (`value_form` quotes the cells as the user wrote them).
    spec
        The table's declaration.
    parsed
        Column → what the parser returned for it: the rows it could not read as the column's kind
        (`bad`: empty in `frame`, and reported under `value_form`, not as empty) and, when it read
        the column once per distinct cell, those values (`distinct`, `codes`).
    file
        The file name, for messages.
    current
        The month of the clock (`future_date`).

    Returns
    -------
    (pandas.DataFrame, list of Issue)
        `frame` with the values that are not allowed made missing, as unreadable ones are, and the
        issues in `COLUMN_RULES` order.
    """
    failing = failing_rows(frame, spec, current=current, parsed=parsed)
    flagged = dict(failing)
    for name, column in parsed.items():
        if column.bad.any():
            flagged["value_form", name] = flagged.get(("value_form", name), False) | column.bad
            if ("required_value", name) in flagged:
                flagged["required_value", name] = flagged["required_value", name] & ~column.bad
    issues = []
    for rule, wording in COLUMN_RULES.items():
        for column_spec in spec.columns:
            mask = flagged.get((rule, column_spec.name))
            if mask is not None:
                issues += _column_issue(rule, wording, frame, raw, spec, column_spec, mask,
                                        file=file, current=current)  # fmt: skip
    for name in (n for r, n in failing if r == "value_form"):
        frame[name] = frame[name].mask(failing["value_form", name])
    return frame, issues


def _column_issue(
    rule: str,
    wording: _Wording,
    frame: pd.DataFrame,
    raw: pd.DataFrame,
    spec: TableSpec,
    column: ColumnSpec,
    mask: np.ndarray,
    *,
    file: str,
    current: pd.Period,
) -> list[Issue]:
    values: pd.Series | tuple[()] = ()
    if wording.quote == "raw":
        values = raw.loc[mask, column.name]
    elif wording.quote == "read":
        values = frame.loc[mask, column.name]
    elif wording.quote == "month":
        read = frame.loc[mask, column.name]
        values = (read.dt.to_period("M") if column.kind == "date" else read).astype(str)
    zh, en = (text.replace("{current}", str(current)) for text in (wording.zh, wording.en))
    return flag_rows(
        wording.severity, rule, frame, mask, table=spec.name, file=file, column=column,
        values=values, zh=zh, en=en, expected=wording.expected(column, current), fix=wording.fix,
    )  # fmt: skip
