"""`risk import-national`: a person-level national export (header on row 3, 170+ columns) becomes
contract tables that the loader accepts, with every ID number pseudonymised."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from features.contract.errors import DataContractError
from features.contract.io import load_directory
from features.contract.pseudonym import pseudonym
from risk.review.national import import_national

KEY = b"test-key"
ID_CARD = "52012319800312341X"  # 18, last X; male (7th from the end is odd)
ID_WIFE = "520123198205064328"
DISABILITY_CARD = "52012320100815122643"  # 20: an ID card plus grade digits
SYSTEM_NUMBER = "5201232012010112340001"  # 22
ID_B = "520123196001011236"
ID_C = "520123197507072221"
USED = [
    "户编号", "人编号", "证件号码", "与户主关系", "健康状况", "劳动技能", "在校生状况",
    "享受低保政策情况", "享受特困供养政策情况", "监测对象类别", "识别监测时间", "消除监测时间",
    "风险是否已消除", "致贫返贫风险1", "致贫返贫风险2", "致贫返贫风险3", "致贫返贫风险4",
    "致贫返贫风险5", "县（市、区、旗）", "乡（镇）", "行政村", "脱贫年度", "是否危房户",
]  # fmt: skip
PEOPLE = [  # 户编号, 人编号, 证件号码, 与户主关系, 健康状况, 劳动技能, 在校生状况, 低保, 特困,
    # 类别, 识别, 消除, 已消除, 风险1…5, 县, 乡, 村, 脱贫年度, 危房
    ["H1", "R1", ID_CARD, "户主", "长期慢性病", "普通劳动力", "非在校生", "未享受", "不享受",
     "脱贫不稳定户", 202103, None, "否", "因病", "因残 ", None, None, None,
     "甲县", "东镇", "一村", 2016, "否"],
    ["H1", "R2", ID_WIFE, "配偶", "残疾,长期慢性病", "弱劳动力或半劳动力", "非在校生", "农村低保",
     "不享受", "脱贫不稳定户", 202103, None, "否", "因病", "因残", None, None, None,
     "甲县", "东镇", "一村", 2016, "否"],
    ["H1", "R3", DISABILITY_CARD, "之子", "残疾", "无劳动力", "小学", "未享受", "不享受",
     "脱贫不稳定户", 202103, None, "否", None, None, None, None, None,
     "甲县", "东镇", "一村", 2016, "否"],
    ["H2", "R4", ID_B, "户主", "健康", "普通劳动力", "非在校生", "未享受", "不享受",
     "边缘易致贫户", "202011", "202205", "是", "因务工就业不稳", None, None, None, None,
     "甲县", "东镇", "二村", None, "否"],
    ["H2", "R5", SYSTEM_NUMBER, "之女", "长期慢性病，患有大病", "无劳动力", "学前教育", "未享受",
     "不享受", "边缘易致贫户", "202011", "202205", "是", None, None, None, None, None,
     "甲县", "东镇", "二村", None, "否"],
    ["H3", "R6", ID_C, "户主", "健康", "技能劳动力", "非在校生", "未享受", "不享受",
     "突发严重困难户", datetime(2023, 7, 1), None, "是", "因意外事故", "因自然灾害", "其他", None,
     None, "甲县", "西乡", "三村", None, "是"],
    ["H4", "R7", None, "户主", "健康", "普通劳动力", "非在校生", "未享受", "不享受",
     None, None, None, None, None, None, None, None, None, "甲县", "西乡", "三村", 2019, "否"],
]  # fmt: skip


def write_export(path: Path, people: list[list] = PEOPLE, *, width: int = 178) -> Path:
    """The national layout: two merged title rows, the header on row 3, `width` columns."""
    fillers = [f"字段{i}" for i in range(width - len(USED))]
    positions = list(range(3, 3 + 7 * len(USED), 7))  # used columns scattered among fillers
    header: list[str] = []
    used = iter(USED)
    filler = iter(fillers)
    for column in range(width):
        header.append(next(used) if column in positions else next(filler))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "监测对象信息"
    sheet.cell(row=1, column=1, value="（自定义）监测对象信息")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(row=2, column=1, value="导出单位：甲县乡村振兴局　导出时间：2026-10-31")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=20)
    for column, name in enumerate(header, start=1):
        sheet.cell(row=3, column=column, value=name)
    for row, person in enumerate(people, start=4):
        values = dict(zip(USED, person, strict=True))
        for column, name in enumerate(header, start=1):
            value = values.get(name, f"x{row}-{column}" if column % 5 == 0 else None)
            sheet.cell(row=row, column=column, value=value)
    book.save(path)
    return path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "（自定义）监测对象信息.xlsx")


def test_export_becomes_contract_tables(export: Path, tmp_path: Path) -> None:
    result = import_national(export, out=tmp_path / "data", pseudonym_key=KEY)
    assert result.counts == {"households": 4, "members": 7, "outcomes": 3}
    households = pd.read_csv(tmp_path / "data" / "households.csv", dtype=str, encoding="utf-8-sig")
    members = pd.read_csv(tmp_path / "data" / "members.csv", dtype=str, encoding="utf-8-sig")
    outcomes = pd.read_csv(tmp_path / "data" / "outcomes.csv", dtype=str, encoding="utf-8-sig")
    assert households.set_index("household_id")["household_type"].to_dict() == {
        "H1": "脱贫户", "H2": "一般农户", "H3": "一般农户", "H4": "脱贫户"
    }  # fmt: skip
    assert households.set_index("household_id").loc["H2", ["county", "township", "village"]].tolist() == [
        "甲县", "东镇", "二村"
    ]  # fmt: skip
    by_person = members.set_index("person_id")
    assert by_person.loc[pseudonym(ID_WIFE, key=KEY), "health"] == "残疾,长期慢性病"
    assert by_person.loc[pseudonym(SYSTEM_NUMBER, key=KEY), "health"] == "长期慢性病,患有大病"
    assert by_person.loc[pseudonym(ID_CARD, key=KEY), ["sex", "birth_date"]].tolist() == [
        "男", "1980-03-12"
    ]  # fmt: skip
    assert by_person.loc[pseudonym(ID_WIFE, key=KEY), "sex"] == "女"
    assert "R7" in by_person.index  # no 证件号码: the 人编号 (opaque, kept)
    assert by_person.loc[pseudonym(ID_WIFE, key=KEY), "dibao"] == "农村低保"
    out = outcomes.set_index("household_id")
    assert out.loc["H1", ["identified_month", "category", "risk_types"]].tolist() == [
        "2021-03", "脱贫不稳定户", "因病,因残"
    ]  # fmt: skip
    assert out.loc["H2", ["identified_month", "eliminated_month"]].tolist() == [
        "2020-11",
        "2022-05",
    ]
    assert out.loc["H3", "identified_month"] == "2023-07" and pd.isna(
        out.loc["H3", "eliminated_month"]
    )
    assert out.loc["H3", "risk_types"] == "因意外事故,因自然灾害,其他"
    assert any("风险已消除但无消除监测时间" in w for w in result.warnings)


def test_no_id_number_is_written_and_the_loader_accepts_the_output(
    export: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    import_national(export, out=folder, pseudonym_key=KEY)
    written = "".join(p.read_text(encoding="utf-8-sig") for p in folder.iterdir())
    for number in (ID_CARD, ID_WIFE, DISABILITY_CARD, SYSTEM_NUMBER, ID_B, ID_C, "字段", "x5-"):
        assert number not in written
    # a county that numbers households by the head's ID card: never written, same as the loader
    numbered = [[ID_C if p[0] == "H3" else p[0], *p[1:]] for p in PEOPLE]
    import_national(write_export(tmp_path / "by_id.xlsx", numbered), out=tmp_path / "d2",
                    pseudonym_key=KEY)  # fmt: skip
    by_id = "".join(p.read_text(encoding="utf-8-sig") for p in (tmp_path / "d2").iterdir())
    assert ID_C not in by_id and pseudonym(ID_C, key=KEY) in by_id
    assert (
        load_directory(tmp_path / "d2", pseudonym_key=KEY)
        .tables.households["household_id"]
        .isin([pseudonym(ID_C, key=KEY)])
        .any()
    )
    # another department's table with the raw number joins through the same key
    pd.DataFrame(
        {"证件号码": [DISABILITY_CARD], "残疾类别": ["肢体"], "发证日期": ["2020-05-01"]}
    ).to_csv(folder / "disability.csv", index=False)
    tables = load_directory(folder, pseudonym_key=KEY).tables
    assert len(tables.households) == 4 and len(tables.members) == 7
    assert tables.disability["person_id"].iloc[0] in set(tables.members["person_id"])
    assert tables.outcomes["identified_month"].min() == pd.Period("2020-11", "M")
    assert tables.members["health"].str.contains("残疾").sum() == 2


def test_header_must_be_found_and_rows_need_keys(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["姓名", "电话"])
    book.save(tmp_path / "other.xlsx")
    with pytest.raises(DataContractError, match="row 3"):
        import_national(tmp_path / "other.xlsx", out=tmp_path / "o", pseudonym_key=KEY)
    broken = [list(p) for p in PEOPLE]
    broken[1][0] = None  # no 户编号 (Excel row 5)
    broken[3][10] = "2020年13月"  # not a month (Excel row 7)
    path = write_export(tmp_path / "broken.xlsx", broken)
    with pytest.raises(DataContractError, match=r"户编号 empty in Excel rows 5"):
        import_national(path, out=tmp_path / "o", pseudonym_key=KEY)
    broken[1][0] = "H1"
    path = write_export(tmp_path / "broken.xlsx", broken)
    with pytest.raises(DataContractError, match=r"identified_month .*rows 7"):
        import_national(path, out=tmp_path / "o", pseudonym_key=KEY)
    assert not (tmp_path / "o").exists()  # nothing partial left behind
