"""warnings.xlsx: the INTERFACE.md columns, the drop-down, Chinese reasons, masking, legend, metadata."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from openpyxl import load_workbook

from features.catalogue import CATALOGUE, CAUSES
from risk.excel import (
    DECISIONS,
    INFO_SHEET,
    LEGEND_SHEET,
    LIFECYCLE_SHEET,
    LIFECYCLE_SHEET_COLUMNS,
    LIST_SHEET,
    NEW_MARK,
    WARNING_COLUMNS,
    read_list_sheet,
)
from risk.explain import main_reasons

CJK = re.compile(r"[\u4e00-\u9fff]")
ID_NUMBER = re.compile(r"\d{17}[\dXx]")


@pytest.fixture(scope="module")
def workbook(scored_run):
    book = load_workbook(scored_run.out_dir / "warnings.xlsx")
    yield book
    book.close()


def test_sheets_and_header(workbook):
    assert workbook.sheetnames == [LIST_SHEET, LIFECYCLE_SHEET, LEGEND_SHEET, INFO_SHEET]
    sheet = workbook[LIST_SHEET]
    header = [cell.value for cell in sheet[1]]
    assert header == list(WARNING_COLUMNS)
    assert header == [
        "排名", "户编号", "县", "乡镇", "村", "户主", "户类型", "风险概率", "风险等级",
        "主要原因1", "主要原因2", "主要原因3", "原因类别", "建议措施", "规则触发",
        "审核结论", "排除原因", "审核人", "审核日期", "备注",
    ]  # fmt: skip


def test_frozen_header_filter_widths_and_dropdown(workbook):
    sheet = workbook[LIST_SHEET]
    assert sheet.freeze_panes == "C2"
    assert sheet.auto_filter.ref.startswith("A1:T")
    assert sheet.column_dimensions["J"].width >= 30
    validations = sheet.data_validations.dataValidation
    assert len(validations) == 1
    rule = validations[0]
    assert rule.type == "list"
    assert rule.formula1 == '"' + ",".join(DECISIONS) + '"'
    assert rule.formula1 == '"纳入监测,排除,待核实"'
    assert str(rule.sqref).startswith("P2:P")


def test_rows_are_the_listed_households_by_rank(scored_run):
    rows = read_list_sheet(scored_run.out_dir / "warnings.xlsx")
    scores = scored_run.scores
    audit = set(scored_run.manifest["audit"]["household_ids"])
    listed = scores.loc[scores["warned"] | scores["household_id"].isin(audit)]
    assert rows["户编号"].tolist() == listed["household_id"].tolist()
    assert rows["排名"].tolist() == listed["rank"].tolist()
    assert (
        rows["风险概率"].astype(float).round(4).tolist() == listed["probability"].round(4).tolist()
    )
    assert set(rows["风险等级"]) <= {"高", "中", "低"}
    audit_rows = rows.loc[
        rows["户编号"].isin(audit - set(scores.loc[scores["warned"], "household_id"]))
    ]
    assert audit_rows["规则触发"].str.contains("随机抽查").all()
    for column in ("审核结论", "排除原因", "审核人", "审核日期", "备注"):
        assert rows[column].isna().all()


def test_reasons_are_chinese_sentences_with_values(scored_run):
    rows = read_list_sheet(scored_run.out_dir / "warnings.xlsx")
    first = rows["主要原因1"].dropna()
    assert len(first) >= 0.9 * len(rows)
    assert first.map(lambda text: bool(CJK.search(text))).all()
    assert first.str.contains(r"\d").mean() > 0.8  # the household's own values
    reasons = scored_run.explanations.loc[scored_run.explanations["reason_order"] == 1]
    top = rows.iloc[0]
    mine = reasons.loc[reasons["household_id"] == top["户编号"]].iloc[0]
    assert mine["reason_zh"] in top["主要原因1"]
    assert top["主要原因1"].removeprefix(NEW_MARK).startswith(f"【{mine['cause_zh']}】")
    if mine["evidence"]:
        assert f"依据：{mine['evidence']}" in top["主要原因1"]


def test_cause_evidence_and_measure_columns(scored_run):
    rows = read_list_sheet(scored_run.out_dir / "warnings.xlsx").set_index("户编号")
    reasons = main_reasons(scored_run.explanations)
    assert reasons["evidence"].str.contains(r"第\d+行").mean() > 0.5
    labels = {cause.label_zh for cause in CAUSES}
    measures = {cause.measure_zh for cause in CAUSES}
    for household, mine in reasons.groupby("household_id"):
        row = rows.loc[household]
        causes = list(dict.fromkeys(mine.sort_values("reason_order")["cause_zh"]))
        assert row["原因类别"] == "、".join(causes)
        assert set(row["原因类别"].split("、")) <= labels
        for part in row["建议措施"].split("；"):
            cause, measure = part.split("：")
            assert cause in labels and measure in measures


def test_personal_data_is_masked(scored_run, scoring_county_dir):
    book = load_workbook(scored_run.out_dir / "warnings.xlsx", read_only=True)
    text = " ".join(
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    )
    book.close()
    members = pd.read_csv(scoring_county_dir / "members.csv", dtype=str)
    raw_ids = [p for p in members["person_id"] if ID_NUMBER.fullmatch(p)]
    assert raw_ids, "the synthetic county has ID-card numbers"
    assert not any(person in text for person in raw_ids)
    heads = read_list_sheet(scored_run.out_dir / "warnings.xlsx")["户主"]
    assert heads.str.contains(r"\*").all()


def test_legend_explains_every_feature_and_info_has_the_run(workbook, scored_run):
    legend = [row for row in workbook[LEGEND_SHEET].iter_rows(values_only=True)]
    names = {row[0] for row in legend}
    assert {spec.name for spec in CATALOGUE} <= names
    labels = {row[1] for row in legend}
    assert {spec.label_zh for spec in CATALOGUE} <= labels
    info = dict(row[:2] for row in workbook[INFO_SHEET].iter_rows(values_only=True))
    assert info["运行编号 run_id"] == scored_run.run_id
    assert info["评分月份 month"] == scored_run.month
    assert info["预警户数 warned"] == scored_run.counts["warned"]


def test_workbook_dates_are_fixed(workbook, scored_run):
    created = workbook.properties.created
    assert (created.year, created.month) == (int(scored_run.month[:4]), int(scored_run.month[5:]))
    assert workbook.properties.modified == created


def test_lifecycle_sheet_lists_every_household_of_the_parquet_file(workbook, scored_run):
    sheet = workbook[LIFECYCLE_SHEET]
    rows = list(sheet.values)
    assert list(rows[0]) == list(LIFECYCLE_SHEET_COLUMNS)
    assert list(rows[0]) == [
        "户编号", "县", "乡镇", "村", "户主", "阶段", "在该阶段月数", "状态", "风险概率", "说明",
        "依据", "尚缺条件",
    ]  # fmt: skip
    lifecycle = pd.read_parquet(scored_run.out_dir / "lifecycle.parquet")
    assert len(rows) - 1 == len(lifecycle) > 0
    assert [r[0] for r in rows[1:]] == lifecycle["household_id"].tolist()
    statuses = {r[7] for r in rows[1:]}
    assert statuses <= {"可考虑消除风险", "继续帮扶", "风险加重", "消除后返贫风险", "稳定"}
    heads = [r[4] for r in rows[1:] if r[4]]
    assert heads and all("*" in h for h in heads)


def test_reason_slots_assembled_in_blocks_are_the_same(scored_run):
    """The list's reason columns do not depend on how many households are assembled at once."""
    from risk.excel import _reason_slots, _reason_slots_by_block  # noqa: PLC0415

    reasons = main_reasons(scored_run.explanations)
    assert reasons["household_id"].nunique() > 7
    whole = _reason_slots(reasons).fillna("")
    blocks = _reason_slots_by_block(reasons, block=7).fillna("")
    pd.testing.assert_frame_equal(blocks.reindex(whole.index), whole)
