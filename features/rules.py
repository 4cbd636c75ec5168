"""Department screening rules (部门筛查预警) as pure functions over contract tables.

These are the rules counties already run on department data (DOMAIN.md, "How households are found"):

- ``income_below_line`` — trailing-12-month per-capita net income below the monitoring line;
- ``oop_over_income_share`` — one person's out-of-pocket medical cost over the last 12 months above a
  share of the province's prior-year rural per-capita disposable income (50% for members of 脱贫户,
  100% for others);
- ``large_inpatient_stay`` — one hospital stay with out-of-pocket cost above 6,000 yuan (脱贫户) or
  10,000 yuan (other residents) in the last 12 months.

They serve twice: as the *rule baseline* the model is judged against (ranked by ``rule_score``) and as
the *policy rules* of monthly scoring, where a household whose rule fired on a record of the scoring
month itself (``<rule>_new``) is always listed for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract.errors import ConfigError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.panel import NO_MONTH, _text, equals, lookup, month_codes

#: Rural per-capita disposable income (yuan), national figures of the statistics bureau; configure
#: the province's own figures under ``[rules] rural_income_by_year`` in risk.toml.
DEFAULT_RURAL_INCOME_BY_YEAR: Mapping[int, float] = MappingProxyType(
    {
        2019: 16021.0,
        2020: 17131.0,
        2021: 18931.0,
        2022: 20133.0,
        2023: 21691.0,
        2024: 23119.0,
        2025: 24400.0,
    }
)

RULE_NAMES: tuple[str, ...] = ("income_below_line", "oop_over_income_share", "large_inpatient_stay")

RULE_LABELS_ZH: Mapping[str, str] = MappingProxyType(
    {
        "income_below_line": "人均纯收入低于监测线",
        "oop_over_income_share": "年度个人医疗自付超过农村居民人均可支配收入的规定比例",
        "large_inpatient_stay": "单次住院自付超过规定额度",
    }
)

FORMERLY_POOR = "脱贫户"


@dataclass(frozen=True)
class RuleParams:
    """Thresholds of the department rules (DOMAIN.md); all overridable under ``[rules]``."""

    rural_income_by_year: Mapping[int, float] = field(
        default_factory=lambda: dict(DEFAULT_RURAL_INCOME_BY_YEAR)
    )
    oop_share_formerly_poor: float = 0.5
    oop_share_other: float = 1.0
    stay_oop_formerly_poor: float = 6000.0
    stay_oop_other: float = 10000.0
    min_income_months: int = 3

    def __post_init__(self) -> None:
        if not self.rural_income_by_year:
            raise ConfigError("[rules] rural_income_by_year needs at least one year")
        if min(self.oop_share_formerly_poor, self.oop_share_other) <= 0:
            raise ConfigError("[rules] oop shares must be positive fractions, e.g. 0.5")
        if min(self.stay_oop_formerly_poor, self.stay_oop_other) <= 0:
            raise ConfigError("[rules] stay thresholds must be positive amounts in yuan")
        if not 1 <= self.min_income_months <= 12:
            raise ConfigError("[rules] min_income_months must be between 1 and 12")

    def rural_income(self, year: int) -> float:
        """The prior-year figure for rules applied in `year` (nearest configured year if absent)."""
        years = sorted(self.rural_income_by_year)
        prior = year - 1
        usable = [y for y in years if y <= prior] or years[:1]
        return float(self.rural_income_by_year[usable[-1]])


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
        Rule thresholds and monitoring lines.

    Returns
    -------
    DataFrame indexed by ``household_id`` (every household of ``tables.households``) with a bool
    column per rule in ``RULE_NAMES``, a bool ``<rule>_new`` column that is true when a record of
    month `as_of` itself is part of the evidence, and ``rule_score`` (number of rules met plus a
    severity in [0, 1): higher means more and more severe).
    """
    households = tables.households
    index = pd.Index(households["household_id"], name="household_id")
    formerly_poor = equals(households["household_type"], FORMERLY_POOR)
    ids = _text(households["household_id"])
    member_household = lookup(tables.members["household_id"], ids)
    claims = _claims_in_window(tables, as_of=as_of, member_household=member_household)
    columns: dict[str, np.ndarray] = {}
    columns.update(
        _income_rule(tables, ids, member_household, as_of=as_of, lines=lines, params=params)
    )
    columns.update(_oop_rule(claims, len(index), as_of=as_of, params=params, poor=formerly_poor))
    columns.update(_stay_rule(claims, len(index), as_of=as_of, params=params, poor=formerly_poor))
    severity = np.nanmax(
        np.column_stack([columns.pop(f"{name}_severity") for name in RULE_NAMES]),
        axis=1,
        initial=0.0,
    )
    result = pd.DataFrame(columns, index=index)
    result["rule_score"] = result[list(RULE_NAMES)].sum(axis=1).astype(float) + 0.999 * severity
    return result


@dataclass(frozen=True)
class _Claims:
    """Medical claims of the 12 months up to as-of whose person belongs to a known household.

    Arrays in the claims' own order: household row, member row, month code, out-of-pocket cost,
    and whether the claim is an inpatient stay; and the household row of every member.
    """

    household: np.ndarray
    person: np.ndarray
    member_household: np.ndarray
    month: np.ndarray
    out_of_pocket: np.ndarray
    inpatient: np.ndarray


def _claims_in_window(tables: Tables, *, as_of: pd.Period, member_household: np.ndarray) -> _Claims:
    if tables.medical is None:
        empty = np.zeros(0, dtype=np.int64)
        return _Claims(empty, empty, empty, empty, np.zeros(0), np.zeros(0, dtype=bool))
    medical = tables.medical
    month = month_codes(medical["settle_date"])
    inside = np.flatnonzero((month <= as_of.ordinal) & (month > as_of.ordinal - 12))
    members = tables.members
    person = lookup(medical["person_id"].take(inside), _text(members["person_id"]))
    household = np.where(person >= 0, member_household[np.maximum(person, 0)], -1)
    keep = household >= 0
    rows = inside[keep]
    return _Claims(
        household=household[keep],
        person=person[keep],
        member_household=member_household,
        month=month[rows],
        out_of_pocket=medical["out_of_pocket"].to_numpy(dtype=float, na_value=np.nan)[rows],
        inpatient=equals(medical["visit_type"], "住院")[rows],
    )


def _oop_rule(
    claims: _Claims, n: int, *, as_of: pd.Period, params: RuleParams, poor: np.ndarray
) -> dict[str, np.ndarray]:
    share = np.where(poor, params.oop_share_formerly_poor, params.oop_share_other)
    limit = share * params.rural_income(as_of.year)
    # pandas' grouped sum (compensated, in record order) gives the totals the rule has always used
    per_person = pd.Series(claims.out_of_pocket).groupby(claims.person, sort=False).sum()
    people = per_person.index.to_numpy(dtype=np.int64)
    household = claims.member_household[people]
    ratio = per_person.to_numpy(dtype=float) / limit[household]
    new_people = np.unique(claims.person[claims.month == as_of.ordinal])
    new = np.isin(people, new_people) & (ratio > 1)
    highest = _largest(household, ratio, n)
    fired_now = np.zeros(n, dtype=bool)
    fired_now[household[new]] = True
    return {
        "oop_over_income_share": highest > 1,
        "oop_over_income_share_new": fired_now,
        "oop_over_income_share_severity": np.minimum(highest, 2.0) / 2.0,
    }


def _stay_rule(
    claims: _Claims, n: int, *, as_of: pd.Period, params: RuleParams, poor: np.ndarray
) -> dict[str, np.ndarray]:
    limit = np.where(poor, params.stay_oop_formerly_poor, params.stay_oop_other)
    household = claims.household[claims.inpatient]
    ratio = claims.out_of_pocket[claims.inpatient] / limit[household]
    highest = _largest(household, ratio, n)
    fired_now = np.zeros(n, dtype=bool)
    fired_now[household[(claims.month[claims.inpatient] == as_of.ordinal) & (ratio > 1)]] = True
    return {
        "large_inpatient_stay": highest > 1,
        "large_inpatient_stay_new": fired_now,
        "large_inpatient_stay_severity": np.minimum(highest, 2.0) / 2.0,
    }


def _largest(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Largest value per row, missing values skipped; 0 for a row without any value."""
    out = np.full(n, np.nan)
    np.fmax.at(out, rows, values)
    return np.where(np.isnan(out), 0.0, out)


def _income_rule(
    tables: Tables,
    household_ids: pa.Array,
    member_household: np.ndarray,
    *,
    as_of: pd.Period,
    lines: MonitoringLines,
    params: RuleParams,
) -> dict[str, np.ndarray]:
    n = len(household_ids)
    if tables.income is None:
        false = np.zeros(n, dtype=bool)
        return {
            "income_below_line": false,
            "income_below_line_new": false,
            "income_below_line_severity": np.zeros(n),
        }
    income = tables.income
    month = month_codes(income["month"])
    inside = np.flatnonzero((month <= as_of.ordinal) & (month > as_of.ordinal - 12))
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
    size = _household_size(tables.members, member_household, n, as_of=as_of)
    per_capita = total * 12.0 / count / size
    line = np.asarray(lines.lookup(tables.households["county"], as_of.year), dtype=float)
    ratio = per_capita / line
    enough = np.where(np.isnan(count), 0.0, count) >= params.min_income_months
    below = (ratio < 1) & enough
    reported_now = np.zeros(n, dtype=bool)
    reported_now[rows[month[inside] == as_of.ordinal]] = True
    severity = np.where(enough, np.clip(1 - ratio, 0.0, 1.0), 0.0)
    return {
        "income_below_line": below,
        "income_below_line_new": below & reported_now,
        "income_below_line_severity": np.where(np.isnan(severity), 0.0, severity),
    }


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
