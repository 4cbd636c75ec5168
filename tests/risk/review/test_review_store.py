"""The review store: append-only, versioned, loses nothing under two writers or a killed process."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from risk.review.store import (
    LIFECYCLE_DECISIONS,
    SCHEMA_VERSION,
    STORED_DECISIONS,
    Decision,
    ReviewStore,
)


def decision(household: str, verdict: str = "纳入监测", **extra: str) -> Decision:
    return Decision(
        run_id="r1",
        month="2026-10",
        household_id=household,
        decision=verdict,
        source="web",
        **extra,
    )


def test_latest_decision_is_current_and_history_keeps_all(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    store.add([decision("H1"), decision("H2", "待核实")])
    result = store.add([decision("H1", "排除", reason="支出已解决"), decision("H2", "待核实")])
    assert [c[0]["decision"] for c in result.conflicts] == ["纳入监测"]
    assert len(result.unchanged) == 1 and result.stored == 1
    current = store.current("r1").set_index("household_id")["decision"].to_dict()
    assert current == {"H1": "排除", "H2": "待核实"}
    assert store.history("r1", "H1")["decision"].tolist() == ["纳入监测", "排除"]
    same_verdict_new_note = store.add([decision("H2", "待核实", note="约了周五")])
    assert len(same_verdict_new_note.new) == 1 and not same_verdict_new_note.conflicts


def test_rows_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "s.sqlite")
    store.add([decision("H1")])
    connection = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE decisions SET decision = '排除'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM decisions")
    connection.close()
    assert store.current("r1")["decision"].tolist() == ["纳入监测"]


def test_invalid_values_never_reach_the_store() -> None:
    with pytest.raises(ValueError, match="decision"):
        decision("H1", "同意")
    with pytest.raises(ValueError, match="reason"):
        decision("H1", "排除", reason="不想要")


def test_schema_is_versioned_and_migrated_from_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    connection = sqlite3.connect(path)  # a version-1 file: the table, no triggers yet
    connection.executescript(
        """CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
        month TEXT NOT NULL, household_id TEXT NOT NULL, decision TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', reason_text TEXT NOT NULL DEFAULT '',
        reviewer TEXT NOT NULL DEFAULT '', decided_at TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', recorded_at TEXT NOT NULL);
        INSERT INTO decisions (run_id, month, household_id, decision, source, recorded_at)
        VALUES ('r0', '2026-09', 'H9', '排除', 'excel', '2026-10-01');
        PRAGMA user_version = 1;"""
    )
    connection.close()
    store = ReviewStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 4
    assert store.current_steps().empty  # migration 3: the case steps table, empty
    assert store.current("r0")["household_id"].tolist() == ["H9"]
    with sqlite3.connect(path) as raw, pytest.raises(sqlite3.IntegrityError):
        raw.execute("DELETE FROM decisions")
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigError, match="newer"):
        ReviewStore(path)


def test_migration_4_keeps_every_row_and_admits_the_lifecycle_decisions(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"
    old = ReviewStore(path)
    old.add([decision("H1", "排除", reason="信息有误"), decision("H2", "待核实")])
    before = old.history()
    with sqlite3.connect(path) as raw:  # back to a version-3 file: the old CHECK, same rows
        raw.executescript(
            """DROP TRIGGER decisions_no_update; DROP TRIGGER decisions_no_delete;
            CREATE TABLE d3 AS SELECT * FROM decisions; DROP TABLE decisions;
            CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
            month TEXT NOT NULL, household_id TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('纳入监测', '排除', '待核实')),
            reason TEXT NOT NULL DEFAULT '', reason_text TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '', decided_at TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('excel', 'web')),
            note TEXT NOT NULL DEFAULT '', recorded_at TEXT NOT NULL);
            INSERT INTO decisions SELECT * FROM d3; DROP TABLE d3;
            PRAGMA user_version = 3;"""
        )
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            raw.execute(
                "INSERT INTO decisions (run_id, month, household_id, decision, source, "
                "recorded_at) VALUES ('r', '2026-10', 'H3', '继续帮扶', 'web', 'x')"
            )
    store = ReviewStore(path)
    assert store.schema_version() == 4
    pd.testing.assert_frame_equal(store.history(), before)  # every row, its id and content kept
    lifecycle = [d for ds in LIFECYCLE_DECISIONS.values() for d in ds]
    assert set(lifecycle) <= set(STORED_DECISIONS)
    stored = store.add([decision(f"L{i}", verdict) for i, verdict in enumerate(lifecycle)])
    assert stored.stored == len(lifecycle)
    assert store.history()["id"].tolist() == list(range(1, len(lifecycle) + 3))
    with sqlite3.connect(path) as raw:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM decisions")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE decisions SET decision = '排除'")
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            raw.execute(
                "INSERT INTO decisions (run_id, month, household_id, decision, source, "
                "recorded_at) VALUES ('r', '2026-10', 'H3', '同意', 'web', 'x')"
            )


def _writer(path: str, prefix: str, count: int) -> None:
    store = ReviewStore(path, timeout=0.05, retries=2000)  # short timeout: exercise the retry
    for i in range(count):
        store.add([decision(f"{prefix}{i:04d}", reviewer=prefix)])


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    ReviewStore(path)
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(path, p, 500)) for p in ("A", "B")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=240)
    assert [w.exitcode for w in writers] == [0, 0]
    store = ReviewStore(path)
    history = store.history("r1")
    assert len(history) == 1000 and history["household_id"].is_unique
    assert history.groupby("reviewer").size().to_dict() == {"A": 500, "B": 500}
    assert store.integrity() == "ok"


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from risk.review.store import Decision, ReviewStore

    store = ReviewStore(sys.argv[1])
    def batch(start):
        return [Decision(run_id="r1", month="2026-10", household_id=f"H{i:05d}",
                         decision="排除", source="excel") for i in range(start, start + 100)]
    store.add(batch(0))
    with store._write() as connection:  # a transaction that never commits
        for d in batch(100):
            connection.execute(
                "INSERT INTO decisions (run_id, month, household_id, decision, source, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, 'now')", (d.run_id, d.month, d.household_id, d.decision, d.source))
        print("mid-transaction", flush=True)
        time.sleep(60)
    """
)


def test_store_survives_a_writer_killed_mid_transaction(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])},
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "mid-transaction"
        assert (tmp_path / "s.sqlite-wal").exists()
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    store = ReviewStore(path)
    assert store.integrity() == "ok"
    assert store.count() == 100  # the committed batch, none of the killed one
    store.add([decision("after-crash")])
    assert store.count() == 101
