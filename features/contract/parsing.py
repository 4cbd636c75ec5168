"""Parsing raw cells into the normalised dtypes of docs/architecture.md, one contract kind at a time.

Every parser takes a raw column as read (CSV: `str`; XLSX: mixed objects — text, numbers, Excel date
cells; Parquet: native dtypes) and returns the parsed values plus two row masks: `bad` (a non-empty
cell that cannot be read as its kind) and `empty`. Whether a value that was read is allowed — one of
a category's values, a year in range, no negative money — is the column rules' question
(`features.contract.columns`), not the parser's: a category keeps its normalised text here. Work is
done once per distinct value and spread back with integer codes, so millions of rows with a few
thousand distinct dates or categories cost one `factorize` and a short Python loop.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.schema import ColumnSpec, normalise_text

NAT = np.iinfo(np.int64).min
_EMPTY = object()
_BAD = object()

_TRUE = {"是", "true", "t", "1", "1.0", "y", "yes"}
_FALSE = {"否", "false", "f", "0", "0.0", "n", "no"}
_GRADES = {"一级": 1, "二级": 2, "三级": 3, "四级": 4, "一": 1, "二": 2, "三": 3, "四": 4}
_MONTH = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?$|^(\d{4})(\d{2})$")
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$|^(\d{4})(\d{2})(\d{2})$"
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)
#: Floating-point cells from here on cannot hold every digit of an id (Excel keeps 15 digits).
LOSSY_FLOAT = 1e15
#: Integers beyond this are not exact in float64: a year or grade that large is no integer at all.
EXACT_INTEGER = 2**53


@dataclass(frozen=True)
class ParsedColumn:
    """A parsed column: `values` (normalised dtype), `bad` and `empty` row masks (numpy bool).

    When a column of a kind with allowed values or ranges (not `text`) was read once per distinct
    cell, `distinct` holds the value read from each distinct cell (missing where it was empty or
    unreadable; same dtype as `values`) and `codes` each row's position in it (-1: a missing cell),
    so that whether a value is allowed can be judged once per distinct value too.
    """

    values: pd.Series
    bad: np.ndarray
    empty: np.ndarray
    codes: np.ndarray | None = None
    distinct: pd.Series | None = None


def parse_column(raw: pd.Series, spec: ColumnSpec) -> ParsedColumn:
    """Parse one raw column by its contract kind.

    Parameters
    ----------
    raw
        The column as read from the file (any dtype).
    spec
        Its contract column.

    Returns
    -------
    ParsedColumn
        Values in the architecture's dtype (`str`, `boolean`, `period[M]`, `datetime64[ns]`,
        `float64`, `Int64`), with NaN/NA where the cell was empty or bad.

    Examples
    --------
    >>> from features.contract.schema import CONTRACT
    >>> spec = CONTRACT["income"].column("wage_income")
    >>> parsed = parse_column(pd.Series(["1,234.5", "", "abc"]), spec)
    >>> parsed.values.tolist()[0], parsed.bad.tolist(), parsed.empty.tolist()
    (1234.5, [False, False, True], [False, True, False])
    >>> relation = CONTRACT["members"].column("relation")
    >>> parse_column(pd.Series([" 户 主", "儿子"]), relation).values.tolist()  # read, not judged
    ['户主', '儿子']
    """
    fast = _native_fast_path(raw, spec)
    if fast is not None:
        return fast
    parse_one, fill, storage, build = _KINDS[spec.kind]
    if spec.kind in ("category", "multicategory"):
        parse_one = _category_parser(spec, multi=spec.kind == "multicategory")
    return _by_distinct_values(raw, parse_one, fill=fill, storage=storage, build=build,
                               keep_distinct=spec.kind != "text")  # fmt: skip


def _by_distinct_values(
    raw: pd.Series,
    parse_one: Callable[[Any], Any],
    *,
    fill: Any,
    storage: type,
    build: Callable[[np.ndarray], pd.Series],
    keep_distinct: bool,
) -> ParsedColumn:
    codes, uniques = distinct_values(raw)
    results = [parse_one(value) for value in uniques]
    bad_u = np.array([r is _BAD for r in results] + [False], dtype=bool)
    empty_u = np.array([r is _EMPTY for r in results] + [True], dtype=bool)
    values_u = [fill if (r is _BAD or r is _EMPTY) else r for r in results] + [fill]
    # code -1 (missing) indexes the appended last element: empty, not bad.
    stored: np.ndarray = np.asarray(values_u, dtype=storage)
    values = build(stored[codes])
    values.index = raw.index
    if not keep_distinct:
        return ParsedColumn(values=values, bad=bad_u[codes], empty=empty_u[codes])
    return ParsedColumn(values=values, bad=bad_u[codes], empty=empty_u[codes], codes=codes,
                        distinct=build(stored[:-1]))  # fmt: skip


def distinct_values(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and the distinct values as an object array.

    Arrow strings are encoded in Arrow (pandas' own factorize is several times slower there).
    """
    strings = arrow_strings(raw)
    if strings is None:
        codes, uniques = pd.factorize(raw, use_na_sentinel=True)
        return codes, np.asarray(uniques, dtype=object)
    dictionary, (codes,) = encode_together([strings])
    return codes, dictionary.to_numpy(zero_copy_only=False)


def _native_fast_path(raw: pd.Series, spec: ColumnSpec) -> ParsedColumn | None:
    """Typed Parquet columns, and numeric-looking money strings, without a Python loop."""
    kind, dtype = spec.kind, raw.dtype
    if kind in ("money", "number") and pd.api.types.is_numeric_dtype(dtype):
        values = pd.Series(raw.to_numpy(dtype=float, na_value=np.nan), index=raw.index, copy=False)
        empty = values.isna().to_numpy()
        return ParsedColumn(values, np.zeros(len(raw), dtype=bool), empty)
    if kind in ("money", "number") and isinstance(dtype, pd.StringDtype):
        quick = pd.to_numeric(raw.str.replace(",", "", regex=False), errors="coerce")
        if quick.notna().sum() == len(raw) - (raw.fillna("").str.strip() == "").sum():
            values = pd.Series(quick.to_numpy(dtype=float), index=raw.index)
            return ParsedColumn(values, np.zeros(len(raw), dtype=bool), values.isna().to_numpy())
    if kind in ("text", "category") and arrow_strings(raw) is not None:
        return _arrow_text(raw, spec)
    if kind in ("date", "month") and pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = pd.to_datetime(raw).dt.tz_localize(None) if raw.dt.tz else pd.to_datetime(raw)
        stamps = stamps.dt.normalize().astype("datetime64[ns]")
        values = stamps.dt.to_period("M") if kind == "month" else stamps
        return ParsedColumn(values, np.zeros(len(raw), dtype=bool), stamps.isna().to_numpy())
    if kind == "month" and isinstance(dtype, pd.PeriodDtype):
        values = raw.dt.asfreq("M")
        return ParsedColumn(values, np.zeros(len(raw), dtype=bool), values.isna().to_numpy())
    if kind == "bool" and pd.api.types.is_bool_dtype(dtype):
        values = raw.astype("boolean")
        return ParsedColumn(values, np.zeros(len(raw), dtype=bool), values.isna().to_numpy())
    return None


def arrow_strings(values: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The Arrow array behind a `str` column (pandas 3 default), else None."""
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pa.array(values.array)
    return None


def is_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """`values.isin(known)` as a numpy bool array; missing values are never known.

    Vectorised in Arrow for `str` columns (pandas' own `isin` loops in Python there).
    """
    left, right = arrow_strings(values), arrow_strings(known.dropna())
    if left is None or right is None:
        return (values.notna() & values.isin(known.dropna())).to_numpy(dtype=bool)
    # `is_in` builds its own hash set of `known`: no `unique` beforehand (a second hash pass)
    found = pc.fill_null(pc.is_in(left, value_set=right), False)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)


def codes_in(codes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`is_in` for columns given as codes of one dictionary (`encode_together`; -1: missing)."""
    # one slot more than any code: code -1 reads it, and it is never known
    size = max(codes.max(initial=-1), known.max(initial=-1)) + 2
    present = np.zeros(size, dtype=bool)
    present[known[known >= 0]] = True
    return present[codes]


def encode_together(
    columns: Sequence[pa.Array | pa.ChunkedArray],
) -> tuple[pa.Array, list[np.ndarray]]:
    """Arrow string columns as codes into one dictionary of their distinct values.

    Returns the dictionary (no missing value in it) and, per column, `int32` codes with -1 for a
    missing value: equal codes ⇔ equal strings, across all the columns.
    """
    chunks = [chunk for column in columns for chunk in _chunks_of(column)]
    kind = pa.string() if all(c.type == pa.string() for c in chunks) else pa.large_string()
    together = pa.chunked_array([c.cast(kind) for c in chunks], type=kind)
    encoded = pc.dictionary_encode(together)
    if encoded.num_chunks == 0:
        return pa.array([], type=kind), [np.zeros(len(c), dtype=np.int32) for c in columns]
    # a chunked array is encoded against one dictionary, complete in its last chunk
    dictionary = encoded.chunks[-1].dictionary
    indices = pc.fill_null(pa.chunked_array([c.indices for c in encoded.chunks]), -1)
    flat = np.asarray(indices.to_numpy(), dtype=np.int32)
    bounds = np.cumsum([0, *(len(c) for c in columns)])
    return dictionary, [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _chunks_of(column: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def _arrow_text(raw: pd.Series, spec: ColumnSpec) -> ParsedColumn:
    """NFKC, trimmed (categories: no whitespace at all).

    Pure-ASCII columns (ids) skip NFKC, which leaves ASCII unchanged; other columns are normalised
    once per distinct value (a category column holds a handful in millions of rows).
    """
    strings = arrow_strings(raw)
    assert strings is not None  # only called for Arrow strings
    if pc.all(pc.string_is_ascii(strings)).as_py() is not False:
        text, empty, bad = _normalise_strings(strings, spec, ascii_only=True)
        missing = empty | bad
        if missing.any():
            text = pc.if_else(pa.array(missing), pa.scalar(None, type=text.type), text)
        return ParsedColumn(values=_str_series(text, raw.index), bad=bad, empty=empty)
    dictionary, (codes,) = encode_together([strings])
    text_u, empty_u, bad_u = _normalise_strings(dictionary, spec, ascii_only=False)
    shown = np.flatnonzero(~(empty_u | bad_u)).astype(np.int32)
    # rows whose distinct value is empty or bad point at no value (missing)
    keep = np.full(len(dictionary) + 1, -1, dtype=np.int32)
    keep[shown] = np.arange(len(shown), dtype=np.int32)
    row_codes = keep[codes]
    shown_text = text_u.take(pa.array(shown))
    taken = pc.take(shown_text, pa.array(row_codes, mask=row_codes < 0))
    empty = np.append(empty_u, True)[codes]
    bad = np.append(bad_u, False)[codes]
    values = _str_series(taken, raw.index)
    if spec.kind == "text":
        return ParsedColumn(values=values, bad=bad, empty=empty)
    distinct = _str_series(shown_text, pd.RangeIndex(len(shown)))
    return ParsedColumn(values=values, bad=bad, empty=empty, codes=row_codes, distinct=distinct)


def _normalise_strings(
    strings: pa.Array | pa.ChunkedArray, spec: ColumnSpec, *, ascii_only: bool
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray, np.ndarray]:
    """Normalised text, and `empty` and `bad` masks (no text is bad), value by value."""
    text = strings if ascii_only else pc.utf8_normalize(strings, "NFKC")
    text = pc.utf8_trim_whitespace(text)
    if spec.kind == "category":
        text = pc.replace_substring_regex(text, pattern=r"\s+", replacement="")
    empty = np.asarray(pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False))
    return text, empty, np.zeros(len(strings), dtype=bool)


def _str_series(values: pa.Array | pa.ChunkedArray, index: pd.Index) -> pd.Series:
    return pd.Series(values, dtype="str", index=index)


# --- one distinct value at a time -------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _as_text(value: Any) -> Any:
    """A cell as normalised text; numbers without a spurious `.0`; `_EMPTY` for blanks."""
    if _is_missing(value) or value is pd.NA:
        return _EMPTY
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | pd.Timestamp):
        return (
            value.strftime("%Y-%m-%d") if value == value.replace(hour=0, minute=0) else str(value)
        )
    text = normalise_text(str(value))
    return text if text else _EMPTY


def _parse_text(value: Any) -> Any:
    if isinstance(value, float | np.floating) and abs(float(value)) >= LOSSY_FLOAT:
        return _BAD  # an ID number saved as an Excel number has lost its last digits
    return _as_text(value)


def _category_parser(spec: ColumnSpec, *, multi: bool) -> Callable[[Any], Any]:
    """Text without whitespace; several values (multi) once each, in the contract's order (values
    the contract does not know last, as written: the column rules report them)."""
    order = {v: i for i, v in enumerate(spec.allowed)}

    def parse_one(value: Any) -> Any:
        text = _as_text(value)
        if text is _EMPTY:
            return _EMPTY
        squeezed = "".join(text.split())
        if not multi:
            return squeezed
        parts = [p for p in dict.fromkeys(squeezed.split(",")) if p]
        if not parts:
            return _BAD
        return ",".join(sorted(parts, key=lambda p: order.get(p, len(order))))

    return parse_one


def _parse_bool(value: Any) -> Any:
    text = _as_text(value)
    if text is _EMPTY:
        return _EMPTY
    lowered = text.lower()
    if lowered in _TRUE:
        return 1.0
    if lowered in _FALSE:
        return 0.0
    return _BAD


def _parse_number(value: Any) -> Any:
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return _EMPTY if _is_missing(value) else float(value)
    text = _as_text(value)
    if text is _EMPTY:
        return _EMPTY
    cleaned = text.replace(",", "").replace(" ", "").removesuffix("元")
    try:
        number = float(cleaned)
    except ValueError:
        return _BAD
    return number if math.isfinite(number) else _BAD


def _date_ns(year: int, month: int, day: int) -> Any:
    try:
        return pd.Timestamp(dt.date(year, month, day)).as_unit("ns").value
    except (ValueError, OverflowError):
        return _BAD


def _number_to_date_ns(number: float) -> Any:
    """YYYYMMDD integers, else Excel serial day numbers (1900 date system)."""
    if not float(number).is_integer():
        return _BAD
    whole = int(number)
    if 19000101 <= whole <= 21001231:
        return _date_ns(whole // 10000, whole // 100 % 100, whole % 100)
    if 1 <= whole <= 80000:
        day = _EXCEL_EPOCH + dt.timedelta(days=whole)
        return _date_ns(day.year, day.month, day.day)
    return _BAD


def _parse_date(value: Any) -> Any:
    if isinstance(value, dt.date | pd.Timestamp):  # datetime, Timestamp and Excel date cells
        return _date_ns(value.year, value.month, value.day)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return _EMPTY if _is_missing(value) else _number_to_date_ns(float(value))
    text = _as_text(value)
    if text is _EMPTY:
        return _EMPTY
    match = _DATE.match(text)
    if not match:
        return _BAD
    y, m, d = (g for g in match.groups() if g is not None)
    return _date_ns(int(y), int(m), int(d))


def _month_ordinal(year: int, month: int) -> Any:
    if not (1900 <= year <= 2100 and 1 <= month <= 12):
        return _BAD
    return (year - 1970) * 12 + month - 1


def _from_date_ns(ns: Any) -> Any:
    if ns is _BAD or ns is _EMPTY:
        return ns
    stamp = pd.Timestamp(ns)
    return _month_ordinal(stamp.year, stamp.month)


def _parse_month(value: Any) -> Any:
    if isinstance(value, pd.Period):
        return _month_ordinal(value.year, value.month)
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        if _is_missing(value):
            return _EMPTY
        if float(value).is_integer() and 190001 <= int(value) <= 210012:
            return _month_ordinal(int(value) // 100, int(value) % 100)
        return _from_date_ns(_number_to_date_ns(float(value)))
    text = _as_text(value) if not isinstance(value, dt.date | pd.Timestamp) else None
    if text is _EMPTY:
        return _EMPTY
    match = _MONTH.match(text) if text else None
    if match:
        y, m = (g for g in match.groups() if g is not None)
        return _month_ordinal(int(y), int(m))
    return _from_date_ns(_parse_date(value))


def _parse_year(value: Any) -> Any:
    if isinstance(value, dt.date | pd.Timestamp):
        return float(value.year)
    text = _as_text(value)
    if text is _EMPTY:
        return _EMPTY
    return _integral(_parse_number(text.removesuffix("年")))


def _integral(number: Any) -> Any:
    """A whole number (its range is a column rule), else `_BAD` (a bare `年` or `级` too)."""
    if number is _BAD or number is _EMPTY:
        return _BAD
    if not float(number).is_integer() or abs(number) >= EXACT_INTEGER:
        return _BAD
    return float(number)


def _parse_grade(value: Any) -> Any:
    text = _as_text(value)
    if text is _EMPTY:
        return _EMPTY
    squeezed = "".join(text.split())
    if squeezed in _GRADES:
        return float(_GRADES[squeezed])
    return _integral(_parse_number(squeezed.removesuffix("级")))


# --- building the normalised dtype from per-row values ----------------------------------------


def _build_str(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def _build_float(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="float64")


def _build_int(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="float64").astype("Int64")


def _build_bool(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="float64").astype("boolean")


def _build_date(values: np.ndarray) -> pd.Series:
    return pd.Series(values.view("M8[ns]"))


def _build_month(values: np.ndarray) -> pd.Series:
    return pd.Series(pd.PeriodIndex.from_ordinals(values, freq="M"))


#: kind → (parser of one distinct value, value for empty/bad cells, numpy storage, final dtype)
_KINDS: dict[str, tuple[Callable[[Any], Any], Any, type, Callable[[np.ndarray], pd.Series]]] = {
    "text": (_parse_text, np.nan, object, _build_str),
    "category": (_parse_text, np.nan, object, _build_str),
    "multicategory": (_parse_text, "", object, _build_str),
    "bool": (_parse_bool, np.nan, np.float64, _build_bool),
    "month": (_parse_month, NAT, np.int64, _build_month),
    "date": (_parse_date, NAT, np.int64, _build_date),
    "money": (_parse_number, np.nan, np.float64, _build_float),
    "number": (_parse_number, np.nan, np.float64, _build_float),
    "year": (_parse_year, np.nan, np.float64, _build_int),
    "grade": (_parse_grade, np.nan, np.float64, _build_int),
}
