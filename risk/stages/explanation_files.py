"""``explanations.parquet`` from parts: each partition writes its rows, the client merges them by rank.

A province's explanations are ≈ 86 rows per listed household (every non-zero contribution), millions
of rows; no single process should hold them. Each piece (a county, or the tables given) writes its own
rows, sorted by rank, as one part file in the run's temporary output folder (`write_part`, on the
worker that explained them; written beside its final name and renamed, under a name that depends only
on the piece, so a task rerun after a lost worker replaces it). The client then writes the run's
``explanations.parquet`` as a streaming merge of the parts in rank order (`merge_parts`): it reads
the parts' row groups that overlap a window of ranks, keeps one row group per part in memory, and
writes with one `pyarrow.parquet.ParquetWriter` in row groups of exactly `ROW_GROUP_ROWS` rows, so the
bytes depend only on the rows — never on the parts, their number or the engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from risk.explain import EXPLANATION_COLUMNS

#: Folder of the part files inside the run's temporary output folder (removed before the swap).
PARTS_FOLDER = ".explanation-parts"
#: Rows per row group of a part file (the merge holds one row group per part at a time).
PART_ROW_GROUP_ROWS = 1_024
#: Rows per row group of ``explanations.parquet`` (fixed: the file's bytes depend only on its rows).
ROW_GROUP_ROWS = 32_768
#: Explanation rows the merge gathers before sorting and writing them (a window of ranks).
MERGE_WINDOW_ROWS = 32_768

_INT_COLUMNS = {"rank": "int64", "reason_order": "Int64"}
_FLOAT_COLUMNS = ("value", "contribution", "base_value", "cause_contribution")
_BOOL_COLUMNS = ("is_new",)


def explanation_schema() -> pa.Schema:
    """The arrow schema of every explanation file: `EXPLANATION_COLUMNS`, fixed types and metadata.

    Built from an empty frame of the columns' pandas dtypes, so reading a file back gives the same
    dtypes (``reason_order`` nullable ``Int64``, text as ``str``) whatever the rows of a part were.
    """
    empty = pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in EXPLANATION_COLUMNS})
    schema = pa.Schema.from_pandas(empty, preserve_index=False)
    fields = [
        pa.field(f.name, pa.large_string()) if pa.types.is_string(f.type) else f for f in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def _dtype(name: str) -> str:
    if name in _INT_COLUMNS:
        return _INT_COLUMNS[name]
    if name in _FLOAT_COLUMNS:
        return "float64"
    if name in _BOOL_COLUMNS:
        return "bool"
    return "str"


def as_table(frame: pd.DataFrame, schema: pa.Schema | None = None) -> pa.Table:
    """Explanation rows as an arrow table of `explanation_schema` (any part's dtypes)."""
    schema = schema or explanation_schema()
    table = pa.Table.from_pandas(frame.loc[:, list(EXPLANATION_COLUMNS)], preserve_index=False)
    bare = pa.schema([pa.field(f.name, f.type) for f in schema])
    return table.replace_schema_metadata(None).cast(bare).replace_schema_metadata(schema.metadata)


def part_path(folder: Path, key: str) -> Path:
    """The part file of the piece `key` (a county's name, or the position of tables given)."""
    return folder / f"explanations-{key}.parquet"


def write_part(frame: pd.DataFrame, path: Path) -> Path:
    """Write a piece's explanation rows, sorted by rank, to `path` in one rename.

    The folder must exist (the client makes it): a task still running after its run failed and
    removed the folder fails instead of recreating it.
    """
    ordered = frame.sort_values("rank", kind="mergesort")
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(
            as_table(ordered),
            staging,
            compression="zstd",
            write_statistics=True,
            row_group_size=PART_ROW_GROUP_ROWS,
        )
        os.replace(staging, path)
    finally:
        if staging.exists():
            staging.unlink()
    return path


def read_part(path: Path) -> pd.DataFrame:
    """A part file as a frame (a county's own rows, for its report)."""
    return pq.read_table(path).to_pandas()


@dataclass
class _PartCursor:
    """One part file read row group by row group, in rank order."""

    file: pq.ParquetFile
    bounds: list[tuple[int, int]]
    loaded: int = -1
    table: pa.Table | None = None

    @classmethod
    def open(cls, path: Path) -> _PartCursor:
        file = pq.ParquetFile(path)
        column = file.schema_arrow.get_field_index("rank")
        bounds = []
        for group in range(file.metadata.num_row_groups):
            stats = file.metadata.row_group(group).column(column).statistics
            bounds.append((int(stats.min), int(stats.max)))
        return cls(file, bounds)

    def rows(self, low: int, high: int) -> Iterator[pa.Table]:
        """Its rows of ranks in ``[low, high]``, reading each row group once."""
        for group, (first, last) in enumerate(self.bounds):
            if last < low or first > high:
                continue
            if group != self.loaded:
                self.table = self.file.read_row_group(group)
                self.loaded = group
            assert self.table is not None
            rank = self.table.column("rank")
            keep = pc.and_(pc.greater_equal(rank, low), pc.less_equal(rank, high))
            yield self.table.filter(keep)


def rank_windows(
    rows_by_rank: Mapping[int, int], *, window: int = MERGE_WINDOW_ROWS
) -> list[tuple[int, int]]:
    """Consecutive rank ranges holding about `window` rows each (a household is never split).

    Examples
    --------
    >>> rank_windows({1: 3, 2: 3, 5: 3, 9: 1}, window=6)
    [(1, 2), (5, 9)]
    """
    windows: list[tuple[int, int]] = []
    start, held = None, 0
    for rank in sorted(rows_by_rank):
        if start is None:
            start = rank
        held += int(rows_by_rank[rank])
        if held >= window:
            windows.append((start, rank))
            start, held = None, 0
    if start is not None:
        windows.append((start, max(rows_by_rank)))
    return windows


def merge_parts(
    paths: Sequence[Path],
    out: Path,
    *,
    rows_by_rank: Mapping[int, int],
    row_group_rows: int = ROW_GROUP_ROWS,
) -> int:
    """Write ``explanations.parquet`` as the parts' rows in rank order; returns the rows written.

    Parameters
    ----------
    paths
        Part files (`write_part`), each sorted by rank; a household's rows are all in one part.
    out
        The file to write.
    rows_by_rank
        Rank → explanation rows of that household, over all parts (to cut the windows).
    row_group_rows
        Rows per row group of `out`.
    """
    schema = explanation_schema()
    cursors = [_PartCursor.open(path) for path in sorted(paths)]
    written = 0
    pending: list[pa.Table] = []
    held = 0
    with pq.ParquetWriter(out, schema, compression="zstd", write_statistics=True) as writer:
        for low, high in rank_windows(rows_by_rank):
            pieces = [t for cursor in cursors for t in cursor.rows(low, high) if t.num_rows]
            if not pieces:
                continue
            window = pa.concat_tables(pieces)
            # stable: a household's rows keep their order (they all come from one part)
            pending.append(window.take(pc.sort_indices(window, sort_keys=[("rank", "ascending")])))
            held += window.num_rows
            while held >= row_group_rows:
                chunk, pending, held = _take(pending, row_group_rows)
                writer.write_table(chunk, row_group_size=row_group_rows)
                written += chunk.num_rows
        if held:
            chunk = pa.concat_tables(pending)
            writer.write_table(chunk, row_group_size=row_group_rows)
            written += chunk.num_rows
    pa.default_memory_pool().release_unused()  # the windows' buffers back to the system
    return written


def _take(pending: list[pa.Table], rows: int) -> tuple[pa.Table, list[pa.Table], int]:
    """The first `rows` rows of the pending tables, the rest, and how many rows are left."""
    table = pa.concat_tables(pending)
    rest = table.slice(rows)
    return table.slice(0, rows).combine_chunks(), [rest], rest.num_rows


def rows_per_rank(frame: pd.DataFrame) -> dict[int, int]:
    """Explanation rows per household, by its rank (what the merge needs to cut its windows)."""
    counts = frame["rank"].value_counts(sort=False)
    return {int(k): int(v) for k, v in zip(counts.index, counts.to_numpy(), strict=True)}


def client_rows(frame: pd.DataFrame, *, full: Sequence[str] = ()) -> pd.DataFrame:
    """The rows of a piece the client keeps: main reasons, every row of `full`, one row of the rest.

    The workbook and the review show the main reasons; the report counts the causes over them, the
    explained households (hence one row for a household without a main reason) and draws the
    waterfalls of the first listed households (`full`, all their rows).
    """
    if frame.empty:
        return frame
    reasons = frame["reason_order"].notna().to_numpy()
    first = ~frame["household_id"].duplicated().to_numpy()
    shown = frame["household_id"].isin(list(full)).to_numpy() if len(full) else False
    keep = reasons | first | shown
    return frame.loc[np.asarray(keep, dtype=bool)]
