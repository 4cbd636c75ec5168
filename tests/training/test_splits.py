"""Out-of-time splits on literal months."""

from __future__ import annotations

import pandas as pd
import pytest

from training.splits import newest_window, out_of_time_split


def M(text: str) -> pd.Period:
    return pd.Period(text, "M")


def months(parts) -> list[str]:
    return [str(m) for m in parts]


def test_worked_example_of_the_docstring() -> None:
    split = out_of_time_split(
        first_month=M("2023-11"), until=M("2026-10"), horizon=6, valid_months=3
    )
    assert months(split.valid_months) == ["2026-02", "2026-03", "2026-04"]
    assert months(split.gap_months) == [
        "2025-08",
        "2025-09",
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
    ]
    assert months(split.train_months)[0] == "2024-04"
    assert months(split.train_months)[-1] == "2025-07"
    assert split.describe()["train"] == "2024-04..2025-07"


def test_no_training_label_window_reaches_validation() -> None:
    split = out_of_time_split(
        first_month=M("2024-01"), until=M("2026-06"), horizon=3, valid_months=2
    )
    assert split.train_months[-1] + 3 < split.valid_months[0]
    assert split.valid_months[-1] + 3 == M("2026-06")  # the last labelled window ends at --until


def test_until_moves_every_part() -> None:
    early = out_of_time_split(
        first_month=M("2023-11"), until=M("2026-04"), horizon=6, valid_months=3
    )
    assert months(early.valid_months) == ["2025-08", "2025-09", "2025-10"]
    assert str(early.train_months[-1]) == "2025-01"


def test_too_few_months_is_explained() -> None:
    with pytest.raises(ValueError, match="not enough months for an out-of-time split"):
        out_of_time_split(first_month=M("2026-01"), until=M("2026-10"), horizon=6, valid_months=3)


def test_newest_window() -> None:
    assert months(newest_window(until=M("2026-10"), horizon=6, valid_months=3)) == [
        "2026-02",
        "2026-03",
        "2026-04",
    ]
