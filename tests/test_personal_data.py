"""Personal data never leaves the input (issue 8): a full run is scanned, file by file.

The small simulated county gets a name and a phone number per member (as real exports do), then goes
through `risk validate`, `risk train` (embedded MLflow store), `risk score` and `risk review export`.
Every file written — parquet, xlsx (its XML), html, json, the MLflow SQLite store and artefacts (the
skops model unzipped), plus everything printed and logged — is searched for any 18/20/22-character
id, name or phone number of the input, any phone-number pattern, and the pseudonymisation key.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from risk.cli import main

KEY = "personal-data-scan-key-7f3a9c"
PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def run(args: list[object]) -> int:
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    return int(done.value.code or 0)


def add_names_and_phones(data: Path) -> tuple[list[str], list[str]]:
    """Give every member a 姓名 and a 联系电话 (columns the contract does not use)."""
    members = pd.read_parquet(data / "members.parquet")
    rng = np.random.default_rng(11)
    names = [
        rng.choice(list(SURNAMES)) + "".join(rng.choice(list(GIVEN), 2))
        for _ in range(len(members))
    ]
    phones = [f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}" for _ in range(len(members))]
    members["姓名"] = names
    members["联系电话"] = phones
    members.to_parquet(data / "members.parquet", index=False)
    return names, phones


def input_ids(data: Path) -> set[str]:
    """Every 18/20/22-character id of the input (person ids, and household ids of that length)."""
    found: set[str] = set()
    for path in data.glob("*.parquet"):
        frame = pd.read_parquet(path)
        for column in ("person_id", "household_id"):
            if column in frame:
                values = frame[column].dropna().astype(str)
                found |= set(values[values.str.len().isin([18, 20, 22])])
    return found


def texts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every readable piece of a file."""
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":  # xlsx, skops and other zips: every member
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield f"{path}!{member}", archive.read(member).decode("utf-8", "replace")
        return
    if suffix == ".parquet":
        table = pq.read_table(path)
        yield str(path), table.to_pandas().astype(str).to_csv()
        yield f"{path} (schema)", str(table.schema.metadata)
        return
    if raw[:16] == b"SQLite format 3\x00":
        with sqlite3.connect(path) as db:
            names = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            for name in names:
                rows = db.execute(f'select * from "{name}"').fetchall()  # noqa: S608
                yield f"{path}:{name}", "\n".join(map(str, rows))
        return
    yield str(path), raw.decode("utf-8", "replace")


def leaks(text: str, *, ids: set[str], names: list[str], phones: list[str]) -> list[str]:
    found = [f"phone pattern {m}" for m in PHONE.findall(text)]
    found += [f"key {KEY}"] if KEY in text else []
    for token in re.findall(r"[0-9A-Za-z]{18,22}", text):
        if token in ids:
            found.append(f"id {token}")
    found += [f"name {n}" for n in names if n in text]
    found += [f"phone {p}" for p in phones if p in text]
    return found


@pytest.fixture(scope="module")
def full_run(small_county: Path, tmp_path_factory: pytest.TempPathFactory):
    """validate → train → score → review export, in a fresh working folder; returns what to scan."""
    root = tmp_path_factory.mktemp("personal")
    data = root / "input"
    shutil.copytree(small_county, data, ignore=shutil.ignore_patterns("_truth", "export_*"))
    names, phones = add_names_and_phones(data)
    work = root / "work"
    work.mkdir()
    export = pd.read_parquet(data / "income.parquet")["month"].max()
    month = str(pd.Period(str(export)[:7], "M"))
    printed: list[str] = []
    handler = _Collect()
    logging.getLogger().addHandler(handler)
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FANPIN_PSEUDONYM_KEY", KEY)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.chdir(work)
        capture = _capture_std(patch)
        try:
            steps = [
                ["validate", "--data", data],
                ["train", "--data", data, "--out", work / "train"],
                ["score", "--data", data, "--month", month, "--out", work / "runs" / month,
                 "--no-progress"],
                ["review", "export", "--run", work / "runs" / month, "--out", work / "review.xlsx"],
            ]  # fmt: skip
            codes = [run(step) for step in steps]
        finally:
            logging.getLogger().removeHandler(handler)
            logging.getLogger().setLevel(previous)
        printed.append(capture.getvalue())
    assert codes == [0, 0, 0, 0], printed[0][-3000:]
    return {
        "work": work,
        "printed": printed[0] + "\n".join(handler.lines),
        "ids": input_ids(data),
        "names": names,
        "phones": phones,
    }


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _capture_std(patch: pytest.MonkeyPatch):
    import io  # noqa: PLC0415
    import sys  # noqa: PLC0415

    buffer = io.StringIO()

    class Tee(io.TextIOBase):
        def __init__(self, stream) -> None:
            self.stream = stream

        def write(self, text: str) -> int:
            buffer.write(text)
            return len(text)

        def flush(self) -> None:
            pass

    patch.setattr(sys, "stdout", Tee(sys.stdout))
    patch.setattr(sys, "stderr", Tee(sys.stderr))
    return buffer


def test_input_really_holds_personal_data(full_run) -> None:
    """The scan can fail: the input has ID numbers, names and phones to find."""
    assert len(full_run["ids"]) > 100 and len(full_run["names"]) > 100
    sample = next(iter(full_run["ids"]))
    assert leaks(f"x {sample} y", ids=full_run["ids"], names=[], phones=[])
    assert leaks("tel 13812345678", ids=set(), names=[], phones=[])


def test_no_output_holds_personal_data(full_run) -> None:
    work: Path = full_run["work"]
    files = [p for p in sorted(work.rglob("*")) if p.is_file()]
    kinds = {p.suffix.lower() for p in files}
    assert {".parquet", ".xlsx", ".html", ".json", ".db"} <= kinds, kinds
    assert any("mlartifacts" in p.parts for p in files)
    found = []
    scanned = 0
    for path in files:
        for where, text in texts(path):
            scanned += 1
            found += [f"{where}: {leak}" for leak in leaks(text, ids=full_run["ids"],
                      names=full_run["names"], phones=full_run["phones"])]  # fmt: skip
    found += [f"printed/logged: {leak}" for leak in leaks(full_run["printed"], ids=full_run["ids"],
              names=full_run["names"], phones=full_run["phones"])]  # fmt: skip
    assert scanned >= len(files)
    print(f"scanned {len(files)} files ({scanned} parts): {sorted(kinds)}")  # shown with -s
    assert not found, "\n".join(found[:30])


EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//|@import""",
    re.IGNORECASE,
)


def test_report_loads_nothing_from_elsewhere(full_run) -> None:
    reports = list(full_run["work"].rglob("report.html"))
    assert reports
    for report in reports:
        html = report.read_text(encoding="utf-8")
        assert "<html" in html.lower()
        assert not EXTERNAL.findall(html), EXTERNAL.findall(html)[:5]
        assert not re.search(r"<link[^>]+rel=[\"']?stylesheet", html, re.IGNORECASE)
