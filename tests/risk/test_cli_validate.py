"""`risk validate --data DIR`: summary on stdout, errors on stderr, exit 0 usable / 2 not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features" / "contract"))
from contract_frames import base_frames, write_directory  # noqa: E402

from risk.cli import main  # noqa: E402


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as done:
        main(argv)
    return int(done.value.code or 0)


@pytest.fixture(autouse=True)
def _key(monkeypatch, tmp_path):
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "cli-test-key")
    monkeypatch.chdir(tmp_path)


def test_usable_directory_exits_0_with_a_summary(tmp_path, capsys):
    directory = write_directory(tmp_path / "d", base_frames())
    assert _run(["validate", "--data", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "households (户信息)" in out and "结论 verdict: 可用 usable" in out
    assert "452301" not in out


def test_unusable_directory_exits_2_naming_file_row_and_column(tmp_path, capsys):
    frames = base_frames()
    frames["medical"].loc[1, "visit_type"] = "急诊"
    directory = write_directory(tmp_path / "d", frames)
    assert _run(["validate", "--data", str(directory)]) == 2
    captured = capsys.readouterr()
    assert "不可用 NOT usable" in captured.out
    assert "[medical.csv]" in captured.err and "visit_type (就诊类型)" in captured.err
    assert '第3行 row 3: "急诊"' in captured.err
    assert "Traceback" not in captured.err


def test_missing_directory_exits_2(tmp_path, capsys):
    assert _run(["validate", "--data", str(tmp_path / "nope")]) == 2
    assert "no such directory" in capsys.readouterr().err
