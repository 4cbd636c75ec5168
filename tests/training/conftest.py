"""Small synthetic feature frames for the training tests (fast, deterministic)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def synthetic_features(n: int = 3000, *, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Features named as the catalogue's, with a known risk: low income and high medical cost."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(9.2, 0.5, n)
    oop = rng.exponential(2000, n)
    frame = pd.DataFrame(
        {
            "income_per_capita_12m": income,
            "income_to_line_ratio_12m": income / 7300,
            "oop_medical_3m": oop / 4,
            "oop_medical_12m": oop,
            "inpatient_stays_12m": rng.poisson(0.3, n).astype(float),
            "events_12m": rng.poisson(0.1, n).astype(float),
            "event_loss_12m": rng.exponential(500, n),
            "members_working_now": rng.integers(0, 3, n).astype(float),
            "spells_ended_6m": rng.poisson(0.2, n).astype(float),
            "assistance_amount_12m": rng.exponential(300, n),
            "disabled_members": rng.binomial(1, 0.1, n).astype(float),
            "household_size": rng.integers(1, 6, n).astype(float),
            "elderly_members": rng.integers(0, 3, n).astype(float),
            "working_age_members": rng.integers(0, 4, n).astype(float),
            "county": pd.Categorical(rng.choice(["甲县", "乙县"], n)),
            "household_type": pd.Categorical(rng.choice(["脱贫户", "一般农户"], n)),
        }
    )
    frame.loc[rng.random(n) < 0.05, "income_per_capita_12m"] = np.nan
    logit = (
        -3.0
        - 1.5 * np.log(frame["income_to_line_ratio_12m"])
        + 0.0004 * frame["oop_medical_12m"]
        + 0.8 * frame["disabled_members"]
        + 0.5 * (frame["county"] == "甲县")
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, y


@pytest.fixture(scope="session")
def features_and_labels() -> tuple[pd.DataFrame, np.ndarray]:
    return synthetic_features()
