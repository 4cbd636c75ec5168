"""The review web app: filters, household page, decisions, case steps, login, escaping, masking."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from case_steps import plan_steps, write_step_file
from fastapi.testclient import TestClient

from features.contract.errors import ConfigError
from features.contract.tables import Tables
from risk.review.cases import import_step_file, list_date
from risk.review.run import load_run
from risk.review.store import Decision, ReviewStore
from risk.review.web import check_binding, create_app

TEMPLATES = Path(__file__).parents[3] / "risk" / "templates" / "review"

ID_NUMBER = "452301199001011234"
NOW = datetime(2026, 11, 20, 9, 30, 15)


def client(run_dir: Path, tmp_path: Path, **options: object) -> tuple[TestClient, ReviewStore]:
    store = ReviewStore(tmp_path / "review.sqlite")
    app = create_app(load_run(run_dir), store=store, clock=lambda: NOW, **options)  # type: ignore[arg-type]
    return TestClient(app), store


def form_token(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def listed(page: str) -> list[str]:
    return re.findall(r'<tr data-household="([^"]+)"', page)


def test_binding_beyond_loopback_needs_a_token() -> None:
    check_binding("127.0.0.1", token=None, token_env="T")
    check_binding("localhost", token=None, token_env="T")
    check_binding("::1", token=None, token_env="T")
    check_binding("0.0.0.0", token="s3cret", token_env="T")
    for host in ("0.0.0.0", "192.168.1.5", "review.example.org"):
        with pytest.raises(ConfigError, match="FANPIN_REVIEW_TOKEN"):
            check_binding(host, token=None, token_env="FANPIN_REVIEW_TOKEN")


def test_list_filters_and_sorts(run_dir: Path, tmp_path: Path) -> None:
    web, store = client(run_dir, tmp_path)
    page = web.get("/").text
    assert listed(page)[:3] == ["H001", "H002", "H003"] and len(listed(page)) == 14  # 12 + audit
    assert "抽查" in page and "预警名单" in page
    east = listed(web.get("/", params={"township": "东镇"}).text)
    assert east and all(int(h[1:]) % 4 in (1, 2) for h in east)
    by_probability = listed(web.get("/", params={"sort": "probability", "order": "asc"}).text)
    assert by_probability[0] == "H035" and by_probability[-1] == "H001"
    high = listed(web.get("/", params={"tier": "高", "county": "乙县"}).text)
    assert high and all(int(h[1:]) % 4 == 0 for h in high)
    reason = listed(web.get("/", params={"reason": "残疾人数"}).text)
    # main reasons raise the risk: a negative contribution is not a reason type of the household
    assert reason == ["H002", "H003", "H006", "H007", "H010", "H011"]
    store.add([Decision(run_id=load_run(run_dir).run_id, month="2026-10", household_id="H002",
                        decision="排除", source="excel", reason="信息有误")])  # fmt: skip
    assert listed(web.get("/", params={"status": "排除"}).text) == ["H002"]
    assert "H002" not in listed(web.get("/", params={"status": "未审核"}).text)


def test_household_page_and_a_decision_reach_the_store(run_dir: Path, tmp_path: Path) -> None:
    web, store = client(run_dir, tmp_path)
    page = web.get("/household/H001").text
    assert "风险概率" in page and "<svg" in page and "瀑布图" in page
    assert "近12个月" in page or "人均纯收入" in page
    response = web.post(
        "/household/H001/decision",
        data={
            "decision": "纳入监测",
            "reviewer": "李四",
            "note": "住院",
            "form_token": form_token(page),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    current = store.current()
    assert current[
        ["household_id", "decision", "source", "reviewer", "decided_at"]
    ].values.tolist() == [["H001", "纳入监测", "web", "李四", "2026-11-20T09:30:15"]]
    assert "审核结论已保存" in web.get(response.headers["location"]).text


def test_bad_posts_are_refused_and_store_nothing(run_dir: Path, tmp_path: Path) -> None:
    web, store = client(run_dir, tmp_path)
    token = form_token(web.get("/household/H001").text)
    good = {"decision": "排除", "reviewer": "李四", "form_token": token}
    assert web.post("/household/H001/decision", data={**good, "form_token": "x"}).status_code == 400
    assert (
        web.post("/household/H001/decision", data={**good, "decision": "同意"}).status_code == 400
    )
    assert web.post("/household/H001/decision", data={**good, "reviewer": " "}).status_code == 400
    assert web.post("/household/H001/decision", data={**good, "reason": "随便"}).status_code == 400
    assert web.post("/household/H999/decision", data=good).status_code == 404
    assert web.get("/household/H999").status_code == 404
    assert store.count() == 0


def test_user_text_is_escaped_and_id_numbers_never_shown(run_dir: Path, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(run_dir / "warnings.xlsx")
    book["预警名单"]["F2"] = ID_NUMBER  # an unmasked id where the head's name belongs
    book.save(run_dir / "warnings.xlsx")
    web, store = client(run_dir, tmp_path)
    note = f"<script>alert('x')</script> 身份证{ID_NUMBER}有误"
    token = form_token(web.get("/household/H001").text)
    web.post(
        "/household/H001/decision",
        data={"decision": "待核实", "reviewer": "<b>王五</b>", "note": note, "form_token": token},
    )
    assert store.current()["note"].tolist() == [note]  # stored as typed
    for page in (web.get("/household/H001").text, web.get("/").text):
        assert "<script>alert" not in page and "<b>王五</b>" not in page
        assert ID_NUMBER not in page and "4523**********1234" in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in web.get("/household/H001").text


def test_a_token_is_required_when_set(run_dir: Path, tmp_path: Path) -> None:
    web, _ = client(run_dir, tmp_path, token="s3cret-token")
    assert web.get("/", follow_redirects=False).headers["location"] == "/login"
    assert web.get("/household/H001", follow_redirects=False).status_code == 303
    assert web.get("/", headers={"X-Review-Token": "s3cret-token"}).status_code == 200
    assert web.get("/", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert web.post("/login", data={"token": "wrong"}).status_code == 401
    assert web.get("/", follow_redirects=False).status_code == 303
    web.get("/login", params={"token": "s3cret-token"})
    assert web.get("/", follow_redirects=False).status_code == 200  # the cookie now


def test_history_charts_from_the_runs_tables(run_dir: Path, tmp_path: Path) -> None:
    members = pd.DataFrame(
        {"person_id": ["Pa", "Pb", "Pz"], "household_id": ["H001", "H001", "H002"],
         "relation": ["户主", "配偶", "户主"]}
    )  # fmt: skip
    months = pd.period_range("2025-09", "2026-12", freq="M")
    income = pd.DataFrame(
        {"household_id": "H001", "month": months, "wage_income": 900.0, "business_income": 0.0,
         "business_expense": 0.0, "property_income": 0.0, "transfer_income": 100.0}
    )  # fmt: skip
    medical = pd.DataFrame(
        {"person_id": ["Pa", "Pz"], "settle_date": pd.to_datetime(["2026-08-03", "2026-08-04"]),
         "out_of_pocket": [4321.0, 99.0]}
    )  # fmt: skip
    employment = pd.DataFrame(
        {"person_id": ["Pb"], "start_month": pd.PeriodIndex(["2025-03"], freq="M"),
         "end_month": pd.PeriodIndex(["2026-06"], freq="M"), "work_location": ["省外"],
         "monthly_income": [3200.0]}
    )  # fmt: skip
    events = pd.DataFrame(
        {"household_id": ["H001", "H001"], "date": pd.to_datetime(["2026-07-01", "2026-12-01"]),
         "event_type": ["房屋损毁", "失业"], "loss_amount": [8000.0, None]}
    )  # fmt: skip
    tables = Tables(
        households=pd.DataFrame({"household_id": ["H001", "H002"]}),
        members=members,
        export_month=pd.Period("2026-12", "M"),
        income=income,
        medical=medical,
        employment=employment,
        events=events,
    )
    web, _ = client(run_dir, tmp_path, tables=tables)
    page = web.get("/household/H001").text
    assert "月收入" in page and "医疗自付" in page and "4,321元" in page
    assert "配偶" in page and "省外" in page and "3,200元/月" in page and "2026-06" in page
    assert "房屋损毁" in page and "失业" not in page  # December is after the run's month
    assert "Pa" not in re.sub(r"<[^>]+>", " ", page).split()  # people by relation, never by id


def test_history_from_the_data_folder_named_in_the_manifest(run_dir: Path, tmp_path: Path) -> None:
    import json

    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame(
        {"户编号": ["H001", "H002"], "县": "甲县", "乡镇": "东镇", "村": "一村", "户类型": "脱贫户"}
    ).to_csv(data / "households.csv", index=False)
    pd.DataFrame(
        {"证件号码": [ID_NUMBER, "M2"], "户编号": ["H001", "H002"], "与户主关系": "户主"}
    ).to_csv(data / "members.csv", index=False)
    pd.DataFrame(
        {"证件号码": [ID_NUMBER], "结算日期": ["2026-09-10"], "就诊类型": ["住院"],
         "医疗费总额": [9000], "个人自付": [6543]}
    ).to_csv(data / "medical.csv", index=False)  # fmt: skip
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    (run_dir / "manifest.json").write_text(
        json.dumps({**manifest, "data_dir": "../data"}), encoding="utf-8"
    )
    web, _ = client(run_dir, tmp_path, pseudonym_key=lambda: b"k")
    page = web.get("/household/H001").text
    assert "医疗自付" in page and "6,543元" in page and ID_NUMBER not in page
    (data / "households.csv").unlink()  # an unreadable folder: the page still works, says so
    web, _ = client(run_dir, tmp_path, pseudonym_key=b"k")
    page = web.get("/household/H001").text
    assert web.get("/household/H001").status_code == 200 and "近期情况不可用" in page


def test_long_lists_are_paged(tmp_path: Path) -> None:
    from review_runs import write_run

    web, _ = client(write_run(tmp_path / "big", n=500, warned=450), tmp_path)
    first = web.get("/", params={"township": "东镇"}).text
    assert len(listed(first)) == 200 and "第 1/2 页" in first and "下一页" in first
    second = web.get("/", params={"township": "东镇", "page": "2"}).text
    assert len(listed(second)) == 26 and not set(listed(first)) & set(listed(second))
    assert listed(web.get("/", params={"page": "99"}).text)[0] == "H401"  # clamped to the last


def test_the_lifecycle_tab_pages_with_the_same_links() -> None:
    from jinja2 import DictLoader, Environment

    from risk.review.web import _page_of, _query

    frame = pd.DataFrame({"household_id": [f"H{i:03d}" for i in range(450)]})
    last = _page_of(frame, "99")  # clamped to the last page
    assert (last["page"], last["pages"], last["matching"], len(last["rows"])) == (3, 3, 450, 50)
    assert _page_of(frame, "x")["page"] == 1 and _page_of(frame.iloc[:0], "2")["pages"] == 1
    env = Environment(loader=DictLoader({"_pages.html": (TEMPLATES / "_pages.html").read_text()}))
    env.globals["query"] = _query
    nav = env.from_string(
        '{% from "_pages.html" import pages_nav with context %}'
        '{{ pages_nav("/lifecycle", {"status": "风险加重"}, 2, 3) }}'
    ).render()
    assert nav.count('href="/lifecycle?') == 2 and "第 2/3 页" in nav and "page=3" in nav


def test_main_reasons_and_reason_types_follow_the_scoring_step(
    run_dir: Path, tmp_path: Path
) -> None:
    explanations = pd.read_parquet(run_dir / "explanations.parquet")
    order = explanations.groupby("household_id").cumcount()
    explanations["reason_order"] = (2 - order).where(order < 2).astype("Int64")  # 2nd row first
    explanations["risk_type"] = explanations["feature"].map({"oop_medical_12m": "因病"}).fillna("")
    explanations.to_parquet(run_dir / "explanations.parquet")
    web, _ = client(run_dir, tmp_path)
    page = web.get("/household/H001").text
    reasons = re.findall(r"<li>([^<]+)</li>", page.split('id="reasons"')[1])
    assert reasons[:2] == ["近6个月有2000个月无人务工", "近12个月人均纯收入1,000元, 接近监测线"]
    sick = listed(web.get("/", params={"reason": "因病"}).text)
    assert sick and all(int(h[1:]) % 4 in (0, 3) for h in sick)
    assert '<option value="近12个月医疗自付"' not in web.get("/").text  # shown as its risk type


def test_page_and_list_show_cause_evidence_and_measure(run_dir: Path, tmp_path: Path) -> None:
    explanations = pd.read_parquet(run_dir / "explanations.parquet")
    order = explanations.groupby("household_id").cumcount() + 1
    explanations["reason_order"] = order.where(explanations["contribution"] > 0).astype("Int64")
    explanations["cause_zh"] = ["因病", "自然灾害", "其他"] * (len(explanations) // 3)
    explanations["measure"] = "医疗救助/大病保险"
    explanations["evidence"] = "2026年5月住院自付2.3万元（医保结算.csv 第1234行）"
    explanations.to_parquet(run_dir / "explanations.parquet")
    web, _ = client(run_dir, tmp_path)
    page = web.get("/household/H001").text.split('id="reasons"')[1]
    assert '<span class="tag cause">因病</span>' in page
    assert "依据：2026年5月住院自付2.3万元（医保结算.csv 第1234行）" in page
    assert "建议措施：医疗救助/大病保险" in page
    front = web.get("/").text
    assert "原因类别" in front and "因病、自然灾害" in front and "【因病】" in front
    disaster = listed(web.get("/", params={"reason": "自然灾害"}).text)
    assert disaster and "H001" in disaster


# -- cases and their deadlines -------------------------------------------------------------------
def timeline_item(page: str, step: str) -> str:
    """The text of one step's entry in the household page's timeline."""
    found = re.search(rf'<li class="(\w+)" data-step="{step}">(.*?)</li>', page, flags=re.S)
    assert found, f"no timeline entry for {step}"
    return " ".join([found.group(1), *re.sub(r"<[^>]+>", " ", found.group(2)).split()])


def step_post(web: TestClient, household: str, **fields: str) -> object:
    token = form_token(web.get(f"/household/{household}").text)
    return web.post(
        f"/household/{household}/step",
        data={"handler": "王干部", **fields, "form_token": token},
        follow_redirects=False,
    )


def test_the_timeline_shows_the_cases_steps_deadline_and_flags(
    run_dir: Path, tmp_path: Path
) -> None:
    web, store = client(run_dir, tmp_path)
    rows = pd.DataFrame(
        [["H002", "入户核实", "2026-11-03", "", "", "王干部", "已入户"],
         ["H002", "村级评议", "2026-11-05", "", "", "李主任", ""],
         ["H002", "公示", "", "2026-11-06", "2026-11-08", "李主任", "村务公开栏"]],
        columns=["户编号", "步骤", "日期", "公示开始日期", "公示结束日期", "经办人", "备注"],
    )  # fmt: skip
    import_step_file(write_step_file(rows, tmp_path / "steps.xlsx"), run=load_run(run_dir),
                     store=store)  # fmt: skip
    page = web.get("/household/H002").text
    assert "办理步骤" in page
    assert timeline_item(page, "线索").startswith("done 线索 2026-11-01 · 预警名单")
    assert "2026-11-03 · 经办人 王干部 · Excel 已入户" in timeline_item(page, "入户核实")
    notice = timeline_item(page, "公示")
    assert "2026-11-06 至 2026-11-08（共3天） 公示不足5天 · 经办人 李主任" in notice
    assert timeline_item(page, "乡镇审核").startswith("next 乡镇审核 下一步，尚未办理")
    assert timeline_item(page, "县级审定") == "pending 县级审定 未办理"
    status = re.sub(r"<[^>]+>|\s+", "", page.split('id="case-status"')[1].split("</div>")[0])
    # the lead is the list (2026-11-01); on 2026-11-20 the case is 4 days past its 15 days
    assert "办结期限2026-11-16" in status and "已超过期限4天" in status
    assert (
        '<span class="flag">逾期4天</span>' in page
        and '<span class="flag">公示仅3天</span>' in page
    )
    assert re.search(r'<option value="乡镇审核" selected>', page)  # the next step is offered


def test_a_step_entered_on_the_page_is_stored_and_shown_after_reload(
    run_dir: Path, tmp_path: Path
) -> None:
    web, store = client(run_dir, tmp_path)
    note = f"户主身份证{ID_NUMBER}已核对"
    response = step_post(web, "H001", step="入户核实", step_date="2026-11-03", note=note)
    assert response.status_code == 303  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    assert location.startswith("/household/H001?saved=step")
    page = web.get(location).text
    assert "办理步骤已保存" in page
    assert "2026-11-03 · 经办人 王干部 · 网页" in timeline_item(page, "入户核实")
    assert ID_NUMBER not in page and "4523**********1234" in page
    steps = store.steps()
    assert steps[["household_id", "step", "step_date", "handler", "note", "source"]].values.tolist(
    ) == [["H001", "入户核实", "2026-11-03", "王干部", note, "web"]]  # fmt: skip
    # the same entry again stores nothing; a changed date is a correction, the first one kept
    again = step_post(web, "H001", step="入户核实", step_date="2026-11-03", note=note)
    assert "saved=same-step" in again.headers["location"]  # type: ignore[attr-defined]
    step_post(web, "H001", step="入户核实", step_date="2026-11-04")
    assert store.steps()["step_date"].tolist() == ["2026-11-03", "2026-11-04"]
    corrected = timeline_item(web.get("/household/H001").text, "入户核实")
    assert corrected.startswith("done 入户核实 2026-11-04") and "更正前：2026-11-03" in corrected
    step_post(web, "H001", step="村级评议", step_date="2026-11-05")
    step_post(web, "H001", step="公示", notice_start="2026-11-06", notice_end="2026-11-12")
    page = web.get("/household/H001").text
    assert "2026-11-06 至 2026-11-12（共7天） · 经办人 王干部" in timeline_item(page, "公示")
    assert "公示仅" not in page


def test_a_refused_step_shows_why_keeps_what_was_typed_and_stores_nothing(
    run_dir: Path, tmp_path: Path
) -> None:
    web, store = client(run_dir, tmp_path)
    out_of_order = step_post(
        web, "H001", step="公示", notice_start="2026-11-06", notice_end="2026-11-12", note="张榜"
    )
    assert out_of_order.status_code == 400  # type: ignore[attr-defined]
    page = out_of_order.text  # type: ignore[attr-defined]
    error = page.split('id="step-error"')[1].split("</div>")[0]
    assert "未保存" in error and "公示 之前缺少 村级评议" in error
    assert re.search(r'<option value="公示" selected>', page)
    assert 'name="notice_start" value="2026-11-06"' in page and ">张榜</textarea>" in page
    assert 'name="notice_end" value="2026-11-12"' in page and 'value="王干部"' in page
    assert store.steps().empty

    step_post(web, "H001", step="入户核实", step_date="2026-11-03")
    step_post(web, "H001", step="村级评议", step_date="2026-11-05")
    reversed_notice = step_post(
        web, "H001", step="公示", notice_start="2026-11-12", notice_end="2026-11-06"
    )
    assert reversed_notice.status_code == 400  # type: ignore[attr-defined]
    assert "公示结束日期 2026-11-06 早于开始日期 2026-11-12" in reversed_notice.text  # type: ignore[attr-defined]
    before = step_post(web, "H001", step="乡镇审核", step_date="2026-11-02")
    assert "乡镇审核 之前缺少 公示" in before.text  # type: ignore[attr-defined]
    early = step_post(web, "H001", step="村级评议", step_date="2026-11-01")
    assert "村级评议 2026-11-01 早于 入户核实 2026-11-03" in early.text  # type: ignore[attr-defined]
    typo = step_post(web, "H001", step="村级评议", step_date="2026年11月32日")
    assert typo.status_code == 400  # type: ignore[attr-defined]
    assert 'type="text" name="step_date" value="2026年11月32日"' in typo.text  # type: ignore[attr-defined]
    nobody = step_post(web, "H001", step="村级评议", step_date="2026-11-05", handler=" ")
    assert "请填写经办人" in nobody.text  # type: ignore[attr-defined]
    no_step = step_post(web, "H001", step="结案", step_date="2026-11-05")
    assert "请选择步骤" in no_step.text  # type: ignore[attr-defined]
    assert store.steps()["step"].tolist() == ["入户核实", "村级评议"]

    token = form_token(web.get("/household/H001").text)
    good = {"step": "公示", "notice_start": "2026-11-06", "notice_end": "2026-11-12",
            "handler": "王干部"}  # fmt: skip
    assert web.post("/household/H001/step", data={**good, "form_token": "x"}).status_code == 400
    assert web.post("/household/H002/step", data={**good, "form_token": token}).status_code == 400
    assert web.post("/household/H999/step", data={**good, "form_token": token}).status_code == 404
    assert len(store.steps()) == 2


def test_the_list_shows_progress_deadlines_and_filters_the_flagged_cases(tmp_path: Path) -> None:
    from review_runs import write_run

    run_dir = write_run(tmp_path / "big", n=120, warned=60)
    run = load_run(run_dir)
    today = date(2026, 11, 13)
    households = sorted(run.review_list()["household_id"])
    plan = plan_steps(households, list_day=date.fromisoformat(list_date(run)), today=today, seed=5)
    store = ReviewStore(tmp_path / "review.sqlite")
    import_step_file(write_step_file(plan.rows, tmp_path / "steps.xlsx"), run=run, store=store)
    app = create_app(run, store=store, clock=lambda: datetime(2026, 11, 13, 8, 0))
    web = TestClient(app)
    due_soon = _due_soon(plan.rows, plan.open, households, today=today, list_day=list_date(run))
    assert plan.overdue and plan.short_notice and due_soon  # every filter has something to find
    for option, truth in (("逾期", plan.overdue), ("公示不足5天", plan.short_notice),
                          ("临近期限", due_soon)):  # fmt: skip
        assert sorted(listed(web.get("/", params={"case": option}).text)) == sorted(truth)
    front = web.get("/").text
    assert "办理进度" in front and "期限" in front and '<option value="逾期"' in front
    row = _list_row(front, sorted(plan.overdue)[0])
    assert f"逾期{plan.overdue[sorted(plan.overdue)[0]]}天" in row
    closed = sorted(set(households) - plan.open)[0]
    assert "县级审定（已办结）" in _list_row(front, closed)
    both = listed(web.get("/", params={"case": "逾期", "township": "东镇"}).text)
    assert both and set(both) <= set(plan.overdue)
    by_deadline = listed(web.get("/", params={"sort": "deadline"}).text)
    leads = plan.rows.loc[plan.rows["步骤"] == "线索"].set_index("户编号")["日期"]
    first_leads = [leads.get(h, list_date(run)) for h in by_deadline]
    assert first_leads == sorted(first_leads)
    assert listed(web.get("/", params={"case": "不存在"}).text) == []


def _due_soon(
    rows: pd.DataFrame, open_cases: set[str], households: list[str], *, today: date, list_day: str
) -> set[str]:
    """Open cases whose 15 days end within the next 3 days, counted from the planted rows."""
    leads = rows.loc[rows["步骤"] == "线索"].set_index("户编号")["日期"]
    soon = set()
    for household in households:
        lead = date.fromisoformat(leads.get(household, list_day))
        if household in open_cases and 0 <= (lead + timedelta(days=15) - today).days <= 3:
            soon.add(household)
    return soon


def _list_row(page: str, household: str) -> str:
    row = page.split(f'<tr data-household="{household}">')[1].split("</tr>")[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))


# -- the 监测户跟踪 tab -------------------------------------------------------------------------

#: (id, township, stage, months, status, probability, missing) of a small lifecycle.
LIFECYCLE_ROWS = [
    ("M001", "东镇", "monitored", 8, "ready_to_exit", None, ""),
    ("M002", "西乡", "monitored", 3, "keep_supporting", None, "有2个月人均收入未超过监测线"),
    ("M003", "东镇", "monitored", 5, "worsening", None, "近6个月医疗自付超过5,000元"),
    ("M004", "西乡", "monitored", 10, "ready_to_exit", None, ""),
    ("E001", "南镇", "exited", 4, "relapse_risk", 0.41, ""),
    ("E002", "东镇", "exited", 7, "stable", 0.05, ""),
    ("H005", "东镇", "exited", 2, "relapse_risk", 0.63, ""),
]
EVIDENCE = (
    "收入稳定超过监测线：最近6个月收入记录中6个月人均收入高于监测线；最低月人均（年化）7,800元，"
    "监测线7,200元；刚性支出问题已解决：近6个月医疗自付1,200元；三保障和饮水安全：住房安全；"
    "饮水安全；全员参保；已落实帮扶措施：2026-03 产业帮扶"
)


def lifecycle_frame() -> pd.DataFrame:
    """The run's lifecycle frame as the lifecycle stage assembles it (with its display columns)."""
    from risk.lifecycle import STATUS_LABELS_ZH

    rows = []
    for household, township, stage, months, status, probability, missing in LIFECYCLE_ROWS:
        exited = stage == "exited"
        rows.append(
            {
                "household_id": household,
                "month": "2026-10",
                "stage": stage,
                "months_in_stage": months,
                "status": status,
                "probability": float("nan") if probability is None else probability,
                "reason_zh": f"{STATUS_LABELS_ZH[status]}：" + ("模型估计" if exited else "说明"),
                "evidence": "近12个月住院自付23,400元；家中有1名残疾人" if exited else EVIDENCE,
                "county": "乙县" if township == "南镇" else "甲县",
                "township": township,
                "village": "一村",
                "head": "王*",
                "missing_zh": missing,
            }
        )
    return pd.DataFrame(rows)


def write_lifecycle(run_dir: Path) -> pd.DataFrame:
    """``lifecycle.parquet`` and the 监测户跟踪 sheet, written by the scoring step's own functions."""
    from risk.excel import LIFECYCLE_SHEET, LIFECYCLE_SHEET_COLUMNS, lifecycle_sheet_rows
    from risk.lifecycle import STAGE_LABELS_ZH, STATUS_LABELS_ZH
    from risk.stages.lifecycle import lifecycle_file_frame

    frame = lifecycle_frame()
    lifecycle_file_frame(frame).to_parquet(run_dir / "lifecycle.parquet")
    rows = lifecycle_sheet_rows(frame, stage_labels=STAGE_LABELS_ZH, status_labels=STATUS_LABELS_ZH)
    book = openpyxl.load_workbook(run_dir / "warnings.xlsx")
    sheet = book.create_sheet(LIFECYCLE_SHEET)
    sheet.append(list(LIFECYCLE_SHEET_COLUMNS))
    for values in rows.itertuples(index=False, name=None):
        sheet.append([None if v == "" or v != v else v for v in values])
    book.save(run_dir / "warnings.xlsx")
    return frame


def lifecycle_listed(page: str) -> list[str]:
    return re.findall(r'<tr data-household="([^"]+)" data-status', page)


def test_the_lifecycle_tab_lists_the_runs_households_by_status_then_probability(
    run_dir: Path, tmp_path: Path
) -> None:
    write_lifecycle(run_dir)
    web, _ = client(run_dir, tmp_path)
    assert 'href="/lifecycle"' in web.get("/").text  # the tab beside the warning list
    page = web.get("/lifecycle").text
    assert lifecycle_listed(page) == ["M003", "H005", "E001", "M001", "M004", "M002", "E002"]
    for header in ("户编号", "县", "乡镇", "村", "户主", "阶段", "在该阶段月数", "状态", "风险概率",
                   "说明", "依据", "尚缺条件"):  # fmt: skip
        assert f"<th>{header}</th>" in page
    row = re.search(r'<tr data-household="M002".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "西乡" in row and "王*" in row and "继续帮扶" in row and "监测中" in row
    assert "有2个月人均收入未超过监测线" in row
    assert "63.0%" in page and "消除后返贫风险" in page


def test_the_lifecycle_tab_filters_by_status_and_township(run_dir: Path, tmp_path: Path) -> None:
    write_lifecycle(run_dir)
    web, _ = client(run_dir, tmp_path)
    ready = web.get("/lifecycle", params={"status": "可考虑消除风险"}).text
    assert lifecycle_listed(ready) == ["M001", "M004"]
    east = web.get("/lifecycle", params={"township": "东镇"}).text
    assert lifecycle_listed(east) == ["M003", "H005", "M001", "E002"]
    both = web.get("/lifecycle", params={"status": "可考虑消除风险", "township": "西乡"}).text
    assert lifecycle_listed(both) == ["M004"]
    assert "没有符合筛选条件的农户" in web.get("/lifecycle", params={"status": "稳定",
                                                                 "township": "西乡"}).text  # fmt: skip


def test_a_lifecycle_household_shows_conditions_missing_and_relapse_reasons(
    run_dir: Path, tmp_path: Path
) -> None:
    write_lifecycle(run_dir)
    web, _ = client(run_dir, tmp_path)
    page = web.get("/lifecycle/M002").text
    conditions = re.search(r'<table class="conditions".*?</table>', page, re.S).group(0)  # type: ignore[union-attr]
    assert conditions.count("<tr>") == 5  # header and the four exit conditions, in order
    assert "最低月人均（年化）7,800元，监测线7,200元" in conditions
    assert "住房安全；饮水安全；全员参保" in conditions and "2026-03 产业帮扶" in conditions
    assert "有2个月人均收入未超过监测线" in page
    for choice in ("同意消除风险", "继续帮扶", "加强帮扶"):
        assert f'<option value="{choice}">' in page
    relapse = web.get("/lifecycle/H005").text
    assert "返贫风险原因" in relapse and "近12个月住院自付23,400元" in relapse
    assert '<option value="纳入监测">' in relapse and "同意消除风险" not in relapse
    assert 'href="/household/H005"' in relapse  # also on the warning list
    assert web.get("/lifecycle/H999").status_code == 404


def test_a_lifecycle_decision_is_stored_and_shown_after_reload(
    run_dir: Path, tmp_path: Path
) -> None:
    write_lifecycle(run_dir)
    web, store = client(run_dir, tmp_path)
    token = form_token(web.get("/lifecycle/M001").text)
    response = web.post(
        "/lifecycle/M001/decision",
        data={
            "decision": "同意消除风险",
            "reviewer": "周五",
            "note": "收入稳定",
            "form_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/lifecycle/M001?saved=1"
    current = store.current(load_run(run_dir).run_id)
    assert current[["household_id", "decision", "reviewer", "source", "decided_at"]].values.tolist() == [
        ["M001", "同意消除风险", "周五", "web", "2026-11-20T09:30:15"]
    ]  # fmt: skip
    page = web.get("/lifecycle/M001").text
    assert "审核结论已保存" not in page  # a plain reload: the record, not the message
    history = re.search(r'<table id="history">.*?</table>', page, re.S).group(0)  # type: ignore[union-attr]
    assert "同意消除风险" in history and "周五" in history and "收入稳定" in history
    row = re.search(r'<tr data-household="M001".*?</tr>', web.get("/lifecycle").text, re.S)
    assert row and '<td class="decision">同意消除风险</td>' in row.group(0)


def test_bad_lifecycle_posts_are_refused_and_store_nothing(run_dir: Path, tmp_path: Path) -> None:
    write_lifecycle(run_dir)
    web, store = client(run_dir, tmp_path)
    token = form_token(web.get("/lifecycle/M001").text)
    good = {"decision": "继续帮扶", "reviewer": "周五", "form_token": token}
    assert web.post("/lifecycle/M001/decision", data={**good, "form_token": "x"}).status_code == 400
    other = form_token(web.get("/lifecycle/M002").text)  # another household's form token
    assert (
        web.post("/lifecycle/M001/decision", data={**good, "form_token": other}).status_code == 400
    )
    for wrong in (
        "排除",
        "纳入监测",
        "同意",
        "",
    ):  # a list verdict, the other stage's, unknown, none
        refused = web.post("/lifecycle/M001/decision", data={**good, "decision": wrong})
        assert refused.status_code == 400 and 'id="decision-error"' in refused.text
    assert web.post("/lifecycle/M001/decision", data={**good, "reviewer": " "}).status_code == 400
    exited = form_token(web.get("/lifecycle/E001").text)
    assert (
        web.post(
            "/lifecycle/E001/decision",
            data={"decision": "同意消除风险", "reviewer": "周五", "form_token": exited},
        ).status_code
        == 400
    )
    assert web.post("/lifecycle/M999/decision", data=good).status_code == 404
    list_token = form_token(web.get("/household/H001").text)
    assert (
        web.post(
            "/household/H001/decision",
            data={"decision": "继续帮扶", "reviewer": "周五", "form_token": list_token},
        ).status_code
        == 400
    )  # the list keeps its own verdicts
    assert store.count() == 0


def test_a_run_without_lifecycle_data_shows_a_message(run_dir: Path, tmp_path: Path) -> None:
    web, store = client(run_dir, tmp_path)  # written before lifecycle.parquet existed
    page = web.get("/lifecycle")
    assert page.status_code == 200 and "本次运行没有监测户跟踪数据" in page.text
    assert 'id="lifecycle-list"' not in page.text
    assert web.get("/lifecycle/M001").status_code == 404
    assert web.post("/lifecycle/M001/decision", data={"decision": "继续帮扶"}).status_code == 404
    (run_dir / "lifecycle.parquet").write_bytes(b"not parquet")
    broken = client(run_dir, tmp_path)[0].get("/lifecycle")
    assert broken.status_code == 200 and "本次运行没有监测户跟踪数据" in broken.text
    assert store.count() == 0


def test_a_long_lifecycle_is_paged(run_dir: Path, tmp_path: Path) -> None:
    from risk.stages.lifecycle import lifecycle_file_frame

    frame = lifecycle_frame()
    many = pd.concat([frame.iloc[[1]]] * 250, ignore_index=True)
    many["household_id"] = [f"K{i:03d}" for i in range(250)]
    lifecycle_file_frame(many).to_parquet(run_dir / "lifecycle.parquet")  # no sheet: regions blank
    web, _ = client(run_dir, tmp_path)
    first = web.get("/lifecycle").text
    assert len(lifecycle_listed(first)) == 200 and "第 1/2 页" in first
    second = web.get("/lifecycle", params={"page": "2"}).text
    assert lifecycle_listed(second) == [f"K{i:03d}" for i in range(200, 250)]
