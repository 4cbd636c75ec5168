"""Loading a data directory: normalised frames, formats, row numbers, export month, coverage."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import openpyxl
import pandas as pd
import pytest
from contract_frames import HEAD_1, KEY, SPOUSE_1, WIFE_3

from features.contract.errors import DataContractError
from features.contract.io import Tables, load_directory, validate_directory
from features.contract.pseudonym import pseudonym
from features.contract.schema import CONTRACT


def test_frames_follow_the_architecture(frames, make_dir):
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    assert isinstance(tables, Tables)
    for name, frame in tables.present():
        assert list(frame.columns) == [*CONTRACT[name].column_names, "source_row"]
        assert frame["source_row"].dtype == np.int64
    households, members, income = tables.households, tables.members, tables.income
    assert households["household_id"].dtype == "str"
    assert households["exit_year"].dtype == "Int64"
    assert households["relocated"].dtype == "boolean"
    assert households["dangerous_house"].isna().all()  # absent optional column: all missing
    assert households["cultivated_land_mu"].dtype == np.float64
    assert members["birth_date"].dtype == "datetime64[ns]"
    assert members["health"].tolist()[:2] == ["健康", "长期慢性病,残疾"]
    assert members["education"].isna().all()
    assert income["month"].dtype == pd.PeriodDtype("M")
    assert income["wage_income"].tolist() == [1200.0, 800.0, 3000.0, 0.0]
    assert np.isnan(income["transfer_income"].iloc[2])
    assert tables.disability["grade"].dtype == "Int64"
    assert tables.employment["end_month"].isna().tolist() == [False, True]


def test_export_month_is_the_latest_dated_month(frames, make_dir):
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    assert tables.export_month == pd.Period("2024-04", "M")
    frames["events"].loc[0, "date"] = "2024-07-02"
    tables = load_directory(make_dir(frames, name="later"), pseudonym_key=KEY).tables
    assert tables.export_month == pd.Period("2024-07", "M")
    assert tables.files["events"] == "events.csv"


def test_source_row_counts_like_the_user_with_blank_lines(frames, make_dir):
    directory = make_dir(frames)
    path = directory / "income.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines[:2], "", *lines[2:]]) + "\n", encoding="utf-8")
    tables = load_directory(directory, pseudonym_key=KEY).tables
    assert tables.income["source_row"].tolist() == [2, 4, 5, 6]


def test_months_covered_per_source(frames, make_dir):
    report = validate_directory(make_dir(frames), pseudonym_key=KEY)
    income = report.coverage["income"]
    assert (str(income.first), str(income.last), income.months_with_records) == (
        "2024-01",
        "2024-04",
        3,
    )
    assert [str(m) for m in income.months_without_records] == ["2024-03"]
    assert "households" not in report.coverage
    assert "2024-03" in report.render()


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_xlsx_and_parquet_load_like_csv(frames, make_dir, fmt):
    reference = load_directory(make_dir(frames, name="csv"), pseudonym_key=KEY).tables
    other = load_directory(make_dir(frames, name=fmt, fmt=fmt), pseudonym_key=KEY).tables
    for name, frame in reference.present():
        pd.testing.assert_frame_equal(frame, getattr(other, name))
    assert other.files["income"] == f"income.{fmt}"


def test_excel_cells_dates_serials_and_numbers(frames, make_dir):
    directory = make_dir(frames)
    (directory / "medical.csv").unlink()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["证件号码", "结算日期", "就诊类型", "医疗费总额", "个人自付"])
    sheet.append([SPOUSE_1, dt.datetime(2024, 2, 10, 9, 30), "住院", 12000, 3000.5])
    sheet.append([WIFE_3, 45366, "普通门诊", "1,234.5", 0])
    sheet.append([WIFE_3, 20240316, "普通门诊", 10, 0])
    book.save(directory / "医保结算.xlsx")
    medical = load_directory(directory, pseudonym_key=KEY).tables.medical
    assert medical["settle_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-02-10",
        "2024-03-15",
        "2024-03-16",
    ]
    assert medical["total_cost"].tolist() == [12000.0, 1234.5, 10.0]
    assert medical["source_row"].tolist() == [2, 3, 4]


def test_typed_parquet_columns(frames, make_dir):
    frames["medical"] = frames["medical"].assign(
        settle_date=pd.to_datetime(["2024-02-10 13:00", "2024-03-15 00:00"]),
        total_cost=[12000, 800],
        out_of_pocket=[3000.0, 100.0],
    )
    frames["income"] = frames["income"].assign(
        month=pd.PeriodIndex(["2024-01", "2024-02", "2024-02", "2024-04"], freq="M").to_timestamp()
    )
    directory = make_dir(frames, fmt="parquet")
    tables = load_directory(directory, pseudonym_key=KEY).tables
    assert tables.medical["settle_date"].tolist()[0] == pd.Timestamp("2024-02-10")
    assert tables.income["month"].astype(str).tolist() == [
        "2024-01",
        "2024-02",
        "2024-02",
        "2024-04",
    ]


def test_grade_from_the_last_character_of_a_20_character_card(frames, make_dir):
    card = WIFE_3 + "64"  # a disability-card number: ID number + type + grade
    frames["disability"].loc[1, ["person_id", "grade"]] = [card, ""]
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    assert tables.disability["grade"].tolist() == [2, 4]
    # the card is matched to the member's ID number before pseudonymising
    assert tables.disability["person_id"][1] == pseudonym(WIFE_3, key=KEY)
    assert tables.disability["person_id"][1] in set(tables.members["person_id"])


def test_missing_directory_is_reported_and_raised(tmp_path):
    report = validate_directory(tmp_path / "nope", pseudonym_key=KEY)
    assert not report.ok and "no such directory" in report.error_text()
    with pytest.raises(DataContractError, match="no such directory"):
        load_directory(tmp_path / "nope", pseudonym_key=KEY)


def test_unreadable_xlsx_is_an_error_naming_the_file(frames, make_dir):
    directory = make_dir(frames)
    (directory / "events.csv").unlink()
    (directory / "events.xlsx").write_bytes(b"not a zip file")
    with pytest.raises(DataContractError, match=r"\[events.xlsx\].*cannot read the file"):
        load_directory(directory, pseudonym_key=KEY)


def test_truth_folder_and_lock_files_are_ignored(frames, make_dir):
    directory = make_dir(frames)
    (directory / "_truth").mkdir()
    (directory / "_truth" / "truth.parquet").write_bytes(b"x")
    (directory / "~$户信息.xlsx").write_bytes(b"x")
    assert validate_directory(directory, pseudonym_key=KEY).warnings == ()


def _big_directory(root, n_households: int) -> None:
    rng = np.random.default_rng(0)
    hh = np.array([f"H{i:07d}" for i in range(n_households)], dtype=object)
    size = 3
    person = np.array(
        [f"4523011980{i:07d}{i % 10}" for i in range(n_households * size)], dtype=object
    )
    pd.DataFrame(
        {
            "household_id": hh,
            "county": "甲县",
            "township": rng.choice(["一乡", "二乡"], n_households),
            "village": rng.choice(["一村", "二村", "三村"], n_households),
            "household_type": rng.choice(["脱贫户", "一般农户"], n_households),
        }
    ).to_parquet(root / "households.parquet")
    pd.DataFrame(
        {
            "person_id": person,
            "household_id": np.repeat(hh, size),
            "relation": np.tile(["户主", "配偶", "之子"], n_households),
            "sex": np.tile(["男", "女", "男"], n_households),
            "birth_date": pd.Timestamp("1980-01-01"),
            "health": rng.choice(["健康", "长期慢性病", "残疾,长期慢性病"], len(person)),
        }
    ).to_parquet(root / "members.parquet")
    months = pd.period_range("2022-01", "2023-12", freq="M").astype(str)
    pd.DataFrame(
        {
            "household_id": np.repeat(hh, len(months)),
            "month": np.tile(months, n_households),
            "wage_income": rng.gamma(2.0, 500.0, n_households * len(months)).round(2),
        }
    ).to_parquet(root / "income.parquet")
    n_claims = n_households * 4
    pd.DataFrame(
        {
            "person_id": rng.choice(person, n_claims),
            "settle_date": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(rng.integers(0, 700, n_claims), unit="D"),
            "visit_type": rng.choice(["住院", "普通门诊"], n_claims),
            "total_cost": rng.gamma(2.0, 1000.0, n_claims).round(2),
            "out_of_pocket": 0.0,
        }
    ).to_parquet(root / "medical.parquet")


@pytest.mark.slow
def test_loading_is_vectorised(tmp_path):
    """20,000 households (60,000 people, 480,000 income rows, 80,000 claims) in seconds.

    A guard against gross regressions only (the machine is shared); 200,000 households are
    measured outside the tests.
    """
    _big_directory(tmp_path, 20_000)
    start = time.perf_counter()
    result = load_directory(tmp_path, pseudonym_key=KEY)
    elapsed = time.perf_counter() - start
    assert result.report.rows["income"] == 480_000
    assert elapsed < 30, f"loading took {elapsed:.1f}s"


def test_id_numbers_look_like_the_contract_says():
    assert len(HEAD_1) == 18 and SPOUSE_1.endswith("X")
