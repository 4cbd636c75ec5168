"""The review store: an append-only SQLite database of reviewer decisions.

Every decision is a new row; nothing is ever updated or deleted (triggers refuse it). The current
decision on a household in a run is its latest row. The schema carries a version
(``PRAGMA user_version``) and is brought up to date by numbered migrations, each in its own
transaction. Two writers at once are safe: WAL journal, ``BEGIN IMMEDIATE`` transactions, a busy
timeout, and a retry with back-off when the database stays locked; a writer killed mid-transaction
leaves the committed rows intact (SQLite's journal rolls the open transaction back on next open).

Adding a batch is one transaction that also classifies each decision against the household's
history, so two processes cannot both think their decision is "new":

- ``new``: stored (the first decision on that household, or the same verdict as before with
  other details such as a note changed);
- ``conflict``: stored, and its verdict differs from the current one (both stay in history);
- ``unchanged``: identical in content to the current decision: not stored (re-importing a file);
- ``stale``: identical to an earlier decision that has since been superseded: not stored (an old
  file imported again must not silently undo a newer decision).

"Content" is everything a reviewer enters (verdict, reason, reason text, reviewer, date, note), not the
channel (``source``) or the time the row was stored.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from features.contract.errors import ConfigError
from risk.atomic import OutputError

#: The verdicts a reviewer may give on the warning list (its Excel drop-down and web form offer
#: exactly these).
DECISIONS: tuple[str, ...] = ("纳入监测", "排除", "待核实")
#: The decisions on a household of the monitoring lifecycle (the 监测户跟踪 tab), by its stage
#: (``lifecycle.parquet``'s ``stage``): a monitored household may leave monitoring or keep (or get
#: more) help; one out of monitoring may be identified again (纳入监测) or kept under watch.
LIFECYCLE_DECISIONS: dict[str, tuple[str, ...]] = {
    "monitored": ("同意消除风险", "继续帮扶", "加强帮扶"),
    "exited": ("纳入监测", "继续观察"),
}
#: Every decision the store accepts: the list's verdicts, then the lifecycle's (migration 4).
STORED_DECISIONS: tuple[str, ...] = tuple(
    dict.fromkeys([*DECISIONS, *(d for ds in LIFECYCLE_DECISIONS.values() for d in ds)])
)
#: Fixed reasons for an exclusion; anything else is 其他 plus free text.
EXCLUSION_REASONS: tuple[str, ...] = (
    "收入稳定超过监测线",
    "支出已解决",
    "已享受兜底保障",
    "信息有误",
    "家庭成员已外出务工",
    "其他",
)
SOURCES: tuple[str, ...] = ("excel", "web")
#: The steps of a case, in the order they must happen (DOMAIN.md, "Process and deadlines").
CASE_STEPS: tuple[str, ...] = ("线索", "入户核实", "村级评议", "公示", "乡镇审核", "县级审定")
#: The step whose row carries the public notice's start and end dates.
NOTICE_STEP = "公示"
#: Columns of `ReviewStore.steps` / `ReviewStore.current_steps`, in order.
STEP_COLUMNS: tuple[str, ...] = (
    "id",
    "run_id",
    "month",
    "household_id",
    "step",
    "step_date",
    "notice_start",
    "notice_end",
    "handler",
    "note",
    "source",
    "recorded_at",
)
#: Columns of `ReviewStore.history` / `ReviewStore.current`, in order.
DECISION_COLUMNS: tuple[str, ...] = (
    "id",
    "run_id",
    "month",
    "household_id",
    "decision",
    "reason",
    "reason_text",
    "reviewer",
    "decided_at",
    "source",
    "note",
    "recorded_at",
)

_MIGRATIONS: tuple[str, ...] = (
    # 1: the decisions table
    """
    CREATE TABLE decisions (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL,
        month        TEXT NOT NULL,
        household_id TEXT NOT NULL,
        decision     TEXT NOT NULL CHECK (decision IN ('纳入监测', '排除', '待核实')),
        reason       TEXT NOT NULL DEFAULT '',
        reason_text  TEXT NOT NULL DEFAULT '',
        reviewer     TEXT NOT NULL DEFAULT '',
        decided_at   TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL CHECK (source IN ('excel', 'web')),
        note         TEXT NOT NULL DEFAULT '',
        recorded_at  TEXT NOT NULL
    );
    CREATE INDEX decisions_by_household ON decisions (run_id, household_id, id);
    """,
    # 2: append-only, enforced by the database itself
    """
    CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: decisions cannot be changed'); END;
    CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: decisions cannot be deleted'); END;
    CREATE INDEX decisions_by_month ON decisions (month);
    """,
    # 3: the steps of each case, append-only like the decisions
    """
    CREATE TABLE case_steps (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL,
        month        TEXT NOT NULL,
        household_id TEXT NOT NULL,
        step         TEXT NOT NULL
                     CHECK (step IN ('线索', '入户核实', '村级评议', '公示', '乡镇审核', '县级审定')),
        step_date    TEXT NOT NULL,
        notice_start TEXT NOT NULL DEFAULT '',
        notice_end   TEXT NOT NULL DEFAULT '',
        handler      TEXT NOT NULL DEFAULT '',
        note         TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL CHECK (source IN ('excel', 'web')),
        recorded_at  TEXT NOT NULL,
        CHECK (step <> '公示' OR (notice_start <> '' AND notice_end >= notice_start))
    );
    CREATE INDEX case_steps_by_household ON case_steps (run_id, household_id, id);
    CREATE TRIGGER case_steps_no_update BEFORE UPDATE ON case_steps
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: case steps cannot be changed'); END;
    CREATE TRIGGER case_steps_no_delete BEFORE DELETE ON case_steps
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: case steps cannot be deleted'); END;
    """,
    # 4: the lifecycle's decisions (LIFECYCLE_DECISIONS) allowed beside the list's. SQLite cannot
    # widen a CHECK in place: the table is rebuilt with every row copied as it is (ids kept), then
    # its indexes and append-only triggers are made again. Nothing stored changes or is refused.
    """
    DROP TRIGGER IF EXISTS decisions_no_update;
    DROP TRIGGER IF EXISTS decisions_no_delete;
    CREATE TABLE decisions_v4 (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id       TEXT NOT NULL,
        month        TEXT NOT NULL,
        household_id TEXT NOT NULL,
        decision     TEXT NOT NULL CHECK (decision IN ('纳入监测', '排除', '待核实',
                                                      '同意消除风险', '继续帮扶', '加强帮扶',
                                                      '继续观察')),
        reason       TEXT NOT NULL DEFAULT '',
        reason_text  TEXT NOT NULL DEFAULT '',
        reviewer     TEXT NOT NULL DEFAULT '',
        decided_at   TEXT NOT NULL DEFAULT '',
        source       TEXT NOT NULL CHECK (source IN ('excel', 'web')),
        note         TEXT NOT NULL DEFAULT '',
        recorded_at  TEXT NOT NULL
    );
    INSERT INTO decisions_v4 (id, run_id, month, household_id, decision, reason, reason_text,
                              reviewer, decided_at, source, note, recorded_at)
    SELECT id, run_id, month, household_id, decision, reason, reason_text,
           reviewer, decided_at, source, note, recorded_at FROM decisions ORDER BY id;
    DROP TABLE decisions;
    ALTER TABLE decisions_v4 RENAME TO decisions;
    CREATE INDEX decisions_by_household ON decisions (run_id, household_id, id);
    CREATE INDEX decisions_by_month ON decisions (month);
    CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: decisions cannot be changed'); END;
    CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
    BEGIN SELECT RAISE(ABORT, 'review store is append-only: decisions cannot be deleted'); END;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
T = TypeVar("T")
_CONTENT = ("decision", "reason", "reason_text", "reviewer", "decided_at", "note")
_STEP_CONTENT = ("step_date", "notice_start", "notice_end", "handler", "note")


@dataclass(frozen=True)
class Decision:
    """One reviewer decision on one household in one run.

    Attributes
    ----------
    decision
        One of `STORED_DECISIONS`: a list verdict (`DECISIONS`) or a lifecycle decision
        (`LIFECYCLE_DECISIONS`).
    decided_at
        The date (``YYYY-MM-DD``) or time (ISO, seconds) the reviewer gave; ``""`` when an Excel row
        has no 审核日期 (the time it was stored is kept separately as ``recorded_at``).
    reason, reason_text
        For 排除: one of `EXCLUSION_REASONS` (or ``""`` when none was given) and free text.
    """

    run_id: str
    month: str
    household_id: str
    decision: str
    source: str
    reason: str = ""
    reason_text: str = ""
    reviewer: str = ""
    decided_at: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.decision not in STORED_DECISIONS:
            raise ValueError(f"decision {self.decision!r}: expected one of {STORED_DECISIONS}")
        if self.reason and self.reason not in EXCLUSION_REASONS:
            raise ValueError(f"reason {self.reason!r}: expected one of {EXCLUSION_REASONS}")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r}: expected one of {SOURCES}")

    def content(self) -> tuple[str, ...]:
        """What the reviewer entered: equal content means the same decision."""
        return tuple(getattr(self, name) for name in _CONTENT)


@dataclass(frozen=True)
class CaseStep:
    """One dated step of a case (a household in a run).

    Attributes
    ----------
    step
        One of `CASE_STEPS`.
    step_date
        ``YYYY-MM-DD``: the day the step was done; for 公示 the first day of the notice.
    notice_start, notice_end
        For 公示 only: the first and last day of the public notice (``YYYY-MM-DD``), both required;
        ``""`` for every other step.
    handler, note
        经办人 and 备注 as entered.
    """

    run_id: str
    month: str
    household_id: str
    step: str
    step_date: str
    source: str
    notice_start: str = ""
    notice_end: str = ""
    handler: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.step not in CASE_STEPS:
            raise ValueError(f"step {self.step!r}: expected one of {CASE_STEPS}")
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r}: expected one of {SOURCES}")
        for name in ("step_date", "notice_start", "notice_end"):
            value = getattr(self, name)
            if value or name == "step_date":
                _check_iso_date(name, value)
        if self.step == NOTICE_STEP:
            if not (self.notice_start and self.notice_end):
                raise ValueError("公示 needs notice_start and notice_end")
            if self.notice_end < self.notice_start:
                raise ValueError(
                    f"公示 ends {self.notice_end} before it starts {self.notice_start}"
                )
        elif self.notice_start or self.notice_end:
            raise ValueError(f"notice dates belong to 公示 only, not to {self.step}")

    def content(self) -> tuple[str, ...]:
        """What was entered about the step: equal content means the same step record."""
        return tuple(getattr(self, name) for name in _STEP_CONTENT)


@dataclass(frozen=True)
class StepAddResult:
    """How a batch of case steps was stored: `new` steps, `corrected` ones, `unchanged` ones."""

    new: list[CaseStep] = field(default_factory=list)
    corrected: list[CaseStep] = field(default_factory=list)
    unchanged: list[CaseStep] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Rows written: new steps and corrections."""
        return len(self.new) + len(self.corrected)


#: Called inside the write transaction with the run's current steps; raises to store nothing.
StepCheck = Callable[[pd.DataFrame], None]


@dataclass(frozen=True)
class AddResult:
    """How a batch of decisions was classified (see the module docstring)."""

    new: list[Decision] = field(default_factory=list)
    conflicts: list[tuple[dict[str, str], Decision]] = field(default_factory=list)
    unchanged: list[Decision] = field(default_factory=list)
    stale: list[Decision] = field(default_factory=list)

    @property
    def stored(self) -> int:
        """Rows written: new ones and conflicts."""
        return len(self.new) + len(self.conflicts)


class ReviewStore:
    """The append-only decision store in one SQLite file.

    Parameters
    ----------
    path
        The database file (created, with its folder, when missing).
    timeout
        Seconds a writer waits for another writer's lock before each retry.
    retries
        How many times a locked transaction is retried (with random back-off) before giving up.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = ReviewStore(pathlib.Path(tempfile.mkdtemp()) / "review.sqlite")
    >>> d = Decision(run_id="r1", month="2026-10", household_id="H1", decision="排除",
    ...              reason="支出已解决", source="web")
    >>> store.add([d]).stored, store.add([d]).stored
    (1, 0)
    >>> store.current("r1")["decision"].tolist()
    ['排除']
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0, retries: int = 20) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.retries = retries
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(
                f"review store {self.path}: cannot create its folder ({error}); use --store FILE "
                "in a writable folder"
            ) from error
        self._migrate()

    # -- connections and transactions -------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        """A connection with the per-connection settings (WAL itself is set once, by `_migrate`)."""
        connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            connection.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            connection.execute("PRAGMA synchronous=FULL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _retrying(self, step: Callable[[], T]) -> T:
        """Run `step`, retrying with random back-off while the database is busy or locked."""
        for attempt in range(self.retries + 1):
            try:
                return step()
            except sqlite3.OperationalError as error:
                if not _is_busy(error) or attempt == self.retries:
                    raise OutputError(
                        f"review store {self.path}: {error}; if another import or the review page "
                        "is writing, try again when it has finished"
                    ) from error
            time.sleep(random.uniform(0.01, 0.05) * min(attempt + 1, 10))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (retried while another writer holds the lock)."""
        connection = self._retrying(self._begin)
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _begin(self) -> sqlite3.Connection:
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            connection.close()
            raise
        return connection

    def _read(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def step() -> list[tuple[Any, ...]]:
            connection = self._open()
            try:
                return connection.execute(query, params).fetchall()
            finally:
                connection.close()

        return self._retrying(step)

    def _use_wal(self) -> None:
        """Switch the file to write-ahead logging (persistent; a no-op when already on)."""

        def step() -> None:
            connection = self._open()
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()

        self._retrying(step)

    def _migrate(self) -> None:
        self._use_wal()
        with self._write() as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ConfigError(
                    f"[review] store {self.path} has schema version {version}, newer than this "
                    f"fanpin understands ({SCHEMA_VERSION}); upgrade fanpin"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[number - 1]):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version={number}")

    # -- writing ------------------------------------------------------------------------------
    def add(self, decisions: Iterable[Decision]) -> AddResult:
        """Store a batch of decisions in one transaction; return how each was classified."""
        batch = list(decisions)
        result = AddResult()
        if not batch:
            return result
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._write() as connection:
            for decision in batch:
                history = _history_rows(connection, decision.run_id, decision.household_id)
                kind = _classify(decision, history)
                if kind in ("new", "conflict"):
                    _insert(connection, decision, recorded_at=recorded_at)
                if kind == "conflict":
                    result.conflicts.append((history[-1], decision))
                else:
                    getattr(result, kind).append(decision)
        return result

    def add_steps(
        self, steps: Iterable[CaseStep], *, check: StepCheck | None = None
    ) -> StepAddResult:
        """Store a batch of case steps in one transaction, all or nothing.

        Parameters
        ----------
        steps
            The steps to store. A step identical to the current record of its (run, household,
            step) is not stored again; one with other content is stored as a correction.
        check
            Called inside the transaction with the current steps of the batch's runs (columns
            `STEP_COLUMNS`) before anything is written; when it raises, nothing is stored and the
            error propagates. Validation that depends on what is already stored belongs here.

        Returns
        -------
        StepAddResult
        """
        batch = list(steps)
        result = StepAddResult()
        if not batch:
            return result
        recorded_at = datetime.now(UTC).isoformat(timespec="microseconds")
        runs = sorted({step.run_id for step in batch})
        with self._write() as connection:
            stored = _current_step_rows(connection, runs)
            if check is not None:
                check(stored)
            current = {
                (row.run_id, row.household_id, row.step): tuple(
                    getattr(row, name) for name in _STEP_CONTENT
                )
                for row in stored.itertuples(index=False)
            }
            for step in batch:
                before = current.get((step.run_id, step.household_id, step.step))
                if before == step.content():
                    result.unchanged.append(step)
                    continue
                _insert_step(connection, step, recorded_at=recorded_at)
                current[(step.run_id, step.household_id, step.step)] = step.content()
                (result.new if before is None else result.corrected).append(step)
        return result

    # -- reading ------------------------------------------------------------------------------
    def history(self, run_id: str | None = None, household_id: str | None = None) -> pd.DataFrame:
        """Every stored decision (optionally of one run and household), oldest first."""
        where, params = _filters(run_id=run_id, household_id=household_id)
        query = f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions {where} ORDER BY id"
        rows = self._read(query, params)
        return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))

    def current(self, run_id: str | None = None) -> pd.DataFrame:
        """The latest decision per (run, household): one row each, in household order."""
        where, params = _filters(run_id=run_id)
        query = (
            f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions WHERE id IN ("
            f"SELECT MAX(id) FROM decisions {where} GROUP BY run_id, household_id) "
            "ORDER BY run_id, household_id"
        )
        rows = self._read(query, params)
        return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))

    def steps(self, run_id: str | None = None, household_id: str | None = None) -> pd.DataFrame:
        """Every stored case step (optionally of one run and household), oldest first."""
        where, params = _filters(run_id=run_id, household_id=household_id)
        query = f"SELECT {', '.join(STEP_COLUMNS)} FROM case_steps {where} ORDER BY id"
        return pd.DataFrame(self._read(query, params), columns=list(STEP_COLUMNS))

    def current_steps(self, run_id: str | None = None) -> pd.DataFrame:
        """The latest record of each (run, household, step), in household and step order."""
        runs = None if run_id is None else [run_id]

        def step() -> pd.DataFrame:
            connection = self._open()
            try:
                return _current_step_rows(connection, runs)
            finally:
                connection.close()

        return self._retrying(step)

    def count(self) -> int:
        """Number of stored decision rows."""
        return int(self._read("SELECT COUNT(*) FROM decisions")[0][0])

    def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when the file is sound)."""
        return str(self._read("PRAGMA integrity_check")[0][0])

    def schema_version(self) -> int:
        """The schema version of the file (`SCHEMA_VERSION` after opening)."""
        return int(self._read("PRAGMA user_version")[0][0])


def _check_iso_date(name: str, value: str) -> None:
    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r}: expected a date YYYY-MM-DD") from None
    if parsed.isoformat() != value:
        raise ValueError(f"{name} {value!r}: expected a date YYYY-MM-DD")


def _current_step_rows(connection: sqlite3.Connection, runs: Sequence[str] | None) -> pd.DataFrame:
    """The latest row per (run, household, step) of `runs` (None: every run)."""
    where = ""
    params: list[str] = []
    if runs is not None:
        where = f"WHERE run_id IN ({', '.join('?' * len(runs))})"
        params = list(runs)
    query = (
        f"SELECT {', '.join(STEP_COLUMNS)} FROM case_steps WHERE id IN ("
        f"SELECT MAX(id) FROM case_steps {where} GROUP BY run_id, household_id, step) "
        "ORDER BY run_id, household_id, id"
    )
    frame = pd.DataFrame(connection.execute(query, params).fetchall(), columns=list(STEP_COLUMNS))
    order = {name: number for number, name in enumerate(CASE_STEPS)}
    frame["_order"] = frame["step"].map(order)
    frame = frame.sort_values(["run_id", "household_id", "_order"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


def _insert_step(connection: sqlite3.Connection, step: CaseStep, *, recorded_at: str) -> None:
    values = asdict(step) | {"recorded_at": recorded_at}
    columns = [name for name in STEP_COLUMNS if name != "id"]
    connection.execute(
        f"INSERT INTO case_steps ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[name] for name in columns],
    )


def _statements(script: str) -> list[str]:
    """Split a migration into statements (triggers contain ``;`` inside BEGIN … END)."""
    statements: list[str] = []
    buffer = ""
    for line in script.strip().splitlines():
        buffer += line + "\n"
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return statements


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _filters(**values: str | None) -> tuple[str, list[str]]:
    used = {name: value for name, value in values.items() if value is not None}
    if not used:
        return "", []
    return "WHERE " + " AND ".join(f"{name} = ?" for name in used), list(used.values())


def _history_rows(connection: sqlite3.Connection, run_id: str, household_id: str) -> list[dict]:
    cursor = connection.execute(
        f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions "
        "WHERE run_id = ? AND household_id = ? ORDER BY id",
        (run_id, household_id),
    )
    return [dict(zip(DECISION_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def _classify(decision: Decision, history: Sequence[dict]) -> str:
    if not history:
        return "new"
    content = decision.content()
    if tuple(history[-1][name] for name in _CONTENT) == content:
        return "unchanged"
    if any(tuple(row[name] for name in _CONTENT) == content for row in history[:-1]):
        return "stale"
    return "conflict" if history[-1]["decision"] != decision.decision else "new"


def _insert(connection: sqlite3.Connection, decision: Decision, *, recorded_at: str) -> None:
    values = asdict(decision) | {"recorded_at": recorded_at}
    columns = [name for name in DECISION_COLUMNS if name != "id"]
    connection.execute(
        f"INSERT INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [values[name] for name in columns],
    )
