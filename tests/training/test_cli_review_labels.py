"""`risk train --review-store`: reviewers' confirmations reach the label builder as identifications."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from risk.cli.train import _review_confirmations
from risk.review.store import Decision, ReviewStore
from training.labels import build_labels


def test_confirmations_become_identifications_and_exclusions_do_not(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "review.sqlite")
    store.add(
        [
            Decision(
                run_id="r1", month="2026-03", household_id="H1", decision="纳入监测", source="web"
            ),
            Decision(
                run_id="r1", month="2026-03", household_id="H2", decision="排除", source="web"
            ),
        ]
    )
    extra = _review_confirmations(tmp_path / "review.sqlite", horizon=6)
    assert extra is not None and list(extra["household_id"]) == ["H1"]
    months = [pd.Period("2026-03", freq="M")]
    without = build_labels(
        None, ["H1", "H2"], months=months, horizon=6, known_until=pd.Period("2026-10", freq="M")
    )
    with_review = build_labels(
        None,
        ["H1", "H2"],
        months=months,
        horizon=6,
        known_until=pd.Period("2026-10", freq="M"),
        extra=extra,
    )
    assert without["label"].sum() == 0
    assert with_review.set_index("household_id")["label"].to_dict() == {"H1": 1, "H2": 0}


def test_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    assert _review_confirmations(None, horizon=6) is None
    with pytest.raises(ConfigError, match="--review-store .* does not exist"):
        _review_confirmations(tmp_path / "nope.sqlite", horizon=6)
