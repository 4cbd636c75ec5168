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

from features.errors import ConfigError
from features.lines import MonitoringLines
from features.tables import Tables

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
    households = tables.households.set_index("household_id")
    formerly_poor = households["household_type"].eq(FORMERLY_POOR).to_numpy()
    result = pd.DataFrame(index=households.index)
    medical = _claims_in_window(tables, as_of=as_of)
    oop = _oop_rule(medical, households, as_of=as_of, params=params, formerly_poor=formerly_poor)
    stay = _stay_rule(medical, households, as_of=as_of, params=params, formerly_poor=formerly_poor)
    income = _income_rule(tables, households, as_of=as_of, lines=lines, params=params)
    for frame in (income, oop, stay):
        result = result.join(frame)
    severity = np.nanmax(
        np.column_stack([result.pop(f"{name}_severity").to_numpy(float) for name in RULE_NAMES]),
        axis=1,
        initial=0.0,
    )
    result["rule_score"] = result[list(RULE_NAMES)].sum(axis=1).astype(float) + 0.999 * severity
    return result


def _claims_in_window(tables: Tables, *, as_of: pd.Period) -> pd.DataFrame:
    columns = ["household_id", "person_id", "month", "visit_type", "out_of_pocket"]
    if tables.medical is None:
        return pd.DataFrame(columns=columns)
    claims = tables.medical[["person_id", "settle_date", "visit_type", "out_of_pocket"]]
    month = claims["settle_date"].dt.to_period("M")
    in_window = (month <= as_of) & (month > as_of - 12)
    claims = claims.loc[in_window].assign(month=month[in_window])
    members = tables.members[["person_id", "household_id"]]
    return claims.merge(members, on="person_id", how="inner")[columns]


def _oop_rule(
    claims: pd.DataFrame,
    households: pd.DataFrame,
    *,
    as_of: pd.Period,
    params: RuleParams,
    formerly_poor: np.ndarray,
) -> pd.DataFrame:
    share = np.where(formerly_poor, params.oop_share_formerly_poor, params.oop_share_other)
    limit = pd.Series(share * params.rural_income(as_of.year), index=households.index)
    per_person = claims.groupby(["household_id", "person_id"], sort=False)["out_of_pocket"].sum()
    new_people = set(claims.loc[claims["month"] == as_of, "person_id"])
    person_frame = per_person.reset_index()
    person_frame["ratio"] = person_frame["out_of_pocket"] / person_frame["household_id"].map(
        limit
    ).astype(float)
    person_frame["new"] = person_frame["person_id"].isin(new_people) & (person_frame["ratio"] > 1)
    grouped = person_frame.groupby("household_id", sort=False)
    ratio = grouped["ratio"].max().reindex(households.index).fillna(0.0)
    return pd.DataFrame(
        {
            "oop_over_income_share": ratio > 1,
            "oop_over_income_share_new": grouped["new"]
            .any()
            .reindex(households.index, fill_value=False),
            "oop_over_income_share_severity": ratio.clip(upper=2.0) / 2.0,
        }
    )


def _stay_rule(
    claims: pd.DataFrame,
    households: pd.DataFrame,
    *,
    as_of: pd.Period,
    params: RuleParams,
    formerly_poor: np.ndarray,
) -> pd.DataFrame:
    limit_values = np.where(formerly_poor, params.stay_oop_formerly_poor, params.stay_oop_other)
    limit = pd.Series(limit_values, index=households.index)
    stays = claims.loc[claims["visit_type"] == "住院"]
    stays = stays.assign(
        ratio=stays["out_of_pocket"] / stays["household_id"].map(limit).astype(float)
    )
    grouped = stays.groupby("household_id", sort=False)
    ratio = grouped["ratio"].max().reindex(households.index).fillna(0.0)
    new = stays.loc[(stays["month"] == as_of) & (stays["ratio"] > 1), "household_id"].unique()
    return pd.DataFrame(
        {
            "large_inpatient_stay": ratio > 1,
            "large_inpatient_stay_new": households.index.isin(new),
            "large_inpatient_stay_severity": ratio.clip(upper=2.0) / 2.0,
        },
        index=households.index,
    )


def _income_rule(
    tables: Tables,
    households: pd.DataFrame,
    *,
    as_of: pd.Period,
    lines: MonitoringLines,
    params: RuleParams,
) -> pd.DataFrame:
    index = households.index
    if tables.income is None:
        false = np.zeros(len(index), dtype=bool)
        return pd.DataFrame(
            {
                "income_below_line": false,
                "income_below_line_new": false,
                "income_below_line_severity": 0.0,
            },
            index=index,
        )
    income = tables.income
    in_window = (income["month"] <= as_of) & (income["month"] > as_of - 12)
    rows = income.loc[in_window]
    net = (
        rows["wage_income"].fillna(0)
        + rows["business_income"].fillna(0)
        - rows["business_expense"].fillna(0)
        + rows["property_income"].fillna(0)
        + rows["transfer_income"].fillna(0)
    )
    grouped = net.groupby(rows["household_id"]).agg(["sum", "count"]).reindex(index)
    size = _household_size(tables.members, as_of=as_of).reindex(index)
    per_capita = grouped["sum"] * 12.0 / grouped["count"] / size
    line = pd.Series(lines.lookup(households["county"], as_of.year), index=index)
    ratio = per_capita / line
    enough = grouped["count"].fillna(0) >= params.min_income_months
    below = (ratio < 1) & enough
    reported_now = index.isin(rows.loc[rows["month"] == as_of, "household_id"])
    return pd.DataFrame(
        {
            "income_below_line": below.fillna(False).astype(bool),
            "income_below_line_new": (below & reported_now).fillna(False).astype(bool),
            "income_below_line_severity": (1 - ratio)
            .clip(lower=0.0, upper=1.0)
            .where(enough, 0.0)
            .fillna(0.0),
        },
        index=index,
    )


def _household_size(members: pd.DataFrame, *, as_of: pd.Period) -> pd.Series:
    born = members["birth_date"].isna() | (members["birth_date"].dt.to_period("M") <= as_of)
    return members.loc[born].groupby("household_id").size().astype(float)


def triggered_rules(rules: pd.DataFrame, *, new_only: bool = True) -> pd.Series:
    """Per household, the list of rule names that fired (only those fired this month by default)."""
    suffix = "_new" if new_only else ""
    flags = rules[[f"{name}{suffix}" for name in RULE_NAMES]].to_numpy(bool)
    names = np.array(RULE_NAMES, dtype=object)
    return pd.Series([list(names[row]) for row in flags], index=rules.index, name="rule_triggers")
