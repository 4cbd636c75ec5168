"""A tiny synthetic county in the normalised `Tables` form, for end-to-end training tests.

Not the simulator: just enough structure that income drops and medical costs precede identifications,
so a model has something to learn, in a few hundred households and a couple of years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import Tables


def synthetic_tables(
    n_households: int = 600, *, n_months: int = 30, end: str = "2026-06", seed: int = 0
) -> tuple[Tables, pd.DataFrame]:
    """(tables, truth): truth has `household_id, month, p_true` like the simulator's."""
    rng = np.random.default_rng(seed)
    months = pd.period_range(end=pd.Period(end, "M"), periods=n_months, freq="M")
    ids = np.array([f"H{i:05d}" for i in range(n_households)])
    poor = rng.random(n_households) < 0.4
    households = pd.DataFrame(
        {
            "household_id": pd.Series(ids, dtype="str"),
            "county": pd.Series(rng.choice(["甲县", "乙县"], n_households), dtype="str"),
            "township": pd.Series(rng.choice(["t1", "t2"], n_households), dtype="str"),
            "village": pd.Series(rng.choice(["v1", "v2"], n_households), dtype="str"),
            "household_type": pd.Series(np.where(poor, "脱贫户", "一般农户"), dtype="str"),
            "exit_year": pd.Series(np.where(poor, 2019, pd.NA), dtype="Int64"),
            "relocated": pd.Series([False] * n_households, dtype="boolean"),
            "dangerous_house": pd.Series([False] * n_households, dtype="boolean"),
            "safe_water": pd.Series([True] * n_households, dtype="boolean"),
            "cultivated_land_mu": rng.uniform(0, 5, n_households),
        }
    )
    size = rng.integers(1, 5, n_households)
    member_household = np.repeat(ids, size)
    first = np.r_[0, np.cumsum(size)[:-1]]
    relation = np.array(["之子"] * len(member_household), dtype=object)
    relation[first] = "户主"
    births = pd.to_datetime("1990-01-01") - pd.to_timedelta(
        rng.integers(0, 60 * 365, len(member_household)), unit="D"
    )
    members = pd.DataFrame(
        {
            "person_id": pd.Series(
                [f"P{i:06d}" for i in range(len(member_household))], dtype="str"
            ),
            "household_id": pd.Series(member_household, dtype="str"),
            "relation": pd.Series(relation, dtype="str"),
            "sex": pd.Series(rng.choice(["男", "女"], len(member_household)), dtype="str"),
            "birth_date": pd.Series(births.normalize(), dtype="datetime64[us]"),
            "ethnicity": pd.Series(
                rng.choice(["汉族", "苗族"], len(member_household), p=[0.8, 0.2]), dtype="str"
            ),
            "health": pd.Series(["健康"] * len(member_household), dtype="str"),
            "labor_skill": pd.Series(["普通劳动力"] * len(member_household), dtype="str"),
            "education": pd.Series(["初中"] * len(member_household), dtype="str"),
            "school_status": pd.Series(["非在校生"] * len(member_household), dtype="str"),
            "dibao": pd.Series(["未享受"] * len(member_household), dtype="str"),
            "tekun": pd.Series(["不享受"] * len(member_household), dtype="str"),
            "medical_insured": pd.Series([True] * len(member_household), dtype="boolean"),
        }
    )
    frailty = rng.normal(0, 1, n_households) + 0.5 * poor
    base = rng.lognormal(np.log(900), 0.4, n_households) * size / np.exp(0.3 * frailty)
    n_months_all = len(months)
    shock = rng.random((n_households, n_months_all)) < 0.01 * np.exp(frailty)[:, None]
    shocked = np.maximum.accumulate(
        shock.astype(float) * rng.uniform(0.4, 0.9, shock.shape), axis=1
    )
    wage = base[:, None] * (1 - shocked) * rng.lognormal(0, 0.15, shocked.shape)
    income = pd.DataFrame(
        {
            "household_id": pd.Series(np.repeat(ids, n_months_all), dtype="str"),
            "month": pd.PeriodIndex(np.tile(months, n_households), freq="M"),
            "wage_income": wage.ravel(),
            "business_income": 0.0,
            "business_expense": 0.0,
            "property_income": 0.0,
            "transfer_income": 50.0,
        }
    )
    ill = rng.random((n_households, n_months_all)) < 0.01 * np.exp(0.8 * frailty)[:, None]
    h, m = np.nonzero(ill)
    oop = rng.lognormal(np.log(6000), 0.7, len(h))
    person = (
        members.groupby("household_id", sort=False)["person_id"].first().reindex(ids).to_numpy()
    )
    medical = pd.DataFrame(
        {
            "person_id": pd.Series(person[h], dtype="str"),
            "settle_date": pd.Series(
                months[m].to_timestamp() + pd.Timedelta(days=10), dtype="datetime64[us]"
            ),
            "visit_type": pd.Series(["住院"] * len(h), dtype="str"),
            "total_cost": oop * 2.5,
            "insurance_paid": oop * 1.5,
            "critical_illness_paid": 0.0,
            "assistance_paid": 0.0,
            "out_of_pocket": oop,
            "diagnosis": pd.Series([""] * len(h), dtype="str"),
        }
    )
    # hazard of identification: recent income loss and recent large medical costs
    recent_ill = np.zeros_like(shocked)
    for lag in range(4):
        recent_ill[:, lag:] += ill[:, : n_months_all - lag]
    hazard = 1 / (1 + np.exp(-(-5.5 + 4.0 * shocked + 1.8 * recent_ill + 0.4 * frailty[:, None])))
    identified = rng.random(hazard.shape) < hazard
    rows = []
    for i in range(n_households):
        hits = np.flatnonzero(identified[i])
        if hits.size:
            j = hits[0]
            rows.append((ids[i], months[j], months[j] + 8 if j + 8 < n_months_all - 3 else None))
    outcomes = pd.DataFrame(
        {
            "household_id": pd.Series([r[0] for r in rows], dtype="str"),
            "identified_month": pd.PeriodIndex([r[1] for r in rows], freq="M"),
            "category": pd.Series(["边缘易致贫户"] * len(rows), dtype="str"),
            "risk_types": pd.Series(["因病"] * len(rows), dtype="str"),
            "channel": pd.Series(["基层干部排查"] * len(rows), dtype="str"),
            "eliminated_month": pd.PeriodIndex([r[2] for r in rows], freq="M"),
        }
    )
    # p_true: chance of at least one identification in the next 6 months given the hidden state
    survive = np.ones_like(hazard)
    for lead in range(1, 7):
        shifted = np.ones_like(hazard)
        shifted[:, : n_months_all - lead] = 1 - hazard[:, lead:]
        survive *= shifted
    truth = pd.DataFrame(
        {
            "household_id": np.repeat(ids, n_months_all),
            "month": pd.PeriodIndex(np.tile(months, n_households), freq="M"),
            "p_true": (1 - survive).ravel(),
        }
    )
    for frame in (income, medical, outcomes):
        frame["source_row"] = np.arange(2, len(frame) + 2)
    households["source_row"] = np.arange(2, n_households + 2)
    members["source_row"] = np.arange(2, len(members) + 2)
    tables = Tables(
        households=households,
        members=members,
        export_month=months[-1],
        income=income,
        medical=medical,
        outcomes=outcomes,
        files={
            "households": "households.csv",
            "members": "members.csv",
            "income": "income.csv",
            "medical": "medical.csv",
            "outcomes": "outcomes.csv",
        },
    )
    return tables, truth
