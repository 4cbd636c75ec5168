"""What a scoring run's stages, writers and report share: output names, feed tables, `RunContext`.

Nothing here computes: the stage modules (`risk.stages`) fill these types in, the pipeline
(`risk.pipeline`) passes them on, and the writers (`risk.stages.outputs`, `risk.report`,
`risk.excel`) read them. Keeping them in one module lets the report import them without importing
the scoring modules that call the report.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from risk.manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from risk.config import FanpinConfig
    from risk.explain import ReasonSpec

SCORES_FILE = "scores.parquet"
EXPLANATIONS_FILE = "explanations.parquet"
WARNINGS_FILE = "warnings.xlsx"
REPORT_FILE = "report.html"
LIFECYCLE_FILE = "lifecycle.parquet"
OUTPUT_FILES = (
    SCORES_FILE,
    EXPLANATIONS_FILE,
    LIFECYCLE_FILE,
    WARNINGS_FILE,
    REPORT_FILE,
    MANIFEST_NAME,
)

#: Columns of ``scores.parquet`` (INTERFACE.md).
SCORE_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county",
    "township",
    "village",
    "month",
    "probability",
    "rank",
    "tier",
    "warned",
    "rule_triggers",
    "model_version",
    "run_id",
)
TIERS: tuple[str, str, str] = ("高", "中", "低")
AUDIT_MARK = "随机抽查（模型未预警，用于核查名单准确率）"

#: Department feeds checked every month, and the date column that places a record in a month.
FEED_DATES: Mapping[str, tuple[str, ...]] = {
    "income": ("month",),
    "medical": ("settle_date",),
    "employment": ("start_month", "end_month"),
    "assistance": ("month",),
    "disability": ("certified_date",),
    "events": ("date",),
}
TABLE_LABELS_ZH: Mapping[str, str] = {
    "households": "户信息",
    "members": "家庭成员",
    "income": "收入",
    "medical": "医保结算",
    "disability": "残疾人证",
    "employment": "务工",
    "assistance": "帮扶救助",
    "events": "突发事件",
    "outcomes": "监测对象",
}
#: Months of feed volumes a run keeps, the scoring month last (the report's completeness table).
VOLUME_MONTHS = 13


class LoadedModelLike(Protocol):
    """What scoring needs from ``training.registry.load_model(...)``."""

    @property
    def model(self) -> Any: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def uri(self) -> str: ...


@dataclass(frozen=True)
class FeedWarning:
    """A department feed that is absent, silent for the month, or sharply down.

    Attributes
    ----------
    table
        Contract table name (``medical``, ...).
    kind
        ``missing_table``, ``no_records`` (none for the scoring month), ``volume_drop``, or
        ``stale`` (the feed's last record is months before the scoring month).
    count, baseline
        Records in the scoring month, and the median over the preceding months.
    """

    table: str
    kind: str
    month: str
    count: int
    baseline: float
    message: str


@dataclass(frozen=True)
class RunContext:
    """Everything the writers need, gathered once on the client; no department records.

    Attributes
    ----------
    feature_bins
        The manifest's profile of every numeric feature (``edges``, ``shares``), computed where the
        households are (`risk.stages.profile`).
    drift_shares
        This run's shares per bin of the previous run's edges, by feature (the manifest's drift).
    scores
        The ``scores.parquet`` frame, by rank.
    explanations
        Contributions and reasons of the listed households (warned and audit sample).
    listed_info
        ``head`` (masked) and ``household_type`` of the listed households, by ``household_id``.
    volumes
        Records per feed (rows, `FEED_DATES` order) and month (the last `VOLUME_MONTHS`, as
        ``YYYY-MM``); a row of NaN is a feed that was not sent.
    counts
        Households in the data, monitored, scored, warned, ... (the manifest's ``counts``).
    lifecycle
        Monitored and recently exited households with their status
        (`risk.stages.lifecycle.assemble_lifecycle`); None: the run has no lifecycle stage.
    """

    run_id: str
    month: pd.Period
    model: LoadedModelLike
    config: FanpinConfig
    feature_bins: Mapping[str, Mapping[str, Any]]
    drift_shares: Mapping[str, list[float]]
    scores: pd.DataFrame
    explanations: pd.DataFrame
    listed_info: pd.DataFrame
    volumes: pd.DataFrame
    feed_warnings: tuple[FeedWarning, ...]
    load_warnings: tuple[str, ...]
    inputs: dict[str, str]
    data_dir: Path | None
    previous_dir: Path | None
    audit: dict[str, Any]
    catalogue: Mapping[str, ReasonSpec]
    counts: dict[str, int]
    lifecycle: pd.DataFrame | None = None


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run produced (and where).

    ``explanations`` is read from the run's ``explanations.parquet`` when first asked for: a
    province's rows are written by its partitions and never held by the client.
    """

    run_id: str
    month: str
    out_dir: Path
    scores: pd.DataFrame
    feed_warnings: tuple[FeedWarning, ...]
    counts: dict[str, int]
    timings: dict[str, float]
    manifest: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)

    @functools.cached_property
    def explanations(self) -> pd.DataFrame:
        """Every explanation row of the run (`risk.explain.EXPLANATION_COLUMNS`), by rank."""
        return pd.read_parquet(self.out_dir / EXPLANATIONS_FILE)
