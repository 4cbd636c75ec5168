"""CSV encodings, header aliases and full-width normalisation validate identically."""

from __future__ import annotations

import pandas as pd
import pytest
from contract_frames import KEY

from features.contract.errors import DataContractError
from features.contract.io import load_directory, validate_directory


def _same_tables(left, right) -> None:
    for name, frame in left.present():
        pd.testing.assert_frame_equal(frame, getattr(right, name), check_like=False)
    assert left.export_month == right.export_month


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "gbk"])
def test_encodings_with_chinese_headers_load_identically(frames, make_dir, encoding):
    reference = load_directory(make_dir(frames, name="utf8"), pseudonym_key=KEY)
    other = load_directory(
        make_dir(frames, name=encoding, encoding=encoding, chinese=True), pseudonym_key=KEY
    )
    _same_tables(reference.tables, other.tables)
    assert other.tables.files["households"] == "户信息.csv"
    assert other.report.rows == reference.report.rows
    assert [i.message for i in other.report.issues] == [i.message for i in reference.report.issues]


def test_gb18030_bytes_are_really_not_utf8(frames, make_dir):
    directory = make_dir(frames, encoding="gb18030", chinese=True)
    raw = (directory / "户信息.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_file_in_neither_encoding_is_an_error_naming_the_file(frames, make_dir):
    directory = make_dir(frames)
    (directory / "events.csv").write_bytes(
        b"household_id,date,event_type\nH1,2024-01-01,\x80\xff\n"
    )
    with pytest.raises(DataContractError, match=r"\[events.csv\].*neither UTF-8.*GB18030"):
        load_directory(directory, pseudonym_key=KEY)


def test_header_aliases_and_full_width_headers(frames, make_dir):
    frames["households"] = frames["households"].rename(
        columns={
            "county": "县(市、区、旗)",
            "township": " 乡（镇） ",
            "village": "行政村",
            "cultivated_land_mu": "耕地面积(亩)",
            "household_type": "Household_Type",
        }
    )
    frames["income"] = frames["income"].rename(
        columns={"wage_income": "工资性收入（元）", "month": "月份"}
    )
    frames["members"] = frames["members"].rename(columns={"person_id": "人编号"})
    result = load_directory(make_dir(frames), pseudonym_key=KEY)
    assert result.report.warnings == ()
    households = result.tables.households
    assert households["township"].tolist() == ["一乡", "一乡", "二乡"]
    assert households["cultivated_land_mu"].tolist()[0] == 2.5
    assert result.tables.income["wage_income"].tolist()[0] == 1200.0


def test_full_width_and_spaced_category_values_are_normalised(frames, make_dir):
    frames["households"].loc[0, "household_type"] = " 脱贫户　"
    frames["members"].loc[1, "health"] = "残疾，长期慢性病"
    frames["members"].loc[0, "relation"] = "户 主"
    frames["income"].loc[0, "wage_income"] = "１,２００元"
    result = load_directory(make_dir(frames), pseudonym_key=KEY)
    assert result.tables.households["household_type"][0] == "脱贫户"
    assert result.tables.members["health"][1] == "长期慢性病,残疾"
    assert result.tables.members["relation"][0] == "户主"
    assert result.tables.income["wage_income"][0] == 1200.0


def test_value_forms_of_the_contract_are_all_accepted(frames, make_dir):
    frames["income"]["month"] = ["202401", "2024/02", "2024年2月", "2024-04-30"]
    frames["medical"]["settle_date"] = ["20240210", "2024/3/15"]
    frames["households"]["relocated"] = ["true", "N", "1"]
    frames["disability"]["grade"] = ["2", "三级"]
    tables = load_directory(make_dir(frames), pseudonym_key=KEY).tables
    assert [str(m) for m in tables.income["month"]] == ["2024-01", "2024-02", "2024-02", "2024-04"]
    assert tables.medical["settle_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-02-10",
        "2024-03-15",
    ]
    assert tables.households["relocated"].tolist() == [True, False, True]
    assert tables.disability["grade"].tolist() == [2, 3]


def test_utf8_and_bom_report_the_same(frames, make_dir):
    plain = validate_directory(make_dir(frames, name="a"), pseudonym_key=KEY)
    bom = validate_directory(make_dir(frames, name="b", encoding="utf-8-sig"), pseudonym_key=KEY)
    assert plain.rows == bom.rows and plain.coverage == bom.coverage


def test_trailing_commas_are_not_unknown_columns(frames, make_dir):
    directory = make_dir(frames)
    path = directory / "events.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line + ",," for line in lines) + "\n", encoding="utf-8")
    report = validate_directory(directory, pseudonym_key=KEY)
    assert report.ok and report.warnings == ()
