"""Shock features on literal events."""

from __future__ import annotations

import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str = "2024-06") -> pd.DataFrame:
    frame = build_features(make_tables(), as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_counts_and_losses() -> None:
    frame = _frame()
    assert frame["events_12m"].tolist() == [2, 0, 1]
    assert frame["events_3m"].tolist() == [1, 0, 1]
    assert frame["event_loss_12m"].tolist() == [5000, 0, 20000]  # a missing loss adds nothing
    assert frame["disasters_12m"].tolist() == [1, 0, 0]
    assert frame["business_failures_3m"].tolist() == [0, 0, 1]
    assert frame["member_deaths_12m"].tolist() == [1, 0, 0]
    assert frame["working_age_deaths_12m"].tolist() == [1, 0, 0]  # P1 was 53
    assert frame["house_damage_12m"].tolist() == [0, 0, 0]


def test_event_leaves_the_window() -> None:
    assert _frame("2024-08").loc["H1", "member_deaths_12m"] == 1
    assert _frame("2024-09").loc["H1", "member_deaths_12m"] == 0


def test_losses_split_by_kind_add_up_to_all_losses() -> None:
    frame = _frame()
    assert frame["disaster_loss_12m"].tolist() == [5000, 0, 0]
    assert frame["death_loss_12m"].tolist() == [0, 0, 0]  # the death has no loss amount
    assert frame["business_loss_12m"].tolist() == [0, 0, 20000]
    assert frame["other_event_loss_12m"].tolist() == [0, 0, 0]
    parts = ["disaster_loss_12m", "death_loss_12m", "business_loss_12m", "other_event_loss_12m"]
    assert frame[parts].sum(axis=1).tolist() == frame["event_loss_12m"].tolist()
    rigid = frame["oop_medical_12m"] + frame[parts].sum(axis=1)
    assert rigid.tolist() == frame["rigid_expense_12m"].tolist()
