"""One month of the county: the state-step function, shared by the main path and the continuations.

`step(state, t=..., calendar=..., rng=...)` advances a `State` by one month in place and returns what
happened (claims, spells, certificates, events, income, identifications). The Monte Carlo truth runs
the very same step on a replicated copy of the state with its own random streams.

The month is computed by a compiled kernel (numba) that loops over households and their members;
everything random comes in as uniform arrays drawn with numpy from the caller's `Generator`, so the
same seed gives the same path whatever the number of continuations. What differs between scenarios
(`simulation.scenarios`) comes in as `Rules`: the scenario's parameters as arrays.

Besides moving the county on, the step books the money effect of every shock on each household in
`State.effect` (decayed by `EFFECT_DECAY` a month), from which `simulation.causes` names the true
cause; the effects never feed back into the dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numba
import numpy as np
from scipy.special import ndtri

from simulation import layout as L
from simulation.scenarios import Scenario

# Normal quantiles for cheap lognormal draws inside the kernel.
_Z = ndtri((np.arange(2048) + 0.5) / 2048)
# Monthly death hazard by age in whole years (Gompertz).
_DEATH = 0.0005 * np.exp(0.085 * (np.arange(121) + 0.5 - 30.0)) / 12.0

PROC_BASE = 0.002  # monthly hazard of a planned costly procedure at 30–40 …
PROC_AGE = 0.00006  # … rising with each year over 40
PROC_COST = 30000.0  # median total cost (yuan)
SWEEP_MONTH = 10  # the concentrated yearly 排查 (calendar month)
#: Monthly decay of the booked shock effects (a half-life of about four months).
EFFECT_DECAY = 0.85
#: Months a lost wage (job loss, illness, disability, death) or a failed business's income keeps
#: being booked as the shock's effect.
EFFECT_MONTHS = 12
#: A spell lost while its worker could still work is a shock (`work`) when it had lasted this many
#: months, or ended in a downturn; shorter flexible spells ending are the normal churn of such work.
WORK_TENURE = 6

# Scenario knobs: indices into `Rules.knobs`.
K_MAJOR, K_CHRONIC, K_DISABILITY, K_STAY_COST, K_FOLLOW_UP, K_SCHOOL = range(6)
K_DOWN_FLEX, K_DOWN_STABLE, K_DOWN_HIRE, K_PAY_CUT, K_DEPT, K_CARE, K_TUITION = range(6, 13)
N_K = 13
# Disaster kinds: columns of `Rules.disaster`.
D_REACH, D_SEVERE, D_CROP_FIRST, D_CROP_SPREAD, D_RECORDED, D_HOUSE, D_HOUSE_COST = range(7)
N_D = 7


@dataclass
class State:
    """The full hidden state at the end of a month (numpy arrays, see `layout`)."""

    hf: np.ndarray
    hi: np.ndarray
    pf: np.ndarray
    pi: np.ndarray
    person_start: np.ndarray
    inc_ring: np.ndarray  # (households, 12) true net income by month (slot t % 12)
    rig_ring: np.ndarray  # (households, 12) rigid expenses by month
    oop_ring: np.ndarray  # (households, 12) medical out-of-pocket by month
    downturn: np.ndarray  # (county keys,) bool
    n_villages: int  # village keys (villages × draws)
    effect: np.ndarray  # (households, N_EFFECT) decayed money effect of recent shocks, by cause
    # (a single scratch row in a Monte Carlo continuation, which books no effects)

    def copy(self) -> State:
        """A deep copy (arrays copied)."""
        return replace(
            self,
            **{
                k: getattr(self, k).copy()
                for k in (
                    "hf",
                    "hi",
                    "pf",
                    "pi",
                    "person_start",
                    "inc_ring",
                    "rig_ring",
                    "oop_ring",
                    "downturn",
                    "effect",
                )
            },
        )


@dataclass(frozen=True)
class Calendar:
    """What the step needs to know about month t: its calendar month and the money levels."""

    month_of_year: int
    line: float  # monitoring line this year (yuan per person per year)
    scale: float  # income level relative to month 0 (smooth growth)
    province_income: float  # province rural per-capita disposable income (department rules)
    line0: float  # line at month 0 (the unit of the population's incomes)
    downturn_onset: bool = False  # a scheduled downturn begins in every county this month


@dataclass(frozen=True)
class Rules:
    """A scenario's parameters as the arrays the compiled step reads (`Rules.of(scenario)`)."""

    knobs: np.ndarray  # (N_K,) float, indexed by K_*
    farm_season: np.ndarray  # (12,) share of the yearly farm gross by calendar month
    farm_cost: np.ndarray  # (12,) share of the yearly farm expense by calendar month
    job_wage: np.ndarray  # (6,) median monthly wage by job type (0 = none)
    job_end: np.ndarray  # (6,) monthly spell-end hazard by job type
    job_cum: np.ndarray  # (2, 5) cumulative shares of new spells by job type: 脱贫户, others
    village_rate: np.ndarray  # (kinds, 12) monthly probability that a village is hit
    disaster: np.ndarray  # (kinds, N_D) disaster kinds' parameters
    downturn_start: float
    downturn_end: float

    @classmethod
    def of(cls, scenario: Scenario) -> Rules:
        """The arrays of a scenario."""
        knobs = np.zeros(N_K)
        knobs[K_MAJOR] = scenario.major_illness_hazard
        knobs[K_CHRONIC] = scenario.chronic_hazard
        knobs[K_DISABILITY] = scenario.disability_hazard
        knobs[K_STAY_COST] = scenario.stay_cost
        knobs[K_FOLLOW_UP] = scenario.follow_up_rate
        knobs[K_SCHOOL] = scenario.school_cost
        knobs[K_DOWN_FLEX] = scenario.downturn_end_flexible
        knobs[K_DOWN_STABLE] = scenario.downturn_end_stable
        knobs[K_DOWN_HIRE] = scenario.downturn_hiring
        knobs[K_PAY_CUT] = scenario.downturn_pay_cut
        knobs[K_DEPT] = scenario.department_screening
        knobs[K_CARE] = scenario.disability_care
        knobs[K_TUITION] = scenario.tuition
        kinds = scenario.disasters
        disaster = np.array(
            [
                [k.reach, k.severe, *k.crop_months, k.recorded_loss, k.house_damage, k.house_cost]
                for k in kinds
            ],
            dtype=np.float64,
        ).reshape(len(kinds), N_D)
        return cls(
            knobs=knobs,
            farm_season=np.array(scenario.farm_season, dtype=np.float64),
            farm_cost=np.array(scenario.farm_cost, dtype=np.float64),
            job_wage=np.array([0.0, *scenario.job_wage]),
            job_end=np.array([0.0, *scenario.job_end]),
            # rounded so that shares like 0.22 + 0.20 give the threshold 0.42 exactly
            job_cum=np.round(
                np.cumsum([scenario.job_mix_poor, scenario.job_mix_other], axis=1), 12
            ),
            village_rate=np.array([k.monthly_rate for k in kinds], dtype=np.float64).reshape(
                len(kinds), 12
            ),
            disaster=disaster,
            downturn_start=scenario.downturn_start,
            downturn_end=scenario.downturn_end,
        )


@dataclass(frozen=True)
class StepRecord:
    """What happened in one month: per-person (`op`, `opi`) and per-household (`oh`, `ohi`) outputs."""

    op: np.ndarray
    opi: np.ndarray
    oh: np.ndarray
    ohi: np.ndarray
    village_kind: np.ndarray  # (village keys,) 0 none, k + 1 for a disaster of kind k


def step(
    state: State,
    *,
    t: int,
    calendar: Calendar,
    rng: np.random.Generator,
    rules: Rules,
    record: bool = True,
) -> StepRecord:
    """Advance `state` by one month (in place) and return the month's records.

    Parameters
    ----------
    state
        The state at the end of month t-1; modified to the end of month t.
    t
        Month index (0 = the simulation's first month).
    calendar
        Calendar month and money levels of month t.
    rng
        Random stream for this path; draws a fixed number of uniforms per household and person.
    rules
        The scenario's parameters.
    record
        Keep the per-person records (claims, spells, certificates, events) and book the shocks'
        effects. A continuation only needs the household outcomes and skips them (`op`, `opi` and
        `state.effect` are then a single scratch row).
    """
    n_h, n_p = len(state.hi), len(state.pi)
    u_person = rng.random((n_p, 2))
    u_house = rng.random((n_h, 4))
    u_village = rng.random(state.n_villages)
    u_county = rng.random(len(state.downturn))
    state.downturn[:] = np.where(
        state.downturn, u_county >= rules.downturn_end, u_county < rules.downturn_start
    )
    if calendar.downturn_onset:
        state.downturn[:] = True
    village_kind = village_disasters(u_village, rules.village_rate[:, calendar.month_of_year - 1])
    op = np.zeros((n_p if record else 1, L.N_OP))
    opi = np.zeros((n_p if record else 1, L.N_OPI), dtype=np.int32)
    oh = np.zeros((n_h, L.N_OH))
    ohi = np.zeros((n_h, L.N_OHI), dtype=np.int32)
    money = np.array(
        [calendar.line, calendar.scale, calendar.province_income, calendar.line0], dtype=np.float64
    )
    _kernel(
        t,
        calendar.month_of_year,
        money,
        state.downturn,
        village_kind,
        state.hf,
        state.hi,
        state.pf,
        state.pi,
        state.person_start,
        state.inc_ring,
        state.rig_ring,
        state.oop_ring,
        state.effect,
        u_person,
        u_house,
        op,
        opi,
        oh,
        ohi,
        _Z,
        rules.farm_season,
        rules.farm_cost,
        rules.job_wage,
        rules.job_end,
        rules.job_cum,
        rules.disaster,
        rules.knobs,
        record,
        _DEATH,
    )
    return StepRecord(op=op, opi=opi, oh=oh, ohi=ohi, village_kind=village_kind)


def village_disasters(u: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Disaster hitting each village this month: 0 none, k + 1 for kind k (competing on one uniform).

    Examples
    --------
    >>> village_disasters(np.array([0.01, 0.05, 0.5]), np.array([0.04, 0.02])).tolist()
    [1, 2, 0]
    """
    kind = np.searchsorted(np.cumsum(rates), u, side="right") + 1
    return np.where(kind > len(rates), 0, kind).astype(np.int32)


# --- numpy helpers shared with the population (same rules as the kernel) -----------------------


def can_work(pi: np.ndarray, pf: np.ndarray) -> np.ndarray:
    """Members who could hold a job: working age, not in school, no major illness or severe disability."""
    age = pi[:, L.AGE_M] / 12.0
    student = ((age >= 15) & (age < 18) & (pi[:, L.TRACK] > 0)) | (
        (age >= 18) & (age < 22) & (pi[:, L.TRACK] == 3)
    )
    severe = (pi[:, L.DIS] == 1) | (pi[:, L.DIS] == 2)
    return (
        (age >= 16)
        & (age < 65)
        & ~student
        & (pi[:, L.MAJOR] == 0)
        & ~severe
        & (pf[:, L.ABILITY] > 0.2)
    )


def draw_job(
    u: np.ndarray, *, poor: np.ndarray, age_m: np.ndarray, ability: np.ndarray, rules: Rules
) -> np.ndarray:
    """Job type of a new spell from a uniform (vectorised twin of the kernel's `_job_type`)."""
    out = np.empty(len(u), dtype=np.int32)
    for i in range(len(u)):
        out[i] = _job_type(u[i], poor[i] == 1, age_m[i] / 12.0, ability[i], rules.job_cum)
    return out


def job_wage(job: np.ndarray, skilled: np.ndarray, u: np.ndarray, *, rules: Rules) -> np.ndarray:
    """Monthly wage of a spell at month-0 prices before the household's wage level."""
    z = _Z[(u * 2048).astype(int)]
    return rules.job_wage[job] * np.where(skilled == 1, 1.3, 1.0) * np.exp(0.18 * z)


def expected_person_income(
    pi: np.ndarray, pf: np.ndarray, poor: np.ndarray, *, rules: Rules
) -> np.ndarray:
    """Long-run expected monthly wage of each member (stationary employment × mean wage).

    The means were measured on today's county; another job mix, wage or spell length scales them by
    the ratio of the stationary mean earnings (`earnings_ratio`).
    """
    able = can_work(pi, pf)
    age = pi[:, L.AGE_M] / 12.0
    young = np.where(poor, 2800.0, 3200.0) * np.where(
        poor, earnings_ratio(rules, poor=True), earnings_ratio(rules, poor=False)
    )
    mean = np.where(age < 60, young, 600.0) * np.where(pi[:, L.SKILLED] == 1, 1.3, 1.0)
    return np.where(able, mean * (0.55 + 0.45 * pf[:, L.ABILITY]), 0.0)


def earnings_ratio(rules: Rules, *, poor: bool) -> float:
    """Stationary mean monthly earnings of a typical worker under `rules`, relative to today's.

    A worker who finds a spell with probability s a month, of type j with share p_j, lasting 1/e_j
    months on average, earns Σ (p_j / e_j) w_j / (1/s + Σ p_j / e_j) in the long run (s = 0.42,
    ability 0.7). Exactly 1 for today's county.
    """
    today = Rules.of(Scenario(name="baseline"))
    if rules is today or _same_jobs(rules, today):
        return 1.0
    return _stationary_earnings(rules, poor=poor) / _stationary_earnings(today, poor=poor)


def _same_jobs(a: Rules, b: Rules) -> bool:
    return bool(
        np.array_equal(a.job_cum, b.job_cum)
        and np.array_equal(a.job_wage, b.job_wage)
        and np.array_equal(a.job_end, b.job_end)
    )


def _stationary_earnings(rules: Rules, *, poor: bool, start: float = 0.42) -> float:
    cum = rules.job_cum[0 if poor else 1]
    share = np.diff(np.concatenate([[0.0], cum]))
    weight = share / rules.job_end[1:]
    return float((weight * rules.job_wage[1:]).sum() / (1.0 / start + weight.sum()))


def expected_transfers(pi: np.ndarray, hh: np.ndarray, n: int) -> np.ndarray:
    """Monthly pensions (60+) by household at month-0 levels."""
    return np.bincount(hh, weights=(pi[:, L.AGE_M] >= 720) * 160.0, minlength=n)


# --- the compiled kernel ------------------------------------------------------------------------


@numba.njit(cache=True)
def _lognorm(median: float, sigma: float, v: float, z: np.ndarray) -> float:
    k = int(v * 2048.0)
    k = min(max(k, 0), 2047)
    return median * np.exp(sigma * z[k])


@numba.njit(cache=True)
def _frac(x: float) -> float:
    return x - np.floor(x)


@numba.njit(cache=True)
def _job_type(u: float, poor: bool, age: float, ability: float, job_cum: np.ndarray) -> int:
    cum = job_cum[0] if poor else job_cum[1]
    job = 5
    for j in range(4):
        if u < cum[j]:
            job = j + 1
            break
    if job == 5 and not (poor and (ability < 0.65 or age >= 45)):
        job = 1 if poor else 4
    if age >= 50 and (job == 2 or job == 4):
        job -= 1
    return job


@numba.njit(cache=True)
def _able(age: float, track: int, major: int, dis: int, ability: float) -> bool:
    if age < 16.0 or age >= 65.0 or major > 0 or dis == 1 or dis == 2 or ability <= 0.2:
        return False
    if 15.0 <= age < 18.0 and track > 0:
        return False
    return not (18.0 <= age < 22.0 and track == 3)


@numba.njit(cache=True)
def _lost_cause(able: bool, major: int, dis: int, tenure: int, down: bool) -> int:
    """1 + the cause whose wage loss an ended spell books (0: none, e.g. churn, retirement, school)."""
    if able:
        return L.E_WORK + 1 if (tenure >= WORK_TENURE or down) else 0
    if major > 0:
        return L.E_ILLNESS + 1
    if dis > 0:
        return L.E_DISABILITY + 1
    return 0


@numba.njit(cache=True)
def _school_cost(age: float, track: int, month_of_year: int) -> float:
    if month_of_year == 7 or month_of_year == 8:
        return 0.0
    if 15.0 <= age < 18.0:
        if track == 1 or track == 3:
            return 220.0
        if track == 2:
            return 120.0
    if 18.0 <= age < 22.0 and track == 3:
        return 950.0
    return 0.0


@numba.njit(cache=True)
def _inpatient(
    cost: float, poor: bool, dibao: bool, p: int, op: np.ndarray, opi: np.ndarray, kind: int
) -> tuple[float, float]:
    # major illnesses are often treated out of the county, where the basic rate is lower
    basic = cost * ((0.70 if poor else 0.60) - (0.1 if kind == 1 else 0.0))
    rest = cost - basic
    threshold = 6000.0 if poor else 12000.0
    crit = max(0.0, rest - threshold) * (0.6 if poor else 0.5)
    rest -= crit
    assist = rest * 0.55 if (poor or dibao) else 0.0
    oop = rest - assist
    op[p, L.INP_COST] = cost
    op[p, L.INP_BASIC] = basic
    op[p, L.INP_CRIT] = crit
    op[p, L.INP_ASSIST] = assist
    op[p, L.INP_OOP] = oop
    opi[p, L.INP_KIND] = kind
    return oop, assist


@numba.njit(parallel=True, cache=True)
def _kernel(  # noqa: PLR0912, PLR0913, PLR0915
    t, moy, money, downturn, village_kind, hf, hi, pf, pi, pstart, inc_ring, rig_ring, oop_ring,
    effect, up, uh, op, opi, oh, ohi, z, farm_season, farm_cost, job_wage, job_end, job_cum,
    disaster, knobs, record, death,
):  # fmt: skip
    line = money[0]
    scale = money[1]
    prov = money[2]
    line0 = money[3]
    stay = knobs[K_STAY_COST]
    follow = knobs[K_FOLLOW_UP]
    slot = t % 12
    n_h = hi.shape[0]
    for h in numba.prange(n_h):
        if hi[h, L.SIZE] == 0:
            inc_ring[h, slot] = 0.0
            rig_ring[h, slot] = 0.0
            oop_ring[h, slot] = 0.0
            continue
        poor = hi[h, L.POOR] == 1
        dibao = hi[h, L.DIBAO] == 1
        down = downturn[hi[h, L.CKEY]]
        level = hf[h, L.WAGE_LEVEL]
        # who can die: not a household head without a spouse (keeps one 户主 per household)
        has_spouse = False
        for p in range(pstart[h], pstart[h + 1]):
            if pi[p, L.ALIVE] == 1 and pi[p, L.REL] == L.REL_SPOUSE:
                has_spouse = True
        wage = 0.0
        pension = 0.0
        school = 0.0
        oop = 0.0
        size = 0
        able_n = 0
        students = 0
        rule = False
        funeral = 0.0
        care = 0.0
        new_head = -1
        caring = False
        med_assist = 0.0
        working = 0
        # this month's money effect of shocks, by cause (booked in `effect` on the main path)
        e_ill = 0.0
        e_dis = 0.0
        e_work = 0.0
        e_disaster = 0.0
        e_biz = 0.0
        e_death = 0.0
        if hi[h, L.LAST_DEATH] >= 0 and t - hi[h, L.LAST_DEATH] < EFFECT_MONTHS:
            e_death += hf[h, L.DEATH_WAGE] * scale
        if (
            hi[h, L.HAS_BIZ] == 0
            and hi[h, L.LAST_BIZ] >= 0
            and t - hi[h, L.LAST_BIZ] < EFFECT_MONTHS
        ):
            e_biz += hf[h, L.BIZ_GROSS] * scale * 0.45
        for p in range(pstart[h], pstart[h + 1]):
            if pi[p, L.ALIVE] == 0:
                if pi[p, L.BIRTH_T] != t:
                    continue
                pi[p, L.ALIVE] = 1  # born this month
            pi[p, L.AGE_M] += 1
            age = pi[p, L.AGE_M] / 12.0
            r = (
                p if record else 0
            )  # row of the per-person outputs (a scratch row when not recording)
            inp_kind = 0
            inp_oop = 0.0
            # --- health: competing rare events on one uniform
            u = up[p, 0]
            chronic = pi[p, L.CHRONIC] == 1
            major = pi[p, L.MAJOR]
            h_death = death[min(int(age), 120)]
            if major > 0:
                h_death *= 10.0
            if pi[p, L.REL] == L.REL_HEAD and not has_spouse:
                h_death = 0.0
            if pi[p, L.REL] == L.REL_SPOUSE and new_head >= 0:
                h_death = 0.0
            if pstart[h + 1] - pstart[h] == 1:
                h_death = 0.0
            h_major = 0.0
            if major == 0:
                h_major = (0.00035 + 0.00008 * max(0.0, age - 30.0)) * (2.5 if chronic else 1.0)
                h_major *= 1.2 if poor else 1.0
                h_major *= knobs[K_MAJOR]
            h_chronic = 0.0 if chronic else 0.0002 + 0.00005 * max(0.0, age - 35.0)
            h_chronic *= knobs[K_CHRONIC]
            h_dis = 0.0
            if pi[p, L.DIS] == 0 and pi[p, L.CERT_T] == L.NONE_T:
                h_dis = 0.00004 + 0.00002 * max(0.0, age - 45.0)
                h_dis *= knobs[K_DISABILITY]
            h_acc = 0.00025 if 16.0 <= age < 70.0 else 0.00005
            h_stay = 0.0015 + 0.0001 * max(0.0, age - 50.0)
            h_proc = PROC_BASE + PROC_AGE * max(0.0, age - 40.0) if age >= 30.0 else 0.0
            lo = 0.0
            dead = False
            if u < h_death:
                dead = True
            lo += h_death
            if not dead and lo <= u < lo + h_major:
                v = (u - lo) / h_major
                pi[p, L.MAJOR] = 4 + int(_frac(v * 977.0) * 14.0)
                cost = _lognorm(40000.0 * stay, 0.85, v, z)
                inp_oop, assist = _inpatient(cost, poor, dibao, r, op, opi, 1)
                inp_kind = 1
                oop += inp_oop
                med_assist += assist
                opi[r, L.DIAG] = int(_frac(v * 331.0) * 6.0)
                hi[h, L.LAST_ILL] = t
            lo += h_major
            if not dead and lo <= u < lo + h_chronic:
                pi[p, L.CHRONIC] = 1
            lo += h_chronic
            if not dead and lo <= u < lo + h_dis:
                v = (u - lo) / h_dis
                g = 1 + int(_frac(v * 613.0) * 4.0)
                pi[p, L.DIS] = g
                pi[p, L.DIS_TYPE] = int(_frac(v * 97.0) * 7.0)
                pi[p, L.CERT_T] = t + 2 + int(v * 6.0)
                pf[p, L.ABILITY] = max(0.0, pf[p, L.ABILITY] - 0.15 * (5 - g))
                hi[h, L.LAST_DIS] = t
            lo += h_dis
            if not dead and lo <= u < lo + h_acc:
                v = (u - lo) / h_acc
                cost = _lognorm(9000.0 * stay, 0.8, v, z)
                inp_oop, assist = _inpatient(cost, poor, dibao, r, op, opi, 3)
                inp_kind = 3
                oop += inp_oop
                med_assist += assist
                opi[r, L.DIAG] = 6
                opi[r, L.EVENT] = 2
                hi[h, L.LAST_ACC] = t
                if _frac(v * 701.0) < 0.15 and pi[p, L.DIS] == 0:
                    pi[p, L.DIS] = 2 + int(_frac(v * 37.0) * 3.0)
                    pi[p, L.DIS_TYPE] = 3
                    pi[p, L.CERT_T] = t + 2 + int(_frac(v * 53.0) * 5.0)
                    hi[h, L.LAST_DIS] = t
            lo += h_acc
            if not dead and inp_kind == 0 and lo <= u < lo + h_stay:
                v = (u - lo) / h_stay
                cost = _lognorm(4500.0 * stay, 0.6, v, z)
                inp_oop, assist = _inpatient(cost, poor, dibao, r, op, opi, 4)
                inp_kind = 4
                oop += inp_oop
                med_assist += assist
                opi[r, L.DIAG] = 7 + int(_frac(v * 211.0) * 5.0)
            lo += h_stay
            if not dead and inp_kind == 0 and lo <= u < lo + h_proc:
                # a planned procedure (joint replacement, stent, spinal fusion): a bill over the
                # rules' thresholds for most households, but rarely a hardship for those who can
                # plan for it — savings and family help stay hidden from the feeds
                v = (u - lo) / h_proc
                cost = _lognorm(PROC_COST, 0.4, v, z)
                inp_oop, assist = _inpatient(cost, poor, dibao, r, op, opi, 4)
                inp_kind = 4
                oop += inp_oop
                med_assist += assist
                opi[r, L.DIAG] = 12 + int(_frac(v * 389.0) * 3.0)
            if dead:
                pi[p, L.ALIVE] = 0
                opi[r, L.EVENT] = 1
                if hi[h, L.LAST_DEATH] < 0 or t - hi[h, L.LAST_DEATH] >= EFFECT_MONTHS:
                    hf[h, L.DEATH_WAGE] = 0.0
                hi[h, L.LAST_DEATH] = t
                funeral += 8000.0
                if pi[p, L.REL] == L.REL_HEAD:
                    new_head = p
                if pi[p, L.JOB] > 0:
                    hf[h, L.DEATH_WAGE] += pf[p, L.WAGE] * level
                    opi[r, L.END_JOB] = pi[p, L.JOB]
                    opi[r, L.END_START] = pi[p, L.SPELL_T]
                    op[r, L.END_WAGE] = pf[p, L.WAGE]
                    pi[p, L.JOB] = 0
                    pf[p, L.WAGE] = 0.0
                continue
            size += 1
            # --- certificate issued this month
            if pi[p, L.CERT_T] == t:
                opi[r, L.CERT] = pi[p, L.DIS]
                if pi[p, L.DIS] <= 2:
                    rule = True
            # --- ongoing major illness and chronic claims
            u1 = up[p, 1]
            if pi[p, L.MAJOR] > 0 and inp_kind == 0:
                if u1 < follow:
                    cost = _lognorm(8000.0 * stay, 0.6, u1 / follow, z)
                    inp_oop, assist = _inpatient(cost, poor, dibao, r, op, opi, 2)
                    inp_kind = 2
                    oop += inp_oop
                    med_assist += assist
                    opi[r, L.DIAG] = int(_frac(u1 * 7919.0) * 6.0)
                pi[p, L.MAJOR] -= 1
                if pi[p, L.MAJOR] == 0 and _frac(u1 * 104729.0) < 0.5:
                    pi[p, L.CHRONIC] = 1
            if inp_kind > 0 and inp_oop > (6000.0 if poor else 10000.0):
                rule = True
            if pi[p, L.CHRONIC] == 1:
                v = _frac(u1 * 4391.0)
                if v < 0.45:
                    cost = _lognorm(500.0, 0.5, v / 0.45, z)
                    basic = cost * (0.75 if poor else 0.6)
                    op[r, L.CHR_COST] = cost
                    op[r, L.CHR_BASIC] = basic
                    op[r, L.CHR_OOP] = cost - basic
                    opi[r, L.CHR_DIAG] = int(_frac(v * 7.0) * 6.0)
                    oop += cost - basic
            u2 = _frac(up[p, 1] * 1048576.0)  # lower bits of a 53-bit uniform: independent enough
            if u2 < 0.05 + 0.0008 * age:
                cost = _lognorm(150.0, 0.6, u2 / (0.05 + 0.0008 * age), z)
                basic = cost * 0.5
                op[r, L.OUT_COST] = cost
                op[r, L.OUT_BASIC] = basic
                op[r, L.OUT_OOP] = cost - basic
                oop += cost - basic
            # --- employment
            track = pi[p, L.TRACK]
            able = _able(age, track, pi[p, L.MAJOR], pi[p, L.DIS], pf[p, L.ABILITY])
            u3 = _frac(up[p, 0] * 1048576.0)
            job = pi[p, L.JOB]
            if job > 0:
                hazard = job_end[job] * (
                    (knobs[K_DOWN_FLEX] if job <= 2 else knobs[K_DOWN_STABLE]) if down else 1.0
                )
                if (not able) or u3 < hazard:
                    opi[r, L.END_JOB] = job
                    opi[r, L.END_START] = pi[p, L.SPELL_T]
                    op[r, L.END_WAGE] = pf[p, L.WAGE]
                    if able:
                        opi[r, L.EVENT] = 3
                        hi[h, L.LAST_JOB] = t
                    elif pi[p, L.MAJOR] > 0:
                        hi[h, L.LAST_JOB] = t
                    tenure = t - pi[p, L.SPELL_T]
                    lost = _lost_cause(able, pi[p, L.MAJOR], pi[p, L.DIS], tenure, down)
                    pi[p, L.LOST_CAUSE] = lost
                    pi[p, L.LOST_T] = t
                    pf[p, L.LOST_WAGE] = pf[p, L.WAGE] * level
                    pi[p, L.JOB] = 0
                    pf[p, L.WAGE] = 0.0
            elif able:
                start = (0.25 + 0.25 * pf[p, L.ABILITY]) * (knobs[K_DOWN_HIRE] if down else 1.0)
                if age >= 60.0:
                    start *= 0.4
                if u3 < start:
                    v = u3 / start
                    job = _job_type(v, poor, age, pf[p, L.ABILITY], job_cum)
                    if age >= 60.0:
                        job = 1
                    skill = 1.3 if pi[p, L.SKILLED] == 1 else 1.0
                    k = int(_frac(v * 8191.0) * 2048.0)
                    pf[p, L.WAGE] = job_wage[job] * skill * np.exp(0.18 * z[min(k, 2047)])
                    if down and (job == 2 or job == 4):
                        pf[p, L.WAGE] *= 1.0 - knobs[K_PAY_CUT]
                    pi[p, L.JOB] = job
                    pi[p, L.SPELL_T] = t
                    pi[p, L.LOST_CAUSE] = 0
                    opi[r, L.NEW_SPELL] = 1
            if pi[p, L.JOB] > 0:
                paid = pf[p, L.WAGE] * level * scale
                if down and (pi[p, L.JOB] == 2 or pi[p, L.JOB] == 4) and knobs[K_PAY_CUT] > 0.0:
                    cut = paid * 0.5 * knobs[K_PAY_CUT]
                    paid -= cut
                    e_work += cut
                wage += paid
                working += 1
            elif pi[p, L.LOST_CAUSE] > 0 and t - pi[p, L.LOST_T] < EFFECT_MONTHS:
                lost_wage = pf[p, L.LOST_WAGE] * scale
                if pi[p, L.LOST_CAUSE] - 1 == L.E_WORK:
                    e_work += lost_wage
                elif pi[p, L.LOST_CAUSE] - 1 == L.E_ILLNESS:
                    e_ill += lost_wage
                else:
                    e_dis += lost_wage
            if pi[p, L.MAJOR] > 0:
                caring = True
            if able:
                able_n += 1
            if age >= 60.0:
                pension += 160.0 * scale
            if pi[p, L.DIS] == 1 or pi[p, L.DIS] == 2:
                care += knobs[K_CARE] * scale
            sc = _school_cost(age, track, moy) * knobs[K_SCHOOL]
            if moy == 9 and sc > 0.0 and knobs[K_TUITION] > 0.0:
                sc += knobs[K_TUITION] * (1.0 if age >= 18.0 else 1.0 / 3.0)  # the year's fees
            if sc > 0.0:
                students += 1
                school += sc * scale
        if caring:
            e_ill += wage * 0.25
            wage *= 0.75  # someone looks after the patient
        if new_head >= 0:
            for p in range(pstart[h], pstart[h + 1]):
                if pi[p, L.ALIVE] == 1 and pi[p, L.REL] == L.REL_SPOUSE:
                    pi[p, L.REL] = L.REL_HEAD
                    for q in range(pstart[h], pstart[h + 1]):
                        r = pi[q, L.REL]
                        if r == L.REL_FATHER:
                            pi[q, L.REL] = 12 if pi[p, L.SEX] == 1 else 10
                        elif r == L.REL_MOTHER:
                            pi[q, L.REL] = 13 if pi[p, L.SEX] == 1 else 11
            rule = True
        hi[h, L.SIZE] = size
        if size == 0:
            continue
        # --- household income
        crop_ok = hi[h, L.CROP_LOST] == 0
        if hi[h, L.CROP_LOST] > 0:
            hi[h, L.CROP_LOST] -= 1
        farm_year = hf[h, L.LAND] * hf[h, L.FARM_RATE] * scale
        farm_g = farm_year * farm_season[moy - 1] if crop_ok else 0.0
        if not crop_ok:
            e_disaster += farm_year * farm_season[moy - 1]
        farm_e = farm_year * 0.38 * farm_cost[moy - 1]
        biz_g = 0.0
        biz_e = 0.0
        biz_loss = 0.0
        if hi[h, L.HAS_BIZ] == 1:
            if uh[h, 1] < 0.004 * (2.5 if down else 1.0):
                hi[h, L.HAS_BIZ] = 0
                biz_loss = hf[h, L.BIZ_GROSS] * scale * (4.0 + 8.0 * uh[h, 1] / 0.004)
                ohi[h, L.O_BIZ_FAIL] = 1
                hi[h, L.LAST_BIZ] = t
            else:
                biz_g = hf[h, L.BIZ_GROSS] * scale
                biz_e = biz_g * 0.55
        # --- village disaster
        disaster_loss = 0.0
        house = 0.0
        kind = village_kind[hi[h, L.VKEY]]
        if kind > 0:
            d = disaster[kind - 1]
            v = uh[h, 0]
            if v < d[D_SEVERE]:
                lost = int(d[D_CROP_FIRST]) + int(_frac(v * 733.0) * d[D_CROP_SPREAD])
                hi[h, L.CROP_LOST] = lost
                disaster_loss = farm_year * d[D_RECORDED]
                ohi[h, L.O_DISASTER] = 1
                hi[h, L.LAST_DISASTER] = t
                if _frac(v * 3571.0) < d[D_HOUSE]:
                    house = _lognorm(d[D_HOUSE_COST], 0.5, _frac(v * 211.0), z)
                    hi[h, L.HOUSE_BAD] = 12
                    ohi[h, L.O_DISASTER] = 2
                    rule = True
                    e_disaster += house
            elif v < d[D_REACH]:
                ohi[h, L.O_DISASTER] = 1
                disaster_loss = _lognorm(300.0, 0.5, _frac(v * 97.0), z)
        if hi[h, L.HOUSE_BAD] > 0:
            hi[h, L.HOUSE_BAD] -= 1
        dibao_amt = 280.0 * scale * size if hi[h, L.DIBAO] == 1 else 0.0
        tekun_amt = 600.0 * scale if hi[h, L.TEKUN] == 1 else 0.0
        support = hf[h, L.SUPPORT] * scale
        assist = hf[h, L.ASSIST] * scale if hi[h, L.MONITORED] == 1 else 0.0
        subsidy = hf[h, L.LAND] * 120.0 if moy == 3 else 0.0
        edu_aid = 2000.0 * students if (moy == 9 and poor) else 0.0
        insurance = 0.0
        transfer = pension + dibao_amt + tekun_amt + support + assist + subsidy + edu_aid
        net = wage + farm_g + biz_g - farm_e - biz_e + hf[h, L.PROPERTY] * scale + transfer
        rigid = oop + house + biz_loss + school + funeral + care
        if record:
            for c in range(L.N_EFFECT):
                effect[h, c] *= EFFECT_DECAY
            effect[h, L.E_ILLNESS] += e_ill + oop
            effect[h, L.E_DISABILITY] += e_dis + care
            effect[h, L.E_SCHOOLING] += school
            effect[h, L.E_WORK] += e_work
            effect[h, L.E_DISASTER] += e_disaster
            effect[h, L.E_BUSINESS] += e_biz + biz_loss
            effect[h, L.E_DEATH] += e_death + funeral
        old_oop = 0.0
        for k in range(12):
            old_oop += oop_ring[h, k]
        inc_ring[h, slot] = net
        rig_ring[h, slot] = rigid
        oop_ring[h, slot] = oop
        inc12 = 0.0
        rig12 = 0.0
        oop12 = 0.0
        for k in range(12):
            inc12 += inc_ring[h, k]
            rig12 += rig_ring[h, k]
            oop12 += oop_ring[h, k]
        yearly_rule = prov * (0.5 if poor else 1.0)
        if old_oop < yearly_rule <= oop12:
            rule = True
        coping = hf[h, L.BUFFER] + 12.0 * hf[h, L.HELP]
        eff12 = inc12 - max(0.0, rig12 - coping)
        need = line * size
        below_income = inc12 < need
        burden = rig12 - coping
        qualifies = below_income or eff12 < need or burden > 0.4 * max(inc12, 1.0)
        severity = min(1.0, max(0.0, 1.0 - min(inc12, eff12) / need, burden / max(inc12, 1.0)))
        # a fresh shock to a household not far above the line: cadres and departments treat it as
        # a risk of hardship (预防性识别) even before income falls
        shock = (
            t - hi[h, L.LAST_ILL] <= 2
            or t - hi[h, L.LAST_DEATH] <= 2
            or t - hi[h, L.LAST_BIZ] <= 2
            or t - hi[h, L.LAST_ACC] <= 2
            or hi[h, L.HOUSE_BAD] >= 10
            or (t - hi[h, L.LAST_JOB] <= 2 and working == 0 and able_n > 0)
        )
        at_risk = (not qualifies) and shock and inc12 < 1.6 * need
        if at_risk:
            severity = 0.3
        # --- records of the month
        oh[h, L.O_WAGE] = wage
        oh[h, L.O_BIZ_GROSS] = farm_g + biz_g
        oh[h, L.O_BIZ_EXPENSE] = farm_e + biz_e
        oh[h, L.O_PROPERTY] = hf[h, L.PROPERTY] * scale
        oh[h, L.O_TRANSFER] = transfer
        oh[h, L.O_DIBAO] = dibao_amt
        oh[h, L.O_TEKUN] = tekun_amt
        oh[h, L.O_MED_ASSIST] = med_assist
        oh[h, L.O_EDU_AID] = edu_aid
        oh[h, L.O_ASSIST] = assist
        oh[h, L.O_DISASTER_LOSS] = disaster_loss + house
        oh[h, L.O_BIZ_LOSS] = biz_loss
        oh[h, L.O_INC12] = inc12
        oh[h, L.O_EFF12] = eff12
        oh[h, L.O_INSURANCE] = insurance
        ohi[h, L.O_QUALIFIES] = 1 if qualifies else 0
        ohi[h, L.O_RULE] = 1 if rule else 0
        # --- monitoring: recovery and elimination, approval of pending clues, discovery
        if hi[h, L.MONITORED] == 1:
            if qualifies:
                hi[h, L.RECOVER] = 0
            else:
                hi[h, L.RECOVER] += 1
            if hi[h, L.RECOVER] >= 6 and t - hi[h, L.IDENT_T] >= 6 and uh[h, 3] < 0.4:
                hi[h, L.MONITORED] = 0
                hi[h, L.ELIM_T] = t
                hf[h, L.ASSIST] = 0.0
                ohi[h, L.O_ELIMINATED] = 1
            continue
        if hi[h, L.PENDING] < 0 and (qualifies or at_risk):
            u = uh[h, 2]
            p_dept = knobs[K_DEPT] if rule else 0.0
            visit = 0.85 if poor else 0.12
            if moy == SWEEP_MONTH:
                visit = 0.95
            p_cadre = visit * (0.2 if poor else 0.22) * (0.5 + 1.5 * severity)
            if moy == SWEEP_MONTH:
                p_cadre = visit * 0.45
            p_self = hf[h, L.PROPENSITY] * (0.03 + 0.2 * severity)
            if hf[h, L.HELP] > 0.0:
                p_self *= 0.8
            chan = -1
            if u < p_dept:
                chan = 2
            else:
                u2 = (u - p_dept) / (1.0 - p_dept)
                if u2 < p_cadre:
                    chan = 1
                elif u2 < p_cadre + (1.0 - p_cadre) * p_self:
                    chan = 0
            if chan >= 0:
                cat = 2
                if below_income:
                    cat = 0 if poor else 1
                hi[h, L.PCAT] = cat
                hi[h, L.PCHAN] = chan
                hi[h, L.PENDING] = t if uh[h, 3] < 0.7 else t + 1
        if hi[h, L.PENDING] >= 0 and hi[h, L.PENDING] <= t:
            hi[h, L.MONITORED] = 1
            hi[h, L.IDENT_T] = t
            hi[h, L.RECOVER] = 0
            hi[h, L.PENDING] = -1
            hf[h, L.ASSIST] = 0.3 * line0 / 12.0 * size
            ohi[h, L.O_IDENTIFIED] = 1
            ohi[h, L.O_CHANNEL] = hi[h, L.PCHAN]
            ohi[h, L.O_CAT] = hi[h, L.PCAT]
            oh[h, L.O_RELIEF] = 1000.0 + 2000.0 * _frac(uh[h, 3] * 977.0)
            if below_income and able_n == 0 and _frac(uh[h, 3] * 31.0) < 0.5:
                hi[h, L.DIBAO] = 1
