"""Calibration: map raw model scores (log-odds) to probabilities that mean what they say.

Two methods: Platt scaling (a logistic fit on the log-odds: smooth, 2 parameters) and isotonic
regression (monotone step function: flexible, needs more data). `choose_calibrator` picks between them
by cross-validated log-loss on the held-out rows it is given — the method is never judged on the rows it
was fitted on — and then fits the winner on all of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

METHODS: tuple[str, ...] = ("isotonic", "platt")
_EPS = 1e-6


class Calibrator(BaseEstimator):
    """Monotone map from raw scores to probabilities.

    Parameters
    ----------
    method
        ``"platt"`` or ``"isotonic"``.

    Attributes
    ----------
    mapping_
        The fitted scikit-learn regressor/classifier.
    """

    def __init__(self, method: str = "platt") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        """Fit on raw scores (1-D) and binary labels; returns self."""
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        raw, y = _check(raw, y)
        if self.method == "platt":
            self.mapping_: Any = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
        else:
            self.mapping_ = IsotonicRegression(
                y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip"
            ).fit(raw, y)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of the positive class for each raw score."""
        check_is_fitted(self, "mapping_")
        raw = np.asarray(raw, dtype=float).ravel()
        if self.method == "platt":
            return self.mapping_.predict_proba(raw.reshape(-1, 1))[:, 1]
        return np.clip(self.mapping_.predict(raw), _EPS, 1 - _EPS)


def choose_calibrator(
    raw: np.ndarray, y: np.ndarray, *, folds: int = 5, random_state: int = 0
) -> tuple[Calibrator, dict[str, float]]:
    """Pick isotonic or Platt by cross-validated log-loss on held-out rows, then fit it on all of them.

    Returns
    -------
    (Calibrator, dict)
        The fitted winner and each method's cross-validated log-loss.
    """
    raw, y = _check(raw, y)
    n_pos = int(y.sum())
    folds = min(folds, n_pos, len(y) - n_pos)
    if folds < 2:
        # too few held-out rows of one class to compare methods honestly: the smooth method
        return Calibrator("platt").fit(raw, y), {}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    losses = {}
    for method in METHODS:
        predicted = np.empty(len(y))
        for fit_rows, test_rows in splitter.split(raw.reshape(-1, 1), y):
            predicted[test_rows] = (
                Calibrator(method).fit(raw[fit_rows], y[fit_rows]).predict(raw[test_rows])
            )
        losses[method] = float(log_loss(y, np.clip(predicted, _EPS, 1 - _EPS), labels=[0, 1]))
    best = min(METHODS, key=lambda m: (losses[m], m != "platt"))
    return Calibrator(best).fit(raw, y), losses


def _check(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.asarray(raw, dtype=float).ravel()
    y = np.asarray(y).ravel().astype(int)
    if len(raw) != len(y):
        raise ValueError(f"raw scores ({len(raw)}) and labels ({len(y)}) differ in length")
    if len(np.unique(y)) < 2:
        raise ValueError("calibration needs both classes among the held-out rows; got only one")
    return raw, y
