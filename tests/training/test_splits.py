"""Out-of-time splits on literal months."""

from __future__ import annotations

import pandas as pd
import pytest

from training.splits import household_folds, newest_window, out_of_time_split, selection_split


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


def test_selection_split_sits_inside_the_training_months_with_its_own_gap() -> None:
    outer = out_of_time_split(
        first_month=M("2023-11"), until=M("2026-10"), horizon=6, valid_months=3
    )
    inner = selection_split(outer, valid_months=3)
    assert inner is not None
    assert months(inner.valid_months) == ["2025-05", "2025-06", "2025-07"]
    assert months(inner.gap_months) == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
        "2025-03",
        "2025-04",
    ]
    assert inner.describe()["train"] == "2024-04..2024-10"
    # no label window of the selection reaches the reported gap or validation months
    assert inner.until == M("2026-01") < outer.gap_months[0] + 6
    assert inner.valid_months[-1] == outer.train_months[-1]


def test_selection_split_needs_enough_training_months() -> None:
    outer = out_of_time_split(
        first_month=M("2024-01"), until=M("2026-06"), horizon=6, valid_months=3
    )
    assert months(outer.train_months)[0] == "2024-06"
    assert months(outer.train_months)[-1] == "2025-03"  # 10 months: 3 + 6 + 3 do not fit
    assert selection_split(outer, valid_months=3) is None
    assert selection_split(outer, valid_months=3, min_train_months=1) == out_of_time_split(
        first_month=M("2024-01"), until=M("2025-09"), horizon=6, valid_months=3
    )


def test_refit_months_run_from_the_first_training_month_to_the_last_closed_window() -> None:
    split = out_of_time_split(
        first_month=M("2023-11"), until=M("2026-10"), horizon=6, valid_months=3
    )
    assert str(split.labelled_months[0]) == "2024-04"
    assert str(split.labelled_months[-1]) == "2026-04"  # 2026-04 + 6 = 2026-10 = until
    assert len(split.labelled_months) == 25  # every month in between, none twice
    assert split.describe()["labelled"] == "2024-04..2026-04"


def test_household_folds_put_every_household_in_one_fold() -> None:
    ids = [f"H{i:03d}" for i in range(100)]
    folds = household_folds(list(reversed(ids)), folds=3, seed=7)
    assert sorted(folds) == ids
    sizes = sorted(pd.Series(folds).value_counts().tolist())
    assert sizes == [33, 33, 34]
    assert folds == household_folds(ids, folds=3, seed=7)  # the order given does not matter
    assert folds != household_folds(ids, folds=3, seed=8)
    with pytest.raises(ValueError, match="at least 2"):
        household_folds(ids, folds=1, seed=0)
