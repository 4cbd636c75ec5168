"""Feed checks: department feeds missing for the month, sharply down, or stopped — warned loudly.

Per partition, `feed_tally` counts the records of each feed per month and finds its latest record;
tallies add up over partitions (`combine_tallies`), and `feed_warnings` judges the whole. The
report's completeness table shows the same volumes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from risk.run_context import FEED_DATES, TABLE_LABELS_ZH, VOLUME_MONTHS, FeedWarning

#: Feeds whose records arrive every month for a sizeable share of households; for them a month
#: without records is a missing feed. Sparse feeds (certificates, events) only warn when they stop.
REGULAR_FEEDS = ("income", "medical", "employment", "assistance")
LOOKBACK_MONTHS = 6
DROP_RATIO = 0.5
MIN_BASELINE = 5.0


@dataclass(frozen=True)
class FeedTally:
    """Records per feed and month, and each feed's latest month, for some households.

    Attributes
    ----------
    volumes
        Feeds (rows, `FEED_DATES` order) by month (columns ``YYYY-MM``, the scoring month last);
        NaN for a feed that was not sent.
    latest
        Feed → month ordinal (``pd.Period.ordinal``) of its latest record up to the scoring month;
        None when it has none (or was not sent).
    """

    volumes: pd.DataFrame
    latest: Mapping[str, int | None]


def feed_volumes(
    tables: Tables,
    *,
    months: Sequence[pd.Period],
    ordinals: Mapping[tuple[str, str], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Records per department feed (rows) and month (columns); NaN for a feed not sent.

    A record counts in the month of its date; a work spell counts in its start and its end month
    (the feed's activity), so a feed that stops updating shows as a drop. `ordinals` are the
    month ordinals of each (table, date column), when already computed (`feed_ordinals`).
    """
    dated = feed_ordinals(tables) if ordinals is None else ordinals
    labels = [str(m) for m in months]
    volumes = pd.DataFrame(np.nan, index=list(FEED_DATES), columns=labels)
    wanted = np.array([m.ordinal for m in months], dtype=np.int64)
    for table, columns in FEED_DATES.items():
        frame = getattr(tables, table)
        if frame is None:
            continue
        counts = np.zeros(len(months), dtype=np.int64)
        low, high = int(wanted.min()), int(wanted.max())
        for column in columns:
            record_months = dated[(table, column)]
            inside = record_months[(record_months >= low) & (record_months <= high)]
            by_month = np.bincount(inside - low, minlength=high - low + 1)
            counts += by_month[wanted - low]
        volumes.loc[table] = counts
    return volumes


def feed_tally(tables: Tables, *, month: pd.Period, span: int = VOLUME_MONTHS) -> FeedTally:
    """Volumes of the `span` months up to `month` and each feed's latest record (a partition step)."""
    ordinals = feed_ordinals(tables)
    months = [month - k for k in range(span - 1, -1, -1)]
    latest: dict[str, int | None] = {}
    for table, columns in FEED_DATES.items():
        known = [
            o[o <= month.ordinal] for c in columns if (o := ordinals.get((table, c))) is not None
        ]
        latest[table] = max((int(o.max()) for o in known if o.size), default=None)
    return FeedTally(feed_volumes(tables, months=months, ordinals=ordinals), latest)


def combine_tallies(tallies: Sequence[FeedTally]) -> FeedTally:
    """The tally of all partitions: volumes added (NaN only where no partition has the feed),
    latest months the latest of any."""
    first = tallies[0].volumes
    stacked = np.stack([t.volumes.to_numpy(dtype=float) for t in tallies])
    sent = ~np.isnan(stacked).all(axis=0)
    summed = np.where(sent, np.nansum(stacked, axis=0), np.nan)
    latest: dict[str, int | None] = {}
    for table in FEED_DATES:
        seen = [m for t in tallies if (m := t.latest.get(table)) is not None]
        latest[table] = max(seen, default=None)
    return FeedTally(pd.DataFrame(summed, index=first.index, columns=first.columns), latest)


def feed_warnings(
    tally: FeedTally,
    *,
    month: pd.Period,
    lookback: int = LOOKBACK_MONTHS,
    drop_ratio: float = DROP_RATIO,
) -> list[FeedWarning]:
    """Judge a tally: one `FeedWarning` per feed missing, silent, sharply down or stopped.

    Parameters
    ----------
    tally
        From `feed_tally` / `combine_tallies`, covering at least ``lookback + 1`` months.
    month
        The scoring month (the tally's last column).
    lookback
        Months before `month` whose median volume is the baseline.
    drop_ratio
        Warn when the month's volume is below this share of the baseline.
    """
    found = []
    for table in FEED_DATES:
        label = f"{table}（{TABLE_LABELS_ZH[table]}）"
        counts = tally.volumes.loc[table].to_numpy(dtype=float)[-(lookback + 1) :]
        if np.isnan(counts).all():
            found.append(_missing_table(table, label, month))
            continue
        current, baseline = int(counts[-1]), float(np.median(counts[:-1]))
        warning = _volume_warning(
            table, label, month=month, current=current, baseline=baseline, ratio=drop_ratio
        )
        if warning is None:
            warning = _stale_warning(tally.latest.get(table), table, label, month=month)
        if warning is not None:
            found.append(warning)
    return found


def check_feeds(
    tables: Tables,
    *,
    month: pd.Period,
    lookback: int = LOOKBACK_MONTHS,
    drop_ratio: float = DROP_RATIO,
) -> list[FeedWarning]:
    """Find department feeds that would silently make households look healthy.

    Parameters
    ----------
    tables
        The loaded tables.
    month
        The scoring month.
    lookback
        Months before `month` whose median volume is the baseline.
    drop_ratio
        Warn when the month's volume is below this share of the baseline.

    Returns
    -------
    One `FeedWarning` per affected feed (a missing table, no records this month, a sharp drop, or a
    feed that stopped before the month).
    """
    tally = feed_tally(tables, month=month, span=max(VOLUME_MONTHS, lookback + 1))
    return feed_warnings(tally, month=month, lookback=lookback, drop_ratio=drop_ratio)


def _missing_table(table: str, label: str, month: pd.Period) -> FeedWarning:
    return FeedWarning(
        table,
        "missing_table",
        str(month),
        0,
        math.nan,
        f"部门数据缺失：{label} 未提供，相关指标按缺失处理，结果可能低估风险 — "
        f"the {table} feed was not sent; its features are missing, risk may be understated",
    )


def _volume_warning(
    table: str, label: str, *, month: pd.Period, current: int, baseline: float, ratio: float
) -> FeedWarning | None:
    regular = table in REGULAR_FEEDS
    if current == 0 and regular and baseline >= MIN_BASELINE:
        return FeedWarning(
            table,
            "no_records",
            str(month),
            current,
            baseline,
            f"部门数据异常：{label} 在 {month} 没有任何记录（此前每月约 {baseline:,.0f} 条），"
            f"请核实是否漏报 — the {table} feed has no records for {month} "
            f"(about {baseline:,.0f} a month before); check whether it was sent",
        )
    if baseline >= MIN_BASELINE and current < ratio * baseline:
        return FeedWarning(
            table,
            "volume_drop",
            str(month),
            current,
            baseline,
            f"部门数据量骤降：{label} 在 {month} 只有 {current:,} 条记录，"
            f"仅为此前月均 {baseline:,.0f} 条的 {current / baseline:.0%} — "
            f"the {table} feed dropped to {current:,} records in {month} from about "
            f"{baseline:,.0f} a month",
        )
    return None


def _stale_warning(
    latest: int | None, table: str, label: str, *, month: pd.Period
) -> FeedWarning | None:
    if latest is not None and month.ordinal - latest <= LOOKBACK_MONTHS:
        return None
    last_seen = "从无记录" if latest is None else str(pd.Period(ordinal=latest, freq="M"))
    return FeedWarning(
        table,
        "stale",
        str(month),
        0,
        0.0,
        f"部门数据停更：{label} 最近记录为 {last_seen}，{month} 前半年无任何记录 — "
        f"the {table} feed has no records in the six months up to {month} (last: {last_seen})",
    )


def feed_ordinals(tables: Tables) -> dict[tuple[str, str], np.ndarray]:
    """Month ordinals of every date column of the department feeds that were sent."""
    return {
        (table, column): month_ordinals(frame[column])
        for table, columns in FEED_DATES.items()
        if (frame := getattr(tables, table)) is not None
        for column in columns
    }


def month_ordinals(series: pd.Series) -> np.ndarray:
    """Month ordinals (months since 1970-01, as ``pd.Period``) of a month/date column, missing dropped."""
    if isinstance(series.dtype, pd.PeriodDtype):
        values = series.array.asi8
        return np.asarray(values[values != np.iinfo(np.int64).min], dtype=np.int64)
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series)
    dates = series.to_numpy(dtype="datetime64[ns]")
    dates = dates[~np.isnat(dates)]
    return dates.astype("datetime64[M]").astype(np.int64)
