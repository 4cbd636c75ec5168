"""`LogisticRiskModel`: logistic regression with the same interface as `RiskModel`.

One of the candidates `risk train` chooses among (`training.candidates`). On a few thousand households
a linear model often ranks as well as trees, and its explanations are exact and cheap: the log-odds are
a sum over features, so each feature's contribution is its share of that sum.

How a row becomes log-odds:

- numeric feature: missing → the median seen at fit, then clipped to the fit's [0.5 %, 99.5 %]
  quantiles (a new extreme value cannot dominate a linear score), then standardised; a missing-value
  indicator is added for every feature that had missing values at fit;
- categorical feature: one indicator per category seen at fit (unseen or missing: none of them);
- every design column is centred on its mean at fit, so a contribution is
  ``coefficient × (value − its mean at fit)`` summed over the feature's design columns — the exact
  Shapley value of a linear model with independent features — and the bias (last column of
  `predict_contributions`) is the intercept, the log-odds of an average row.

`predict_proba` passes the log-odds through a calibrator chosen on held-out rows, as `RiskModel` does.
There are no trees: `booster_` is None.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    column_or_1d,
)

from training.calibration import Calibrator, choose_calibrator
from training.model import (
    CALIBRATION_METHODS,
    ModelMismatchError,
    binary_classes,
    binary_tags,
    check_feature_names,
    check_params,
    encode_labels,
    is_categorical,
    numeric_frame,
)


class LogisticRiskModel(ClassifierMixin, BaseEstimator):
    """Logistic regression on standardised, clipped features + a calibrator chosen on held-out rows.

    Parameters
    ----------
    C
        Inverse L2 regularisation strength (scikit-learn's `LogisticRegression(C=...)`).
    clip_quantile
        Numeric values are clipped to the [q, 1 − q] quantiles seen at fit.
    max_iter
        Iterations of the solver (lbfgs).
    calibration
        ``"auto"`` (isotonic or Platt by cross-validated log-loss on the held-out rows), ``"isotonic"``
        or ``"platt"``.
    validation_fraction
        Share of rows held out for calibration when `fit` gets no `eval_set` (stratified).
    random_state, n_jobs
        Seed; `n_jobs` is accepted for a common interface with `RiskModel` (lbfgs on one binary
        problem uses one thread).

    Attributes
    ----------
    booster_ : None
        No trees (explanations use `predict_contributions`).
    n_iter_ : ndarray
        Solver iterations.
    coef_, intercept_
        Coefficients of the centred design columns and the intercept (log-odds of an average row).
    design_feature_ : ndarray of int
        For each design column, the index of the feature it belongs to.
    calibrator_ : Calibrator
    calibration_losses_ : dict
    classes_, n_features_in_, feature_names_in_ (when fitted on a DataFrame), categories_
    """

    def __init__(
        self,
        *,
        C: float = 1.0,  # noqa: N803 - scikit-learn's name for it
        clip_quantile: float = 0.005,
        max_iter: int = 2000,
        calibration: str = "auto",
        validation_fraction: float = 0.2,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.C = C
        self.clip_quantile = clip_quantile
        self.max_iter = max_iter
        self.calibration = calibration
        self.validation_fraction = validation_fraction
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
        tree_trainer: Any = None,
    ) -> LogisticRiskModel:
        """Fit the coefficients, then the calibrator on held-out rows; returns self.

        Parameters
        ----------
        X, y
            Features (DataFrame or 2-D array) and binary labels.
        eval_set
            ``(X_held_out, y_held_out)`` for calibration; else `validation_fraction` of the rows.
        groups, tree_trainer
            Accepted for `RiskModel`'s interface; a linear model grows no trees, and the held-out rows
            are drawn stratified.
        sample_weight
            Optional weight per training row.
        """
        self._check_params()
        frame, y_array = self._learn_inputs(X, y)
        weight = (
            None
            if sample_weight is None
            else _check_sample_weight(sample_weight, np.zeros((len(frame), 1)))
        )
        if eval_set is None:
            fit_rows, held_rows = self._hold_out(y_array)
            held_frame, held_y = frame.iloc[held_rows], y_array[held_rows]
            frame, y_array = frame.iloc[fit_rows], y_array[fit_rows]
            weight = None if weight is None else weight[fit_rows]
        else:
            held_frame = self._frame(eval_set[0])
            held_y = self._encode(eval_set[1])
        self._learn_design(frame)
        design = (self._design(frame) - self.center_) / self.scale_
        solver = LogisticRegression(
            C=self.C, max_iter=self.max_iter, random_state=self.random_state
        )
        solver.fit(design, y_array, sample_weight=weight)
        self.coef_ = np.asarray(solver.coef_[0], dtype=float)
        self.intercept_ = float(solver.intercept_[0])
        self.n_iter_ = np.asarray(solver.n_iter_)
        self.booster_ = None
        self.best_iteration_ = 0
        raw = self._raw(held_frame)
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
            ("C", self.C, lambda v: v > 0, "> 0"),
            ("clip_quantile", self.clip_quantile, lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
            ("max_iter", self.max_iter, lambda v: isinstance(v, int) and v >= 1, "an int ≥ 1"),
            (
                "calibration",
                self.calibration,
                lambda v: v in CALIBRATION_METHODS,
                f"one of {CALIBRATION_METHODS}",
            ),
            ("validation_fraction", self.validation_fraction, lambda v: 0 < v < 1, "in (0, 1)"),
            ("n_jobs", self.n_jobs, lambda v: isinstance(v, int) and v >= 1, "an int ≥ 1"),
        ]
        check_params("LogisticRiskModel", checks)

    def _learn_inputs(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        for name in ("feature_names_in_",):
            if hasattr(self, name):
                delattr(self, name)
        if y is None:
            raise ValueError("LogisticRiskModel requires y to be passed, but the target y is None")
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
            frame = X.set_axis([str(c) for c in X.columns], axis=1)
            self.categories_ = {
                c: sorted(frame[c].dropna().astype(str).unique())
                for c in frame.columns
                if is_categorical(frame[c])
            }
        else:
            array = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
            frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
            self.categories_ = {}
        self.n_features_in_ = frame.shape[1]
        y_array = column_or_1d(y, warn=True)
        self.classes_ = binary_classes("LogisticRiskModel", y_array, n_rows=len(frame))
        numeric = frame.drop(columns=list(self.categories_))
        if len(numeric.columns) and np.isinf(self._numeric(numeric).to_numpy()).any():
            raise ValueError("Input X contains infinity or a value too large for dtype('float64').")
        return frame, self._encode(y_array)

    def _encode(self, y: Any) -> np.ndarray:
        return encode_labels(self.classes_, y)

    def _hold_out(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
        )
        try:
            fit_rows, held_rows = next(splitter.split(np.zeros(len(y)), y))
        except ValueError as error:
            raise ValueError(
                f"too few rows of each class to hold out {self.validation_fraction:.0%} for "
                f"calibration ({np.bincount(y).tolist()} rows per class): {error}"
            ) from error
        return fit_rows, held_rows

    def _learn_design(self, frame: pd.DataFrame) -> None:
        """Medians, clip bounds, centres and scales of every design column, from the fit rows."""
        names = list(frame.columns)
        numeric_names = [n for n in names if n not in self.categories_]
        values = self._numeric(frame[numeric_names]).to_numpy() if numeric_names else None
        self.medians_ = np.zeros(len(names))
        self.lower_ = np.full(len(names), -np.inf)
        self.upper_ = np.full(len(names), np.inf)
        self.missing_indicator_ = np.zeros(len(names), dtype=bool)
        for k, name in enumerate(numeric_names):
            j = names.index(name)
            column = values[:, k] if values is not None else np.empty(0)
            seen = column[~np.isnan(column)]
            if len(seen):
                self.medians_[j] = float(np.median(seen))
                low, high = np.quantile(seen, [self.clip_quantile, 1 - self.clip_quantile])
                self.lower_[j], self.upper_[j] = float(low), float(high)
            self.missing_indicator_[j] = bool(np.isnan(column).any())
        self.design_feature_ = np.asarray(self._design_owners(names), dtype=int)
        self.center_ = np.zeros(len(self.design_feature_))
        self.scale_ = np.ones(len(self.design_feature_))
        uncentred = self._design(frame)
        self.center_ = uncentred.mean(axis=0)
        spread = uncentred.std(axis=0)
        scaled = self._scaled_columns(names)
        self.scale_ = np.where(scaled & (spread > 0), spread, 1.0)

    def _design_owners(self, names: list[str]) -> list[int]:
        owners: list[int] = []
        for j, name in enumerate(names):
            if name in self.categories_:
                owners += [j] * len(self.categories_[name])
            else:
                owners += [j] * (2 if self.missing_indicator_[j] else 1)
        return owners

    def _scaled_columns(self, names: list[str]) -> np.ndarray:
        """Numeric values and missing indicators are standardised; category indicators are not."""
        flags: list[bool] = []
        for name in names:
            if name in self.categories_:
                flags += [False] * len(self.categories_[name])
            else:
                flags += [True] * (2 if self.missing_indicator_[names.index(name)] else 1)
        return np.asarray(flags, dtype=bool)

    # -------------------------------------------------------------- predict
    def transform_features(self, X: Any) -> Any:
        """The features as the model reads them: the fitted columns in order (a DataFrame when named)."""
        check_is_fitted(self, "coef_")
        frame = self._frame(X)
        return frame if hasattr(self, "feature_names_in_") else frame.to_numpy(dtype=np.float64)

    def predict_raw(self, X: Any) -> np.ndarray:
        """Log-odds before calibration (the contributions add up to this)."""
        check_is_fitted(self, "coef_")
        return self._raw(self._frame(X))

    def predict_contributions(self, X: Any) -> np.ndarray:
        """Exact contributions, shape (n_rows, n_features + 1); the last column is the bias.

        Feature j's contribution is Σ coefficient × (design value − its mean at fit) over j's design
        columns (its standardised value, its missing indicator, or its category indicators).
        """
        check_is_fitted(self, "coef_")
        design = self._design(self._frame(X))
        terms = (design - self.center_) / self.scale_ * self.coef_
        out = np.zeros((design.shape[0], self.n_features_in_ + 1))
        for k, owner in enumerate(self.design_feature_):
            out[:, owner] += terms[:, k]
        out[:, -1] = self.intercept_
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated probabilities, shape (n_rows, 2): columns follow `classes_`."""
        check_is_fitted(self, "coef_")
        positive = self.calibrator_.predict(self.predict_raw(X))
        return np.column_stack([1 - positive, positive])

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class per row."""
        check_is_fitted(self, "coef_")
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def fingerprint(self) -> str:
        """sha256 of the coefficients, design constants and calibrator: detects an altered model."""
        check_is_fitted(self, "coef_")
        digest = hashlib.sha256()
        for array in (
            self.coef_,
            np.asarray([self.intercept_]),
            self.center_,
            self.scale_,
            self.medians_,
            self.lower_,
            self.upper_,
        ):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        digest.update(repr(sorted(self.categories_.items())).encode("utf-8"))
        digest.update(repr(sorted(self.calibrator_.get_params().items())).encode("utf-8"))
        return digest.hexdigest()

    # -------------------------------------------------------------- helpers
    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        design = self._design(frame)
        return ((design - self.center_) / self.scale_) @ self.coef_ + self.intercept_

    def _frame(self, X: Any) -> pd.DataFrame:
        """X as a DataFrame of the fitted columns, in order; names checked like `RiskModel`'s."""
        if isinstance(X, pd.DataFrame) and hasattr(self, "feature_names_in_"):
            columns = [str(c) for c in X.columns]
            expected = [str(n) for n in self.feature_names_in_]
            check_feature_names(expected, columns)
            return X.set_axis(columns, axis=1)[expected]
        if hasattr(self, "feature_names_in_"):
            raise ModelMismatchError(
                "LogisticRiskModel was fitted on a DataFrame with named features; pass a DataFrame "
                f"with columns {list(self.feature_names_in_)[:5]}… (got {type(X).__name__})"
            )
        array = check_array(
            X.to_numpy() if isinstance(X, pd.DataFrame) else X,
            dtype=np.float64,
            ensure_all_finite="allow-nan",
        )
        if array.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {array.shape[1]} features, but LogisticRiskModel is expecting "
                f"{self.n_features_in_} features as input"
            )
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        """The uncentred design matrix: numeric values (imputed, clipped), indicators, categories."""
        parts: list[np.ndarray] = []
        numeric_names = [n for n in frame.columns if n not in self.categories_]
        numeric = self._numeric(frame[numeric_names]) if numeric_names else frame[[]]
        for j, name in enumerate(frame.columns):
            if name in self.categories_:
                text = frame[name].astype("string").to_numpy(dtype=object, na_value=None)
                known = self.categories_[name]
                parts.append(
                    np.column_stack([text == value for value in known]).astype(float)
                    if known
                    else np.zeros((len(frame), 0))
                )
                continue
            values = numeric[name].to_numpy()
            missing = np.isnan(values)
            filled = np.clip(
                np.where(missing, self.medians_[j], values), self.lower_[j], self.upper_[j]
            )
            parts.append(filled[:, None])
            if self.missing_indicator_[j]:
                parts.append(missing.astype(float)[:, None])
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    @staticmethod
    def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
        return numeric_frame(frame)

    def __sklearn_tags__(self) -> Any:
        return binary_tags(super().__sklearn_tags__())
