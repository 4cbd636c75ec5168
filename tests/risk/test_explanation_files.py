"""explanations.parquet merged from the partitions' parts: rank order, same bytes however split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk.explain import EXPLANATION_COLUMNS
from risk.stages.explanation_files import (
    client_rows,
    merge_parts,
    part_path,
    rank_windows,
    rows_per_rank,
    write_part,
)


def _explanations(ranks: list[int], *, rows: int = 5, seed: int = 0) -> pd.DataFrame:
    """Explanation rows of households with these ranks: `rows` each, the first two main reasons."""
    frames = []
    for rank in ranks:
        generator = np.random.default_rng(seed + rank)  # a household's rows depend on it alone
        frame = pd.DataFrame(
            {
                "household_id": f"H{rank:06d}",
                "rank": rank,
                "feature": [f"f{i}" for i in range(rows)],
                "value": generator.normal(size=rows),
                "contribution": np.sort(generator.normal(size=rows))[::-1],
                "base_value": -2.0,
                "cause_contribution": generator.normal(size=rows),
                "reason_order": pd.array([1, 2] + [None] * (rows - 2), dtype="Int64"),
                "is_new": [True] + [False] * (rows - 1),
            }
        )
        for column in EXPLANATION_COLUMNS:
            if column not in frame.columns:
                frame[column] = f"{column}-{rank}"
        frames.append(frame.loc[:, list(EXPLANATION_COLUMNS)])
    return pd.concat(frames, ignore_index=True)


def _merged(tmp_path: Path, groups: list[list[int]], name: str) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path / name
    folder.mkdir()
    parts, counts = [], {}
    for number, ranks in enumerate(groups):
        frame = _explanations(ranks)
        counts.update(rows_per_rank(frame))
        parts.append(write_part(frame, part_path(folder, f"c{number}")))
    out = folder / "explanations.parquet"
    merge_parts(parts, out, rows_by_rank=counts, row_group_rows=64)
    return out, pd.read_parquet(out)


def test_merge_writes_every_row_in_rank_order_with_a_households_rows_in_order(tmp_path) -> None:
    generator = np.random.default_rng(1)
    ranks = generator.permutation(np.arange(1, 301)).tolist()
    _, merged = _merged(tmp_path, [sorted(ranks[:120]), sorted(ranks[120:150]), ranks[150:]], "a")
    assert len(merged) == 300 * 5
    assert merged["rank"].is_monotonic_increasing
    first = merged.loc[merged["rank"] == 7]
    assert first["feature"].tolist() == [f"f{i}" for i in range(5)], "rows of a household kept"
    assert str(merged["reason_order"].dtype) == "Int64" and merged["is_new"].dtype == bool


def test_the_file_is_the_same_bytes_however_the_households_are_split(tmp_path) -> None:
    ranks = list(range(1, 201))
    one, _ = _merged(tmp_path, [ranks], "one")
    generator = np.random.default_rng(2)
    shuffled = generator.permutation(ranks).tolist()
    three, _ = _merged(tmp_path, [shuffled[:50], shuffled[50:60], shuffled[60:]], "three")
    assert one.read_bytes() == three.read_bytes()


def test_a_rewritten_part_replaces_the_old_one(tmp_path) -> None:
    path = part_path(tmp_path, "county")
    write_part(_explanations([1, 2]), path)
    write_part(_explanations([3]), path)
    assert pd.read_parquet(path)["rank"].unique().tolist() == [3]
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no staging file left"


def test_a_part_is_not_written_once_its_folder_is_gone(tmp_path) -> None:
    with pytest.raises(OSError):
        write_part(_explanations([1]), part_path(tmp_path / "removed", "county"))
    assert not (tmp_path / "removed").exists()


def test_the_client_keeps_main_reasons_the_shown_households_and_one_row_of_each() -> None:
    frame = _explanations([1, 2, 3])
    kept = client_rows(frame, full=["H000002"])
    assert kept["household_id"].nunique() == 3
    assert (kept.loc[kept["household_id"] != "H000002", "reason_order"].notna()).all()
    assert len(kept.loc[kept["household_id"] == "H000002"]) == 5


def test_windows_never_split_a_household() -> None:
    assert rank_windows({1: 3, 2: 3, 5: 3, 9: 1}, window=6) == [(1, 2), (5, 9)]
    assert rank_windows({4: 100}, window=6) == [(4, 4)]
    assert rank_windows({}, window=6) == []
