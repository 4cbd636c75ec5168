"""The review web page: the warning list with filters, a page per household, the decision form.

`create_app` builds a FastAPI app for one run; `risk review serve` runs it with uvicorn. Privacy and
safety rules, enforced here and tested:

- bound to anything but a loopback address it refuses to start without a token (`check_binding`);
  with a token every page needs it (cookie set by ``/login``, or an ``X-Review-Token`` /
  ``Authorization: Bearer`` header);
- every text is escaped (Jinja autoescape) and every ID-like number in any text is masked before it
  is rendered (the environment's ``finalize``), so neither a ``<script>`` in a note nor an ID number
  typed into one ever reaches the browser as such;
- forms carry a per-app token against cross-site posts; decisions go to the store with source ``web``.

Cases and their deadlines (issue 16): the list shows each case's progress (last step → next step),
its deadline and flags (逾期 / 公示不足5天 / 临近期限) and filters on them; a household's page shows
the case's steps as a timeline and takes the next step through `record_step`, which checks it like a
step file row. A refused step stores nothing and comes back in the form as typed, with the reasons.
The deadlines are counted to the day given by the app's clock.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from features.contract.errors import ConfigError, FanpinError
from features.contract.tables import Tables
from risk.excel import LIFECYCLE_SHEET
from risk.lifecycle import (
    CONDITION_LABELS_ZH,
    CONDITIONS,
    LIFECYCLE_COLUMNS,
    STAGE_LABELS_ZH,
    STATUS_LABELS_ZH,
)
from risk.review.cases import (
    DEADLINE_DAYS,
    MIN_NOTICE_DAYS,
    StepFileError,
    case_history,
    case_status,
    record_step,
)
from risk.review.charts import bar_chart_svg, mask_id_numbers, waterfall_svg
from risk.review.history import household_history
from risk.review.run import WARNINGS_SHEET, ReviewRun
from risk.review.store import (
    CASE_STEPS,
    DECISIONS,
    EXCLUSION_REASONS,
    LIFECYCLE_DECISIONS,
    NOTICE_STEP,
    Decision,
    ReviewStore,
)
from risk.run_context import LIFECYCLE_FILE

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent.parent / "templates" / "review"
COOKIE = "fanpin_review"
UNDECIDED = "未审核"
PAGE_SIZE = 200
#: Sort keys of the list: query value → (column, label).
SORTS: dict[str, tuple[str, str]] = {
    "rank": ("rank", "排名"),
    "probability": ("probability", "风险概率"),
    "township": ("township", "乡镇"),
    "household": ("household_id", "户编号"),
    "status": ("status", "审核状态"),
    "deadline": ("deadline", "期限"),
}
FILTERS: dict[str, str] = {
    "county": "县",
    "township": "乡镇",
    "village": "村",
    "tier": "风险等级",
    "reason": "原因类别",
    "status": "审核状态",
    "case": "办理期限",
}
#: The case filter of the list: option → the `case_status` column that flags it.
CASE_FILTERS: dict[str, str] = {
    "逾期": "overdue",
    f"公示不足{MIN_NOTICE_DAYS}天": "notice_too_short",
    "临近期限": "due_soon",
}
#: `case_status` columns the list shows, and their value for a household without a case.
CASE_LIST_COLUMNS: dict[str, Any] = {
    "last_step": "",
    "next_step": "",
    "deadline": "",
    "days_left": None,
    "closed": False,
    "closed_by": "",
    "overdue": False,
    "notice_too_short": False,
    "due_soon": False,
    "flags": "",
}
#: What the household page says after a redirect (``?saved=…``).
SAVED_MESSAGES: dict[str, str] = {
    "1": "审核结论已保存。",
    "step": "办理步骤已保存。",
    "same-step": "该步骤与已有记录相同，未重复保存。",
}
#: The form fields of a case step, as `record_step` takes them.
STEP_FIELDS: tuple[str, ...] = (
    "step",
    "step_date",
    "notice_start",
    "notice_end",
    "handler",
    "note",
)
SOURCE_LABELS: dict[str, str] = {"web": "网页", "excel": "Excel", "list": "预警名单"}
#: The 监测户跟踪 tab's order of statuses: where help is needed first, the settled last.
LIFECYCLE_STATUS_ORDER: tuple[str, ...] = (
    "worsening",
    "relapse_risk",
    "ready_to_exit",
    "keep_supporting",
    "stable",
)
#: Filters of the 监测户跟踪 tab: query value → label.
LIFECYCLE_FILTERS: dict[str, str] = {"status": "状态", "township": "乡镇"}
#: Columns the tab takes from the run's 监测户跟踪 sheet (sheet header → frame column).
LIFECYCLE_SHEET_TAKEN: dict[str, str] = {
    "县": "county",
    "乡镇": "township",
    "村": "village",
    "户主": "head",
    "尚缺条件": "missing_zh",
}
NO_LIFECYCLE = "本次运行没有监测户跟踪数据"
TablesSource = Callable[[], Tables | None]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_binding(host: str, *, token: str | None, token_env: str) -> None:
    """Refuse to serve beyond this computer without a login token.

    Raises
    ------
    ConfigError
        When `host` is not a loopback address and no token is set.
    """
    if not is_loopback(host) and not token:
        raise ConfigError(
            f"[review] refusing to serve on {host} without a login token: set the environment "
            f"variable {token_env} (named by review.token_env) to a long random secret, or bind to "
            "127.0.0.1 (不在本机地址提供服务时必须设置登录令牌)"
        )


def create_app(
    run: ReviewRun,
    *,
    store: ReviewStore,
    token: str | None = None,
    tables: Tables | TablesSource | None = None,
    pseudonym_key: bytes | Callable[[], bytes] | None = None,
    clock: Callable[[], datetime] = datetime.now,
) -> FastAPI:
    """The review app for one run.

    Parameters
    ----------
    run
        The scoring run (`load_run`).
    store
        Where decisions go (source ``web``).
    token
        Login token; None serves without login (only allowed on loopback, see `check_binding`).
    tables
        The run's contract tables for the history charts, or a function returning them. By default
        the data folder recorded in the run's manifest is loaded once, on first use, with
        `pseudonym_key`; without one the charts are left out.
    clock
        Gives the decision time (tests pass a fixed one).
    """
    app = FastAPI(title="fanpin 审核", docs_url=None, redoc_url=None, openapi_url=None)
    state = _State(run, store, token, _tables_source(run, tables, pseudonym_key), clock)
    app.middleware("http")(state.require_login)
    app.get("/login", response_class=HTMLResponse)(state.login_page)
    app.post("/login")(state.login)
    app.get("/", response_class=HTMLResponse)(state.list_page)
    app.get("/household/{household_id}", response_class=HTMLResponse)(state.household_page)
    app.post("/household/{household_id}/decision")(state.decide)
    app.post("/household/{household_id}/step")(state.record_case_step)
    app.get("/lifecycle", response_class=HTMLResponse)(state.lifecycle_page)
    app.get("/lifecycle/{household_id}", response_class=HTMLResponse)(state.lifecycle_household)
    app.post("/lifecycle/{household_id}/decision")(state.decide_lifecycle)
    return app


class _State:
    """What the routes share: the run, its list, the store, the templates and the secrets."""

    def __init__(
        self,
        run: ReviewRun,
        store: ReviewStore,
        token: str | None,
        tables: TablesSource,
        clock: Callable[[], datetime],
    ) -> None:
        self.run, self.store, self.token, self.tables, self.clock = run, store, token, tables, clock
        self.form_secret = secrets.token_urlsafe(32)
        self.listed = _list_frame(run)
        self.lifecycle, self.lifecycle_problem = _lifecycle_frame(run)
        self.env = _environment()

    # -- login -----------------------------------------------------------------------------
    async def require_login(self, request: Request, call_next: Callable) -> Response:
        if self.token is None or request.url.path == "/login" or self._authorised(request):
            response: Response = await call_next(request)
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; style-src 'unsafe-inline'"
            )
            return response
        return RedirectResponse("/login", status_code=303)

    def _authorised(self, request: Request) -> bool:
        bearer = request.headers.get("authorization", "")
        offered = [
            request.cookies.get(COOKIE, ""),
            request.headers.get("x-review-token", ""),
            bearer[7:] if bearer.lower().startswith("bearer ") else "",
        ]
        return any(self._matches(value) for value in offered)

    def _matches(self, offered: str) -> bool:
        return bool(self.token) and hmac.compare_digest(offered.encode(), str(self.token).encode())

    def login_page(self, request: Request, token: str = "") -> Response:
        if token:
            return self._logged_in(token)
        return self._render("login.html", error="")

    def login(self, token: str = Form("")) -> Response:
        return self._logged_in(token)

    def _logged_in(self, token: str) -> Response:
        if self.token is None:
            return RedirectResponse("/", status_code=303)
        if not self._matches(token):
            return self._render("login.html", error="令牌不正确", status=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    # -- pages -----------------------------------------------------------------------------
    def list_page(self, request: Request) -> Response:
        chosen = {name: request.query_params.get(name, "") for name in FILTERS}
        sort = request.query_params.get("sort", "rank")
        descending = request.query_params.get("order", "asc") == "desc"
        listed = _with_cases(
            _with_status(self.listed, self.store.current(self.run.run_id)), self._cases()[1]
        )
        options = {name: _options(listed, name) for name in FILTERS}
        shown = _sorted(_filtered(listed, chosen), sort=sort, descending=descending)
        return self._render(
            "list.html",
            **_page_of(shown, request.query_params.get("page")),
            state={**chosen, "sort": sort, "order": "desc" if descending else ""},
            total=len(listed),
            chosen=chosen,
            options=options,
            filters=FILTERS,
            sorts=SORTS,
            sort=sort if sort in SORTS else "rank",
            descending=descending,
            decided=int((listed["status"] != UNDECIDED).sum()),
        )

    def household_page(self, household_id: str, saved: str = "") -> Response:
        row = self._household(household_id)
        if row is None:
            return self._render("missing.html", household_id=household_id, status=404)
        return self._render(
            "household.html",
            **self._household_context(household_id, row),
            saved=SAVED_MESSAGES.get(saved, ""),
        )

    def _household_context(
        self,
        household_id: str,
        row: dict[str, Any],
        *,
        step_form: dict[str, str] | None = None,
        step_errors: list[str] | None = None,
    ) -> dict[str, Any]:
        history = self.store.history(self.run.run_id, household_id)
        steps, cases = self._cases()
        case = _case_view(cases, household_id)
        typed = step_form or {"step": case["next_step"] if case else CASE_STEPS[1]}
        return {
            "row": row,
            "reasons": _reasons(self.run.explanations, household_id).to_dict("records"),
            "waterfall": self._waterfall(household_id, row),
            "charts": self._history(household_id),
            "history": history.iloc[::-1].to_dict("records"),
            "decisions": DECISIONS,
            "exclusion_reasons": EXCLUSION_REASONS,
            "form_token": self._form_token(household_id),
            "case": case,
            "timeline": self._timeline(steps, household_id),
            "steps": CASE_STEPS,
            "notice_step": NOTICE_STEP,
            "min_notice_days": MIN_NOTICE_DAYS,
            "deadline_days": DEADLINE_DAYS,
            "step_form": {name: typed.get(name, "") for name in STEP_FIELDS},
            "step_errors": step_errors or [],
            "error": "",
        }

    def decide(
        self,
        household_id: str,
        decision: str = Form(""),
        reason: str = Form(""),
        reason_text: str = Form(""),
        reviewer: str = Form(""),
        note: str = Form(""),
        form_token: str = Form(""),
    ) -> Response:
        posted = self._posted_row(household_id, form_token, self._household)
        if isinstance(posted, Response):
            return posted
        problem = _form_problem(decision, reason, reviewer)
        if problem:
            return HTMLResponse(f"{problem}", status_code=400)
        entry = Decision(
            run_id=self.run.run_id,
            month=self.run.month,
            household_id=household_id,
            decision=decision,
            source="web",
            reason=reason or ("其他" if reason_text.strip() else ""),
            reason_text=reason_text.strip(),
            reviewer=reviewer.strip(),
            decided_at=self.clock().replace(microsecond=0).isoformat(timespec="seconds"),
            note=note.strip(),
        )
        self.store.add([entry])
        return RedirectResponse(f"/household/{quote(household_id)}?saved=1", status_code=303)

    def record_case_step(
        self,
        household_id: str,
        step: str = Form(""),
        step_date: str = Form(""),
        notice_start: str = Form(""),
        notice_end: str = Form(""),
        handler: str = Form(""),
        note: str = Form(""),
        form_token: str = Form(""),
    ) -> Response:
        row = self._posted_row(household_id, form_token, self._household)
        if isinstance(row, Response):
            return row
        typed = {
            "step": step,
            "step_date": step_date,
            "notice_start": notice_start,
            "notice_end": notice_end,
            "handler": handler,
            "note": note,
        }
        problems = _step_form_problems(typed)
        if not problems:
            try:
                result = record_step(
                    run=self.run, store=self.store, household_id=household_id, **typed
                )
            except StepFileError as error:
                problems = [f"{problem.column}：{problem.message}" for problem in error.problems]
        if problems:  # nothing was stored: the page comes back with what was typed
            context = self._household_context(
                household_id, row, step_form=typed, step_errors=problems
            )
            return self._render("household.html", status=400, **context, saved="")
        saved = "step" if result.stored else "same-step"
        return RedirectResponse(
            f"/household/{quote(household_id)}?saved={saved}#steps", status_code=303
        )

    # -- the 监测户跟踪 tab ------------------------------------------------------------------
    def lifecycle_page(self, request: Request) -> Response:
        chosen = {name: request.query_params.get(name, "") for name in LIFECYCLE_FILTERS}
        frame = self.lifecycle
        if frame is None:
            return self._render("lifecycle.html", rows=[], missing=self.lifecycle_problem)
        tracked = _with_decision(frame, self.store.current(self.run.run_id))
        shown = _lifecycle_filtered(tracked, chosen)
        return self._render(
            "lifecycle.html",
            missing="",
            **_page_of(shown, request.query_params.get("page")),
            total=len(tracked),
            counts=tracked["status_zh"].value_counts().to_dict(),
            chosen=chosen,
            filters=LIFECYCLE_FILTERS,
            options={
                "status": [
                    label
                    for status, label in _status_labels().items()
                    if status in set(tracked["status"])
                ],
                "township": sorted(tracked["township"].astype(str).unique()),
            },
        )

    def lifecycle_household(self, household_id: str, saved: str = "") -> Response:
        row = self._lifecycle_row(household_id)
        if row is None:
            return self._render("missing.html", household_id=household_id, status=404)
        return self._render(
            "lifecycle_household.html",
            **self._lifecycle_context(household_id, row),
            saved=SAVED_MESSAGES.get(saved, ""),
            error="",
        )

    def decide_lifecycle(
        self,
        household_id: str,
        decision: str = Form(""),
        reviewer: str = Form(""),
        note: str = Form(""),
        form_token: str = Form(""),
    ) -> Response:
        row = self._posted_row(household_id, form_token, self._lifecycle_row)
        if isinstance(row, Response):
            return row
        problem = _lifecycle_form_problem(decision, reviewer, stage=str(row["stage"]))
        if problem:  # nothing stored: the page comes back with the reason
            context = self._lifecycle_context(household_id, row)
            return self._render(
                "lifecycle_household.html", status=400, **context, saved="", error=problem
            )
        entry = Decision(
            run_id=self.run.run_id,
            month=self.run.month,
            household_id=household_id,
            decision=decision,
            source="web",
            reviewer=reviewer.strip(),
            decided_at=self.clock().replace(microsecond=0).isoformat(timespec="seconds"),
            note=note.strip(),
        )
        self.store.add([entry])
        return RedirectResponse(f"/lifecycle/{quote(household_id)}?saved=1", status_code=303)

    def _lifecycle_row(self, household_id: str) -> dict[str, Any] | None:
        if self.lifecycle is None:
            return None
        match = self.lifecycle[self.lifecycle["household_id"] == household_id]
        return None if match.empty else match.iloc[0].to_dict()

    def _lifecycle_context(self, household_id: str, row: dict[str, Any]) -> dict[str, Any]:
        history = self.store.history(self.run.run_id, household_id)
        return {
            "row": row,
            "conditions": _condition_evidence(str(row["evidence"]))
            if row["stage"] == "monitored"
            else [],
            "missing_items": [item for item in str(row["missing_zh"]).split("；") if item],
            "relapse_reasons": [item for item in str(row["evidence"]).split("；") if item]
            if row["stage"] == "exited"
            else [],
            "on_list": self._household(household_id) is not None,
            "decisions": LIFECYCLE_DECISIONS.get(str(row["stage"]), ()),
            "history": history.iloc[::-1].to_dict("records"),
            "form_token": self._form_token(household_id),
        }

    # -- pieces ----------------------------------------------------------------------------
    def _household(self, household_id: str) -> dict[str, Any] | None:
        scores = self.run.scores
        match = scores[scores["household_id"] == household_id]
        if match.empty:
            return None
        row = match.iloc[0].to_dict()
        listed = self.listed[self.listed["household_id"] == household_id]
        for column in ("head", "household_type", "audit", "rules"):
            row[column] = listed.iloc[0][column] if not listed.empty else ""
        return row

    def _waterfall(self, household_id: str, row: dict[str, Any]) -> Markup | None:
        reasons = _explanations_of(self.run.explanations, household_id)
        if reasons.empty:
            return None
        return Markup(waterfall_svg(reasons, probability=float(row["probability"])))  # noqa: S704 - built escaped

    def _history(self, household_id: str) -> dict[str, Any] | None:
        try:
            tables = self.tables()
        except (FanpinError, OSError, ValueError, KeyError) as error:
            log.warning("history charts left out: %s", error)
            return None
        if tables is None:
            return None
        history = household_history(tables, household_id, as_of=self.run.month)
        labels = [m[2:] for m in history.months]
        return {
            "income": Markup(bar_chart_svg(labels, history.income, title="月收入", unit="元")),  # noqa: S704
            "medical": Markup(bar_chart_svg(labels, history.medical, title="医疗自付", unit="元")),  # noqa: S704
            "spells": history.spells,
            "events": history.events,
        }

    def _today(self) -> date:
        return self.clock().date()

    def _cases(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the run's case steps with the listing's leads, one `case_status` row per case)."""
        history, decisions = case_history(self.run, self.store)
        return history, case_status(history, today=self._today(), decisions=decisions)

    def _timeline(self, history: pd.DataFrame, household_id: str) -> list[dict[str, Any]]:
        """Every step of the case in order: its current record (or none) and what it replaced.

        `history` is `case_history`'s step frame (the current record of each step, and the
        listing's lead where no 线索 was recorded); the replaced records come from the store.
        """
        current = history[history["household_id"] == household_id]
        every = self.store.steps(self.run.run_id, household_id)
        timeline = []
        for name in CASE_STEPS:
            records = current[current["step"] == name]
            record = records.iloc[-1].to_dict() if len(records) else None
            earlier = every[every["step"] == name].iloc[:-1]
            timeline.append(
                {
                    "step": name,
                    "record": _step_view(record) if record else None,
                    "replaced": [_step_view(r) for r in earlier.iloc[::-1].to_dict("records")],
                }
            )
        return timeline

    def _posted_row(
        self,
        household_id: str,
        form_token: str,
        lookup: Callable[[str], dict[str, Any] | None],
    ) -> dict[str, Any] | Response:
        """The row a posted form is about, or the page refusing the form.

        An unknown household gives the 404 page; a form from an older page (its token is not this
        run's for the household) gives the "expired" page, and nothing is stored.
        """
        row = lookup(household_id)
        if row is None:
            return self._render("missing.html", household_id=household_id, status=404)
        if not self._token_matches(household_id, form_token):
            return _expired()
        return row

    def _token_matches(self, household_id: str, offered: str) -> bool:
        """Whether a form's token is this household's (a form from an older page is refused)."""
        return hmac.compare_digest(offered, self._form_token(household_id))

    def _form_token(self, household_id: str) -> str:
        message = f"{self.run.run_id}\x00{household_id}".encode()
        return hmac.new(self.form_secret.encode(), message, "sha256").hexdigest()

    def _render(self, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        page = self.env.get_template(name).render(run=self.run, **context)
        return HTMLResponse(page, status_code=status)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        finalize=_finalize,
    )
    env.filters["percent"] = lambda p: f"{float(p) * 100:.1f}%"
    env.filters["urlid"] = lambda value: Markup(quote(str(value), safe=""))  # noqa: S704 - quoted
    env.filters["date_input"] = _date_input_type
    env.globals["query"] = _query
    return env


def _finalize(value: Any) -> Any:
    """Every `{{ … }}` output: ID-like numbers masked (markup built by this module passes)."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    return mask_id_numbers(str(value))


def _date_input_type(value: str) -> str:
    """``date`` for an empty or ``YYYY-MM-DD`` value; ``text`` keeps any other typed date visible."""
    try:
        return "date" if not value or date.fromisoformat(value).isoformat() == value else "text"
    except ValueError:
        return "text"


def _query(chosen: dict[str, str], **changes: str) -> str:
    values = {k: v for k, v in {**chosen, **changes}.items() if v}
    return "?" + urlencode(values)


def _tables_source(
    run: ReviewRun,
    tables: Tables | TablesSource | None,
    key: bytes | Callable[[], bytes] | None,
) -> TablesSource:
    if isinstance(tables, Tables):
        return lambda: tables
    if tables is not None:
        return tables
    cache: dict[str, Tables | None] = {}

    def load() -> Tables | None:
        if "tables" not in cache:
            try:
                cache["tables"] = _load_data(run, key)
            except (FanpinError, OSError, ValueError, KeyError) as error:
                log.warning("history charts left out: %s", error)
                cache["tables"] = None  # tried once; the page says the charts are unavailable
        return cache["tables"]

    return load


def _load_data(run: ReviewRun, key: bytes | Callable[[], bytes] | None) -> Tables | None:
    folder = run.data_dir()
    if folder is None or key is None:
        return None
    from features.contract.io import load_directory  # noqa: PLC0415 - only when a data folder is known

    return load_directory(folder, pseudonym_key=key() if callable(key) else key).tables


def _list_frame(run: ReviewRun) -> pd.DataFrame:
    """The review list with masked head, type, rule labels and the top reasons' labels."""
    listed = run.review_list()
    sheet = _sheet_columns(run)
    listed["head"] = listed["household_id"].map(sheet.get("户主", {})).fillna("")
    listed["household_type"] = listed["household_id"].map(sheet.get("户类型", {})).fillna("")
    listed["rules"] = listed["household_id"].map(sheet.get("规则触发", {}))
    fallback = listed.get("rule_triggers", pd.Series([[]] * len(listed), index=listed.index))
    listed["rules"] = listed["rules"].fillna(
        fallback.map(lambda names: "；".join(names) if names is not None and len(names) else "")
    )
    top = _reasons(run.explanations, None)
    types = top.assign(reason_type=top.apply(_reason_type, axis=1) if len(top) else "")
    labels = types.groupby("household_id")["reason_type"].apply(lambda s: list(dict.fromkeys(s)))
    listed["reason_types"] = (
        listed["household_id"].map(labels).apply(lambda v: v if isinstance(v, list) else [])
    )
    first = top.groupby("household_id").first() if len(top) else pd.DataFrame()
    listed["reason_text"] = (
        listed["household_id"].map(first.apply(_reason_line, axis=1)).fillna("")
        if len(first)
        else ""
    )
    evidence = first["evidence"] if "evidence" in first.columns else pd.Series(dtype=object)
    evidence = evidence.astype(object)
    listed["reason_evidence"] = listed["household_id"].map(evidence).astype(object).fillna("")
    return listed


def _lifecycle_frame(run: ReviewRun) -> tuple[pd.DataFrame | None, str]:
    """The run's ``lifecycle.parquet`` with the 监测户跟踪 sheet's region, head and missing columns.

    Returns
    -------
    tuple
        (the frame, sorted by `LIFECYCLE_STATUS_ORDER`, then probability (highest first), then
        household id; ``""``), or (None, why there is none): a run written before the file existed,
        or a file that cannot be read, is a message on the tab, never an error.
    """
    path = run.path / LIFECYCLE_FILE
    if not path.is_file():
        return None, f"{NO_LIFECYCLE}（{LIFECYCLE_FILE} 不存在：该运行早于监测户跟踪功能）"
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as error:
        log.warning("%s: %s", path, error)
        return None, f"{NO_LIFECYCLE}（{LIFECYCLE_FILE} 无法读取）"
    absent = [name for name in LIFECYCLE_COLUMNS if name not in frame.columns]
    if absent:
        log.warning("%s: missing column(s) %s", path, absent)
        return None, f"{NO_LIFECYCLE}（{LIFECYCLE_FILE} 缺少列 {'、'.join(absent)}）"
    frame = frame.loc[:, list(LIFECYCLE_COLUMNS)].copy()
    frame["household_id"] = frame["household_id"].astype(str)
    sheet = _sheet_columns(run, sheet=LIFECYCLE_SHEET, wanted=tuple(LIFECYCLE_SHEET_TAKEN))
    regions = run.scores.set_index("household_id")
    for header, column in LIFECYCLE_SHEET_TAKEN.items():
        values = frame["household_id"].map(sheet.get(header, {})).astype(object)
        if column in regions.columns:  # a run's own scores know the place when the sheet does not
            values = values.fillna(frame["household_id"].map(regions[column]).astype(object))
        frame[column] = values.astype(object).where(values.notna(), "")
    frame["stage_zh"] = frame["stage"].map(STAGE_LABELS_ZH).fillna(frame["stage"])
    frame["status_zh"] = frame["status"].map(STATUS_LABELS_ZH).fillna(frame["status"])
    order = {status: number for number, status in enumerate(LIFECYCLE_STATUS_ORDER)}
    frame["_order"] = frame["status"].map(order).fillna(len(order))
    frame["_probability"] = frame["probability"].astype(float).fillna(-1.0)
    frame = frame.sort_values(
        ["_order", "_probability", "household_id"], ascending=[True, False, True], kind="stable"
    )
    return frame.drop(columns=["_order", "_probability"]).reset_index(drop=True), ""


def _with_decision(frame: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The tab's rows with each household's current decision (``decision``, ``""`` when none)."""
    decided = dict(zip(current["household_id"], current["decision"], strict=True))
    return frame.assign(decision=[decided.get(h, "") for h in frame["household_id"]])


def _status_labels() -> dict[str, str]:
    """The tab's statuses in their order, with their Chinese labels."""
    return {status: STATUS_LABELS_ZH[status] for status in LIFECYCLE_STATUS_ORDER}


def _lifecycle_filtered(frame: pd.DataFrame, chosen: dict[str, str]) -> pd.DataFrame:
    """Rows of the chosen 状态 (its Chinese label) and 乡镇; an empty choice keeps all."""
    keep = pd.Series(True, index=frame.index)
    if chosen.get("status"):
        keep &= frame["status_zh"] == chosen["status"]
    if chosen.get("township"):
        keep &= frame["township"].astype(str) == chosen["township"]
    return frame[keep]


def _condition_evidence(evidence: str) -> list[dict[str, str]]:
    """Each exit condition (`CONDITIONS`, in order) with its evidence from the ``evidence`` text.

    The lifecycle stage writes ``条件：依据；条件：依据`` (a condition's own evidence may hold ``；``), so
    the text is cut where a condition's label starts; a condition it does not name gets ``""``.
    """
    starts = sorted(
        (at, condition)
        for condition in CONDITIONS
        if (at := evidence.find(f"{CONDITION_LABELS_ZH[condition]}：")) >= 0
    )
    found: dict[str, str] = {}
    for number, (at, condition) in enumerate(starts):
        end = starts[number + 1][0] if number + 1 < len(starts) else len(evidence)
        text = evidence[at + len(CONDITION_LABELS_ZH[condition]) + 1 : end]
        found[condition] = text.strip().rstrip("；").strip()
    return [{"label": CONDITION_LABELS_ZH[c], "evidence": found.get(c, "")} for c in CONDITIONS]


def _lifecycle_form_problem(decision: str, reviewer: str, *, stage: str) -> str:
    allowed = LIFECYCLE_DECISIONS.get(stage, ())
    if decision not in allowed:
        return "请选择审核结论 (choose a decision: " + " / ".join(allowed) + ")"
    if not reviewer.strip():
        return "请填写审核人 (enter the reviewer's name)"
    return ""


def _sheet_columns(
    run: ReviewRun,
    *,
    sheet: str = WARNINGS_SHEET,
    wanted: tuple[str, ...] = ("户主", "户类型", "规则触发"),
) -> dict[str, dict[str, Any]]:
    """Columns `wanted` (by default 户主 (masked), 户类型, 规则触发) by household (户编号) from a
    sheet of the run's warnings.xlsx, if readable."""
    if not run.warnings_path.is_file():
        return {}
    import openpyxl  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(run.warnings_path, read_only=True, data_only=True)
        found = book[sheet]
        found.reset_dimensions()
        rows = list(found.iter_rows(values_only=True))
        book.close()
    except (KeyError, OSError, ValueError) as error:
        log.warning("%s: %s", run.warnings_path, error)
        return {}
    if not rows:
        return {}
    header = [str(h) if h is not None else "" for h in rows[0]]
    if "户编号" not in header:
        return {}
    at = header.index("户编号")
    present = [name for name in wanted if name in header]
    width = len(header)
    body = [tuple(r) + (None,) * (width - len(r)) for r in rows[1:]]  # short rows: empty cells
    return {
        name: {str(r[at]): r[header.index(name)] for r in body if r[at] is not None}
        for name in present
    }


def _reasons(explanations: pd.DataFrame, household_id: str | None) -> pd.DataFrame:
    """Main reasons: the scoring step's 主要原因 (`reason_order`), else the three largest
    risk-raising contributions per household (or of one household)."""
    rows = _explanations_of(explanations, household_id)
    if "reason_order" in rows.columns and rows["reason_order"].notna().any():
        chosen = rows[rows["reason_order"].notna()]  # the scoring step's own choice (主要原因1–3)
        return chosen.sort_values(["household_id", "reason_order"], kind="stable")
    rows = rows[rows["contribution"] > 0]
    ordered = rows.sort_values(["household_id", "contribution"], ascending=[True, False])
    return ordered.groupby("household_id", sort=False).head(3)


def _reason_line(row: pd.Series) -> str:
    """A reason as the list shows it: "【因病】近12个月医疗自付23,400元" (the cause when known)."""
    cause = row.get("cause_zh")
    prefix = f"【{cause.strip()}】" if isinstance(cause, str) and cause.strip() else ""
    return prefix + str(row.get("reason_zh", ""))


def _reason_type(row: pd.Series) -> str:
    """The cause of a reason (因病, 自然灾害 …); for older runs its risk type, else its label."""
    cause = row.get("cause_zh")
    if isinstance(cause, str) and cause.strip():
        return cause.strip()
    risk_type = row.get("risk_type")
    if isinstance(risk_type, str) and risk_type.strip() and risk_type.strip() != "其他":
        return risk_type.strip()
    return str(row["label_zh"])


def _explanations_of(explanations: pd.DataFrame, household_id: str | None) -> pd.DataFrame:
    """Every explanation row of one household (or all), for the waterfall."""
    if explanations.empty:
        return pd.DataFrame(
            columns=["household_id", "label_zh", "reason_zh", "value", "contribution"]
        )
    if household_id is None:
        return explanations
    return explanations[explanations["household_id"] == household_id]


def _with_status(listed: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    status = dict(zip(current["household_id"], current["decision"], strict=True))
    notes = dict(zip(current["household_id"], current["note"], strict=True))
    out = listed.copy()
    out["status"] = [status.get(h, UNDECIDED) for h in out["household_id"]]
    out["note"] = [notes.get(h, "") for h in out["household_id"]]
    return out


def _with_cases(listed: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The list with each household's case columns (`CASE_LIST_COLUMNS`)."""
    out = listed.copy()
    by_household = cases.set_index("household_id")
    for column, empty in CASE_LIST_COLUMNS.items():
        values = out["household_id"].map(by_household[column]) if len(cases) else None
        if values is None:
            out[column] = [empty] * len(out)
        else:
            out[column] = values.astype(object).where(values.notna(), empty)
    out["flag_list"] = out["flags"].map(lambda text: [f for f in str(text).split("；") if f])
    return out


def _case_view(cases: pd.DataFrame, household_id: str) -> dict[str, Any] | None:
    """The household's `case_status` row with its flags as a list, or None without a case."""
    match = cases[cases["household_id"] == household_id]
    if match.empty:
        return None
    case = match.iloc[0].to_dict()
    case["flag_list"] = [flag for flag in str(case["flags"]).split("；") if flag]
    case["days_left"] = None if pd.isna(case["days_left"]) else int(case["days_left"])
    return case


def _step_view(record: dict[str, Any]) -> dict[str, Any]:
    """A stored step as the timeline shows it: dates, notice length, who, note and channel."""
    view = {name: record.get(name) or "" for name in ("step_date", "handler", "note")}
    start, end = record.get("notice_start") or "", record.get("notice_end") or ""
    view["notice"] = ""
    if start and end:
        days = (date.fromisoformat(end) - date.fromisoformat(start)).days + 1
        view["notice"] = f"{start} 至 {end}（共{days}天）"
        view["notice_short"] = days < MIN_NOTICE_DAYS
    source = str(record.get("source") or "")
    view["source"] = SOURCE_LABELS.get(source, source)
    view["recorded_at"] = _local_time(str(record.get("recorded_at") or ""))
    return view


def _local_time(stamp: str) -> str:
    """A stored UTC time as this computer's local ``YYYY-MM-DD HH:MM`` (``""`` when none)."""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp[:16]
    local = moment.astimezone() if moment.tzinfo else moment
    return local.strftime("%Y-%m-%d %H:%M")


def _step_form_problems(typed: dict[str, str]) -> list[str]:
    """What the page asks beyond `record_step`'s checks: a step from the list and who did it."""
    problems = []
    if typed["step"] not in CASE_STEPS:
        problems.append("请选择步骤 (choose a step: " + " → ".join(CASE_STEPS) + ")")
    if not typed["handler"].strip():
        problems.append("请填写经办人 (enter who handled the step)")
    return problems


def _options(listed: pd.DataFrame, name: str) -> list[str]:
    if name == "case":
        return list(CASE_FILTERS)
    if name == "reason":
        return sorted({label for labels in listed["reason_types"] for label in labels})
    if name == "status":
        return [UNDECIDED, *DECISIONS]
    if name == "tier":
        return [t for t in ("高", "中", "低") if t in set(listed["tier"])]
    return sorted(listed[name].dropna().astype(str).unique())


def _filtered(listed: pd.DataFrame, chosen: dict[str, str]) -> pd.DataFrame:
    keep = pd.Series(True, index=listed.index)
    for name, value in chosen.items():
        if not value:
            continue
        if name == "reason":
            keep &= listed["reason_types"].apply(lambda labels, v=value: v in labels)
        elif name == "case":
            flagged = CASE_FILTERS.get(value)
            keep &= listed[flagged].astype(bool) if flagged else False
        else:
            keep &= listed[name].astype(str) == value
    return listed[keep]


def _sorted(listed: pd.DataFrame, *, sort: str, descending: bool) -> pd.DataFrame:
    column = SORTS.get(sort, SORTS["rank"])[0]
    return listed.sort_values([column, "rank"], ascending=[not descending, True], kind="stable")


def _expired() -> Response:
    return HTMLResponse("表单已过期，请刷新页面后重试 (form expired)", status_code=400)


def _page_of(shown: pd.DataFrame, asked: str | None) -> dict[str, Any]:
    """The rows of page `asked` (1-based, clamped to the pages there are) and the paging numbers."""
    pages = max((len(shown) + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(max(_int(asked, 1), 1), pages)
    return {
        "rows": shown.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE].to_dict("records"),
        "matching": len(shown),
        "page": page,
        "pages": pages,
    }


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


def _form_problem(decision: str, reason: str, reviewer: str) -> str:
    if decision not in DECISIONS:
        return "请选择审核结论 (choose a decision: " + " / ".join(DECISIONS) + ")"
    if reason and reason not in EXCLUSION_REASONS:
        return "排除原因不在列表中 (choose a listed reason)"
    if not reviewer.strip():
        return "请填写审核人 (enter the reviewer's name)"
    return ""
