"""report.html: self-contained, every section and image present, renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
    sources = [src for _, src in images]
    assert all(src.startswith("data:image/png;base64,") for src in sources)
    waterfalls = [alt for alt, _ in images if alt.startswith("SHAP waterfall")]
    assert len(waterfalls) == min(5, int(scored_run.scores["warned"].sum()))
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
    assert dom.count("data:image/png;base64,") >= 5
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
