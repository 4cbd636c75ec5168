"""Explanations: exact TreeSHAP contributions turned into plain Chinese reasons.

Contributions are exact TreeSHAP values of the booster (the values of LightGBM's ``pred_contrib=True``),
Shapley values of the booster's raw score (log-odds), identical to ``shap.TreeExplainer`` and summing,
with the base value, to the raw score. Reasons are the contributions that *raise* the risk, phrased from
the feature catalogue with the household's own value and unit, one per cause group (so three windows of
the same medical cost do not fill all three slots), tagged with the contract's risk type (因病, 因残, ...)
and a suggested assistance measure, and pointing at the source records behind them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.tables import Tables
from risk.explain_speed import fast_contributions

#: How many reasons the warning list shows per household.
N_REASONS = 3

#: Suggested assistance measure by risk type (DATA_CONTRACT.md ``risk_types``; DOMAIN.md).
MEASURES: Mapping[str, str] = {
    "因病": "医疗救助/健康帮扶",
    "因残": "残疾人两项补贴/康复",
    "因学": "教育资助",
    "因自然灾害": "临时救助/防贫保",
    "因意外事故": "临时救助/防贫保",
    "因产业项目失败": "产业帮扶/小额信贷",
    "因务工就业不稳": "就业帮扶/公益岗位",
    "缺劳动力": "兜底保障/低保",
    "因安全住房": "危房改造",
    "因安全饮水": "饮水安全工程",
    "其他": "入户核实/综合帮扶",
}
DEFAULT_MEASURE = MEASURES["其他"]

#: Columns of ``explanations.parquet`` in order (the first seven are INTERFACE.md's).
EXPLANATION_COLUMNS: tuple[str, ...] = (
    "household_id",
    "rank",
    "feature",
    "label_zh",
    "value",
    "contribution",
    "reason_zh",
    "value_text",
    "unit",
    "base_value",
    "cause",
    "risk_type",
    "measure",
    "reason_order",
    "is_new",
    "source_records",
)

_WINDOW = re.compile(r"_(\d+)m(?:_|$)")
_DATE_COLUMN: Mapping[str, str] = {
    "income": "month",
    "medical": "settle_date",
    "assistance": "month",
    "events": "date",
    "outcomes": "identified_month",
}
_MAX_ROWS_NAMED = 8


class ReasonSpec(Protocol):
    """What explanations need from a feature catalogue entry (``features.catalogue.FeatureSpec``)."""

    @property
    def name(self) -> str: ...
    @property
    def label_zh(self) -> str: ...
    @property
    def unit(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def reason_zh(self) -> str: ...
    @property
    def risk_type(self) -> str | None: ...
    @property
    def cause(self) -> str: ...


@dataclass(frozen=True)
class Contributions:
    """TreeSHAP output for some households.

    Attributes
    ----------
    values
        Log-odds contribution per household (index, as given) and feature (columns, model order).
    base_value
        The expected raw score (the same for every row of one model).
    """

    values: pd.DataFrame
    base_value: float

    def raw_score(self) -> pd.Series:
        """Base value plus the contributions: the booster's raw score (additivity)."""
        return self.values.sum(axis=1) + self.base_value


def shap_contributions(booster: Any, features: pd.DataFrame) -> Contributions:
    """Exact TreeSHAP contributions of a LightGBM booster, the values of ``pred_contrib=True``.

    Computed by :func:`risk.explain_speed.fast_contributions` (per-leaf Shapley tables: the same
    values as LightGBM's and ``shap.TreeExplainer``'s TreeSHAP, several times faster on our shallow
    trees; it falls back to LightGBM's own TreeSHAP for shapes it does not tabulate).

    Parameters
    ----------
    booster
        A ``lightgbm.Booster`` trained on columns named as ``features``'s (same order).
    features
        One row per household, the model's feature columns in the model's order.

    Returns
    -------
    Contributions
        Values indexed like `features`; base value from the booster's expected-value column.
    """
    if len(features) == 0:
        return Contributions(pd.DataFrame(columns=features.columns, dtype=float), 0.0)
    raw = np.asarray(fast_contributions(booster, features), dtype=float)
    n_features = features.shape[1]
    if raw.shape[1] != n_features + 1:
        raise ValueError(
            f"expected {n_features + 1} contribution columns (binary model), got {raw.shape[1]}"
        )
    values = pd.DataFrame(raw[:, :n_features], index=features.index, columns=features.columns)
    return Contributions(values, float(raw[0, n_features]))


def default_catalogue() -> dict[str, ReasonSpec]:
    """Feature name → catalogue entry, from ``features.catalogue.CATALOGUE``."""
    from features.catalogue import CATALOGUE  # noqa: PLC0415 - keeps the import graph one-way

    return {spec.name: spec for spec in CATALOGUE}


def explain_households(
    contributions: Contributions,
    features: pd.DataFrame,
    ranks: pd.Series,
    *,
    catalogue: Mapping[str, ReasonSpec],
    tables: Tables | None = None,
    as_of: pd.Period | None = None,
    previous_reasons: pd.DataFrame | None = None,
    n_reasons: int = N_REASONS,
) -> pd.DataFrame:
    """Long table of contributions and reasons: one row per household and non-zero contribution.

    Parameters
    ----------
    contributions
        From `shap_contributions`, indexed by household id.
    features
        The same households' feature values (index household id).
    ranks
        Household id → rank on the list (1 = highest risk); rows are ordered by it.
    catalogue
        Feature name → catalogue entry (labels, reason templates, risk types, cause groups).
    tables, as_of
        When given, each main reason names its source records (file and ``source_row``).
    previous_reasons
        Main reasons of the previous run (``household_id``, ``cause``), to mark new ones.
    n_reasons
        Main reasons per household.

    Returns
    -------
    DataFrame with `EXPLANATION_COLUMNS`: contributions largest first within a household; the
    main reasons have ``reason_order`` 1..n_reasons.
    """
    long, texts = _long_contributions(contributions, features, ranks, catalogue)
    long["reason_zh"] = _reason_sentences(long, catalogue, texts)
    long["reason_order"] = _reason_order(long, catalogue, texts, n_reasons=n_reasons)
    long["is_new"] = _is_new(long, previous_reasons)
    long["source_records"] = ""
    if tables is not None and as_of is not None:
        long["source_records"] = source_records(
            long, tables=tables, as_of=as_of, catalogue=catalogue
        )
    return long.loc[:, list(EXPLANATION_COLUMNS)].reset_index(drop=True)


@dataclass(frozen=True)
class _Texts:
    """What the integer codes of the long table stand for.

    Attributes
    ----------
    features
        Feature name by ``_code``.
    values
        Display text of a value by ``_text`` (each feature's distinct values listed once).
    """

    features: np.ndarray
    values: np.ndarray


def _strings(texts: np.ndarray, codes: np.ndarray) -> Any:
    """``texts[codes]`` as a text column, taken in Arrow (no Python string per row).

    An empty result stays an object array, the dtype pandas gives an empty column of strings.
    """
    if len(codes) == 0:
        return texts[codes]
    return pd.array(texts, dtype="str").take(codes)


def _long_contributions(
    contributions: Contributions,
    features: pd.DataFrame,
    ranks: pd.Series,
    catalogue: Mapping[str, ReasonSpec],
) -> tuple[pd.DataFrame, _Texts]:
    """One row per household and non-zero contribution, by rank then contribution (largest first).

    Built with integer codes (``_row`` household position, ``_code`` feature position, ``_cause``
    cause code, ``_text`` value text) so the later steps never compare strings row by row; the
    text columns are taken from short lists by those codes.
    """
    values = contributions.values
    names = np.array([str(c) for c in values.columns], dtype=object)
    matrix = values.to_numpy(dtype=float)
    n, f = matrix.shape
    numeric, text, shown = _value_columns(features.loc[values.index, list(values.columns)])
    rank = ranks.reindex(values.index).to_numpy(dtype=np.int64)
    alphabetical = np.empty(f, dtype=np.int64)
    alphabetical[np.argsort(names.astype(str), kind="stable")] = np.arange(f)
    rows = np.repeat(np.arange(n), f)
    cols = np.tile(np.arange(f), n)
    flat = matrix.ravel()
    keep = flat != 0.0
    rows, cols, flat = rows[keep], cols[keep], flat[keep]
    order = np.lexsort((alphabetical[cols], -flat, rank[rows]))
    rows, cols, flat = rows[order], cols[order], flat[order]
    labels, units, risk_types, causes = _catalogue_columns(names, catalogue)
    cause_codes = pd.factorize(causes)[0]
    measures = np.array([MEASURES.get(r, DEFAULT_MEASURE) for r in risk_types], dtype=object)
    ids = values.index.to_numpy(dtype=object).astype(str).astype(object)
    text_codes = text[rows, cols]
    long = pd.DataFrame(
        {
            "household_id": _strings(ids, rows),
            "rank": rank[rows],
            "feature": _strings(names, cols),
            "label_zh": _strings(labels, cols),
            "value": numeric[rows, cols],
            "contribution": flat,
            "value_text": _strings(shown, text_codes),
            "unit": _strings(units, cols),
            "base_value": contributions.base_value,
            "cause": _strings(causes, cols),
            "risk_type": _strings(risk_types, cols),
            "measure": _strings(measures, cols),
            "_row": rows,
            "_code": cols,
            "_cause": cause_codes[cols],
            "_text": text_codes,
        }
    )
    return long, _Texts(features=names, values=shown)


def _catalogue_columns(
    names: np.ndarray, catalogue: Mapping[str, ReasonSpec]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Label, unit, risk type and cause per feature (label and cause default to the name)."""

    def attribute(name: str, attr: str) -> str:
        return str(getattr(catalogue.get(name), attr, "") or "")

    labels = np.array([attribute(n, "label_zh") or n for n in names], dtype=object)
    units = np.array([attribute(n, "unit") for n in names], dtype=object)
    risk_types = np.array([attribute(n, "risk_type") for n in names], dtype=object)
    causes = np.array([attribute(n, "cause") or n for n in names], dtype=object)
    return labels, units, risk_types, causes


def _value_columns(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numeric values (NaN for categories) and their display texts, coded.

    Returns the values and the text codes, both shaped like `frame`, and the texts the codes point
    to (each column's distinct texts, column after column).
    """
    numeric = np.full(frame.shape, np.nan)
    codes = np.zeros(frame.shape, dtype=np.int64)
    shown: list[np.ndarray] = []
    offset = 0
    for j, column in enumerate(frame.columns):
        series = frame[column]
        if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
            text = series.astype(object).where(series.notna(), "").astype(str).to_numpy()
            inverse, distinct_text = pd.factorize(np.asarray(text, dtype=object))
            texts = np.asarray(distinct_text, dtype=object)
        else:
            floats = series.to_numpy(dtype=float, na_value=np.nan)
            numeric[:, j] = floats
            distinct, inverse = np.unique(floats, return_inverse=True)
            texts = np.array([_display(v) for v in distinct], dtype=object)
        codes[:, j] = offset + inverse.ravel()
        shown.append(texts)
        offset += len(texts)
    values = np.concatenate(shown) if shown else np.empty(0, dtype=object)
    return numeric, codes, values.astype(object)


def _display(value: float) -> str:
    if math.isnan(value):
        return ""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _reason_sentences(
    long: pd.DataFrame, catalogue: Mapping[str, ReasonSpec], texts: _Texts
) -> pd.Series:
    """`reason_sentence` for every row, each distinct (feature, value) formatted once."""
    codes_by_row = long["_code"].to_numpy()
    values = long["value"].to_numpy(dtype=float)
    text_codes = long["_text"].to_numpy()
    sentence_codes = np.zeros(len(long), dtype=np.int64)
    sentences: list[np.ndarray] = []
    offset = 0
    order = np.argsort(codes_by_row, kind="stable")
    bounds = np.flatnonzero(np.diff(codes_by_row[order])) + 1
    for rows in np.split(order, bounds) if len(order) else []:
        feature = str(texts.features[codes_by_row[rows[0]]])
        numeric = values[rows]
        if np.isnan(numeric).all():  # a category: the text is the value
            codes = pd.factorize(text_codes[rows])[0]
        else:
            codes = np.unique(numeric, return_inverse=True)[1].ravel()
        first = rows[np.unique(codes, return_index=True)[1]]
        sentence = _sentence_maker(catalogue.get(feature), feature)
        formatted = [sentence(values[i], str(texts.values[text_codes[i]])) for i in first]
        sentences.append(np.array(formatted, dtype=object))
        sentence_codes[rows] = offset + codes
        offset += len(formatted)
    distinct = np.concatenate(sentences) if sentences else np.empty(0, dtype=object)
    return pd.Series(
        pd.array(distinct, dtype="str").take(sentence_codes), index=long.index, dtype="str"
    )


def reason_sentence(spec: ReasonSpec | None, *, value: float, text: str, feature: str) -> str:
    """One plain Chinese sentence with the household's own value and unit.

    The catalogue template (e.g. ``"近12个月医疗自付{value:,.0f}元"``) is filled with the value; a
    missing value says so; a template that does not fit the value falls back to "label：value unit".

    Examples
    --------
    >>> from types import SimpleNamespace as S
    >>> spec = S(label_zh="近12个月医疗自付", unit="元", reason_zh="近12个月医疗自付{value:,.0f}元")
    >>> reason_sentence(spec, value=23400.0, text="23,400", feature="oop_medical_12m")
    '近12个月医疗自付23,400元'
    >>> reason_sentence(spec, value=float("nan"), text="", feature="oop_medical_12m")
    '近12个月医疗自付：无记录'
    """
    return _sentence_maker(spec, feature)(value, text)


def _sentence_maker(spec: ReasonSpec | None, feature: str) -> Any:
    """`reason_sentence` for one feature as a function of (value, text): the catalogue read once."""
    label = str(getattr(spec, "label_zh", "") or feature)
    unit = str(getattr(spec, "unit", "") or "")
    template = str(getattr(spec, "reason_zh", "") or "")

    def sentence(value: float | None, text: str) -> str:
        is_text = bool(text) and (value is None or math.isnan(value))
        if not is_text and (value is None or math.isnan(value)):
            return f"{label}：无记录"
        argument: Any = text if is_text else value
        if template:
            try:
                return template.format(value=argument, unit=unit)
            except (ValueError, KeyError, IndexError, TypeError):
                pass
        return f"{label}：{text}{unit}"

    return sentence


def _reason_order(
    long: pd.DataFrame, catalogue: Mapping[str, ReasonSpec], texts: _Texts, *, n_reasons: int
) -> pd.Series:
    """1..n for the largest risk-raising contributions, one per cause; NA for the other rows."""
    eligible_names = {name for name, spec in catalogue.items() if _eligible(spec)}
    known = np.array([str(n) in eligible_names for n in texts.features], dtype=bool)
    shown = np.array([str(t) != "" for t in texts.values], dtype=bool)
    eligible = (
        (long["contribution"].to_numpy() > 0)
        & known[long["_code"].to_numpy()]
        & shown[long["_text"].to_numpy()]
    )
    candidates = np.flatnonzero(eligible)
    household = long["_row"].to_numpy()[candidates]
    cause = long["_cause"].to_numpy()[candidates]
    keys = household * (int(long["_cause"].max()) + 1 if len(long) else 1) + cause
    _, first = np.unique(keys, return_index=True)
    chosen = np.sort(candidates[first])
    owners = long["_row"].to_numpy()[chosen]
    starts = np.r_[0, np.flatnonzero(np.diff(owners)) + 1]
    slot = np.arange(len(chosen)) - np.repeat(starts, np.diff(np.r_[starts, len(chosen)]))
    order = np.full(len(long), -1, dtype=np.int64)
    order[chosen] = slot + 1
    result = pd.Series(order, index=long.index).where(lambda o: (o > 0) & (o <= n_reasons))
    return result.astype("Int64")


def _eligible(spec: ReasonSpec) -> bool:
    """A feature can be a reason when the catalogue phrases it and ties it to a risk type."""
    return bool(getattr(spec, "reason_zh", "")) and bool(getattr(spec, "risk_type", ""))


def _is_new(long: pd.DataFrame, previous_reasons: pd.DataFrame | None) -> pd.Series:
    is_reason = long["reason_order"].notna().to_numpy(dtype=bool)
    if previous_reasons is None or previous_reasons.empty:
        return pd.Series(is_reason, index=long.index)
    before = set(zip(previous_reasons["household_id"], previous_reasons["cause"], strict=True))
    reasons = np.flatnonzero(is_reason)
    households = long["household_id"].to_numpy(dtype=object)[reasons]
    causes = long["cause"].to_numpy(dtype=object)[reasons]
    new = is_reason.copy()
    new[reasons] = [(h, c) not in before for h, c in zip(households, causes, strict=True)]
    return pd.Series(new, index=long.index)


def previous_main_reasons(run_dir: str | Path) -> pd.DataFrame | None:
    """The main reasons (``household_id``, ``cause``) of an earlier run folder, if it has any."""
    path = Path(run_dir) / "explanations.parquet"
    if not path.is_file():
        return None
    previous = pd.read_parquet(path, columns=["household_id", "cause", "reason_order"])
    return previous.loc[previous["reason_order"].notna(), ["household_id", "cause"]]


def main_reasons(explanations: pd.DataFrame) -> pd.DataFrame:
    """The main reasons only, one row per household and reason slot, ordered by rank and slot."""
    reasons = explanations.loc[explanations["reason_order"].notna()]
    return reasons.sort_values(["rank", "reason_order"], kind="mergesort")


# --- source records -----------------------------------------------------------------------------

_SOURCE_TABLES: tuple[str, ...] = (
    "medical",
    "disability",
    "employment",
    "assistance",
    "events",
    "income",
    "outcomes",
    "members",
    "households",
)


def source_records(
    long: pd.DataFrame,
    *,
    tables: Tables,
    as_of: pd.Period,
    catalogue: Mapping[str, ReasonSpec],
) -> pd.Series:
    """For each main reason, the file and rows (``source_row``) of the records behind it.

    A reason on a windowed feature (``..._12m``) names the household's records of the feature's
    source table dated in the window (spells overlapping it); other features name all of the
    household's records of that table up to `as_of`. Other rows get an empty string.
    """
    reasons = long.loc[long["reason_order"].notna(), ["household_id", "feature"]]
    sources = reasons["feature"].map(lambda f: _source_table(catalogue.get(f), tables))
    named: list[pd.Series] = []
    for table in sorted(set(sources.dropna())):
        picked = reasons.loc[sources == table]
        records = _dated_records(table, tables, households=set(picked["household_id"]))
        if records is None or records.empty:
            continue
        windows = picked["feature"].map(_window_months)
        first = np.where(
            windows.isna(), np.iinfo(np.int64).min, as_of.ordinal - windows.fillna(0) + 1
        ).astype(np.int64)
        wanted = pd.DataFrame(
            {"reason": picked.index, "household_id": picked["household_id"], "first": first}
        )
        joined = wanted.merge(records, on="household_id", how="inner")
        joined = joined.loc[(joined["start"] <= as_of.ordinal) & (joined["end"] >= joined["first"])]
        joined = joined.sort_values(["reason", "source_row"], kind="mergesort")
        file_name = tables.files.get(table, table)
        reason_ids = joined["reason"].to_numpy()
        source_rows = joined["source_row"].to_numpy(dtype=np.int64)
        bounds = np.flatnonzero(np.diff(reason_ids)) + 1
        starts = np.r_[0, bounds] if len(reason_ids) else np.array([], dtype=np.int64)
        texts = (
            [
                _name_rows(file_name, [int(r) for r in chunk[:_MAX_ROWS_NAMED]], total=len(chunk))
                for chunk in np.split(source_rows, bounds)
            ]
            if len(reason_ids)
            else []
        )
        named.append(pd.Series(texts, index=reason_ids[starts], dtype=object))
    if not named:
        return pd.Series("", index=long.index, dtype=object)
    return pd.concat(named).reindex(long.index).fillna("").astype(str)


def _source_table(spec: ReasonSpec | None, tables: Tables) -> str | None:
    source = str(getattr(spec, "source", "") or "")
    for table in _SOURCE_TABLES:
        if table in source:
            return table if getattr(tables, table, None) is not None else None
    return None


def _window_months(feature: str) -> int | None:
    match = _WINDOW.search(feature)
    return int(match.group(1)) if match else None


def _dated_records(table: str, tables: Tables, *, households: set[str]) -> pd.DataFrame | None:
    """``household_id, start, end, source_row`` of a table's records for some households."""
    frame = getattr(tables, table)
    if frame is None or "source_row" not in frame.columns:
        return None
    wanted = pa.array(sorted(households), type=pa.large_string())
    if "household_id" not in frame.columns:
        # keep the few households' members and their records before joining, not after
        owners = tables.members[["person_id", "household_id"]]
        owners = owners.loc[_is_in(owners["household_id"], wanted)]
        people = pa.array(owners["person_id"].astype(str), type=pa.large_string())
        frame = frame.loc[_is_in(frame["person_id"], people)]
        frame = frame.merge(owners, on="person_id", how="inner")
    frame = frame.loc[_is_in(frame["household_id"], wanted)]
    start, end = _record_months(table, frame)
    records = pd.DataFrame(
        {
            "household_id": frame["household_id"].astype(str).to_numpy(),
            "start": start,
            "end": end,
            "source_row": frame["source_row"].to_numpy(dtype=np.int64),
        }
    )
    return records.sort_values("source_row", kind="mergesort").reset_index(drop=True)


def _is_in(values: pd.Series, wanted: pa.Array) -> np.ndarray:
    """Mask of `values` (as text) found in `wanted`, hashed in Arrow (missing → False)."""
    text = pa.array(values.astype(str), type=pa.large_string())
    found = pc.is_in(text, value_set=wanted)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def _record_months(table: str, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Ordinal first and last month of each record (undated records span all time)."""
    low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    if table == "employment":
        start = _month_ordinals(frame["start_month"], default=low)
        return start, _month_ordinals(frame["end_month"], default=high)
    if table == "disability":
        return _month_ordinals(frame["certified_date"], default=low), np.full(len(frame), high)
    column = _DATE_COLUMN.get(table)
    if column is None or column not in frame.columns:
        return np.full(len(frame), low), np.full(len(frame), high)
    months = _month_ordinals(frame[column], default=low)
    return months, months


def _month_ordinals(series: pd.Series, *, default: int) -> np.ndarray:
    """Period ordinals of months or dates; `default` where missing."""
    if not isinstance(series.dtype, pd.PeriodDtype):
        series = pd.to_datetime(series).dt.to_period("M")
    ordinals = np.asarray(series.array.asi8, dtype=np.int64).copy()
    ordinals[series.isna().to_numpy()] = default
    return ordinals


def _name_rows(file_name: str, rows: Sequence[int], *, total: int | None = None) -> str:
    if not rows:
        return ""
    count = len(rows) if total is None else total
    shown = "、".join(str(row) for row in rows[:_MAX_ROWS_NAMED])
    more = f"等{count}条" if count > _MAX_ROWS_NAMED else ""
    return f"{file_name} 第{shown}行{more}"


def top_features(explanations: pd.DataFrame, *, household_id: str, n: int = 10) -> pd.DataFrame:
    """The `n` largest contributions (by size) of one household, for a waterfall plot."""
    mine = explanations.loc[explanations["household_id"] == household_id]
    order = mine["contribution"].abs().sort_values(ascending=False, kind="mergesort").index
    return mine.loc[order[:n]]
