"""Stable household fields: type, county, years since exit; snapshot housing fields unused."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def test_stable_fields() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines())
    assert frame["county"].tolist() == ["甲县", "甲县", "乙县"]
    assert list(frame["household_type"].cat.categories) == ["脱贫户", "一般农户"]
    assert frame["is_formerly_poor"].tolist() == [1, 0, 1]
    assert frame["years_since_exit"].tolist()[0] == 5
    assert np.isnan(frame["years_since_exit"].tolist()[1])
    assert frame["relocated"].tolist()[:2] == [1, 0]
    assert np.isnan(frame["relocated"].tolist()[2])
    assert frame["cultivated_land_mu"].tolist()[:2] == [2.5, 4.0]


def test_exit_after_as_of_year_is_missing() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2019-06", "M"), lines=MonitoringLines())
    assert frame["years_since_exit"].tolist()[0] == 0
    assert np.isnan(frame["years_since_exit"].tolist()[2])
