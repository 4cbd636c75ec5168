"""Small literal contract tables in the normalised in-memory form (docs/architecture.md), for tests.

Two households in one county plus one in another; records chosen so each feature group has something
to count, and the second household has no records at all in any dated source.
"""

from __future__ import annotations

import pandas as pd

from features.contract.tables import Tables


def months(*values: str) -> pd.Series:
    return pd.Series(pd.PeriodIndex(values, freq="M"))


def dates(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values)), dtype="datetime64[us]")


def households() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": pd.Series(["H1", "H2", "H3"], dtype="str"),
            "county": pd.Series(["甲县", "甲县", "乙县"], dtype="str"),
            "township": pd.Series(["t", "t", "u"], dtype="str"),
            "village": pd.Series(["v", "v", "w"], dtype="str"),
            "household_type": pd.Series(["脱贫户", "一般农户", "脱贫户"], dtype="str"),
            "exit_year": pd.Series([2019, None, 2020], dtype="Int64"),
            "relocated": pd.Series([True, False, None], dtype="boolean"),
            "dangerous_house": pd.Series([False, False, True], dtype="boolean"),
            "safe_water": pd.Series([True, True, False], dtype="boolean"),
            "cultivated_land_mu": [2.5, 4.0, float("nan")],
        }
    )


def members() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series(["P1", "P2", "P3", "P4", "P5", "P6"], dtype="str"),
            "household_id": pd.Series(["H1", "H1", "H1", "H1", "H2", "H3"], dtype="str"),
            "relation": pd.Series(["户主", "配偶", "之子", "之孙子", "户主", "户主"], dtype="str"),
            "sex": pd.Series(["男", "女", "男", "男", "女", "女"], dtype="str"),
            # P4 is born in 2024-05, mid-window; P6 is 70 years old.
            "birth_date": dates(
                "1970-03-10", "1972-07-01", "2000-01-20", "2024-05-15", "1960-12-01", "1954-02-02"
            ),
            "ethnicity": pd.Series(["汉族", "汉族", "汉族", "汉族", "苗族", "汉族"], dtype="str"),
            "health": pd.Series(
                ["健康", "长期慢性病", "健康", "健康", "残疾", "健康"], dtype="str"
            ),
            "labor_skill": pd.Series(["普通劳动力"] * 6, dtype="str"),
            "education": pd.Series(
                ["初中", "小学", "高中", None, "小学", "文盲或半文盲"], dtype="str"
            ),
            "school_status": pd.Series(["非在校生"] * 6, dtype="str"),
            "dibao": pd.Series(["未享受"] * 6, dtype="str"),
            "tekun": pd.Series(["不享受"] * 6, dtype="str"),
            "medical_insured": pd.Series([True] * 6, dtype="boolean"),
        }
    )


def income() -> pd.DataFrame:
    # H1: months 2023-07 … 2024-06 except 2024-02 (missing, not zero); H3: only 2024-06.
    h1 = [m for m in pd.period_range("2023-07", "2024-06", freq="M") if str(m) != "2024-02"]
    rows = [("H1", m, 1000.0, 200.0, 50.0, 0.0, 100.0) for m in h1]
    rows.append(("H1", pd.Period("2022-08", "M"), 800.0, 0.0, 0.0, 0.0, 100.0))
    rows.append(("H3", pd.Period("2024-06", "M"), 0.0, 0.0, 0.0, 0.0, 300.0))
    frame = pd.DataFrame(
        rows,
        columns=[
            "household_id",
            "month",
            "wage_income",
            "business_income",
            "business_expense",
            "property_income",
            "transfer_income",
        ],
    )
    frame["household_id"] = frame["household_id"].astype("str")
    frame["month"] = frame["month"].astype("period[M]")
    return frame


def medical() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series(["P2", "P2", "P1", "P6", "P1"], dtype="str"),
            "settle_date": dates(
                "2024-06-03", "2024-02-10", "2023-08-20", "2024-05-05", "2023-05-01"
            ),
            "visit_type": pd.Series(["住院", "门诊慢特病", "住院", "住院", "住院"], dtype="str"),
            "total_cost": [20000.0, 800.0, 40000.0, 5000.0, 9000.0],
            "insurance_paid": [12000.0, 500.0, 25000.0, 3000.0, 5000.0],
            "critical_illness_paid": [0.0, 0.0, 5000.0, 0.0, 0.0],
            "assistance_paid": [0.0, 0.0, 0.0, 0.0, 0.0],
            "out_of_pocket": [8000.0, 300.0, 10000.0, 2000.0, 4000.0],
            "diagnosis": pd.Series([""] * 5, dtype="str"),
        }
    )


def disability() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series(["P3", "P6"], dtype="str"),
            "disability_type": pd.Series(["肢体", "视力"], dtype="str"),
            "grade": pd.Series([2, 4], dtype="Int64"),
            "certified_date": dates("2024-06-20", "2021-03-01"),
        }
    )


def employment() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": pd.Series(["P1", "P3", "P3", "P2"], dtype="str"),
            "start_month": months("2022-01", "2023-03", "2024-04", "2023-10"),
            "end_month": months("2024-03", "2023-05", None, "2024-08"),
            "work_location": pd.Series(["省外", "县内", "省内县外", "县内"], dtype="str"),
            "monthly_income": [3000.0, 1500.0, 2000.0, 1200.0],
            "industry": pd.Series([""] * 4, dtype="str"),
            "channel": pd.Series(["劳务输出", "其他", "自主就业", "帮扶车间"], dtype="str"),
        }
    )


def assistance() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": pd.Series(["H1", "H1", "H1", "H3"], dtype="str"),
            "month": months("2024-04", "2024-05", "2023-01", "2024-06"),
            "type": pd.Series(["低保金", "低保金", "临时救助", "防贫保理赔"], dtype="str"),
            "amount": [400.0, 400.0, 1000.0, 3000.0],
        }
    )


def events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": pd.Series(["H1", "H1", "H3"], dtype="str"),
            "person_id": pd.Series([None, "P1", None], dtype="str"),
            "date": dates("2024-05-10", "2023-09-01", "2024-06-30"),
            "event_type": pd.Series(["自然灾害", "家庭成员死亡", "产业项目失败"], dtype="str"),
            "loss_amount": [5000.0, float("nan"), 20000.0],
        }
    )


def outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "household_id": pd.Series(["H3", "H1"], dtype="str"),
            "identified_month": months("2022-03", "2024-05"),
            "category": pd.Series(["脱贫不稳定户", "脱贫不稳定户"], dtype="str"),
            "risk_types": pd.Series(["因病", "因病"], dtype="str"),
            "channel": pd.Series(["部门筛查预警", "部门筛查预警"], dtype="str"),
            "eliminated_month": months("2023-06", None),
        }
    )


def make_tables(**overrides: pd.DataFrame | None) -> Tables:
    """All tables (as of export 2024-06), with some replaced or set to None."""
    values: dict[str, object] = {
        "households": households(),
        "members": members(),
        "income": income(),
        "medical": medical(),
        "disability": disability(),
        "employment": employment(),
        "assistance": assistance(),
        "events": events(),
        "outcomes": outcomes(),
    }
    values.update(overrides)
    return Tables(export_month=pd.Period("2024-06", "M"), **values)  # type: ignore[arg-type]
