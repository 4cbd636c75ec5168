"""Features of the month and the model check: one row per household, monitored households marked.

`features_of_part` is the partition step: build every household's point-in-time features
(``features.build.build_features``), refuse a model whose features differ (naming them), and mark the
households already monitored (they are not scored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.sources.monitoring import monitored_at
from risk.ids import isin_ids
from training.model import ModelMismatchError, feature_difference


@dataclass(frozen=True)
class PartFeatures:
    """One partition after the features stage (stays where the partition runs).

    Attributes
    ----------
    tables
        The partition's tables.
    features
        Every household of the partition, indexed by ``household_id``.
    monitored
        Per row of `features`: already monitored in the month (not scored).
    """

    tables: Tables
    features: pd.DataFrame
    monitored: np.ndarray

    @property
    def candidates(self) -> pd.DataFrame:
        """Features of the households to score (not monitored)."""
        return self.features.loc[~self.monitored]


def build_month_features(
    tables: Tables, *, month: pd.Period, lines: MonitoringLines
) -> pd.DataFrame:
    """Point-in-time features of every household for `month`, indexed by ``household_id``."""
    from features.build import build_features  # noqa: PLC0415

    frame = build_features(tables, as_of=month, lines=lines)
    return frame.drop(columns=["month"]).set_index("household_id")


def check_model_features(expected: Sequence[str], available: Sequence[str]) -> None:
    """Refuse a model whose features differ from those built, naming the missing and unexpected.

    Raises
    ------
    ModelMismatchError
        "missing" are features the model needs but the data do not give; "unexpected" are features
        built from the data that the model does not know.
    """
    missing, unexpected = feature_difference(expected, available)
    if missing or unexpected:
        raise ModelMismatchError(
            "模型与特征不匹配 the model does not match the features built from the data: "
            f"missing (model needs, data lack) {missing or 'none'}; "
            f"unexpected (built, model does not know) {unexpected or 'none'}. "
            "Score with a model trained by this fanpin version (risk train), or name one with "
            "--model."
        )


def features_of_part(
    tables: Tables, *, month: pd.Period, lines: MonitoringLines, expected: Sequence[str]
) -> PartFeatures:
    """Build, check against the model's feature names (`expected`) and mark the monitored."""
    features = build_month_features(tables, month=month, lines=lines)
    check_model_features(expected, list(features.columns))
    monitored = isin_ids(features.index, monitored_at(tables.outcomes, month=month))
    return PartFeatures(tables=tables, features=features, monitored=monitored)
