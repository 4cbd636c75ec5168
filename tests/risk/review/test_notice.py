"""The public notice: a village's list with nothing private on it, scanned cell by cell and in its XML."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from risk.review.cases import record_steps
from risk.review.notice import (
    NOTICE_COLUMNS,
    PUBLIC_RISK_WORDS,
    PrivateDataError,
    check_public,
)
from risk.review.run import ReviewRun, load_run
from risk.review.store import CaseStep, Decision, ReviewStore
from risk.score import ScoreResult

# What a public notice must never hold (written here independently of risk.review.notice).
ID_18 = re.compile(r"\d{17}[\dXx]")
ID_LONG = re.compile(r"\d{17}[\dXx][0-9A-Za-z]{2}(?:[0-9A-Za-z]{2})?")
MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}")
BANK = re.compile(r"\d{12,19}")
HEALTH = re.compile(r"病|残|住院|医疗|门诊|药|诊断|癌|精神")
PHONE = "13912345678"
BANK_ACCOUNT = "6222021234567890123"


def private_hits(text: str) -> list[str]:
    patterns = {
        "id": ID_18,
        "id-long": ID_LONG,
        "mobile": MOBILE,
        "landline": LANDLINE,
        "bank": BANK,
        "health": HEALTH,
    }
    return [f"{name}: {m.group()}" for name, p in patterns.items() for m in p.finditer(text)]


@pytest.fixture
def noticed(scored_run: ScoreResult, scoring_county_dir: Path, tmp_path: Path) -> dict:
    """A village of the scored run with decisions, notices and ill and disabled members."""
    run = load_run(scored_run.out_dir)
    listed = run.review_list()
    village = listed["village"].value_counts().index[0]
    households = sorted(listed.loc[listed["village"] == village, "household_id"])
    assert len(households) >= 2
    store = ReviewStore(tmp_path / "s.sqlite")
    decisions = [
        Decision(run_id=run.run_id, month=run.month, household_id=h, source="excel",
                 decision="纳入监测" if k else "排除", reason="" if k else "信息有误")
        for k, h in enumerate(households)
    ]  # fmt: skip
    store.add(decisions)
    steps = [
        CaseStep(run_id=run.run_id, month=run.month, household_id=h, step=step,
                 step_date=day, source="excel", **notice)
        for h in households[1:]
        for step, day, notice in (
            ("入户核实", "2026-01-03", {}),
            ("村级评议", "2026-01-05", {}),
            ("公示", "2026-01-06", {"notice_start": "2026-01-06", "notice_end": "2026-01-12"}),
        )
    ]  # fmt: skip
    record_steps(list(enumerate(steps, start=2)), store=store, file="steps.xlsx")
    data = _private_county(scoring_county_dir, tmp_path / "county", households)
    return {"run": run, "village": village, "announced": households[1:], "store": store,
            "data": data}  # fmt: skip


def _private_county(source: Path, target: Path, households: list[str]) -> Path:
    """The run's data with illness, disability, phones and bank accounts for the households."""
    shutil.copytree(source, target)
    members = pd.read_csv(target / "members.csv", dtype=str, keep_default_na=False)
    mine = members["household_id"].isin(households)
    members.loc[mine, "health"] = "长期慢性病,患有大病,残疾"
    members["联系电话"] = PHONE
    members["银行账号"] = BANK_ACCOUNT
    members.to_csv(target / "members.csv", index=False)
    disability = pd.read_csv(target / "disability.csv", dtype=str, keep_default_na=False)
    added = pd.DataFrame(
        {
            "person_id": members.loc[mine, "person_id"].to_numpy(),
            "disability_type": "精神",
            "grade": "2",
            "certified_date": "2025-03-10",
        }
    )
    pd.concat([disability, added], ignore_index=True).drop_duplicates("person_id").to_csv(
        target / "disability.csv", index=False
    )
    return target


def risk(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "risk.cli", *args],
        cwd=cwd,
        env={**os.environ, "FANPIN_PSEUDONYM_KEY": "scoring-test-key"},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_notice_holds_no_id_phone_bank_or_health_detail(noticed: dict, tmp_path: Path) -> None:
    run: ReviewRun = noticed["run"]
    out = tmp_path / "公示名单.xlsx"
    done = risk("review", "notice", "--run", str(run.path), "--village", noticed["village"],
                "--out", str(out), "--data", str(noticed["data"]),
                "--store", str(noticed["store"].path), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    cells = []
    book = openpyxl.load_workbook(out)
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells += [str(value) for value in row if value is not None]
    assert private_hits("\n".join(cells)) == []
    with zipfile.ZipFile(out) as archive:
        xml = "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())
    assert private_hits(xml) == []
    for household in noticed["announced"]:  # 户编号 is not shown either
        assert household not in xml
    table = pd.read_excel(out, header=1).dropna(subset=["户主"])
    assert tuple(table.columns) == NOTICE_COLUMNS
    assert len(table) == len(noticed["announced"])
    assert table["户主"].str.contains(r"\*").all()
    assert set(table["风险类型"]) <= set(PUBLIC_RISK_WORDS.values())
    assert (table["公示开始日期"] == "2026-01-06").all() and (
        table["审核结论"] == "拟纳入监测"
    ).all()
    assert (table["村"] == noticed["village"]).all() and (table["家庭人口"] >= 1).all()


def test_the_households_on_the_notice_do_have_illness_and_disability(noticed: dict) -> None:
    members = pd.read_csv(noticed["data"] / "members.csv", dtype=str)
    mine = members.loc[members["household_id"].isin(noticed["announced"])]
    assert mine["health"].str.contains("大病").all() and mine["health"].str.contains("残疾").all()
    medical = pd.read_csv(noticed["data"] / "medical.csv", dtype=str)
    assert medical["person_id"].isin(members["person_id"]).any()


def test_unknown_village_exits_2(noticed: dict, tmp_path: Path) -> None:
    done = risk("review", "notice", "--run", str(noticed["run"].path), "--village", "无此村",
                "--out", str(tmp_path / "n.xlsx"), "--data", str(noticed["data"]),
                "--store", str(noticed["store"].path), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "无此村" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "n.xlsx").exists()


@pytest.mark.parametrize(
    "value",
    ["110101199001011234", "13912345678", "0851-86801234", "6222021234567890", "因病住院", "残疾"],
)
def test_check_public_refuses_private_text(value: str) -> None:
    with pytest.raises(PrivateDataError):
        check_public(["张*", value])
