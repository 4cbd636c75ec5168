"""A small run folder laid out exactly as `risk score --out DIR` writes it (INTERFACE.md).

A plain module (not conftest) so tests can import its writers by a name no other folder uses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.worksheet.datavalidation import DataValidation

RUN_ID = "run-2026-10-test"
MONTH = "2026-10"
SHEET_HEADERS = [
    "排名", "户编号", "县", "乡镇", "村", "户主", "户类型", "风险概率", "风险等级",
    "主要原因1", "主要原因2", "主要原因3", "规则触发",
    "审核结论", "排除原因", "审核人", "审核日期", "备注",
]  # fmt: skip
PLACES = [("甲县", "东镇", "一村"), ("甲县", "东镇", "二村"), ("甲县", "西乡", "三村"),
          ("乙县", "南镇", "四村")]  # fmt: skip
REASONS = [
    ("oop_medical_12m", "近12个月医疗自付", "近12个月住院自付{v:,.0f}元"),
    ("income_per_capita_12m", "人均纯收入", "近12个月人均纯收入{v:,.0f}元, 接近监测线"),
    ("months_unemployed_6m", "近6个月未务工月数", "近6个月有{v:.0f}个月无人务工"),
    ("disabled_members", "残疾人数", "家中有{v:.0f}名残疾人"),
]


def make_scores(n: int = 40, warned: int = 12) -> pd.DataFrame:
    """`scores.parquet` of a run: ids H001…, ranked by descending probability."""
    rng = np.random.default_rng(0)
    probability = np.sort(rng.uniform(0.01, 0.9, size=n))[::-1]
    places = [PLACES[i % len(PLACES)] for i in range(n)]
    return pd.DataFrame(
        {
            "household_id": [f"H{i + 1:03d}" for i in range(n)],
            "county": [p[0] for p in places],
            "township": [p[1] for p in places],
            "village": [p[2] for p in places],
            "month": pd.PeriodIndex([MONTH] * n, freq="M"),
            "probability": probability,
            "rank": np.arange(1, n + 1),
            "tier": np.where(probability >= 0.3, "高", np.where(probability >= 0.1, "中", "低")),
            "warned": np.arange(n) < warned,
            "rule_triggers": [["大额医疗自付"] if i % 3 == 0 else [] for i in range(n)],
            "model_version": "3",
            "run_id": RUN_ID,
        }
    )


def make_explanations(scores: pd.DataFrame) -> pd.DataFrame:
    """`explanations.parquet`: three reasons per warned household, largest contribution first."""
    rows = []
    for _, row in scores[scores["warned"]].iterrows():
        number = int(row["household_id"][1:])
        for k in range(3):
            feature, label, template = REASONS[(number + k) % len(REASONS)]
            value = 1000.0 * (number + k)
            rows.append(
                {
                    "household_id": row["household_id"],
                    "rank": int(row["rank"]),
                    "feature": feature,
                    "label_zh": label,
                    "value": value,
                    "contribution": 1.2 / (k + 1) * (1 if k < 2 else -1),
                    "reason_zh": template.format(v=value),
                }
            )
    return pd.DataFrame(rows)


def write_warnings(path: Path, scores: pd.DataFrame, explanations: pd.DataFrame) -> None:
    """`warnings.xlsx` with the three sheets and the 审核结论 drop-down."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "预警名单"
    sheet.append(SHEET_HEADERS)
    for _, row in scores[scores["warned"]].iterrows():
        reasons = explanations.loc[explanations["household_id"] == row["household_id"], "reason_zh"]
        reasons = list(reasons)[:3] + [None] * (3 - len(reasons[:3]))
        sheet.append(
            [int(row["rank"]), row["household_id"], row["county"], row["township"], row["village"],
             "张*", "脱贫户", round(float(row["probability"]), 4), row["tier"], *reasons,
             "、".join(row["rule_triggers"]), None, None, None, None, None]
        )  # fmt: skip
    validation = DataValidation(type="list", formula1='"纳入监测,排除,待核实"', allow_blank=True)
    validation.add(f"N2:N{sheet.max_row}")
    sheet.add_data_validation(validation)
    sheet.auto_filter.ref = sheet.dimensions
    legend = book.create_sheet("说明")
    legend.append(["原因", "说明"])
    info = book.create_sheet("运行信息")
    info.append(["run_id", RUN_ID])
    info.append(["month", MONTH])
    book.save(path)


def write_run(
    folder: Path, *, n: int = 40, warned: int = 12, audit: list[str] | None = None
) -> Path:
    """A complete run folder (scores, explanations, warnings.xlsx, report.html, manifest.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    scores = make_scores(n, warned)
    explanations = make_explanations(scores)
    scores.to_parquet(folder / "scores.parquet")
    explanations.to_parquet(folder / "explanations.parquet")
    write_warnings(folder / "warnings.xlsx", scores, explanations)
    (folder / "report.html").write_text("<html></html>", encoding="utf-8")
    manifest = {
        "run_id": RUN_ID,
        "month": MONTH,
        "model": {"name": "fanpin", "version": "3", "uri": "models:/fanpin/3"},
        "audit": {"seed": 11, "size": len(audit or []), "household_ids": audit or []},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return folder
