"""A province: a folder of county folders, each one a contract data directory.

``DIR/<county>/`` holds one county's department files exactly as DATA_CONTRACT.md describes them;
``DIR/risk.toml`` (optional) is the province's settings. Folders whose names start with ``_`` or
``.`` (``_truth/``, ``_cases/``, hidden folders) are not counties. A directory that holds contract
table files itself is a county directory, never a province, so the two layouts cannot be confused.

`county_folders` is the one place that decides what a province's counties are: scoring, validation
and training all take their county list from it, in the same (name) order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from features.contract.errors import DataContractError
from features.contract.io import EXTENSIONS
from features.contract.schema import table_for_stem


@dataclass(frozen=True)
class CountyFolder:
    """One county of a province: its folder name (the key of its outputs) and its path."""

    name: str
    path: Path


def holds_tables(path: Path) -> bool:
    """Whether `path` itself holds at least one contract table file (it is a county directory)."""
    return any(
        entry.is_file()
        and entry.suffix.lower() in EXTENSIONS
        and table_for_stem(entry.stem) is not None
        for entry in path.iterdir()
        if not entry.name.startswith((".", "~$"))
    )


def county_bytes(county: CountyFolder) -> int:
    """Bytes of a county's table files: its size for packing counties, no record read."""
    return sum(
        entry.stat().st_size
        for entry in county.path.iterdir()
        if entry.is_file()
        and entry.suffix.lower() in EXTENSIONS
        and table_for_stem(entry.stem) is not None
    )


def county_folders(path: str | Path) -> list[CountyFolder] | None:
    """The counties of the province at `path`, by folder name; None when `path` is one county.

    Raises
    ------
    DataContractError
        When `path` is not a directory, or holds neither table files nor county folders.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("石泉县", "清河县", "_truth"):
    ...     (root / name).mkdir()
    ...     _ = (root / name / "households.csv").write_text("household_id\\n", encoding="utf-8")
    >>> [c.name for c in county_folders(root)]
    ['清河县', '石泉县']
    >>> county_folders(root / "清河县") is None
    True
    """
    root = Path(path)
    if not root.is_dir():
        raise DataContractError(f"数据目录不存在 no such directory: {root}")
    if holds_tables(root):
        return None
    counties = [
        CountyFolder(entry.name, entry)
        for entry in sorted(root.iterdir(), key=lambda e: e.name)
        if entry.is_dir() and not entry.name.startswith(("_", ".")) and holds_tables(entry)
    ]
    if not counties:
        raise DataContractError(
            f"{root}: 既无数据表文件也无县级子目录 holds no contract table files (households.csv, "
            "户信息.xlsx, …) and no county folders (DIR/<county>/households.csv); see DATA_CONTRACT.md"
        )
    return counties


def is_province(path: str | Path) -> bool:
    """Whether `path` is a province (a folder of county folders) rather than one county."""
    return county_folders(path) is not None
