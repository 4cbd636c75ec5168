"""`department_rules` equals a plain pandas formulation, value for value.

The rules run on integer rows (Arrow id lookups, no string joins) for speed at 200k households; this
test keeps a join-and-groupby version of every rule as the reference and compares them exactly on
random tables with the awkward cases: claims of unknown people, members of unknown households,
households without members, missing amounts and birth dates, records outside the window, events of
unknown households or without a date, absent tables, and counties in two provinces with overrides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract.lines import MonitoringLines, PolicyPack, RegionPolicy
from features.contract.tables import Tables
from features.rules import RULE_NAMES, RuleParams, department_rules

AS_OF = pd.Period("2024-06", freq="M")


def _year(line: float, dibao: float, rural: float, **thresholds: float) -> dict[str, float]:
    return {
        "monitoring_line": line,
        "dibao_standard": dibao,
        "rural_income_last_year": rural,
        **thresholds,
    }


PACK = PolicyPack(
    provinces={
        "某省": RegionPolicy(
            by_year={2024: _year(7300, 3000, 20000), 2025: _year(7600, 3300, 21000)},
            every_year={"rigid_spending_share": 0.4},
        ),
        "另省": RegionPolicy(
            by_year={
                2024: _year(7000, 2800, 18000, inpatient_push_other=15000.0),
                2025: _year(7200, 3100, 19000, oop_share_other=0.8),
            }
        ),
    },
    counties={
        "乙县": RegionPolicy(province="另省", by_year={2024: {"monitoring_line": 6900.0}}),
        "丙县": RegionPolicy(every_year={"outpatient_push_month": 300.0}),
    },
    default_province="某省",
)
LINES = MonitoringLines(pack=PACK)
PARAMS = RuleParams(policy=PACK)


def _random_tables(
    seed: int, *, medical: bool = True, income: bool = True, events: bool = True
) -> Tables:
    rng = np.random.default_rng(seed)
    n_households, n_members = 40, 110
    households = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in range(n_households)],
            "county": rng.choice(["甲县", "乙县", "丙县"], n_households),
            "household_type": rng.choice(["脱贫户", "一般农户"], n_households),
        }
    ).astype({"household_id": "str", "county": "str", "household_type": "str"})
    births = pd.to_datetime("1950-01-01") + pd.to_timedelta(
        rng.integers(0, 27_000, n_members), unit="D"
    )
    members = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in range(n_members)],
            # H40–H44 are unknown households; H35–H39 get no member at all
            "household_id": [f"H{i}" for i in rng.integers(0, 45, n_members) % 45],
            "birth_date": pd.Series(births).mask(rng.random(n_members) < 0.05),
        }
    ).astype({"person_id": "str", "household_id": "str"})
    members.loc[members["household_id"].isin([f"H{i}" for i in range(35, 40)]), "household_id"] = (
        "H0"
    )
    n_claims = 600
    claims = pd.DataFrame(
        {
            "person_id": [f"P{i}" for i in rng.integers(0, n_members + 10, n_claims)],
            "settle_date": pd.to_datetime("2023-01-01")
            + pd.to_timedelta(rng.integers(0, 760, n_claims), unit="D"),
            "visit_type": rng.choice(["住院", "普通门诊", "门诊慢特病", "门诊"], n_claims),
            "out_of_pocket": pd.Series(rng.gamma(1.2, 4000.0, n_claims)).mask(
                rng.random(n_claims) < 0.05
            ),
        }
    ).astype({"person_id": "str", "visit_type": "str"})
    # outpatient visits are small: a few hundred yuan, so that the monthly sum decides the push
    outpatient = claims["visit_type"] != "住院"
    claims.loc[outpatient, "out_of_pocket"] = claims.loc[outpatient, "out_of_pocket"] / 15.0
    n_income = 500
    months = pd.period_range("2023-01", "2025-01", freq="M")
    income_frame = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in rng.integers(0, n_households + 3, n_income)],
            "month": months[rng.integers(0, len(months), n_income)],
            **{
                part: pd.Series(rng.gamma(1.0, 300.0, n_income)).mask(rng.random(n_income) < 0.1)
                for part in (
                    "wage_income",
                    "business_income",
                    "business_expense",
                    "property_income",
                    "transfer_income",
                )
            },
        }
    ).astype({"household_id": "str"})
    n_events = 80
    event_frame = pd.DataFrame(
        {
            "household_id": [f"H{i}" for i in rng.integers(0, n_households + 3, n_events)],
            "date": pd.Series(
                pd.to_datetime("2023-01-01")
                + pd.to_timedelta(rng.integers(0, 760, n_events), unit="D")
            ).mask(rng.random(n_events) < 0.05),
            "event_type": rng.choice(["自然灾害", "家庭成员死亡", "意外事故", "失业"], n_events),
        }
    ).astype({"household_id": "str", "event_type": "str"})
    return Tables(
        households=households,
        members=members,
        export_month=AS_OF + 7,
        medical=claims if medical else None,
        income=income_frame if income else None,
        events=event_frame if events else None,
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    ("medical", "income", "events"),
    [(True, True, True), (False, True, True), (True, False, True), (True, True, False)],
)
def test_rules_equal_the_pandas_formulation(
    seed: int, medical: bool, income: bool, events: bool
) -> None:
    tables = _random_tables(seed, medical=medical, income=income, events=events)
    for as_of in (AS_OF, AS_OF - 3, AS_OF + 7):
        got = department_rules(tables, as_of=as_of, params=PARAMS, lines=LINES)
        expected = _reference(tables, as_of=as_of, params=PARAMS, lines=LINES)
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got[list(RULE_NAMES)].to_numpy().any()


def test_every_rule_fires_somewhere_in_the_random_tables() -> None:
    """The comparison above means something only if each rule is met and met anew on some table."""
    met = {name: False for name in RULE_NAMES}
    new = dict(met)
    for seed in (0, 1, 2):
        tables = _random_tables(seed)
        for as_of in (AS_OF, AS_OF - 3, AS_OF + 7):
            got = department_rules(tables, as_of=as_of, params=PARAMS, lines=LINES)
            for name in RULE_NAMES:
                met[name] |= bool(got[name].any()) and not bool(got[name].all())
                new[name] |= bool(got[f"{name}_new"].any())
    assert all(met.values()), met
    assert all(new.values()), new


# --- the reference: joins and groupbys, one rule at a time --------------------------------------


def _reference(
    tables: Tables, *, as_of: pd.Period, params: RuleParams, lines: MonitoringLines
) -> pd.DataFrame:
    households = tables.households.set_index("household_id")
    values = _values(households, as_of=as_of, params=params, lines=lines)
    result = pd.DataFrame(index=households.index)
    claims = _claims(tables, as_of=as_of)
    income = _income(tables, households, as_of=as_of, params=params)
    for frame in (
        _below("income_below_line", income, values["line"]),
        _oop(claims, households, as_of=as_of, values=values),
        _stay(claims, households, as_of=as_of, values=values),
        _below("dibao_edge", income, values["dibao_edge_multiple"] * values["dibao"]),
        _rigid(claims, income, as_of=as_of, values=values),
        _inpatient_push(claims, households, as_of=as_of, values=values),
        _outpatient_push(claims, households, as_of=as_of, values=values),
        _event(tables, households, "自然灾害", "disaster_on_record", as_of=as_of),
        _event(tables, households, "家庭成员死亡", "death_on_record", as_of=as_of),
    ):
        result = result.join(frame)
    severity = np.nanmax(
        np.column_stack([result.pop(f"{name}_severity").to_numpy(float) for name in RULE_NAMES]),
        axis=1,
        initial=0.0,
    )
    result["rule_score"] = result[list(RULE_NAMES)].sum(axis=1).astype(float) + 0.999 * severity
    return result


def _values(households, *, as_of, params, lines):  # type: ignore[no-untyped-def]
    """Per household, looked up county by county: line, 低保 standard, rural income, thresholds."""
    pack, year = params.pack(), as_of.year
    poor = households["household_type"].eq("脱贫户")
    county = households["county"]

    def each(value_of):  # type: ignore[no-untyped-def]
        return county.map(value_of).astype(float)

    out = {
        "line": each(lambda c: lines.line_for(c, year)),
        "dibao": each(lambda c: pack.amount("dibao_standard", c, year)),
        "rural": each(lambda c: pack.amount("rural_income_last_year", c, year)),
    }
    for name in (
        "oop_share_formerly_poor",
        "oop_share_other",
        "stay_oop_formerly_poor",
        "stay_oop_other",
        "dibao_edge_multiple",
        "rigid_spending_share",
        "inpatient_push_formerly_poor",
        "inpatient_push_other",
        "outpatient_push_month",
    ):
        out[name] = each(lambda c, n=name: pack.setting(n, c, year, default=getattr(params, n)))
    for rule in ("oop_share", "stay_oop", "inpatient_push"):
        out[rule] = out[f"{rule}_formerly_poor"].where(poor, out[f"{rule}_other"])
    return out


def _claims(tables: Tables, *, as_of: pd.Period) -> pd.DataFrame:
    columns = ["household_id", "person_id", "month", "visit_type", "out_of_pocket"]
    if tables.medical is None:
        return pd.DataFrame(columns=columns)
    claims = tables.medical[["person_id", "settle_date", "visit_type", "out_of_pocket"]]
    month = claims["settle_date"].dt.to_period("M")
    inside = (month <= as_of) & (month > as_of - 12)
    claims = claims.loc[inside].assign(month=month[inside])
    members = tables.members[["person_id", "household_id"]]
    claims = claims.merge(members, on="person_id", how="inner")[columns]
    return claims.loc[claims["household_id"].isin(tables.households["household_id"])]


def _oop(claims, households, *, as_of, values):  # type: ignore[no-untyped-def]
    limit = values["oop_share"] * values["rural"]
    per_person = claims.groupby(["household_id", "person_id"], sort=False)["out_of_pocket"].sum()
    new_people = set(claims.loc[claims["month"] == as_of, "person_id"])
    people = per_person.reset_index()
    people["ratio"] = people["out_of_pocket"] / people["household_id"].map(limit).astype(float)
    people["new"] = people["person_id"].isin(new_people) & (people["ratio"] > 1)
    grouped = people.groupby("household_id", sort=False)
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


def _largest_stay(claims, households, limit, name, *, as_of, at_least):  # type: ignore[no-untyped-def]
    stays = claims.loc[claims["visit_type"] == "住院"]
    stays = stays.assign(ratio=stays["out_of_pocket"] / stays["household_id"].map(limit))
    ratio = stays.groupby("household_id", sort=False)["ratio"].max()
    ratio = ratio.reindex(households.index).fillna(0.0)
    over = stays["ratio"] >= 1 if at_least else stays["ratio"] > 1
    new = stays.loc[(stays["month"] == as_of) & over, "household_id"].unique()
    return pd.DataFrame(
        {
            name: ratio >= 1 if at_least else ratio > 1,
            f"{name}_new": households.index.isin(new),
            f"{name}_severity": ratio.clip(upper=2.0) / 2.0,
        },
        index=households.index,
    )


def _stay(claims, households, *, as_of, values):  # type: ignore[no-untyped-def]
    return _largest_stay(
        claims, households, values["stay_oop"], "large_inpatient_stay", as_of=as_of, at_least=False
    )


def _inpatient_push(claims, households, *, as_of, values):  # type: ignore[no-untyped-def]
    return _largest_stay(
        claims, households, values["inpatient_push"], "inpatient_oop_push", as_of=as_of,
        at_least=True,
    )  # fmt: skip


def _outpatient_push(claims, households, *, as_of, values):  # type: ignore[no-untyped-def]
    visits = claims.loc[claims["visit_type"].isin(["门诊慢特病", "普通门诊"])]
    monthly = (
        visits.groupby(["household_id", "person_id", "month"], sort=False)["out_of_pocket"]
        .sum()
        .reset_index()
    )
    monthly["ratio"] = monthly["out_of_pocket"] / monthly["household_id"].map(
        values["outpatient_push_month"]
    )
    ratio = monthly.groupby("household_id")["ratio"].max().reindex(households.index).fillna(0.0)
    new = monthly.loc[(monthly["month"] == as_of) & (monthly["ratio"] >= 1), "household_id"]
    return pd.DataFrame(
        {
            "outpatient_oop_push": ratio >= 1,
            "outpatient_oop_push_new": households.index.isin(new),
            "outpatient_oop_push_severity": ratio.clip(upper=2.0) / 2.0,
        },
        index=households.index,
    )


def _income(tables, households, *, as_of, params):  # type: ignore[no-untyped-def]
    index = households.index
    if tables.income is None:
        return pd.DataFrame(
            {"annual": np.nan, "per_capita": np.nan, "enough": False, "reported_now": False},
            index=index,
        )
    income = tables.income
    rows = income.loc[(income["month"] <= as_of) & (income["month"] > as_of - 12)]
    net = (
        rows["wage_income"].fillna(0)
        + rows["business_income"].fillna(0)
        - rows["business_expense"].fillna(0)
        + rows["property_income"].fillna(0)
        + rows["transfer_income"].fillna(0)
    )
    grouped = net.groupby(rows["household_id"]).agg(["sum", "count"]).reindex(index)
    members = tables.members
    born = members["birth_date"].isna() | (members["birth_date"].dt.to_period("M") <= as_of)
    size = members.loc[born].groupby("household_id").size().astype(float).reindex(index)
    annual = grouped["sum"] * 12.0 / grouped["count"]
    return pd.DataFrame(
        {
            "annual": annual,
            "per_capita": annual / size,
            "enough": grouped["count"].fillna(0) >= params.min_income_months,
            "reported_now": index.isin(rows.loc[rows["month"] == as_of, "household_id"]),
        },
        index=index,
    )


def _below(name, income, threshold):  # type: ignore[no-untyped-def]
    ratio = income["per_capita"] / threshold
    below = (ratio < 1) & income["enough"]
    return pd.DataFrame(
        {
            name: below.fillna(False).astype(bool),
            f"{name}_new": (below & income["reported_now"]).fillna(False).astype(bool),
            f"{name}_severity": (1 - ratio)
            .clip(lower=0.0, upper=1.0)
            .where(income["enough"], 0.0)
            .fillna(0.0),
        },
        index=income.index,
    )


def _rigid(claims, income, *, as_of, values):  # type: ignore[no-untyped-def]
    index = income.index
    per_person = claims.groupby(["household_id", "person_id"], sort=False)["out_of_pocket"].sum()
    spending = per_person.groupby(level="household_id", sort=False).sum()
    spending = spending.reindex(index).fillna(0.0)
    allowed = values["rigid_spending_share"] * income["annual"]
    met = (
        income["enough"]
        & (income["per_capita"] < values["rural"])
        & (spending > 0)
        & (spending > allowed)
    )
    ratio = (spending / allowed).where(allowed > 0, np.where(spending > 0, 2.0, 0.0))
    claimed_now = index.isin(claims.loc[claims["month"] == as_of, "household_id"])
    return pd.DataFrame(
        {
            "rigid_spending_hardship": met,
            "rigid_spending_hardship_new": met & (income["reported_now"] | claimed_now),
            "rigid_spending_hardship_severity": (ratio.fillna(0.0).clip(upper=2.0) / 2.0).where(
                income["enough"], 0.0
            ),
        },
        index=index,
    )


def _event(tables, households, kind, name, *, as_of):  # type: ignore[no-untyped-def]
    index = households.index
    if tables.events is None:
        none = np.zeros(len(index), dtype=bool)
        return pd.DataFrame({name: none, f"{name}_new": none, f"{name}_severity": 0.0}, index=index)
    events = tables.events
    month = events["date"].dt.to_period("M")
    chosen = (events["event_type"] == kind) & (month <= as_of) & (month > as_of - 12)
    return pd.DataFrame(
        {
            name: index.isin(events.loc[chosen, "household_id"]),
            f"{name}_new": index.isin(events.loc[chosen & (month == as_of), "household_id"]),
            f"{name}_severity": 0.0,
        },
        index=index,
    )
