"""Assistance features on literal payments."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def test_payments() -> None:
    frame = build_features(
        make_tables(), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines()
    ).set_index("household_id")
    assert frame["assistance_amount_12m"].tolist() == [800, 0, 3000]
    assert frame["assistance_amount_3m"].tolist() == [800, 0, 3000]
    assert frame["dibao_months_12m"].tolist() == [2, 0, 0]
    assert frame["dibao_amount_12m"].tolist() == [800, 0, 0]
    assert frame["fangpinbao_payout_12m"].tolist() == [0, 0, 3000]
    assert frame["temporary_assistance_12m"].tolist() == [0, 0, 0]  # 2023-01 is out of window
    assert frame.loc["H1", "months_since_assistance"] == 1
    assert frame.loc["H1", "months_since_hardship_payment"] == 17
    assert np.isnan(frame.loc["H2", "months_since_assistance"])
    assert frame["assistance_feed_months_12m"].tolist() == [2, 2, 1]


def test_snapshot_dibao_status_is_not_used() -> None:
    tables = make_tables()
    members = tables.members.assign(dibao="农村低保")
    frame = build_features(
        tables.replace(members=members), as_of=pd.Period("2024-06", "M"), lines=MonitoringLines()
    )
    assert frame["dibao_months_12m"].tolist() == [2, 0, 0]
