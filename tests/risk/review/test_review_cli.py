"""The `risk review …` and `risk import-national` commands: exit codes, messages, outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl

from risk.review.store import ReviewStore


def risk(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "FANPIN_PSEUDONYM_KEY": "cli-test-key", **(env or {})}
    environment.pop("FANPIN_REVIEW_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "risk.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_then_export_through_the_cli(run_dir: Path, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(run_dir / "warnings.xlsx")
    sheet = book["预警名单"]
    sheet["N2"], sheet["O2"], sheet["N3"], sheet["N4"] = (
        "排除",
        "已享受兜底保障",
        "纳入监测",
        "好的",
    )
    book.save(tmp_path / "filled.xlsx")
    store = tmp_path / "review.sqlite"
    done = risk("review", "import", "--run", str(run_dir), "--file", "filled.xlsx",
                "--store", str(store), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "已审核 decided 2, 新增 new 2" in done.stdout and "第4行 row 4" in done.stdout
    again = risk("review", "import", "--run", str(run_dir), "--file", "filled.xlsx",
                 "--store", str(store), cwd=tmp_path)  # fmt: skip
    assert "新增 new 0" in again.stdout
    out = tmp_path / "exported.xlsx"
    done = risk("review", "export", "--run", str(run_dir), "--out", str(out), "--store", str(store),
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    exported = openpyxl.load_workbook(out)["预警名单"]
    assert (exported["N2"].value, exported["O2"].value, exported["N4"].value) == (
        "排除",
        "已享受兜底保障",
        None,
    )
    assert ReviewStore(store).count() == 2


def test_bad_input_exits_2_with_a_message_and_no_traceback(run_dir: Path, tmp_path: Path) -> None:
    done = risk("review", "import", "--run", str(tmp_path / "nope"), "--file", "x.xlsx",
                "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "scores.parquet" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_refuses_a_public_address_without_a_token(run_dir: Path, tmp_path: Path) -> None:
    done = risk("review", "serve", "--run", str(run_dir), "--host", "0.0.0.0",
                "--store", str(tmp_path / "s.sqlite"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "FANPIN_REVIEW_TOKEN" in done.stderr and "refusing" in done.stderr


def test_import_national_command(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from test_national import write_export

    write_export(tmp_path / "export.xlsx")
    done = risk("import-national", "--file", "export.xlsx", "--out", "data", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "households.csv",
        "members.csv",
        "outcomes.csv",
    ]
    assert "假名化" in done.stdout
