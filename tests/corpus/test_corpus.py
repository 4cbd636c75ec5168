"""Every case of the bad-input corpus (tests/corpus/mutations.py) has its declared outcome.

Each case mutates a copy of the base directory and runs `risk validate` (or `risk score`) in this
process: the exit code, the absence of a traceback, and the message naming file, row and column are
checked, then the same directory is checked through the library (`validate_directory`,
`load_directory`) for the rule that reports it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli
from mutations import CORPUS_KEY, MUTATIONS, SCORE_MONTH, Mutation, markdown

from features.contract.errors import DataContractError
from features.contract.io import load_directory, validate_directory
from features.contract.validation import Issue, ValidationReport

ROOT = Path(__file__).resolve().parents[2]


def _params(command: str) -> list[object]:
    """The cases of one command; known failures are strict xfails (they fail until fixed)."""
    return [
        pytest.param(
            m,
            id=m.name,
            marks=[pytest.mark.xfail(strict=True, reason=m.known_failure)]
            if m.known_failure
            else [],
        )
        for m in MUTATIONS
        if m.command == command
    ]


def matching(issues: tuple[Issue, ...], case: Mutation) -> list[Issue]:
    """The issues that report `case`: its rule, naming its file, column, row and words."""
    found = []
    for issue in issues:
        if case.rule is not None and issue.rule != case.rule:
            continue
        if case.file is not None and (issue.file != case.file or case.file not in issue.message):
            continue
        if case.column is not None and (
            issue.column != case.column or f"column {case.column}" not in issue.message
        ):
            continue
        if case.row is not None and (
            case.row not in issue.rows or f"row {case.row}" not in issue.message
        ):
            continue
        if all(text in issue.message for text in case.text):
            found.append(issue)
    return found


def test_corpus_is_large_and_named_once() -> None:
    names = [m.name for m in MUTATIONS]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert {"error", "warning", "accepted"} <= {m.outcome for m in MUTATIONS}


@pytest.mark.parametrize("case", _params("validate"))
def test_validate(
    case: Mutation,
    corpus_base: Path,
    base_report: ValidationReport,
    base_ids: set[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = case.apply(corpus_base, tmp_path / "data")
    code = run_cli(["validate", "--data", folder])
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert not base_ids & set(re.findall(r"[0-9A-Za-z]{18,22}", printed.out + printed.err))
    if case.outcome == "error":
        assert code == 2, printed.out
        report = validate_directory(folder, pseudonym_key=CORPUS_KEY)
        found = matching(report.errors, case)
        assert found, f"no {case.rule} error naming the case in:\n{report.error_text()}"
        assert found[0].message in printed.err
        return
    assert code == 0, printed.err
    loaded = load_directory(folder, pseudonym_key=CORPUS_KEY)
    report = loaded.report
    new = [i for i in report.issues if i.message not in {b.message for b in base_report.issues}]
    if case.outcome == "warning":
        found = matching(report.warnings, case)
        assert found, "no matching warning in:\n" + "\n".join(i.message for i in report.warnings)
        assert found[0] in new, "the warning was already reported for the valid directory"
        if case.rule != "optional_table":  # listed as "not sent" in the summary instead
            assert found[0].message in printed.out
        if case.check is not None:
            case.check(loaded.tables, corpus_base)
        return
    assert not new, "accepted input reported: " + "\n".join(i.message for i in new)
    assert case.check is not None
    case.check(loaded.tables, corpus_base)


def test_load_directory_raises_with_every_error(corpus_base: Path, tmp_path: Path) -> None:
    """The library refuses what the CLI refuses, with the same messages."""
    case = next(m for m in MUTATIONS if m.name == "two_heads")
    folder = case.apply(corpus_base, tmp_path / "data")
    report = validate_directory(folder, pseudonym_key=CORPUS_KEY)
    with pytest.raises(
        DataContractError, match=re.escape(matching(report.errors, case)[0].message)
    ):
        load_directory(folder, pseudonym_key=CORPUS_KEY)


@pytest.mark.parametrize("case", _params("score"))
def test_score(
    case: Mutation,
    corpus_base: Path,
    corpus_model: Path,
    base_run: tuple[Path, dict],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = case.apply(corpus_base, tmp_path / "data")
    out = tmp_path / "run"
    code = run_cli(["score", "--data", folder, "--month", SCORE_MONTH, "--out", out,
                    "--model", corpus_model, "--no-progress"])  # fmt: skip
    printed = capsys.readouterr()
    assert "Traceback" not in printed.out + printed.err
    assert code == 0, printed.err
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    base_dir, base_manifest = base_run
    if case.outcome == "warning":
        table, kind = case.text
        found = [w for w in manifest["warnings"] if (w["table"], w["kind"]) == (table, kind)]
        assert found, f"no {kind} warning for {table} in {manifest['warnings']}"
        assert (table, kind) not in {(w["table"], w["kind"]) for w in base_manifest["warnings"]}
        assert "".join(found[0]["message"].split()) in "".join(printed.out.split())  # rich wraps
        assert manifest["counts"]["feed_warnings"] == len(manifest["warnings"])
        return
    scores = pd.read_parquet(out / "scores.parquet")
    before = pd.read_parquet(base_dir / "scores.parquet")
    pd.testing.assert_series_equal(scores["probability"], before["probability"])
    assert scores["household_id"].tolist() == before["household_id"].tolist()


def test_docs_list_every_case() -> None:
    """docs/corpus.md is generated from the declarations and up to date."""
    committed = (ROOT / "docs" / "corpus.md").read_text(encoding="utf-8")
    assert committed == markdown(), (
        "docs/corpus.md is stale: run python -m tests.corpus.mutations --markdown > docs/corpus.md"
    )


def test_markdown_command_prints_the_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.corpus.mutations", "--markdown"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert done.stdout == markdown()
