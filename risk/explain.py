"""Explanations: contributions of the model's features turned into plain Chinese reasons by cause.

Contributions are Shapley values of the model's raw score (log-odds) that sum, with the base value, to
the raw score. A LightGBM model is explained by exact TreeSHAP (the values of ``pred_contrib=True``)
through the per-leaf tables of :mod:`risk.explain_speed`; any other model, or trees those tables do not
cover, through the model's own ``predict_contributions`` (a linear model's exact contributions).

Reasons follow the cause vocabulary of ``features.catalogue.CAUSES``. For each household the
risk-raising contributions are summed by cause — a composite feature (rigid spending, income level,
all events) split over its parts' causes in proportion to what each part amounts to for the
household, and an income fall that the household's records explain (a death, a new disability, a
serious illness, a disaster in the same year: ``explained_by``) counted for that shock. A wage fall
is a job loss only where the employment feed does not contradict it (``shock_needs``: an able member
out of work, a spell ended in the last 12 months); otherwise it is the household's low income. The
causes with a risk-raising sum are then ordered as a reviewer would, in four tiers:

1. shocks (every cause but ``low_income`` and ``other``) whose money this year — falls of income by
   source (the wage fall the larger of the income checks' and the employment feed's,
   ``RECORDED_WAGE_FALL``) and rigid spending, ``SHORTFALL_PARTS`` less ``STANDING_PARTS`` —
   reaches `MATERIAL_SHARE` of the household's year, or whose event is a shock whatever its money
   (`SHOCK_EVENTS`: a member's death), largest first;
2. the household's standing (`STANDING_ORDER`): a severely disabled member, low income, a member
   at a school stage that costs money (before low income where the household got aid for it,
   `SCHOOLING_AID`); low income only where the household was near the line a year before too
   (`_near_line_last_year`: a low income new this year is what this year's shocks did); a standing
   whose lead is a year-on-year change (`NOT_A_LEVEL`: transfers fell) is not told as the standing
   and falls to 3 or 4;
3. other causes whose money (last year's gap included) is material, largest first;
4. the rest, by their summed contribution.

They become reasons 1, 2, 3. A reason is phrased from the
feature that carries most of its cause (the part that moved, for a composite), with the evidence behind
it (amount, month, file and row of the source record) and the measure that fits the cause; a reason
whose cause comes from a shock the records show (``explained_by``) names that shock first and cites
its records ("有1人患大病，当月没有务工收入", the claim as evidence). A contribution that lowers the
risk, a missing value, a value on the harmless side (no claim, an income that rose) or a level that
does not read as a reason (`_reads_as_reason`: a wage or an income that is not low, where members
work) is never a reason; features without a cause (region, household type, calendar, data coverage,
monitoring history) never are either.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.catalogue import (
    CAUSES,
    RECORDED_WAGE_FALL,
    SCHOOLING_COSTS,
    SEVERE_DISABILITY,
    SHORTFALL_PARTS,
    STANDING_PARTS,
)
from features.contract.tables import Tables
from risk.explain_speed import fast_contributions, tables_for
from training.model import ModelMismatchError

#: How many reasons the warning list shows per household.
N_REASONS = 3

#: Share of the household's year (net income, or the line's amount when more) a cause's money must
#: reach to be named before the causes ranked by the model alone: a sudden large expense or income
#: fall (DOMAIN.md), a quarter of what the household lives on. Judged on every simulated scenario,
#: 0.15–0.25 name causes alike; smaller shares let everyday costs outrank a chronic gap.
MATERIAL_SHARE = 0.25
#: The household's standing, in the order a reviewer names it when no shock is material: a severely
#: disabled member (因残), chronic low income, then a member at a school stage that costs money
#: (因学: the contract carries no schooling cost, so the stage is the evidence). All come before
#: shocks too small to matter.
STANDING_ORDER: tuple[str, ...] = ("disability", "low_income", "schooling")
#: Aid paid for a member's schooling in the last 12 months (教育资助, 雨露计划): the records show the
#: school stage costing the household money, so schooling is named before its low income.
SCHOOLING_AID = "education_assistance_12m"
#: Causes that describe the household's standing, not a shock. A shock with a material money effect
#: is named before them however large the standing gap: a sudden expense or income drop is what a
#: reviewer records as the 致贫返贫风险 (DOMAIN.md, 突发严重困难户); chronic low income is what is
#: left when the records show no such shock. ``other`` (hardship payments, unexplained falls) says
#: that the household is in difficulty, not why.
STANDING_CAUSES: frozenset[str] = frozenset({"low_income", "other"})
#: Suggested assistance measure by cause (``features.catalogue.CAUSES``; DOMAIN.md).
MEASURES: Mapping[str, str] = {cause.name: cause.measure_zh for cause in CAUSES}
#: Chinese name of each cause.
CAUSE_LABELS: Mapping[str, str] = {cause.name: cause.label_zh for cause in CAUSES}
DEFAULT_MEASURE = MEASURES["other"]

#: Columns of ``explanations.parquet`` in order (the first seven are INTERFACE.md's; ``cause``,
#: ``reason_order`` and ``evidence`` are its version 2 additions).
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
    "cause_zh",
    "risk_type",
    "measure",
    "reason_order",
    "cause_contribution",
    "is_new",
    "source_records",
    "evidence",
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
    """What explanations need from a feature catalogue entry (``features.catalogue.FeatureSpec``).

    Optional attributes read when present: ``risky_when``, ``parts``, ``records`` and the methods
    ``reason``, ``points_to_cause``.
    """

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
    def cause(self) -> str | None: ...


@dataclass(frozen=True)
class Contributions:
    """Contributions of the model's features for some households.

    Attributes
    ----------
    values
        Log-odds contribution per household (index, as given) and feature (columns, model order).
    base_value
        The expected raw score (the same for every row of one model).
    method
        How they were computed: ``"treeshap_tables"`` (per-leaf tables), ``"treeshap"`` (LightGBM's
        own TreeSHAP) or ``"model"`` (the model's ``predict_contributions``).
    """

    values: pd.DataFrame
    base_value: float
    method: str = "treeshap_tables"

    def raw_score(self) -> pd.Series:
        """Base value plus the contributions: the model's raw score (additivity)."""
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
    return _as_contributions(raw, features, method=_tree_method(booster))


def model_contributions(model: Any, rows: pd.DataFrame) -> Contributions:
    """Contributions of any registered model for some households, exact for its kind.

    A model with a LightGBM ``booster_`` is explained by TreeSHAP through the per-leaf tables (or
    LightGBM's own TreeSHAP where the tables do not apply); any other model (``booster_`` None, e.g.
    logistic regression) by its ``predict_contributions(X)`` — log-odds contributions, shape
    (rows, features + 1), bias last.

    Parameters
    ----------
    model
        A fitted model with ``feature_names_in_``, ``transform_features`` and, without a booster,
        ``predict_contributions``.
    rows
        The households' feature values (index household id), the model's columns in its order.

    Returns
    -------
    Contributions
        Indexed like `rows`; ``method`` says which path computed them.
    """
    names = [str(n) for n in model.feature_names_in_]
    rows = rows.loc[:, names]
    booster = getattr(model, "booster_", None)
    if isinstance(booster, lgb.Booster):
        matrix = pd.DataFrame(model.transform_features(rows), index=rows.index, columns=names)
        return shap_contributions(booster, matrix)
    if len(rows) == 0:
        return Contributions(pd.DataFrame(columns=names, dtype=float), 0.0, "model")
    raw = np.asarray(model.predict_contributions(rows), dtype=float)
    return _as_contributions(raw, rows, method="model")


def _tree_method(booster: lgb.Booster) -> str:
    try:
        tables_for(booster)
    except ModelMismatchError:
        return "treeshap"
    return "treeshap_tables"


def _as_contributions(raw: np.ndarray, features: pd.DataFrame, *, method: str) -> Contributions:
    n_features = features.shape[1]
    if raw.ndim != 2 or raw.shape[1] != n_features + 1:
        raise ModelMismatchError(
            f"expected {n_features + 1} contribution columns (one per feature and the bias, binary "
            f"model), got shape {raw.shape}"
        )
    values = pd.DataFrame(raw[:, :n_features], index=features.index, columns=features.columns)
    return Contributions(values, float(raw[0, n_features]), method)


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
        From `model_contributions` (or `shap_contributions`), indexed by household id.
    features
        The same households' feature values (index household id): the model's columns, and any
        other catalogue columns (the parts of composite features, to split them by cause).
    ranks
        Household id → rank on the list (1 = highest risk); rows are ordered by it.
    catalogue
        Feature name → catalogue entry (labels, reason sentences, causes, parts, records).
    tables, as_of
        When given, each reason names its evidence: the source records (file and ``source_row``).
    previous_reasons
        Main reasons of the previous run (``household_id``, ``cause``), to mark new ones.
    n_reasons
        Main reasons per household.

    Returns
    -------
    DataFrame with `EXPLANATION_COLUMNS`: contributions largest first within a household; the
    main reasons have ``reason_order`` 1..n_reasons, one cause each, by the cause's summed
    risk-raising contribution (``cause_contribution``).
    """
    long, texts = _long_contributions(contributions, features, ranks, catalogue)
    long["reason_zh"] = _reason_sentences(long, catalogue, texts)
    causes = _cause_attribution(contributions, features, catalogue)
    _choose_reasons(long, causes, n_reasons=n_reasons)
    _phrase_leads(long, features, catalogue)
    long["is_new"] = _is_new(long, previous_reasons)
    long["source_records"] = ""
    long["evidence"] = ""
    if tables is not None and as_of is not None:
        named = evidence(long, tables=tables, as_of=as_of, catalogue=catalogue)
        long["source_records"] = named["source_records"]
        long["evidence"] = named["evidence"]
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

    Built with integer codes (``_row`` household position, ``_code`` feature position, ``_text``
    value text) so the later steps never compare strings row by row; the text columns are taken
    from short lists by those codes.
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
    labels, units, risk_types = _catalogue_columns(names, catalogue)
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
            "risk_type": _strings(risk_types, cols),
            "_row": rows,
            "_code": cols,
            "_text": text_codes,
        }
    )
    return long, _Texts(features=names, values=shown)


def _catalogue_columns(
    names: np.ndarray, catalogue: Mapping[str, ReasonSpec]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label, unit and risk type per feature (the label defaults to the name)."""

    def attribute(name: str, attr: str) -> str:
        return str(getattr(catalogue.get(name), attr, "") or "")

    labels = np.array([attribute(n, "label_zh") or n for n in names], dtype=object)
    units = np.array([attribute(n, "unit") for n in names], dtype=object)
    risk_types = np.array([attribute(n, "risk_type") for n in names], dtype=object)
    return labels, units, risk_types


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
    if math.isnan(value) or math.isinf(value):
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
        if np.isnan(numeric).all():  # a category (or all missing): the text is the value
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

    A catalogue entry phrases the value itself (``FeatureSpec.reason``: zero, negative and missing
    values have their own wording); a bare template (e.g. ``"近12个月医疗自付{value:,.0f}元"``) is
    filled with the value; a missing value says so; a template that does not fit the value falls
    back to "label：value unit".

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
    phrase = getattr(spec, "reason", None)

    def sentence(value: float | None, text: str) -> str:
        is_text = bool(text) and (value is None or math.isnan(value))
        if not is_text and (value is None or math.isnan(value)):
            return f"{label}：无记录"
        argument: Any = text if is_text else value
        if template:
            try:
                return (
                    str(phrase(argument))
                    if callable(phrase)
                    else template.format(value=argument, unit=unit)
                )
            except (ValueError, KeyError, IndexError, TypeError):
                pass
        return f"{label}：{text}{unit}"

    return sentence


# --- causes ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CauseSplit:
    """Contributions by cause, for the households (rows) and features (columns) of a model.

    Attributes
    ----------
    names
        Cause names by code (the vocabulary first, then any other name a catalogue uses).
    totals
        Households × causes: the summed risk-raising contributions attributed to each cause.
    cause
        Households × features: the cause each feature speaks for in each household (-1 none; a
        composite speaks for the cause of its largest share).
    share
        Households × features: the share of the feature's contribution that goes to that cause.
    part
        Households × features: the part feature that phrases a composite's reason ("" = itself).
    points
        Households × features: the value is on the side that points to the cause.
    money
        Households × causes: the household's shortfall in yuan a year that each cause accounts for
        (``SHORTFALL_PARTS``: last year's gap, this year's income falls, rigid spending).
    material
        Households × causes: that money is at least `MATERIAL_SHARE` of the household's year.
    shock
        Households × causes: the money of this year's shocks alone (``SHORTFALL_PARTS`` less
        ``STANDING_PARTS``).
    year
        Per household: the yuan a year it lives on (`_household_year`).
    standing_rank
        Households × causes: the cause's place in `STANDING_ORDER` (-1 when not the standing).
    via
        Households × features: the ``explained_by`` event feature that gave the feature (or its
        phrasing part) its cause ("" when it speaks for its own cause).
    event
        Households × causes: the household's records show an event that is a shock whatever its
        money (`SHOCK_EVENTS`).
    """

    names: tuple[str, ...]
    totals: np.ndarray
    cause: np.ndarray
    share: np.ndarray
    part: np.ndarray
    points: np.ndarray
    money: np.ndarray
    material: np.ndarray
    shock: np.ndarray
    year: np.ndarray
    standing_rank: np.ndarray
    via: np.ndarray
    event: np.ndarray


def _cause_names(catalogue: Mapping[str, ReasonSpec]) -> tuple[str, ...]:
    extra = sorted(
        {str(c) for s in catalogue.values() if (c := _cause_of(s)) and c not in MEASURES}
    )
    return (*MEASURES.keys(), *extra)


def _cause_of(spec: ReasonSpec | None) -> str | None:
    cause = getattr(spec, "cause", None)
    return str(cause) if cause else None


def _row_causes(
    spec: ReasonSpec | None, frame: pd.DataFrame, code: Mapping[str, int]
) -> np.ndarray:
    """Cause code of a feature in each household (-1 none): its ``cause``, or the cause of the
    first ``explained_by`` event the household's records show (event feature above zero), or
    ``low_income`` where a known value fails one of its ``shock_needs``."""
    return _row_causes_via(spec, frame, code)[0]


def _row_causes_via(
    spec: ReasonSpec | None, frame: pd.DataFrame, code: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """`_row_causes` and, per household, the ``explained_by`` event feature that gave the cause
    ("" where the feature speaks for its own cause)."""
    static = _cause_of(spec)
    causes = np.full(len(frame), -1 if static is None else code[static], dtype=np.int64)
    via = np.full(len(frame), "", dtype=object)
    if static is None:
        return causes, via
    settled = np.zeros(len(frame), dtype=bool)
    for event, cause in tuple(getattr(spec, "explained_by", ()) or ()):
        with np.errstate(invalid="ignore"):
            shown = (_column(frame, event) > 0) & ~settled
        causes[shown] = code[cause]
        if cause != static:
            via[shown] = event
        settled |= shown
    for feature, operator, bound in tuple(getattr(spec, "shock_needs", ()) or ()):
        causes[_contradicts(_column(frame, feature), operator, bound) & ~settled] = code[
            "low_income"
        ]
    return causes, via


def _contradicts(values: np.ndarray, operator: str, bound: float) -> np.ndarray:
    """Known values that fail ``value <operator> bound`` (a missing value contradicts nothing)."""
    known = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        holds = values > bound if operator == ">" else values <= bound
    return known & ~holds


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A feature column as floats (NaN when absent or categorical)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    series = frame[name]
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
        return np.full(len(frame), np.nan)
    return series.to_numpy(dtype=float, na_value=np.nan)


def _pointing(spec: ReasonSpec | None, values: np.ndarray) -> np.ndarray:
    """Values on the side of the spec's ``risky_when`` (missing values never point anywhere)."""
    side = str(getattr(spec, "risky_when", "any"))
    tolerance_of = getattr(spec, "zero_tolerance", None)
    tolerance = float(tolerance_of()) if callable(tolerance_of) else 0.0
    with np.errstate(invalid="ignore"):
        if side == "positive":
            return values > tolerance
        if side == "negative":
            return values < -tolerance
    return ~np.isnan(values)


def _cause_attribution(
    contributions: Contributions, features: pd.DataFrame, catalogue: Mapping[str, ReasonSpec]
) -> _CauseSplit:
    """Split every risk-raising contribution over causes (composites by their parts' amounts)."""
    values = contributions.values
    names = _cause_names(catalogue)
    code = {name: k for k, name in enumerate(names)}
    positive = np.clip(values.to_numpy(dtype=float), 0.0, None)
    frame = features.reindex(values.index)
    n, f = positive.shape
    split = _CauseSplit(
        names=names,
        totals=np.zeros((n, len(names))),
        cause=np.full((n, f), -1, dtype=np.int64),
        share=np.zeros((n, f)),
        part=np.full((n, f), "", dtype=object),
        points=np.zeros((n, f), dtype=bool),
        money=np.zeros((n, len(names))),
        material=np.zeros((n, len(names)), dtype=bool),
        shock=np.zeros((n, len(names))),
        year=np.zeros(n),
        standing_rank=_standing_rank(frame, names),
        via=np.full((n, f), "", dtype=object),
        event=_shock_events(frame, names),
    )
    _shortfall_by_cause(split, frame, catalogue, code)
    line = _line_per_person(frame)
    for j, feature in enumerate(values.columns):
        spec = catalogue.get(str(feature))
        points = _pointing(spec, _column(frame, str(feature)))
        raising = np.where(points, positive[:, j], 0.0)
        split_rows = np.zeros(n, dtype=bool)
        parts = tuple(getattr(spec, "parts", ()) or ())
        if parts:
            split_rows = _split_by_parts(split, j, raising, parts, frame, catalogue, code)
        # a value that phrases itself must read as a reason (a composite is phrased by its part)
        points = np.where(split_rows, points, points & _reads_as_reason(str(feature), frame, line))
        split.points[:, j] = points
        raising = np.where(points, raising, 0.0)
        own, via = _row_causes_via(spec, frame, code)
        rest = np.flatnonzero(~split_rows & (own >= 0))
        split.totals[rest, own[rest]] += raising[rest]
        split.cause[rest, j] = own[rest]
        split.share[rest, j] = 1.0
        split.via[rest, j] = via[rest]
    return split


#: Levels that speak for the household's low income only on their low side, as a reviewer reads
#: them: an income level below `NEAR_LINE` times the monitoring line (DOMAIN.md: 低保边缘 is income
#: below 1.5 × the standard), yuan a year of wages below what the household needs at the line,
#: nobody (able to) work, an elderly head, more dependants than working-age members, little land. A
#: wage of 4,490 yuan a month, or an income at 1.75× the line, is not low whatever the model made of
#: it; where members work (in or out of the county) and the mix of income sources say nothing of
#: how much the household has.
NEAR_LINE = 1.5
LOW_RATIOS: tuple[str, ...] = (
    "income_to_line_ratio_12m",
    "income_to_line_ratio_3m",
    "income_checked_to_line_12m",
    "income_after_rigid_to_line_12m",
)
LOW_PER_PERSON: tuple[str, ...] = ("income_per_capita_12m", "income_per_capita_3m")
#: Household wages or income, and how many months of it the value is (a year's worth is compared
#: with the line times the household's members).
LOW_HOUSEHOLD_MONEY: Mapping[str, float] = {
    "employment_wage_12m": 1.0,
    "monthly_wage_now": 12.0,
    "wage_income_last_month": 12.0,
    "net_income_last_month": 12.0,
}
NOBODY: tuple[str, ...] = ("members_working_now", "able_working_age_members", "working_age_members")
NEVER_A_REASON: tuple[str, ...] = (
    "members_working_in_county",
    "members_working_in_province",
    "members_working_out_of_province",
    "wage_share_12m",
    "property_share_12m",
)
#: (feature, bound): the level reads as a reason at or above the bound — an elderly head, more
#: dependants than working-age members, a household living mostly on transfers (its standing) or
#: on farm and business income (exposed to a bad harvest or a failed business).
AT_LEAST: Mapping[str, float] = {
    "head_age": 65.0,
    "dependency_ratio": 1.0,
    "transfer_share_12m": 0.5,
    "business_share_12m": 0.5,
}
#: (feature, bound): the level reads as a reason below the bound — less than a mu of land to farm.
BELOW: Mapping[str, float] = {"cultivated_land_mu": 1.0}


def _reads_as_reason(feature: str, frame: pd.DataFrame, line: np.ndarray) -> np.ndarray:
    """Households whose value of `feature` reads as a reason (all, for features without a rule)."""
    values = _column(frame, feature)
    size = np.maximum(np.nan_to_num(_column(frame, "household_size"), nan=1.0), 1.0)
    unknown = np.isnan(line)  # no line to compare with: the model's word stands
    with np.errstate(invalid="ignore"):
        if feature in LOW_RATIOS:
            return values < NEAR_LINE
        if feature in LOW_PER_PERSON:
            return unknown | (values < NEAR_LINE * line)
        if feature in LOW_HOUSEHOLD_MONEY:
            return unknown | (values * LOW_HOUSEHOLD_MONEY[feature] < line * size)
        if feature in NOBODY:
            return values == 0
        if feature in NEVER_A_REASON:
            return np.zeros(len(frame), dtype=bool)
        if feature in AT_LEAST:
            return values >= AT_LEAST[feature]
        if feature in BELOW:
            return values < BELOW[feature]
    return np.ones(len(frame), dtype=bool)


#: Year-on-year changes that may lead a standing cause's reasons but do not tell the household's
#: standing: "转移性收入同比减少1,992元" says a payment stopped, not that the household lives on little
#: (its standing is told by a level: income against the line, nobody working, an elderly head).
NOT_A_LEVEL: tuple[str, ...] = (
    "income_change_ratio_12m",
    "property_income_change_12m",
    "transfer_income_change_12m",
)


#: Events that are a material shock whatever the money the records put on them, by cause: the
#: death of a member (DOMAIN.md: 公安 deaths are pushed as warnings; the household has lost a
#: member, often an earner or the carer, and the funeral falls on it).
SHOCK_EVENTS: Mapping[str, tuple[str, ...]] = {"death": ("member_deaths_12m",)}


def _shock_events(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """Households × causes: the household's records show a `SHOCK_EVENTS` event of the cause
    (each of its features above zero)."""
    shown = np.zeros((len(frame), len(names)), dtype=bool)
    for cause, features in SHOCK_EVENTS.items():
        if cause in names:
            shown[:, names.index(cause)] = np.logical_and.reduce(
                [np.nan_to_num(_column(frame, f)) > 0 for f in features]
            )
    return shown


def _standing_rank(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """Households × causes: the cause's place in `STANDING_ORDER` (-1 when not the standing).

    Disability is the household's standing only with a severely disabled member
    (``SEVERE_DISABILITY`` above zero), schooling only with a member at a stage that costs money
    (``SCHOOLING_COSTS``), low income only where the household was near the line a year before too
    (`_near_line_last_year`).
    """
    ranks = np.full((len(frame), len(names)), -1, dtype=np.int64)
    gates = {
        "disability": np.nan_to_num(_column(frame, SEVERE_DISABILITY)) > 0,
        "schooling": sum(np.nan_to_num(_column(frame, f)) for f in SCHOOLING_COSTS) > 0,
        "low_income": _near_line_last_year(frame),
    }
    for place, cause in enumerate(STANDING_ORDER):
        if cause in names:
            applies = gates.get(cause, np.ones(len(frame), dtype=bool))
            ranks[applies, names.index(cause)] = place
    if {"schooling", "low_income"} <= set(names):
        # school costs the records show (aid paid for them) come before the household's low income
        aided = np.nan_to_num(_column(frame, SCHOOLING_AID)) > 0
        school, low = names.index("schooling"), names.index("low_income")
        swap = aided & (ranks[:, school] >= 0) & (ranks[:, low] >= 0)
        ranks[swap, school], ranks[swap, low] = ranks[swap, low], ranks[swap, school]
    return ranks


#: Last year's gap to the line (yuan a year: the line for the household's members less its net
#: income of the 12 months before the last 12; negative when it was above the line).
LAST_YEAR_GAP = "income_gap_before_12m"


def _near_line_last_year(frame: pd.DataFrame) -> np.ndarray:
    """Households whose income of the year before was below `NEAR_LINE` times the line (or is
    unknown): their low income is their standing.

    A household that lived on at least 1.5 times the line a year ago and is near it now did not
    live on little: its low income is new, what this year's shocks did, so a shock the records show
    (a claim, an ended job, a fall of farm income) is named by its money and contribution before
    it, and the low income is told after as a cause like the others.

    Examples
    --------
    >>> frame = pd.DataFrame({"income_per_capita_12m": [6000.0, 6000.0, 6000.0],
    ...     "income_to_line_ratio_12m": [0.75, 0.75, 0.75], "household_size": [2.0, 2.0, 2.0],
    ...     "income_gap_before_12m": [-8000.0, -7999.0, float("nan")]})
    >>> _near_line_last_year(frame).tolist()  # line 8,000 a head: 24,000 a year ago is 1.5×
    [False, True, True]
    """
    gap = _column(frame, LAST_YEAR_GAP)
    size = np.maximum(np.nan_to_num(_column(frame, "household_size"), nan=1.0), 1.0)
    line = _line_per_person(frame)
    with np.errstate(invalid="ignore"):
        above = line * size - gap >= NEAR_LINE * line * size
    return ~above


def _shortfall_by_cause(
    split: _CauseSplit,
    frame: pd.DataFrame,
    catalogue: Mapping[str, ReasonSpec],
    code: Mapping[str, int],
) -> None:
    """Fill ``money`` and ``material``: the household's shortfall by cause, and which of it counts.

    Each part of `SHORTFALL_PARTS` the household has on its risky side (a gap, a fall, a cost) adds
    its size to the cause it speaks for in that household (``explained_by`` applied). A cause's
    money is material when it reaches `MATERIAL_SHARE` of the household's year: its yearly net
    income, or what the household needs at the monitoring line when that is more.
    """
    n = len(frame)
    everyone = np.arange(n)
    for part in SHORTFALL_PARTS:
        spec = catalogue.get(part)
        if spec is None or part not in frame.columns:
            continue
        k = _row_causes(spec, frame, code)
        values = _column(frame, part)
        amount = np.where(_pointing(spec, values), np.abs(np.nan_to_num(values)), 0.0)
        if part == "wage_income_change_12m":
            amount = np.fmax(amount, _recorded_wage_fall(frame))
        amount = np.where(k >= 0, amount, 0.0)
        split.money[everyone, np.maximum(k, 0)] += amount
        if part not in STANDING_PARTS:
            split.shock[everyone, np.maximum(k, 0)] += amount
    year = _household_year(frame)
    split.year[:] = year
    with np.errstate(invalid="ignore"):
        split.material[:] = (split.money >= MATERIAL_SHARE * year[:, None]) & (split.money > 0)


def _recorded_wage_fall(frame: pd.DataFrame) -> np.ndarray:
    """Yuan a year of recorded wages that stopped (``RECORDED_WAGE_FALL``; 0 when none or unknown)."""
    wages, now = (_column(frame, name) for name in RECORDED_WAGE_FALL)
    return np.clip(np.nan_to_num(wages - 12.0 * now), 0.0, None)


def _household_year(frame: pd.DataFrame) -> np.ndarray:
    """Yuan a year the household lives on: its net income of the last 12 months, or the line's
    amount for its members when that is more (NaN when the income features are missing)."""
    per_capita = _column(frame, "income_per_capita_12m")
    size = np.maximum(np.nan_to_num(_column(frame, "household_size"), nan=1.0), 1.0)
    return np.fmax(per_capita, _line_per_person(frame)) * size


def _line_per_person(frame: pd.DataFrame) -> np.ndarray:
    """The monitoring line (yuan per person a year) of each household, read off its income and its
    income-to-line ratio (the explained households' median where that cannot be read; NaN when
    none can)."""
    per_capita = _column(frame, "income_per_capita_12m")
    ratio = _column(frame, "income_to_line_ratio_12m")
    with np.errstate(invalid="ignore", divide="ignore"):
        line = np.where(ratio > 0, per_capita / ratio, np.nan)
    known = line[np.isfinite(line)]
    return np.where(np.isfinite(line), line, np.median(known) if len(known) else np.nan)


def _split_by_parts(
    split: _CauseSplit,
    j: int,
    raising: np.ndarray,
    parts: tuple[str, ...],
    frame: pd.DataFrame,
    catalogue: Mapping[str, ReasonSpec],
    code: Mapping[str, int],
) -> np.ndarray:
    """Attribute feature `j` by its parts' amounts; the households where the parts amount to something."""
    n = len(raising)
    weights = np.zeros((n, len(split.names)))
    best = np.zeros((n, len(split.names)))
    best_part = np.full((n, len(split.names)), "", dtype=object)
    best_via = np.full((n, len(split.names)), "", dtype=object)
    everyone = np.arange(n)
    for part in parts:
        spec = catalogue.get(part)
        k, via = _row_causes_via(spec, frame, code)
        if (k < 0).all():
            continue
        amount = np.abs(np.nan_to_num(_column(frame, part)))
        amount = np.where(_pointing(spec, _column(frame, part)) & (k >= 0), amount, 0.0)
        k = np.maximum(k, 0)
        weights[everyone, k] += amount
        larger = amount > best[everyone, k]
        best[everyone[larger], k[larger]] = amount[larger]
        best_part[everyone[larger], k[larger]] = part
        best_via[everyone[larger], k[larger]] = via[larger]
    total = weights.sum(axis=1)
    rows = total > 0
    shares = weights[rows] / total[rows, None]
    split.totals[rows] += raising[rows, None] * shares
    dominant = np.argmax(shares, axis=1) if rows.any() else np.zeros(0, dtype=np.int64)
    split.cause[rows, j] = dominant
    split.share[rows, j] = shares[np.arange(len(dominant)), dominant]
    split.part[rows, j] = best_part[np.flatnonzero(rows), dominant]
    split.via[rows, j] = best_via[np.flatnonzero(rows), dominant]
    return rows


def _choose_reasons(long: pd.DataFrame, split: _CauseSplit, *, n_reasons: int) -> None:
    """Set ``cause``, ``cause_zh``, ``measure``, ``cause_contribution`` and ``reason_order``.

    Tiers (module docstring): material shocks by their money this year, then the household's
    standing (`STANDING_ORDER`), then other causes with material money, then the rest by their
    summed risk-raising contribution. Each is phrased by its lead row: the
    risk-raising contribution with the largest share for that cause whose value points to it.
    Causes without such a row are skipped (a cause that only lowers the risk is never a reason).
    """
    rows = long["_row"].to_numpy()
    cols = long["_code"].to_numpy()
    cause = split.cause[rows, cols] if len(long) else np.zeros(0, dtype=np.int64)
    names = np.array([*split.names, ""], dtype=object)
    labels = np.array([CAUSE_LABELS.get(c, c) for c in split.names] + [""], dtype=object)
    measures = np.array(
        [MEASURES.get(c, DEFAULT_MEASURE) for c in split.names] + [""], dtype=object
    )
    shown = np.where(cause >= 0, cause, len(split.names))
    long["cause"] = _strings(names, shown)
    long["cause_zh"] = _strings(labels, shown)
    long["measure"] = _strings(measures, shown)
    total = np.where(cause >= 0, split.totals[rows, np.maximum(cause, 0)], np.nan)
    long["cause_contribution"] = total
    long["_part"] = split.part[rows, cols] if len(long) else np.zeros(0, dtype=object)
    long["_via"] = split.via[rows, cols] if len(long) else np.zeros(0, dtype=object)
    contribution = long["contribution"].to_numpy(dtype=float)
    eligible = (cause >= 0) & (contribution > 0) & split.points[rows, cols] & (total > 0)
    chosen = np.flatnonzero(eligible)
    material = split.material[rows[chosen], cause[chosen]]
    year = split.year[rows[chosen]]
    shock_money = split.shock[rows[chosen], cause[chosen]]
    standing = np.isin(np.asarray(split.names, dtype=object), list(STANDING_CAUSES))
    with np.errstate(invalid="ignore"):
        is_shock = ~standing[cause[chosen]] & (
            ((shock_money > 0) & (shock_money >= MATERIAL_SHARE * year))
            | split.event[rows[chosen], cause[chosen]]
        )
    leads = pd.DataFrame(
        {
            "at": chosen,
            "row": rows[chosen],
            "cause": cause[chosen],
            "score": contribution[chosen] * split.share[rows[chosen], cols[chosen]],
            "total": total[chosen],
            "material": material,
            "money": np.where(material, split.money[rows[chosen], cause[chosen]], 0.0),
        }
    )
    leads["rank"] = split.standing_rank[rows[chosen], cause[chosen]]
    leads["is_shock"] = is_shock
    leads["shock_money"] = shock_money
    leads = leads.sort_values(["row", "cause", "score"], ascending=[True, True, False])
    leads = leads.drop_duplicates(["row", "cause"])
    # a standing told by a change (transfers fell this year) is not the household's standing
    changed = np.isin(long["feature"].to_numpy(dtype=object)[leads["at"].to_numpy()], NOT_A_LEVEL)
    rank = np.where(changed, -1, leads["rank"].to_numpy())
    is_shock, material = leads["is_shock"].to_numpy(), leads["material"].to_numpy()
    leads["tier"] = np.where(is_shock, 0, np.where(rank >= 0, 1, np.where(material, 2, 3)))
    key = np.where(rank >= 0, -rank, leads["money"].to_numpy())
    leads["key"] = np.where(is_shock, leads["shock_money"].to_numpy(), key)
    leads = leads.sort_values(
        ["row", "tier", "key", "total", "cause"],
        ascending=[True, True, False, False, True],
        kind="mergesort",
    )
    order = leads.groupby("row", sort=False).cumcount().to_numpy() + 1
    keep = order <= n_reasons
    at = leads["at"].to_numpy()[keep]
    slots = np.zeros(len(long), dtype=np.int64)
    missing = np.ones(len(long), dtype=bool)
    slots[at] = order[keep]
    missing[at] = False
    long["reason_order"] = pd.arrays.IntegerArray(slots, missing)


def _phrase_leads(
    long: pd.DataFrame, features: pd.DataFrame, catalogue: Mapping[str, ReasonSpec]
) -> None:
    """A composite's reason says the part that moved: its sentence with the household's value.

    A reason whose cause comes from a shock the household's records show (``explained_by``: a
    wage fall in the year of a serious illness) names that shock first, then what it did:
    "近12个月有1名成员患大病，当月没有务工收入".
    """
    parts = long["_part"].to_numpy(dtype=object)
    vias = long["_via"].to_numpy(dtype=object)
    leads = np.flatnonzero(long["reason_order"].notna().to_numpy() & ((parts != "") | (vias != "")))
    if not len(leads):
        return
    sentences = long["reason_zh"].to_numpy(dtype=object).copy()
    households = long["household_id"].to_numpy(dtype=object)
    for at in leads:
        part, via = str(parts[at]), str(vias[at])
        if part:
            value = float(features.at[households[at], part])
            sentences[at] = reason_sentence(catalogue.get(part), value=value, text="", feature=part)
        if via:
            shock = float(features.at[households[at], via])
            said = reason_sentence(catalogue.get(via), value=shock, text="", feature=via)
            sentences[at] = f"{said}，{sentences[at]}"
    long["reason_zh"] = pd.array(sentences, dtype="str")


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


# --- evidence: the source records behind a reason ---------------------------------------------------

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
#: Per table: the column naming a record's kind, and its amount.
_KIND_COLUMN: Mapping[str, str] = {
    "medical": "visit_type",
    "events": "event_type",
    "assistance": "type",
    "employment": "work_location",
    "disability": "disability_type",
}
_AMOUNT_COLUMN: Mapping[str, str] = {
    "medical": "out_of_pocket",
    "events": "loss_amount",
    "assistance": "amount",
    "employment": "monthly_income",
}
#: Income part named by a feature (by a word in its name) and its Chinese label.
_INCOME_PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("wage", "工资性收入", ("wage_income",)),
    ("business", "经营净收入", ("business_income", "-business_expense")),
    ("property", "财产性收入", ("property_income",)),
    ("transfer", "转移性收入", ("transfer_income",)),
)
_NET_INCOME = (
    "家庭纯收入",
    (
        "wage_income",
        "business_income",
        "-business_expense",
        "property_income",
        "transfer_income",
    ),
)
_GRADES = {1: "一", 2: "二", 3: "三", 4: "四"}
#: Features of the employment feed that describe the as-of month: their evidence is a spell covering
#: it where there is one ("当月务工月收入1,220元": the spell paying it, not one that ended last year).
EMPLOYMENT_NOW: frozenset[str] = frozenset({"monthly_wage_now", "members_working_now"})
#: Tables whose records are described one by one (the others are named by file and rows only).
_DESCRIBED = ("medical", "events", "assistance", "employment", "disability", "income")


def evidence(
    long: pd.DataFrame,
    *,
    tables: Tables,
    as_of: pd.Period,
    catalogue: Mapping[str, ReasonSpec],
) -> pd.DataFrame:
    """For each main reason, the records behind it: ``source_records`` and ``evidence`` columns.

    The records are the household's records of the reason's feature (the part that moved, for a
    composite) in the feature's window (``..._12m``: the last 12 months, spells overlapping it;
    other features: every record up to `as_of`), only of the kinds the catalogue names (e.g.
    ``event_type`` 自然灾害). ``source_records`` names their file and rows; ``evidence`` describes the
    one that matters most — the largest amount, else the latest — with its month, amount, file and
    row, e.g. "2026年5月住院自付2.3万元（医保结算.csv 第1234行）". Other rows get empty strings.
    """
    out = pd.DataFrame({"source_records": "", "evidence": ""}, index=long.index, dtype=object)
    columns = ["household_id", "feature", "_part", *(["_via"] if "_via" in long else [])]
    reasons = long.loc[long["reason_order"].notna(), columns]
    if reasons.empty:
        return out
    said = reasons["_part"].where(reasons["_part"] != "", reasons["feature"]).astype(str)
    if "_via" in reasons:  # the shock that explains the reason is what its records must show
        said = reasons["_via"].where(reasons["_via"] != "", said).astype(str)
    keys = said.map(lambda f: _record_key(catalogue.get(f), f, tables))
    households = set(reasons["household_id"].astype(str))
    owned: dict[str, pd.DataFrame | None] = {}
    for key in sorted({k for k in keys if k is not None}):
        picked = reasons.loc[keys == key]
        if key[0] not in owned:
            owned[key[0]] = _household_rows(key[0], tables, households=households)
        named = _named_records(
            key,
            picked["household_id"],
            said.loc[picked.index],
            owned=owned[key[0]],
            as_of=as_of,
            file_name=tables.files.get(key[0], key[0]),
        )
        out.loc[named.index, ["source_records", "evidence"]] = named.to_numpy()
    return out


def source_records(
    long: pd.DataFrame,
    *,
    tables: Tables,
    as_of: pd.Period,
    catalogue: Mapping[str, ReasonSpec],
) -> pd.Series:
    """The ``source_records`` column of `evidence`: file and rows of each main reason's records."""
    return evidence(long, tables=tables, as_of=as_of, catalogue=catalogue)["source_records"]


def _record_key(
    spec: ReasonSpec | None, feature: str, tables: Tables
) -> tuple[str, str, tuple[str, ...], str] | None:
    """(table, filter column, filter values, income part) of a feature's records, or None."""
    records = getattr(spec, "records", None)
    if records is not None:
        table, column, values = records.table, records.column, tuple(records.values)
    else:
        table, column, values = _source_table(spec), "", ()
    if table is None or getattr(tables, table, None) is None:
        return None
    part = next((word for word, _, _ in _INCOME_PARTS if word in feature), "")
    return table, column, values, part if table == "income" else ""


def _source_table(spec: ReasonSpec | None) -> str | None:
    source = str(getattr(spec, "source", "") or "")
    return next((table for table in _SOURCE_TABLES if table in source), None)


def _window_months(feature: str) -> int | None:
    match = _WINDOW.search(feature)
    return int(match.group(1)) if match else None


def _named_records(
    key: tuple[str, str, tuple[str, ...], str],
    households: pd.Series,
    features: pd.Series,
    *,
    owned: pd.DataFrame | None,
    as_of: pd.Period,
    file_name: str,
) -> pd.DataFrame:
    """``source_records`` and ``evidence`` texts for reasons (index) reading one kind of record.

    `owned` holds the table's records of the explained households (`_household_rows`).
    """
    table, column, values, part = key
    texts = pd.DataFrame({"source_records": "", "evidence": ""}, index=households.index)
    if owned is None or owned.empty:
        return texts
    records = _dated_records(table, owned, column=column, part=part)
    if column:
        records = records.loc[records["filter"].isin(values)]
    windows = features.map(_window_months)
    low = np.iinfo(np.int64).min
    first = np.where(windows.isna(), low, as_of.ordinal - windows.fillna(0) + 1).astype(np.int64)
    wanted = pd.DataFrame(
        {"reason": households.index, "household_id": households.to_numpy(), "first": first}
    )
    joined = wanted.merge(records, on="household_id", how="inner")
    joined = joined.loc[(joined["start"] <= as_of.ordinal) & (joined["end"] >= joined["first"])]
    if joined.empty:
        return texts
    joined = joined.assign(
        shown=np.where(
            (joined["end"] <= as_of.ordinal) & (joined["end"] >= joined["first"]),
            joined["end"],
            joined["start"],
        )
        if table == "employment"
        else joined["start"]
    )
    rows = joined.sort_values(["reason", "source_row"], kind="mergesort")
    listed = rows.groupby("reason", sort=False)["source_row"].agg(list)
    texts.loc[listed.index, "source_records"] = [
        _name_rows(file_name, [int(r) for r in chunk]) for chunk in listed
    ]
    if table not in _DESCRIBED:
        texts.loc[listed.index, "evidence"] = texts.loc[listed.index, "source_records"]
        return texts
    if table == "employment":  # a feature of this month is shown by the spells covering it
        now = joined["reason"].map(features).isin(EMPLOYMENT_NOW).to_numpy()
        covering = (
            (joined["start"] <= as_of.ordinal) & (joined["end"] >= as_of.ordinal)
        ).to_numpy()
        joined = joined.assign(_now=~(now & covering))
    best = _most_telling(joined, table).groupby("reason", sort=False).head(1)
    counts = listed.map(len)
    texts.loc[best["reason"].to_numpy(), "evidence"] = [
        _describe(table, record, file_name=file_name, count=int(counts[record.reason]))
        for record in best.itertuples(index=False)
    ]
    return texts


def _most_telling(joined: pd.DataFrame, table: str) -> pd.DataFrame:
    """Records ordered so the first of each reason is the one to show."""
    amount = joined["amount"].fillna(0.0)
    if table in ("medical", "events"):  # the largest cost or loss, then the latest
        keys, ascending = ["reason", "_size", "shown", "source_row"], [True, False, False, True]
        return joined.assign(_size=amount).sort_values(keys, ascending=ascending, kind="mergesort")
    if table == "disability":  # the most severe certificate (一级 first), then the latest
        grade = pd.to_numeric(joined["detail"], errors="coerce").fillna(9.0)
        keys = ["reason", "_grade", "shown", "source_row"]
        return joined.assign(_grade=grade).sort_values(
            keys, ascending=[True, True, False, True], kind="mergesort"
        )
    if table == "employment" and "_now" in joined:  # this month's spells first, where asked for
        keys = ["reason", "_now", "shown", "source_row"]
        return joined.sort_values(keys, ascending=[True, True, False, True], kind="mergesort")
    keys, ascending = ["reason", "shown", "source_row"], [True, False, True]
    return joined.sort_values(keys, ascending=ascending, kind="mergesort")


def _describe(table: str, record: Any, *, file_name: str, count: int) -> str:
    """One record in words, with its file and row (and how many records there are in all)."""
    month = _month_text(int(record.shown))
    kind = str(record.kind or "")
    amount = float(record.amount) if pd.notna(record.amount) else math.nan
    if table == "medical":
        text = f"{month}{kind}自付{money(amount)}"
    elif table == "events":
        text = f"{month}{kind or '突发事件'}" + (f"，损失{money(amount)}" if amount > 0 else "")
    elif table == "assistance":
        text = f"{month}获{kind}{money(amount)}"
    elif table == "employment":
        ended = int(record.shown) == int(record.end)
        what = "务工结束" if ended else "开始务工"
        wage = f"，月收入{money(amount)}" if amount > 0 else ""
        text = f"{month}{what}（{kind or '务工'}{wage}）"
    elif table == "disability":
        grade = _GRADES.get(int(record.detail), "") if pd.notna(record.detail) else ""
        text = f"{month}办理残疾人证（{kind}{grade + '级' if grade else ''}）"
    else:  # income
        label = str(record.detail)
        text = (
            f"{month}{label}{money(amount)}"
            if amount >= 0
            else f"{month}{label}亏损{money(-amount)}"
        )
    more = f"，同期共{count}条记录" if count > 1 else ""
    return f"{text}（{file_name} 第{int(record.source_row)}行{more}）"


def money(amount: float) -> str:
    """Yuan in words a reviewer reads at a glance: "8,600元", "2.3万元".

    >>> money(8600.0), money(23400.0), money(120000.0), money(float("nan"))
    ('8,600元', '2.3万元', '12万元', '金额不详')
    """
    if math.isnan(amount) or math.isinf(amount):
        return "金额不详"
    if abs(amount) >= 10_000:
        return f"{amount / 10_000:.1f}".rstrip("0").rstrip(".") + "万元"
    return f"{amount:,.0f}元"


def _month_text(ordinal: int) -> str:
    period = pd.Period(ordinal=ordinal, freq="M")
    return f"{period.year}年{period.month}月"


def _household_rows(table: str, tables: Tables, *, households: set[str]) -> pd.DataFrame | None:
    """The table's rows of some households, with ``household_id`` (person tables joined to members)."""
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
    return frame.loc[_is_in(frame["household_id"], wanted)]


def _dated_records(
    table: str, frame: pd.DataFrame, *, column: str = "", part: str = ""
) -> pd.DataFrame:
    """``household_id, start, end, source_row, kind, amount, detail, filter`` of each record."""
    start, end = _record_months(table, frame)
    kind, amount, detail = _record_details(table, frame, part=part)
    records = pd.DataFrame(
        {
            "household_id": frame["household_id"].astype(str).to_numpy(),
            "start": start,
            "end": end,
            "source_row": frame["source_row"].to_numpy(dtype=np.int64),
            "kind": kind,
            "amount": amount,
            "detail": detail,
            "filter": _texts(frame, column) if column else "",
        }
    )
    return records.sort_values("source_row", kind="mergesort").reset_index(drop=True)


def _texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    return frame[column].astype(object).where(frame[column].notna(), "").astype(str).to_numpy()


def _record_details(
    table: str, frame: pd.DataFrame, *, part: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kind text, amount and a detail (grade, or the income part's label) of each record."""
    kind = _texts(frame, _KIND_COLUMN.get(table, ""))
    amount = np.full(len(frame), np.nan)
    detail: np.ndarray = np.full(len(frame), None, dtype=object)
    if table in _AMOUNT_COLUMN and _AMOUNT_COLUMN[table] in frame.columns:
        amount = pd.to_numeric(frame[_AMOUNT_COLUMN[table]], errors="coerce").to_numpy(dtype=float)
    if table == "disability" and "grade" in frame.columns:
        detail = pd.to_numeric(frame["grade"], errors="coerce").to_numpy(dtype=float)
    if table == "income":
        label, columns = next(
            ((lab, cols) for word, lab, cols in _INCOME_PARTS if word == part), _NET_INCOME
        )
        amount = np.zeros(len(frame))
        for name in columns:
            column = name.lstrip("-")
            if column in frame.columns:
                sign = -1.0 if name.startswith("-") else 1.0
                amount += (
                    sign * pd.to_numeric(frame[column], errors="coerce").fillna(0.0).to_numpy()
                )
        detail = np.full(len(frame), label, dtype=object)
    return kind, amount, detail


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
