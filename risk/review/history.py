"""A household's recent history for the review page, from the run's contract tables (pure).

Only records dated in or before the run's month are shown (what the model could see). People are
named by their relation to the head of household (户主, 配偶, 之子 …), never by an id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from features.contract.tables import Tables


@dataclass(frozen=True)
class HouseholdHistory:
    """Monthly income and medical out-of-pocket costs, work spells and events of one household."""

    months: list[str]
    income: list[float | None]
    medical: list[float | None]
    spells: list[dict[str, str]] = field(default_factory=list)
    events: list[dict[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def household_history(
    tables: Tables, household_id: str, *, as_of: str, months: int = 12
) -> HouseholdHistory:
    """The last `months` months up to `as_of` for one household.

    Parameters
    ----------
    tables
        The run's contract tables (`features.contract.io.load_directory(...).tables`).
    household_id
        The household.
    as_of
        The run's month (``YYYY-MM``); later records are left out.
    months
        How many months the charts show.

    Returns
    -------
    HouseholdHistory
        `income` is net income per month (None where the month has no row: unknown, not zero);
        `medical` the out-of-pocket sum per month (None when no medical table was sent).
    """
    end = pd.Period(as_of, freq="M")
    window = pd.period_range(end - (months - 1), end, freq="M")
    people = _people(tables.members, household_id)
    return HouseholdHistory(
        months=[str(m) for m in window],
        income=_income(tables.income, household_id, window),
        medical=_medical(tables.medical, people, window),
        spells=_spells(tables.employment, people, end),
        events=_events(tables.events, household_id, end),
        sources=[name for name, _ in tables.present()],
    )


def _people(members: pd.DataFrame, household_id: str) -> dict[str, str]:
    """person_id → how the page names the person (relation, numbered when repeated)."""
    rows = members[members["household_id"].astype(str) == household_id]
    names: dict[str, str] = {}
    seen: dict[str, int] = {}
    for person, relation in zip(rows["person_id"], rows["relation"].fillna("成员"), strict=True):
        seen[relation] = seen.get(relation, 0) + 1
        names[str(person)] = relation if seen[relation] == 1 else f"{relation}{seen[relation]}"
    return names


def _income(income: pd.DataFrame | None, household_id: str, window: pd.PeriodIndex) -> list:
    if income is None:
        return [None] * len(window)
    rows = income[income["household_id"].astype(str) == household_id]
    parts = ["wage_income", "business_income", "property_income", "transfer_income"]
    net = rows[parts].fillna(0).sum(axis=1) - rows["business_expense"].fillna(0)
    by_month = pd.Series(net.to_numpy(), index=rows["month"]).groupby(level=0).sum()
    return [float(by_month[m]) if m in by_month.index else None for m in window]


def _medical(medical: pd.DataFrame | None, people: dict[str, str], window: pd.PeriodIndex) -> list:
    if medical is None:
        return [None] * len(window)
    rows = medical[medical["person_id"].astype(str).isin(people)]
    month = pd.to_datetime(rows["settle_date"]).dt.to_period("M")
    by_month = rows["out_of_pocket"].fillna(0).groupby(month).sum()
    return [float(by_month.get(m, 0.0)) for m in window]


def _spells(employment: pd.DataFrame | None, people: dict[str, str], end: pd.Period) -> list:
    if employment is None:
        return []
    rows = employment[employment["person_id"].astype(str).isin(people)]
    rows = rows[rows["start_month"] <= end].sort_values("start_month")
    return [
        {
            "person": people[str(row.person_id)],
            "start": str(row.start_month),
            "end": str(row.end_month)
            if pd.notna(row.end_month) and row.end_month <= end
            else "至今",
            "location": "" if pd.isna(row.work_location) else str(row.work_location),
            "income": "" if pd.isna(row.monthly_income) else f"{row.monthly_income:,.0f}元/月",
        }
        for row in rows.itertuples()
    ]


def _events(events: pd.DataFrame | None, household_id: str, end: pd.Period) -> list:
    if events is None:
        return []
    rows = events[events["household_id"].astype(str) == household_id]
    rows = rows[pd.to_datetime(rows["date"]).dt.to_period("M") <= end].sort_values("date")
    return [
        {
            "date": pd.Timestamp(row.date).date().isoformat(),
            "type": str(row.event_type),
            "loss": "" if pd.isna(row.loss_amount) else f"{row.loss_amount:,.0f}元",
        }
        for row in rows.itertuples()
    ]
