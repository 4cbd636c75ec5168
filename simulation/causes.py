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
"""

from __future__ import annotations

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


def true_cause(state: State, households: np.ndarray, *, line: float) -> np.ndarray:
    """Cause code (index into `CAUSES`) of each of `households` at the end of the state's month.

    Parameters
    ----------
    state
        The hidden state at the end of the month.
    households
        Household rows.
    line
        The monitoring line in force that month (yuan per person per year).

    Returns
    -------
    numpy.ndarray
        int8 codes, one per household row given.
    """
    effect = state.effect[households]
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
