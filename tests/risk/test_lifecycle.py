"""The lifecycle rules on literal frames: who is where, each exit condition, worsening, relapse watch."""

from __future__ import annotations

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from risk.config import config_from_dict
from risk.lifecycle import (
    CONDITIONS,
    LifecycleParams,
    lifecycle_households,
    monitored_status,
    relapse_watch,
)

EXPORT = pd.Period("2026-06", "M")
LINES = MonitoringLines(default={2025: 7800.0, 2026: 8000.0})
PARAMS = LifecycleParams()


def _periods(values: list[str | None]) -> pd.PeriodIndex:
    return pd.PeriodIndex(values, freq="M")


def _tables(
    *,
    monthly_income: float = 3000.0,
    income_months: int = 6,
    oop: float = 0.0,
    event: str | None = None,
    assistance_month: str | None = "2026-02",
    dangerous_house: bool = False,
    safe_water: bool = True,
) -> Tables:
    """One household (H1, 3 members) identified 2026-01, with records to vary one at a time."""
    months = [str(EXPORT - k) for k in range(income_months)]
    households = pd.DataFrame({
        "household_id": ["H1"], "county": ["甲县"], "township": ["城关镇"], "village": ["一村"],
        "household_type": ["脱贫户"], "dangerous_house": [dangerous_house],
        "safe_water": [safe_water],
    })  # fmt: skip
    members = pd.DataFrame({
        "person_id": ["P1", "P2", "P3"], "household_id": ["H1"] * 3,
        "relation": ["户主", "配偶", "子女"], "birth_date": pd.to_datetime(["1970-01-01"] * 3),
        "medical_insured": [True, True, True],
    })  # fmt: skip
    income = pd.DataFrame({
        "household_id": ["H1"] * len(months), "month": _periods(months),
        "wage_income": [monthly_income] * len(months),
    })  # fmt: skip
    medical = pd.DataFrame({
        "person_id": ["P2"], "settle_date": pd.to_datetime(["2026-05-10"]),
        "visit_type": ["住院"], "total_cost": [oop * 2], "out_of_pocket": [oop],
    })  # fmt: skip
    events = pd.DataFrame({
        "household_id": ["H1"] if event else [], "date": pd.to_datetime(["2026-05-03"] if event else []),
        "event_type": [event] if event else [],
    })  # fmt: skip
    assistance = pd.DataFrame({
        "household_id": ["H1"] if assistance_month else [],
        "month": _periods([assistance_month] if assistance_month else []),
        "type": ["公益岗位补贴"] if assistance_month else [], "amount": [500.0] if assistance_month else [],
    })  # fmt: skip
    outcomes = pd.DataFrame({
        "household_id": ["H1"], "identified_month": _periods(["2026-01"]),
        "category": ["脱贫不稳定户"], "eliminated_month": _periods([None]),
    })  # fmt: skip
    return Tables(
        households=households, members=members, export_month=EXPORT, income=income,
        medical=medical, events=events, assistance=assistance, outcomes=outcomes,
    )  # fmt: skip


def _status(tables: Tables, month: pd.Period = EXPORT) -> pd.Series:
    stages = lifecycle_households(tables.outcomes, month=month, window=24)
    monitored = stages.loc[stages["stage"] == "monitored"]
    frame = monitored_status(tables, monitored, month=month, lines=LINES, params=PARAMS)
    assert len(frame) == 1
    return frame.iloc[0]


def test_every_condition_met_is_ready_to_exit_with_its_evidence():
    row = _status(_tables())
    assert row["status"] == "ready_to_exit"
    assert all(row[c] for c in CONDITIONS)
    assert row["missing_zh"] == ""
    assert "12,000元" in row["evidence"]  # 3,000 a month × 12 / 3 members, against 8,000
    assert "公益岗位补贴（2026-02）" in row["evidence"]


@pytest.mark.parametrize(
    ("change", "condition", "missing"),
    [
        ({"monthly_income": 1800.0}, "income_stable", "未超过监测线"),  # 7,200 < 8,000
        ({"income_months": 4}, "income_stable", "不足6个月"),
        ({"oop": 6000.0}, "no_rigid_shock", "医疗自付6,000元"),
        ({"event": "自然灾害"}, "no_rigid_shock", "自然灾害（2026-05）"),
        ({"assistance_month": None}, "assistance_delivered", "尚无帮扶"),
        ({"assistance_month": "2025-11"}, "assistance_delivered", "尚无帮扶"),  # before
        ({"dangerous_house": True}, "secure_basics", "危房"),
        ({"safe_water": False}, "secure_basics", "未解决安全饮水"),
    ],
)
def test_each_condition_missing_keeps_the_household_and_says_why(change, condition, missing):
    row = _status(_tables(**change))
    assert row["status"] in {"keep_supporting", "worsening"}
    assert not row[condition]
    assert all(row[c] for c in CONDITIONS if c != condition)
    assert missing in row["missing_zh"]


def test_the_snapshot_is_used_for_the_export_month_only():
    tables = _tables()
    earlier = EXPORT - 1
    row = _status(tables, month=earlier)
    assert not row["secure_basics"]
    assert "无法核实" in row["missing_zh"]
    assert row["status"] == "keep_supporting"
    # a safe house in the snapshot does not make an earlier month ready, nor does a dangerous one
    # change it: the earlier month reads no snapshot value
    unsafe = _status(_tables(dangerous_house=True, safe_water=False), month=earlier)
    assert unsafe["missing_zh"] == row["missing_zh"]


def test_a_new_shock_or_falling_income_while_monitored_is_worsening():
    shocked = _status(_tables(event="家庭成员死亡"))
    assert shocked["status"] == "worsening"
    assert "家庭成员死亡" in shocked["reason_zh"]
    tables = _tables()
    income = tables.income.copy()
    income.loc[income["month"] > EXPORT - 3, "wage_income"] = 2000.0  # a third less
    fallen = _status(tables.replace(income=income))
    assert fallen["status"] == "worsening"
    assert "下降33%" in fallen["reason_zh"]


def test_the_shock_that_led_to_monitoring_is_not_worsening():
    tables = _tables()
    events = pd.DataFrame({
        "household_id": ["H1"], "date": pd.to_datetime(["2026-01-05"]),
        "event_type": ["自然灾害"],
    })  # fmt: skip
    assert (
        _status(tables.replace(events=events), month=pd.Period("2026-03", "M"))["status"]
        != "worsening"
    )


def test_stages_monitored_exited_within_the_window_and_months_in_stage():
    outcomes = pd.DataFrame({
        "household_id": ["A", "B", "C", "D", "D"],
        "identified_month": _periods(["2026-01", "2024-01", "2021-01", "2024-01", "2026-03"]),
        "eliminated_month": _periods([None, "2025-06", "2022-01", "2024-12", None]),
    })  # fmt: skip
    stages = lifecycle_households(outcomes, month=EXPORT, window=24)
    assert stages[["household_id", "stage", "months_in_stage"]].values.tolist() == [
        ["A", "monitored", 5],
        ["B", "exited", 12],
        ["D", "monitored", 3],  # relapsed: monitored again, not exited
    ]
    assert lifecycle_households(outcomes, month=EXPORT, window=12)["household_id"].tolist() == [
        "A",
        "D",
    ]


def test_relapse_watch_takes_the_top_share_or_capacity_ties_by_id():
    probability = pd.Series([0.1, 0.5, 0.5, 0.05], index=["d", "c", "b", "a"])
    share = relapse_watch(probability, params=LifecycleParams(relapse_share=0.5))
    assert share.to_dict() == {
        "d": "stable",
        "c": "relapse_risk",
        "b": "relapse_risk",
        "a": "stable",
    }
    one = relapse_watch(probability, params=LifecycleParams(relapse_capacity=1))
    assert one[one == "relapse_risk"].index.tolist() == ["b"]


def test_lifecycle_section_of_the_config():
    config = config_from_dict({"lifecycle": {"stable_income_months": 4, "relapse_capacity": 30}})
    assert config.lifecycle.stable_income_months == 4
    assert config.lifecycle.relapse_capacity == 30
    with pytest.raises(ConfigError, match=r"\[lifecycle\] shock_events"):
        config_from_dict({"lifecycle": {"shock_events": ["地震"]}})
    with pytest.raises(ConfigError, match=r"\[lifecycle\] unknown key"):
        config_from_dict({"lifecycle": {"months": 6}})
    with pytest.raises(ConfigError, match=r"\[lifecycle\] stable_income_months"):
        config_from_dict({"lifecycle": {"stable_income_months": 13}})
