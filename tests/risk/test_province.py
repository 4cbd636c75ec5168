"""A province (DIR/<county>/ folders) scored where its counties live: same files on both engines.

The province is `risk simulate --layout province`'s (3 counties, 600 households, 14 months). The local
engine reads and scores each county as its own partition; the Dask engine (a 2-worker LocalCluster)
reads county groups on the workers. Both write the province's files and each county's own list and
report, byte for byte the same; a bad county stops the run naming it, and nothing is written.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from scoring_county import KEY

from features.contract.errors import DataContractError
from risk.config import FanpinConfig
from risk.pipeline import Province, province_of
from risk.run_context import REPORT_FILE, SCORES_FILE, WARNINGS_FILE
from risk.score import score_month
from simulation.province import write_province

distributed = pytest.importorskip("distributed")

MONTH = "2026-10"
PROVINCE = {"households": 600, "counties": 3, "months": 14, "seed": 7, "truth": False}


@pytest.fixture(scope="module")
def province_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("province") / "省"
    write_province(folder, end=MONTH, fmt="csv", **PROVINCE)  # type: ignore[arg-type]
    return folder


@pytest.fixture(scope="module")
def province(province_dir: Path) -> Province:
    found = province_of(province_dir, pseudonym_key=KEY)
    assert found is not None
    return found


def _score(province, model, out: Path, **engine):
    runner: Any
    if engine:
        from risk.engine_dask import score_month_dask  # noqa: PLC0415

        runner = score_month_dask
    else:
        runner = score_month
    return runner(
        province,
        month=MONTH,
        model=model,
        config=FanpinConfig(),
        out_dir=out,
        data_dir=province.path,
        progress=False,
        **engine,
    )


@pytest.fixture(scope="module")
def local_run(province, scoring_model, tmp_path_factory):
    return _score(province, scoring_model, tmp_path_factory.mktemp("local") / MONTH)


@pytest.fixture(scope="module")
def dask_run(province, scoring_model, client, tmp_path_factory):
    return _score(province, scoring_model, tmp_path_factory.mktemp("dask") / MONTH, client=client)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a run folder by relative path; the manifest without its timings."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path.name == "manifest.json":
            manifest = json.loads(content)
            manifest.pop("timings")
            content = json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode()
        found[str(path.relative_to(folder))] = content
    return found


def _list_rows(path: Path) -> list[list[object]]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_local_and_dask_write_the_same_files(local_run, dask_run) -> None:
    local, dask = _files(local_run.out_dir), _files(dask_run.out_dir)
    assert sorted(dask) == sorted(local)
    different = [name for name in local if local[name] != dask[name]]
    assert different == []
    assert dask_run.run_id == local_run.run_id and dask_run.counts == local_run.counts


def test_every_county_gets_its_own_list_and_report(local_run, province) -> None:
    out = local_run.out_dir
    names = [c.name for c in province.counties]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(names)
    scores = pd.read_parquet(out / SCORES_FILE)
    province_rows = _list_rows(out / WARNINGS_FILE)
    header, listed = province_rows[0], province_rows[1:]
    county_rows = []
    for name in names:
        assert (out / name / REPORT_FILE).stat().st_size > 0
        rows = _list_rows(out / name / WARNINGS_FILE)
        assert rows[0] == header, "same columns as the province's list"
        county_rows += rows[1:]
    id_column = next(i for i, h in enumerate(header) if "户编号" in str(h) or "household" in str(h))
    assert sorted(str(r[id_column]) for r in county_rows) == sorted(
        str(r[id_column]) for r in listed
    )
    assert len(scores) == local_run.counts["scored"]
    inputs = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    assert {key.split("/")[0] for key in inputs} == set(names)


def test_a_bad_county_stops_the_run_naming_it_and_writes_nothing(
    province_dir, scoring_model, client, tmp_path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(province_dir, broken)
    victim = sorted(p for p in broken.iterdir() if p.is_dir())[1]
    medical = pd.read_csv(victim / "medical.csv", dtype=str, keep_default_na=False)
    medical.loc[2, "visit_type"] = "急诊"
    medical.to_csv(victim / "medical.csv", index=False)
    out = tmp_path / "runs" / MONTH
    province = province_of(broken, pseudonym_key=KEY)
    with pytest.raises(DataContractError) as raised:
        _score(province, scoring_model, out, client=client)
    message = str(raised.value)
    assert victim.name in message and "medical" in message and "visit_type" in message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_worker_killed_mid_run_gives_the_clean_run_or_nothing(
    province, scoring_model, client, dask_run, tmp_path
) -> None:
    """One worker process is killed once the features are built on the workers.

    The nanny restarts it and it imports fanpin afresh: if the source changes on disk while the
    test runs, the recomputed counties use the new code and the files may differ (a cluster's
    workers must all run one fanpin version).
    """
    from risk.engine_dask import ClusterError

    pids = list(client.run(os.getpid).values())

    def kill_one(stage: str) -> None:
        if stage == "features":
            os.kill(pids[0], signal.SIGKILL)

    out = tmp_path / "killed" / MONTH
    try:
        result = _score(province, scoring_model, out, client=client, on_stage=kill_one)
    except ClusterError as error:
        print("worker killed: the run failed cleanly:", error)
        assert "no outputs were written" in str(error)
        assert not out.exists()
        return
    print("worker killed: the run completed; timings", result.timings)
    assert result.run_id == dask_run.run_id
    assert _files(out) == _files(dask_run.out_dir)


def test_validate_checks_every_county_of_a_province(province_dir, tmp_path, monkeypatch, capsys):
    from risk.cli import main  # noqa: PLC0415

    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "province-test-key")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["validate", "--data", str(province_dir)])
    out = capsys.readouterr().out
    assert int(done.value.code or 0) == 0, out
    assert out.count("== 县 county") == PROVINCE["counties"]
    assert "3/3 个县可用 counties usable" in out

    broken = tmp_path / "broken"
    shutil.copytree(province_dir, broken)
    victim = sorted(p for p in broken.iterdir() if p.is_dir())[0]
    medical = pd.read_csv(victim / "medical.csv", dtype=str, keep_default_na=False)
    medical.loc[2, "visit_type"] = "急诊"
    medical.to_csv(victim / "medical.csv", index=False)
    with pytest.raises(SystemExit) as done:
        main(["validate", "--data", str(broken)])
    captured = capsys.readouterr()
    assert int(done.value.code or 0) == 2
    assert f"县 county {victim.name}" in captured.err and "visit_type" in captured.err
    assert "2/3 个县可用" in captured.out


def test_validate_on_the_cluster_sends_back_each_countys_report(province, client) -> None:
    from risk.cli.data import validate_on_cluster  # noqa: PLC0415

    reports = validate_on_cluster(
        province.counties, pseudonym_key=KEY, scheduler=client.scheduler.address
    )
    assert [r.ok for r in reports] == [True] * len(province.counties)
    assert [Path(r.directory).name for r in reports] == [c.name for c in province.counties]
