"""Reading a scoring run folder (`risk score --out DIR`) for review.

A run folder holds `scores.parquet`, `explanations.parquet`, `warnings.xlsx`, `report.html` and
`manifest.json` (INTERFACE.md). Review needs the run's id and month, which households belong to it,
which of them are on the list (warned, or drawn into the audit sample), and the reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract.errors import DataContractError

WARNINGS_FILE = "warnings.xlsx"
WARNINGS_SHEET = "预警名单"


@dataclass(frozen=True)
class ReviewRun:
    """One scoring run, as review sees it.

    Attributes
    ----------
    scores
        `scores.parquet`, with `household_id` as `str` and `month` as ``YYYY-MM`` text.
    explanations
        `explanations.parquet` (empty frame when the run has none).
    audit_ids
        Households drawn into the run's audit sample (``manifest["audit"]["household_ids"]``).
    """

    path: Path
    run_id: str
    month: str
    scores: pd.DataFrame
    explanations: pd.DataFrame
    manifest: dict[str, Any]
    audit_ids: frozenset[str]

    @property
    def warnings_path(self) -> Path:
        """The run's own review list."""
        return self.path / WARNINGS_FILE

    def household_ids(self) -> frozenset[str]:
        """Every household scored in the run."""
        return frozenset(self.scores["household_id"])

    def review_list(self) -> pd.DataFrame:
        """Warned households plus the audit sample, by rank, with a boolean `audit` column."""
        audit = self.scores["household_id"].isin(self.audit_ids)
        listed = self.scores[self.scores["warned"].astype(bool) | audit].copy()
        listed["audit"] = listed["household_id"].isin(self.audit_ids)
        return listed.sort_values("rank", kind="stable").reset_index(drop=True)

    def data_dir(self) -> Path | None:
        """The data folder the run was scored from, when the manifest records it and it exists."""
        for key in ("data_dir", "data"):
            value = self.manifest.get(key)
            if isinstance(value, str) and value:
                candidate = Path(value)
                if not candidate.is_absolute():
                    candidate = (self.path / candidate).resolve()
                if candidate.is_dir():
                    return candidate
        return None


def load_run(path: str | Path) -> ReviewRun:
    """Read a run folder; raise `DataContractError` naming the missing or broken file."""
    folder = Path(path)
    scores_path = folder / "scores.parquet"
    if not scores_path.is_file():
        raise DataContractError(
            f"{scores_path}: not found; --run must be a folder written by `risk score --out DIR` "
            "(运行目录中没有 scores.parquet)"
        )
    scores = pd.read_parquet(scores_path)
    missing = {"household_id", "rank", "warned", "probability"} - set(scores.columns)
    if missing:
        raise DataContractError(f"{scores_path}: missing column(s) {sorted(missing)}")
    scores["household_id"] = scores["household_id"].astype(str)
    manifest = _manifest(folder / "manifest.json")
    run_id = str(manifest.get("run_id") or _single(scores, "run_id", scores_path))
    month = _month_text(manifest.get("month") or _single(scores, "month", scores_path))
    scores["month"] = month
    explanations_path = folder / "explanations.parquet"
    explanations = (
        pd.read_parquet(explanations_path) if explanations_path.is_file() else pd.DataFrame()
    )
    if not explanations.empty:
        explanations["household_id"] = explanations["household_id"].astype(str)
    audit = manifest.get("audit") or {}
    audit_ids = frozenset(str(h) for h in audit.get("household_ids", []))
    return ReviewRun(folder, run_id, month, scores, explanations, manifest, audit_ids)


def _manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataContractError(f"{path}: not valid JSON ({error})") from error
    return loaded if isinstance(loaded, dict) else {}


def _single(scores: pd.DataFrame, column: str, path: Path) -> Any:
    values = scores[column].dropna().unique() if column in scores.columns else []
    if len(values) != 1:
        raise DataContractError(
            f"{path}: expected one {column} in the run, found {len(values)}; "
            "and manifest.json does not name it"
        )
    return values[0]


def _month_text(value: Any) -> str:
    """``YYYY-MM`` from a Period, Timestamp or text such as 2026-10 / 202610."""
    text = str(value).strip()
    if len(text) == 6 and text.isdigit():
        text = f"{text[:4]}-{text[4:]}"
    return str(pd.Period(text, freq="M"))
