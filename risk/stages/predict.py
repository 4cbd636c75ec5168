"""Prediction: the calibrated probability and raw log-odds of every household not monitored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk.stages.features import PartFeatures


@dataclass(frozen=True)
class PartPredictions:
    """One partition after the prediction stage (stays where the partition runs).

    Attributes
    ----------
    part
        The partition after the features stage.
    predictions
        ``probability`` and ``raw_score`` of its candidates (`PartFeatures.candidates`), same index.
    """

    part: PartFeatures
    predictions: pd.DataFrame


def predict_households(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Calibrated probability and raw log-odds per household (index kept).

    Uses the model's own ``predict_raw`` (trees or a linear model alike), then its calibrator, so the
    features are prepared a single time for both values.
    """
    names = [str(n) for n in model.feature_names_in_]
    ordered = features.loc[:, names]
    if len(ordered) == 0:
        return pd.DataFrame({"probability": [], "raw_score": []}, index=features.index)
    raw = np.asarray(model.predict_raw(ordered), dtype=float)
    probability = np.clip(np.asarray(model.calibrator_.predict(raw), dtype=float), 0.0, 1.0)
    return pd.DataFrame({"probability": probability, "raw_score": raw}, index=features.index)


def predict_part(part: PartFeatures, *, model: Any) -> PartPredictions:
    """`predict_households` for a partition's candidates (a partition step)."""
    return PartPredictions(part=part, predictions=predict_households(model, part.candidates))
