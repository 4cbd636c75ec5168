"""The true visible cause of each household's situation in a month, decided from the hidden state.

The vocabulary is INTERFACE.md's (version 2), one everywhere: `illness`, `disability`, `schooling`,
`work` (job or wage loss), `disaster`, `business`, `death`, `low_income` (chronically low income, no
shock), `other`.

How the step books shocks
-------------------------
Every month the step adds each shock's money effect on the household to `State.effect[h, cause]`
after multiplying last month's values by `EFFECT_DECAY` (0.85: a shock weighs half as much after
about four months). The effects booked are:

==========  =========================================================================================
illness     medical out-of-pocket (stays, chronic disease, outpatient, accidents' treatment); the
            quarter of the wages given up to look after a seriously ill member; for 12 months, the
            wage of a spell that ended because its worker fell seriously ill (while not working again)
disability  for 12 months, the wage of a spell that ended because its worker became unable to work
            through disability
schooling   high-school, vocational and college costs
work        for 12 months, the wage of a spell lost while its worker could still work (until a new
            spell starts); migrant pay cut in a downturn
disaster    the farm income of months whose crop a disaster destroyed; house repairs
business    the loss of a failed business, then for 12 months the business income it no longer earns
death       funeral costs; for 12 months, the wages of members who died
==========  =========================================================================================

The rule
--------
With E the household's booked effects at the end of the month, its monthly income scale
m = max(true 12-month income, the line × members) / 12, and "near the line" meaning the true
12-month income, or that income less the rigid spending its hidden savings and help cannot absorb,
below `NEAR_LINE` × the line × members:

1. the cause with the largest E, if that E is at least `SHOCK_MONTHS` × m (a shock worth at least
   a month of the household's income, decayed) — the shock that pushed it towards the line;
2. otherwise, near the line with a member severely disabled (grade 1–2): `disability`;
3. otherwise, near the line: `low_income` (including households short of labour);
4. otherwise `other`.

The cause is defined for every household, identified later or not; the truth writes it for the
households and months it gives `p_true` for.

Only what the feeds can show
----------------------------
The truth's cause is the *visible* cause: what a reviewer could name from the records the county
receives. Each shock cause is named by some feeds (`NAMED_BY`: illness by medical claims, a death
or a disaster by the events feed, …). When a scenario sends none of a cause's naming feeds (the
``sparse`` county has no events feed), its booked effect is not that cause's before rule 1:

- it counts for the cause its money shows as in a feed the county does receive (`SHOWN_AS`: a
  disaster's destroyed crop is a fall of farm income, which the income checks record as 经营净收入
  — the vocabulary's ``business``, a farm or business income fall);
- otherwise it is dropped: a death without an events feed is in no record (the members table lists
  the living only; no assistance is paid for it before identification), so such a household's cause
  is whatever else is visible — a visible shock, its disability or low income near the line, or
  ``other`` (nothing visible).

This mapping is the same for every scenario and cause; with every feed sent (every scenario but
``sparse``) it changes nothing.

Dated by the record that shows it
---------------------------------
A shock is visible only from the month the county *holds* a record that shows it, not from the
hidden shock's month: claims settled quarterly, income checks twice a year and late, a certificate
issued after the disability stopped the work leave months in which no reason can name the shock.
So the effects are booked month by month (`new_bookings`), and every booking belongs to an episode of
its cause in its household (bookings at most `EPISODE_GAP` months apart), which spans the months from
its first booking to its last. An episode is visible from the month the county holds the first record
that shows its cause (`SHOWN_BY`):

- a record that is itself the event — a claim, an ended spell, a 失业/意外事故/disaster/death/business
  event — dated no earlier than `RECORD_LEAD` month before the episode began (whenever after);
- a record that speaks of the one month it is dated (`OF_THEIR_MONTH`: an income check records that
  month's income) only when dated within the episode's span, from its first booking to its last: a
  check of a month in which the episode moved no money records nothing of it (a crop lost in August
  is not in the ordinary December a half-yearly check records, if the loss ended before). Neither
  end takes a lead: the money booked in a month is that month's income lost (a wage, a harvest, a
  business's takings) or spent, so the check of the first or last booked month records it and the
  check of the month before or after does not (the check of the month a spell ended still records
  its wage; `RECORD_LEAD` is for the spell's end itself, an event record);
- for a `STANDING` cause, any record of it whenever dated (a certificate; the members table's school
  stages, always held).

Until then its bookings, decayed as the step decays them, are taken out of E before the rule
(`hidden_effect`), and the household-month falls to the next visible cause, its disability or low
income near the line, or ``other``. Records the county never received (before the written months,
or in a feed it is not sent) show nothing. The same rule holds for every scenario and cause
(`dated_bookings`); the simulation applies it once the feeds are built (`simulation.engine`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from features.contract.tables import TABLE_NAMES
from simulation import layout as L
from simulation.dynamics import State

#: A shock counts when its decayed effect reaches this many months of the household's income.
SHOCK_MONTHS = 1.0
#: A household is near the line below this multiple of it (true income, before or after rigid
#: spending its hidden coping cannot absorb).
NEAR_LINE = 1.5

CAUSES = L.CAUSES
LOW_INCOME = CAUSES.index("low_income")
OTHER = CAUSES.index("other")
#: The feeds whose records name each shock cause (any one of them suffices): a reviewer can say
#: 因病 from claims, 因残 from certificates, 因学 from the members' school stages, a job or wage
#: loss from spells or income checks, a disaster or a death only from the events feed, a business
#: failure from the events feed or the business income of the income checks.
NAMED_BY: Mapping[str, tuple[str, ...]] = {
    "illness": ("medical",),
    "disability": ("disability",),
    "schooling": ("members",),
    "work": ("employment", "income"),
    "disaster": ("events",),
    "business": ("events", "income"),
    "death": ("events",),
}
#: Where a cause's money still shows when none of its naming feeds is sent: (feed, cause it reads
#: as). A disaster's lost crop is a fall of the farm income the income checks record.
SHOWN_AS: Mapping[str, tuple[str, str]] = {"disaster": ("income", "business")}
#: Every feed of the contract a county can be sent (its tables but the outcomes, which are not a feed).
FEEDS: tuple[str, ...] = tuple(name for name in TABLE_NAMES if name != "outcomes")


def visible_as(feeds: Collection[str]) -> np.ndarray:
    """For each effect column, the cause code its shock is visible as given the feeds sent.

    Itself when one of its `NAMED_BY` feeds is sent; else the `SHOWN_AS` cause when that feed is
    sent; else -1 (hidden: in no record the county receives).

    >>> visible_as(FEEDS).tolist()
    [0, 1, 2, 3, 4, 5, 6]
    >>> visible_as([f for f in FEEDS if f != "events"]).tolist()
    [0, 1, 2, 3, 5, 5, -1]
    """
    sent = set(feeds)
    out = np.full(L.N_EFFECT, -1, dtype=np.int64)
    for column, cause in enumerate(CAUSES[: L.N_EFFECT]):
        if sent & set(NAMED_BY[cause]):
            out[column] = column
        elif cause in SHOWN_AS and SHOWN_AS[cause][0] in sent:
            out[column] = CAUSES.index(SHOWN_AS[cause][1])
    return out


def visible_effect(effect: np.ndarray, shown: np.ndarray | None) -> np.ndarray:
    """The booked effects (rows × effect columns) as the feeds show them (`visible_as`).

    Returned unchanged (the same array) when every cause is visible as itself.
    """
    if shown is None or (shown == np.arange(L.N_EFFECT)).all():
        return effect
    out = np.zeros_like(effect)
    for column, target in enumerate(shown):
        if target >= 0:
            out[:, target] += effect[:, column]
    return out


def true_cause(
    state: State, households: np.ndarray, *, line: float, shown: np.ndarray | None = None
) -> np.ndarray:
    """Cause code (index into `CAUSES`) of each of `households` at the end of the state's month.

    Every booked effect counts, whether or not a record shows it yet (`dated_cause` applies the
    records' dates).

    Parameters
    ----------
    state
        The hidden state at the end of the month.
    households
        Household rows.
    line
        The monitoring line in force that month (yuan per person per year).
    shown
        `visible_as` of the feeds the county is sent (None: every feed, each cause visible).

    Returns
    -------
    numpy.ndarray
        int8 codes, one per household row given.
    """
    return decide(*cause_inputs(state, households, line=line, shown=shown))


def cause_inputs(
    state: State, households: np.ndarray, *, line: float, shown: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the rule reads for `households` at the end of the state's month.

    Returns
    -------
    tuple of numpy.ndarray
        The booked effects as the feeds show them (rows × effect columns), the size a shock must
        reach (`SHOCK_MONTHS` months of income, yuan) and the cause without a shock
        (``disability``, ``low_income`` or ``other`` by rules 2–4).
    """
    effect = visible_effect(state.effect[households], shown)
    size = np.maximum(state.hi[households, L.SIZE], 1)
    need = line * size
    inc12 = state.inc_ring[households].sum(axis=1)
    rig12 = state.rig_ring[households].sum(axis=1)
    coping = state.hf[households, L.BUFFER] + 12.0 * state.hf[households, L.HELP]
    eff12 = inc12 - np.maximum(0.0, rig12 - coping)
    monthly = np.maximum(inc12, need) / 12.0
    near = np.minimum(inc12, eff12) < NEAR_LINE * need
    disabled = _severely_disabled(state)[households]
    fallback = np.select([near & disabled, near], [L.E_DISABILITY, LOW_INCOME], OTHER)
    return effect, SHOCK_MONTHS * monthly, fallback


def decide(effect: np.ndarray, threshold: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Rule 1 on the effects (the largest, if it reaches `threshold`), else `fallback` (int8)."""
    top = effect.argmax(axis=1)
    shock = effect[np.arange(len(effect)), top] >= threshold
    return np.where(shock, top, fallback).astype(np.int8)


def _severely_disabled(state: State) -> np.ndarray:
    """Households with a living member of disability grade 1 or 2."""
    pi = state.pi
    severe = (pi[:, L.ALIVE] == 1) & ((pi[:, L.DIS] == 1) | (pi[:, L.DIS] == 2))
    return np.bincount(pi[:, L.HH], weights=severe, minlength=len(state.hi)) > 0


def cause_names(codes: np.ndarray) -> np.ndarray:
    """Cause names of cause codes."""
    return np.array(CAUSES, dtype=object)[np.asarray(codes, dtype=np.int64)]


# --- dating each shock by the first record that shows it ------------------------------------

#: Bookings of one cause in one household at most this many months apart are one episode.
EPISODE_GAP = 2
#: A record dated this many months before an episode's first booking still belongs to it (a spell
#: ends in the month before the lost wage is first booked).
RECORD_LEAD = 1
#: Never (a cause no record shows) and always (a cause the snapshot shows), as month indices.
NEVER = 10**9
ALWAYS = -(10**9)
#: The records that show each cause, as (feed, event type or None for every row of the feed).
#: A claim shows illness; an ended spell, an income check or a 失业 event a job or wage loss; an
#: income check or a 产业项目失败 event a business (or farm) income fall; the events feed a
#: disaster or a death. Certificates show a disability from their date on and the members table
#: shows the school stages (`STANDING`).
SHOWN_BY: Mapping[str, tuple[tuple[str, str | None], ...]] = {
    "illness": (("medical", None), ("events", "意外事故")),
    "disability": (("disability", None),),
    "schooling": (("members", None),),
    "work": (("employment", None), ("income", None), ("events", "失业")),
    "disaster": (("events", "自然灾害"), ("events", "房屋损毁")),
    "business": (("income", None), ("events", "产业项目失败")),
    "death": (("events", "家庭成员死亡"),),
}
#: Causes whose record shows them for as long as it stands, whenever it was dated.
STANDING = frozenset({"disability", "schooling"})
#: Feeds whose records speak of the one month they are dated (an income check records that month's
#: income): such a record shows an episode only when dated within the episode's booked span.
OF_THEIR_MONTH = frozenset({"income"})


def new_bookings(
    before: np.ndarray, after: np.ndarray, *, decay: float, shown: np.ndarray | None
) -> np.ndarray:
    """This month's newly booked money (households × effect columns), as the feeds show it.

    `before` and `after` are `State.effect` before and after the month's step, which multiplies
    the old effects by `decay` and adds the month's; columns follow `visible_as` (`shown`).
    """
    booked = np.maximum(after - decay * before, 0.0)
    return visible_effect(booked, shown)


def record_dates(
    ledgers: Mapping[str, pd.DataFrame],
    *,
    household_row: pd.Index,
    person_household: pd.Series,
    start_ordinal: int,
) -> dict[int, pd.DataFrame]:
    """For each cause code, the records that show it: `household, dated, known, of_month`.

    `dated` is the month the record speaks of (a claim's settlement, an income check's month, a
    spell's end, an event's date) and `known` the month from which the county holds it (the
    ledgers' `_known_t`: a half-yearly check of an earlier month arrives late), both month indices;
    `of_month` marks records that speak of that one month only (`OF_THEIR_MONTH`). Feeds the county
    is not sent are absent from `ledgers` and show nothing.
    """
    out: dict[int, pd.DataFrame] = {}
    for cause, sources in SHOWN_BY.items():
        parts = [
            _feed_records(ledgers, feed, kind, household_row, person_household, start_ordinal)
            for feed, kind in sources
            if feed in ledgers
        ]
        parts = [p for p in parts if len(p)]
        if parts:
            out[CAUSES.index(cause)] = pd.concat(parts, ignore_index=True)
    return out


def _feed_records(
    ledgers: Mapping[str, pd.DataFrame],
    feed: str,
    kind: str | None,
    household_row: pd.Index,
    person_household: pd.Series,
    start_ordinal: int,
) -> pd.DataFrame:
    frame = ledgers[feed]
    if kind is not None:
        frame = frame[frame["event_type"] == kind]
    known = frame["_known_t"].to_numpy(dtype=np.int64)
    if feed == "employment":  # a spell shows a job loss from its end on
        ended = frame["_end_t"].to_numpy(dtype=np.int64) < 10**5
        frame, known = frame[ended], frame["_end_t"].to_numpy(dtype=np.int64)[ended]
    if "household_id" in frame:
        household = household_row.get_indexer(frame["household_id"].astype(str))
    else:
        household = person_household.reindex(frame["person_id"].astype(str)).to_numpy()
    if feed == "income":
        dated = pd.PeriodIndex(frame["month"], freq="M").asi8 - start_ordinal
    else:
        dated = known
    found = ~pd.isna(household) & (np.asarray(household, dtype=float) >= 0)
    return pd.DataFrame(
        {
            "household": np.asarray(household, dtype=float)[found].astype(np.int64),
            "dated": np.asarray(dated, dtype=np.int64)[found],
            "known": known[found],
            "of_month": np.full(int(found.sum()), feed in OF_THEIR_MONTH),
        }
    )


def dated_bookings(booked: pd.DataFrame, records: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """`booked` (`t, household, cause, amount`) with `shown`: the month it becomes visible.

    A booking belongs to its household's episode of that cause (bookings at most `EPISODE_GAP`
    months apart), which spans its first to its last booking. It is visible from the month the
    county holds the first record of that cause dated at most `RECORD_LEAD` months before the
    episode began — or, for a record of its month only (`of_month`: an income check), dated within
    the episode's first to last booking (`STANDING` causes: any record of the household, whenever
    dated; schooling: always); `NEVER` if no record shows it.
    """
    b = booked.sort_values(["household", "cause", "t"], kind="stable").reset_index(drop=True)
    t = b["t"].to_numpy()
    key = b["household"].to_numpy() * L.N_EFFECT + b["cause"].to_numpy()
    new = np.ones(len(b), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (t[1:] - t[:-1] > EPISODE_GAP)
    episode = np.cumsum(new) - 1
    first = np.flatnonzero(new)
    last = np.append(first[1:] - 1, len(b) - 1)
    episodes = pd.DataFrame(
        {
            "household": b["household"].to_numpy()[first],
            "cause": b["cause"].to_numpy()[first],
            "began": t[first],
            "since": t[first] - RECORD_LEAD,
            "until": t[last],
        }
    )
    shown = np.full(len(episodes), NEVER, dtype=np.int64)
    for code in np.unique(episodes["cause"]):
        rows = np.flatnonzero(episodes["cause"].to_numpy() == code)
        shown[rows] = _first_shown(episodes.iloc[rows], records.get(int(code)), CAUSES[code])
    b["shown"] = shown[episode]
    return b


def _first_shown(episodes: pd.DataFrame, records: pd.DataFrame | None, cause: str) -> np.ndarray:
    """The month each episode (`household, began, since, until`) is first shown by `records`."""
    if cause == "schooling":
        return np.full(len(episodes), ALWAYS, dtype=np.int64)
    if records is None or not len(records):
        return np.full(len(episodes), NEVER, dtype=np.int64)
    if cause in STANDING:
        first = records.groupby("household")["known"].min()
        return first.reindex(episodes["household"]).fillna(NEVER).to_numpy(dtype=np.int64)
    of_month = records["of_month"].to_numpy(dtype=bool)
    return np.minimum(
        _first_held_since(episodes, records[~of_month]),
        _first_held_within(episodes, records[of_month]),
    )


def _first_held_since(episodes: pd.DataFrame, records: pd.DataFrame) -> np.ndarray:
    """The first month the county holds a record dated at or after each episode's `since`."""
    if not len(records):
        return np.full(len(episodes), NEVER, dtype=np.int64)
    r = records.sort_values(["household", "dated"], kind="stable")
    # the earliest month any record dated at or after a given one is held, per household
    held = r.iloc[::-1].groupby("household")["known"].cummin().iloc[::-1]
    r = r.assign(held=held).sort_values("dated", kind="stable")
    e = episodes.reset_index(drop=True).assign(_order=np.arange(len(episodes)))
    e = e.sort_values("since", kind="stable")
    m = pd.merge_asof(
        e,
        r[["household", "dated", "held"]],
        left_on="since",
        right_on="dated",
        by="household",
        direction="forward",
    )
    m = m.sort_values("_order")
    return m["held"].fillna(NEVER).to_numpy(dtype=np.int64)


def _first_held_within(episodes: pd.DataFrame, records: pd.DataFrame) -> np.ndarray:
    """The first month the county holds a record dated within each episode's `began..until`."""
    if not len(records):
        return np.full(len(episodes), NEVER, dtype=np.int64)
    e = episodes.reset_index(drop=True).assign(_order=np.arange(len(episodes)))
    m = e[["household", "began", "until", "_order"]].merge(
        records[["household", "dated", "known"]], on="household"
    )
    m = m[(m["dated"] >= m["began"]) & (m["dated"] <= m["until"])]
    held = m.groupby("_order")["known"].min()
    return held.reindex(np.arange(len(e))).fillna(NEVER).to_numpy(dtype=np.int64)


def hidden_effect(
    dated: pd.DataFrame, households: np.ndarray, *, t: int, decay: float, n_households: int
) -> np.ndarray:
    """The part of each household's booked effects (rows × columns) no record shows by month t."""
    out = np.zeros((len(households), L.N_EFFECT))
    sel = (dated["t"].to_numpy() <= t) & (dated["shown"].to_numpy() > t)
    if not sel.any():
        return out
    position = np.full(n_households, -1, dtype=np.int64)
    position[households] = np.arange(len(households))
    d = dated[sel]
    pos = position[d["household"].to_numpy()]
    keep = pos >= 0
    weight = d["amount"].to_numpy() * decay ** (t - d["t"].to_numpy())
    np.add.at(out, (pos[keep], d["cause"].to_numpy()[keep]), weight[keep])
    return out
