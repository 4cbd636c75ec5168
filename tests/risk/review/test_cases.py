"""Cases and deadlines: step files in, every late case and short notice flagged, bad files refused."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from case_steps import plan_steps, write_step_file
from review_runs import write_run

from risk.review.cases import (
    StepFileError,
    case_history,
    case_status,
    import_step_file,
    list_date,
    record_step,
)
from risk.review.run import ReviewRun, load_run
from risk.review.store import SCHEMA_VERSION, Decision, ReviewStore

TODAY = date(2026, 11, 20)


@pytest.fixture
def big_run(tmp_path: Path) -> ReviewRun:
    """200 households, the top 60 warned, two in the audit sample."""
    return load_run(write_run(tmp_path / "run", n=200, warned=60, audit=["H150", "H180"]))


def listed(run: ReviewRun) -> list[str]:
    return sorted(run.review_list()["household_id"])


def status(run: ReviewRun, store: ReviewStore, today: date = TODAY) -> pd.DataFrame:
    history, decisions = case_history(run, store)
    return case_status(history, today=today, decisions=decisions).set_index("household_id")


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_every_late_case_and_short_notice_is_flagged(
    big_run: ReviewRun, tmp_path: Path, suffix: str
) -> None:
    day = date.fromisoformat(list_date(big_run))
    plan = plan_steps(listed(big_run), list_day=day, today=TODAY, seed=3)
    assert len(plan.overdue) >= 10 and len(plan.short_notice) >= 5 and len(plan.open) >= 5
    store = ReviewStore(tmp_path / "s.sqlite")
    summary = import_step_file(
        write_step_file(plan.rows, tmp_path / f"步骤{suffix}"), run=big_run, store=store
    )
    assert summary.result.stored == len(plan.rows)
    cases = status(big_run, store)
    assert set(cases.index) == set(listed(big_run))
    flagged = cases.loc[cases["overdue"], "overdue_days"].to_dict()
    assert flagged == plan.overdue
    short = cases.loc[cases["notice_too_short"], "notice_days"].astype(int).to_dict()
    assert short == plan.short_notice
    assert set(cases.index[~cases["closed"]]) == plan.open
    for household, days in plan.overdue.items():
        assert f"逾期{days}天" in cases.at[household, "flags"]
    for household, days in plan.short_notice.items():
        assert f"公示仅{days}天" in cases.at[household, "flags"]


def test_reimporting_stores_nothing_and_a_correction_is_a_new_row(
    big_run: ReviewRun, tmp_path: Path
) -> None:
    day = date.fromisoformat(list_date(big_run))
    plan = plan_steps(listed(big_run)[:10], list_day=day, today=TODAY, seed=1, open_share=0)
    store = ReviewStore(tmp_path / "s.sqlite")
    path = write_step_file(plan.rows, tmp_path / "steps.xlsx")
    import_step_file(path, run=big_run, store=store)
    again = import_step_file(path, run=big_run, store=store)
    assert again.result.stored == 0 and len(again.result.unchanged) == len(plan.rows)
    household = plan.rows["户编号"].iloc[0]
    final = plan.rows.loc[(plan.rows["户编号"] == household) & (plan.rows["步骤"] == "县级审定")]
    corrected = final.assign(备注="补录审定文号")
    done = import_step_file(
        write_step_file(corrected, tmp_path / "fix.xlsx"), run=big_run, store=store
    )
    assert len(done.result.corrected) == 1
    assert (
        len(store.steps(big_run.run_id, household)) == 1 + (plan.rows["户编号"] == household).sum()
    )


def rows(*records: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [r + [""] * (7 - len(r)) for r in records],
        columns=["户编号", "步骤", "日期", "公示开始日期", "公示结束日期", "经办人", "备注"],
    )


def refused(run: ReviewRun, store: ReviewStore, path: Path) -> str:
    with pytest.raises(StepFileError) as caught:
        import_step_file(path, run=run, store=store)
    assert store.steps().empty, "a file with any problem must store nothing"
    return str(caught.value)


def test_a_step_before_its_predecessor_names_file_row_and_column(
    big_run: ReviewRun, tmp_path: Path
) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    path = write_step_file(
        rows(
            ["H001", "入户核实", "2026-11-03"],
            ["H001", "村级评议", "2026-11-05"],
            ["H001", "公示", "", "2026-11-06", "2026-11-10"],
            ["H001", "乡镇审核", "2026-11-08"],  # before the notice ended
            ["H002", "入户核实", "2026-11-04"],  # a good row: still not stored
        ),
        tmp_path / "步骤.xlsx",
    )
    message = refused(big_run, store, path)
    # title row 1, headers row 2: the fourth data row is Excel row 6; 日期 is column C
    assert "步骤.xlsx 第6行 row 6, 列 column C (日期)" in message
    assert (
        "乡镇审核 2026-11-08 早于 公示结束 2026-11-10" in message
        and "nothing was stored" in message
    )


def test_a_missing_step_and_an_order_against_stored_steps(
    big_run: ReviewRun, tmp_path: Path
) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    first = write_step_file(rows(["H001", "入户核实", "2026-11-05"]), tmp_path / "a.csv")
    import_step_file(first, run=big_run, store=store)
    skipped = write_step_file(
        rows(["H001", "公示", "", "2026-11-06", "2026-11-11"]), tmp_path / "b.csv"
    )
    with pytest.raises(
        StepFileError, match=r"b.csv 第2行 row 2, 列 column B \(步骤\).*公示 之前缺少 村级评议"
    ):
        import_step_file(skipped, run=big_run, store=store)
    backwards = write_step_file(rows(["H001", "村级评议", "2026-11-02"]), tmp_path / "c.csv")
    with pytest.raises(StepFileError, match="村级评议 2026-11-02 早于 入户核实 2026-11-05"):
        import_step_file(backwards, run=big_run, store=store)
    assert len(store.steps()) == 1


@pytest.mark.parametrize(
    ("record", "where", "words"),
    [
        (
            ["H001", "公示", "", "2026-11-10", "2026-11-06"],
            "列 column E (公示结束日期)",
            "早于开始日期",
        ),
        (["X999", "入户核实", "2026-11-03"], "列 column A (户编号)", "不在本次运行"),
        (["H001", "走访", "2026-11-03"], "列 column B (步骤)", "不是有效步骤"),
        (["H001", "入户核实", "2026-13-45"], "列 column C (日期)", "is not a date"),
        (["H001", "入户核实", ""], "列 column C (日期)", "needs its date"),
        (
            ["H001", "入户核实", "2026-11-03", "2026-11-03"],
            "列 column D (公示开始日期)",
            "公示 rows only",
        ),
    ],
)
def test_bad_rows_are_named_and_nothing_is_stored(
    big_run: ReviewRun, tmp_path: Path, record: list[str], where: str, words: str
) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    path = write_step_file(rows(["H002", "入户核实", "2026-11-02"], record), tmp_path / "s.xlsx")
    message = refused(big_run, store, path)
    assert f"s.xlsx 第4行 row 4, {where}" in message and words in message


def test_gb18030_csv_with_english_headers(big_run: ReviewRun, tmp_path: Path) -> None:
    path = tmp_path / "steps.csv"
    path.write_bytes(
        "household_id,step,date,notice_start,notice_end,handler,note\n"
        "H003,入户 核实,2026/11/3,,,李四,已签承诺书\n"
        "H003,村民代表评议,2026年11月4日,,,李四,\n".encode("gb18030")
    )
    store = ReviewStore(tmp_path / "s.sqlite")
    assert import_step_file(path, run=big_run, store=store).result.stored == 2
    assert store.current_steps()["step"].tolist() == ["入户核实", "村级评议"]


def test_a_step_from_the_review_page(big_run: ReviewRun, tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    record_step(
        run=big_run, store=store, household_id="H004", step="入户核实", step_date="2026-11-02"
    )
    with pytest.raises(StepFileError, match="网页 web page.*早于开始日期"):
        record_step(run=big_run, store=store, household_id="H004", step="公示",
                    notice_start="2026-11-09", notice_end="2026-11-05")  # fmt: skip
    assert store.current_steps()["source"].tolist() == ["web"]


def history(*records: tuple[str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        records, columns=["household_id", "step", "step_date", "notice_start", "notice_end"]
    ).assign(run_id="r")


def test_case_status_on_literal_dates() -> None:
    steps = history(
        ("A", "线索", "2026-11-01", "", ""),
        ("A", "村级评议", "2026-11-04", "", ""),
        ("B", "线索", "2026-11-01", "", ""),
        ("B", "公示", "2026-11-05", "2026-11-05", "2026-11-09"),
        ("B", "县级审定", "2026-11-16", "", ""),
        ("C", "线索", "2026-10-20", "", ""),
        ("D", "线索", "2026-10-01", "", ""),
    )
    decisions = pd.DataFrame(
        {"run_id": ["r"], "household_id": ["D"], "decision": ["排除"], "decided_at": ["2026-10-10"]}
    )
    cases = case_status(steps, today="2026-11-13", decisions=decisions).set_index("household_id")
    assert cases.loc["A", ["days_open", "days_left", "next_step", "due_soon"]].tolist() == [
        12, 3, "公示", True,
    ]  # fmt: skip
    assert cases.at["A", "flags"] == "临近期限(剩3天)"
    assert cases.loc["B", ["closed", "days_open", "overdue", "notice_days"]].tolist() == [
        True, 15, False, 5.0,
    ]  # fmt: skip
    assert cases.loc["C", ["overdue_days", "flags"]].tolist() == [9, "逾期9天"]
    assert cases.loc["D", ["closed_by", "days_open", "overdue"]].tolist() == ["排除", 9, False]


def test_store_migrates_to_steps_and_keeps_them_append_only(tmp_path: Path) -> None:
    import sqlite3

    store = ReviewStore(tmp_path / "s.sqlite")
    assert store.schema_version() == SCHEMA_VERSION
    store.add([Decision(run_id="r", month="2026-10", household_id="H1", decision="纳入监测",
                        source="web")])  # fmt: skip
    with sqlite3.connect(store.path) as raw, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        raw.execute(
            "INSERT INTO case_steps (run_id, month, household_id, step, step_date, notice_start,"
            " notice_end, source, recorded_at) VALUES ('r', '2026-10', 'H1', '公示', '2026-11-05',"
            " '2026-11-05', '2026-11-01', 'web', 'now')"
        )


def risk(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "FANPIN_PSEUDONYM_KEY": "cli-test-key"}
    return subprocess.run(
        [sys.executable, "-m", "risk.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_steps_command_writes_cases_and_refuses_a_bad_file(
    big_run: ReviewRun, tmp_path: Path
) -> None:
    day = date.fromisoformat(list_date(big_run))
    plan = plan_steps(listed(big_run), list_day=day, today=TODAY, seed=5)
    good = write_step_file(plan.rows, tmp_path / "步骤.xlsx")
    store = str(tmp_path / "s.sqlite")
    done = risk("review", "steps", "--run", str(big_run.path), "--file", str(good), "--store",
                store, "--today", TODAY.isoformat(), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    cases = pd.read_parquet(big_run.path / "cases.parquet").set_index("household_id")
    assert cases.loc[cases["overdue"], "overdue_days"].to_dict() == plan.overdue
    assert f"逾期 overdue {len(plan.overdue)}" in done.stdout
    bad = write_step_file(
        rows(["H001", "公示", "", "2026-11-10", "2026-11-06"]), tmp_path / "x.csv"
    )
    refused_run = risk("review", "steps", "--run", str(big_run.path), "--file", str(bad),
                       "--store", store, cwd=tmp_path)  # fmt: skip
    assert refused_run.returncode == 2 and "Traceback" not in refused_run.stderr
    assert "x.csv 第2行 row 2, 列 column E (公示结束日期)" in refused_run.stderr


def test_the_exported_list_carries_each_cases_progress_deadline_and_flags(
    big_run: ReviewRun, tmp_path: Path
) -> None:
    import openpyxl

    from risk.review.excel_io import CASE_HEADERS, export_decisions

    day = date.fromisoformat(list_date(big_run))
    plan = plan_steps(listed(big_run), list_day=day, today=TODAY, seed=3)
    store = ReviewStore(tmp_path / "s.sqlite")
    import_step_file(write_step_file(plan.rows, tmp_path / "步骤.xlsx"), run=big_run, store=store)
    out = export_decisions(big_run, store=store, out=tmp_path / "导出.xlsx", today=str(TODAY))
    sheet = openpyxl.load_workbook(out).worksheets[0]
    header = next(
        n for n, row in enumerate(sheet.iter_rows(values_only=True), 1) if "户编号" in row
    )
    titles = [c.value for c in sheet[header]]
    assert titles[-3:] == list(CASE_HEADERS)
    rows = {
        str(r[titles.index("户编号")]): dict(zip(titles, r, strict=True))
        for r in sheet.iter_rows(min_row=header + 1, values_only=True)
        if r[titles.index("户编号")]
    }
    overdue = {h: d for h, d in plan.overdue.items() if h in rows}  # the sheet lists the warned
    assert len(overdue) >= 5
    late = {h: r["预警标记"] for h, r in rows.items() if r["预警标记"] and "逾期" in r["预警标记"]}
    assert set(late) == set(overdue)
    assert all(f"逾期{d}天" in late[h] for h, d in overdue.items())
    short = {h for h, r in rows.items() if r["预警标记"] and "公示仅" in r["预警标记"]}
    assert short == {h for h in plan.short_notice if h in rows} and short
    assert all(" → " in r["办理进度"] for r in rows.values() if r["办理进度"])
    # without a day to count to, the export is the list as before
    plain = export_decisions(big_run, store=store, out=tmp_path / "plain.xlsx")
    first = openpyxl.load_workbook(plain).worksheets[0]
    assert "预警标记" not in [c.value for c in first[header]]


# -- the simulator's register on a scored county (issue 16, "Done when") ---------------------------
SIM_KEY = b"case-register-test"
SIM_END = pd.Period("2026-10", "M")
SIM_RUN = SIM_END - 1  # its cases: the leads of the export month, the open ones among them


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReviewRun, Path]:
    """A simulated county (its register and truth) and a run of the month before its export.

    The draws only feed `p_true`, which this test does not read; 20 keep the simulation quick.
    """
    from scoring_county import FakeLoaded  # noqa: PLC0415 - tests/risk's helper module

    from features.build import build_panel  # noqa: PLC0415
    from features.contract.io import load_directory  # noqa: PLC0415
    from features.contract.lines import MonitoringLines  # noqa: PLC0415
    from risk.config import FanpinConfig  # noqa: PLC0415
    from risk.score import score_month  # noqa: PLC0415
    from simulation import simulate, write_simulation  # noqa: PLC0415
    from training.labels import build_labels  # noqa: PLC0415
    from training.model import RiskModel  # noqa: PLC0415

    root = tmp_path_factory.mktemp("register")
    sim = simulate(households=2000, months=24, end=str(SIM_END), seed=16, draws=20)
    county = write_simulation(sim, root / "county")
    tables = load_directory(county, pseudonym_key=SIM_KEY).tables
    months = list(pd.period_range(SIM_RUN - 14, SIM_RUN - 6, freq="M"))
    panel = build_panel(tables, months=months, lines=MonitoringLines())
    labels = build_labels(tables.outcomes, tables.households["household_id"], months=months,
                          horizon=6, known_until=SIM_RUN)  # fmt: skip
    fitted = panel.merge(labels, on=["household_id", "month"], how="inner")
    model = RiskModel(n_estimators=60, random_state=0, n_jobs=1).fit(
        fitted.drop(columns=["household_id", "month", "label"]),
        fitted["label"].to_numpy(),
        groups=fitted["household_id"].to_numpy(),
    )
    score_month(tables, month=SIM_RUN, model=FakeLoaded(model), config=FanpinConfig(),
                out_dir=root / "run", data_dir=county, progress=False)  # fmt: skip
    return load_run(root / "run"), county


def test_the_simulators_late_cases_and_short_notices_are_all_flagged(
    simulated_run: tuple[ReviewRun, Path], tmp_path: Path
) -> None:
    run, county = simulated_run
    truth = pd.read_parquet(county / "_truth" / "cases.parquet")
    register = pd.read_excel(county / "_cases" / "办理步骤.xlsx", dtype=str).fillna("")
    # A case belongs to the run whose list was current when its lead came (simulation/cases.py).
    mine = truth.loc[
        (truth["run_month"] == str(SIM_RUN)) & truth["household_id"].isin(run.household_ids())
    ]
    assert mine["household_id"].is_unique and len(mine) >= 15
    assert mine["overdue"].sum() >= 2 and mine["notice_too_short"].sum() >= 1
    assert mine["open"].sum() >= 1
    rows = register.loc[register["案件编号"].isin(mine["case_id"])]
    store = ReviewStore(tmp_path / "s.sqlite")
    path = write_step_file(rows[list(rows.columns[:7])], tmp_path / "办理步骤.xlsx")
    assert import_step_file(path, run=run, store=store).result.stored == len(rows)
    as_of = date.fromisoformat(str(mine["as_of"].iloc[0]))
    cases = status(run, store, today=as_of).loc[sorted(mine["household_id"])]
    expected = mine.set_index("household_id").sort_index()
    overdue = cases.loc[cases["overdue"], "overdue_days"].to_dict()
    assert overdue == expected.loc[expected["overdue"], "overdue_days"].to_dict()
    short = cases.loc[cases["notice_too_short"], "notice_days"].to_dict()
    assert short == expected.loc[expected["notice_too_short"], "notice_days"].to_dict()
    assert set(cases.index[~cases["closed"]]) == set(expected.index[expected["open"]])
    assert (cases["days_open"] == expected["days_open"]).all()
    assert (cases["lead_date"] == expected["lead_date"]).all()
