"""A small synthetic county on disk and a model trained on it, for the scoring tests.

Written as contract files (CSV) so the tests go through `features.contract.io.load_directory` like users do.
Risk is planted in medical costs, low income, job loss and disability so reasons have something to say.
Deterministic for a given seed; about 400 households × 24 months, built in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.build import build_panel
from features.contract.io import load_directory
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from training.model import RiskModel

KEY = b"scoring-test-key"
SCORING_MONTH = "2025-12"
LAST_MONTH = pd.Period(SCORING_MONTH, "M")
TOWNSHIPS = {"甲县": ["城关镇", "河口乡"], "乙县": ["石门镇", "青山乡"]}


@dataclass(frozen=True)
class FakeLoaded:
    """What `training.registry.load_model` returns, for a model trained in the test."""

    model: RiskModel
    name: str = "fanpin-test"
    version: str = "1"
    uri: str = "models:/fanpin-test/1"


def id_number(rng: np.random.Generator) -> str:
    """An 18-character ID-card-like number (personal data: must never reach an output)."""
    digits = "".join(str(d) for d in rng.integers(0, 10, 17))
    return "4523" + digits[4:] + str(rng.integers(0, 10))


def write_county(folder: Path, *, households: int = 400, seed: int = 0) -> Path:
    """Write a synthetic data directory and return it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    months = pd.period_range(LAST_MONTH - 23, LAST_MONTH, freq="M")
    homes = _households(rng, households)
    people = _members(rng, homes)
    risk = rng.random(households)
    tables = {
        "households": homes,
        "members": people,
        "income": _income(rng, homes, people, months, risk),
        "medical": _medical(rng, people, homes, months, risk),
        "employment": _employment(rng, people, months, risk),
        "assistance": _assistance(rng, homes, months),
        "disability": _disability(rng, people, months),
        "events": _events(rng, homes, months),
        "outcomes": _outcomes(rng, homes, months, risk),
    }
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _households(rng: np.random.Generator, n: int) -> pd.DataFrame:
    county = rng.choice(list(TOWNSHIPS), n)
    township = [TOWNSHIPS[c][i] for c, i in zip(county, rng.integers(0, 2, n), strict=True)]
    kind = rng.choice(["脱贫户", "一般农户"], n, p=[0.6, 0.4])
    return pd.DataFrame(
        {
            "household_id": [f"H{i:04d}" for i in range(n)],
            "county": county,
            "township": township,
            "village": [f"{t}{v}村" for t, v in zip(township, rng.integers(1, 4, n), strict=True)],
            "household_type": kind,
            "exit_year": np.where(kind == "脱贫户", rng.integers(2016, 2021, n).astype(str), ""),
            "relocated": rng.choice(["是", "否"], n, p=[0.1, 0.9]),
            "cultivated_land_mu": rng.gamma(2.0, 1.5, n).round(1),
        }
    )


def _members(rng: np.random.Generator, homes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for household in homes["household_id"]:
        size = int(rng.integers(1, 6))
        for k in range(size):
            relation = "户主" if k == 0 else ("配偶" if k == 1 else "之子")
            age = int(rng.integers(25, 80)) if k < 2 else int(rng.integers(1, 30))
            person = id_number(rng) if rng.random() < 0.7 else f"{household}-{k}"
            rows.append(
                {
                    "person_id": person,
                    "household_id": household,
                    "relation": relation,
                    "sex": "男" if k % 2 == 0 else "女",
                    "birth_date": f"{2025 - age}-{int(rng.integers(1, 13)):02d}-15",
                    "health": "健康",
                    "labor_skill": "普通劳动力",
                }
            )
    frame = pd.DataFrame(rows)
    return frame.drop_duplicates("person_id").reset_index(drop=True)


def _income(rng, homes, people, months, risk) -> pd.DataFrame:
    size = people.groupby("household_id").size().reindex(homes["household_id"]).to_numpy()
    base = rng.lognormal(7.0, 0.5, len(homes)) * size * (1.2 - 0.6 * risk)
    rows = []
    for i, household in enumerate(homes["household_id"]):
        for month in months:
            if rng.random() < 0.05:
                continue  # a month not reported: unknown, not zero
            rows.append(
                {
                    "household_id": household,
                    "month": str(month),
                    "wage_income": round(base[i] * rng.uniform(0.6, 1.2), 1),
                    "business_income": round(rng.exponential(100), 1),
                    "business_expense": round(rng.exponential(30), 1),
                    "property_income": 0,
                    "transfer_income": round(rng.exponential(80), 1),
                }
            )
    return pd.DataFrame(rows)


def _medical(rng, people, homes, months, risk) -> pd.DataFrame:
    household_risk = dict(zip(homes["household_id"], risk, strict=True))
    rows = []
    for person, household in zip(people["person_id"], people["household_id"], strict=True):
        rate = 0.02 + 0.25 * household_risk[household] ** 2
        for month in months:
            if rng.random() >= rate:
                continue
            inpatient = rng.random() < 0.3
            total = rng.gamma(2.0, 6000.0 if inpatient else 400.0)
            oop = total * rng.uniform(0.2, 0.6)
            rows.append(
                {
                    "person_id": person,
                    "settle_date": f"{month}-{int(rng.integers(1, 28)):02d}",
                    "visit_type": "住院" if inpatient else rng.choice(["门诊慢特病", "普通门诊"]),
                    "total_cost": round(total, 2),
                    "insurance_paid": round(total - oop, 2),
                    "out_of_pocket": round(oop, 2),
                }
            )
    return pd.DataFrame(rows)


def _employment(rng, people, months, risk) -> pd.DataFrame:
    adults = people.loc[people["relation"].isin(["户主", "配偶"])]
    rows = []
    for person in adults["person_id"]:
        if rng.random() < 0.4:
            continue
        start = months[int(rng.integers(0, 12))]
        end = start + int(rng.integers(3, 20))
        rows.append(
            {
                "person_id": person,
                "start_month": str(start),
                "end_month": str(end) if end <= months[-1] else "",
                "work_location": rng.choice(["县内", "省内县外", "省外"]),
                "monthly_income": round(rng.normal(3000, 600), 0),
            }
        )
    return pd.DataFrame(rows)


def _assistance(rng, homes, months) -> pd.DataFrame:
    rows = []
    for household in homes["household_id"].iloc[::5]:
        for month in months:
            rows.append(
                {"household_id": household, "month": str(month), "type": "低保金", "amount": 450}
            )
    return pd.DataFrame(rows)


def _disability(rng, people, months) -> pd.DataFrame:
    chosen = people.sample(frac=0.05, random_state=int(rng.integers(0, 1000)))
    return pd.DataFrame(
        {
            "person_id": chosen["person_id"].to_numpy(),
            "disability_type": rng.choice(["肢体", "视力", "智力"], len(chosen)),
            "grade": rng.integers(1, 5, len(chosen)),
            "certified_date": [
                f"{months[int(rng.integers(0, 20))]}-10" for _ in range(len(chosen))
            ],
        }
    )


def _events(rng, homes, months) -> pd.DataFrame:
    picked = homes["household_id"].sample(frac=0.1, random_state=int(rng.integers(0, 1000)))
    return pd.DataFrame(
        {
            "household_id": picked.to_numpy(),
            "date": [f"{months[int(rng.integers(0, 24))]}-05" for _ in range(len(picked))],
            "event_type": rng.choice(["自然灾害", "意外事故", "失业"], len(picked)),
            "loss_amount": rng.gamma(2.0, 3000.0, len(picked)).round(0),
        }
    )


def _outcomes(rng, homes, months, risk) -> pd.DataFrame:
    identified = rng.random(len(homes)) < 0.15 * risk
    chosen = homes.loc[identified, "household_id"]
    when = [months[int(rng.integers(6, 24))] for _ in range(len(chosen))]
    return pd.DataFrame(
        {
            "household_id": chosen.to_numpy(),
            "identified_month": [str(m) for m in when],
            "category": "边缘易致贫户",
            "risk_types": "因病",
            "eliminated_month": "",
        }
    )


def load_county(folder: Path) -> Tables:
    """Load the directory the way `risk score` does."""
    return load_directory(folder, pseudonym_key=KEY).tables


def train_small_model(tables: Tables, *, seed: int = 0) -> RiskModel:
    """A small RiskModel on the county's panel, labels planted from medical cost and income."""
    months = [LAST_MONTH - k for k in range(9, 0, -3)]
    panel = build_panel(tables, months=months, lines=MonitoringLines())
    X = panel.drop(columns=["household_id", "month"])
    rng = np.random.default_rng(seed)
    oop = X["oop_medical_12m"].fillna(0).to_numpy()
    income = X["income_per_capita_12m"].fillna(8000).to_numpy()
    logit = -2.5 + oop / 8000 - (income - 8000) / 4000
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(int)
    model = RiskModel(
        n_estimators=60,
        num_leaves=7,
        max_depth=3,
        min_child_samples=20,
        early_stopping_rounds=20,
        random_state=seed,
        n_jobs=1,
    )
    return model.fit(X, y, groups=panel["household_id"].to_numpy())
