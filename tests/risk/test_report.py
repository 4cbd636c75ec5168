"""report.html: self-contained, every section and image present, renders in headless Chromium."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scoring_county import SCORING_MONTH

from risk.report import SECTIONS, psi

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture(scope="module")
def html(scored_run) -> str:
    return (scored_run.out_dir / "report.html").read_text(encoding="utf-8")


def test_report_has_every_section(html):
    for section_id, title in SECTIONS:
        assert f'<section id="{section_id}">' in html, section_id
        assert title in html
    for words in ("风险分布", "主要原因", "乡镇分布", "重点户解释", "数据完整性", "与上期比较"):
        assert words in html


def test_report_embeds_its_plots(html, scored_run):
    images = re.findall(r'<img alt="([^"]+)" src="([^"]+)"', html)
    waterfalls = [src for alt, src in images if alt.startswith("SHAP waterfall")]
    assert len(waterfalls) == min(5, int(scored_run.scores["warned"].sum()))
    # the waterfalls are drawn as SVG (cheap for every county's report), the other plots as PNG
    assert all(src.startswith("data:image/svg+xml;base64,") for src in waterfalls)
    others = [src for alt, src in images if not alt.startswith("SHAP waterfall")]
    assert others and all(src.startswith("data:image/png;base64,") for src in others)
    svg = base64.b64decode(waterfalls[0].split(",", 1)[1]).decode("utf-8")
    assert svg.startswith("<svg") and "本户" in svg and "基准" in svg
    for alt in ("risk distribution", "reasons by frequency", "warnings by township",
                "data completeness"):  # fmt: skip
        assert alt in [a for a, _ in images]


def test_report_loads_nothing_external(html):
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert "<link" not in html
    assert "@import" not in html and "url(" not in html


def test_report_names_the_top_households_reasons(html, scored_run):
    top = scored_run.explanations.loc[
        (scored_run.explanations["rank"] == scored_run.explanations["rank"].min())
        & scored_run.explanations["reason_order"].notna()
    ]
    for sentence in top["reason_zh"]:
        assert sentence in html
    for cause, evidence in zip(top["cause_zh"], top["evidence"], strict=True):
        assert f"【{cause}】" in html
        assert f"依据：{evidence}" in html or not evidence
    assert scored_run.run_id in html


def test_report_counts_reasons_by_cause(html, scored_run):
    from risk.report import cause_frequencies

    causes = cause_frequencies(scored_run.explanations)
    reasons = scored_run.explanations.loc[scored_run.explanations["reason_order"] == 1]
    assert causes["first"].sum() == reasons["household_id"].nunique()
    assert causes["first"].is_monotonic_decreasing
    section = html[html.index('<table id="causes">') :]
    section = section[: section.index("</table>")]
    for row in causes.itertuples(index=False):
        assert f"<strong>{row.cause_zh}</strong>" in section and row.measure in section


def test_psi_is_zero_for_equal_and_grows_with_shift():
    assert psi([0.25] * 4, [0.25] * 4) == 0.0
    small = psi([0.25] * 4, [0.3, 0.25, 0.25, 0.2])
    large = psi([0.25] * 4, [0.7, 0.1, 0.1, 0.1])
    assert 0 < small < 0.1 < large


@pytest.mark.browser
def test_report_renders_in_headless_chromium(scored_run, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium is not installed at /usr/bin/chromium (CI installs it)")
    page = (scored_run.out_dir / "report.html").resolve().as_uri()
    base = [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run(
        [*base, f"--screenshot={shot}", "--window-size=1280,2000", page],
        check=True,
        capture_output=True,
        timeout=120,
    )
    dom = subprocess.run(
        [*base, "--dump-dom", page], check=True, capture_output=True, timeout=120, text=True
    ).stdout
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    for section_id, _ in SECTIONS:
        assert f'id="{section_id}"' in dom
    assert dom.count("data:image/png;base64,") >= 3 and dom.count("data:image/svg+xml;base64,") >= 1
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] == 2000 and pixels.shape[1] == 1280
    rgb = pixels[..., :3]
    assert float(np.std(rgb)) > 0.05, "the screenshot is blank"
    header = rgb[5:60, 100:600].reshape(-1, 3).mean(axis=0)
    assert header[2] > header[0], "the blue page header is drawn"


def test_report_counts_lifecycle_statuses_by_township(html, scored_run):
    lifecycle = pd.read_parquet(scored_run.out_dir / "lifecycle.parquet")
    section = html.split('<section id="lifecycle">')[1].split("</section>")[0]
    assert "继续帮扶" in section and "消除后返贫风险" in section
    assert "本次运行未跟踪监测户" not in section
    monitored = int((lifecycle["status"] == "keep_supporting").sum())
    assert f'<td class="num">{monitored:,}</td>' in section
    townships = set(scored_run.scores["township"])
    assert any(t in section for t in townships)


# --- cases of earlier runs and the latest backtest ---------------------------------------------------

EARLIER_MONTH = "2025-11"  # the month before SCORING_MONTH; its list counts as a lead on 2025-12-01


def _section(html: str, section_id: str) -> str:
    return html.split(f'<section id="{section_id}">')[1].split("</section>")[0]


def _earlier_run(scored_run, root: Path) -> Path:
    """A copy of the scored run relabelled as the month before (same households and list)."""
    earlier = root / EARLIER_MONTH
    shutil.copytree(scored_run.out_dir, earlier)
    manifest = json.loads((earlier / "manifest.json").read_text(encoding="utf-8"))
    manifest["month"] = EARLIER_MONTH
    (earlier / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return earlier


def _steps(run_id: str, household: str, *rows: tuple[str, ...]) -> list:
    from risk.review.store import CaseStep

    return [
        CaseStep(
            run_id=run_id,
            month=EARLIER_MONTH,
            household_id=household,
            step=row[0],
            step_date=row[1],
            notice_start=row[2] if len(row) > 2 else "",
            notice_end=row[3] if len(row) > 3 else "",
            source="excel",
        )  # fmt: skip
        for row in rows
    ]


@pytest.fixture(scope="module")
def followed_run(tmp_path_factory, scored_run, scoring_tables, scoring_model, scoring_county_dir):
    """A run of the scoring month beside an earlier run with cases in a store, and a backtest."""
    from risk.config import FanpinConfig
    from risk.review.store import ReviewStore
    from risk.score import score_month

    base = tmp_path_factory.mktemp("followed")
    root = base / "runs"
    earlier = _earlier_run(scored_run, root)
    late, short, on_time = scored_run.scores.loc[scored_run.scores["warned"], "household_id"][:3]
    run_id = scored_run.run_id
    store = ReviewStore(base / "review.sqlite")
    store.add_steps(
        _steps(run_id, late, ("入户核实", "2025-12-03"))  # open on 12-31: 30 days, 15 late
        + _steps(
            run_id,
            short,
            ("入户核实", "2025-12-02"),
            ("村级评议", "2025-12-03"),
            ("公示", "2025-12-04", "2025-12-04", "2025-12-06"),
            ("乡镇审核", "2025-12-07"),
            ("县级审定", "2025-12-08"),
        )  # fmt: skip
        + _steps(
            run_id,
            on_time,
            ("入户核实", "2025-12-02"),
            ("村级评议", "2025-12-03"),
            ("公示", "2025-12-04", "2025-12-04", "2025-12-08"),
            ("乡镇审核", "2025-12-09"),
            ("县级审定", "2025-12-10"),
            ("线索", "2025-12-01"),
        )  # fmt: skip
    )
    store.add_steps(
        _steps(run_id, late, ("村级评议", "2026-01-20"))
    )  # after the month: not counted
    backtest = root / "backtest"
    backtest.mkdir()
    (backtest / "backtest.json").write_text(json.dumps({
        "known_until": "2026-06", "horizon": 6,
        "runs": [{"month": EARLIER_MONTH, "status": "closed", "list_size": 20,
                  "predicted": {"recall": 0.31}, "realised": {"recall": 0.425},
                  "rules": {"recall": 0.175}}],
    }), encoding="utf-8")  # fmt: skip
    (backtest / "backtest.html").write_text("<html></html>", encoding="utf-8")
    config = FanpinConfig()
    config = replace(config, review=replace(config.review, store=str(base / "review.sqlite")))
    result = score_month(scoring_tables, month=SCORING_MONTH, model=scoring_model, config=config,
                         out_dir=root / SCORING_MONTH, data_dir=scoring_county_dir,
                         progress=False)  # fmt: skip
    assert earlier.is_dir()
    return result, {"late": late, "short": short, "on_time": on_time}


def test_report_lists_late_cases_and_short_notices(followed_run, scored_run):
    result, households = followed_run
    html = (result.out_dir / "report.html").read_text(encoding="utf-8")
    section = _section(html, "cases")
    assert "2025-12-31" in section and "评分月份" in section  # "today" from the month, said so
    flagged = section.split('<table id="flagged-cases">')[1].split("</table>")[0]
    rows = {
        household: row
        for row in flagged.split("<tr>")[2:]
        for household in households.values()
        if f"<td>{household}</td>" in row
    }
    assert set(rows) == {households["late"], households["short"]}
    assert (
        "逾期15天" in rows[households["late"]] and "入户核实 2025-12-03" in rows[households["late"]]
    )
    assert "公示仅3天" in rows[households["short"]] and "逾期" not in rows[households["short"]]
    places = scored_run.scores.set_index("household_id")
    for household, row in rows.items():
        assert f"<td>{places.at[household, 'township']}</td>" in row
        assert f"<td>{places.at[household, 'village']}</td>" in row
    listed = int(scored_run.scores["warned"].sum()) + len(
        scored_run.manifest["audit"]["household_ids"]
    )
    # every listed household is a case; all but the two closed ones are still open on 12-31
    assert f"<b>{listed:,}</b><span>案件 cases" in section
    assert f"<b>{listed - 2:,}</b><span>未办结 open" in section
    assert "<b>1</b><span>公示不足5天" in section
    assert not re.search(r"\d{17}[\dXx]", section), "no ID number in the section"


def test_report_links_the_latest_backtest(followed_run):
    result, _ = followed_run
    html = (result.out_dir / "report.html").read_text(encoding="utf-8")
    section = _section(html, "backtest")
    assert '<a href="../backtest/backtest.html">' in section
    assert (result.out_dir / "../backtest/backtest.html").is_file()
    row = section.split('<table id="backtest-runs">')[1].split("</table>")[0]
    assert EARLIER_MONTH in row and "42.5%" in row and "17.5%" in row and "31.0%" in row


def test_without_store_or_earlier_run_the_sections_say_so_in_one_line(html, scored_run, tmp_path):
    from risk.report import case_deadlines

    section = _section(html, "cases")
    assert "没有找到更早的运行结果" in section and "flagged-cases" not in section
    assert "risk backtest --data" in _section(html, "backtest")
    missing = tmp_path / "none" / "review.sqlite"
    result = case_deadlines([scored_run.out_dir], store=missing, month=pd.Period("2026-01", "M"))
    assert "未找到审核库" in result["message"] and "\n" not in result["message"]
    assert result["flagged"] == [] and not missing.exists(), "scoring never creates a store"


def test_case_counts_are_reproducible(followed_run):
    from risk.report import case_deadlines, latest_backtest
    from risk.stages.outputs import earlier_runs

    result, _ = followed_run
    month = pd.Period(SCORING_MONTH, "M")
    folders = [folder for _, folder in earlier_runs(result.out_dir, month=month)]
    store = result.out_dir.parent.parent / "review.sqlite"
    first = case_deadlines(folders, store=store, month=month)
    assert first == case_deadlines(folders, store=store, month=month)
    assert first["totals"]["overdue"] >= 1
    assert latest_backtest(result.out_dir) == latest_backtest(result.out_dir)
