"""One stage sequence for both engines: the stages run in order, and partitions change nothing.

A run split into county partitions *in this process* must write the files of the one-partition run:
that is what lets the Dask engine run the same stages on its workers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scoring_county import SCORING_MONTH

from features.contract.tables import Tables
from risk.config import FanpinConfig
from risk.engine_dask import county_partitions, partition_all
from risk.pipeline import STAGES, LocalExecutor, StageClock, run_month
from risk.run_context import OUTPUT_FILES, VOLUME_MONTHS
from risk.stages.feeds import check_feeds, combine_tallies, feed_tally, feed_warnings

MONTH = pd.Period(SCORING_MONTH, "M")


class CountyExecutor(LocalExecutor):
    """The local executor with the Dask engine's county partitions, run in this process."""

    def partitions(self, tables: Tables) -> list[Tables]:
        groups = county_partitions(tables.households, n_partitions=2)
        assert len(groups) == 2
        return partition_all(tables, groups)


def _manifest(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest.pop("timings")
    return manifest


def _cells(path: Path) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(path)
    return {sheet.title: [[c.value for c in row] for row in sheet.iter_rows()] for sheet in book}


@pytest.fixture(scope="module")
def county_run(scoring_tables, scoring_model, scoring_county_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("counties") / SCORING_MONTH
    return run_month(
        scoring_tables,
        month=SCORING_MONTH,
        model=scoring_model,
        config=FanpinConfig(),
        out_dir=out,
        executor=CountyExecutor(),
        data_dir=scoring_county_dir,
        progress=False,
    )


def test_stages_run_in_the_declared_order(scored_run) -> None:
    assert list(scored_run.timings) == [stage.name for stage in STAGES]
    manifest = json.loads((scored_run.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["timings"]) == [stage.name for stage in STAGES]


def test_a_stage_out_of_order_is_refused() -> None:
    with StageClock(show=False) as clock:
        with clock.stage("feeds"):
            pass
        with pytest.raises(RuntimeError, match="out of order.*'features'"), clock.stage("predict"):
            pass


def test_county_partitions_write_the_same_files(county_run, scored_run) -> None:
    for name in ("scores.parquet", "explanations.parquet"):
        assert (county_run.out_dir / name).read_bytes() == (scored_run.out_dir / name).read_bytes()
    local, split = _manifest(scored_run.out_dir), _manifest(county_run.out_dir)
    assert split.pop("data_dir") == local.pop("data_dir")
    assert split == local
    workbook = "warnings.xlsx"
    assert _cells(county_run.out_dir / workbook) == _cells(scored_run.out_dir / workbook)
    assert county_run.counts == scored_run.counts and county_run.run_id == scored_run.run_id
    assert sorted(p.name for p in county_run.out_dir.iterdir()) == sorted(OUTPUT_FILES)


def test_feed_tallies_of_counties_add_up_to_the_whole(scoring_tables) -> None:
    groups = county_partitions(scoring_tables.households, n_partitions=2)
    parts = [feed_tally(t, month=MONTH) for t in partition_all(scoring_tables, groups)]
    whole = feed_tally(scoring_tables, month=MONTH)
    combined = combine_tallies(parts)
    pd.testing.assert_frame_equal(combined.volumes, whole.volumes)
    assert combined.latest == whole.latest
    assert list(whole.volumes.columns) == [str(MONTH - k) for k in range(VOLUME_MONTHS - 1, -1, -1)]
    assert feed_warnings(combined, month=MONTH) == check_feeds(scoring_tables, month=MONTH)


def test_a_feed_missing_everywhere_stays_missing_when_combined(scoring_tables) -> None:
    tables = scoring_tables.replace(disability=None)
    groups = county_partitions(tables.households, n_partitions=2)
    combined = combine_tallies([feed_tally(t, month=MONTH) for t in partition_all(tables, groups)])
    assert np.isnan(combined.volumes.loc["disability"].to_numpy()).all()
    assert combined.latest["disability"] is None
    kinds = [(w.table, w.kind) for w in feed_warnings(combined, month=MONTH)]
    assert kinds == [("disability", "missing_table")]
