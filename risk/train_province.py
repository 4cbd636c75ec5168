"""Training a province: ``risk train --data PROVINCE [--engine dask]`` (issue 14, item 3).

A province is a folder of county folders (`features.contract.province.county_folders`). Features are
built **per county**, from that county's own tables — the feed-coverage features count the months in
which the *county* has records, so the raw tables of several counties are never put into one feature
build. Every county is cut at the same as-of months (`province_split`: the latest first month of the
counties' feeds, the earliest export month), labelled, and its rows are what the model learns from.

**Local engine** (`prepare_province`): each county's labelled panel is built in turn, the panels are
concatenated, and `training.train.train_from_tables` runs exactly as for one county on those rows
(candidates, evaluation beside the baselines, refit, the champion gate). The rules baseline and the
groups read the counties' tables put side by side — both are per household (the rules' thresholds come
by county from the policy pack), so that gives each county's own figures (tests check it).

**Dask engine** (`train_province_dask`): the client holds no county's records.

1. Each county is loaded, validated and turned into its labelled panel *on a worker*, which keeps it
   (features, label, month, plus the department rules' score and the head's ethnicity group of the
   validation rows). The tables are released once the panel is built.
2. The tune households (early stopping, calibration) are drawn exactly as `training.train.inner_split`
   draws them, from the household ids the workers send (one id per household, not the panel).
3. The configuration is chosen by `training.train.select_configuration` on a **sample of counties**
   (whole counties, in name order, until `sample_rows` training rows) gathered to the client; the
   logistic baseline is fitted on the same sample. Only the tree candidates compete: a logistic
   regression cannot be fitted where the rows live.
4. The chosen configuration's trees grow with ``lightgbm.DaskLGBMClassifier`` on the training rows as
   the workers hold them (a ``dask.dataframe`` made from the panels' futures). LightGBM's Dask interface
   has no early stopping, so the **tree count** is decided as `RiskModel.fit(tree_trainer=...)` decides it
   for one county: the configuration's cap is grown, each worker adds up the log-loss of its tune rows
   after every tree, and the trees are cut where the summed held-out log-loss was lowest (same
   patience). This uses every tune row, not a sample, and it is the very rule of the local engine.
   The calibrator is fitted on the tune rows' raw scores (two numbers a row) sent back by the workers.
5. The validation rows are scored where they live; the client gathers, per row, the label, month,
   probabilities of the model and baselines, the rules' score, the income ratio and the group columns
   — and `training.train.evaluate_validation` judges them as for one county. The plain reference is a
   ``DaskLGBMClassifier`` with LightGBM's defaults on its aggregates, fitted on all training rows.
6. The registered model is the same procedure on every labelled month (`refit`), and the champion is
   compared on the same validation rows (`DaskChampion`): reused when its configuration equals the
   challenger's, else refitted on the cluster on the training months and scored on the workers.

Local and Dask results are close but not identical: LightGBM's distributed training builds its
histograms from the workers' own bins, so the trees differ slightly (tests compare the AUCs).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.build import build_panel
from features.contract.errors import DataContractError
from features.contract.io import load_directory
from features.contract.lines import MonitoringLines
from features.contract.province import CountyFolder
from features.contract.tables import Tables
from features.rules import RuleParams
from training import baselines
from training.calibration import choose_calibrator
from training.candidates import CANDIDATES, Configuration, describe_model
from training.evaluate import SHARES, score_metrics
from training.labels import build_labels
from training.model import RiskModel
from training.registry import file_fingerprints
from training.splits import OutOfTimeSplit, out_of_time_split
from training.train import (
    PreparedData,
    TrainingResult,
    TrainOptions,
    evaluate_validation,
    first_record_month,
    group_frame,
    inner_split,
    reported_params,
    rule_scores,
    same_configuration_metrics,
    select_configuration,
    shap_importance,
    tables_until,
    timed,
)

KEYS = ["household_id", "month"]
#: Columns a worker's panel carries for the evaluation only (never features).
RULE_SCORE = "eval:rule_score"
MINORITY_HEAD = "eval:minority_head"
EVALUATION_COLUMNS = (RULE_SCORE, MINORITY_HEAD)
#: Training rows of the sample counties gathered to the client for candidate selection.
SAMPLE_ROWS = 200_000
#: Validation rows gathered for the SHAP importance of evaluation.html.
SHAP_ROWS = 3000
Stage = Callable[[str], AbstractContextManager[Any]]


# ------------------------------------------------------------------------------ one county's rows
@dataclass(frozen=True)
class CountySpan:
    """What the province split needs of one county: its name, months and size."""

    name: str
    first_month: pd.Period
    export_month: pd.Period
    households: int


def county_span(name: str, tables: Tables) -> CountySpan:
    """The first month of the county's monthly feeds and its export month."""
    return CountySpan(
        name=name,
        first_month=first_record_month(tables),
        export_month=tables.export_month,
        households=len(tables.households),
    )


def province_split(spans: Sequence[CountySpan], *, options: TrainOptions) -> OutOfTimeSplit:
    """One out-of-time split for every county.

    The first as-of month needs `history` months of records in *every* county (the latest first month);
    the last known month is `--until`, else the earliest export month, so every county's records and
    outcomes are known up to it.

    Raises
    ------
    DataContractError
        When `--until` is after a county's export, or the months cannot hold a split.
    """
    until = options.until or min(s.export_month for s in spans)
    behind = [f"{s.name} ({s.export_month})" for s in spans if s.export_month < until]
    if behind:
        raise DataContractError(
            f"train: --until {until} is after the export month of {', '.join(behind)}; "
            "use an --until no later than every county's export"
        )
    try:
        return out_of_time_split(
            first_month=max(s.first_month for s in spans),
            until=until,
            horizon=options.horizon,
            valid_months=options.valid_months,
            history=options.history,
        )
    except ValueError as error:
        raise DataContractError(f"train: {error}") from error


def county_rows(
    tables: Tables,
    *,
    split: OutOfTimeSplit,
    lines: MonitoringLines,
    options: TrainOptions,
    extra_labels: pd.DataFrame | None = None,
    rule_params: RuleParams | None = None,
) -> pd.DataFrame:
    """One county's labelled panel on the split's labelled months, built from its own tables only.

    Returns ``household_id, month, label`` and the feature columns, like one county's training data.
    With `rule_params`, the validation rows also get `RULE_SCORE` and `MINORITY_HEAD` (NaN / missing on
    the other rows) — what the evaluation needs of the tables, taken while they are at hand.
    """
    if tables.outcomes is None:
        raise DataContractError(
            "outcomes (监测对象) is required for training: labels come from identifications"
        )
    known = tables_until(tables, split.until)
    months = list(split.labelled_months)
    panel = build_panel(known, months=months, lines=lines)
    labels = build_labels(
        known.outcomes,
        known.households["household_id"],
        months=months,
        horizon=options.horizon,
        known_until=split.until,
        extra=extra_labels,
    )
    rows = labels.merge(panel, on=KEYS, how="inner", validate="one_to_one")
    del panel
    if rule_params is not None:
        _add_evaluation_columns(rows, known, split=split, lines=lines, rule_params=rule_params)
    return rows


def _add_evaluation_columns(
    rows: pd.DataFrame,
    tables: Tables,
    *,
    split: OutOfTimeSplit,
    lines: MonitoringLines,
    rule_params: RuleParams,
) -> None:
    valid = rows["month"].isin(split.valid_months).to_numpy()
    score = np.full(len(rows), np.nan)
    head = pd.Series(pd.NA, index=rows.index, dtype="string")
    if valid.any():
        subset = rows.loc[valid].reset_index(drop=True)
        score[valid] = rule_scores(tables, subset, lines=lines, params=rule_params)
        groups = group_frame(subset, tables)
        if "minority_head" in groups:
            head.loc[valid] = groups["minority_head"].to_numpy()
    with warnings.catch_warnings():
        # the panel's columns are the feature sources' own arrays; consolidating would copy it
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        rows[RULE_SCORE] = score
        rows[MINORITY_HEAD] = head


def feature_columns_of(rows: pd.DataFrame) -> list[str]:
    """The feature columns of a county panel (everything but keys, label and evaluation columns)."""
    return [c for c in rows.columns if c not in (*KEYS, "label", *EVALUATION_COLUMNS)]


def check_unique_households(ids_by_county: Mapping[str, Sequence[str]]) -> None:
    """A household id in two counties is an error naming both folders (DATA_CONTRACT.md, Provinces)."""
    seen: dict[str, str] = {}
    for county, ids in ids_by_county.items():
        for household in ids:
            other = seen.setdefault(str(household), county)
            if other != county:
                raise DataContractError(
                    f"户编号 household_id {household!r} is in two counties: {other}/ and {county}/; "
                    "ids must be unique across the province"
                )


def concat_rows(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """County panels one under the other; categorical columns keep a category dtype (the union)."""
    data = pd.concat(list(parts), ignore_index=True)
    for column in parts[0].columns:
        if isinstance(parts[0][column].dtype, pd.CategoricalDtype):
            known = sorted({str(v) for p in parts for v in p[column].cat.categories})
            data[column] = pd.Categorical(data[column].astype("string"), categories=known)
    return data


def concat_tables(parts: Sequence[Tables], *, export_month: pd.Period) -> Tables:
    """The counties' tables side by side (for the rules baseline and the groups, never features)."""
    frames: dict[str, Any] = {}
    for name in ("households", "members", *_DATED):
        present = [getattr(t, name) for t in parts if getattr(t, name) is not None]
        frames[name] = pd.concat(present, ignore_index=True) if present else None
    return Tables(export_month=export_month, **frames)


_DATED = ("income", "medical", "disability", "employment", "assistance", "events", "outcomes")


# ------------------------------------------------------------------------------------ local engine
@dataclass
class ProvinceData:
    """The province's labelled rows (`prepared`), what each county gave, and the files read."""

    prepared: PreparedData
    counties: list[dict[str, Any]]
    files: dict[str, Path]


def prepare_province(
    counties: Sequence[CountyFolder],
    *,
    load: Callable[[Path], Tables],
    lines: MonitoringLines,
    options: TrainOptions,
    extra_labels: pd.DataFrame | None = None,
    stage: Stage | None = None,
) -> ProvinceData:
    """Every county's labelled panel from its own tables, concatenated and split (local engine).

    Parameters
    ----------
    counties
        The province's counties (`county_folders`).
    load
        Reads one county folder into `Tables` (validation included).
    lines, options, extra_labels
        As for `training.train.prepare_training_data`.
    stage
        Optional stage → context manager (progress display).

    Returns
    -------
    ProvinceData
        `prepared` goes to ``train_from_tables(..., prepared=...)``.
    """
    stage = stage or (lambda name: nullcontext())
    with stage(f"读取 {len(counties)} 个县 loading counties"):
        loaded = [(county, load(county.path)) for county in counties]
    split = province_split([county_span(c.name, t) for c, t in loaded], options=options)
    parts: list[pd.DataFrame] = []
    with stage("各县特征与标签 features and labels by county"):
        for _, tables in loaded:
            parts.append(
                county_rows(
                    tables, split=split, lines=lines, options=options, extra_labels=extra_labels
                )
            )
    check_unique_households(
        {c.name: t.households["household_id"].astype(str).tolist() for c, t in loaded}
    )
    data = concat_rows(parts)
    reports = [_county_report(c.name, t, p, split) for (c, t), p in zip(loaded, parts, strict=True)]
    del parts
    prepared = _prepared(data, split=split, options=options)
    prepared.tables = concat_tables([t for _, t in loaded], export_month=split.until)
    files = {
        f"{county.name}/{table}": county.path / file
        for county, tables in loaded
        for table, file in tables.files.items()
    }
    return ProvinceData(prepared=prepared, counties=reports, files=files)


def _prepared(data: pd.DataFrame, *, split: OutOfTimeSplit, options: TrainOptions) -> PreparedData:
    month = data["month"]
    train = data.loc[month.isin(split.train_months).to_numpy()].reset_index(drop=True)
    gap = data.loc[month.isin(split.gap_months).to_numpy()].reset_index(drop=True)
    valid = data.loc[month.isin(split.valid_months).to_numpy()].reset_index(drop=True)
    check_both_classes({"training": train["label"], "validation": valid["label"]})
    fit_rows, tune_rows = inner_split(train, options=options, train_months=split.train_months)
    empty = Tables(households=pd.DataFrame(), members=pd.DataFrame(), export_month=split.until)
    return PreparedData(
        empty, split, train, valid, feature_columns_of(data), fit_rows, tune_rows, gap=gap
    )


def check_both_classes(labels: Mapping[str, pd.Series]) -> None:
    """Training and validation months need identifications and non-identifications."""
    for name, label in labels.items():
        if len(label) == 0 or label.nunique() < 2:
            raise DataContractError(
                f"the {name} months have {len(label)} labelled rows and "
                f"{int(label.sum()) if len(label) else 0} identifications; both classes are "
                "needed — check that outcomes cover these months or use an earlier --until"
            )


def _county_report(
    name: str, tables: Tables, rows: pd.DataFrame, split: OutOfTimeSplit
) -> dict[str, Any]:
    month = rows["month"]
    return {
        "name": name,
        "households": int(len(tables.households)),
        "rows": int(len(rows)),
        "train_rows": int(month.isin(split.train_months).sum()),
        "valid_rows": int(month.isin(split.valid_months).sum()),
        "positives": int(rows["label"].sum()),
        "export_month": str(tables.export_month),
    }


def province_summary(
    counties: Sequence[Mapping[str, Any]], *, engine: str, split: OutOfTimeSplit
) -> dict[str, Any]:
    """evaluation.json's ``province`` entry: the counties used and how they were combined."""
    return {
        "engine": engine,
        "counties": list(counties),
        "n_counties": len(counties),
        "households": int(sum(c["households"] for c in counties)),
        "rows": int(sum(c["rows"] for c in counties)),
        "months": (
            f"one split for every county: as-of months from the latest first month of the counties' "
            f"feeds (+ history), known until the earliest export ({split.until})"
        ),
        "features": "built per county from its own tables, then the rows concatenated",
    }


# ------------------------------------------------------------------------- worker-side county tasks
def load_county_task(path: str, *, pseudonym_key: bytes) -> Tables:
    """Load and validate one county folder (runs on a worker)."""
    return load_directory(path, pseudonym_key=pseudonym_key).tables


def span_task(tables: Tables, *, name: str, path: str) -> dict[str, Any]:
    """The county's span and its files' fingerprints (runs on a worker: small result)."""
    files = {f"{name}/{table}": Path(path) / file for table, file in tables.files.items()}
    return {"span": county_span(name, tables), "fingerprints": file_fingerprints(files)}


def panel_task(
    tables: Tables,
    *,
    split: OutOfTimeSplit,
    lines: MonitoringLines,
    options: TrainOptions,
    rule_params: RuleParams,
    extra_labels: pd.DataFrame | None,
    check_policy: Callable[[Tables], None] | None = None,
) -> pd.DataFrame:
    """The county's labelled panel with the evaluation columns (runs on a worker, stays there)."""
    if check_policy is not None:
        check_policy(tables)
    return county_rows(
        tables,
        split=split,
        lines=lines,
        options=options,
        extra_labels=extra_labels,
        rule_params=rule_params,
    )


def ids_task(rows: pd.DataFrame, *, months: Sequence[pd.Period]) -> np.ndarray:
    """Sorted unique household ids of the rows in `months` (one id per household)."""
    chosen = rows.loc[rows["month"].isin(months).to_numpy(), "household_id"]
    return np.sort(chosen.astype(str).unique())


def summary_task(rows: pd.DataFrame, *, split: OutOfTimeSplit) -> dict[str, Any]:
    """Row counts and the categories of the categorical features (small)."""
    month = rows["month"]
    categories = {
        c: [str(v) for v in rows[c].cat.categories]
        for c in feature_columns_of(rows)
        if isinstance(rows[c].dtype, pd.CategoricalDtype)
    }
    return {
        "rows": int(len(rows)),
        "train_rows": int(month.isin(split.train_months).sum()),
        "valid_rows": int(month.isin(split.valid_months).sum()),
        "positives": int(rows["label"].sum()),
        "train_labels": sorted(
            int(v) for v in rows.loc[month.isin(split.train_months), "label"].unique()
        ),
        "valid_labels": sorted(
            int(v) for v in rows.loc[month.isin(split.valid_months), "label"].unique()
        ),
        "categories": categories,
    }


@dataclass(frozen=True)
class RowSelection:
    """Which rows of a county panel a fit uses: months, and tune households in or out."""

    months: tuple[pd.Period, ...]
    tune_months: tuple[pd.Period, ...]


def select_rows(
    rows: pd.DataFrame, tune_ids: np.ndarray, how: RowSelection, *, tune: bool
) -> pd.DataFrame:
    """Fit rows (households not tuned, every month) or tune rows (tuned households, recent months)."""
    in_tune = rows["household_id"].astype(str).isin(set(tune_ids)).to_numpy()
    if tune:
        keep = in_tune & rows["month"].isin(how.tune_months).to_numpy()
    else:
        keep = ~in_tune & rows["month"].isin(how.months).to_numpy()
    return rows.loc[keep]


def booster_matrix(
    rows: pd.DataFrame,
    *,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    unused: Sequence[str] = (),
) -> pd.DataFrame:
    """What the booster sees, as `RiskModel.transform_features` makes it (float64; fixed categories).

    Features in `unused` are set to missing, as `RiskModel` masks features it may not split on.
    """
    out: dict[str, Any] = {}
    for name in columns:
        if name in categories:
            text = rows[name].astype("string")
            text = text.where(text.isin(list(categories[name])))
            values = text.to_numpy(dtype=object, na_value=None)
            if name in unused:
                values = np.full(len(rows), None, dtype=object)
            out[name] = pd.Categorical(values, categories=list(categories[name]))
        else:
            numeric = pd.to_numeric(rows[name], errors="raise").to_numpy(dtype=np.float64)
            out[name] = np.full(len(rows), np.nan) if name in unused else numeric
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))


def fit_part_task(
    rows: pd.DataFrame,
    *,
    tune_ids: np.ndarray,
    how: RowSelection,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
    unused: Sequence[str],
) -> pd.DataFrame:
    """The county's fit rows as the booster sees them, with ``label`` (a partition of the Dask fit)."""
    chosen = select_rows(rows, tune_ids, how, tune=False)
    matrix = booster_matrix(chosen, columns=columns, categories=categories, unused=unused)
    matrix["label"] = chosen["label"].to_numpy(dtype=np.int64)
    return matrix


def plain_part_task(
    rows: pd.DataFrame, *, months: Sequence[pd.Period], columns: Sequence[str]
) -> pd.DataFrame:
    """The plain reference's rows: its aggregates as float, with ``label``."""
    chosen = rows.loc[rows["month"].isin(months).to_numpy()]
    matrix = chosen[list(columns)].astype(float).reset_index(drop=True)
    matrix["label"] = chosen["label"].to_numpy(dtype=np.int64)
    return matrix


def tune_loss_task(
    rows: pd.DataFrame,
    booster: lgb.Booster,
    *,
    tune_ids: np.ndarray,
    how: RowSelection,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> tuple[np.ndarray, int]:
    """Summed log-loss of the county's tune rows after each tree (trees × 1), and the row count."""
    chosen = select_rows(rows, tune_ids, how, tune=True)
    losses = np.zeros(booster.num_trees())
    if not len(chosen):
        return losses, 0
    matrix = booster_matrix(chosen, columns=columns, categories=categories)
    y = chosen["label"].to_numpy(dtype=float)
    raw = np.zeros(len(chosen))
    for k in range(booster.num_trees()):
        raw += booster.predict(matrix, raw_score=True, start_iteration=k, num_iteration=1)
        p = np.clip(1.0 / (1.0 + np.exp(-raw)), 1e-15, 1 - 1e-15)
        losses[k] = float(-np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return losses, len(chosen)


def tune_raw_task(
    rows: pd.DataFrame,
    booster: lgb.Booster,
    *,
    tune_ids: np.ndarray,
    how: RowSelection,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> pd.DataFrame:
    """The tune rows' raw scores and labels (two numbers a row), for the calibrator."""
    chosen = select_rows(rows, tune_ids, how, tune=True)
    matrix = booster_matrix(chosen, columns=columns, categories=categories)
    raw = booster.predict(matrix, raw_score=True) if len(chosen) else np.zeros(0)
    return pd.DataFrame(
        {"raw": np.asarray(raw, dtype=float), "label": chosen["label"].to_numpy(dtype=np.int8)}
    )


def validation_task(
    rows: pd.DataFrame,
    *,
    months: Sequence[pd.Period],
    scorers: Mapping[str, Any],
) -> pd.DataFrame:
    """The validation rows, scored here: label, month, each scorer's probability, rules, groups."""
    valid = rows.loc[rows["month"].isin(months).to_numpy()].reset_index(drop=True)
    columns = feature_columns_of(valid)
    out = pd.DataFrame({"month": valid["month"], "label": valid["label"].to_numpy(dtype=np.int8)})
    for name, scorer in scorers.items():
        out[name] = _score(name, scorer, valid[columns])
    out["rules"] = valid[RULE_SCORE].fillna(0.0).to_numpy(dtype=float)
    out["income_ratio_value"] = pd.to_numeric(
        valid[baselines.INCOME_RATIO_FEATURE], errors="coerce"
    ).to_numpy(dtype=float)
    groups = group_frame(valid, None)
    groups["minority_head"] = valid[MINORITY_HEAD].astype("string").fillna("未知").to_numpy()
    for column in groups.columns:
        out[f"group:{column}"] = pd.Categorical(groups[column].astype(str))
    return out


def _score(name: str, scorer: Any, features: pd.DataFrame) -> np.ndarray:
    if name == "plain_reference":
        return baselines.predict_plain_reference(scorer, features)
    if name == "logistic":
        return baselines.predict_logistic(scorer, features)
    return np.asarray(scorer.predict_proba(features)[:, 1], dtype=float)


def sample_rows_task(
    rows: pd.DataFrame, *, months: Sequence[pd.Period], n: int, seed: int
) -> pd.DataFrame:
    """At most `n` rows of `months` with keys and features (for SHAP importance and the signature)."""
    chosen = rows.loc[rows["month"].isin(months).to_numpy(), [*KEYS, *feature_columns_of(rows)]]
    return chosen.sample(min(n, len(chosen)), random_state=seed) if len(chosen) else chosen


def train_rows_task(rows: pd.DataFrame, *, months: Sequence[pd.Period]) -> pd.DataFrame:
    """The county's rows of `months` without the evaluation columns (a sample county, gathered)."""
    chosen = rows.loc[rows["month"].isin(months).to_numpy()]
    return chosen.drop(columns=[c for c in EVALUATION_COLUMNS if c in chosen])


# -------------------------------------------------------------------------------------- Dask engine
@dataclass
class ClusterPanels:
    """The counties' labelled panels as futures on the workers, and what the client knows of them."""

    client: Any
    names: list[str]
    panels: list[Any]
    split: OutOfTimeSplit
    columns: list[str]
    categories: dict[str, list[str]]
    summaries: list[dict[str, Any]]

    def map(
        self,
        task: Callable[..., Any],
        *args: Any,
        each: Sequence[Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> list[Any]:
        """One task per county panel, on the worker that holds it."""
        extra = each if each is not None else [{}] * len(self.panels)
        return [
            self.client.submit(task, panel, *args, **common, **own, pure=False)
            for panel, own in zip(self.panels, extra, strict=True)
        ]

    def gather(self, futures: Sequence[Any]) -> list[Any]:
        """Small results, on the client."""
        return list(self.client.gather(list(futures)))

    def share(self, value: Any) -> Any:
        """`value` sent once to every worker."""
        return self.client.scatter(value, broadcast=True, hash=False)


@dataclass(frozen=True)
class PanelInputs:
    """What a worker needs to turn a county folder into its labelled panel (the Dask engine).

    Attributes
    ----------
    pseudonym_key
        Key of the county files' pseudonymised ids.
    lines, rule_params, options, extra_labels
        As for the local engine (`prepare_province`).
    check_policy
        Run on each county's tables on its worker before its features (the policy figures).
    """

    pseudonym_key: bytes
    lines: MonitoringLines
    rule_params: RuleParams
    options: TrainOptions
    extra_labels: pd.DataFrame | None = None
    check_policy: Callable[[Tables], None] | None = None


def build_cluster_panels(
    client: Any, counties: Sequence[CountyFolder], inputs: PanelInputs
) -> tuple[ClusterPanels, dict[str, str]]:
    """Each county loaded and turned into its labelled panel on a worker; the fingerprints of its files."""
    pseudonym_key, options = inputs.pseudonym_key, inputs.options
    loaded = [
        client.submit(load_county_task, str(c.path), pseudonym_key=pseudonym_key, pure=False)
        for c in counties
    ]
    spans = client.gather(
        [
            client.submit(span_task, t, name=c.name, path=str(c.path), pure=False)
            for c, t in zip(counties, loaded, strict=True)
        ]
    )
    split = province_split([s["span"] for s in spans], options=options)
    panels = [
        client.submit(
            panel_task,
            t,
            split=split,
            lines=inputs.lines,
            options=options,
            rule_params=inputs.rule_params,
            extra_labels=inputs.extra_labels,
            check_policy=inputs.check_policy,
            pure=False,
        )
        for t in loaded
    ]
    del loaded  # the tables are released once their panels exist
    summaries = client.gather(
        [client.submit(summary_task, p, split=split, pure=False) for p in panels]
    )
    _check_classes(summaries)
    categories: dict[str, list[str]] = {}
    for summary in summaries:
        for name, values in summary.pop("categories").items():
            categories[name] = sorted({*categories.get(name, []), *values})
    reports = [_cluster_report(s, span["span"]) for s, span in zip(summaries, spans, strict=True)]
    columns = client.gather(client.submit(_columns_task, panels[0], pure=False))
    fingerprints = {k: v for s in spans for k, v in s["fingerprints"].items()}
    names = [c.name for c in counties]
    cluster = ClusterPanels(client, names, panels, split, columns, categories, reports)
    return cluster, fingerprints


def _cluster_report(summary: Mapping[str, Any], span: CountySpan) -> dict[str, Any]:
    """evaluation.json's entry for one county, as the local engine's `_county_report` words it."""
    return {
        "name": span.name,
        "households": span.households,
        **{k: summary[k] for k in ("rows", "train_rows", "valid_rows", "positives")},
        "export_month": str(span.export_month),
    }


def _columns_task(rows: pd.DataFrame) -> list[str]:
    return feature_columns_of(rows)


def _check_classes(summaries: Sequence[Mapping[str, Any]]) -> None:
    for part, key in (("training", "train_labels"), ("validation", "valid_labels")):
        labels = {v for s in summaries for v in s[key]}
        rows = sum(s["train_rows" if part == "training" else "valid_rows"] for s in summaries)
        if labels != {0, 1}:
            positives = "some" if 1 in labels else "0"
            raise DataContractError(
                f"the {part} months have {rows} labelled rows and {positives} identifications; both "
                "classes are needed — check that outcomes cover these months or use an earlier --until"
            )


def tune_ids_by_county(
    cluster: ClusterPanels, *, months: Sequence[pd.Period], options: TrainOptions
) -> list[np.ndarray]:
    """The tune households of each county, drawn as `training.train.inner_split` draws them.

    The workers send their households' ids (one per household); the draw runs over all of them.
    """
    ids = cluster.gather(cluster.map(ids_task, months=list(months)))
    check_unique_households(dict(zip(cluster.names, ids, strict=True)))
    every = np.concatenate(ids) if ids else np.zeros(0, dtype=str)
    frame = pd.DataFrame({"household_id": every, "month": months[-1]})
    _, tune_rows = inner_split(frame, options=options, train_months=list(months))
    tuned = set(every[tune_rows])
    return [np.asarray([h for h in county if h in tuned], dtype=object) for county in ids]


def lightgbm_setup(
    configuration: Configuration, columns: Sequence[str]
) -> tuple[RiskModel, dict[str, Any], list[str]]:
    """The unfitted model, its LightGBM parameters (monotone constraints in column order) and the
    features it may not split on — what `RiskModel._train_booster` passes to LightGBM."""
    model = configuration.build()
    if not isinstance(model, RiskModel):
        raise DataContractError(
            f"--engine dask grows trees only; configuration {configuration.name!r} is "
            f"{configuration.estimator}"
        )
    monotone = {
        n: int(s) for n, s in (model.monotone or {}).items() if n in columns and int(s) != 0
    }
    params = model.lightgbm_params()
    params["monotone_constraints"] = [monotone.get(n, 0) for n in columns]
    wanted = set(model.features) if model.features is not None else set(columns)
    return model, params, [c for c in columns if c not in wanted]


def fit_on_cluster(
    cluster: ClusterPanels,
    configuration: Configuration,
    *,
    months: Sequence[pd.Period],
    options: TrainOptions,
    fit: Callable[..., Any] | None = None,
) -> tuple[RiskModel, dict[str, Any]]:
    """`configuration` fitted where the rows live, as `training.candidates.fit_configuration` fits it.

    Fit rows: every row in `months` of the households not tuned; tune rows: the tuned households' rows in
    the last `tune_months` of `months`. The cap of trees grows on the cluster, is cut where the tune
    rows' log-loss is lowest, and the calibrator is fitted on the tune rows' raw scores.
    """
    from risk.engine_dask import train_dask  # noqa: PLC0415

    how = RowSelection(tuple(months), tuple(list(months)[-options.tune_months :]))
    tune_ids = tune_ids_by_county(cluster, months=months, options=options)
    model, params, unused = lightgbm_setup(configuration, cluster.columns)
    shape = {"columns": cluster.columns, "categories": cluster.categories}
    parts = cluster.map(
        fit_part_task, each=[{"tune_ids": t} for t in tune_ids], how=how, unused=unused, **shape
    )
    n_fit = sum(cluster.gather([cluster.client.submit(len, part) for part in parts]))
    features, labels = _dask_frame(parts, meta=_fit_meta(cluster))
    options_dask = {k: v for k, v in params.items() if k not in {"num_threads", "verbosity"}}
    grown = train_dask(
        features, labels, params=options_dask, n_estimators=model.n_estimators,
        client=cluster.client, fit=fit,
    )  # fmt: skip
    shared = cluster.share(grown)
    each = [{"tune_ids": t} for t in tune_ids]
    results = cluster.gather(cluster.map(tune_loss_task, shared, each=each, how=how, **shape))
    total = np.sum([losses for losses, _ in results], axis=0)
    n_tune = int(sum(n for _, n in results))
    kept = best_iteration(total / max(n_tune, 1), patience=model.early_stopping_rounds)
    booster = lgb.Booster(model_str=grown.model_to_string(num_iteration=kept))
    shared = cluster.share(booster)
    tuned = pd.concat(
        cluster.gather(cluster.map(tune_raw_task, shared, each=each, how=how, **shape))
    )
    fitted = assemble_model(
        model, booster, tuned["raw"].to_numpy(), tuned["label"].to_numpy(dtype=int),
        columns=cluster.columns, categories=cluster.categories,
    )  # fmt: skip
    info = {
        "n_rows": n_fit,
        "n_tune": n_tune,
        "trees_grown": int(grown.num_trees()),
        "trees_kept": kept,
    }
    return fitted, info


def _fit_meta(cluster: ClusterPanels) -> pd.DataFrame:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cluster.columns})
    meta = booster_matrix(empty, columns=cluster.columns, categories=cluster.categories)
    meta["label"] = np.zeros(0, dtype=np.int64)
    return meta


def _dask_frame(parts: Sequence[Any], *, meta: pd.DataFrame) -> tuple[Any, Any]:
    """Features and labels as ``dask.dataframe`` over the worker-held parts (nothing moves)."""
    import dask.dataframe as dd  # noqa: PLC0415

    frame = dd.from_delayed(list(parts), meta=meta, verify_meta=False)
    return frame.drop(columns=["label"]), frame["label"]


def best_iteration(mean_loss: np.ndarray, *, patience: int) -> int:
    """Trees to keep: where the held-out log-loss was lowest, stopping `patience` trees after it.

    The rule of `RiskModel.fit(tree_trainer=...)`, on a loss curve summed over the workers.

    Examples
    --------
    >>> best_iteration(np.array([0.5, 0.4, 0.3, 0.35, 0.36, 0.2]), patience=2)
    3
    """
    best, best_loss = 1, np.inf
    for k, loss in enumerate(mean_loss):
        if loss < best_loss:
            best, best_loss = k + 1, float(loss)
        elif k + 1 - best >= patience:
            break
    return best


def assemble_model(
    model: RiskModel,
    booster: lgb.Booster,
    raw: np.ndarray,
    y: np.ndarray,
    *,
    columns: Sequence[str],
    categories: Mapping[str, Sequence[str]],
) -> RiskModel:
    """A fitted `RiskModel` around trees grown elsewhere and a calibrator fitted on tune rows' scores.

    `RiskModel.fit` runs on two placeholder rows whose dtypes carry the province's categories (so the
    feature names, categories and constraints are learned as in a local fit, and the model scores and
    explains as any other); its trees, tree count and calibrator are then those of the cluster fit.
    """
    schema = booster_matrix(
        pd.DataFrame({c: [None, None] for c in columns}), columns=columns, categories=categories
    )
    labels = np.array([0, 1])
    model.fit(schema, labels, eval_set=(schema, labels), tree_trainer=lambda *a, **k: booster)
    model.booster_ = booster
    model.best_iteration_ = int(booster.num_trees())
    model.calibrator_, model.calibration_losses_ = choose_calibrator(
        raw, y, random_state=model.random_state
    )
    return model


def fit_plain_reference_on_cluster(
    cluster: ClusterPanels, *, months: Sequence[pd.Period], options: TrainOptions
) -> lgb.LGBMClassifier:
    """The plain reference (LightGBM defaults on its aggregates) fitted on every training row."""
    import lightgbm as lgb_dask  # noqa: PLC0415

    columns = baselines.plain_reference_columns(cluster.columns)
    parts = cluster.map(plain_part_task, months=list(months), columns=columns)
    meta = pd.DataFrame({c: np.zeros(0) for c in columns})
    meta["label"] = np.zeros(0, dtype=np.int64)
    features, labels = _dask_frame(parts, meta=meta)
    model = lgb_dask.DaskLGBMClassifier(
        client=cluster.client, random_state=options.random_state, deterministic=True,
        force_row_wise=True, verbose=-1,
    )  # fmt: skip
    model.fit(features, labels)
    return model.to_local()


def gather_sample(cluster: ClusterPanels, *, rows: int) -> tuple[pd.DataFrame, list[str]]:
    """Whole counties in name order until `rows` training rows: their training rows, gathered."""
    chosen, total = [], 0
    for i, summary in enumerate(cluster.summaries):
        chosen.append(i)
        total += summary["train_rows"]
        if total >= rows:
            break
    months = list(cluster.split.train_months)
    futures = [
        cluster.client.submit(train_rows_task, cluster.panels[i], months=months, pure=False)
        for i in chosen
    ]
    frame = concat_rows(cluster.gather(futures))
    return frame, [cluster.names[i] for i in chosen]


def choose_on_sample(
    sample: pd.DataFrame, *, split: OutOfTimeSplit, options: TrainOptions
) -> tuple[Configuration, dict[str, Any]]:
    """`select_configuration` among the tree candidates on the sample counties' training rows."""
    trees = tuple(c.name for c in CANDIDATES if c.estimator == "RiskModel")
    names = tuple(n for n in (options.candidates or trees) if n in trees) or trees
    tree_options = replace(options, candidates=names)
    fit_rows, tune_rows = inner_split(sample, options=options, train_months=split.train_months)
    empty = Tables(households=pd.DataFrame(), members=pd.DataFrame(), export_month=split.until)
    prepared = PreparedData(
        empty, split, sample, sample.iloc[:0], feature_columns_of(sample), fit_rows, tune_rows
    )
    return select_configuration(prepared, options=tree_options)


def score_validation(
    cluster: ClusterPanels, scorers: Mapping[str, Any], *, options: TrainOptions
) -> pd.DataFrame:
    """Every validation row scored on its worker; the small per-row results gathered."""
    shared = {name: cluster.share(scorer) for name, scorer in scorers.items()}
    months = list(cluster.split.valid_months)
    parts = cluster.gather(cluster.map(validation_task, months=months, scorers=shared))
    validation = _concat_small(parts)
    ratio = validation.pop("income_ratio_value")
    validation["income_ratio"] = baselines.income_ratio_score(
        pd.DataFrame({baselines.INCOME_RATIO_FEATURE: ratio})
    )
    return validation


def _concat_small(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    frame = pd.concat(list(parts), ignore_index=True)
    for column in frame.columns:
        if column.startswith("group:"):
            frame[column] = frame[column].astype(str)
    return frame


@dataclass
class DaskChampion:
    """`train_and_register`'s champion scorer when the rows live on the cluster (see `champion_metrics`)."""

    cluster: ClusterPanels
    options: TrainOptions

    def __call__(self, champion: Any, result: TrainingResult) -> dict[str, Any]:
        shares = sorted({*SHARES, self.options.operating_share})
        y = result.validation["label"].to_numpy()
        split = result.evaluation.get("split", {})
        stored = getattr(champion, "configuration", None)
        if stored is not None and result.configuration is not None:
            configuration = Configuration.from_dict(stored)
            same = same_configuration_metrics(configuration, result)
            if same is not None:
                return same
            model, _ = fit_on_cluster(
                self.cluster,
                configuration,
                months=self.cluster.split.train_months,
                options=self.options,
            )
            method = (
                f"the champion's configuration ({configuration.name!r}) refitted on the cluster on "
                f"{split.get('train')}, the challenger's training rows, and scored on the same "
                "validation rows"
            )
        else:
            model, method = (
                champion.model,
                (
                    "scored as registered: the champion was registered without a stored configuration; "
                    f"it may have been fitted on {split.get('valid')} itself (in-sample)"
                ),
            )
        scored = score_validation(self.cluster, {"model": model}, options=self.options)
        metrics = score_metrics(
            y,
            scored["model"].to_numpy(),
            calibrated=True,
            shares=shares,
            seed=self.options.random_state,
        )
        metrics["method"] = method
        if stored is not None:
            metrics["configuration"] = Configuration.from_dict(stored).name
        return metrics


def train_province_dask(
    client: Any,
    counties: Sequence[CountyFolder],
    inputs: PanelInputs,
    *,
    sample_rows: int | None = None,
    progress: Stage | None = None,
) -> tuple[TrainingResult, DaskChampion, dict[str, str]]:
    """Train on a province whose counties are loaded, featured and fitted on the workers.

    Parameters
    ----------
    client
        A connected ``distributed.Client`` (`risk.engine_dask.dask_client`).
    counties
        The province's counties (`county_folders`); their paths must be readable by the workers.
    inputs
        The key, lines, rules, options, extra labels and policy check each worker uses
        (`PanelInputs`).
    sample_rows
        Training rows of the sample counties gathered for choosing the configuration and fitting the
        logistic baseline (default `SAMPLE_ROWS`).
    progress
        Optional stage → context manager.

    Returns
    -------
    (TrainingResult, DaskChampion, fingerprints)
        The result for `train_and_register` (its `validation` holds the small per-row results, its
        `valid_features` a sample of rows), the champion scorer to pass it, the files' sha256.
    """
    stage = progress or (lambda name: nullcontext())
    timings: dict[str, float] = {}
    options = inputs.options
    with stage("各县特征与标签（在工作节点） panels on the workers"), timed(timings, "panels"):
        cluster, fingerprints = build_cluster_panels(client, counties, inputs)
    split = cluster.split
    with stage("candidates (sample counties)"), timed(timings, "candidates"):
        rows = SAMPLE_ROWS if sample_rows is None else sample_rows
        sample, sample_names = gather_sample(cluster, rows=rows)
        configuration, candidates = choose_on_sample(sample, split=split, options=options)
        columns = feature_columns_of(sample)
        logistic = baselines.fit_logistic(
            sample[columns], sample["label"].to_numpy(), random_state=options.random_state
        )
        n_sample = len(sample)
        del sample
    candidates["sample"] = {"counties": sample_names, "rows": n_sample}
    with stage(f"model ({configuration.name}, DaskLGBMClassifier)"), timed(timings, "model"):
        model, fit_info = fit_on_cluster(
            cluster, configuration, months=split.train_months, options=options
        )
    with stage("baselines"), timed(timings, "baselines"):
        plain = fit_plain_reference_on_cluster(cluster, months=split.train_months, options=options)
    with stage("evaluation"), timed(timings, "evaluation"):
        scorers = {"model": model, "logistic": logistic, "plain_reference": plain}
        validation = score_validation(cluster, scorers, options=options)
        groups = validation[[c for c in validation.columns if c.startswith("group:")]]
        groups = groups.rename(columns=lambda c: c.removeprefix("group:"))
        evaluation = evaluate_validation(validation, options=options, groups=groups)
    with stage("refit on every labelled month"), timed(timings, "refit"):
        registered, refit_info = fit_on_cluster(
            cluster, configuration, months=split.labelled_months, options=options
        )
    sample_valid = pd.concat(
        cluster.gather(
            cluster.map(sample_rows_task, months=list(split.valid_months),
                        n=max(1, SHAP_ROWS // len(cluster.panels)), seed=options.random_state)
        ),
        ignore_index=True,
    )  # fmt: skip
    evaluation |= dask_model_report(
        model, configuration, candidates, split=split, options=options,
        fit_info=fit_info, refit_info=refit_info, registered=registered,
    )  # fmt: skip
    evaluation["baselines_fitted_on"] = {
        "logistic": f"the sample counties' training rows ({', '.join(sample_names)}; {n_sample} rows)",
        "plain_reference": "every training row, DaskLGBMClassifier with LightGBM's defaults",
        "rules": "each county's department rules, computed on its worker",
    }
    evaluation["province"] = province_summary(cluster.summaries, engine="dask", split=split)
    evaluation["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    importance = shap_importance(
        registered, sample_valid[columns], random_state=options.random_state
    )
    result = TrainingResult(
        model=registered,
        evaluation=evaluation,
        validation=validation,
        valid_features=sample_valid,
        split=split,
        timings=timings,
        shap_importance=importance,
        configuration=configuration,
        evaluated_model=model,
        prepared=None,
    )
    return result, DaskChampion(cluster, options), fingerprints


def dask_model_report(
    model: RiskModel,
    configuration: Configuration,
    candidates: dict[str, Any],
    *,
    split: OutOfTimeSplit,
    options: TrainOptions,
    fit_info: Mapping[str, Any],
    refit_info: Mapping[str, Any],
    registered: RiskModel,
) -> dict[str, Any]:
    """evaluation.json's description of the configuration, the evaluation fit and the refit."""
    spans = split.describe()
    shape = describe_model(model)
    tree_rule = (
        "DaskLGBMClassifier grew the configuration's cap of trees; they were cut where the summed "
        f"log-loss of the tune rows (a held-out {options.tune_fraction:.0%} of households, last "
        f"{options.tune_months} months) was lowest, patience {model.early_stopping_rounds} — the rule "
        "of RiskModel's tree_trainer path"
    )
    tune_months = list(split.labelled_months)[-options.tune_months :]
    return {
        "n_train": int(fit_info["n_rows"]),
        "n_tune": int(fit_info["n_tune"]),
        "split": spans,
        "metrics_of": (
            f"the evaluation fit: candidate {configuration.name!r} fitted on the cluster on the "
            f"training months {spans['train']} only, scored out of time on {spans['valid']}. The "
            "registered model is the same configuration refitted on every labelled month."
        ),
        "candidates": candidates,
        "configuration": configuration.to_dict(),
        "model_params": reported_params(configuration),
        "model_shape": {k: v for k, v in shape.items() if k != "calibration"},
        "calibration": shape["calibration"],
        "tree_count": tree_rule,
        "evaluated_model": {"fitted_on": spans["train"], **dict(fit_info), **shape},
        "registered_model": {
            "refit": True,
            "candidate": configuration.name,
            "fitted_on": spans["labelled"],
            "tuned_on": f"{tune_months[0]}..{tune_months[-1]}",
            **dict(refit_info),
            **describe_model(registered),
        },
    }
