"""Review labels flow into the training set exactly as `training/review_labels.py` documents."""

from __future__ import annotations

import pandas as pd
import pytest

from training.labels import build_labels
from training.review_labels import review_labels, reviewed_precision, with_review_labels

HOUSEHOLDS = ["A", "B", "C", "D", "E", "F", "G"]
MONTHS = list(pd.period_range("2025-10", "2026-06", freq="M"))
UNTIL = pd.Period("2026-06", "M")


def outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {"household_id": ["A"], "identified_month": pd.PeriodIndex(["2026-03"], freq="M")}
    )


def decisions() -> pd.DataFrame:
    rows = [  # household, run month, verdict, reason, decided_at
        ("B", "2026-02", "纳入监测", "", "2026-03-05"),  # confirmed: B becomes positive
        ("C", "2026-02", "排除", "支出已解决", "2026-03-01"),  # closed window: official 0 stays
        ("A", "2026-02", "排除", "收入稳定超过监测线", ""),  # official 1 wins over an exclusion
        ("D", "2026-05", "排除", "家庭成员已外出务工", "2026-06-02"),  # open window: new row
        ("E", "2026-05", "纳入监测", "", ""),  # open window: new positive row
        ("F", "2026-05", "待核实", "", ""),  # no verdict: nothing
        ("G", "2026-05", "排除", "信息有误", ""),  # wrong data: nothing
        ("C", "2025-11", "纳入监测", "", "2026-09-01"),  # decided beyond the horizon: nothing
    ]
    frame = pd.DataFrame(
        rows, columns=["household_id", "month", "decision", "reason", "decided_at"]
    )
    frame["id"] = range(len(frame))
    return frame


def test_review_labels_follow_the_table() -> None:
    review = review_labels(decisions(), horizon=3).set_index(["household_id", "month"])
    assert sorted(review.index.get_level_values(0)) == ["A", "B", "C", "D", "E"]
    b = review.loc[("B", pd.Period("2026-02", "M"))]
    assert (b["label"], b["weight"], str(b["identified_month"])) == (1, 1.0, "2026-03")
    d = review.loc[("D", pd.Period("2026-05", "M"))]
    assert (d["label"], d["weight"], pd.isna(d["identified_month"])) == (0, 0.5, True)
    assert str(review.loc[("E", pd.Period("2026-05", "M")), "identified_month"]) == "2026-06"


def test_the_latest_decision_counts() -> None:
    history = pd.DataFrame(
        {"household_id": ["B", "B"], "month": "2026-02", "decision": ["纳入监测", "排除"],
         "reason": ["", "支出已解决"], "id": [1, 2]}
    )  # fmt: skip
    assert review_labels(history, horizon=3)["label"].tolist() == [0]
    with pytest.raises(ValueError, match="horizon"):
        review_labels(history, horizon=0)


def test_training_set_changes_as_documented() -> None:
    official = build_labels(outcomes(), HOUSEHOLDS, months=MONTHS, horizon=3, known_until=UNTIL)
    review = review_labels(decisions(), horizon=3)
    labels = build_labels(
        outcomes(), HOUSEHOLDS, months=MONTHS, horizon=3, known_until=UNTIL, extra=review
    )
    combined = with_review_labels(labels, review)

    def label(frame: pd.DataFrame, household: str, month: str) -> int:
        row = frame[
            (frame["household_id"] == household) & (frame["month"] == pd.Period(month, "M"))
        ]
        return int(row["label"].iloc[0]) if len(row) else -1

    # a confirmation counts like an identification in 2026-03: positive for the windows holding it
    for month in ("2025-12", "2026-01", "2026-02"):
        assert (label(official, "B", month), label(combined, "B", month)) == (0, 1)
    assert label(official, "B", "2025-11") == label(combined, "B", "2025-11") == 0
    assert (
        label(official, "B", "2026-03") == 0 and label(combined, "B", "2026-03") == -1
    )  # monitored
    # official outcomes win in closed windows: A stays 1 despite the exclusion, C stays 0
    assert label(combined, "A", "2026-02") == 1 and label(combined, "C", "2026-02") == 0
    assert (combined["source"] == "official").sum() > 0
    assert combined.loc[combined["source"] == "official", "weight"].eq(1.0).all()
    # open windows (2026-04 … 2026-06 cannot be labelled officially): review rows are added
    assert official["month"].max() == pd.Period("2026-03", "M")
    added = combined[combined["month"] > pd.Period("2026-03", "M")]
    assert added[["household_id", "label", "weight", "source"]].values.tolist() == [
        ["D", 0, 0.5, "review"],
        ["E", 1, 1.0, "review"],
    ]
    # E's confirmation (identified 2026-06) also makes 2026-03 positive: its window holds June
    assert (label(official, "E", "2026-03"), label(combined, "E", "2026-03")) == (0, 1)
    assert label(combined, "E", "2026-02") == 0
    # nothing else changed
    others = official[~official["household_id"].isin(["B", "E"])]
    merged = others.merge(combined, on=["household_id", "month"], suffixes=("", "_new"))
    assert len(merged) == len(others) and (merged["label"] == merged["label_new"]).all()
    assert len(combined) == len(labels) + 2


def test_precision_among_reviewed_per_month_and_group() -> None:
    frame = decisions()
    frame["audit"] = frame["household_id"].isin(["G", "F", "D"])
    table = reviewed_precision(frame).set_index(["month", "group"])
    may = pd.Period("2026-05", "M")
    assert table.loc[(may, "warned"), ["reviewed", "confirmed", "precision"]].tolist() == [
        1,
        1,
        1.0,
    ]
    assert table.loc[(may, "audit"), ["reviewed", "pending"]].tolist() == [2, 1]
    assert table.loc[(may, "audit"), "precision"] == 0.0
    feb = table.loc[(pd.Period("2026-02", "M"), "warned")]
    assert (feb["reviewed"], feb["precision"]) == (3, pytest.approx(1 / 3))
