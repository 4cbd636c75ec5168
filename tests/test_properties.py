"""Property tests (issue 8): any valid directory loads, and features stay in their documented ranges.

Hypothesis draws small contract directories — households with exactly one 户主, members, income,
medical claims, work spells, payments, events — written in any accepted form (UTF-8 or GB18030,
money as `1,234.5` or `1234.5元`, months as `2024-03`, `202403` or `2024年3月`). Loading never fails,
money and months read back exactly, and every feature of `build_features` is finite and within the
range its catalogue entry documents (counts ≥ 0, flags 0/1, months observed within the window, …).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from features.catalogue import CATALOGUE
from features.contract.io import load_directory
from features.contract.lines import MonitoringLines

KEY = b"property-test-key"
MONTHS = pd.period_range("2024-01", "2025-06", freq="M")
COUNTS = {"人", "次", "个月", "人月"}
NON_NEGATIVE_MONEY = ("oop_", "max_inpatient", "medical_total", "assistance_", "dibao_", "tekun_",
                      "temporary_", "fangpinbao_", "medical_assistance", "event_loss", "rigid_expense",
                      "monthly_wage")  # fmt: skip
WINDOWS = {"_1m": 1, "_3m": 3, "_6m": 6, "_12m": 12}

money = st.floats(min_value=0, max_value=50_000, allow_nan=False).map(lambda v: round(v, 2))
month_forms = st.sampled_from(["{y}-{m:02d}", "{y}{m:02d}", "{y}年{m}月", "{y}/{m}"])
money_forms = st.sampled_from(["{v}", "{v:,.2f}", "{v}元"])


@st.composite
def directories(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(1, 6))
    homes = pd.DataFrame({
        "household_id": [f"H{i}" for i in range(n)],
        "county": draw(st.lists(st.sampled_from(["甲县", "乙县"]), min_size=n, max_size=n)),
        "township": "城关镇", "village": "一村",
        "household_type": draw(st.lists(st.sampled_from(["脱贫户", "一般农户"]), min_size=n, max_size=n)),
    })  # fmt: skip
    people = []
    for i in range(n):
        for k in range(draw(st.integers(1, 4))):
            people.append({
                "person_id": f"H{i}-{k}", "household_id": f"H{i}",
                "relation": "户主" if k == 0 else draw(st.sampled_from(["配偶", "之子", "之女", "之父"])),
                "sex": draw(st.sampled_from(["男", "女"])),
                "birth_date": f"{draw(st.integers(1930, 2023))}-{draw(st.integers(1, 12)):02d}-15",
                "health": draw(st.sampled_from(["健康", "长期慢性病", "残疾,患有大病", ""])),
                "labor_skill": draw(st.sampled_from(["普通劳动力", "丧失劳动力", "无劳动力"])),
            })  # fmt: skip
    members = pd.DataFrame(people)
    month_form, money_form = draw(month_forms), draw(money_forms)
    rows = []
    for i in range(n):
        for month in draw(st.sets(st.sampled_from(list(MONTHS)), max_size=8)):
            values = {c: draw(money) for c in ("wage_income", "business_income", "property_income",
                                                "transfer_income")}  # fmt: skip
            values["business_expense"] = round(values["business_income"] * draw(st.floats(0, 1)), 2)
            rows.append({"household_id": f"H{i}", "month": month, **values})
    income = pd.DataFrame(rows, columns=["household_id", "month", "wage_income", "business_income",
                                         "business_expense", "property_income", "transfer_income"])  # fmt: skip
    claims = []
    for person in members["person_id"]:
        for _ in range(draw(st.integers(0, 2))):
            total = draw(money)
            claims.append({"person_id": person,
                           "settle_date": f"{draw(st.sampled_from(list(MONTHS)))}-{draw(st.integers(1, 28)):02d}",
                           "visit_type": draw(st.sampled_from(["住院", "门诊慢特病", "普通门诊"])),
                           "total_cost": total, "out_of_pocket": round(total * draw(st.floats(0, 1)), 2)})  # fmt: skip
    medical = pd.DataFrame(claims, columns=["person_id", "settle_date", "visit_type", "total_cost",
                                            "out_of_pocket"])  # fmt: skip
    spells = []
    for person in members["person_id"]:
        if draw(st.booleans()):
            start = draw(st.sampled_from(list(MONTHS)))
            end = draw(st.one_of(st.none(), st.integers(0, 10).map(lambda k, s=start: s + k)))
            spells.append({"person_id": person, "start_month": str(start),
                           "end_month": "" if end is None or end > MONTHS[-1] else str(end),
                           "work_location": draw(st.sampled_from(["县内", "省内县外", "省外"])),
                           "monthly_income": draw(money)})  # fmt: skip
    employment = pd.DataFrame(spells, columns=["person_id", "start_month", "end_month",
                                               "work_location", "monthly_income"])  # fmt: skip
    events = pd.DataFrame([{"household_id": f"H{i}", "date": f"{draw(st.sampled_from(list(MONTHS)))}-10",
                            "event_type": draw(st.sampled_from(["自然灾害", "失业", "房屋损毁"])),
                            "loss_amount": draw(money)} for i in range(n) if draw(st.booleans())],
                          columns=["household_id", "date", "event_type", "loss_amount"])  # fmt: skip
    income["month"] = [month_form.format(y=m.year, m=m.month) for m in income["month"]]
    for column in ("wage_income", "transfer_income"):
        income[column] = [money_form.format(v=v) for v in income[column]]
    return {"households": homes, "members": members, "income": income, "medical": medical,
            "employment": employment, "events": events}  # fmt: skip


def write(tables: dict[str, pd.DataFrame], folder: Path, encoding: str) -> None:
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, encoding=encoding)


def _parse_money(text: object) -> float:
    return float(str(text).replace(",", "").removesuffix("元"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=directories(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_any_valid_directory_loads_and_reads_back(tables, encoding: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write(tables, Path(folder), encoding)
        loaded = load_directory(folder, pseudonym_key=KEY)
    assert loaded.report.ok
    assert len(loaded.tables.members) == len(tables["members"])
    income = loaded.tables.income
    assert income is not None and len(income) == len(tables["income"])
    expected = sorted(_parse_money(v) for v in tables["income"]["wage_income"])
    assert sorted(income["wage_income"].tolist()) == expected
    assert set(income["month"].astype(str)) <= {str(m) for m in MONTHS}


def check_ranges(features: pd.DataFrame) -> list[str]:
    """Every catalogue feature's documented range, as a list of violations."""
    problems = []
    for spec in CATALOGUE:
        if spec.kind != "numeric":
            continue
        values = features[spec.name].dropna().to_numpy(dtype=float)
        name = spec.name
        if not np.isfinite(values).all():
            problems.append(f"{name}: not finite")
        if spec.unit in COUNTS and (values < 0).any():
            problems.append(f"{name}: negative count")
        if spec.unit == "" and not np.isin(values, [0.0, 1.0]).all():
            problems.append(f"{name}: flag not 0/1")
        if spec.unit == "个月" and "observed" in name or name.endswith("_feed_months_12m"):
            window = next(w for s, w in WINDOWS.items() if name.endswith(s))
            if (values > window).any():
                problems.append(f"{name}: more months than the window")
        if name == "short_spell_share_12m" and ((values < 0) | (values > 1)).any():
            problems.append(f"{name}: share outside [0, 1]")
        if name == "month_of_year" and not np.isin(values, np.arange(1, 13)).all():
            problems.append(f"{name}: not a calendar month")
        if spec.unit == "元" and name.startswith(NON_NEGATIVE_MONEY) and (values < 0).any():
            problems.append(f"{name}: negative amount")
    return problems


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=directories(), as_of=st.sampled_from(list(MONTHS)))
def test_features_stay_in_their_documented_ranges(tables, as_of: pd.Period) -> None:
    with tempfile.TemporaryDirectory() as folder:
        write(tables, Path(folder), "utf-8")
        loaded = load_directory(folder, pseudonym_key=KEY).tables
    features = build_features(loaded, as_of=as_of, lines=MonitoringLines())
    assert len(features) == len(tables["households"])
    assert features["household_id"].is_unique
    assert not check_ranges(features), check_ranges(features)


def test_range_check_can_fail() -> None:
    frame = pd.DataFrame({spec.name: [1.0] for spec in CATALOGUE if spec.kind == "numeric"})
    frame["household_size"] = -1.0
    frame["month_of_year"] = 13.0
    assert {p.split(":")[0] for p in check_ranges(frame)} == {"household_size", "month_of_year"}
