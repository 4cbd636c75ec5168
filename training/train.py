"""Training orchestration: tables → panel → labels → out-of-time split → candidates → model → registry.

`train_from_tables` does the modelling on contract tables and returns everything the report needs:

1. **choose** a configuration among the declared candidates (`training.candidates`) on an inner
   out-of-time split of the training months, with its own label gap (`training.splits.selection_split`),
   or — when the history is too short for that (a county's first year and a half) — by household folds
   within the training months (`training.splits.household_folds`): the choice never sees the reported
   validation months;
2. **evaluate** it out of time: fit on the training months, score the validation months beside the
   baselines, the oracle and by group — these are the reported metrics;
3. **refit** the same configuration on every labelled as-of month up to the last whose label window has
   closed (training + gap + validation months) — *that* model is registered and scores. A county's
   newest year is what it needs most.

How the tree count and calibration carry over to the refit: they are **re-derived, the same way as in
the evaluation fit, one step later in time**. A random `tune_fraction` of households is set aside; their
rows in the last `tune_months` labelled months (the validation months and the end of the gap) stop the
trees early and fit the calibrator; every row of the other households is fitted. So the registered model
is made by exactly the procedure whose out-of-time performance is reported, and the calibrator is fitted
on the freshest rows no tree has seen — the base rate of the months about to be scored. Scaling the
evaluation fit's tree count by the row count was the alternative; it assumes the best count grows with
rows in a known way, and it would still leave the calibrator without unseen recent rows.

A fit can weight its rows by recency (`TrainOptions.recency_half_life`, `recency_weights`: a row's
weight halves every so many months back from the newest month of that fit). It is off by default:
on ten simulated counties of five kinds a 12-month half-life changed AUC by −0.0003 and recall at
10 % by +0.0004 on average, each within seed noise and costing up to 0.013 recall on one county
(docs/model.md).

`train_and_register` adds the champion comparison (configurations refitted on the same months, not a
refitted champion re-scored in-sample), MLflow logging and the evaluation files; `train_from_table` is
the same machinery on any household-level table a user brings, choosing by cross-validation.
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
from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.rules import RuleParams, department_rules
from training import baselines
from training.candidates import (
    CRITERION,
    DEFAULT_CANDIDATE,
    Configuration,
    candidates_named,
    choose,
    configure,
    describe_model,
    dominated,
    fit_configuration,
    monotone_constraints,
)
from training.evaluate import SHARES, group_metrics, score_metrics, share_key, top_share
from training.labels import build_labels
from training.model import RiskModel
from training.splits import (
    OutOfTimeSplit,
    household_folds,
    out_of_time_split,
    selection_split,
)

KEYS = ["household_id", "month"]
#: Stage name → context manager factory (the CLI passes rich progress; tests pass nothing).
Progress = Callable[[str], AbstractContextManager[Any]]


@dataclass(frozen=True)
class TrainOptions:
    """Plain values that steer a training run (from `risk.toml` and the command line).

    Attributes
    ----------
    horizon, valid_months
        Label horizon and how many of the newest usable as-of months validate (the candidate
        selection inside the training months validates on as many).
    until
        The last known month (None: the export month).
    operating_share
        Share of households warned (the capacity), e.g. 0.05 for the top 5%; the gate, the
        candidate criterion and the group metrics use it.
    history
        Months of records required before an as-of month is used.
    tune_fraction, tune_months
        Households (share) whose rows in the last `tune_months` months of a fit's months are held out
        for early stopping and calibration; their other rows are not used for fitting either.
    compare_monotone
        Also fit the chosen configuration without monotone constraints and report both.
    model_params
        Parameters applied over every tree candidate's own (tests use it for small, fast trees).
    candidates
        Names of the candidates to try (None: the whole table of `training.candidates`). With one
        name, nothing is chosen.
    selection_min_months
        Fewest training months the out-of-time selection split must leave to fit on; with fewer,
        candidates are judged by household folds within the training months (`selection_folds`).
    selection_folds
        Household folds for that short-history selection; candidates far behind after the first
        fold stop there (`training.candidates.dominated`). With 2 folds each fit sees half the
        households, which favoured the smaller shapes (on ten simulated counties 2 folds chose
        differently from 3 on 8 and lost 0.0008 AUC on average; docs/model.md).
    selection_rows
        At most about this many training rows are used for that selection: whole households drawn
        at random (`selection_sample`) when there are more. The candidates' shapes differ by
        thousandths of recall, which a county of a few thousand households already separates from
        the clearly weaker ones; more rows cost time, not a better choice. None uses every row.
    recency_half_life
        Months over which a fitted row's weight halves, counted back from the newest month of the
        fit (`recency_weights`); 12 makes last year's rows count half as much as this month's. None
        (the default) weights every month alike. Tune rows (early stopping, calibration) are never
        weighted.
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
    candidates: tuple[str, ...] | None = None
    selection_min_months: int = 3
    selection_folds: int = 3
    selection_rows: int | None = 60_000
    recency_half_life: float | None = None
    tree_trainer: Callable[..., Any] | None = None


@dataclass
class TrainingResult:
    """What a run produced.

    `model` is the registered model (the chosen configuration refitted on every labelled month);
    `evaluated_model` is the same configuration fitted on the training months only, whose scores of
    the validation months are in `validation["model"]` and whose metrics the evaluation reports.
    """

    model: Any
    evaluation: dict[str, Any]
    validation: pd.DataFrame  # household_id, month, label, score per scorer, group columns
    valid_features: pd.DataFrame
    split: OutOfTimeSplit | None
    timings: dict[str, float]
    shap_importance: pd.Series
    configuration: Configuration | None = None
    evaluated_model: Any = None
    prepared: PreparedData | None = None


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
    prepared: PreparedData | None = None,
) -> TrainingResult:
    """Choose a candidate, evaluate it out of time beside the baselines, refit it on every labelled month.

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
    prepared
        Labelled rows already built and split (a province's counties, `risk.train_province`); the
        panel is then not built from `tables`, which only the rules baseline and the groups read.

    Returns
    -------
    TrainingResult
        The reported metrics are those of the evaluation fit (training months only), scored on the
        validation months; `evaluation["registered_model"]` says what the registered model was
        fitted on.
    """
    stage = progress or (lambda name: nullcontext())
    timings: dict[str, float] = {}
    if prepared is None:
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
    with stage("candidates"), timed(timings, "candidates"):
        configuration, candidates = select_configuration(prepared, options=options)
    with stage(f"model ({configuration.name})"), timed(timings, "model"):
        model = fit_configuration(
            configuration,
            train[feature_columns],
            train["label"].to_numpy(),
            prepared.fit_rows,
            prepared.tune_rows,
            tree_trainer=options.tree_trainer,
            sample_weight=recency_weights(train["month"], half_life=options.recency_half_life),
        )
    extra: dict[str, Any] = {}
    if options.compare_monotone and configuration.params.get("monotone"):
        with stage("model without monotone constraints"), timed(timings, "model_unconstrained"):
            free = fit_configuration(
                replace(configuration, params={**configuration.params, "monotone": None}),
                train[feature_columns],
                train["label"].to_numpy(),
                prepared.fit_rows,
                prepared.tune_rows,
                tree_trainer=options.tree_trainer,
                sample_weight=recency_weights(train["month"], half_life=options.recency_half_life),
            )
        extra["monotone"] = _monotone_comparison(model, free, valid, feature_columns, options)
    with stage("baselines"), timed(timings, "baselines"):
        scores = _baseline_scores(
            tables,
            train,
            valid,
            feature_columns,
            lines=lines,
            rule_params=rule_params,
            options=options,
        )
    with stage("evaluation"), timed(timings, "evaluation"):
        validation = valid[[*KEYS, "label"]].copy()
        validation["model"] = model.predict_proba(valid[feature_columns])[:, 1]
        for name, values in scores.items():
            validation[name] = values
        if truth is not None:
            validation["oracle"] = _oracle(valid, truth)
        groups = group_frame(valid, tables)
        for column in groups.columns:
            validation[f"group:{column}"] = groups[column].to_numpy()
        evaluation = evaluate_validation(validation, options=options, groups=groups)
    with (
        stage(f"refit on every labelled month ({split.describe()['labelled']})"),
        timed(timings, "refit"),
    ):
        registered, registered_info = refit_on_labelled_months(
            prepared, configuration, options=options
        )
    evaluation.update(extra)
    evaluation |= _model_report(
        model,
        configuration,
        candidates,
        prepared=prepared,
        registered_info=registered_info,
    )
    importance = shap_importance(
        registered, valid[feature_columns], random_state=options.random_state
    )
    evaluation["timings_seconds"] = {k: round(v, 2) for k, v in timings.items()}
    return TrainingResult(
        model=registered,
        evaluation=evaluation,
        validation=validation,
        valid_features=valid[[*KEYS, *feature_columns]],
        split=split,
        timings=timings,
        shap_importance=importance,
        configuration=configuration,
        evaluated_model=model,
        prepared=prepared,
    )


def _model_report(
    model: Any,
    configuration: Configuration,
    candidates: dict[str, Any],
    *,
    prepared: PreparedData,
    registered_info: dict[str, Any],
) -> dict[str, Any]:
    """evaluation.json's description of the chosen configuration, its evaluation fit and the refit."""
    split = prepared.split.describe()
    shape = describe_model(model)
    return {
        "n_train": int(len(prepared.fit_rows)),
        "n_tune": int(len(prepared.tune_rows)),
        "split": split,
        "metrics_of": (
            f"the evaluation fit: candidate {configuration.name!r} fitted on the training months "
            f"{split['train']} only, scored out of time on {split['valid']}. The registered model "
            "is the same configuration refitted on every labelled month (registered_model)."
        ),
        "candidates": candidates,
        "configuration": configuration.to_dict(),
        "model_params": reported_params(configuration),
        "model_shape": {k: v for k, v in shape.items() if k != "calibration"},
        "calibration": shape["calibration"],
        "evaluated_model": {
            "fitted_on": split["train"],
            "n_rows": int(len(prepared.fit_rows)),
            "n_tune": int(len(prepared.tune_rows)),
            **shape,
        },
        "registered_model": registered_info,
    }


def reported_params(configuration: Configuration) -> dict[str, Any]:
    """evaluation.json's `model_params`: the configuration's, monotone constraints as a name list."""
    params = dict(configuration.params)
    if params.get("monotone"):
        params["monotone"] = sorted(params["monotone"])
    return params


@dataclass
class PreparedData:
    """Labelled feature rows split out of time, plus the fit/tune rows inside the training months.

    `train`, `gap` and `valid` hold the rows of the training, gap and validation months; `fit_rows`
    and `tune_rows` index `train`.
    """

    tables: Tables  # as known at `until`
    split: OutOfTimeSplit
    train: pd.DataFrame
    valid: pd.DataFrame
    feature_columns: list[str]
    fit_rows: np.ndarray
    tune_rows: np.ndarray
    gap: pd.DataFrame | None = None


def prepare_training_data(
    tables: Tables,
    *,
    lines: MonitoringLines,
    options: TrainOptions,
    extra_labels: pd.DataFrame | None = None,
    stage: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> PreparedData:
    """Build the panel once for every labelled month (training, gap, validation), label it and split it."""
    stage = stage or (lambda name: nullcontext())
    timings = {} if timings is None else timings
    if tables.outcomes is None:
        raise DataContractError(
            "outcomes (监测对象) is required for training: labels come from identifications"
        )
    until = options.until or tables.export_month
    tables = tables_until(tables, until)
    try:
        split = out_of_time_split(
            first_month=first_record_month(tables),
            until=until,
            horizon=options.horizon,
            valid_months=options.valid_months,
            history=options.history,
        )
    except ValueError as error:  # too few months: the user's data, not a bug
        raise DataContractError(f"train: {error}") from error
    months = list(split.labelled_months)
    with stage("features"), timed(timings, "features"):
        panel = build_panel(tables, months=months, lines=lines)
    with stage("labels"), timed(timings, "labels"):
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
    month = data["month"]
    train = data.loc[month.isin(split.train_months).to_numpy()].reset_index(drop=True)
    gap = data.loc[month.isin(split.gap_months).to_numpy()].reset_index(drop=True)
    valid = data.loc[month.isin(split.valid_months).to_numpy()].reset_index(drop=True)
    del data
    _check_rows(train, valid)
    fit_rows, tune_rows = inner_split(train, options=options, train_months=split.train_months)
    return PreparedData(tables, split, train, valid, feature_columns, fit_rows, tune_rows, gap=gap)


def recency_weights(months: pd.Series, *, half_life: float | None) -> np.ndarray | None:
    """Weight of each row: 0.5 ** (months before the newest month among `months` / `half_life`).

    A county changes (downturns, new shocks, new rules), so the newest labelled months say most
    about the months about to be scored; older months still count, less. None when `half_life` is
    None (every row alike).

    Examples
    --------
    >>> recency_weights(pd.Series(pd.period_range("2025-01", "2025-03", freq="M")), half_life=1.0)
    array([0.25, 0.5 , 1.  ])
    """
    if half_life is None:
        return None
    if not half_life > 0:
        raise ValueError(f"recency_half_life must be positive or None, got {half_life!r}")
    periods = pd.PeriodIndex(months, freq="M")
    ordinal = np.asarray(periods.asi8, dtype=float)
    return np.asarray(0.5 ** ((ordinal.max() - ordinal) / float(half_life)), dtype=float)


def inner_split(
    train: pd.DataFrame, *, options: TrainOptions, train_months: Sequence[pd.Period]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows to fit on and rows to tune on (early stopping, calibration), with no household on both sides.

    A random `tune_fraction` of households is set aside: their rows in the last `tune_months`
    of `train_months` tune the model; none of their rows are fitted. Everything else is fitted.
    """
    households = np.sort(train["household_id"].unique())
    rng = np.random.default_rng(options.random_state)
    tuned = rng.random(len(households)) < options.tune_fraction
    tune_households = households[tuned]
    in_tune_group = train["household_id"].isin(tune_households).to_numpy()
    tune_months = list(train_months)[-options.tune_months :]
    recent = train["month"].isin(tune_months).to_numpy()
    return np.flatnonzero(~in_tune_group), np.flatnonzero(in_tune_group & recent)


def select_configuration(
    prepared: PreparedData, *, options: TrainOptions
) -> tuple[Configuration, dict[str, Any]]:
    """Fit every candidate inside the training months and judge it on rows it never saw.

    Out of time when the training months can hold a selection split with its own gap
    (`training.splits.selection_split`); otherwise, for a short history, by household folds inside the
    training months (`_select_by_households`). The reported validation months are never used.

    Returns the chosen configuration and evaluation.json's `candidates` entry: one entry per
    candidate (its inner metrics, or why it was not judged), `chosen`, `criterion`, `selected_on`.
    """
    columns = prepared.feature_columns
    configurations = [
        configure(
            candidate,
            columns=columns,
            random_state=options.random_state,
            n_jobs=options.n_jobs,
            tree_params=options.model_params,
        )
        for candidate in candidates_named(options.candidates)
    ]
    by_name = {c.name: c for c in configurations}
    report: dict[str, Any] = {"criterion": CRITERION}
    inner = selection_split(
        prepared.split,
        valid_months=options.valid_months,
        min_train_months=options.selection_min_months,
    )
    default = DEFAULT_CANDIDATE if DEFAULT_CANDIDATE in by_name else configurations[0].name
    if len(configurations) == 1:
        report |= {"chosen": default, "note": "one candidate given: nothing to choose"}
        return by_name[default], report
    if inner is None:
        results, selected_on = _select_by_households(prepared, configurations, options=options)
    else:
        selected_on = {k: v for k, v in inner.describe().items() if k != "labelled"}
        selected_on["method"] = "out of time"
        rows = prepared.train
        in_train = rows["month"].isin(inner.train_months).to_numpy()
        fit_frame = rows.loc[in_train].reset_index(drop=True)
        judge = rows.loc[rows["month"].isin(inner.valid_months).to_numpy()].reset_index(drop=True)
        fit_rows, tune_rows = inner_split(
            fit_frame, options=options, train_months=inner.train_months
        )
        fits = [(fit_frame, fit_rows, tune_rows, judge)]
        results = {c.name: _judge_candidate(c, fits, columns, options) for c in configurations}
    report["selected_on"] = selected_on
    judged = {n: m for n, m in results.items() if "error" not in m and "dropped" not in m}
    chosen = choose(judged, share=options.operating_share) if judged else default
    report |= results | {"chosen": chosen}
    return by_name[chosen], report


def _select_by_households(
    prepared: PreparedData, configurations: Sequence[Configuration], *, options: TrainOptions
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each candidate fitted on other households' rows of the training months, judged out of fold.

    The households of the training months are dealt into `options.selection_folds` folds
    (`training.splits.household_folds`). For each fold a candidate is fitted on the other folds'
    rows (early stopping and calibration on a held-out share of those households, as always) and
    scores the fold's rows; the pooled out-of-fold scores are judged by the criterion. No household
    is on both sides of a fit; the months are shared, so the choice is cross-sectional (a shock that
    hits every household in one month is seen on both sides) — `selected_on` says so.

    Candidates far behind the best after the first fold (`training.candidates.dominated`) are not
    fitted on the others: they could not be chosen, and their figures on that fold are reported with
    the reason (``dropped``). The others are judged on every fold's rows, all on the same rows.
    """
    rows = selection_sample(prepared.train, rows=options.selection_rows, seed=options.random_state)
    months = prepared.split.train_months
    folds = household_folds(
        rows["household_id"].unique(), folds=options.selection_folds, seed=options.random_state
    )
    fold = rows["household_id"].astype(str).map(folds).to_numpy()
    columns = prepared.feature_columns
    racing = {c.name: _Judged(c) for c in configurations}
    for k in range(options.selection_folds):
        fit_frame = rows.loc[fold != k].reset_index(drop=True)
        judge = rows.loc[fold == k].reset_index(drop=True)
        fit_rows, tune_rows = inner_split(fit_frame, options=options, train_months=months)
        part = (fit_frame, fit_rows, tune_rows, judge)
        for judged in racing.values():
            if judged.running:
                judged.add(_fit_and_score(judged.configuration, part, columns, options))
        if k == 0 and options.selection_folds > 1:
            _drop_dominated(racing, options=options, folds=options.selection_folds)
    results = {name: judged.report(options) for name, judged in racing.items()}
    selected_on = {
        "method": "household folds",
        "train": prepared.split.describe()["train"],
        "folds": options.selection_folds,
        "households": int(rows["household_id"].nunique()),
        "rows": int(len(rows)),
        "note": (
            f"the training months ({prepared.split.describe()['train']}) are too few for an "
            f"out-of-time selection split ({options.selection_min_months} + gap {options.horizon} + "
            f"{options.valid_months} months), so candidates were judged on households they were not "
            f"fitted on, {options.selection_folds} folds within those months (no household on both "
            "sides; the months are shared, so the choice is cross-sectional, not out of time); "
            "candidates far behind after the first fold were not fitted on the others; each fit "
            "is calibrated by Platt scaling, a strictly increasing map, so the judged ranking is "
            "the raw scores' (the registered model still chooses its calibration); "
            "the reported validation months are not used"
        ),
    }
    return results, selected_on


def selection_sample(frame: pd.DataFrame, *, rows: int | None, seed: int) -> pd.DataFrame:
    """Whole households of `frame`, drawn at random until about `rows` rows (all when fewer or None).

    Households are drawn in a seeded random order and kept while the running row count stays
    within `rows`; the rows keep their order in `frame`.

    Examples
    --------
    >>> frame = pd.DataFrame({"household_id": ["a", "a", "b", "b", "c", "c"], "label": 0})
    >>> len(selection_sample(frame, rows=4, seed=0)), len(selection_sample(frame, rows=None, seed=0))
    (4, 6)
    """
    if rows is None or len(frame) <= rows:
        return frame
    counts = frame["household_id"].value_counts(sort=False).sort_index()
    order = np.random.default_rng(seed).permutation(len(counts))
    kept = counts.index[order][np.cumsum(counts.to_numpy()[order]) <= rows]
    return frame.loc[frame["household_id"].isin(kept).to_numpy()].reset_index(drop=True)


#: One fit of a candidate during selection: its rows, the fit and tune rows among them, the judged rows.
SelectionFit = tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]


@dataclass
class _FoldScores:
    """A candidate's scores of one selection fit's judged rows."""

    labels: np.ndarray
    scores: np.ndarray
    trees: int | None
    n_fit: int
    seconds: float


@dataclass
class _Judged:
    """A candidate during selection: its fold scores so far, or why it stopped."""

    configuration: Configuration
    folds: list[_FoldScores] = field(default_factory=list)
    error: str | None = None
    dropped: str | None = None

    @property
    def running(self) -> bool:
        return self.error is None and self.dropped is None

    def add(self, fold: _FoldScores | str) -> None:
        if isinstance(fold, str):
            self.error = fold
        else:
            self.folds.append(fold)

    def metrics(self, options: TrainOptions) -> dict[str, Any]:
        y = np.concatenate([f.labels for f in self.folds])
        shares = sorted({*SHARES, options.operating_share})
        scores = np.concatenate([f.scores for f in self.folds])
        return score_metrics(y, scores, calibrated=True, shares=shares, seed=options.random_state)

    def report(self, options: TrainOptions) -> dict[str, Any]:
        """evaluation.json's entry: metrics on the rows judged, trees per fit, or the error."""
        if self.error is not None:
            return {"error": self.error}
        metrics = self.metrics(options)
        trees = [f.trees for f in self.folds]
        entry = {
            "auc": metrics["auc"],
            "recall_at": metrics["recall_at"],
            "precision_at": metrics["precision_at"],
            "ece": metrics["ece"],
            "trees": trees[0] if len(trees) == 1 else trees,
            "n_fit": int(sum(f.n_fit for f in self.folds) // len(self.folds)),
            "n_valid": int(sum(len(f.labels) for f in self.folds)),
            "seconds": round(sum(f.seconds for f in self.folds), 2),
        }
        if self.dropped is not None:
            entry["dropped"] = self.dropped
        return entry


def _drop_dominated(racing: dict[str, _Judged], *, options: TrainOptions, folds: int) -> None:
    """Stop the candidates `training.candidates.dominated` finds far behind after the first fold."""
    key = share_key(options.operating_share)
    running = {name: j for name, j in racing.items() if j.running}
    if len(running) < 2:
        return
    recall = {name: float(j.metrics(options)["recall_at"][key]) for name, j in running.items()}
    positives = int(sum(int(f.labels.sum()) for f in next(iter(running.values())).folds))
    for name, margin in dominated(recall, positives=positives).items():
        running[name].dropped = (
            f"not fitted on the other {folds - 1} fold(s): after the first, recall at "
            f"{key} {recall[name]:.3f} against the best {max(recall.values()):.3f}, more than "
            f"{margin:.3f} behind"
        )


def _fit_and_score(
    configuration: Configuration, fit: SelectionFit, columns: list[str], options: TrainOptions
) -> _FoldScores | str:
    """Fit `configuration` on one selection fit's rows and score its judged rows (or the error)."""
    start = time.perf_counter()
    frame, fit_rows, tune_rows, judge = fit
    if "calibration" in configuration.build().get_params():
        configuration = replace(
            configuration, params={**configuration.params, "calibration": "platt"}
        )
    try:
        model = fit_configuration(
            configuration,
            frame[columns],
            frame["label"].to_numpy(),
            fit_rows,
            tune_rows,
            tree_trainer=options.tree_trainer,
            sample_weight=recency_weights(frame["month"], half_life=options.recency_half_life),
        )
    except ValueError as error:  # e.g. the tune rows hold one class only
        return str(error)
    return _FoldScores(
        labels=judge["label"].to_numpy(),
        scores=model.predict_proba(judge[columns])[:, 1],
        trees=describe_model(model)["trees"],
        n_fit=len(fit_rows),
        seconds=time.perf_counter() - start,
    )


def _judge_candidate(
    configuration: Configuration,
    fits: Sequence[SelectionFit],
    columns: list[str],
    options: TrainOptions,
) -> dict[str, Any]:
    """One candidate's metrics on the selection rows (or the reason it could not be fitted).

    Each of `fits` is fitted and scores its judged rows; the judged rows of every fit are judged
    together.
    """
    judged = _Judged(configuration)
    for fit in fits:
        judged.add(_fit_and_score(configuration, fit, columns, options))
        if not judged.running:
            break
    return judged.report(options)


def refit_on_labelled_months(
    prepared: PreparedData, configuration: Configuration, *, options: TrainOptions
) -> tuple[Any, dict[str, Any]]:
    """The registered model: `configuration` refitted on every labelled month (see the module docstring).

    Returns the model and evaluation.json's `registered_model` entry.
    """
    parts = [prepared.train, prepared.gap, prepared.valid]
    rows = pd.concat([p for p in parts if p is not None], ignore_index=True)
    months = prepared.split.labelled_months
    fit_rows, tune_rows = inner_split(rows, options=options, train_months=months)
    columns = prepared.feature_columns
    model = fit_configuration(
        configuration,
        rows[columns],
        rows["label"].to_numpy(),
        fit_rows,
        tune_rows,
        tree_trainer=options.tree_trainer,
        sample_weight=recency_weights(rows["month"], half_life=options.recency_half_life),
    )
    tune_months = list(months)[-options.tune_months :]
    info = {
        "refit": True,
        "candidate": configuration.name,
        "fitted_on": prepared.split.describe()["labelled"],
        "n_rows": int(len(fit_rows)),
        "n_tune": int(len(tune_rows)),
        "tuned_on": f"{tune_months[0]}..{tune_months[-1]}",
        **describe_model(model),
        "row_weights": (
            "every month alike"
            if options.recency_half_life is None
            else f"halving every {options.recency_half_life:g} months back from {months[-1]}"
        ),
        "trees_and_calibration": (
            "re-derived as in the evaluation fit, one step later: early stopping and the calibrator "
            f"on the rows of a held-out {options.tune_fraction:.0%} of households in the last "
            f"{options.tune_months} labelled months; every row of the other households fitted"
        ),
    }
    return model, info


def fit_model(
    train: pd.DataFrame,
    fit_rows: np.ndarray,
    tune_rows: np.ndarray,
    feature_columns: list[str],
    options: TrainOptions,
    *,
    monotone: bool,
) -> RiskModel:
    """Today's `RiskModel` shape with `options.model_params` on these rows (benchmarks use it)."""
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
    model: Any,
    free: Any,
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
    model: Any, X: pd.DataFrame, *, rows: int = 3000, random_state: int = 0
) -> pd.Series:
    """Mean |contribution| per feature (log-odds; TreeSHAP or linear) on a sample of validation rows."""
    sample = X.sample(min(rows, len(X)), random_state=random_state) if len(X) else X
    if not len(sample):
        return pd.Series(dtype=float)
    contributions = model.predict_contributions(sample)[:, :-1]
    return pd.Series(
        np.abs(contributions).mean(axis=0), index=list(model.feature_names_in_)
    ).sort_values(ascending=False)


# --------------------------------------------------------------------------- champion + registry
def champion_metrics(
    champion: Any, result: TrainingResult, *, options: TrainOptions
) -> dict[str, Any]:
    """The champion's metrics on exactly the new validation rows, judged as fairly as the challenger.

    The challenger's metrics come from its configuration fitted on the training months only. The
    champion's registered model may have been refitted on these very validation months, so scoring
    it would be in-sample. Instead its stored configuration is fitted on the same training rows
    (fit and tune rows alike) and scored on the same validation rows; when that configuration equals
    the challenger's, the fit would be identical and the challenger's metrics are reused. A champion
    registered before configurations were stored is scored as registered, and the entry says so
    (`method`).

    Parameters
    ----------
    champion
        `training.registry.LoadedModel` (its `configuration` may be None).
    result
        This run's `TrainingResult` (its `prepared` rows are refitted on).
    options
        As for the run.
    """
    shares = sorted({*SHARES, options.operating_share})
    y = result.validation["label"].to_numpy()
    valid_span = result.evaluation.get("split", {}).get("valid")
    train_span = result.evaluation.get("split", {}).get("train")
    stored = getattr(champion, "configuration", None)
    if stored is None or result.prepared is None or result.configuration is None:
        features = result.valid_features.drop(columns=KEYS)
        probability = champion.model.predict_proba(features)[:, 1]
        metrics = score_metrics(
            y, probability, calibrated=True, shares=shares, seed=options.random_state
        )
        metrics["method"] = (
            "scored as registered: the champion was registered without a stored configuration, so "
            f"it could not be refitted on {train_span}; it may have been fitted on {valid_span} "
            "itself (in-sample)"
        )
        return metrics
    configuration = Configuration.from_dict(stored)
    same = same_configuration_metrics(configuration, result)
    if same is not None:
        return same
    prepared = result.prepared
    columns = prepared.feature_columns
    model = fit_configuration(
        configuration,
        prepared.train[columns],
        prepared.train["label"].to_numpy(),
        prepared.fit_rows,
        prepared.tune_rows,
        n_jobs=options.n_jobs,
        tree_trainer=options.tree_trainer,
        sample_weight=recency_weights(prepared.train["month"], half_life=options.recency_half_life),
    )
    probability = model.predict_proba(prepared.valid[columns])[:, 1]
    metrics = score_metrics(
        y, probability, calibrated=True, shares=shares, seed=options.random_state
    )
    metrics["method"] = (
        f"the champion's configuration ({configuration.name!r}) refitted on {train_span}, the "
        "challenger's training rows, and scored on the same validation rows"
    )
    metrics["configuration"] = configuration.name
    return metrics


def same_configuration_metrics(
    configuration: Configuration, result: TrainingResult
) -> dict[str, Any] | None:
    """The challenger's metrics as the champion's, when the champion has the same configuration.

    Fitted on the same training rows, the champion's configuration would be the challenger's
    evaluation fit, so its figures are those already measured. None when the configurations differ
    (or the challenger has none): the champion must then be refitted and scored.
    """
    if result.configuration is None or configuration.key() != result.configuration.key():
        return None
    metrics: dict[str, Any] = {
        k: result.evaluation[k]
        for k in ("auc", "pr_auc", "brier", "ece", "precision_at", "recall_at")
    }
    train_span = result.evaluation.get("split", {}).get("train")
    metrics["method"] = (
        f"same configuration as the challenger ({configuration.name!r}): fitted on {train_span} "
        "it is the challenger's evaluation fit"
    )
    metrics["configuration"] = configuration.name
    return metrics


def train_and_register(
    result: TrainingResult,
    *,
    registry: Any,
    options: TrainOptions,
    out_dir: Path,
    fingerprints: Mapping[str, str],
    write_files: Callable[[dict[str, Any], Path], Sequence[Path]],
    champion_scorer: Callable[[Any, TrainingResult], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Compare configurations with the champion's on the same months, register the refit, gate, write files.

    The registered model is `result.model` (refitted on every labelled month) with its configuration;
    it becomes champion when its configuration is at least as good as the champion's on the newest
    validation months (`champion_metrics`). When the champion's configuration wins instead, it is
    refitted on the same labelled months and registered as a further version that becomes champion
    (`evaluation["promotion"]["champion_refit"]`); the challenger stays registered as challenger. Returns the final evaluation (with `model_version`,
    `champion`, `promotion`). `champion_scorer(champion, result)` replaces `champion_metrics` where
    the rows live elsewhere (a province trained on a Dask cluster, `risk.train_province`).
    """
    from training.model import ModelMismatchError  # noqa: PLC0415
    from training.registry import promotion_gate  # noqa: PLC0415

    evaluation = result.evaluation
    share = share_key(options.operating_share)
    champion = registry.champion()
    champion_info: dict[str, Any] | None = None
    if champion is not None:
        try:
            champion_info = (
                champion_scorer(champion, result)
                if champion_scorer is not None
                else champion_metrics(champion, result, options=options)
            )
            champion_info["version"] = champion.version
        except (ModelMismatchError, ValueError) as error:
            champion_info = {"version": champion.version, "error": str(error)}
    if champion_info is None or "error" in champion_info:
        decision = promotion_gate(evaluation, None, share=share)
        if champion_info is not None:
            decision = replace(
                decision,
                reason=f"the champion (version {champion_info['version']}) cannot be compared on the current data: {champion_info['error']}",
            )
    else:
        decision = promotion_gate(evaluation, champion_info, share=share)
        decision = replace(
            decision, reason=f"{decision.reason}; champion {champion_info['method']}"
        )
    evaluation["champion"] = champion_info
    evaluation["promotion"] = {
        "promoted": decision.promote,
        "reason": decision.reason,
        "compared_on": evaluation.get("split", {}).get("valid"),
        "registered": "the challenger's configuration refitted on every labelled month "
        f"({evaluation.get('registered_model', {}).get('fitted_on')})",
    }
    refit = None
    if not decision.promote and champion is not None and champion_info is not None:
        refit = refit_champion(champion, champion_info, result, options=options)

    def write_outputs(version: str, run_id: str) -> Sequence[Path]:
        evaluation["model_version"] = version
        evaluation["run_id"] = run_id
        return write_files(evaluation, out_dir)

    configuration = result.configuration
    registered = registry.log_and_register(
        result.model,
        **_registration(result.model, configuration, evaluation, options),
        metrics=flat_metrics(evaluation),
        fingerprints=fingerprints,
        signature_frame=result.valid_features.drop(columns=KEYS),
        write_outputs=write_outputs,
        decide=lambda: decision,
    )
    evaluation["model_uri"] = registered.model_uri
    if refit is not None:
        _register_champion_refit(
            refit,
            registry=registry,
            evaluation=evaluation,
            result=result,
            options=options,
            fingerprints=fingerprints,
            write_outputs=lambda version, run_id: write_files(evaluation, out_dir),
        )
    return evaluation


def refit_champion(
    champion: Any,
    champion_info: Mapping[str, Any],
    result: TrainingResult,
    *,
    options: TrainOptions,
) -> tuple[Any, Configuration, dict[str, Any]] | None:
    """The champion's configuration refitted on every labelled month, when it won the gate.

    A configuration that beat the challenger on the newest months should score with the newest
    data too, not as it was fitted months ago. None when the champion has no stored configuration
    or this run's rows are not at hand (a province trained elsewhere): the champion then stays as
    registered.
    """
    stored = getattr(champion, "configuration", None)
    if stored is None or result.prepared is None or "configuration" not in champion_info:
        return None
    configuration = Configuration.from_dict(stored)
    model, info = refit_on_labelled_months(result.prepared, configuration, options=options)
    return model, configuration, info


def _register_champion_refit(
    refit: tuple[Any, Configuration, dict[str, Any]],
    *,
    registry: Any,
    evaluation: dict[str, Any],
    result: TrainingResult,
    options: TrainOptions,
    fingerprints: Mapping[str, str],
    write_outputs: Callable[[str, str], Sequence[Path]],
) -> None:
    """Register the champion's configuration refitted on every labelled month as the new champion."""
    from training.registry import GateDecision  # noqa: PLC0415

    model, configuration, info = refit
    champion_info = evaluation["champion"]
    promotion = evaluation["promotion"]
    reason = (
        f"the champion's configuration ({configuration.name!r}, version "
        f"{champion_info['version']}) won the gate on {promotion['compared_on']}; refitted on "
        f"every labelled month ({info['fitted_on']}) and promoted"
    )
    entry: dict[str, Any] = {"configuration": configuration.name, **info, "reason": reason}
    promotion["champion_refit"] = entry

    def write(version: str, run_id: str) -> Sequence[Path]:
        entry.update(version=version, run_id=run_id)
        promotion["reason"] = f"{promotion['reason']}; {reason} as version {version}"
        return write_outputs(version, run_id)

    metrics = {
        k: champion_info.get(k) for k in ("auc", "recall_at", "precision_at", "brier", "ece")
    }
    fields = _registration(model, configuration, evaluation, options, fitted_on=info["fitted_on"])
    registered = registry.log_and_register(
        model,
        **fields,
        metrics=flat_metrics({k: v for k, v in metrics.items() if v is not None}),
        fingerprints=fingerprints,
        signature_frame=result.valid_features.drop(columns=KEYS),
        write_outputs=write,
        decide=lambda: GateDecision(True, reason),
    )
    entry["model_uri"] = registered.model_uri


def _registration(
    model: Any,
    configuration: Configuration | None,
    evaluation: Mapping[str, Any],
    options: TrainOptions,
    *,
    fitted_on: str | None = None,
) -> dict[str, Any]:
    """MLflow params, tags and the stored configuration of a model about to be registered."""
    split = evaluation.get("split", {})
    fitted_on = fitted_on or evaluation.get("registered_model", {}).get("fitted_on")
    model_params = configuration.params if configuration else model.get_params()
    name = configuration.name if configuration else None
    params = {
        **{f"model.{k}": v for k, v in model_params.items() if k != "monotone"},
        "candidate": name,
        "horizon": options.horizon,
        "valid_months": options.valid_months,
        "until": split.get("until"),
        "operating_share": options.operating_share,
        "monotone_features": ",".join(sorted(getattr(model, "monotone_constraints_", {}))),
        "fitted_on": fitted_on,
    }
    tags = {
        "fanpin.until": str(split.get("until")),
        "fanpin.valid": str(split.get("valid")),
        "fanpin.candidate": str(name),
        "fanpin.fitted_on": str(fitted_on),
    }
    return {
        "params": params,
        "tags": tags,
        "configuration": configuration.to_dict() if configuration else None,
    }


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
    model: Any
    evaluation: dict[str, Any]
    predictions: pd.DataFrame  # id, label, probability (out of fold / out of time)
    features: pd.DataFrame  # the feature columns as the model sees them (for the signature)
    configuration: Configuration | None = None


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
    candidates: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> TableResult:
    """The same candidates, criterion, calibration and metrics on a user's household-level table.

    Without `time_column`: stratified `folds`-fold cross-validation; every row gets an out-of-fold
    probability from every candidate. With it: the newest `valid_share` of time values validate,
    older rows fit. The candidate the criterion picks (`training.candidates.choose`) is reported as
    the model, on the rows it was chosen on — so its figures are slightly optimistic, which
    evaluation.json says; every candidate's figures are listed beside it. The logistic baseline is
    judged on the same rows. The returned model is the chosen configuration refitted on all rows.
    No monotone constraints are used (the columns are the user's, not the catalogue's).
    """
    stage = progress or (lambda name: nullcontext())
    table = _check_table(
        frame, id_column=id_column, label_column=label_column, time_column=time_column
    )
    y = table.pop(label_column).to_numpy(dtype=int)
    ids = table.pop(id_column)
    times = table.pop(time_column) if time_column else None
    features = table
    configurations = [
        configure(
            candidate,
            columns=list(features.columns),
            random_state=random_state,
            n_jobs=n_jobs,
            tree_params=model_params,
            monotone=False,
        )
        for candidate in candidates_named(candidates)
    ]
    splits = list(
        _table_splits(y, times, folds=folds, valid_share=valid_share, random_state=random_state)
    )
    probability = {c.name: np.full(len(y), np.nan) for c in configurations}
    logistic = np.full(len(y), np.nan)
    with stage("cross-validation" if times is None else "out-of-time validation"):
        for fit_rows, test_rows in splits:
            for configuration in configurations:
                model = configuration.build().fit(features.iloc[fit_rows], y[fit_rows])
                probability[configuration.name][test_rows] = model.predict_proba(
                    features.iloc[test_rows]
                )[:, 1]
            pipeline = baselines.fit_logistic(
                features.iloc[fit_rows], y[fit_rows], random_state=random_state
            )
            logistic[test_rows] = baselines.predict_logistic(pipeline, features.iloc[test_rows])
    scored = ~np.isnan(logistic)
    shares = sorted({*SHARES, operating_share})
    judged = {
        name: score_metrics(
            y[scored], values[scored], calibrated=True, shares=shares, seed=random_state
        )
        for name, values in probability.items()
    }
    chosen = choose(judged, share=operating_share)
    validation = "out-of-time" if times is not None else f"stratified {folds}-fold cross-validation"
    evaluation = dict(judged[chosen])
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
    evaluation["validation"] = validation
    evaluation["candidates"] = {
        name: {k: m[k] for k in ("auc", "recall_at", "precision_at", "ece")}
        for name, m in judged.items()
    } | {
        "chosen": chosen,
        "criterion": CRITERION,
        "selected_on": f"the same {validation} as the reported figures (slightly optimistic)",
    }
    evaluation["groups"] = {}
    by_name = {c.name: c for c in configurations}
    with stage(f"final model ({chosen})"):
        final = by_name[chosen].build().fit(features, y)
    evaluation["configuration"] = by_name[chosen].to_dict()
    evaluation["model_shape"] = {k: v for k, v in describe_model(final).items()}
    evaluation["model_version"] = None
    predictions = (
        pd.DataFrame({"id": ids.to_numpy(), "label": y, "probability": probability[chosen]})
        .loc[scored]
        .reset_index(drop=True)
    )
    return TableResult(
        model=final,
        evaluation=evaluation,
        predictions=predictions,
        features=features,
        configuration=by_name[chosen],
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
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall time of the block in `timings[name]` (seconds)."""
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
