"""The case register (issue 16, part 3): dated steps of each identification, some late, some short.

Checked on the shared small county against the outcomes table and against the step rows themselves;
the deadline logic of `risk review` is tested against this truth in tests/risk/review/test_cases.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.io import load_directory
from simulation import Simulation
from simulation.cases import STEPS, case_register

STEP_ORDER = {name: number for number, name in enumerate(STEPS)}


def _day(text: str) -> date:
    return date.fromisoformat(text)


def test_the_register_covers_the_recent_identifications_and_the_open_cases(
    small_simulation: Simulation,
) -> None:
    truth = small_simulation.case_truth
    assert truth is not None
    outcomes = small_simulation.tables["outcomes"]
    export = max(outcomes["identified_month"].astype(str))
    recent = outcomes.loc[outcomes["identified_month"].astype(str) > str(pd.Period(export) - 12)]
    closed = truth.loc[~truth["open"]]
    assert sorted(zip(closed["household_id"], closed["identified_month"], strict=True)) == sorted(
        zip(recent["household_id"].astype(str), recent["identified_month"].astype(str), strict=True)
    )
    assert truth["case_id"].is_unique
    assert (truth["as_of"] == pd.Period(export).end_time.date().isoformat()).all()
    approved = pd.PeriodIndex(closed["approved_date"], freq="M").astype(str)
    assert (approved == closed["identified_month"].to_numpy()).all()
    monitored = set(outcomes.loc[outcomes["eliminated_month"].isna(), "household_id"].astype(str))
    assert not set(truth.loc[truth["open"], "household_id"]) & monitored


def test_some_cases_are_late_some_notices_short_some_still_open(
    small_simulation: Simulation,
) -> None:
    truth = small_simulation.case_truth
    assert truth is not None
    for column in ("overdue", "notice_too_short", "open"):
        assert 0 < truth[column].sum() < len(truth), column
    assert (truth.loc[~truth["overdue"], "days_open"] <= 15).all()
    late = truth.loc[truth["overdue"]]
    assert (late["overdue_days"] == late["days_open"] - 15).all()
    short = truth.loc[truth["notice_too_short"], "notice_days"]
    assert short.between(2, 4).all()


def test_the_truth_follows_from_the_step_rows(small_simulation: Simulation) -> None:
    steps, truth = small_simulation.case_steps, small_simulation.case_truth
    assert steps is not None and truth is not None
    for case in truth.itertuples(index=False):
        rows = steps.loc[steps["案件编号"] == case.case_id]
        assert (rows["户编号"] == case.household_id).all()
        order = rows["步骤"].map(STEP_ORDER).to_list()
        assert order == list(range(len(order))), case.case_id
        dated = [
            _day(row["公示开始日期"]) if row["步骤"] == "公示" else _day(row["日期"])
            for _, row in rows.iterrows()
        ]
        ends = [
            _day(row["公示结束日期"]) if row["步骤"] == "公示" else _day(row["日期"])
            for _, row in rows.iterrows()
        ]
        assert all(b >= a for a, b in zip(ends, dated[1:], strict=False)), case.case_id
        assert dated[0] == _day(case.lead_date) and max(ends) <= _day(case.as_of)
        if case.open:
            assert "县级审定" not in set(rows["步骤"])
        else:
            assert rows["步骤"].iloc[-1] == "县级审定" and ends[-1] == _day(case.approved_date)
        notice = rows.loc[rows["步骤"] == "公示"]
        if len(notice):
            length = (
                _day(notice["公示结束日期"].iloc[0]) - _day(notice["公示开始日期"].iloc[0])
            ).days
            assert case.notice_days == length + 1
        else:
            assert np.isnan(case.notice_days)


def test_register_is_written_beside_the_tables_and_not_read_as_data(small_county: Path) -> None:
    register = small_county / "_cases" / "办理步骤.xlsx"
    truth = pd.read_parquet(small_county / "_truth" / "cases.parquet")
    rows = pd.read_excel(register, dtype=str).fillna("")
    assert list(rows.columns[:7]) == [
        "户编号",
        "步骤",
        "日期",
        "公示开始日期",
        "公示结束日期",
        "经办人",
        "备注",
    ]
    assert set(rows["案件编号"]) == set(truth["case_id"])
    loaded = load_directory(small_county, pseudonym_key=b"register-test")  # nothing to complain of
    assert len(loaded.tables.outcomes) > 0


def test_register_is_reproducible_and_drawn_from_its_own_stream() -> None:
    outcomes = pd.DataFrame(
        {"household_id": ["A", "B", "C"], "identified_month": ["2026-08", "2026-09", "2026-10"]}
    )
    pending = np.array(["D"])
    one, two = (
        case_register(outcomes, pending, export_month="2026-10", rng=np.random.default_rng(4))
        for _ in range(2)
    )
    pd.testing.assert_frame_equal(one.steps, two.steps)
    pd.testing.assert_frame_equal(one.truth, two.truth)
    assert list(one.truth["household_id"]) == ["A", "B", "C", "D"]
    assert one.truth["open"].tolist() == [False, False, False, True]
