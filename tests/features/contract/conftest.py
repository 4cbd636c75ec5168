"""Fixtures: fresh valid frames and a writer of tiny data directories (see contract_frames.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pytest
from contract_frames import base_frames, write_directory


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Fresh valid literal frames, free to modify."""
    return base_frames()


@pytest.fixture
def make_dir(tmp_path: Path) -> Callable[..., Path]:
    """`make_dir(frames, fmt=..., encoding=..., chinese=..., name=...)` → a written directory."""

    def make(frames: Mapping[str, pd.DataFrame], *, name: str = "data", **options: object) -> Path:
        return write_directory(tmp_path / name, frames, **options)  # type: ignore[arg-type]

    return make
