"""Training orchestration: tables → panel → labels → out-of-time split → model, baselines, evaluation.

`train_from_tables` does the modelling on contract tables and returns everything the report needs;
`train_and_register` adds the champion comparison, MLflow logging and the evaluation files;
`train_from_table` is the same machinery on any household-level table a user brings.
Configuration arrives as plain values (the CLI reads `risk.toml`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from features.build import build_panel
from features.catalogue import CATALOGUE
from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.rules import RuleParams, department_rules
from training import baselines
from training.evaluate import SHARES, group_metrics, score_metrics, share_key, top_share
from training.labels import build_labels
from training.model import RiskModel
from training.splits import OutOfTimeSplit, out_of_time_split

KEYS = ["household_id", "month"]
#: Stage name → context manager factory (the CLI passes rich progress; tests pass nothing).
Progress = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class TrainOptions:
    """Plain values that steer a training run (from `risk.toml` and the command line).

    Attributes
    ----------
    horizon, valid_months
        Label horizon and how many of the newest usable as-of months validate.
    until
        The last known month (None: the export month).
    operating_share
        Share of households warned (the capacity), e.g. 0.05 for the top 5%; the gate and the group
        metrics use it.
    history
        Months of records required before an as-of month is used.
    tune_fraction, tune_months
        Households (share) whose rows in the last `tune_months` training months are held out for
        early stopping and calibration; their other rows are not used for fitting either.
    compare_monotone
        Also fit the model without monotone constraints and report both.
    model_params
        RiskModel parameters overriding the defaults.
    tree_trainer
        Where the trees grow (`RiskModel.fit`'s `tree_trainer`): None for this machine, or
        `risk.engine_dask.dask_tree_trainer(...)` for a Dask cluster (``--engine dask``).
    """

    horizon: int = 6
    valid_months: int = 3
    until: pd.Period | None = None
    operating_share: float = 0.05
    history: int = 6
    tune_fraction: float = 0.2
    tune_months: int = 6
    compare_monotone: bool = False
    random_state: int = 0
    n_jobs: int = 2
    model_params: Mapping[str, Any] = field(default_factory=dict)
    tree_trainer: Callable[..., Any] | None = None


@dataclass
class TrainingResult:
    """What a run produced: the model, the evaluation and the validation rows' scores."""

    model: RiskModel
    evaluation: dict[str, Any]
    validation: pd.DataFrame  # household_id, month, label, score per scorer, group columns
    valid_features: pd.DataFrame
    split: OutOfTimeSplit | None
    timings: dict[str, float]
    shap_importance: pd.Series


def monotone_constraints() -> dict[str, int]:
    """Feature → sign from the catalogue (`FeatureSpec.monotone`), zeros left out."""
    return {spec.name: int(spec.monotone) for spec in CATALOGUE if int(spec.monotone) != 0}


# --------------------------------------------------------------------------- panel mode
def train_from_tables(
    tables: Tables,
    *,
    lines: MonitoringLines,
    rule_params: RuleParams,
    options: TrainOptions,
    truth: pd.DataFrame | None = None,
    extra_labels: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> TrainingResult:
    """Fit the model on the training months and evaluate it and every baseline on the validation months.

    Parameters
    ----------
    tables
        Loaded contract tables; `outcomes` is required.
    lines, rule_params
        Monitoring lines and department-rule thresholds.
    options
        See `TrainOptions`.
    truth
        The simulator's hidden truth (`household_id, month, p_true`), for the oracle row.
    extra_labels
        Further identifications (`household_id, identified_month`), e.g. reviewer confirmations.
    progress
        Optional stage → context manager (progress display).
    """
    stage = progress or (lambda name: nullcontext())
    timings: dict[str, float] = {}
    prepared = prepare_training_data(
        tables,
        lines=lines,
        options=options,
        extra_labels=extra_labels,
        stage=stage,
        timings=timings,
    )
    tables, split, feature_columns = prepared.tables, prepared.split, prepared.feature_columns
    train, valid = prepared.train, prepared.valid
    fit_rows, tune_rows = prepared.fit_rows, prepared.tune_rows
    with stage("model"), _timed(timings, "model"):
        model = fit_model(train, fit_rows, tune_rows, feature_columns, options, monotone=True)
    result_scores = {"model": model.predict_proba(valid[feature_columns])[:, 1]}
    extra: dict[str, Any] = {}
    if options.compare_monotone:
        with stage("model without monotone constraints"), _timed(timings, "model_unconstrained"):
            free = fit_model(train, fit_rows, tune_rows, feature_columns, options, monotone=False)
        extra["monotone"] = _monotone_comparison(model, free, valid, feature_columns, options)
    with stage("baselines"), _timed(timings, "baselines"):
        scores = _baseline_scores(
            tables,
            train,
            valid,
            feature_columns,
            lines=lines,
            rule_params=rule_params,
            options=options,
        )
    with stage("evaluation"), _timed(timings, "evaluation"):
        validation = valid[[*KEYS, "label"]].copy()
        validation["model"] = result_scores["model"]
        for name, values in scores.items():
            validation[name] = values
        if truth is not None:
            validation["oracle"] = _oracle(valid, truth)
        groups = group_frame(valid, tables)
        for column in groups.columns:
            validation[f"group:{column}"] = groups[column].to_numpy()
        evaluation = evaluate_validation(validation, options=options, groups=groups)
        evaluation.update(extra)
        evaluation["n_train"] = int(len(fit_rows))
        evaluation["n_tune"] = int(len(tune_rows))
        evaluation["split"] = split.describe()
        evaluation["model_params"] = model.get_params() | {
            "monotone": sorted(model.monotone_constraints_)
        }
        evaluation["model_shape"] = {
            "trees": model.best_iteration_,
            "num_leaves": model.num_leaves,
            "max_depth": model.max_depth,
        }
        evaluation["calibration"] = {
            "method": model.calibrator_.method,
            "cv_log_loss": model.calibration_losses_,
        }
        importance = shap_importance(
            model, valid[feature_columns], random_state=options.random_state
        )
    evaluation["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    return TrainingResult(
        model=model,
        evaluation=evaluation,
        validation=validation,
        valid_features=valid[[*KEYS, *feature_columns]],
        split=split,
        timings=timings,
        shap_importance=importance,
    )


@dataclass
class PreparedData:
    """Labelled feature rows split out of time, plus the fit/tune rows inside the training months."""

    tables: Tables  # as known at `until`
    split: OutOfTimeSplit
    train: pd.DataFrame
    valid: pd.DataFrame
    feature_columns: list[str]
    fit_rows: np.ndarray
    tune_rows: np.ndarray


def prepare_training_data(
    tables: Tables,
    *,
    lines: MonitoringLines,
    options: TrainOptions,
    extra_labels: pd.DataFrame | None = None,
    stage: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> PreparedData:
    """Build the panel once for every training and validation month, label it and split it."""
    stage = stage or (lambda name: nullcontext())
    timings = {} if timings is None else timings
    if tables.outcomes is None:
        raise DataContractError(
            "outcomes (监测对象) is required for training: labels come from identifications"
        )
    until = options.until or tables.export_month
    tables = tables_until(tables, until)
    split = out_of_time_split(
        first_month=first_record_month(tables),
        until=until,
        horizon=options.horizon,
        valid_months=options.valid_months,
        history=options.history,
    )
    months = list(split.train_months) + list(split.valid_months)
    with stage("features"), _timed(timings, "features"):
        panel = build_panel(tables, months=months, lines=lines)
    with stage("labels"), _timed(timings, "labels"):
        labels = build_labels(
            tables.outcomes,
            tables.households["household_id"],
            months=months,
            horizon=options.horizon,
            known_until=until,
            extra=extra_labels,
        )
        data = labels.merge(panel, on=KEYS, how="inner", validate="one_to_one")
        del panel
    feature_columns = [c for c in data.columns if c not in (*KEYS, "label")]
    is_valid = data["month"].isin(split.valid_months).to_numpy()
    train = data.loc[~is_valid].reset_index(drop=True)
    valid = data.loc[is_valid].reset_index(drop=True)
    _check_rows(train, valid)
    fit_rows, tune_rows = inner_split(train, options=options, train_months=split.train_months)
    return PreparedData(tables, split, train, valid, feature_columns, fit_rows, tune_rows)


def inner_split(
    train: pd.DataFrame, *, options: TrainOptions, train_months: Sequence[pd.Period]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on and rows to tune on (early stopping, calibration), with no household on both sides.

    A random `tune_fraction` of households is set aside: their rows in the last `tune_months`
    training months tune the model; none of their rows are fitted. Everything else is fitted.
    """
    households = np.sort(train["household_id"].unique())
    rng = np.random.default_rng(options.random_state)
    tuned = rng.random(len(households)) < options.tune_fraction
    tune_households = households[tuned]
    in_tune_group = train["household_id"].isin(tune_households).to_numpy()
    tune_months = list(train_months)[-options.tune_months :]
    recent = train["month"].isin(tune_months).to_numpy()
    return np.flatnonzero(~in_tune_group), np.flatnonzero(in_tune_group & recent)


def fit_model(
    train: pd.DataFrame,
    fit_rows: np.ndarray,
    tune_rows: np.ndarray,
    feature_columns: list[str],
    options: TrainOptions,
    *,
    monotone: bool,
) -> RiskModel:
    params = {
        "random_state": options.random_state,
        "n_jobs": options.n_jobs,
        **options.model_params,
    }
    params["monotone"] = monotone_constraints() if monotone else None
    X = train[feature_columns]
    y = train["label"].to_numpy()
    return RiskModel(**params).fit(
        X.iloc[fit_rows],
        y[fit_rows],
        eval_set=(X.iloc[tune_rows], y[tune_rows]),
        tree_trainer=options.tree_trainer,
    )


def _monotone_comparison(
    model: RiskModel,
    free: RiskModel,
    valid: pd.DataFrame,
    columns: list[str],
    options: TrainOptions,
) -> dict[str, Any]:
    y = valid["label"].to_numpy()
    out: dict[str, Any] = {
        "constrained_features": {k: v for k, v in sorted(model.monotone_constraints_.items())}
    }
    for name, fitted in (("with_constraints", model), ("without_constraints", free)):
        metrics = score_metrics(
            y,
            fitted.predict_proba(valid[columns])[:, 1],
            calibrated=True,
            seed=options.random_state,
        )
        out[name] = {
            "auc": metrics["auc"],
            "recall_at": metrics["recall_at"],
            "ece": metrics["ece"],
            "trees": fitted.best_iteration_,
        }
    return out


def _baseline_scores(
    tables: Tables,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    columns: list[str],
    *,
    lines: MonitoringLines,
    rule_params: RuleParams,
    options: TrainOptions,
) -> dict[str, np.ndarray]:
    y = train["label"].to_numpy()
    scores: dict[str, np.ndarray] = {
        "rules": rule_scores(tables, valid, lines=lines, params=rule_params)
    }
    logistic = baselines.fit_logistic(train[columns], y, random_state=options.random_state)
    scores["logistic"] = baselines.predict_logistic(logistic, valid[columns])
    scores["income_ratio"] = baselines.income_ratio_score(valid)
    plain = baselines.fit_plain_reference(
        train[columns], y, random_state=options.random_state, n_jobs=options.n_jobs
    )
    scores["plain_reference"] = baselines.predict_plain_reference(plain, valid)
    return scores


def rule_scores(
    tables: Tables, rows: pd.DataFrame, *, lines: MonitoringLines, params: RuleParams
) -> np.ndarray:
    """The department rules' `rule_score` for each (household, month) row."""
    parts = []
    for month in sorted(rows["month"].unique()):
        rules = department_rules(tables, as_of=month, params=params, lines=lines)
        parts.append(
            pd.DataFrame(
                {
                    "household_id": rules.index.astype(str),
                    "month": month,
                    "rule_score": rules["rule_score"].to_numpy(),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    table["month"] = table["month"].astype("period[M]")
    merged = rows[KEYS].merge(table, on=KEYS, how="left")
    return merged["rule_score"].fillna(0.0).to_numpy(dtype=float)


def _oracle(valid: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    truth = truth[["household_id", "month", "p_true"]].copy()
    truth["household_id"] = truth["household_id"].astype(str)
    truth["month"] = _to_period(truth["month"])
    merged = valid[KEYS].merge(truth, on=KEYS, how="left")
    return merged["p_true"].to_numpy(dtype=float)


def group_frame(valid: pd.DataFrame, tables: Tables | None) -> pd.DataFrame:
    """Group membership of each validation row: county, type, elderly head, disabled member, minority head."""
    groups = pd.DataFrame(index=valid.index)
    if "county" in valid:
        groups["county"] = valid["county"].astype(str)
    if "household_type" in valid:
        groups["household_type"] = valid["household_type"].astype(str)
    if "head_age" in valid:
        groups["elderly_head"] = np.where(
            valid["head_age"].isna(),
            "未知",
            np.where(valid["head_age"] >= 65, "户主≥65岁", "户主<65岁"),
        )
    if "disabled_members" in valid:
        groups["disabled_member"] = np.where(
            valid["disabled_members"].fillna(0) > 0, "有残疾成员", "无残疾成员"
        )
    if tables is not None and "ethnicity" in tables.members:
        heads = tables.members.loc[
            tables.members["relation"] == "户主", ["household_id", "ethnicity"]
        ]
        ethnicity = heads.drop_duplicates("household_id").set_index("household_id")["ethnicity"]
        value = valid["household_id"].map(ethnicity)
        groups["minority_head"] = np.where(
            value.isna() | (value.astype(str).str.strip() == ""),
            "未知",
            np.where(value.astype(str) == "汉族", "汉族户主", "少数民族户主"),
        )
    return groups


def evaluate_validation(
    validation: pd.DataFrame, *, options: TrainOptions, groups: pd.DataFrame | None
) -> dict[str, Any]:
    """evaluation.json's metric part: the model's metrics, baselines, oracle, groups."""
    y = validation["label"].to_numpy()
    seed = options.random_state
    evaluation = score_metrics(y, validation["model"].to_numpy(), calibrated=True, seed=seed)
    evaluation["n_valid"] = int(len(y))
    evaluation["positive_rate"] = float(y.mean())
    evaluation["operating_point"] = {
        "share": options.operating_share,
        "key": share_key(options.operating_share),
    }
    shares = sorted({*SHARES, options.operating_share})
    evaluation["precision_at"] = {}
    evaluation["recall_at"] = {}
    extended = score_metrics(
        y, validation["model"].to_numpy(), calibrated=True, shares=shares, seed=seed
    )
    evaluation["precision_at"], evaluation["recall_at"] = (
        extended["precision_at"],
        extended["recall_at"],
    )
    evaluation["baselines"] = {
        name: score_metrics(
            y,
            validation[name].to_numpy(),
            calibrated=name in ("logistic", "plain_reference"),
            shares=shares,
            seed=seed,
        )
        for name in ("rules", "logistic", "income_ratio", "plain_reference")
        if name in validation
    }
    if "oracle" in validation:
        known = validation["oracle"].notna().to_numpy()
        oracle = score_metrics(
            y[known],
            validation.loc[known, "oracle"].to_numpy(),
            calibrated=True,
            shares=shares,
            seed=seed,
        )
        oracle["rows_matched"] = int(known.sum())
        evaluation["oracle"] = oracle
    if groups is not None and len(groups.columns):
        flagged = _flag_by_month(validation, options.operating_share, seed=seed)
        evaluation["groups"] = group_metrics(y, flagged, groups.reset_index(drop=True), seed=seed)
    else:
        evaluation["groups"] = {}
    return evaluation


def _flag_by_month(validation: pd.DataFrame, share: float, *, seed: int) -> np.ndarray:
    """The operating point: each month's top `share` of households by the model's probability."""
    flagged = np.zeros(len(validation), dtype=bool)
    if "month" not in validation:
        return top_share(validation["model"].to_numpy(), share, seed=seed)
    for _, rows in validation.groupby("month", sort=True).indices.items():
        flagged[rows] = top_share(validation["model"].to_numpy()[rows], share, seed=seed)
    return flagged


def shap_importance(
    model: RiskModel, X: pd.DataFrame, *, rows: int = 3000, random_state: int = 0
) -> pd.Series:
    """Mean |TreeSHAP contribution| per feature (log-odds) on a sample of validation rows."""
    sample = X.sample(min(rows, len(X)), random_state=random_state) if len(X) else X
    if not len(sample):
        return pd.Series(dtype=float)
    contributions = model.predict_contributions(sample)[:, :-1]
    return pd.Series(
        np.abs(contributions).mean(axis=0), index=list(model.feature_names_in_)
    ).sort_values(ascending=False)


# --------------------------------------------------------------------------- champion + registry
def champion_metrics(
    champion_model: RiskModel, result: TrainingResult, *, options: TrainOptions
) -> dict[str, Any]:
    """Re-score the champion on exactly the new validation rows (same metrics as the new model)."""
    features = result.valid_features.drop(columns=KEYS)
    probability = champion_model.predict_proba(features)[:, 1]
    shares = sorted({*SHARES, options.operating_share})
    y = result.validation["label"].to_numpy()
    return score_metrics(y, probability, calibrated=True, shares=shares, seed=options.random_state)


def train_and_register(
    result: TrainingResult,
    *,
    registry: Any,
    options: TrainOptions,
    out_dir: Path,
    fingerprints: Mapping[str, str],
    write_files: Callable[[dict[str, Any], Path], Sequence[Path]],
) -> dict[str, Any]:
    """Compare with the champion on the same rows, log and register, apply the gate, write the files.

    Returns the final evaluation (with `model_version`, `champion`, `promotion`).
    """
    from training.model import ModelMismatchError  # noqa: PLC0415
    from training.registry import promotion_gate  # noqa: PLC0415

    evaluation = result.evaluation
    share = share_key(options.operating_share)
    champion = registry.champion()
    champion_info: dict[str, Any] | None = None
    if champion is not None:
        try:
            champion_info = champion_metrics(champion.model, result, options=options)
            champion_info["version"] = champion.version
        except ModelMismatchError as error:
            champion_info = {"version": champion.version, "error": str(error)}
    if champion_info is None or "error" in champion_info:
        decision = promotion_gate(evaluation, None, share=share)
        if champion_info is not None:
            decision = replace(
                decision,
                reason=f"the champion (version {champion_info['version']}) cannot score the current features: {champion_info['error']}",
            )
    else:
        decision = promotion_gate(evaluation, champion_info, share=share)
    evaluation["champion"] = champion_info
    evaluation["promotion"] = {
        "promoted": decision.promote,
        "reason": decision.reason,
        "compared_on": evaluation.get("split", {}).get("valid"),
    }

    def write_outputs(version: str, run_id: str) -> Sequence[Path]:
        evaluation["model_version"] = version
        evaluation["run_id"] = run_id
        return write_files(evaluation, out_dir)

    metrics = flat_metrics(evaluation)
    params = {
        **{f"model.{k}": v for k, v in result.model.get_params().items() if k != "monotone"},
        "horizon": options.horizon,
        "valid_months": options.valid_months,
        "until": evaluation.get("split", {}).get("until"),
        "operating_share": options.operating_share,
        "monotone_features": ",".join(sorted(result.model.monotone_constraints_)),
    }
    tags = {
        "fanpin.until": str(evaluation.get("split", {}).get("until")),
        "fanpin.valid": str(evaluation.get("split", {}).get("valid")),
    }
    registered = registry.log_and_register(
        result.model,
        params=params,
        metrics=metrics,
        fingerprints=fingerprints,
        tags=tags,
        signature_frame=result.valid_features.drop(columns=KEYS),
        write_outputs=write_outputs,
        decide=lambda: decision,
    )
    evaluation["model_uri"] = registered.model_uri
    return evaluation


def flat_metrics(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """Scalar metrics for MLflow: model and each baseline/oracle, shares flattened."""
    out: dict[str, float] = {}

    def add(prefix: str, metrics: Mapping[str, Any]) -> None:
        for key in ("auc", "pr_auc", "brier", "ece"):
            if metrics.get(key) is not None:
                out[f"{prefix}{key}"] = float(metrics[key])
        for kind in ("precision_at", "recall_at"):
            for share, value in (metrics.get(kind) or {}).items():
                out[f"{prefix}{kind}_{share}"] = float(value)

    add("", evaluation)
    for name, metrics in (evaluation.get("baselines") or {}).items():
        add(f"{name}.", metrics)
    for name in ("oracle", "champion"):
        if evaluation.get(name) and "auc" in evaluation[name]:
            add(f"{name}.", evaluation[name])
    for key in ("n_train", "n_valid", "positive_rate"):
        if key in evaluation:
            out[key] = float(evaluation[key])
    return out


# --------------------------------------------------------------------------- table mode
@dataclass
class TableResult:
    model: RiskModel
    evaluation: dict[str, Any]
    predictions: pd.DataFrame  # id, label, probability (out of fold / out of time)
    features: pd.DataFrame  # the feature columns as the model sees them (for the signature)


def train_from_table(
    frame: pd.DataFrame,
    *,
    id_column: str,
    label_column: str,
    time_column: str | None = None,
    folds: int = 5,
    valid_share: float = 0.2,
    operating_share: float = 0.05,
    random_state: int = 0,
    n_jobs: int = 2,
    model_params: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> TableResult:
    """The same estimator, calibration and metrics on a user's household-level table.

    Without `time_column`: stratified `folds`-fold cross-validation; every row gets an out-of-fold
    probability. With it: the newest `valid_share` of time values validate, older rows fit.
    The logistic baseline is judged on the same rows. The returned model is refitted on all rows.
    """
    stage = progress or (lambda name: nullcontext())
    table = _check_table(
        frame, id_column=id_column, label_column=label_column, time_column=time_column
    )
    y = table.pop(label_column).to_numpy(dtype=int)
    ids = table.pop(id_column)
    times = table.pop(time_column) if time_column else None
    features = table
    params = {"random_state": random_state, "n_jobs": n_jobs, **(model_params or {})}
    probability = np.full(len(y), np.nan)
    logistic = np.full(len(y), np.nan)
    with stage("cross-validation" if times is None else "out-of-time validation"):
        for fit_rows, test_rows in _table_splits(
            y, times, folds=folds, valid_share=valid_share, random_state=random_state
        ):
            model = RiskModel(**params).fit(features.iloc[fit_rows], y[fit_rows])
            probability[test_rows] = model.predict_proba(features.iloc[test_rows])[:, 1]
            pipeline = baselines.fit_logistic(
                features.iloc[fit_rows], y[fit_rows], random_state=random_state
            )
            logistic[test_rows] = baselines.predict_logistic(pipeline, features.iloc[test_rows])
    scored = ~np.isnan(probability)
    shares = sorted({*SHARES, operating_share})
    evaluation = score_metrics(
        y[scored], probability[scored], calibrated=True, shares=shares, seed=random_state
    )
    evaluation["baselines"] = {
        "logistic": score_metrics(
            y[scored], logistic[scored], calibrated=True, shares=shares, seed=random_state
        )
    }
    evaluation["n_valid"] = int(scored.sum())
    evaluation["n_train"] = (
        int(len(y) - scored.sum()) if times is not None else int(len(y) * (folds - 1) / folds)
    )
    evaluation["positive_rate"] = float(y[scored].mean())
    evaluation["validation"] = (
        "out-of-time" if times is not None else f"stratified {folds}-fold cross-validation"
    )
    evaluation["groups"] = {}
    with stage("final model"):
        final = RiskModel(**params).fit(features, y)
    evaluation["model_version"] = None
    predictions = (
        pd.DataFrame({"id": ids.to_numpy(), "label": y, "probability": probability})
        .loc[scored]
        .reset_index(drop=True)
    )
    return TableResult(
        model=final, evaluation=evaluation, predictions=predictions, features=features
    )


def _check_table(
    frame: pd.DataFrame, *, id_column: str, label_column: str, time_column: str | None
) -> pd.DataFrame:
    needed = [c for c in (id_column, label_column, time_column) if c]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataContractError(
            f"table: column(s) {missing} not found; columns are {list(frame.columns)[:20]}"
        )
    labels = pd.to_numeric(frame[label_column], errors="coerce")
    bad = frame.index[labels.isna() | ~labels.isin([0, 1])]
    if len(bad):
        row = int(bad[0]) + 2
        raise DataContractError(
            f"table: column {label_column!r} must be 0 or 1; row {row} has {str(frame.loc[bad[0], label_column])!r}"
        )
    if labels.nunique() < 2:
        raise DataContractError(
            f"table: column {label_column!r} has only one class; need both 0 and 1"
        )
    table = frame.copy()
    table[label_column] = labels.astype(int)
    for column in table.columns:
        if column in needed:
            continue
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column].dtype):
            numeric = pd.to_numeric(table[column], errors="coerce")
            if numeric.notna().sum() == table[column].notna().sum():
                table[column] = numeric
            else:
                table[column] = table[column].astype("category")
        elif pd.api.types.is_bool_dtype(table[column].dtype):
            table[column] = table[column].astype(float)
    return table


def _table_splits(
    y: np.ndarray, times: pd.Series | None, *, folds: int, valid_share: float, random_state: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if times is None:
        yield from StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state).split(
            np.zeros(len(y)), y
        )
        return
    order = pd.Series(times).rank(method="dense").to_numpy()
    distinct = np.unique(order)
    cut = distinct[max(int(np.floor(len(distinct) * (1 - valid_share))) - 1, 0)]
    yield np.flatnonzero(order <= cut), np.flatnonzero(order > cut)


# --------------------------------------------------------------------------- helpers
def tables_until(tables: Tables, until: pd.Period) -> Tables:
    """The tables as known at the end of `until`: dated records after it are dropped."""
    changes: dict[str, Any] = {}
    date_columns = {
        "income": "month",
        "medical": "settle_date",
        "disability": "certified_date",
        "assistance": "month",
        "events": "date",
        "employment": "start_month",
        "outcomes": "identified_month",
    }
    for name, column in date_columns.items():
        frame = getattr(tables, name)
        if frame is None or column not in frame:
            continue
        months = _to_period(frame[column])
        kept = frame.loc[(months <= until).to_numpy() | months.isna().to_numpy()].copy()
        if name == "employment" and "end_month" in kept:
            ended = _to_period(kept["end_month"])
            kept.loc[(ended > until).to_numpy(), "end_month"] = pd.NaT
        if name == "outcomes" and "eliminated_month" in kept:
            eliminated = _to_period(kept["eliminated_month"])
            kept.loc[(eliminated > until).to_numpy(), "eliminated_month"] = pd.NaT
        changes[name] = kept
    return tables.replace(**changes)


def first_record_month(tables: Tables) -> pd.Period:
    """The first month of the monthly feeds (income, else claims and payments).

    Spells and events can start years before the feeds do (an employment spell begun in 2015), so
    they do not move the start: as-of months before the monthly feeds begin would be rows of
    missing values.
    """
    for sources in (
        (("income", "month"),),
        (("medical", "settle_date"), ("assistance", "month")),
        (("employment", "start_month"), ("events", "date")),
    ):
        candidates = []
        for name, column in sources:
            frame = getattr(tables, name)
            if frame is not None and len(frame) and column in frame:
                months = _to_period(frame[column]).dropna()
                if len(months):
                    candidates.append(months.min())
        if candidates:
            return min(candidates)
    raise DataContractError("no dated records (income, medical, …): nothing to learn from")


def _to_period(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.PeriodDtype):
        return values
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.to_period("M")
    return pd.to_datetime(values.astype("string"), errors="coerce").dt.to_period("M")


def _check_rows(train: pd.DataFrame, valid: pd.DataFrame) -> None:
    for name, frame in (("training", train), ("validation", valid)):
        if frame.empty or frame["label"].nunique() < 2:
            raise DataContractError(
                f"the {name} months have {len(frame)} labelled rows and "
                f"{int(frame['label'].sum()) if len(frame) else 0} identifications; both classes are "
                "needed — check that outcomes cover these months or use an earlier --until"
            )


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - start


def write_json(evaluation: Mapping[str, Any], path: Path) -> Path:
    """evaluation.json, UTF-8, stable key order, NaN written as null."""
    path.write_text(
        json.dumps(_jsonable(evaluation), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Period):
        return str(value)
    return value
