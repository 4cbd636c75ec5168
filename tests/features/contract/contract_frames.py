"""Tiny data directories built from literal frames (tests of features/contract/io.py and the contract rules).

A plain module with a unique name (not `conftest`) so that tests elsewhere can import it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from features.contract.schema import CONTRACT

KEY = b"test-pseudonym-key"

#: Real-looking ID numbers (18 characters) — they must never survive loading.
HEAD_1 = "452301198001011234"
SPOUSE_1 = "45230119820202456X"
CHILD_1 = "452301201003031111"
HEAD_2 = "452301197505052222"
HEAD_3 = "452301196006063333"
WIFE_3 = "452301196207074444"
ID_NUMBERS = (HEAD_1, SPOUSE_1, CHILD_1, HEAD_2, HEAD_3, WIFE_3)


def base_frames() -> dict[str, pd.DataFrame]:
    """A valid directory: three households, six people, a few records in every dated table."""
    households = pd.DataFrame(
        {
            "household_id": ["H1", "H2", "H3"],
            "county": ["甲县", "甲县", "甲县"],
            "township": ["一乡", "一乡", "二乡"],
            "village": ["一村", "二村", "三村"],
            "household_type": ["脱贫户", "一般农户", "脱贫户"],
            "exit_year": ["2019", "", "2020"],
            "relocated": ["是", "否", ""],
            "cultivated_land_mu": ["2.5", "", "1"],
        }
    )
    members = pd.DataFrame(
        {
            "person_id": list(ID_NUMBERS[:3]) + ["M0002", HEAD_3, WIFE_3],
            "household_id": ["H1", "H1", "H1", "H2", "H3", "H3"],
            "relation": ["户主", "配偶", "之子", "户主", "户主", "配偶"],
            "sex": ["男", "女", "男", "男", "男", "女"],
            "birth_date": [
                "1980-01-01",
                "1982-02-02",
                "2010-03-03",
                "1975-05-05",
                "1960-06-06",
                "1962-07-07",
            ],  # fmt: skip
            "health": ["健康", "长期慢性病,残疾", "健康", "患有大病", "健康", "残疾"],
            "labor_skill": [
                "普通劳动力",
                "弱劳动力或半劳动力",
                "无劳动力",
                "丧失劳动力",
                "普通劳动力",
                "丧失劳动力",
            ],  # fmt: skip
        }
    )
    income = pd.DataFrame(
        {
            "household_id": ["H1", "H1", "H2", "H3"],
            "month": ["2024-01", "2024-02", "2024-02", "2024-04"],
            "wage_income": ["1,200", "800", "3000", "0"],
            "transfer_income": ["300", "300", "", "500"],
        }
    )
    medical = pd.DataFrame(
        {
            "person_id": [SPOUSE_1, "M0002"],
            "settle_date": ["2024-02-10", "2024-03-15"],
            "visit_type": ["住院", "门诊慢特病"],
            "total_cost": ["12000", "800"],
            "out_of_pocket": ["3000", "100"],
        }
    )
    disability = pd.DataFrame(
        {
            "person_id": [SPOUSE_1, WIFE_3],
            "disability_type": ["肢体", "视力"],
            "grade": ["二级", "3"],
            "certified_date": ["2023-05-01", "2024-01-20"],
        }
    )
    employment = pd.DataFrame(
        {
            "person_id": [HEAD_1, "M0002"],
            "start_month": ["2023-06", "2024-01"],
            "end_month": ["2024-02", ""],
            "work_location": ["省外", "县内"],
            "monthly_income": ["4000", "2500"],
        }
    )
    assistance = pd.DataFrame(
        {"household_id": ["H3"], "month": ["2024-03"], "type": ["低保金"], "amount": ["600"]}
    )
    events = pd.DataFrame(
        {
            "household_id": ["H2"],
            "person_id": [""],
            "date": ["2024-03-20"],
            "event_type": ["自然灾害"],
            "loss_amount": ["5000"],
        }
    )
    outcomes = pd.DataFrame(
        {
            "household_id": ["H1"],
            "identified_month": ["2024-03"],
            "category": ["脱贫不稳定户"],
            "risk_types": ["因病,因残"],
            "channel": ["部门筛查预警"],
            "eliminated_month": [""],
        }
    )
    return {
        "households": households,
        "members": members,
        "income": income,
        "medical": medical,
        "disability": disability,
        "employment": employment,
        "assistance": assistance,
        "events": events,
        "outcomes": outcomes,
    }


def to_chinese_headers(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The same frame with every contract header replaced by its main Chinese label."""
    spec = CONTRACT[name]
    known = set(spec.column_names)
    return frame.rename(columns={c: spec.column(c).label_zh for c in frame.columns if c in known})


def write_directory(
    root: Path,
    frames: Mapping[str, pd.DataFrame],
    *,
    fmt: str = "csv",
    encoding: str = "utf-8",
    chinese: bool = False,
) -> Path:
    """Write frames as a data directory (`chinese`: Chinese file stems and headers)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        stem = CONTRACT[name].label_zh if chinese else name
        out = to_chinese_headers(name, frame) if chinese else frame
        path = root / f"{stem}.{fmt}"
        if fmt == "csv":
            out.to_csv(path, index=False, encoding=encoding)
        elif fmt == "xlsx":
            out.to_excel(path, index=False)
        else:
            out.to_parquet(path, index=False)
    return root
