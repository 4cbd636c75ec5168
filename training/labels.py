"""Labels from outcomes: will household h be identified (an `outcomes` row) within `horizon` months of M?

For household h and as-of month M the label is 1 when h has an identification with
`identified_month` in (M, M + horizon], else 0. Households already monitored at M (identified ≤ M and
not eliminated ≤ M, DATA_CONTRACT.md "Time") are not on the warning list and are left out. The last
`horizon` months before `known_until` cannot be labelled: their window reaches past what is known.

A second source of identifications (confirmed reviewer decisions, issue 6) enters through `extra`:
rows with `household_id, identified_month` that count exactly like official outcomes. Official outcomes
and extra rows are not weighted differently; a caller who wants that passes sample weights to `fit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.contract.errors import DataContractError

LABEL_COLUMNS: tuple[str, ...] = ("household_id", "month", "label")


def labellable_months(months: Sequence[pd.Period], *, known_until: pd.Period, horizon: int) -> list:
    """The as-of months whose whole label window (M, M + horizon] lies at or before `known_until`.

    Examples
    --------
    >>> m = pd.period_range("2026-01", "2026-10", freq="M")
    >>> [str(p) for p in labellable_months(m, known_until=pd.Period("2026-10", "M"), horizon=6)]
    ['2026-01', '2026-02', '2026-03', '2026-04']
    """
    _check_horizon(horizon)
    return [m for m in months if m + horizon <= known_until]


def build_labels(
    outcomes: pd.DataFrame | None,
    households: pd.Series | pd.Index | Sequence[str],
    *,
    months: Sequence[pd.Period],
    horizon: int,
    known_until: pd.Period,
    extra: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (household, as-of month) that can be labelled and is not already monitored.

    Parameters
    ----------
    outcomes
        The contract's `outcomes` table (`household_id`, `identified_month`, optional
        `eliminated_month`), or None when nothing was sent (every label is then 0).
    households
        Household ids to label (usually `tables.households.household_id`).
    months
        Candidate as-of months (period[M]); months whose window passes `known_until` are dropped.
    horizon
        Months ahead the label looks (default in config: 6).
    known_until
        The last month whose outcomes are known (the export month, or `--until`). Outcomes identified
        after it are ignored.
    extra
        Further identifications (`household_id`, `identified_month`), e.g. reviewer confirmations.

    Returns
    -------
    DataFrame
        Columns `household_id` (str), `month` (period[M]), `label` (int8), sorted by month then id.
    """
    _check_horizon(horizon)
    usable = labellable_months(sorted(set(months)), known_until=known_until, horizon=horizon)
    ids = pd.Index(pd.unique(np.asarray(households, dtype=object))).astype(str)
    events = _identifications(outcomes, extra, known_until=known_until)
    if not usable:
        return pd.DataFrame(
            {
                "household_id": pd.Series(dtype=object),
                "month": pd.Series(dtype="period[M]"),
                "label": pd.Series(dtype="int8"),
            }
        )
    month_codes = np.array([m.ordinal for m in usable], dtype=np.int64)
    grid_ids = np.repeat(ids.to_numpy(dtype=object), len(month_codes))
    grid_months = np.tile(month_codes, len(ids))
    monitored, positive = _event_months(events, ids, month_codes, horizon=horizon)
    flat = np.repeat(np.arange(len(ids)), len(month_codes)) * len(month_codes) + np.tile(
        np.arange(len(month_codes)), len(ids)
    )
    keep = ~monitored[flat]
    frame = pd.DataFrame(
        {
            "household_id": grid_ids[keep],
            "month": pd.PeriodIndex.from_ordinals(grid_months[keep], freq="M"),
            "label": positive[flat][keep].astype("int8"),
        }
    )
    return frame.sort_values(["month", "household_id"], kind="mergesort").reset_index(drop=True)


def _event_months(
    events: pd.DataFrame, ids: pd.Index, month_codes: np.ndarray, *, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat (household × month) masks: already monitored at M, and identified in (M, M + horizon]."""
    n_months = len(month_codes)
    monitored = np.zeros(len(ids) * n_months, dtype=bool)
    positive = np.zeros(len(ids) * n_months, dtype=bool)
    where = ids.get_indexer(events["household_id"].astype(str))
    known = where >= 0
    if not known.any():
        return monitored, positive
    row = where[known]
    identified = np.array([p.ordinal for p in events["identified_month"][known]], dtype=np.int64)
    eliminated = np.array(
        [
            p.ordinal if not pd.isna(p) else np.iinfo(np.int64).max
            for p in events["eliminated_month"][known]
        ],
        dtype=np.int64,
    )
    m = month_codes[None, :]
    is_monitored = (identified[:, None] <= m) & (m < eliminated[:, None])
    is_positive = (identified[:, None] > m) & (identified[:, None] <= m + horizon)
    cells = row[:, None] * n_months + np.arange(n_months)[None, :]
    monitored[cells[is_monitored]] = True
    positive[cells[is_positive]] = True
    return monitored, positive


def _identifications(
    outcomes: pd.DataFrame | None, extra: pd.DataFrame | None, *, known_until: pd.Period
) -> pd.DataFrame:
    parts = []
    for name, frame in (("outcomes", outcomes), ("extra", extra)):
        if frame is None:
            continue
        missing = {"household_id", "identified_month"} - set(frame.columns)
        if missing:
            raise DataContractError(
                f"{name}: labels need columns household_id and identified_month; "
                f"missing {sorted(missing)}"
            )
        part = pd.DataFrame(
            {
                "household_id": frame["household_id"].astype(str).to_numpy(),
                "identified_month": _as_months(frame["identified_month"]).to_numpy(),
                "eliminated_month": _eliminated(frame).to_numpy(),
            }
        )
        parts.append(part)
    if not parts:
        return pd.DataFrame(
            {
                "household_id": pd.Series(dtype=object),
                "identified_month": pd.Series(dtype="period[M]"),
                "eliminated_month": pd.Series(dtype="period[M]"),
            }
        )
    events = pd.concat(parts, ignore_index=True)
    events = events[events["identified_month"].notna()]
    events = events[events["identified_month"] <= known_until].copy()
    # an elimination after `known_until` is not known yet: the household still counts as monitored
    late = events["eliminated_month"].notna() & (events["eliminated_month"] > known_until)
    events.loc[late, "eliminated_month"] = pd.NaT
    return events


def _eliminated(frame: pd.DataFrame) -> pd.Series:
    """`eliminated_month` as period[M]; missing (never eliminated) compares as far future."""
    if "eliminated_month" not in frame.columns:
        values = pd.Series(pd.NaT, index=frame.index, dtype="period[M]")
    else:
        values = _as_months(frame["eliminated_month"])
    return values.fillna(pd.Period("2200-01", "M"))


def _as_months(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.PeriodDtype):
        return values
    return pd.to_datetime(values).dt.to_period("M")


def _check_horizon(horizon: int) -> None:
    if not isinstance(horizon, int | np.integer) or not 1 <= horizon <= 24:
        raise ValueError(f"horizon must be a whole number of months in 1–24, got {horizon!r}")
