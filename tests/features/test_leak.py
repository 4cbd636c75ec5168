"""The leak test over the whole catalogue: nothing dated after as-of, and no time-varying snapshot
field, may change any feature value (DATA_CONTRACT.md, "Time")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_tables import make_tables

from features.build import build_features
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.panel import month_codes

LINES = MonitoringLines()
DATE_COLUMNS = {
    "income": "month",
    "medical": "settle_date",
    "disability": "certified_date",
    "employment": "start_month",
    "assistance": "month",
    "events": "date",
    "outcomes": "identified_month",
}
SNAPSHOT_FIELDS = {
    "members": {
        "health": "患有大病,残疾",
        "labor_skill": "丧失劳动力",
        "school_status": "普通高中一年级",
        "dibao": "农村低保",
        "tekun": "农村特困",
    },
    "households": {"dangerous_house": True, "safe_water": False},
}


def _as_known_at(tables: Tables, as_of: pd.Period) -> Tables:
    """What an export made at `as_of` would hold: records up to then, ends and exits not yet known."""
    changes: dict[str, pd.DataFrame] = {}
    for name, column in DATE_COLUMNS.items():
        frame = getattr(tables, name)
        kept = frame.loc[month_codes(frame[column]) <= as_of.ordinal].copy()
        if name == "employment":
            later = month_codes(kept["end_month"]) > as_of.ordinal
            kept.loc[later, "end_month"] = pd.NaT
        if name == "outcomes":
            later = month_codes(kept["eliminated_month"]) > as_of.ordinal
            kept.loc[later, "eliminated_month"] = pd.NaT
        changes[name] = kept
    return tables.replace(**changes)


def _shifted_later(frame: pd.DataFrame, column: str, as_of: pd.Period, by: int) -> pd.DataFrame:
    """Copies of every row moved to months after `as_of`, with amounts and categories scrambled."""
    later = frame.copy()
    values = later[column]
    if isinstance(values.dtype, pd.PeriodDtype):
        later[column] = pd.Series([as_of + by] * len(later), dtype="period[M]").to_numpy()
    else:
        later[column] = (as_of + by).to_timestamp() + pd.Timedelta(days=3)
    for money in later.select_dtypes("float64").columns:
        later[money] = later[money] * 7 + 1
    return later


@pytest.mark.parametrize("as_of", ["2023-09", "2024-01", "2024-03", "2024-05"])
def test_records_after_as_of_change_nothing(as_of: str) -> None:
    month = pd.Period(as_of, "M")
    full = make_tables()
    known = _as_known_at(full, month)
    expected = build_features(known, as_of=month, lines=LINES)
    pd.testing.assert_frame_equal(build_features(full, as_of=month, lines=LINES), expected)
    more = {
        name: pd.concat([getattr(full, name), _shifted_later(getattr(full, name), col, month, 2)])
        for name, col in DATE_COLUMNS.items()
    }
    pd.testing.assert_frame_equal(
        build_features(full.replace(**more), as_of=month, lines=LINES), expected
    )


def test_altering_records_after_as_of_changes_nothing() -> None:
    month = pd.Period("2024-03", "M")
    full = make_tables()
    before = build_features(full, as_of=month, lines=LINES)
    altered = {}
    for name, column in DATE_COLUMNS.items():
        frame = getattr(full, name).copy()
        after = month_codes(frame[column]) > month.ordinal
        for money in frame.select_dtypes("float64").columns:
            frame.loc[after, money] = frame.loc[after, money] * 3 + 11
        altered[name] = frame
    spells = altered["employment"]
    spells.loc[month_codes(spells["end_month"]) > month.ordinal, "end_month"] = pd.Period(
        "2030-01", "M"
    )
    pd.testing.assert_frame_equal(
        build_features(full.replace(**altered), as_of=month, lines=LINES), before
    )


@pytest.mark.parametrize("as_of", ["2023-09", "2024-06"])
def test_time_varying_snapshot_fields_change_nothing(as_of: str) -> None:
    month = pd.Period(as_of, "M")
    full = make_tables()
    before = build_features(full, as_of=month, lines=LINES)
    changes = {}
    for table, fields in SNAPSHOT_FIELDS.items():
        frame = getattr(full, table).copy()
        for column, value in fields.items():
            frame[column] = pd.Series([value] * len(frame), dtype=frame[column].dtype).to_numpy()
        changes[table] = frame
    after = build_features(full.replace(**changes), as_of=month, lines=LINES)
    pd.testing.assert_frame_equal(after, before)


def test_the_leak_test_can_fail() -> None:
    """A record in the as-of month itself must move the features (so the checks above have teeth)."""
    month = pd.Period("2024-03", "M")
    full = make_tables()
    before = build_features(full, as_of=month, lines=LINES)
    in_month = _shifted_later(full.medical, "settle_date", month, 0)
    after = build_features(
        full.replace(medical=pd.concat([full.medical, in_month])), as_of=month, lines=LINES
    )
    assert not np.array_equal(
        after["oop_medical_1m"].to_numpy(), before["oop_medical_1m"].to_numpy()
    )


# --- the strongest leak test: an export made at M against the final export ------------------------

EXPORT_MONTH = "2025-12"


@pytest.fixture(scope="module")
def exported_county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tables, Tables]:
    """A small simulated county written as exported at EXPORT_MONTH and at its last month."""
    from features.contract.io import load_directory  # noqa: PLC0415
    from simulation import simulate, write_simulation  # noqa: PLC0415

    sim = simulate(households=400, months=30, seed=11, truth=False, export_at=(EXPORT_MONTH,))
    out = write_simulation(sim, tmp_path_factory.mktemp("export_at") / "county", fmt="parquet")
    final = load_directory(out, pseudonym_key=b"leak-test").tables
    early = load_directory(out / f"export_{EXPORT_MONTH}", pseudonym_key=b"leak-test").tables
    return final, early


def _member_sets(members: pd.DataFrame) -> pd.Series:
    return members.groupby("household_id")["person_id"].agg(lambda ids: tuple(sorted(ids)))


def _row_keys(income: pd.DataFrame) -> pd.Series:
    return income["household_id"].astype(str) + "|" + income["month"].astype(str)


@pytest.mark.slow
def test_features_from_an_export_at_m_equal_those_from_the_final_export(
    exported_county: tuple[Tables, Tables],
) -> None:
    """Features for M from the final directory equal those from the directory exported at M.

    Two differences are the simulator's realism, not leaks, and are set aside explicitly:
    income rows for months ≤ M that arrived after M (reporting delay: only the rows the export at
    M holds are compared), and households whose members changed after M (the members snapshot
    of the final export no longer lists people who left, and the loader drops their records).
    """
    final, early = exported_county
    month = pd.Period(EXPORT_MONTH, "M")
    final_sets, early_sets = _member_sets(final.members), _member_sets(early.members)
    same = final_sets.index[final_sets.eq(early_sets.reindex(final_sets.index))]
    assert len(same) >= 0.95 * len(final_sets)
    known_rows = set(_row_keys(early.income))
    aligned = final.replace(income=final.income.loc[_row_keys(final.income).isin(known_rows)])
    from_final = build_features(aligned, as_of=month, lines=LINES).set_index("household_id")
    from_early = build_features(early, as_of=month, lines=LINES).set_index("household_id")
    pd.testing.assert_frame_equal(from_final.loc[same], from_early.loc[same], check_exact=True)


@pytest.mark.slow
def test_the_export_at_m_income_rows_are_in_the_final_export_unchanged(
    exported_county: tuple[Tables, Tables],
) -> None:
    final, early = exported_county
    columns = ["household_id", "month", "wage_income", "business_income", "transfer_income"]
    merged = early.income[columns].merge(
        final.income[columns], on=["household_id", "month"], how="left", suffixes=("", "_final")
    )
    assert merged["wage_income_final"].notna().all()
    assert np.allclose(merged["wage_income"], merged["wage_income_final"], equal_nan=True)
