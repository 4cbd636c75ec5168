"""Department screening rules (部门筛查预警) as pure functions over contract tables.

These are the rules counties run on department data (DOMAIN.md, "How households are found" and
"2025–2026"). Every rule looks at the 12 months up to and including the as-of month, only at records
dated in or before it:

- ``income_below_line`` — trailing per-capita net income below the monitoring line;
- ``oop_over_income_share`` — one person's out-of-pocket medical cost above a share of last year's
  rural per-capita disposable income (50% for members of 脱贫户, 100% for others);
- ``large_inpatient_stay`` — one hospital stay with out-of-pocket cost above 6,000 yuan (脱贫户) or
  10,000 yuan (other residents);
- ``dibao_edge`` — 民政's 低保边缘: per-capita income below 1.5 × the 低保 standard;
- ``rigid_spending_hardship`` — 民政's 刚性支出困难: per-capita income below last year's rural
  per-capita disposable income and the household's medical out-of-pocket spending above a share of its
  income (50% unless configured);
- ``inpatient_oop_push`` — 医保's push: one stay with out-of-pocket ≥ 5,000 (脱贫户) or ≥ 20,000 (others);
- ``outpatient_oop_push`` — 医保's push: one person's outpatient out-of-pocket ≥ 500 in a month;
- ``disaster_on_record`` — 应急's push: a natural disaster (自然灾害) on record for the household;
- ``death_on_record`` — 公安's push: a death of a household member (家庭成员死亡) on record.

教育's push (schooling costs over 10,000 yuan a year) and the schooling half of 刚性支出困难 are not
rules here: the data contract has no record of schooling costs (``assistance`` holds 教育资助 paid to the
household, ``events`` no schooling event), so nothing could fire them.

Income is the household's net income (DATA_CONTRACT.md) over the months reported in the window,
annualised, divided by the members born by the as-of month; it needs `min_income_months` reports.
Thresholds, the monitoring line, the 低保 standard and last year's rural income come by county and
year from the policy pack (`RuleParams.policy`; see `features.contract.lines`).

The rules serve twice: as the *rule baseline* the model is judged against (ranked by ``rule_score``)
and as the *policy rules* of monthly scoring, where a household whose rule fired on a record of the
scoring month itself (``<rule>_new``) is always listed for review.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.errors import ConfigError
from features.contract.lines import (
    DEFAULT_RURAL_INCOME_BY_YEAR,
    MonitoringLines,
    PolicyPack,
    built_in_pack,
)
from features.contract.tables import Tables
from features.panel import NO_MONTH, _text, equals, lookup, month_codes

__all__ = [
    "ALWAYS_LISTED_RULES",
    "DEFAULT_RURAL_INCOME_BY_YEAR",
    "REGIONAL_THRESHOLDS",
    "RULE_LABELS_ZH",
    "RULE_NAMES",
    "RuleParams",
    "check_thresholds",
    "department_rules",
    "triggered_rules",
]

RULE_NAMES: tuple[str, ...] = (
    "income_below_line",
    "oop_over_income_share",
    "large_inpatient_stay",
    "dibao_edge",
    "rigid_spending_hardship",
    "inpatient_oop_push",
    "outpatient_oop_push",
    "disaster_on_record",
    "death_on_record",
)

#: Rules whose firing on a record of the scoring month lists the household whatever its rank (the
#: default of ``[warning] always_list``): the departments' case pushes that policy says must be
#: checked — a costly stay, a disaster, a death. The broad income screens (低保边缘, 刚性支出困难,
#: monthly outpatient spending) fire for a fifth of households in a month and would bury the
#: ranked list; they still show in 规则触发 and rank in the rule baseline.
ALWAYS_LISTED_RULES: tuple[str, ...] = (
    "income_below_line",
    "oop_over_income_share",
    "large_inpatient_stay",
    "inpatient_oop_push",
    "disaster_on_record",
    "death_on_record",
)

RULE_LABELS_ZH: Mapping[str, str] = MappingProxyType(
    {
        "income_below_line": "人均纯收入低于监测线",
        "oop_over_income_share": "年度个人医疗自付超过农村居民人均可支配收入的规定比例",
        "large_inpatient_stay": "单次住院自付超过规定额度",
        "dibao_edge": "低保边缘：人均收入低于低保标准的规定倍数",
        "rigid_spending_hardship": "刚性支出困难：人均收入低于上年农村居民人均可支配收入且医疗支出超过家庭收入的规定比例",
        "inpatient_oop_push": "医保推送：单次住院自付达到推送额度",
        "outpatient_oop_push": "医保推送：个人当月门诊自付达到推送额度",
        "disaster_on_record": "应急推送：遭受自然灾害",
        "death_on_record": "公安推送：家庭成员死亡",
    }
)

#: Thresholds that a province, a county, or one of their years may set in risk.toml's [policy] tables;
#: [rules] (or the defaults below) gives them for everywhere else.
REGIONAL_THRESHOLDS: tuple[str, ...] = (
    "oop_share_formerly_poor",
    "oop_share_other",
    "stay_oop_formerly_poor",
    "stay_oop_other",
    "dibao_edge_multiple",
    "rigid_spending_share",
    "inpatient_push_formerly_poor",
    "inpatient_push_other",
    "outpatient_push_month",
)

FORMERLY_POOR = "脱贫户"
OUTPATIENT = ("门诊慢特病", "普通门诊")
DISASTER = "自然灾害"
DEATH = "家庭成员死亡"
WINDOW = 12


@dataclass(frozen=True)
class RuleParams:
    """Thresholds of the department rules (DOMAIN.md) and the policy pack they read.

    The threshold fields hold everywhere unless the pack sets them for a province, a county or a year
    (`REGIONAL_THRESHOLDS`). Shares are fractions, amounts are yuan.

    Parameters
    ----------
    rural_income_by_year
        Year described → rural per-capita disposable income; only used without a `policy` (the
        built-in pack, nearest year).
    policy
        The province/county/year pack from risk.toml. None: the built-in national figures.
    """

    rural_income_by_year: Mapping[int, float] = field(
        default_factory=lambda: dict(DEFAULT_RURAL_INCOME_BY_YEAR)
    )
    oop_share_formerly_poor: float = 0.5
    oop_share_other: float = 1.0
    stay_oop_formerly_poor: float = 6000.0
    stay_oop_other: float = 10000.0
    min_income_months: int = 3
    dibao_edge_multiple: float = 1.5
    rigid_spending_share: float = 0.5
    inpatient_push_formerly_poor: float = 5000.0
    inpatient_push_other: float = 20000.0
    outpatient_push_month: float = 500.0
    policy: PolicyPack | None = None

    def __post_init__(self) -> None:
        if not self.rural_income_by_year:
            raise ConfigError("[rules] rural_income_by_year needs at least one year")
        check_thresholds("[rules]", {name: getattr(self, name) for name in REGIONAL_THRESHOLDS})
        if not 1 <= self.min_income_months <= 12:
            raise ConfigError("[rules] min_income_months must be between 1 and 12")

    def pack(self) -> PolicyPack:
        """The policy pack: `policy`, else the built-in figures with `rural_income_by_year`."""
        if self.policy is not None:
            return self.policy
        return built_in_pack(rural_income=self.rural_income_by_year)

    def rural_income(self, year: int, county: str = "") -> float:
        """Last year's rural per-capita disposable income for rules applied in `year`."""
        return self.pack().amount("rural_income_last_year", county, year)


def check_thresholds(where: str, values: Mapping[str, object]) -> None:
    """Check the thresholds present in `values`; the message starts with `where` (the TOML table)."""
    groups = (
        ("oop shares", ("oop_share_formerly_poor", "oop_share_other", "rigid_spending_share"),
         "positive fractions, e.g. 0.5"),
        ("stay thresholds", ("stay_oop_formerly_poor", "stay_oop_other"),
         "positive amounts in yuan"),
        ("push thresholds",
         ("inpatient_push_formerly_poor", "inpatient_push_other", "outpatient_push_month"),
         "positive amounts in yuan"),
    )  # fmt: skip
    for label, names, expected in groups:
        given = {n: values[n] for n in names if n in values}
        if any(not _number(v) or float(v) <= 0 for v in given.values()):  # type: ignore[arg-type]
            raise ConfigError(f"{where} {label} must be {expected}; got {given}")
    multiple = values.get("dibao_edge_multiple", 1.5)
    if not _number(multiple) or float(multiple) < 1:  # type: ignore[arg-type]
        raise ConfigError(
            f"{where} dibao_edge_multiple must be a number of at least 1 (低保边缘: 1.5 × the 低保 "
            f"standard); got {multiple!r}"
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def department_rules(
    tables: Tables, *, as_of: pd.Period, params: RuleParams, lines: MonitoringLines
) -> pd.DataFrame:
    """Evaluate the department rules for every household at month `as_of`.

    Parameters
    ----------
    tables
        Normalised contract tables; only records dated in or before `as_of` are used.
    as_of
        The month the rules look back from (windows include `as_of` itself).
    params, lines
        Rule thresholds and policy pack; monitoring lines.

    Returns
    -------
    DataFrame indexed by ``household_id`` (every household of ``tables.households``) with a bool
    column per rule in ``RULE_NAMES``, a bool ``<rule>_new`` column that is true when a record of
    month `as_of` itself is part of the evidence, and ``rule_score`` (number of rules met plus a
    severity in [0, 1): higher means more and more severe).

    Raises
    ------
    ConfigError
        The policy pack (from risk.toml) lacks a figure of a province-year the counties need.
    """
    households = tables.households
    index = pd.Index(households["household_id"], name="household_id")
    policy = _Policy.of(households, as_of=as_of, params=params, lines=lines)
    ids = _text(households["household_id"])
    member_household = lookup(tables.members["household_id"], ids)
    claims = _claims_in_window(tables, as_of=as_of, member_household=member_household)
    income = _income_in_window(tables, ids, member_household, as_of=as_of, params=params)
    events = _events_in_window(tables, ids, as_of=as_of)
    costs = _person_costs(claims)
    n = len(index)
    columns: dict[str, np.ndarray] = {}
    columns.update(_below("income_below_line", income, policy.line))
    columns.update(_oop_rule(claims, costs, n, as_of=as_of, policy=policy))
    columns.update(_stay_rule(claims, n, as_of=as_of, policy=policy))
    columns.update(_below("dibao_edge", income, policy.edge))
    columns.update(_rigid_rule(claims, costs, income, n, as_of=as_of, policy=policy))
    columns.update(_inpatient_push(claims, n, as_of=as_of, policy=policy))
    columns.update(_outpatient_push(claims, n, as_of=as_of, policy=policy))
    columns.update(_event_rule("disaster_on_record", events, events.disaster, n, as_of=as_of))
    columns.update(_event_rule("death_on_record", events, events.death, n, as_of=as_of))
    severity = np.nanmax(
        np.column_stack([columns.pop(f"{name}_severity") for name in RULE_NAMES]),
        axis=1,
        initial=0.0,
    )
    result = pd.DataFrame(columns, index=index)
    result["rule_score"] = result[list(RULE_NAMES)].sum(axis=1).astype(float) + 0.999 * severity
    return result


@dataclass(frozen=True)
class _Policy:
    """Per-household figures and thresholds for one as-of year (by county, from the pack)."""

    line: np.ndarray
    edge: np.ndarray  # dibao_edge_multiple × 低保 standard
    rural_income: np.ndarray  # last year's rural per-capita disposable income
    thresholds: dict[str, np.ndarray]

    @classmethod
    def of(
        cls,
        households: pd.DataFrame,
        *,
        as_of: pd.Period,
        params: RuleParams,
        lines: MonitoringLines,
    ) -> _Policy:
        pack, year = params.pack(), as_of.year
        codes, names = pd.factorize(households["county"], use_na_sentinel=True)
        counties = [str(name) for name in names] + ([""] if (codes < 0).any() else [])

        def spread(value_of: Callable[[str], float]) -> np.ndarray:
            return np.asarray([value_of(county) for county in counties], dtype=float)[codes]

        pack.require(counties, [year])  # every missing figure named at once, before any work
        line = spread(lambda county: lines.line_for(county, year))
        thresholds = {
            name: spread(partial(_setting, pack, name, year, getattr(params, name)))
            for name in REGIONAL_THRESHOLDS
        }
        dibao = spread(lambda county: pack.amount("dibao_standard", county, year))
        return cls(
            line=line,
            edge=thresholds["dibao_edge_multiple"] * dibao,
            rural_income=spread(lambda county: pack.amount("rural_income_last_year", county, year)),
            thresholds=thresholds,
        )

    def by_type(self, poor: np.ndarray, formerly_poor: str, other: str) -> np.ndarray:
        """Per household: the 脱贫户 threshold for 脱贫户, the other one for the rest."""
        return np.where(poor, self.thresholds[formerly_poor], self.thresholds[other])


def _setting(pack: PolicyPack, name: str, year: int, default: float, county: str) -> float:
    return pack.setting(name, county, year, default=default)


@dataclass(frozen=True)
class _Claims:
    """Medical claims of the 12 months up to as-of whose person belongs to a known household.

    Arrays in the claims' own order: household row, member row, month code, out-of-pocket cost,
    whether the claim is an inpatient stay or an outpatient visit, and whether the household is a
    脱贫户; and the household row of every member.
    """

    household: np.ndarray
    person: np.ndarray
    member_household: np.ndarray
    month: np.ndarray
    out_of_pocket: np.ndarray
    inpatient: np.ndarray
    outpatient: np.ndarray
    poor: np.ndarray


def _claims_in_window(tables: Tables, *, as_of: pd.Period, member_household: np.ndarray) -> _Claims:
    poor = equals(tables.households["household_type"], FORMERLY_POOR)
    if tables.medical is None:
        empty = np.zeros(0, dtype=np.int64)
        none = np.zeros(0, dtype=bool)
        return _Claims(empty, empty, member_household, empty, np.zeros(0), none, none, poor)
    medical = tables.medical
    month = month_codes(medical["settle_date"])
    inside = np.flatnonzero((month <= as_of.ordinal) & (month > as_of.ordinal - WINDOW))
    members = tables.members
    person = lookup(medical["person_id"].take(inside), _text(members["person_id"]))
    household = np.where(person >= 0, member_household[np.maximum(person, 0)], -1)
    keep = household >= 0
    rows = inside[keep]
    visit = medical["visit_type"].take(rows)
    return _Claims(
        household=household[keep],
        person=person[keep],
        member_household=member_household,
        month=month[rows],
        out_of_pocket=medical["out_of_pocket"].to_numpy(dtype=float, na_value=np.nan)[rows],
        inpatient=equals(visit, "住院"),
        outpatient=equals(visit, OUTPATIENT),
        poor=poor,
    )


@dataclass(frozen=True)
class _PersonCosts:
    """Each person's out-of-pocket total over the window, persons in the order of their first claim."""

    person: np.ndarray
    household: np.ndarray
    total: np.ndarray


def _person_costs(claims: _Claims) -> _PersonCosts:
    # pandas' grouped sum (compensated, in record order) gives the totals the rule has always used
    per_person = pd.Series(claims.out_of_pocket).groupby(claims.person, sort=False).sum()
    people = per_person.index.to_numpy(dtype=np.int64)
    return _PersonCosts(
        person=people,
        household=claims.member_household[people],
        total=per_person.to_numpy(dtype=float),
    )


def _oop_rule(
    claims: _Claims, costs: _PersonCosts, n: int, *, as_of: pd.Period, policy: _Policy
) -> dict[str, np.ndarray]:
    share = policy.by_type(claims.poor, "oop_share_formerly_poor", "oop_share_other")
    limit = share * policy.rural_income
    ratio = costs.total / limit[costs.household]
    new_people = np.unique(claims.person[claims.month == as_of.ordinal])
    new = np.isin(costs.person, new_people) & (ratio > 1)
    return _ratio_rule("oop_over_income_share", costs.household, ratio, costs.household[new], n)


def _stay_rule(
    claims: _Claims, n: int, *, as_of: pd.Period, policy: _Policy
) -> dict[str, np.ndarray]:
    limit = policy.by_type(claims.poor, "stay_oop_formerly_poor", "stay_oop_other")
    household = claims.household[claims.inpatient]
    ratio = claims.out_of_pocket[claims.inpatient] / limit[household]
    now = (claims.month[claims.inpatient] == as_of.ordinal) & (ratio > 1)
    return _ratio_rule("large_inpatient_stay", household, ratio, household[now], n)


def _inpatient_push(
    claims: _Claims, n: int, *, as_of: pd.Period, policy: _Policy
) -> dict[str, np.ndarray]:
    limit = policy.by_type(claims.poor, "inpatient_push_formerly_poor", "inpatient_push_other")
    household = claims.household[claims.inpatient]
    ratio = claims.out_of_pocket[claims.inpatient] / limit[household]
    now = (claims.month[claims.inpatient] == as_of.ordinal) & (ratio >= 1)
    return _ratio_rule("inpatient_oop_push", household, ratio, household[now], n, at_least=True)


def _outpatient_push(
    claims: _Claims, n: int, *, as_of: pd.Period, policy: _Policy
) -> dict[str, np.ndarray]:
    """One person's outpatient out-of-pocket summed by calendar month, against the monthly amount."""
    visits = claims.outpatient
    lag = as_of.ordinal - claims.month[visits]  # 0 … WINDOW − 1
    key = claims.person[visits] * WINDOW + lag
    per_month = pd.Series(claims.out_of_pocket[visits]).groupby(key, sort=False).sum()
    keys = per_month.index.to_numpy(dtype=np.int64)
    household = claims.member_household[keys // WINDOW]
    ratio = per_month.to_numpy(dtype=float) / policy.thresholds["outpatient_push_month"][household]
    now = (keys % WINDOW == 0) & (ratio >= 1)
    return _ratio_rule("outpatient_oop_push", household, ratio, household[now], n, at_least=True)


def _ratio_rule(
    name: str,
    household: np.ndarray,
    ratio: np.ndarray,
    fired_now_rows: np.ndarray,
    n: int,
    *,
    at_least: bool = False,
) -> dict[str, np.ndarray]:
    """A rule met when a household's largest amount-to-threshold ratio passes 1 (or reaches it)."""
    highest = _largest(household, ratio, n)
    fired_now = np.zeros(n, dtype=bool)
    fired_now[fired_now_rows] = True
    return {
        name: highest >= 1 if at_least else highest > 1,
        f"{name}_new": fired_now,
        f"{name}_severity": np.minimum(highest, 2.0) / 2.0,
    }


def _largest(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Largest value per row, missing values skipped; 0 for a row without any value."""
    out = np.full(n, np.nan)
    np.fmax.at(out, rows, values)
    return np.where(np.isnan(out), 0.0, out)


@dataclass(frozen=True)
class _Income:
    """Per household: annualised net income, per capita, enough reports, a report of as-of itself."""

    annual: np.ndarray
    per_capita: np.ndarray
    enough: np.ndarray
    reported_now: np.ndarray


def _income_in_window(
    tables: Tables,
    household_ids: pa.Array,
    member_household: np.ndarray,
    *,
    as_of: pd.Period,
    params: RuleParams,
) -> _Income:
    n = len(household_ids)
    if tables.income is None:
        missing = np.full(n, np.nan)
        return _Income(missing, missing, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    income = tables.income
    month = month_codes(income["month"])
    inside = np.flatnonzero((month <= as_of.ordinal) & (month > as_of.ordinal - WINDOW))
    rows = lookup(income["household_id"].take(inside), household_ids)
    known = rows >= 0
    inside, rows = inside[known], rows[known]

    def part(name: str) -> np.ndarray:
        values = income[name].to_numpy(dtype=float, na_value=np.nan)[inside]
        return np.where(np.isnan(values), 0.0, values)

    net = (
        part("wage_income")
        + part("business_income")
        - part("business_expense")
        + part("property_income")
        + part("transfer_income")
    )
    # pandas' grouped sum (compensated, in record order) gives the totals the rule has always used
    grouped = pd.Series(net).groupby(rows).agg(["sum", "count"])
    total = np.full(n, np.nan)
    count = np.full(n, np.nan)
    total[grouped.index.to_numpy()] = grouped["sum"].to_numpy(dtype=float)
    count[grouped.index.to_numpy()] = grouped["count"].to_numpy(dtype=float)
    annual = total * 12.0 / count
    reported_now = np.zeros(n, dtype=bool)
    reported_now[rows[month[inside] == as_of.ordinal]] = True
    return _Income(
        annual=annual,
        per_capita=annual / _household_size(tables.members, member_household, n, as_of=as_of),
        enough=np.where(np.isnan(count), 0.0, count) >= params.min_income_months,
        reported_now=reported_now,
    )


def _below(name: str, income: _Income, threshold: np.ndarray) -> dict[str, np.ndarray]:
    """Per-capita income below a per-household threshold (enough reports needed)."""
    ratio = income.per_capita / threshold
    below = (ratio < 1) & income.enough
    severity = np.where(income.enough, np.clip(1 - ratio, 0.0, 1.0), 0.0)
    return {
        name: below,
        f"{name}_new": below & income.reported_now,
        f"{name}_severity": np.where(np.isnan(severity), 0.0, severity),
    }


def _rigid_rule(
    claims: _Claims,
    costs: _PersonCosts,
    income: _Income,
    n: int,
    *,
    as_of: pd.Period,
    policy: _Policy,
) -> dict[str, np.ndarray]:
    """刚性支出困难: low per-capita income and medical spending above a share of household income."""
    spending = np.zeros(n)
    if len(costs.household):
        # the members' totals added up, members in the order of their first claim
        per_household = pd.Series(costs.total).groupby(costs.household, sort=False).sum()
        spending[per_household.index.to_numpy()] = per_household.to_numpy(dtype=float)
    allowed = policy.thresholds["rigid_spending_share"] * income.annual
    met = (
        income.enough
        & (income.per_capita < policy.rural_income)
        & (spending > 0)
        & (spending > allowed)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(allowed > 0, spending / allowed, np.where(spending > 0, 2.0, 0.0))
    claimed_now = np.zeros(n, dtype=bool)
    claimed_now[claims.household[claims.month == as_of.ordinal]] = True
    severity = np.where(income.enough, np.minimum(np.nan_to_num(ratio), 2.0) / 2.0, 0.0)
    return {
        "rigid_spending_hardship": met,
        "rigid_spending_hardship_new": met & (income.reported_now | claimed_now),
        "rigid_spending_hardship_severity": severity,
    }


@dataclass(frozen=True)
class _Events:
    """Events of the 12 months up to as-of of a known household: household row, month, kind."""

    household: np.ndarray
    month: np.ndarray
    disaster: np.ndarray
    death: np.ndarray


def _events_in_window(tables: Tables, household_ids: pa.Array, *, as_of: pd.Period) -> _Events:
    if tables.events is None:
        empty = np.zeros(0, dtype=np.int64)
        return _Events(empty, empty, np.zeros(0, dtype=bool), np.zeros(0, dtype=bool))
    events = tables.events
    month = month_codes(events["date"])
    inside = np.flatnonzero((month <= as_of.ordinal) & (month > as_of.ordinal - WINDOW))
    rows = lookup(events["household_id"].take(inside), household_ids)
    keep = inside[rows >= 0]
    kind = events["event_type"].take(keep)
    return _Events(
        household=rows[rows >= 0],
        month=month[keep],
        disaster=equals(kind, DISASTER),
        death=equals(kind, DEATH),
    )


def _event_rule(
    name: str, events: _Events, kind: np.ndarray, n: int, *, as_of: pd.Period
) -> dict[str, np.ndarray]:
    """A rule met by an event of one kind on record (no severity: it is there or not)."""
    met = np.zeros(n, dtype=bool)
    met[events.household[kind]] = True
    now = np.zeros(n, dtype=bool)
    now[events.household[kind & (events.month == as_of.ordinal)]] = True
    return {name: met, f"{name}_new": now, f"{name}_severity": np.zeros(n)}


def _household_size(
    members: pd.DataFrame, member_household: np.ndarray, n: int, *, as_of: pd.Period
) -> np.ndarray:
    """Members born in or before `as_of` (or of unknown birth) per household; NaN for none."""
    birth = month_codes(members["birth_date"])
    born = ((birth == NO_MONTH) | (birth <= as_of.ordinal)) & (member_household >= 0)
    counts = np.bincount(member_household[born], minlength=n).astype(float)
    return np.where(counts > 0, counts, np.nan)


def triggered_rules(rules: pd.DataFrame, *, new_only: bool = True) -> pd.Series:
    """Per household, the list of rule names that fired (only those fired this month by default)."""
    suffix = "_new" if new_only else ""
    flags = rules[[f"{name}{suffix}" for name in RULE_NAMES]].to_numpy(bool)
    names = np.array(RULE_NAMES, dtype=object)
    return pd.Series([list(names[row]) for row in flags], index=rules.index, name="rule_triggers")
