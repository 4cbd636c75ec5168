"""Out-of-time splits: pure date arithmetic on as-of months.

A household appears in many as-of months, and the label of month M looks at (M, M + horizon]. To keep
validation honest, training as-of months end `horizon` months before validation starts — with a gap of
`horizon` months, no training label window reaches into the validation months, so nothing a household
did in the validation period can leak into training through its label.

Worked example (`until = 2026-10`, `horizon = 6`, `valid_months = 3`, data from 2023-11,
`history = 6`)::

    last usable as-of month   = until - horizon          = 2026-04
    validation months         = 2026-02 .. 2026-04       (the newest 3 usable)
    gap (horizon months)      = 2025-08 .. 2026-01
    training months           = 2024-04 .. 2025-07       (first = 2023-11 + history - 1)

The training label windows end at 2025-07 + 6 = 2026-01, before the first validation month.

Two more sets of months come from the same arithmetic (`selection_split`, `OutOfTimeSplit.labelled_months`):

    selection (inside the training months, its own gap of `horizon` months):
      validation              = 2025-05 .. 2025-07       (the newest 3 training months)
      gap                     = 2024-11 .. 2025-04
      training                = 2024-04 .. 2024-10
    refit (the model that is registered and scores) = 2024-04 .. 2026-04
      every as-of month whose label window had closed by `until`: training + gap + validation.

Candidates are chosen on the selection split, so the choice never sees the reported validation months.

A short history (the 2025-12 export of a county whose feeds start in 2023-11 leaves 6 training months)
cannot hold that inner split. The choice then stays inside the training months and splits by
household instead (`household_folds`): each candidate is fitted on some households' rows and judged
on the others', so no household's rows are on both sides — but both sides share the same months, so
that choice is cross-sectional, not out of time (evaluation.json says which was used).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class OutOfTimeSplit:
    """The as-of months of one out-of-time split.

    Attributes
    ----------
    train_months, gap_months, valid_months
        Consecutive month ranges (period[M]), oldest first.
    until
        The last month whose records and outcomes are known.
    horizon
        Months ahead the label looks.
    """

    train_months: tuple[pd.Period, ...]
    gap_months: tuple[pd.Period, ...]
    valid_months: tuple[pd.Period, ...]
    until: pd.Period
    horizon: int

    @property
    def labelled_months(self) -> tuple[pd.Period, ...]:
        """Every as-of month whose label window had closed by `until`: training, gap and validation.

        The registered model is refitted on these (see `training.train`).
        """
        return (*self.train_months, *self.gap_months, *self.valid_months)

    def describe(self) -> dict[str, str]:
        """First and last month of each part, as text (for logs and evaluation.json)."""
        return {
            "train": _span(self.train_months),
            "gap": _span(self.gap_months),
            "valid": _span(self.valid_months),
            "labelled": _span(self.labelled_months),
            "until": str(self.until),
            "horizon": str(self.horizon),
        }


def out_of_time_split(
    *,
    first_month: pd.Period,
    until: pd.Period,
    horizon: int,
    valid_months: int,
    history: int = 6,
) -> OutOfTimeSplit:
    """Split as-of months into training, gap and validation (see the module docstring's example).

    Parameters
    ----------
    first_month
        The oldest month with records. The first as-of month is `first_month + history - 1`, so that
        every training row has at least `history` months of records behind it.
    until
        The last known month (`--until`, else the export month).
    horizon
        Label horizon in months.
    valid_months
        How many of the newest usable as-of months validate.
    history
        Minimum months of records before an as-of month is used.

    Raises
    ------
    ValueError
        When the months cannot hold at least one training month.

    Examples
    --------
    >>> s = out_of_time_split(first_month=pd.Period("2023-11", "M"), until=pd.Period("2026-10", "M"),
    ...                       horizon=6, valid_months=3)
    >>> s.describe()["train"], s.describe()["valid"]
    ('2024-04..2025-07', '2026-02..2026-04')
    """
    for name, value, low in (
        ("horizon", horizon, 1),
        ("valid_months", valid_months, 1),
        ("history", history, 1),
    ):
        if int(value) < low:
            raise ValueError(f"{name} must be at least {low}, got {value}")
    last_usable = until - horizon
    first_valid = last_usable - valid_months + 1
    last_train = first_valid - horizon - 1
    first_train = first_month + history - 1
    if last_train < first_train:
        needed = history + 2 * horizon + valid_months
        raise ValueError(
            f"not enough months for an out-of-time split: data from {first_month} to {until} "
            f"({(until - first_month).n + 1} months) but history {history} + gap {horizon} + "
            f"validation {valid_months} + label window {horizon} need at least {needed}; "
            "use a shorter --horizon or more months of data"
        )
    return OutOfTimeSplit(
        train_months=_range(first_train, last_train),
        gap_months=_range(last_train + 1, first_valid - 1),
        valid_months=_range(first_valid, last_usable),
        until=until,
        horizon=horizon,
    )


def selection_split(
    split: OutOfTimeSplit, *, valid_months: int, min_train_months: int = 3
) -> OutOfTimeSplit | None:
    """An out-of-time split inside `split`'s training months, for choosing among candidates.

    The newest `valid_months` training months validate, the `horizon` months before them are the
    gap, and the older training months fit. Its `until` is the last month any of its label windows
    reaches (the last training month's window end), so nothing it uses looks at the reported
    validation months or their gap. None when fewer than `min_train_months` months would be left to
    fit on (the caller then keeps the default candidate and says so).

    Examples
    --------
    >>> outer = out_of_time_split(first_month=pd.Period("2023-11", "M"),
    ...                           until=pd.Period("2026-10", "M"), horizon=6, valid_months=3)
    >>> inner = selection_split(outer, valid_months=3)
    >>> inner.describe()["train"], inner.describe()["gap"], inner.describe()["valid"]
    ('2024-04..2024-10', '2024-11..2025-04', '2025-05..2025-07')
    """
    if int(valid_months) < 1 or int(min_train_months) < 1:
        raise ValueError(
            f"valid_months and min_train_months must be at least 1, got {valid_months} and "
            f"{min_train_months}"
        )
    months = split.train_months
    horizon = split.horizon
    if len(months) < min_train_months + horizon + valid_months:
        return None
    valid = months[-valid_months:]
    gap = months[-valid_months - horizon : -valid_months]
    train = months[: -valid_months - horizon]
    return OutOfTimeSplit(
        train_months=train,
        gap_months=gap,
        valid_months=valid,
        until=valid[-1] + horizon,
        horizon=horizon,
    )


def household_folds(households: Sequence[str], *, folds: int, seed: int) -> dict[str, int]:
    """Household → fold number in ``0 .. folds-1``: a seeded shuffle dealt round-robin.

    Every household is in exactly one fold and fold sizes differ by at most one, so a candidate fitted
    on the other folds never sees a judged household's rows. The assignment depends only on the set
    of ids (sorted first) and the seed.

    Examples
    --------
    >>> folds = household_folds(["c", "a", "b", "d"], folds=2, seed=0)
    >>> sorted(folds), sorted(folds.values())
    (['a', 'b', 'c', 'd'], [0, 0, 1, 1])
    """
    if int(folds) < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    ids = np.sort(np.unique(np.asarray(list(households), dtype=object).astype(str)))
    if len(ids) < folds:
        raise ValueError(f"{len(ids)} households cannot be split into {folds} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    fold = np.empty(len(ids), dtype=int)
    fold[order] = np.arange(len(ids)) % folds
    return {str(h): int(f) for h, f in zip(ids, fold, strict=True)}


def newest_window(*, until: pd.Period, horizon: int, valid_months: int) -> tuple[pd.Period, ...]:
    """The newest `valid_months` labellable as-of months: the window champion and challenger share.

    Examples
    --------
    >>> [str(m) for m in newest_window(until=pd.Period("2026-10", "M"), horizon=6, valid_months=2)]
    ['2026-03', '2026-04']
    """
    last_usable = until - horizon
    return _range(last_usable - valid_months + 1, last_usable)


def _range(first: pd.Period, last: pd.Period) -> tuple[pd.Period, ...]:
    if last < first:
        return ()
    return tuple(pd.period_range(first, last, freq="M"))


def _span(months: tuple[pd.Period, ...]) -> str:
    return f"{months[0]}..{months[-1]}" if months else ""
