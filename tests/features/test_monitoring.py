"""Monitoring history from outcomes: episodes, months since elimination, dated by their own months."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str) -> pd.DataFrame:
    frame = build_features(make_tables(), as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_history() -> None:
    frame = _frame("2024-06")
    assert frame["previous_monitoring_episodes"].tolist() == [0, 0, 1]
    assert frame.loc["H3", "months_since_risk_eliminated"] == 12
    assert np.isnan(frame.loc["H1", "months_since_risk_eliminated"])
    assert frame["monitored_now"].tolist() == [1, 0, 0]


def test_elimination_after_as_of_is_not_known() -> None:
    frame = _frame("2023-05")
    assert frame.loc["H3", "previous_monitoring_episodes"] == 0
    assert frame.loc["H3", "monitored_now"] == 1
    assert _frame("2022-02").loc["H3", "monitored_now"] == 0
