"""Baselines judged on exactly the same rows as the model (issue 4).

- ``rules``: the department rules (DOMAIN.md) as a ranked score, `features.rules.department_rules`.
- ``logistic``: logistic regression on the same features (median imputation with missing indicators,
  scaling, one-hot categories).
- ``income_ratio``: one feature, income-to-line ratio over 12 months; lower ranks riskier.
- ``plain_reference``: LightGBM with default settings on a dozen simple point-in-time aggregates
  (`PLAIN_REFERENCE_FEATURES`).
"""

from __future__ import annotations

from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.model import is_categorical

#: The plain reference's features: simple aggregates, as listed in issue 4.
PLAIN_REFERENCE_FEATURES: tuple[str, ...] = (
    "income_per_capita_12m",
    "oop_medical_3m",
    "oop_medical_12m",
    "inpatient_stays_12m",
    "events_12m",
    "event_loss_12m",
    "members_working_now",
    "spells_ended_6m",
    "assistance_amount_12m",
    "disabled_members",
    "household_size",
    "elderly_members",
    "working_age_members",
)
INCOME_RATIO_FEATURE = "income_to_line_ratio_12m"


def logistic_baseline(features: pd.DataFrame, *, random_state: int = 0) -> Pipeline:
    """An unfitted logistic-regression pipeline for these feature columns (numeric + categorical)."""
    categorical = [c for c in features.columns if is_categorical(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    prepare = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="未知"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                categorical,
            ),
        ]
    )
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
    return Pipeline([("prepare", prepare), ("model", model)])


def fit_logistic(features: pd.DataFrame, y: np.ndarray, *, random_state: int = 0) -> Pipeline:
    """Fit the logistic baseline (categorical columns passed as text)."""
    return logistic_baseline(features, random_state=random_state).fit(_as_text(features), y)


def predict_logistic(pipeline: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class from a fitted logistic baseline."""
    return pipeline.predict_proba(_as_text(features))[:, 1]


def income_ratio_score(features: pd.DataFrame) -> np.ndarray:
    """Risk score from the income-to-line ratio alone: lower ratio = riskier; unknown income ranks mid."""
    ratio = pd.to_numeric(features[INCOME_RATIO_FEATURE], errors="coerce").to_numpy(dtype=float)
    filled = np.where(
        np.isnan(ratio), np.nanmedian(ratio) if np.isfinite(ratio).any() else 0.0, ratio
    )
    return -filled


def plain_reference_columns(columns: Sequence[str]) -> list[str]:
    """The plain reference's features present among `columns` (all of them in a normal run)."""
    return [c for c in PLAIN_REFERENCE_FEATURES if c in set(columns)]


def fit_plain_reference(
    features: pd.DataFrame, y: np.ndarray, *, random_state: int = 0, n_jobs: int = 2
) -> lgb.LGBMClassifier:
    """LightGBM with default settings (100 trees, 31 leaves, no early stopping) on the aggregates."""
    columns = plain_reference_columns(features.columns)
    model = lgb.LGBMClassifier(
        random_state=random_state,
        n_jobs=n_jobs,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    return model.fit(features[columns].astype(float), y)


def predict_plain_reference(model: lgb.LGBMClassifier, features: pd.DataFrame) -> np.ndarray:
    """Probability from a fitted plain reference."""
    proba = np.asarray(model.predict_proba(features[list(model.feature_name_)].astype(float)))
    return proba[:, 1]


def _as_text(features: pd.DataFrame) -> pd.DataFrame:
    out = features.copy()
    for column in out.columns:
        if is_categorical(out[column]):
            out[column] = out[column].astype(object).where(out[column].notna(), "未知").astype(str)
    return out
