"""Fixtures of the review tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from review_runs import write_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run of 40 households, the top 12 warned, H030 and H035 in the audit sample."""
    return write_run(tmp_path / "run", audit=["H030", "H035"])
