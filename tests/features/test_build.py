"""build_features / build_panel: shape, order, missing tables, and the panel equals month by month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_tables import make_tables

from features.build import build_features, build_panel
from features.catalogue import CATALOGUE, feature_names
from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines

LINES = MonitoringLines()
SOURCES = ("income", "medical", "disability", "employment", "assistance", "events", "outcomes")


def test_one_row_per_household_in_order() -> None:
    tables = make_tables()
    frame = build_features(tables, as_of=pd.Period("2024-06", "M"), lines=LINES)
    assert frame["household_id"].tolist() == ["H1", "H2", "H3"]
    assert (frame["month"] == pd.Period("2024-06", "M")).all()
    assert str(frame["month"].dtype) == "period[M]"


def test_panel_equals_month_by_month() -> None:
    tables = make_tables()
    months = list(pd.period_range("2023-01", "2024-06", freq="M"))[::-1][:14]
    panel = build_panel(tables, months=months, lines=LINES)
    one_by_one = pd.concat(
        [build_features(tables, as_of=m, lines=LINES) for m in months], ignore_index=True
    )
    pd.testing.assert_frame_equal(panel, one_by_one, check_exact=True)


def test_panel_rejects_repeated_or_no_months() -> None:
    month = pd.Period("2024-06", "M")
    with pytest.raises(DataContractError, match="repeat"):
        build_panel(make_tables(), months=[month, month], lines=LINES)
    with pytest.raises(DataContractError, match="at least one"):
        build_panel(make_tables(), months=[], lines=LINES)


@pytest.mark.parametrize("missing", SOURCES)
def test_missing_table_gives_missing_features(missing: str) -> None:
    month = pd.Period("2024-06", "M")
    frame = build_features(make_tables(**{missing: None}), as_of=month, lines=LINES)
    own = [s.name for s in CATALOGUE if s.source.split("+")[0] == missing]
    assert own
    assert frame[own].isna().all().all(), missing
    full = build_features(make_tables(), as_of=month, lines=LINES)
    assert full[own].notna().any().any()


def test_empty_tables_give_zeros_not_missing() -> None:
    month = pd.Period("2024-06", "M")
    tables = make_tables()
    empty = {name: getattr(tables, name).iloc[0:0] for name in SOURCES}
    frame = build_features(tables.replace(**empty), as_of=month, lines=LINES)
    for name in ("oop_medical_12m", "disabled_members", "events_12m", "assistance_amount_12m"):
        assert frame[name].tolist() == [0.0, 0.0, 0.0], name
    assert frame["income_months_observed_12m"].tolist() == [0.0, 0.0, 0.0]
    assert frame["income_per_capita_12m"].isna().all()


def test_household_without_records_is_all_zero_or_missing() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=LINES)
    h2 = frame.loc[frame["household_id"] == "H2"].iloc[0]
    for name in ("oop_medical_12m", "inpatient_stays_12m", "events_12m", "disabled_members"):
        assert h2[name] == 0.0
    for name in ("income_per_capita_12m", "months_since_assistance"):
        assert np.isnan(h2[name])


def test_all_names_float_or_category() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=LINES)
    assert list(frame.columns[2:]) == feature_names()


def _write_directory(tables, folder) -> None:  # noqa: ANN001
    """The literal tables as contract CSV files (months YYYY-MM, dates YYYY-MM-DD)."""
    folder.mkdir()
    for name, frame in tables.present():
        text = frame.copy()
        for column in text.columns:
            if isinstance(text[column].dtype, pd.PeriodDtype):
                text[column] = text[column].astype(str).replace("NaT", "")
            elif pd.api.types.is_datetime64_any_dtype(text[column].dtype):
                text[column] = text[column].dt.strftime("%Y-%m-%d")
        text.to_csv(folder / f"{name}.csv", index=False)


def _run_cli(argv: list[str]) -> int:
    from risk.cli import main  # noqa: PLC0415

    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0)


def test_cli_writes_the_same_features(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "test-key")
    _write_directory(make_tables(), tmp_path / "data")
    out = tmp_path / "out" / "features.parquet"
    argv = ["features", "--data", str(tmp_path / "data"), "--month", "2024-06", "--out", str(out)]
    assert _run_cli(argv) == 0
    written = pd.read_parquet(out)
    expected = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=LINES)
    assert list(written.columns) == list(expected.columns)
    numeric = [s.name for s in CATALOGUE if s.kind == "numeric"]
    np.testing.assert_array_equal(written[numeric].to_numpy(), expected[numeric].to_numpy())
    assert written["household_id"].tolist() == ["H1", "H2", "H3"]


def test_cli_bad_month_is_a_usage_error(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "test-key")
    _write_directory(make_tables(), tmp_path / "data")
    out = tmp_path / "features.parquet"
    argv = ["features", "--data", str(tmp_path / "data"), "--month", "2024-13", "--out", str(out)]
    assert _run_cli(argv) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_panel_equals_month_by_month_on_the_small_county(small_county) -> None:  # noqa: ANN001
    from features.contract.io import load_directory  # noqa: PLC0415

    tables = load_directory(small_county, pseudonym_key=b"test").tables
    months = [tables.export_month - k for k in (13, 7, 2, 1, 0)]
    panel = build_panel(tables, months=months, lines=LINES)
    one_by_one = pd.concat(
        [build_features(tables, as_of=m, lines=LINES) for m in months], ignore_index=True
    )
    pd.testing.assert_frame_equal(panel, one_by_one, check_exact=True)
    latest = panel.loc[panel["month"] == tables.export_month]
    assert latest["household_id"].is_unique and len(latest) == len(tables.households)
    for name in ("income_per_capita_12m", "oop_medical_12m", "members_working_now"):
        assert latest[name].notna().mean() > 0.5, name
        assert latest[name].nunique() > 5, name


def test_rigid_expense_and_calendar() -> None:
    frame = build_features(make_tables(), as_of=pd.Period("2024-06", "M"), lines=LINES)
    h1 = frame.set_index("household_id").loc["H1"]
    assert h1["rigid_expense_12m"] == 18300 + 5000
    assert h1["rigid_expense_to_income_12m"] == pytest.approx(23300 / 15000)
    assert h1["income_after_rigid_to_line_12m"] == pytest.approx((15000 - 23300) / (7300 * 4))
    assert frame["month_of_year"].tolist() == [6.0, 6.0, 6.0]
