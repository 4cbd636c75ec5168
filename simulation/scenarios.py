"""Scenarios: structurally different simulated counties, declared as data.

A `Scenario` is one frozen set of parameters and switches read by the population, the monthly step
and the feeds. Nothing in the simulator branches on a scenario's *name*: every difference between
counties is a field below, so a new county is a new `Scenario(...)` value, not new code.

======== ===============================================================================================
name     what differs from `baseline` (today's county)
======== ===============================================================================================
baseline Today's county: illness the commonest shock, some job loss, summer storms, monthly feeds.
illness  Illness and disability dominate (DOMAIN.md: illness ~59 %, disability ~9 %, schooling ~9 %,
         lack of labour ~8 %): more chronic and serious illness, costlier stays treated out of the
         county, more disability and the care it needs, school fees due each September, fewer
         other shocks.
disaster Farming is a large share of income and comes in two harvests (June, October), so income is
         lumpy; floods, droughts and hail hit whole villages in their seasons and wipe the coming
         harvest; floods damage houses.
migrant  Most earnings are migrant wage spells, mostly out of the province; a downturn begins at a
         fixed point of the data window (and may recur): spells end and are not replaced, pay of
         migrant work falls (hours cut; new spells at lower wages).
sparse   Today's county as its departments report it when they send little: medical claims settled
         in quarterly batches, income checks twice a year (June and December), no events feed at
         all, and department screening that flags fewer households.
======== ===============================================================================================

What stays hidden stays hidden in every scenario: savings, help from relatives and under-declared
wages are never in a feed; every shock reaches the data only through the department feeds.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.contract.errors import ConfigError

_SUMMER = (6, 7, 8)


def _monthly(rate: float, *, months: tuple[int, ...], otherwise: float = 0.0) -> tuple[float, ...]:
    """Twelve monthly rates: `rate` in the calendar `months`, `otherwise` in the others."""
    return tuple(rate if m in months else otherwise for m in range(1, 13))


@dataclass(frozen=True)
class DisasterKind:
    """A kind of village-wide natural disaster.

    Attributes
    ----------
    name
        What it is (flood, drought, hail, storm); for documentation only (the events feed records
        every kind as 自然灾害, plus 房屋损毁 for damaged houses).
    monthly_rate
        Twelve values: probability that a given village is hit in each calendar month.
    reach
        Share of the village's households touched when it is hit.
    severe
        Share of the village's households whose crop is lost (the rest of `reach` lose a little).
    crop_months
        `(first, spread)`: a severe hit loses the farm income of the next `first` to
        `first + spread - 1` months (the coming harvest).
    recorded_loss
        Loss recorded by the village (share of the yearly farm gross) for a severe hit.
    house_damage
        Share of severe hits that also damage the house (dangerous for a year, repair cost).
    house_cost
        Median repair cost (yuan).
    """

    name: str
    monthly_rate: tuple[float, ...]
    reach: float = 0.9
    severe: float = 0.75
    crop_months: tuple[int, int] = (3, 6)
    recorded_loss: float = 0.5
    house_damage: float = 0.1
    house_cost: float = 15000.0


#: Today's summer storms: 4 % of villages a month in June–August, 0.8 % otherwise.
STORM = DisasterKind(name="storm", monthly_rate=_monthly(0.04, months=_SUMMER, otherwise=0.008))


@dataclass(frozen=True)
class Scenario:
    """Parameters and switches of one simulated county (`baseline` values are today's county).

    Attributes
    ----------
    name
        Scenario name (`risk simulate --scenario NAME`).
    description
        One line for people.
    major_illness_hazard, chronic_hazard, disability_hazard
        Multipliers of the monthly onset hazards of serious illness, chronic disease and disability.
    chronic_prevalence, disability_prevalence
        Multipliers of the shares with a chronic disease or a disability at the start.
    stay_cost
        Multiplier of the cost of hospital stays (serious illness, follow-up, accident, ordinary).
    follow_up_rate
        Monthly probability of a follow-up stay while a serious illness lasts.
    school_cost
        Multiplier of schooling costs (high school, vocational school, college).
    tuition
        Fees paid each September by a college student (yuan, month-0 prices; a third of it for a
        high-school or vocational student), on top of the monthly costs.
    disability_care
        Monthly care and rehabilitation cost of each member with a grade 1–2 disability (yuan,
        month-0 prices; spending no feed records — the certificate is what shows it).
    disasters
        The kinds of village-wide disasters and their seasons.
    farm_scale
        Multiplier of the farm gross per mu: how large a share of income farming is (wages adjust
        so that the households' expected incomes keep their drawn mix around the line).
    farm_season, farm_cost
        Twelve shares of the yearly farm gross (harvests) and of the yearly farm expense by month.
    job_mix_poor, job_mix_other
        Shares of new spells by job type (flexible local, flexible migrant, stable local, stable
        migrant, public-welfare post) for 脱贫户 and other households; public posts go to 脱贫户 with
        low ability or over 45 (the others of that share take flexible local work).
    job_wage
        Median monthly wage by job type (index 1..5, month-0 prices).
    job_end
        Monthly probability that a spell of each job type ends (index 1..5).
    out_of_province
        Share of migrant spells recorded as 省外 (the rest 省内县外).
    downturn_start, downturn_end
        Monthly probabilities that a county's downturn begins / ends.
    downturn_at
        Share of the written months after which a downturn begins in every county (None: none
        scheduled). The onset is part of the world, so the hidden truth knows it; its end is random.
    downturn_end_flexible, downturn_end_stable
        Multipliers of the spell-end hazard of flexible / stable jobs during a downturn.
    downturn_hiring
        Multiplier of the chance to start a spell during a downturn.
    downturn_pay_cut
        Share of migrant pay lost during a downturn: new spells start this much lower, and running
        migrant spells are paid half of it less (fewer hours, lower piece rates).
    department_screening
        Probability that a department rule that fires leads to a department lead (部门筛查预警).
    medical_batch_months
        Claims are settled in batches every this many months (1: monthly; 3: at quarter ends).
    income_check_months
        Calendar months of the income checks (every household checked then); None: today's practice
        (脱贫户 nearly monthly, others quarterly).
    events_feed
        Whether the county has an events feed (False: no `events` table at all).
    """

    name: str
    description: str = ""
    major_illness_hazard: float = 1.0
    chronic_hazard: float = 1.0
    disability_hazard: float = 1.0
    chronic_prevalence: float = 1.0
    disability_prevalence: float = 1.0
    stay_cost: float = 1.0
    follow_up_rate: float = 0.35
    school_cost: float = 1.0
    disability_care: float = 0.0
    tuition: float = 0.0
    disasters: tuple[DisasterKind, ...] = (STORM,)
    farm_scale: float = 1.0
    farm_season: tuple[float, ...] = (
        0.02, 0.02, 0.02, 0.03, 0.05, 0.18, 0.1, 0.05, 0.18, 0.25, 0.07, 0.03,
    )  # fmt: skip
    farm_cost: tuple[float, ...] = (
        0.02, 0.1, 0.25, 0.25, 0.15, 0.05, 0.05, 0.03, 0.03, 0.03, 0.02, 0.02,
    )  # fmt: skip
    job_mix_poor: tuple[float, ...] = (0.38, 0.30, 0.08, 0.14, 0.10)
    job_mix_other: tuple[float, ...] = (0.22, 0.20, 0.25, 0.33, 0.0)
    job_wage: tuple[float, ...] = (1900.0, 3200.0, 2600.0, 4300.0, 800.0)
    job_end: tuple[float, ...] = (0.15, 0.12, 0.012, 0.011, 0.02)
    out_of_province: float = 0.6
    downturn_start: float = 0.025
    downturn_end: float = 0.12
    downturn_at: float | None = None
    downturn_end_flexible: float = 2.5
    downturn_end_stable: float = 2.0
    downturn_hiring: float = 0.5
    downturn_pay_cut: float = 0.0
    department_screening: float = 0.55
    medical_batch_months: int = 1
    income_check_months: tuple[int, ...] | None = None
    events_feed: bool = True

    def __post_init__(self) -> None:
        for name in ("farm_season", "farm_cost"):
            values = getattr(self, name)
            if len(values) != 12 or abs(sum(values) - 1.0) > 1e-9:
                raise ConfigError(f"scenario {self.name}: {name} needs 12 shares summing to 1")
        for name in ("job_mix_poor", "job_mix_other"):
            values = getattr(self, name)
            if len(values) != 5 or abs(sum(values) - 1.0) > 1e-9 or min(values) < 0:
                raise ConfigError(f"scenario {self.name}: {name} needs 5 shares summing to 1")
        if self.job_mix_other[4] != 0:
            raise ConfigError(f"scenario {self.name}: public posts go to 脱贫户 only")
        for kind in self.disasters:
            if len(kind.monthly_rate) != 12 or not 0 <= kind.severe <= kind.reach <= 1:
                raise ConfigError(f"scenario {self.name}: disaster {kind.name} is malformed")
        if not 1 <= self.medical_batch_months <= 12:
            raise ConfigError(f"scenario {self.name}: medical_batch_months must be 1..12")
        if self.income_check_months is not None and not all(
            1 <= m <= 12 for m in self.income_check_months
        ):
            raise ConfigError(f"scenario {self.name}: income_check_months must be months 1..12")


BASELINE = Scenario(name="baseline", description="today's county")

ILLNESS = Scenario(
    name="illness",
    description="illness and disability dominate; costly stays treated out of the county",
    major_illness_hazard=3.0,
    chronic_hazard=2.5,
    disability_hazard=4.0,
    chronic_prevalence=1.8,
    disability_prevalence=2.5,
    stay_cost=1.5,
    follow_up_rate=0.5,
    school_cost=1.5,
    tuition=9000.0,
    disability_care=1000.0,
    disasters=(
        DisasterKind(name="storm", monthly_rate=_monthly(0.015, months=_SUMMER, otherwise=0.003)),
    ),
    job_end=(0.10, 0.08, 0.01, 0.009, 0.02),
    downturn_start=0.01,
)

DISASTER = Scenario(
    name="disaster",
    description="village-wide floods, droughts and hail; farming income in two harvests",
    disasters=(
        DisasterKind(
            name="flood",
            monthly_rate=_monthly(0.08, months=(6, 7, 8), otherwise=0.004),
            reach=0.95,
            severe=0.8,
            crop_months=(4, 4),
            recorded_loss=0.6,
            house_damage=0.25,
            house_cost=20000.0,
        ),
        DisasterKind(
            name="drought",
            monthly_rate=_monthly(0.04, months=(4, 5, 6, 7)),
            reach=1.0,
            severe=0.85,
            crop_months=(4, 5),
            recorded_loss=0.5,
            house_damage=0.0,
        ),
        DisasterKind(
            name="hail",
            monthly_rate=_monthly(0.05, months=(5, 6, 7)),
            reach=0.6,
            severe=0.45,
            crop_months=(2, 4),
            recorded_loss=0.35,
            house_damage=0.05,
            house_cost=8000.0,
        ),
    ),
    farm_scale=6.0,
    farm_season=(0.01, 0.01, 0.01, 0.02, 0.03, 0.30, 0.03, 0.02, 0.04, 0.45, 0.06, 0.02),
    farm_cost=(0.02, 0.12, 0.22, 0.2, 0.1, 0.1, 0.08, 0.05, 0.05, 0.02, 0.02, 0.02),
    major_illness_hazard=0.8,
    downturn_start=0.01,
)

MIGRANT = Scenario(
    name="migrant",
    description="migrant wage spells dominate, mostly out of the province; a downturn",
    farm_scale=0.6,
    job_mix_poor=(0.15, 0.45, 0.05, 0.27, 0.08),
    job_mix_other=(0.10, 0.35, 0.15, 0.40, 0.0),
    job_wage=(1900.0, 3600.0, 2600.0, 4800.0, 800.0),
    out_of_province=0.85,
    downturn_start=0.005,
    downturn_end=0.06,
    downturn_at=0.45,
    downturn_end_flexible=4.0,
    downturn_end_stable=3.5,
    downturn_hiring=0.25,
    downturn_pay_cut=0.25,
)

SPARSE = Scenario(
    name="sparse",
    description="departments send little: quarterly claims, half-yearly income checks, no events",
    department_screening=0.3,
    medical_batch_months=3,
    income_check_months=(6, 12),
    events_feed=False,
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in (BASELINE, ILLNESS, DISASTER, MIGRANT, SPARSE)}


def get_scenario(scenario: str | Scenario) -> Scenario:
    """The scenario of that name (a `Scenario` is returned as it is).

    Raises
    ------
    ConfigError
        For an unknown name, listing the known ones.
    """
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise ConfigError(
            f"--scenario {scenario!r}: 未知情景 unknown scenario; expected one of {known}"
        ) from None
