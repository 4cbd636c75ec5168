"""Labels and exclusions on literal data."""

from __future__ import annotations

import pandas as pd
import pytest

from features.sources.monitoring import monitored_at
from training.labels import build_labels, labellable_months


def M(text: str) -> pd.Period:
    return pd.Period(text, "M")


def outcomes(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": [r[0] for r in rows],
            "identified_month": pd.PeriodIndex([r[1] for r in rows], freq="M"),
            "eliminated_month": pd.PeriodIndex([r[2] for r in rows], freq="M"),
        }
    )


OUTCOMES = outcomes(
    [
        ("H1", "2025-04", None),  # identified in April, never eliminated
        ("H2", "2024-10", "2025-02"),  # monitored Oct–Jan, eliminated in Feb
        ("H3", "2025-09", None),  # identified after the 6-month window of 2025-01..2025-03
    ]
)
HOUSEHOLDS = ["H1", "H2", "H3", "H4"]


def labels_for(month: str, **kwargs) -> dict[str, int]:
    frame = build_labels(
        OUTCOMES, HOUSEHOLDS, months=[M(month)], horizon=6, known_until=M("2025-12"), **kwargs
    )
    return dict(zip(frame["household_id"], frame["label"], strict=True))


def test_label_window_is_half_open() -> None:
    # (2024-10, 2025-04]: H1 identified 2025-04 is inside; H3 (2025-09) is not
    assert labels_for("2024-10")["H1"] == 1
    assert labels_for("2024-10").get("H3") == 0
    # (2025-04, 2025-10]: H1 was identified in April itself, so it is monitored, not labelled
    assert "H1" not in labels_for("2025-04")
    assert labels_for("2025-03")["H3"] == 1  # (2025-03, 2025-09]
    assert labels_for("2025-02")["H3"] == 0  # (2025-02, 2025-08]


def test_monitored_households_are_excluded_until_eliminated() -> None:
    assert "H2" not in labels_for("2024-10")  # identified 2024-10 ≤ M
    assert "H2" not in labels_for("2025-01")  # still monitored in January
    assert labels_for("2025-02")["H2"] == 0  # eliminated in February: back on the list
    assert list(monitored_at(OUTCOMES, month=M("2025-01"))) == ["H2"]


def test_last_horizon_months_are_not_labelled() -> None:
    months = pd.period_range("2025-04", "2025-08", freq="M")
    assert [str(m) for m in labellable_months(months, known_until=M("2025-12"), horizon=6)] == [
        "2025-04",
        "2025-05",
        "2025-06",
    ]
    frame = build_labels(OUTCOMES, HOUSEHOLDS, months=months, horizon=6, known_until=M("2025-12"))
    assert sorted(frame["month"].astype(str).unique()) == ["2025-04", "2025-05", "2025-06"]


def test_outcomes_after_known_until_are_ignored() -> None:
    # known only until 2025-08: H3's identification in 2025-09 has not happened yet
    frame = build_labels(
        OUTCOMES, HOUSEHOLDS, months=[M("2025-02")], horizon=6, known_until=M("2025-08")
    )
    assert dict(zip(frame["household_id"], frame["label"], strict=True))["H3"] == 0


def test_elimination_after_known_until_is_not_known() -> None:
    frame = build_labels(
        OUTCOMES, HOUSEHOLDS, months=[M("2025-01")], horizon=1, known_until=M("2025-02")
    )
    assert "H2" not in set(frame["household_id"])  # still monitored in January
    later = build_labels(
        OUTCOMES, HOUSEHOLDS, months=[M("2025-02")], horizon=1, known_until=M("2025-03")
    )
    assert "H2" in set(later["household_id"])


def test_extra_identifications_count_like_outcomes() -> None:
    extra = pd.DataFrame({"household_id": ["H4"], "identified_month": [M("2025-03")]})
    assert labels_for("2025-01")["H4"] == 0
    assert labels_for("2025-01", extra=extra)["H4"] == 1


def test_no_outcomes_means_every_label_zero() -> None:
    frame = build_labels(
        None, HOUSEHOLDS, months=[M("2025-01")], horizon=6, known_until=M("2025-12")
    )
    assert frame["label"].tolist() == [0, 0, 0, 0]
    assert str(frame["month"].dtype) == "period[M]"


def test_bad_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="horizon must be a whole number of months"):
        build_labels(
            OUTCOMES, HOUSEHOLDS, months=[M("2025-01")], horizon=0, known_until=M("2025-12")
        )
