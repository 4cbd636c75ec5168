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

The rule is the same for every scenario and cause; with every feed sent (every scenario but
``sparse``) it changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

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
#: Every feed of the contract a county can be sent.
FEEDS: tuple[str, ...] = (
    "households",
    "members",
    "income",
    "medical",
    "disability",
    "employment",
    "assistance",
    "events",
)


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
    effect = visible_effect(state.effect[households], shown)
    size = np.maximum(state.hi[households, L.SIZE], 1)
    need = line * size
    inc12 = state.inc_ring[households].sum(axis=1)
    rig12 = state.rig_ring[households].sum(axis=1)
    coping = state.hf[households, L.BUFFER] + 12.0 * state.hf[households, L.HELP]
    eff12 = inc12 - np.maximum(0.0, rig12 - coping)
    monthly = np.maximum(inc12, need) / 12.0
    top = effect.argmax(axis=1)
    shock = effect[np.arange(len(households)), top] >= SHOCK_MONTHS * monthly
    near = np.minimum(inc12, eff12) < NEAR_LINE * need
    disabled = _severely_disabled(state)[households]
    return np.select(
        [shock, near & disabled, near],
        [top, L.E_DISABILITY, LOW_INCOME],
        OTHER,
    ).astype(np.int8)


def _severely_disabled(state: State) -> np.ndarray:
    """Households with a living member of disability grade 1 or 2."""
    pi = state.pi
    severe = (pi[:, L.ALIVE] == 1) & ((pi[:, L.DIS] == 1) | (pi[:, L.DIS] == 2))
    return np.bincount(pi[:, L.HH], weights=severe, minlength=len(state.hi)) > 0


def cause_names(codes: np.ndarray) -> np.ndarray:
    """Cause names of cause codes."""
    return np.array(CAUSES, dtype=object)[np.asarray(codes, dtype=np.int64)]
