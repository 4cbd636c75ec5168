"""The monitoring lifecycle of a month: monitored households' exit readiness, exited households' watch.

DOMAIN.md: a household leaves monitoring (风险消除) only after its income has been stably above the
line for about half a year, the rigid expense is resolved, 三保障 and water are secured, and at least
one assistance measure was delivered. `monitored_status` checks each of these for every household
under monitoring in the month and says which hold, with the records behind them, and what is still
missing:

- ``income_stable``: per-capita income (annualised, as the rules count it) above the monitoring line in
  each of the household's last `LifecycleParams.stable_income_months` monthly income records (looked
  for in the last `LifecycleParams.income_lookback_months` months);
- ``no_rigid_shock``: in the same months, medical out-of-pocket below the configured amount and no
  event of the configured kinds (disaster, death, …);
- ``secure_basics``: no dangerous house, safe water, every member medically insured. The
  ``households``/``members`` snapshot describes the export month only, so for an earlier month this
  cannot be verified and the condition is not met (never read back into the past);
- ``assistance_delivered``: an assistance record dated in or after the identification month.

``ready_to_exit`` when all four hold; ``worsening`` when, since identification, a shock appeared in the
last `LifecycleParams.worsening_months` months or the income of those months fell by more than
`LifecycleParams.income_fall_share` against the months before (help is not working); else
``keep_supporting``. Households that left monitoring within `LifecycleParams.exited_window_months`
are watched: `relapse_watch` marks the highest-probability share of them ``relapse_risk``, the others
``stable``. Pure functions of the tables and the month; no clock, no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.lines import MonitoringLines
from features.contract.tables import Tables

#: Columns of ``lifecycle.parquet`` (INTERFACE.md v2).
LIFECYCLE_COLUMNS: tuple[str, ...] = (
    "household_id",
    "month",
    "stage",
    "months_in_stage",
    "status",
    "probability",
    "reason_zh",
    "evidence",
)
#: Extra column kept for the sheet and the page: the exit conditions not yet met.
MISSING_COLUMN = "missing_zh"
STATUS_LABELS_ZH: dict[str, str] = {
    "ready_to_exit": "可考虑消除风险",
    "keep_supporting": "继续帮扶",
    "worsening": "风险加重",
    "relapse_risk": "消除后返贫风险",
    "stable": "稳定",
}
STAGE_LABELS_ZH: dict[str, str] = {"monitored": "监测中", "exited": "已消除风险"}
CONDITIONS: tuple[str, ...] = (
    "income_stable",
    "no_rigid_shock",
    "secure_basics",
    "assistance_delivered",
)
CONDITION_LABELS_ZH: dict[str, str] = {
    "income_stable": "收入稳定超过监测线",
    "no_rigid_shock": "刚性支出问题已解决",
    "secure_basics": "三保障和饮水安全",
    "assistance_delivered": "已落实帮扶措施",
}
_INCOME_PARTS = ("wage_income", "business_income", "property_income", "transfer_income")


@dataclass(frozen=True)
class LifecycleParams:
    """Exit conditions and the relapse watch (``[lifecycle]`` in risk.toml; defaults from DOMAIN.md).

    Attributes
    ----------
    stable_income_months
        The household's latest income records (months) that must all be above the line (about
        half a year).
    income_lookback_months
        Months back, the month itself included, in which those records are looked for.
    medical_oop_limit
        Medical out-of-pocket (yuan, summed over those months) at or above which the rigid expense
        is not resolved (the 医保 push amount for 脱贫户).
    shock_events
        Event kinds that count as a rigid-spending shock.
    worsening_months
        Recent months in which a new shock or an income fall means ``worsening``.
    income_fall_share
        Fall of the recent months' income against the months before that counts as falling income.
    exited_window_months
        Households whose risk was eliminated within this many months are watched.
    relapse_share, relapse_capacity
        Share of the watched households marked ``relapse_risk`` (highest probability first), or a
        fixed number of them when a capacity is given.
    """

    stable_income_months: int = 6
    income_lookback_months: int = 12
    medical_oop_limit: float = 5000.0
    shock_events: tuple[str, ...] = ("自然灾害", "家庭成员死亡", "房屋损毁", "意外事故")
    worsening_months: int = 3
    income_fall_share: float = 0.2
    exited_window_months: int = 24
    relapse_share: float = 0.1
    relapse_capacity: int | None = None


# --- who is where ----------------------------------------------------------------------------------


def lifecycle_households(
    outcomes: pd.DataFrame | None, *, month: pd.Period, window: int
) -> pd.DataFrame:
    """Households monitored in `month`, and those whose risk was eliminated in the last `window` months.

    Returns
    -------
    pd.DataFrame
        ``household_id`` (str), ``stage`` (``monitored``/``exited``), ``since`` (the identification
        month of the open episode, or the elimination month) and ``months_in_stage`` (months from
        `since` to `month`), sorted by id.

    Examples
    --------
    >>> outcomes = pd.DataFrame({
    ...     "household_id": ["H1", "H2", "H3"],
    ...     "identified_month": pd.PeriodIndex(["2025-01", "2024-01", "2020-01"], freq="M"),
    ...     "eliminated_month": pd.PeriodIndex([None, "2025-06", "2021-01"], freq="M"),
    ... })
    >>> lifecycle_households(outcomes, month=pd.Period("2026-01", "M"), window=24)[
    ...     ["household_id", "stage", "months_in_stage"]].values.tolist()
    [['H1', 'monitored', 12], ['H2', 'exited', 7]]
    """
    empty = pd.DataFrame({"household_id": [], "stage": [], "since": [], "months_in_stage": []})
    if outcomes is None or outcomes.empty:
        return empty.astype({"months_in_stage": int})
    eliminated = (
        _months(outcomes["eliminated_month"])
        if "eliminated_month" in outcomes.columns
        else pd.Series(pd.NaT, index=outcomes.index).dt.to_period("M")
    )
    frame = pd.DataFrame(
        {
            "household_id": outcomes["household_id"].astype(str).to_numpy(),
            "identified": _months(outcomes["identified_month"]).to_numpy(),
            "eliminated": eliminated.to_numpy(),
        }
    )
    frame = frame.loc[frame["identified"] <= month]
    known = frame["eliminated"].notna()
    closed = known & (frame["eliminated"].where(known, month + 1) <= month)
    open_ = frame.loc[~closed].groupby("household_id")["identified"].max()
    ended = frame.loc[closed].groupby("household_id")["eliminated"].max()
    ended = ended.loc[~ended.index.isin(open_.index)]
    ended = ended.loc[[(month - p).n < window for p in ended]]
    rows = [("monitored", open_), ("exited", ended)]
    parts = [
        pd.DataFrame({"household_id": s.index, "stage": stage, "since": s.to_numpy()})
        for stage, s in rows
        if len(s)
    ]
    if not parts:
        return empty.astype({"months_in_stage": int})
    out = pd.concat(parts, ignore_index=True).sort_values("household_id", kind="mergesort")
    out["months_in_stage"] = [(month - p).n for p in out["since"]]
    return out.reset_index(drop=True)


# --- the exit conditions ---------------------------------------------------------------------------


def monthly_income_per_capita(
    tables: Tables, household_ids: Sequence[str], *, month: pd.Period, months: int
) -> pd.DataFrame:
    """Net income per person, annualised (× 12), of each reported month of the last `months`.

    Returns a frame ``household_id``, ``month`` (period), ``per_capita``; one row per income record
    of the households in the window (months up to `month`).
    """
    columns: dict[str, list[object]] = {"household_id": [], "month": [], "per_capita": []}
    if tables.income is None or not len(household_ids):
        return pd.DataFrame(columns)
    income = tables.income
    ids = income["household_id"].astype(str)
    periods = _months(income["month"])
    inside = ids.isin(set(household_ids)) & (periods <= month) & (periods > month - months)
    rows = income.loc[inside]
    net = sum(rows[p].fillna(0.0).astype(float) for p in _INCOME_PARTS if p in rows.columns)
    if "business_expense" in rows.columns:
        net = net - rows["business_expense"].fillna(0.0).astype(float)
    frame = pd.DataFrame(
        {"household_id": ids.loc[inside].to_numpy(), "month": periods.loc[inside].to_numpy()}
    )
    frame["net"] = np.asarray(net, dtype=float) if len(rows) else np.zeros(0)
    frame = frame.groupby(["household_id", "month"], as_index=False)["net"].sum()
    size = household_size(tables.members, month=month).reindex(frame["household_id"]).to_numpy()
    frame["per_capita"] = frame["net"].to_numpy() * 12.0 / size
    return frame.drop(columns="net")


def household_size(members: pd.DataFrame, *, month: pd.Period) -> pd.Series:
    """Members born in or before `month` (or of unknown birth) per household id."""
    birth = pd.to_datetime(members.get("birth_date"), errors="coerce")
    if birth is None:
        born = pd.Series(True, index=members.index)
    else:
        born = birth.isna() | (birth.dt.to_period("M") <= month)
    counts = members.loc[born.to_numpy(), "household_id"].astype(str).value_counts()
    return counts.astype(float)


def income_condition(
    per_capita: pd.DataFrame,
    households: pd.DataFrame,
    *,
    lines: MonitoringLines,
    month: pd.Period,
    months: int,
) -> pd.DataFrame:
    """``income_stable`` with its evidence and what is missing, per household of `households`.

    The household's last `months` income records (of `per_capita`, `monthly_income_per_capita`'s
    frame over the look-back) must all be above the line of their month; fewer records than
    `months` is not stable. `households` has ``household_id`` and ``county``.
    """
    ids = households["household_id"].astype(str)
    county = households.set_index(ids)["county"].astype(str)
    frame = per_capita.loc[per_capita["household_id"].isin(set(ids))]
    frame = frame.sort_values(["household_id", "month"], kind="mergesort")
    frame = frame.groupby("household_id").tail(months).copy()
    frame["line"] = _line_of_months(frame, county, lines)
    frame["above"] = frame["per_capita"] > frame["line"]
    grouped = frame.groupby("household_id")
    reported = grouped.size().reindex(ids, fill_value=0).to_numpy()
    above = grouped["above"].sum().reindex(ids, fill_value=0).to_numpy()
    lowest = grouped["per_capita"].min().reindex(ids).to_numpy()
    line_now = lines.lookup(county.reindex(ids).reset_index(drop=True), month.year)
    met = (reported >= months) & (above >= months)
    evidence = [
        f"最近{r}个月收入记录中{a}个月人均收入高于监测线；最低月人均（年化）"
        f"{_yuan(low)}，监测线{_yuan(line)}"
        if r
        else "近期无收入记录"
        for r, a, low, line in zip(reported, above, lowest, line_now, strict=True)
    ]
    missing = [
        ""
        if ok
        else (
            f"近期收入记录不足{months}个月（仅{r}个月）"
            if r < months
            else f"有{r - a}个月人均收入未超过监测线"
        )
        for ok, r, a in zip(met, reported, above, strict=True)
    ]
    return _condition("income_stable", ids, met, evidence, missing)


def shock_condition(
    tables: Tables,
    household_ids: pd.Series,
    *,
    month: pd.Period,
    months: int,
    params: LifecycleParams,
) -> pd.DataFrame:
    """``no_rigid_shock``: medical out-of-pocket under the limit and no shock event in the window."""
    ids = household_ids.astype(str)
    starts = pd.Series(month - months + 1, index=pd.Index(ids, name="household_id"))
    oop = _medical_oop(tables, starts, month=month)
    events = _shock_events(tables, starts, month=month, params=params)
    met = (oop < params.medical_oop_limit) & (np.asarray(events, dtype=object) == "")
    evidence = [
        f"近{months}个月医疗自付{_yuan(o)}" + (f"；{e}" if e else "；无重大突发事件")
        for o, e in zip(oop, events, strict=True)
    ]
    missing = [
        ""
        if ok
        else "；".join(
            part
            for part in (
                f"医疗自付{_yuan(o)}未低于{_yuan(params.medical_oop_limit)}"
                if o >= params.medical_oop_limit
                else "",
                f"发生{e}" if e else "",
            )
            if part
        )
        for ok, o, e in zip(met, oop, events, strict=True)
    ]
    return _condition("no_rigid_shock", ids, met, evidence, missing)


def basics_condition(tables: Tables, household_ids: pd.Series, *, month: pd.Period) -> pd.DataFrame:
    """``secure_basics``: safe house, safe water, members insured — from the export-month snapshot.

    The snapshot describes `tables.export_month` only: for an earlier month the condition is not
    met and the missing text says it cannot be verified for that month.
    """
    ids = household_ids.astype(str)
    if month != tables.export_month:
        text = f"住房、饮水、医保信息只反映{tables.export_month}的情况，无法核实{month}的状况"
        return _condition(
            "secure_basics", ids, np.zeros(len(ids), bool), [""] * len(ids), [text] * len(ids)
        )
    snapshot = tables.households.set_index(tables.households["household_id"].astype(str))
    house = _flag(snapshot, "dangerous_house", ids)
    water = _flag(snapshot, "safe_water", ids)
    insured = _all_insured(tables.members, ids)
    checks = (
        ("住房安全", house == 0, house == 1, "危房"),
        ("饮水安全", water == 1, water == 0, "未解决安全饮水"),
        ("全员参加基本医保", insured == 1, insured == 0, "有成员未参加基本医保"),
    )
    met = np.all([ok for _, ok, _, _ in checks], axis=0)
    evidence, missing = [], []
    for i in range(len(ids)):
        evidence.append("；".join(label for label, ok, _, _ in checks if ok[i]))
        missing.append(
            "；".join(
                bad_text if bad[i] else f"{label}情况未知"
                for label, ok, bad, bad_text in checks
                if not ok[i]
            )
        )
    return _condition("secure_basics", ids, met, evidence, missing)


def assistance_condition(
    tables: Tables, households: pd.DataFrame, *, month: pd.Period
) -> pd.DataFrame:
    """``assistance_delivered``: assistance records from the identification month (``since``) on."""
    ids = households["household_id"].astype(str)
    starts = pd.Series(households["since"].to_numpy(), index=pd.Index(ids, name="household_id"))
    rows = _window_rows(tables.assistance, "month", starts, month=month)
    delivered: dict[str, list[str]] = {}
    if rows is not None:
        texts = rows["type"].astype(str) + "（" + rows["_month"].astype(str) + "）"
        for h, group in texts.groupby(rows["_household"]):
            delivered[str(h)] = list(group)
    met = np.array([h in delivered for h in ids])
    evidence = [
        f"识别后帮扶{len(delivered[h])}次：" + "、".join(sorted(delivered[h])[-3:])
        if h in delivered
        else ""
        for h in ids
    ]
    missing = ["" if ok else "识别后尚无帮扶措施记录" for ok in met]
    return _condition("assistance_delivered", ids, met, evidence, missing)


def worsening_signs(
    tables: Tables,
    households: pd.DataFrame,
    per_capita: pd.DataFrame,
    *,
    month: pd.Period,
    params: LifecycleParams,
) -> pd.Series:
    """Why each monitored household is worsening ('' if not): a new shock or a fall of income.

    Only what happened after the identification month counts (the shock that led to monitoring is
    what the help answers).
    """
    ids = households["household_id"].astype(str)
    recent = month - params.worsening_months + 1
    starts = pd.Series(
        [max(recent, s + 1) for s in households["since"]],
        index=pd.Index(ids, name="household_id"),
    )
    oop = _medical_oop(tables, starts, month=month)
    events = _shock_events(tables, starts, month=month, params=params)
    falls = _income_falls(per_capita, ids, month=month, params=params)
    signs = []
    for o, event, fall in zip(oop, events, falls, strict=True):
        parts = [f"监测期间新发生{event}" if event else ""]
        if o >= params.medical_oop_limit:
            parts.append(f"监测期间新增医疗自付{_yuan(o)}")
        parts.append(fall)
        signs.append("；".join(p for p in parts if p))
    return pd.Series(signs, index=ids.to_numpy(), dtype=object)


def monitored_status(
    tables: Tables,
    households: pd.DataFrame,
    *,
    month: pd.Period,
    lines: MonitoringLines,
    params: LifecycleParams,
) -> pd.DataFrame:
    """Status of the monitored `households` (``household_id``, ``since``, ``months_in_stage``).

    Returns
    -------
    pd.DataFrame
        ``household_id``, one boolean column per `CONDITIONS`, ``status``, ``reason_zh`` (the status
        and which conditions hold), ``evidence`` (each condition's records) and ``missing_zh``.
    """
    households = households.reset_index(drop=True)
    ids = households["household_id"].astype(str)
    regions = tables.households.set_index(tables.households["household_id"].astype(str))
    with_county = pd.DataFrame(
        {"household_id": ids, "county": regions["county"].reindex(ids).astype(str).to_numpy()}
    )
    span = max(params.income_lookback_months, 2 * params.worsening_months)
    per_capita = monthly_income_per_capita(tables, list(ids), month=month, months=span)
    n = params.stable_income_months
    conditions = [
        income_condition(per_capita, with_county, lines=lines, month=month, months=n),
        shock_condition(tables, ids, month=month, months=n, params=params),
        basics_condition(tables, ids, month=month),
        assistance_condition(tables, households.assign(household_id=ids), month=month),
    ]
    merged = pd.concat(conditions, axis=1)
    merged.index = ids.to_numpy()
    ready = merged[list(CONDITIONS)].all(axis=1).to_numpy()
    worse = (
        worsening_signs(
            tables, households.assign(household_id=ids), per_capita, month=month, params=params
        )
        .reindex(ids)
        .to_numpy()
    )
    status = np.where(worse != "", "worsening", np.where(ready, "ready_to_exit", "keep_supporting"))
    out = merged[list(CONDITIONS)].reset_index(names="household_id")
    out["status"] = status
    held = zip(*(merged[c].to_numpy(bool) for c in CONDITIONS), strict=True)
    out["reason_zh"] = [
        _monitored_reason(s, dict(zip(CONDITIONS, flags, strict=True)), w)
        for s, flags, w in zip(status, held, worse, strict=True)
    ]
    evidence = zip(*(merged[f"{c}_evidence"].tolist() for c in CONDITIONS), strict=True)
    out["evidence"] = [
        "；".join(
            f"{CONDITION_LABELS_ZH[c]}：{text}"
            for c, text in zip(CONDITIONS, texts, strict=True)
            if text
        )
        for texts in evidence
    ]
    missing = zip(*(merged[f"{c}_missing"].tolist() for c in CONDITIONS), strict=True)
    out[MISSING_COLUMN] = ["；".join(text for text in texts if text) for texts in missing]
    return out


# --- the relapse watch -----------------------------------------------------------------------------


def relapse_watch(probability: pd.Series, *, params: LifecycleParams) -> pd.Series:
    """``relapse_risk`` for the highest-probability exited households, ``stable`` for the others.

    The list size is `params.relapse_capacity` when given, else `params.relapse_share` of the
    watched households (rounded up when any is watched); ties are broken by household id so the
    list is the same on every run.
    """
    ids = probability.index.astype(str)
    if params.relapse_capacity is not None:
        size = params.relapse_capacity
    else:
        size = int(np.ceil(params.relapse_share * len(ids)))
    order = pd.DataFrame({"p": probability.to_numpy(dtype=float), "h": ids}).sort_values(
        ["p", "h"], ascending=[False, True], kind="mergesort"
    )
    chosen = set(order["h"].iloc[: max(size, 0)])
    return pd.Series(
        ["relapse_risk" if h in chosen else "stable" for h in ids], index=ids, dtype=object
    )


def relapse_baseline(
    tables: Tables,
    household_ids: Sequence[str],
    *,
    month: pd.Period,
    lines: MonitoringLines,
    multiple: float = 1.1,
) -> pd.Series:
    """The rule baseline: per-capita income of the last 12 months below `multiple` × the line."""
    ids = pd.Index([str(h) for h in household_ids])
    per_capita = monthly_income_per_capita(tables, list(ids), month=month, months=12)
    mean = per_capita.groupby("household_id")["per_capita"].mean().reindex(ids)
    regions = tables.households.set_index(tables.households["household_id"].astype(str))
    county = regions["county"].reindex(ids).astype(str).reset_index(drop=True)
    line = lines.lookup(county, month.year)
    return pd.Series(mean.to_numpy() < multiple * line, index=ids)


# --- small parts -----------------------------------------------------------------------------------


def _condition(
    name: str,
    ids: pd.Series,
    met: np.ndarray,
    evidence: Sequence[str],
    missing: Sequence[str],
) -> pd.DataFrame:
    return pd.DataFrame(
        {name: np.asarray(met, bool), f"{name}_evidence": evidence, f"{name}_missing": missing},
        index=ids.to_numpy(),
    )


def _monitored_reason(status: str, row: Mapping[str, bool], worse: str) -> str:
    held = [CONDITION_LABELS_ZH[c] for c in CONDITIONS if row[c]]
    lacking = [CONDITION_LABELS_ZH[c] for c in CONDITIONS if not row[c]]
    if status == "worsening":
        return f"{STATUS_LABELS_ZH[status]}：{worse}，帮扶措施效果不明显"
    if status == "ready_to_exit":
        return f"{STATUS_LABELS_ZH[status]}：" + "、".join(held) + "均已满足"
    return f"{STATUS_LABELS_ZH[status]}：尚未满足" + "、".join(lacking)


def _income_falls(
    per_capita: pd.DataFrame, ids: pd.Series, *, month: pd.Period, params: LifecycleParams
) -> list[str]:
    """Per household, the fall of the recent months' income against the months before ('' if none).

    Both spans must be fully reported; a fall counts above `params.income_fall_share`.
    """
    k = params.worsening_months
    recent = per_capita.loc[per_capita["month"] > month - k]
    before = per_capita.loc[
        (per_capita["month"] <= month - k) & (per_capita["month"] > month - 2 * k)
    ]
    stats = pd.DataFrame(
        {
            "recent": recent.groupby("household_id")["per_capita"].mean(),
            "n_recent": recent.groupby("household_id").size(),
            "before": before.groupby("household_id")["per_capita"].mean(),
            "n_before": before.groupby("household_id").size(),
        }
    ).reindex(ids.to_numpy())
    out = []
    for r, nr, b, nb in stats.itertuples(index=False):
        if not (nr >= k and nb >= k and b > 0 and 1.0 - r / b > params.income_fall_share):
            out.append("")
            continue
        out.append(
            f"近{k}个月人均收入（年化）{_yuan(r)}，比前{k}个月的{_yuan(b)}下降{1.0 - r / b:.0%}"
        )
    return out


def _window_rows(
    table: pd.DataFrame | None, date_column: str, starts: pd.Series, *, month: pd.Period
) -> pd.DataFrame | None:
    """Rows of `table` of the households of `starts` (id → first month) dated from it to `month`."""
    if table is None:
        return None
    own = table["household_id"].astype(str)
    periods = _months(table[date_column])
    keep = own.isin(starts.index) & (periods <= month)
    rows = table.loc[keep.to_numpy()].assign(_household=own[keep], _month=periods[keep])
    first = rows["_household"].map(starts)
    return rows.loc[(rows["_month"] >= first).to_numpy()]


def _medical_oop(tables: Tables, starts: pd.Series, *, month: pd.Period) -> np.ndarray:
    """Medical out-of-pocket per household of `starts` (id → first month), up to `month`."""
    medical = tables.medical
    if medical is not None and len(starts):
        # the window first: mapping every claim of every year to its household costs seconds
        settled = _months(medical["settle_date"])
        medical = medical.loc[((settled >= starts.min()) & (settled <= month)).to_numpy()]
    if medical is not None and "household_id" not in medical.columns:
        # claims name the person; the members table places the person in a household
        person = tables.members.drop_duplicates("person_id").set_index("person_id")["household_id"]
        medical = medical.assign(household_id=medical["person_id"].map(person))
        medical = medical.loc[medical["household_id"].notna().to_numpy()]
    rows = _window_rows(medical, "settle_date", starts, month=month)
    if rows is None:
        return np.zeros(len(starts))
    totals = rows["out_of_pocket"].astype(float).groupby(rows["_household"]).sum()
    return totals.reindex(starts.index, fill_value=0.0).to_numpy(dtype=float)


def _shock_events(
    tables: Tables, starts: pd.Series, *, month: pd.Period, params: LifecycleParams
) -> list[str]:
    """The shock events per household of `starts` (id → first month), described ('' when none)."""
    rows = _window_rows(tables.events, "date", starts, month=month)
    if rows is None:
        return [""] * len(starts)
    rows = rows.loc[rows["event_type"].astype(str).isin(params.shock_events).to_numpy()]
    described = (
        (rows["event_type"].astype(str) + "（" + rows["_month"].astype(str) + "）")
        .groupby(rows["_household"])
        .agg(lambda texts: "、".join(sorted(texts)))
    )
    return [str(v) for v in described.reindex(starts.index, fill_value="")]


def _line_of_months(frame: pd.DataFrame, county: pd.Series, lines: MonitoringLines) -> np.ndarray:
    out = np.full(len(frame), np.nan)
    if frame.empty:
        return out
    years = np.array([p.year for p in frame["month"]])
    counties = county.reindex(frame["household_id"]).reset_index(drop=True)
    for year in np.unique(years):
        rows = np.flatnonzero(years == year)
        out[rows] = lines.lookup(counties.iloc[rows].reset_index(drop=True), int(year))
    return out


def _flag(snapshot: pd.DataFrame, column: str, ids: pd.Series) -> np.ndarray:
    """1.0 / 0.0 / NaN (unknown) of a boolean snapshot column, per household."""
    if column not in snapshot.columns:
        return np.full(len(ids), np.nan)
    values = snapshot[column].reindex(ids.to_numpy())
    return np.array([np.nan if pd.isna(v) else float(bool(v)) for v in values])


def _all_insured(members: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """1.0 when every member is insured, 0.0 when one is not, NaN when unknown."""
    if "medical_insured" not in members.columns:
        return np.full(len(ids), np.nan)
    own = members["household_id"].astype(str)
    values = members["medical_insured"]
    insured = values.map(lambda v: np.nan if pd.isna(v) else float(bool(v)))
    worst = insured.groupby(own).min()
    return worst.reindex(ids.to_numpy()).to_numpy(dtype=float)


def _months(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.PeriodDtype):
        return values
    return pd.to_datetime(values).dt.to_period("M")


def _yuan(amount: float) -> str:
    if amount is None or pd.isna(amount):
        return "—"
    return f"{amount:,.0f}元"
