"""The Excel round trip: a reviewer's re-sorted, partly filled, WPS-saved workbook comes back intact."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from review_runs import RUN_ID
from wps_files import to_shared_strings

from features.contract.errors import DataContractError
from risk.review.excel_io import export_decisions, import_decisions, read_decisions
from risk.review.run import load_run
from risk.review.store import ReviewStore

#: What the reviewer types, by household: decision, 排除原因, 审核人, 审核日期, 备注.
ENTRIES = {
    "H001": (" 纳入监测 ", None, "李四", datetime(2026, 11, 3), "住院两次"),
    "H002": ("排除\u3000", "支出已解决：医保报销后自付很少", "王五", "2026/11/4", None),
    "H004": ("待 核实", None, "李四", "2026年11月5日", None),
    "H005": ("排　除", "孩子毕业工作了", " 赵六 ", "20261106", None),
    "H007": ("ＰＡＳＳ", None, "李四", None, None),  # not an allowed decision
    "H008": ("纳入监测", None, "李四", "下周", None),  # not a date
    "H009": (None, None, "李四", None, "还没去"),  # undecided, but a note: warned
    "H012": ("排除", "信息 有误", "王五", datetime(2026, 11, 7), "<script>alert(1)</script>"),
}


def reviewer_workbook(run_dir: Path, out: Path, entries: dict = ENTRIES) -> Path:
    """Fill the run's list the way reviewers and WPS do, and save it with shared strings."""
    book = openpyxl.load_workbook(run_dir / "warnings.xlsx")
    sheet = book["预警名单"]
    header = [cell.value for cell in sheet[1]]
    rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
    id_col, decision_col = header.index("户编号"), header.index("审核结论")
    rows = [r for r in rows if r[id_col] not in ("H003", "H010")]  # deleted rows
    rows.sort(key=lambda r: (r[header.index("乡镇")], r[id_col]), reverse=True)  # re-sorted
    for row in rows:
        if row[id_col] in entries:
            row[decision_col : decision_col + 5] = entries[row[id_col]]
    rows.append([None] * 1 + ["H999"] + [None] * 11 + ["排除", None, "李四", None, None])
    sheet.delete_rows(2, sheet.max_row)
    sheet.append([])  # a blank row under the header
    for row in rows:
        sheet.append(row)
        if row[id_col] == "H011":
            sheet.append([])  # and blank rows in between
    sheet.auto_filter.ref = f"A1:R{sheet.max_row}"
    sheet.row_dimensions[5].hidden = True  # filtered out: still imported
    book.create_sheet("我的笔记", 0)
    book.move_sheet("预警名单", offset=2)  # another sheet order
    book.save(out)
    assert to_shared_strings(out) > 50
    return out


def excel_row(path: Path, household: str) -> int:
    sheet = openpyxl.load_workbook(path)["预警名单"]
    return next(c.row for c in sheet["B"] if c.value == household)


def test_wps_style_workbook_is_read_row_by_row(run_dir: Path, tmp_path: Path) -> None:
    file = reviewer_workbook(run_dir, tmp_path / "filled.xlsx")
    sheet = read_decisions(file, run=load_run(run_dir))
    got = {d.household_id: d for _, d in sheet.decisions}
    assert sorted(got) == ["H001", "H002", "H004", "H005", "H012"]
    assert got["H001"].decision == "纳入监测" and got["H001"].decided_at == "2026-11-03"
    assert (got["H002"].decision, got["H002"].reason) == ("排除", "支出已解决")
    assert (
        got["H002"].reason_text == "医保报销后自付很少" and got["H002"].decided_at == "2026-11-04"
    )
    assert (got["H004"].decision, got["H004"].decided_at) == ("待核实", "2026-11-05")
    assert (got["H005"].reason, got["H005"].reason_text) == ("其他", "孩子毕业工作了")
    assert (got["H005"].reviewer, got["H005"].decided_at) == ("赵六", "2026-11-06")
    assert got["H012"].reason == "信息有误" and got["H012"].note == "<script>alert(1)</script>"
    assert {d.run_id for d in got.values()} == {RUN_ID}
    bad = {(p.row, p.column) for p in sheet.problems}
    assert bad == {
        (excel_row(file, "H007"), "审核结论"),
        (excel_row(file, "H008"), "审核日期"),
        (excel_row(file, "H999"), "户编号"),
    }
    assert [w.row for w in sheet.warnings] == [excel_row(file, "H009")]
    assert "H999" in str(next(p for p in sheet.problems if p.column == "户编号"))


def test_import_twice_stores_nothing_new_and_conflicts_are_listed(
    run_dir: Path, tmp_path: Path
) -> None:
    run, store = load_run(run_dir), ReviewStore(tmp_path / "review.sqlite")
    file = reviewer_workbook(run_dir, tmp_path / "filled.xlsx")
    first = import_decisions(file, run=run, store=store)
    assert (first.decided, first.new, len(first.result.conflicts)) == (5, 5, 0)
    assert len(first.problems) == 3 and "第" in first.text()
    again = import_decisions(file, run=run, store=store)
    assert (again.decided, again.new, len(again.result.unchanged)) == (5, 0, 5)
    assert store.count() == 5

    changed = dict(ENTRIES, H001=("排除", "收入稳定超过监测线", "李四", "2026-11-20", None))
    second = import_decisions(
        reviewer_workbook(run_dir, tmp_path / "second.xlsx", changed), run=run, store=store
    )
    assert second.new == 1 and [c[1].household_id for c in second.result.conflicts] == ["H001"]
    assert "H001" in second.text() and "纳入监测" in second.text()
    history = store.history(RUN_ID, "H001")
    assert history["decision"].tolist() == ["纳入监测", "排除"]
    assert store.current(RUN_ID).set_index("household_id").at["H001", "decision"] == "排除"
    # the first file again: an old decision must not silently come back
    stale = import_decisions(file, run=run, store=store)
    assert stale.new == 0 and [d.household_id for d in stale.result.stale] == ["H001"]


def test_export_is_the_runs_list_prefilled_and_reimports_as_unchanged(
    run_dir: Path, tmp_path: Path
) -> None:
    run, store = load_run(run_dir), ReviewStore(tmp_path / "review.sqlite")
    import_decisions(reviewer_workbook(run_dir, tmp_path / "f.xlsx"), run=run, store=store)
    out = export_decisions(run, store=store, out=tmp_path / "out" / "warnings.xlsx")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["预警名单", "说明", "运行信息"]
    sheet = book["预警名单"]
    header = [c.value for c in sheet[1]]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    at = {name: header.index(name) for name in ("审核结论", "排除原因", "审核人", "审核日期")}
    assert rows["H002"][at["审核结论"]] == "排除"
    assert rows["H002"][at["排除原因"]] == "支出已解决：医保报销后自付很少"
    assert rows["H001"][at["审核日期"]] == datetime(2026, 11, 3)
    assert rows["H003"][at["审核结论"]] is None
    assert len(rows) == 12  # the run's own list, nothing lost or added
    assert sheet.data_validations.dataValidation, "the drop-down of the scoring step is kept"
    again = import_decisions(out, run=run, store=store)
    assert (again.decided, again.new) == (5, 0)


def test_unreadable_or_foreign_workbooks_are_refused(run_dir: Path, tmp_path: Path) -> None:
    run = load_run(run_dir)
    (tmp_path / "x.xlsx").write_text("not a workbook")
    with pytest.raises(DataContractError, match="cannot be read as an .xlsx"):
        read_decisions(tmp_path / "x.xlsx", run=run)
    book = openpyxl.Workbook()
    book.active.append(["姓名", "电话"])
    book.save(tmp_path / "other.xlsx")
    with pytest.raises(DataContractError, match="户编号 and 审核结论"):
        read_decisions(tmp_path / "other.xlsx", run=run)


def test_duplicated_household_rows_with_different_entries_are_both_rejected(
    run_dir: Path, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(run_dir / "warnings.xlsx")
    sheet = book["预警名单"]
    sheet["N2"], sheet["N3"] = "排除", "纳入监测"
    sheet.append([None, sheet["B2"].value] + [None] * 11 + ["纳入监测"])
    sheet.append([None, sheet["B3"].value] + [None] * 11 + ["纳入监测"])
    book.save(tmp_path / "dup.xlsx")
    parsed = read_decisions(tmp_path / "dup.xlsx", run=load_run(run_dir))
    assert [d.household_id for _, d in parsed.decisions] == [sheet["B3"].value]
    assert sorted(p.row for p in parsed.problems) == [2, sheet.max_row - 1]


def test_round_trip_on_the_scoring_steps_own_workbook(run_dir: Path, tmp_path: Path) -> None:
    """The list written by `risk.excel` (write-only workbook) exports and re-imports cleanly."""
    import pandas as pd
    from review_runs import make_explanations, make_scores

    from risk.excel import warning_rows, write_warnings_workbook
    from risk.review.store import Decision

    scores = make_scores()
    explanations = make_explanations(scores)
    reasons = explanations.assign(
        reason_order=explanations.groupby("household_id").cumcount() + 1, is_new=False
    )
    warned = scores[scores["warned"]].assign(head="张*", household_type="脱贫户")
    write_warnings_workbook(
        run_dir / "warnings.xlsx",
        warning_rows(warned, reasons, rule_labels={}),
        legend=pd.DataFrame({"指标": ["x"]}),
        notes=[("排名", "1 = 风险最高")],
        run_info=[("run_id", RUN_ID)],
        fixed_date=datetime(2026, 11, 1),
    )
    run, store = load_run(run_dir), ReviewStore(tmp_path / "review.sqlite")
    store.add(
        [Decision(run_id=RUN_ID, month=run.month, household_id="H003", decision="排除",
                  reason="其他", reason_text="已搬迁", reviewer="甲",
                  decided_at="2026-11-02T10:11:12", source="web")]
    )  # fmt: skip
    out = export_decisions(run, store=store, out=tmp_path / "export.xlsx")
    sheet = openpyxl.load_workbook(out)["预警名单"]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == "H003")
    from risk.excel import WARNING_COLUMNS

    review = WARNING_COLUMNS.index("审核结论")
    assert list(row[review:]) == [
        "排除",
        "其他：已搬迁",
        "甲",
        datetime(2026, 11, 2, 10, 11, 12),
        None,
    ]
    again = import_decisions(out, run=run, store=store)
    assert (again.decided, again.new, len(again.result.unchanged), again.undecided) == (1, 0, 1, 11)
