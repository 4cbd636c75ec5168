"""`RiskModel`: a calibrated LightGBM classifier with the scikit-learn contract.

The model is shaped for cheap explanations (issue 7): TreeSHAP costs trees × leaves × depth², so the
trees are small — 7 leaves, depth 4 — and many: learning rate 0.05, at most 600 trees, early stopping
on out-of-time rows. Measured on a simulated county of 20,000 households × 36 months (seed 0,
validation 2026-02..04, about 52,000 rows): out-of-time AUC 0.8986 with 345 trees kept, against
0.8961 for learning rate 0.15 capped at 150 trees and an oracle of 0.9169. Small trees are what make
explanations cheap: `bench/bench_scale.py` compares them with a default-shape LightGBM (31 leaves, no
depth limit) explained by plain `shap.TreeExplainer`, on the same rows.

Raw scores (`predict_raw`, log-odds) are what SHAP contributions add up to; `predict_proba` passes them
through the calibrator chosen on held-out rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    column_or_1d,
)

from features.contract.errors import FanpinError
from training.calibration import Calibrator, choose_calibrator

#: Values of the `calibration` parameter of the estimators.
CALIBRATION_METHODS = ("auto", "isotonic", "platt")


class ModelMismatchError(FanpinError, ValueError):
    """A model does not fit the data it is asked to score (missing or unexpected features)."""


class RiskModel(ClassifierMixin, BaseEstimator):
    """LightGBM (binary) + a calibrator chosen on held-out rows.

    Parameters
    ----------
    n_estimators
        Upper bound on the number of trees; early stopping usually keeps fewer.
    learning_rate, num_leaves, max_depth, min_child_samples, reg_lambda, colsample_bytree, subsample
        LightGBM parameters (`min_data_in_leaf`, `lambda_l2`, `feature_fraction`, `bagging_fraction`).
    monotone
        Feature name → +1 (risk never falls as the value rises), −1, or 0. Names not among the
        fitted features are ignored (see `monotone_constraints_`).
    features
        The features the trees may split on (None: all). The others are still accepted and named in
        `feature_names_in_` — scoring and explanations see one frame whatever the model — but they are
        masked as missing while the trees grow, so no tree splits on them and their contributions
        are exactly zero. Names not among the fitted features are ignored (see `features_used_`).
    calibration
        ``"auto"`` (isotonic or Platt, whichever has the lower cross-validated log-loss on the held-out
        rows), ``"isotonic"`` or ``"platt"``.
    validation_fraction
        Share of rows held out for early stopping and calibration when `fit` gets no `eval_set`
        (split by `groups` when given, else stratified).
    early_stopping_rounds
        Stop when the held-out log-loss has not improved for this many trees.
    random_state, n_jobs
        Seed and thread count (fixed for deterministic results).

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The trees kept by early stopping (for SHAP: `booster_.predict(M, pred_contrib=True)` on
        `transform_features(X)`).
    calibrator_ : Calibrator
    calibration_losses_ : dict
        Cross-validated held-out log-loss per calibration method.
    classes_, n_features_in_, feature_names_in_ (when fitted on a DataFrame)
    categories_ : dict
        Categorical feature → the categories seen at fit (unseen values become missing).
    monotone_constraints_ : dict
        The constraints actually used, by feature name.
    features_used_ : list
        The features the trees could split on.
    best_iteration_ : int
    """

    def __init__(
        self,
        *,
        n_estimators: int = 600,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        max_depth: int = 4,
        min_child_samples: int = 100,
        reg_lambda: float = 1.0,
        colsample_bytree: float = 0.8,
        subsample: float = 0.8,
        monotone: Mapping[str, int] | None = None,
        features: Sequence[str] | None = None,
        calibration: str = "auto",
        validation_fraction: float = 0.2,
        early_stopping_rounds: int = 50,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.monotone = monotone
        self.features = features
        self.calibration = calibration
        self.validation_fraction = validation_fraction
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        eval_set: tuple[Any, Any] | None = None,
        groups: Any = None,
        sample_weight: Any = None,
        tree_trainer: Callable[..., lgb.Booster] | None = None,
    ) -> RiskModel:
        """Fit the trees (early stopping on held-out rows) and the calibrator; returns self.

        Parameters
        ----------
        X
            DataFrame (numeric columns, `category`/object columns are categorical) or 2-D array.
        y
            Binary labels.
        eval_set
            ``(X_held_out, y_held_out)``: rows for early stopping and calibration. When omitted,
            `validation_fraction` of the rows are held out (by `groups` if given).
        groups
            Group of each row (e.g. household id) so that no group is on both sides of the split.
        sample_weight
            Optional weight per training row.
        tree_trainer
            Grows the trees elsewhere instead of `lightgbm.train` (``risk train --engine dask``:
            `risk.engine_dask.dask_tree_trainer`): called as ``tree_trainer(matrix, y, weight,
            params=..., n_estimators=...)`` and returns a booster of `n_estimators` trees. It has no
            early stopping, so the trees are then cut where the held-out log-loss was lowest (the
            same rule and patience as the local path) before calibration.
        """
        self._check_params()
        matrix, y_codes, weight = self._learn_inputs(X, y, sample_weight)
        matrix = self._mask_unused(matrix)
        if eval_set is not None:
            fit_rows = np.arange(len(y_codes))
            held_matrix = self._mask_unused(self._matrix(eval_set[0]))
            held_y = self._encode(eval_set[1])
        else:
            fit_rows, held_rows = self._hold_out(y_codes, groups)
            held_matrix, held_y = _take(matrix, held_rows), y_codes[held_rows]
        self.booster_ = self._train_booster(
            _take(matrix, fit_rows),
            y_codes[fit_rows],
            None if weight is None else weight[fit_rows],
            held_matrix,
            held_y,
            tree_trainer,
        )
        self.best_iteration_ = int(self.booster_.num_trees())
        raw = np.asarray(self.booster_.predict(held_matrix, raw_score=True), dtype=float)
        if self.calibration == "auto":
            self.calibrator_, self.calibration_losses_ = choose_calibrator(
                raw, held_y, random_state=self.random_state
            )
        else:
            self.calibrator_ = Calibrator(self.calibration).fit(raw, held_y)
            self.calibration_losses_ = {}
        return self

    def _check_params(self) -> None:
        checks = [
            (
                "n_estimators",
                self.n_estimators,
                lambda v: isinstance(v, int) and v >= 1,
                "an int ≥ 1",
            ),
            ("learning_rate", self.learning_rate, lambda v: 0 < v <= 1, "in (0, 1]"),
            ("num_leaves", self.num_leaves, lambda v: isinstance(v, int) and v >= 2, "an int ≥ 2"),
            (
                "max_depth",
                self.max_depth,
                lambda v: isinstance(v, int) and (v == -1 or v >= 1),
                "-1 or ≥ 1",
            ),
            (
                "min_child_samples",
                self.min_child_samples,
                lambda v: isinstance(v, int) and v >= 1,
                "an int ≥ 1",
            ),
            ("reg_lambda", self.reg_lambda, lambda v: v >= 0, "≥ 0"),
            ("colsample_bytree", self.colsample_bytree, lambda v: 0 < v <= 1, "in (0, 1]"),
            ("subsample", self.subsample, lambda v: 0 < v <= 1, "in (0, 1]"),
            (
                "calibration",
                self.calibration,
                lambda v: v in CALIBRATION_METHODS,
                f"one of {CALIBRATION_METHODS}",
            ),
            ("validation_fraction", self.validation_fraction, lambda v: 0 < v < 1, "in (0, 1)"),
            (
                "early_stopping_rounds",
                self.early_stopping_rounds,
                lambda v: isinstance(v, int) and v >= 1,
                "an int ≥ 1",
            ),
            ("n_jobs", self.n_jobs, lambda v: isinstance(v, int) and v >= 1, "an int ≥ 1"),
        ]
        check_params("RiskModel", checks)
        if self.features is not None and (
            isinstance(self.features, str) or not all(isinstance(n, str) for n in self.features)
        ):
            raise ValueError(
                f"RiskModel: features must be a list of feature names or None, got {self.features!r}"
            )
        for name, sign in (self.monotone or {}).items():
            if sign not in (-1, 0, 1):
                raise ValueError(f"RiskModel: monotone[{name!r}] must be -1, 0 or 1, got {sign!r}")

    def _learn_inputs(
        self, X: Any, y: Any, sample_weight: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        for name in ("feature_names_in_", "categories_"):
            if hasattr(self, name):
                delattr(self, name)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
            self.categories_ = {
                str(c): [str(v) for v in _categories(X[c])]
                for c in X.columns
                if is_categorical(X[c])
            }
        else:
            self.categories_ = {}
        if y is None:
            raise ValueError("RiskModel requires y to be passed, but the target y is None")
        matrix = self._matrix(X, fitting=True)
        y_array = column_or_1d(y, warn=True)
        self.classes_ = binary_classes("RiskModel", y_array, n_rows=matrix.shape[0])
        weight = None if sample_weight is None else _check_sample_weight(sample_weight, matrix)
        return matrix, self._encode(y_array), weight

    def _mask_unused(self, matrix: Any) -> Any:
        """The fit matrix with every feature outside `features` set to missing (a copy if changed)."""
        names = self._names()
        if self.features is None:
            self.features_used_ = names
            return matrix
        wanted = {str(n) for n in self.features}
        self.features_used_ = [n for n in names if n in wanted]
        unused = [i for i, n in enumerate(names) if n not in wanted]
        if not unused:
            return matrix
        if isinstance(matrix, pd.DataFrame):
            masked = matrix.copy()
            for i in unused:
                column = masked.columns[i]
                masked[column] = (
                    pd.Categorical([None] * len(masked), categories=masked[column].cat.categories)
                    if isinstance(masked[column].dtype, pd.CategoricalDtype)
                    else np.nan
                )
            return masked
        masked = np.array(matrix, dtype=np.float64, copy=True)
        masked[:, unused] = np.nan
        return masked

    def _encode(self, y: Any) -> np.ndarray:
        return encode_labels(self.classes_, y)

    def _hold_out(self, y: np.ndarray, groups: Any) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(len(y))
        if groups is not None:
            splitter: Any = GroupShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
            )
            fit_rows, held_rows = next(splitter.split(rows, y, groups=np.asarray(groups)))
            if len(np.unique(y[held_rows])) == 2 and len(np.unique(y[fit_rows])) == 2:
                return fit_rows, held_rows
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
        )
        try:
            fit_rows, held_rows = next(splitter.split(rows, y))
        except ValueError as error:
            raise ValueError(
                f"too few rows of each class to hold out {self.validation_fraction:.0%} for early "
                f"stopping and calibration ({np.bincount(y).tolist()} rows per class): {error}"
            ) from error
        return fit_rows, held_rows

    def lightgbm_params(self) -> dict[str, Any]:
        """The LightGBM parameters this model trains with (logged to MLflow)."""
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "monotone_constraints_method": "intermediate",
            "cat_smooth": 10.0,
            "min_data_per_group": 50,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    def _train_booster(
        self,
        matrix: Any,
        y: np.ndarray,
        weight: np.ndarray | None,
        held_matrix: Any,
        held_y: np.ndarray,
        tree_trainer: Callable[..., lgb.Booster] | None = None,
    ) -> lgb.Booster:
        names = list(self._names())
        categorical = list(self.categories_)
        self.monotone_constraints_ = {
            n: int(s) for n, s in (self.monotone or {}).items() if n in names and int(s) != 0
        }
        params = self.lightgbm_params()
        params["monotone_constraints"] = [self.monotone_constraints_.get(n, 0) for n in names]
        if tree_trainer is not None:
            grown = tree_trainer(matrix, y, weight, params=params, n_estimators=self.n_estimators)
            kept = _best_iteration(grown, held_matrix, held_y, self.early_stopping_rounds)
            return lgb.Booster(model_str=grown.model_to_string(num_iteration=kept))
        train = lgb.Dataset(
            matrix,
            label=y,
            weight=weight,
            feature_name=names,
            categorical_feature=categorical,
            free_raw_data=True,
        )
        held = lgb.Dataset(held_matrix, label=held_y, reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=self.n_estimators,
            valid_sets=[held],
            valid_names=["held_out"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )
        kept = booster.best_iteration if booster.best_iteration > 0 else booster.current_iteration()
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=kept))

    # -------------------------------------------------------------- predict
    def transform_features(self, X: Any) -> Any:
        """What the booster sees: the fitted columns in order, categoricals with the fitted categories.

        A DataFrame when the model has categorical features, else a float array. Pass it to
        ``booster_.predict(..., pred_contrib=True)`` for SHAP values that match `predict_raw`.
        """
        check_is_fitted(self, "booster_")
        return self._matrix(X)

    def predict_raw(self, X: Any) -> np.ndarray:
        """Log-odds before calibration; SHAP contributions (plus the expected value) add up to this."""
        matrix = self.transform_features(X)
        return np.asarray(self.booster_.predict(matrix, raw_score=True), dtype=float)

    def predict_contributions(self, X: Any) -> np.ndarray:
        """Exact TreeSHAP contributions, shape (n_rows, n_features + 1); the last column is the bias."""
        matrix = self.transform_features(X)
        return np.asarray(self.booster_.predict(matrix, pred_contrib=True), dtype=float)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shape (n_rows, 2): columns follow `classes_`."""
        raw = self.predict_raw(X)
        positive = self.calibrator_.predict(raw)
        return np.column_stack([1 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class per row."""
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def fingerprint(self) -> str:
        """sha256 of the trees and calibrator: detects a model altered after training."""
        check_is_fitted(self, "booster_")
        digest = hashlib.sha256(self.booster_.model_to_string().encode("utf-8"))
        digest.update(repr(sorted(self.calibrator_.get_params().items())).encode("utf-8"))
        return digest.hexdigest()

    # -------------------------------------------------------------- helpers
    def _names(self) -> list[str]:
        if hasattr(self, "feature_names_in_"):
            return [str(n) for n in self.feature_names_in_]
        return [f"x{i}" for i in range(self.n_features_in_)]

    def _matrix(self, X: Any, *, fitting: bool = False) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            return self._frame_matrix(X, fitting=fitting)
        if hasattr(self, "feature_names_in_") and not fitting:
            raise ModelMismatchError(
                "RiskModel was fitted on a DataFrame with named features; pass a DataFrame with "
                f"columns {list(self.feature_names_in_)[:5]}… (got {type(X).__name__})"
            )
        array = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
        if fitting:
            self.n_features_in_ = array.shape[1]
        elif array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, but RiskModel is expecting "
                f"{self.n_features_in_} features as input"
            )
        return array

    def _frame_matrix(self, X: pd.DataFrame, *, fitting: bool) -> Any:
        columns = [str(c) for c in X.columns]
        if not fitting:
            if not hasattr(self, "feature_names_in_"):
                return self._matrix(X.to_numpy())
            self._check_names(columns)
            X = X.set_axis(columns, axis=1)[list(self.feature_names_in_)]
        else:
            self.n_features_in_ = X.shape[1]
            X = X.set_axis(columns, axis=1)
        if not self.categories_:
            return self._numeric(X, fitting=fitting).to_numpy(dtype=np.float64)
        out = {}
        for name in X.columns:
            if name in self.categories_:
                # fixed categories: the booster's codes mean the same at fit and at predict
                known = self.categories_[name]
                text = X[name].astype("string")
                text = text.where(text.isin(known))  # unseen values become missing
                out[name] = pd.Categorical(
                    text.to_numpy(dtype=object, na_value=None), categories=known
                )
            else:
                out[name] = self._numeric(X[[name]], fitting=fitting)[name].to_numpy()
        return pd.DataFrame(out, index=X.index)

    @staticmethod
    def _numeric(X: pd.DataFrame, *, fitting: bool) -> pd.DataFrame:
        numeric = numeric_frame(X)
        if fitting and np.isinf(numeric.to_numpy()).any():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        return numeric

    def _check_names(self, columns: list[str]) -> None:
        check_feature_names([str(n) for n in self.feature_names_in_], columns)

    def __sklearn_tags__(self) -> Any:
        return binary_tags(super().__sklearn_tags__())


# ------------------------------------------------------------------ shared by the estimators
#: One parameter check: name, value, predicate, what was expected (for the message).
ParamCheck = tuple[str, Any, Callable[[Any], Any], str]


def check_params(owner: str, checks: Sequence[ParamCheck]) -> None:
    """Raise ValueError naming the first parameter whose value fails its predicate.

    Examples
    --------
    >>> check_params("Model", [("C", -1.0, lambda v: v > 0, "> 0")])
    Traceback (most recent call last):
    ...
    ValueError: Model: C must be > 0, got -1.0
    """
    for name, value, ok, expected in checks:
        try:
            valid = bool(ok(value))
        except TypeError:
            valid = False
        if not valid:
            raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}")


def binary_classes(owner: str, y: np.ndarray, *, n_rows: int) -> np.ndarray:
    """The two classes of `y` (sorted), after checking it is a binary target of `n_rows` rows."""
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(f"Unknown label type: {kind}; {owner} needs binary labels (0/1)")
    classes = np.unique(y)
    if len(classes) > 2:
        raise ValueError(
            "Only binary classification is supported. "
            f"y has {len(classes)} classes; {owner} predicts one risk (0/1)"
        )
    if len(y) != n_rows:
        raise ValueError(f"X has {n_rows} rows but y has {len(y)}")
    if n_rows < 2 or len(classes) < 2:
        raise ValueError(
            f"{owner} needs rows of both classes; got n_samples = {n_rows} and {len(classes)} class"
        )
    return classes


def encode_labels(classes: np.ndarray, y: Any) -> np.ndarray:
    """Labels as 0/1 codes of `classes`; ValueError for a label outside them."""
    y_array = np.asarray(y).ravel()
    codes = np.searchsorted(classes, y_array)
    if np.any(codes >= len(classes)) or np.any(classes[np.minimum(codes, 1)] != y_array):
        raise ValueError(f"held-out labels must be among {list(classes)}")
    return codes.astype(int)


def feature_difference(
    expected: Sequence[str], columns: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The features `expected` but absent from `columns`, and those present but not expected.

    Both lists keep their own sequence's order, so a message naming them is stable.
    """
    present, known = set(columns), set(expected)
    missing = [n for n in expected if n not in present]
    unexpected = [n for n in columns if n not in known]
    return missing, unexpected


def check_feature_names(expected: Sequence[str], columns: Sequence[str]) -> None:
    """ModelMismatchError naming the missing and the unexpected features, if any."""
    missing, unexpected = feature_difference(expected, columns)
    if missing or unexpected:
        raise ModelMismatchError(
            "the features do not match the model: "
            f"missing {missing or 'none'}; unexpected {unexpected or 'none'}. "
            "Build the features with the same fanpin version the model was trained with, "
            "or retrain the model (risk train)."
        )


def numeric_frame(X: pd.DataFrame) -> pd.DataFrame:
    """`X` as float64 columns (missing as NaN); ValueError naming the problem for non-numbers.

    Columns that are already numbers (including nullable and boolean ones) are converted in one
    step; only text columns go through `pandas.to_numeric`, column by column.
    """
    if all(
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
        for dtype in X.dtypes
    ):
        values = X.to_numpy(dtype=np.float64, na_value=np.nan)
        return pd.DataFrame(values, index=X.index, columns=X.columns)
    try:
        return X.apply(lambda c: pd.to_numeric(c, errors="raise")).astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"features must be numeric or categorical: {error}") from error


def binary_tags(tags: Any) -> Any:
    """scikit-learn tags of a binary classifier that accepts missing values."""
    tags.input_tags.allow_nan = True
    tags.classifier_tags.multi_class = False
    return tags


def _best_iteration(booster: lgb.Booster, matrix: Any, y: np.ndarray, patience: int) -> int:
    """Trees to keep: where the held-out log-loss was lowest, stopping `patience` trees after it."""
    raw = np.zeros(len(y))
    best, best_loss = 1, np.inf
    for k in range(booster.num_trees()):
        raw += booster.predict(matrix, raw_score=True, start_iteration=k, num_iteration=1)
        p = np.clip(1.0 / (1.0 + np.exp(-raw)), 1e-15, 1 - 1e-15)
        loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        if loss < best_loss:
            best, best_loss = k + 1, loss
        elif k + 1 - best >= patience:
            break
    return best


def _take(matrix: Any, rows: np.ndarray) -> Any:
    if isinstance(matrix, pd.DataFrame):
        return matrix.iloc[rows]
    if len(rows) == matrix.shape[0] and np.array_equal(rows, np.arange(len(rows))):
        return matrix
    return matrix[rows]


def is_categorical(column: pd.Series) -> bool:
    return (
        isinstance(column.dtype, pd.CategoricalDtype)
        or column.dtype == object
        or pd.api.types.is_string_dtype(column.dtype)
    )


def _categories(column: pd.Series) -> list[Any]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return sorted(column.dropna().astype(str).unique())
