"""docs/features.md is generated from the catalogue and must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_features_doc_is_up_to_date() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "features.catalogue"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    ).stdout
    committed = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert generated == committed, "run: python -m features.catalogue > docs/features.md"
