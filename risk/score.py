"""Monthly scoring, local engine: `score_month` runs `risk.pipeline` in this process.

`score_month` is the job users run every month (``risk score``): feed checks → features and the model
check → prediction → rules, ranks, tiers and the list → explanations → the five outputs, written
together and swapped into place only after success. The stages live in `risk.stages` (one module
each) and their order in `risk.pipeline`, which the Dask engine (`risk.engine_dask`) runs too.

This module also names the scoring API callers use (`check_feeds`, `predict_households`,
`select_warned`, the output file names, ...), so ``from risk.score import ...`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from features.contract.tables import Tables
from risk.config import FanpinConfig
from risk.explain import ReasonSpec
from risk.pipeline import LocalExecutor, Province, run_month
from risk.run_context import (
    EXPLANATIONS_FILE,
    FEED_DATES,
    OUTPUT_FILES,
    REPORT_FILE,
    SCORE_COLUMNS,
    SCORES_FILE,
    TABLE_LABELS_ZH,
    TIERS,
    WARNINGS_FILE,
    FeedWarning,
    LoadedModelLike,
    RunContext,
    ScoreResult,
)
from risk.stages.explain import explain_listed
from risk.stages.features import build_month_features, check_model_features
from risk.stages.feeds import check_feeds, feed_volumes
from risk.stages.outputs import household_info, print_summary, write_outputs
from risk.stages.predict import predict_households
from risk.stages.select import (
    assemble_scores,
    operating_point,
    policy_rule_triggers,
    rank_and_tier,
    select_warned,
)

__all__ = [
    "EXPLANATIONS_FILE",
    "FEED_DATES",
    "OUTPUT_FILES",
    "REPORT_FILE",
    "SCORES_FILE",
    "SCORE_COLUMNS",
    "TABLE_LABELS_ZH",
    "TIERS",
    "WARNINGS_FILE",
    "FeedWarning",
    "LoadedModelLike",
    "RunContext",
    "ScoreResult",
    "assemble_scores",
    "build_month_features",
    "check_feeds",
    "check_model_features",
    "explain_listed",
    "feed_volumes",
    "household_info",
    "operating_point",
    "policy_rule_triggers",
    "predict_households",
    "print_summary",
    "rank_and_tier",
    "score_month",
    "select_warned",
    "write_outputs",
]


def score_month(
    tables: Tables | Province,
    *,
    month: str | pd.Period,
    model: LoadedModelLike,
    config: FanpinConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    previous_dir: str | Path | None = None,
    progress: bool = True,
    load_warnings: Sequence[str] = (),
    catalogue: Mapping[str, ReasonSpec] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> ScoreResult:
    """Score one month and write the outputs atomically into `out_dir`.

    Parameters
    ----------
    tables
        Loaded, validated contract tables (``features.contract.io.load_directory(...).tables``), or
        a `risk.pipeline.Province` (`risk.pipeline.province_of`): its counties are read one by one
        (each its own partition), and each county's list and report are written into
        ``OUT/<county>/`` beside the province's files.
    month
        The scoring month (``YYYY-MM``); at most the directory's export month.
    model
        ``training.registry.load_model(...)``: ``.model`` (a fitted ``RiskModel``), ``.name``,
        ``.version``, ``.uri``.
    config
        Operating point (``warning``), tiers, rules, monitoring lines, audit sample size.
    out_dir
        The run folder. Its previous outputs are replaced only after the new ones are complete.
    data_dir
        The folder the tables were read from: its files' SHA-256 go into the manifest and run id
        (without it, the tables' content hashes are used).
    previous_dir
        An earlier run folder: drift against it, and reasons marked new since it. When None, the
        latest earlier-month run among `out_dir` and its sibling folders is used, if any.
    progress
        Show a progress bar per stage.
    load_warnings
        Warnings from loading (shown in the manifest and report).
    catalogue
        Feature name → catalogue entry (default: ``features.catalogue.CATALOGUE``).
    on_stage
        Called with each stage's name once it is done.

    Returns
    -------
    ScoreResult

    Raises
    ------
    DataContractError
        The month is after the data's export month.
    ModelMismatchError
        The model's features differ from the features built (names the missing and unexpected).
    OutputError
        The outputs could not be written (previous outputs are left as they were).
    """
    return run_month(
        tables,
        month=month,
        model=model,
        config=config,
        out_dir=out_dir,
        executor=LocalExecutor(),
        data_dir=data_dir,
        previous_dir=previous_dir,
        progress=progress,
        load_warnings=load_warnings,
        catalogue=catalogue,
        on_stage=on_stage,
    )
