"""Reviewer decisions as labelled evidence for training (issue 6, "back into training").

A reviewer's verdict on a warned household in the run of month M is evidence about the label of
(household, M): will the household be identified within `horizon` months of M?

How each verdict counts, and how it is weighted against official outcomes:

============ ===== ====== ====================================================================
verdict      label weight why
============ ===== ====== ====================================================================
纳入监测       1     1.0    a confirmed identification is what an official outcome records; it
                          counts exactly like one (`identified_month` = the month it was
                          decided, at least M + 1), usually before the export carries it
排除           0     0.5    a reviewed negative, but weaker: the household may still be identified
                          later in the window, and the exclusion itself keeps it from being
                          identified (the model's own list shaping its labels: a feedback loop)
排除 / 信息有误  —     —      dropped: the data the model saw were wrong, so the case says nothing
                          about risk given those features
待核实          —     —      dropped: no verdict yet
============ ===== ====== ====================================================================

A decision recorded more than `horizon` months after M is dropped (it speaks about a later situation
than the one scored). Official outcomes have weight 1.0 and win wherever their label window is
closed, with one exception: a confirmation turns an official 0 into 1 (the identification has not
reached the export yet). Where the official window is still open (the latest `horizon` months, which
official outcomes cannot label at all), review labels add rows of their own: that is the evidence
reviewers contribute first.

Use in training (two steps; `training.labels.build_labels` needs no change)::

    review = review_labels(decisions, horizon=6)
    labels = build_labels(outcomes, ids, months=months, horizon=6, known_until=until, extra=review)
    labels = with_review_labels(labels, review)            # adds weight and source
    model.fit(X, labels["label"], sample_weight=labels["weight"])

`extra=review` makes each confirmation an identification for every as-of month whose window holds
it (exclusions carry no `identified_month` and are ignored there); `with_review_labels` then applies
the table above and adds the rows for open windows. Features must exist for the added (household,
month) rows: build the panel for those months too.
"""

from __future__ import annotations

import pandas as pd

#: Label and sample weight of each verdict that becomes a label.
REVIEW_WEIGHTS: dict[str, tuple[int, float]] = {"纳入监测": (1, 1.0), "排除": (0, 0.5)}
#: Exclusion reasons that say the data were wrong: such decisions are no evidence about risk.
UNINFORMATIVE_REASONS: frozenset[str] = frozenset({"信息有误"})
OFFICIAL_WEIGHT = 1.0
REVIEW_LABEL_COLUMNS: tuple[str, ...] = (
    "household_id",
    "month",
    "label",
    "weight",
    "source",
    "identified_month",
)


def review_labels(decisions: pd.DataFrame, *, horizon: int) -> pd.DataFrame:
    """Labels from reviewer decisions (see the module docstring for the rules and weights).

    Parameters
    ----------
    decisions
        Reviewer decisions, e.g. ``ReviewStore.current()`` or its full history (then the latest per
        household and month counts): `household_id`, `month` (the run's month, ``YYYY-MM`` or
        period), `decision`, and optionally `reason`, `decided_at` (ISO date or time; empty =
        unknown, taken as M + 1) and `id` (store order).
    horizon
        Months ahead a label looks (config ``model.horizon``).

    Returns
    -------
    DataFrame
        `household_id` (str), `month` (period[M], the as-of month the label is for), `label` (int8),
        `weight` (float), `source` (``"review"``), `identified_month` (period[M] for confirmations,
        NaT for exclusions), one row per household and month.

    Examples
    --------
    >>> decisions = pd.DataFrame({"household_id": ["A", "B", "C"], "month": "2026-10",
    ...     "decision": ["纳入监测", "排除", "待核实"], "decided_at": ["2026-11-05", "", ""]})
    >>> out = review_labels(decisions, horizon=6)
    >>> out[["household_id", "label", "weight"]].values.tolist()
    [['A', 1, 1.0], ['B', 0, 0.5]]
    >>> str(out.loc[0, "identified_month"])
    '2026-11'
    """
    if not 1 <= int(horizon) <= 24:
        raise ValueError(f"horizon must be a whole number of months in 1–24, got {horizon!r}")
    latest = _latest(decisions)
    month = _months(latest["month"])
    decided = _decided_month(latest, month)
    reason = latest["reason"] if "reason" in latest.columns else pd.Series("", index=latest.index)
    usable = (
        latest["decision"].isin(list(REVIEW_WEIGHTS))
        & ~reason.fillna("").isin(list(UNINFORMATIVE_REASONS))
        & (decided <= month + int(horizon))
    )
    kept = latest[usable.to_numpy()]
    label = kept["decision"].map(lambda d: REVIEW_WEIGHTS[d][0]).astype("int8")
    identified = decided[usable.to_numpy()].where((label == 1).to_numpy())
    return pd.DataFrame(
        {
            "household_id": kept["household_id"].astype(str).to_numpy(),
            "month": month[usable.to_numpy()].to_numpy(),
            "label": label.to_numpy(),
            "weight": kept["decision"].map(lambda d: REVIEW_WEIGHTS[d][1]).to_numpy(dtype=float),
            "source": "review",
            "identified_month": identified.to_numpy(),
        }
    ).astype({"month": "period[M]", "identified_month": "period[M]"})


def with_review_labels(labels: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    """Official labels (from `build_labels`) combined with review labels, with `weight` and `source`.

    Parameters
    ----------
    labels
        `household_id, month, label` (official; pass `review` as `extra` to `build_labels` too).
    review
        Output of `review_labels`.

    Returns
    -------
    DataFrame
        `household_id, month, label, weight, source` (``official`` or ``review``): official rows keep
        weight 1.0 and their label except that a confirmation turns a 0 into 1; review rows for
        (household, month) pairs without an official label are appended. Sorted by month, household.
    """
    official = labels[["household_id", "month", "label"]].copy()
    official["weight"], official["source"] = OFFICIAL_WEIGHT, "official"
    keys = ["household_id", "month"]
    merged = official.merge(review[[*keys, "label"]], on=keys, how="left", suffixes=("", "_review"))
    flip = (merged["label_review"] == 1) & (merged["label"] == 0)
    merged.loc[flip, "label"] = 1
    merged.loc[flip, "source"] = "review"
    known = pd.MultiIndex.from_frame(official[keys])
    extra = review[~pd.MultiIndex.from_frame(review[keys]).isin(known)]
    combined = pd.concat(
        [merged.drop(columns="label_review"), extra[[*keys, "label", "weight", "source"]]],
        ignore_index=True,
    )
    combined["label"] = combined["label"].astype("int8")
    return combined.sort_values(["month", "household_id"], kind="stable").reset_index(drop=True)


def reviewed_precision(decisions: pd.DataFrame) -> pd.DataFrame:
    """Precision among reviewed households per run month, the warned list and the audit sample apart.

    Parameters
    ----------
    decisions
        As for `review_labels`, plus an optional boolean `audit` (household drawn into the audit
        sample rather than warned).

    Returns
    -------
    DataFrame
        `month, group` (``warned`` / ``audit``), `reviewed` (纳入监测 + 排除), `confirmed`,
        `excluded`, `pending` (待核实), `precision` (confirmed / reviewed; NaN when none).
    """
    latest = _latest(decisions).copy()
    latest["month"] = _months(latest["month"])
    audit = latest["audit"] if "audit" in latest.columns else pd.Series(False, index=latest.index)
    latest["group"] = audit.fillna(False).astype(bool).map({True: "audit", False: "warned"})
    counts = pd.crosstab([latest["month"], latest["group"]], latest["decision"])
    for verdict in ("纳入监测", "排除", "待核实"):
        if verdict not in counts.columns:
            counts[verdict] = 0
    out = pd.DataFrame(
        {
            "confirmed": counts["纳入监测"],
            "excluded": counts["排除"],
            "pending": counts["待核实"],
        }
    )
    out["reviewed"] = out["confirmed"] + out["excluded"]
    out["precision"] = out["confirmed"] / out["reviewed"].where(out["reviewed"] > 0)
    columns = ["reviewed", "confirmed", "excluded", "pending", "precision"]
    return out.reset_index()[["month", "group", *columns]]


def _latest(decisions: pd.DataFrame) -> pd.DataFrame:
    """The latest decision per household and run month (store order when `id` is given)."""
    frame = decisions.copy()
    frame["household_id"] = frame["household_id"].astype(str)
    frame["_month"] = _months(frame["month"]).astype(str)
    if "id" in frame.columns:
        frame = frame.sort_values("id", kind="stable")
    latest = frame.drop_duplicates(["household_id", "_month"], keep="last")
    return latest.drop(columns="_month").reset_index(drop=True)


def _months(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.PeriodDtype):
        return values.reset_index(drop=True)
    return pd.Series(pd.PeriodIndex(values.astype(str), freq="M"))


def _decided_month(latest: pd.DataFrame, month: pd.Series) -> pd.Series:
    """Month of the decision, at least M + 1; M + 1 when the date is unknown."""
    next_month = month + 1
    if "decided_at" not in latest.columns:
        return next_month
    text = latest["decided_at"].fillna("").astype(str).str.slice(0, 10)
    dates = pd.to_datetime(text.where(text != ""), errors="coerce", format="%Y-%m-%d")
    decided = pd.Series(dates.dt.to_period("M").to_numpy(), dtype="period[M]")
    decided = decided.fillna(next_month)
    return decided.where(decided > month, next_month)
