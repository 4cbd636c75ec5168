"""Employment features on literal spells: coverage of a month, open spells, unemployment months."""

from __future__ import annotations

import numpy as np
import pandas as pd
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines


def _frame(as_of: str = "2024-06", **overrides: object) -> pd.DataFrame:
    tables = make_tables(**overrides)  # type: ignore[arg-type]
    frame = build_features(tables, as_of=pd.Period(as_of, "M"), lines=MonitoringLines())
    return frame.set_index("household_id")


def test_working_now_with_open_and_not_yet_ended_spells() -> None:
    frame = _frame()
    # P3: spell from 2024-04 with an empty end; P2: spell ending 2024-08 (after as-of).
    assert frame["members_working_now"].tolist() == [2, 0, 0]
    assert frame["members_working_in_county"].tolist() == [1, 0, 0]
    assert frame["members_working_in_province"].tolist() == [1, 0, 0]
    assert frame["members_working_out_of_province"].tolist() == [0, 0, 0]
    assert frame.loc["H1", "monthly_wage_now"] == 3200


def test_end_month_is_included() -> None:
    assert _frame("2024-03").loc["H1", "members_working_out_of_province"] == 1
    assert _frame("2024-04").loc["H1", "members_working_out_of_province"] == 0


def test_spells_ended_and_short_share() -> None:
    frame = _frame()
    assert frame.loc["H1", "spells_ended_3m"] == 0
    assert frame.loc["H1", "spells_ended_6m"] == 1  # P1's ended 2024-03
    assert frame.loc["H1", "short_spell_share_12m"] == 0.0
    early = _frame("2023-07")  # P3's 3-month spell ended 2023-05
    assert early.loc["H1", "short_spell_share_12m"] == 1.0
    assert np.isnan(frame.loc["H2", "short_spell_share_12m"])


def test_months_unemployed_among_able_members() -> None:
    frame = _frame()
    # P3 able and without a spell 2024-01..03; P1 not able (大病 claim); P5 never worked.
    assert frame.loc["H1", "months_unemployed_6m"] == 3
    assert frame.loc["H1", "months_unemployed_3m"] == 0
    assert frame.loc["H2", "months_unemployed_6m"] == 6
    assert frame.loc["H3", "months_unemployed_6m"] == 0  # 70 years old


def test_only_months_the_feed_covers() -> None:
    tables = make_tables()
    late = tables.employment.loc[tables.employment["person_id"] == "P3"].iloc[[1]]
    # 甲县's feed now starts 2024-04: 3 covered months in the last 6.
    frame = _frame(employment=late)
    assert frame.loc["H2", "employment_feed_months_6m"] == 3
    assert frame.loc["H2", "months_unemployed_6m"] == 3
