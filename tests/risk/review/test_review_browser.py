"""In a real browser: open the list, filter to one township, open a household, record a decision,
then find it in the store and in a re-exported Excel file."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import uvicorn

from risk.review.excel_io import export_decisions
from risk.review.run import load_run
from risk.review.store import ReviewStore
from risk.review.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
#: Set to a folder to keep the lifecycle test's screenshots there (else the test's own tmp folder).
SCREENSHOTS_ENV = "FANPIN_SCREENSHOTS"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"
    ),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(run_dir: Path, store: ReviewStore) -> Iterator[str]:
    """The app of `run_dir` on 127.0.0.1 and a free port, in a thread, stopped on leaving."""
    app = create_app(load_run(run_dir), store=store)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def served(run_dir: Path, tmp_path: Path) -> Iterator[tuple[str, ReviewStore]]:
    """The run's app served (`serving`) with a fresh store."""
    store = ReviewStore(tmp_path / "review.sqlite")
    with serving(run_dir, store) as url:
        yield url, store


def test_a_decision_made_in_the_browser_reaches_store_and_excel(
    served: tuple[str, ReviewStore], run_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    url, store = served
    with sync_playwright() as playwright:
        # Playwright starts the browser with a fresh temporary profile (its own user data dir)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            assert page.locator("#warning-list tbody tr").count() == 14
            page.select_option("select[name=township]", "西乡")
            page.click("#apply-filters")
            page.wait_for_url("**township=*")
            townships = page.locator("#warning-list tbody tr td:nth-child(4)").all_inner_texts()
            assert townships and set(townships) == {"西乡"}
            first = page.locator("a.household-link").first
            household = first.inner_text().strip()
            first.click()
            page.wait_for_selector("h1:has-text('户编号')")
            assert page.locator("svg.waterfall").count() == 1
            page.select_option("select[name=decision]", "排除")
            page.select_option("select[name=reason]", "家庭成员已外出务工")
            page.fill("input[name=reason_text]", "儿子去广东打工")
            page.fill("input[name=reviewer]", "陈七")
            page.fill("textarea[name=note]", "<script>alert(1)</script>")
            page.click("#save-decision")
            page.wait_for_selector("#saved")
            assert (
                page.locator("#history td.note").first.inner_text() == "<script>alert(1)</script>"
            )
        finally:
            browser.close()

    current = store.current().set_index("household_id")
    assert list(current.index) == [household]
    assert current.loc[household, ["decision", "reason", "source"]].tolist() == [
        "排除",
        "家庭成员已外出务工",
        "web",
    ]
    exported = export_decisions(load_run(run_dir), store=store, out=tmp_path / "export.xlsx")
    sheet = openpyxl.load_workbook(exported)["预警名单"]
    header = [cell.value for cell in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[1] == household)
    assert row[header.index("审核结论")] == "排除"
    assert row[header.index("排除原因")] == "家庭成员已外出务工：儿子去广东打工"
    assert row[header.index("审核人")] == "陈七"


def test_a_step_recorded_in_the_browser_is_shown_after_reload(
    served: tuple[str, ReviewStore],
) -> None:
    from playwright.sync_api import sync_playwright

    url, store = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(url + "/household/H003")
            assert page.locator("#timeline li.next").get_attribute("data-step") == "入户核实"
            page.select_option("select[name=step]", "村级评议")  # before 入户核实: refused
            page.fill("input[name=step_date]", "2026-11-04")
            page.fill("input[name=handler]", "赵干部")
            page.click("#save-step")
            page.wait_for_selector("#step-error")
            assert "村级评议 之前缺少 入户核实" in page.locator("#step-error").inner_text()
            assert page.input_value("input[name=handler]") == "赵干部"  # kept as typed
            page.select_option("select[name=step]", "入户核实")
            page.fill("form.step-form textarea[name=note]", "户主在家，已核实")
            page.click("#save-step")
            page.wait_for_selector("#saved")
            page.reload()
            visit = page.locator("#timeline li[data-step=入户核实]")
            assert "done" in (visit.get_attribute("class") or "")
            text = visit.inner_text()
            assert "2026-11-04" in text and "赵干部" in text and "户主在家，已核实" in text
            assert page.locator("#timeline li.next").get_attribute("data-step") == "村级评议"
        finally:
            browser.close()

    steps = store.steps()
    assert steps[["household_id", "step", "step_date", "handler", "source"]].values.tolist() == [
        ["H003", "入户核实", "2026-11-04", "赵干部", "web"]
    ]


def test_a_lifecycle_decision_made_in_the_browser_is_shown_after_reload(
    run_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright
    from test_review_web import write_lifecycle

    write_lifecycle(run_dir)
    store = ReviewStore(tmp_path / "review.sqlite")
    shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path)
    with serving(run_dir, store) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url + "/")
            page.click("#tab-lifecycle")
            page.wait_for_selector("#lifecycle-list")
            assert page.locator("#lifecycle-list tbody tr").count() == 7
            page.select_option("select[name=status]", "可考虑消除风险")
            page.select_option("select[name=township]", "西乡")
            page.click("#apply-lifecycle-filters")
            page.wait_for_url("**township=*")
            rows = page.locator("#lifecycle-list tbody tr")
            assert rows.count() == 1 and rows.first.get_attribute("data-household") == "M004"
            page.click("a.lifecycle-link")
            page.wait_for_selector("h1:has-text('监测户 M004')")
            assert page.locator("#conditions tr").count() == 5
            page.select_option("select[name=decision]", "同意消除风险")
            page.fill("input[name=reviewer]", "周五")
            page.fill("textarea[name=note]", "收入连续8个月高于监测线")
            page.click("#save-lifecycle-decision")
            page.wait_for_selector("#saved")
            page.reload()
            history = page.locator("#history tr").nth(1).inner_text()
            assert "同意消除风险" in history and "周五" in history and "8个月" in history
            page.goto(url + "/lifecycle?status=可考虑消除风险")
            decided = page.locator("#lifecycle-list tr[data-household=M004] td.decision")
            assert decided.inner_text() == "同意消除风险"
            page.screenshot(path=str(shots / "lifecycle_tab.png"), full_page=True)
            page.goto(url + "/lifecycle/M004")
            page.screenshot(path=str(shots / "lifecycle_household.png"), full_page=True)
        finally:
            browser.close()

    current = store.current().set_index("household_id")
    assert current.loc["M004", ["decision", "reviewer", "source"]].tolist() == [
        "同意消除风险",
        "周五",
        "web",
    ]
    assert list(current.index) == ["M004"]
