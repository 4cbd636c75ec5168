"""`risk review notice`: the public notice (公示) list of one village, with nothing private on it.

A public notice may show who is proposed for monitoring and why in general words — never ID
numbers, phone numbers, bank accounts or health details (DOMAIN.md, "After a clue …"). So the list is
built from a whitelist of fields, not by removing columns from a richer table:

- 户主: the head of household's name masked exactly as the run's warning list masks it;
- 乡镇, 村, 家庭人口 (members counted from the contract table);
- 监测对象类别: the household's category (its `outcomes` row when already identified, else the
  category its household type leads to);
- 风险类型: the reason's cause in general words (`PUBLIC_RISK_WORDS`): illness, disability and
  schooling all read 刚性支出较大, so no disease, disability or hospital stay is named;
- 审核结论 and the notice's dates (from the case's 公示 step).

户编号 is left out too: national-system household numbers are 16-digit runs that look like bank
accounts. Before anything is written, every cell is checked once more (`check_public`), and a cell
that looks like an ID number, a phone number, a bank account or a health word stops the write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.styles import Alignment, Font

from features.contract.errors import DataContractError, FanpinError
from features.contract.tables import Tables
from risk.atomic import save_workbook
from risk.review.run import ReviewRun
from risk.review.store import NOTICE_STEP

#: The columns of the notice, in order.
NOTICE_COLUMNS: tuple[str, ...] = (
    "序号",
    "户主",
    "乡镇",
    "村",
    "家庭人口",
    "监测对象类别",
    "风险类型",
    "审核结论",
    "公示开始日期",
    "公示结束日期",
)
NOTICE_SHEET = "公示名单"
#: Cause names (features/catalogue.py) → the general words a public notice may use.
PUBLIC_RISK_WORDS: dict[str, str] = {
    "illness": "刚性支出较大",
    "disability": "刚性支出较大",
    "schooling": "刚性支出较大",
    "work": "务工就业不稳",
    "disaster": "突发灾害事故",
    "business": "产业经营困难",
    "death": "家庭变故",
    "low_income": "收入偏低",
    "other": "其他",
}
#: The contract's 致贫返贫风险 values (outcomes.risk_types) → the same general words.
PUBLIC_RISK_TYPES: dict[str, str] = {
    "因病": "刚性支出较大",
    "因残": "刚性支出较大",
    "因学": "刚性支出较大",
    "因务工就业不稳": "务工就业不稳",
    "缺劳动力": "缺劳动力",
    "因自然灾害": "突发灾害事故",
    "因意外事故": "突发灾害事故",
    "因产业项目失败": "产业经营困难",
    "因安全住房": "住房安全",
    "因安全饮水": "饮水安全",
    "其他": "其他",
}
#: The category a household type leads to before any identification (DOMAIN.md's categories).
CATEGORY_BY_TYPE: dict[str, str] = {"脱贫户": "脱贫不稳定户", "一般农户": "边缘易致贫户"}
PROPOSED = "拟纳入监测"

#: What must never appear on a public notice (the test scans the file for the same).
PRIVATE_PATTERNS: dict[str, re.Pattern[str]] = {
    "证件号码 ID number": re.compile(r"\d{17}[\dXx]"),
    "手机号 mobile number": re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),
    "固定电话 landline": re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"),
    "银行账号 bank account": re.compile(r"\d{12,19}"),
    "健康信息 health word": re.compile(r"病|残|住院|医疗|门诊|药|诊断|癌|精神"),
}
_FIXED_TIME = datetime(2020, 1, 1)


class PrivateDataError(FanpinError):
    """A public notice would show something private: nothing is written."""


def notice_rows(
    run: ReviewRun,
    *,
    tables: Tables,
    decisions: pd.DataFrame,
    steps: pd.DataFrame,
    village: str,
    township: str | None = None,
) -> pd.DataFrame:
    """The rows of a village's public notice (`NOTICE_COLUMNS`), checked by `check_public`.

    Parameters
    ----------
    run
        The scoring run whose list the notice follows.
    tables
        The run's contract tables (for the head's masked name, household size, type, outcomes).
    decisions, steps
        The store's current decisions and case steps of the run.
    village, township
        The village; the township too when the village's name is used in several townships.

    Returns
    -------
    DataFrame
        One row per household of the village decided 纳入监测 or with a 公示 step.

    Raises
    ------
    DataContractError
        The village is unknown, ambiguous, or has no household to announce.
    PrivateDataError
        A cell looks private (it should never happen; the write is refused).
    """
    scores = _village_scores(run, village=village, township=township)
    chosen = _announced(scores["household_id"], decisions=decisions, steps=steps)
    if not chosen:
        raise DataContractError(
            f"村 {village}: 没有拟纳入监测的户 no household of this village is decided 纳入监测 or has "
            f"a 公示 step in the store for run {run.run_id}; import the decisions and steps first"
        )
    ids = pd.Series(sorted(chosen), dtype=str)
    rows = _fields(run, tables, ids, scores.set_index("household_id"), steps)
    rows.insert(0, "序号", range(1, len(rows) + 1))
    frame = rows.loc[:, list(NOTICE_COLUMNS)].reset_index(drop=True)
    check_public(frame.astype(str).to_numpy().ravel())
    return frame


def _village_scores(run: ReviewRun, *, village: str, township: str | None) -> pd.DataFrame:
    scores = run.scores
    if "village" not in scores.columns:
        raise DataContractError(f"{run.path}/scores.parquet: no village column; rerun `risk score`")
    chosen = scores.loc[scores["village"].astype(str) == village]
    if township is not None:
        chosen = chosen.loc[chosen["township"].astype(str) == township]
    if chosen.empty:
        where = f"{township} {village}" if township else village
        raise DataContractError(
            f"村 {where}: 本次运行没有这个村 no household of run {run.run_id} lives in this village; "
            "check the spelling (the run's villages are in warnings.xlsx, column 村)"
        )
    townships = sorted(chosen["township"].astype(str).unique())
    if len(townships) > 1:
        raise DataContractError(
            f"村 {village}: 多个乡镇有同名村 the name is used in several townships "
            f"({', '.join(townships)}); add --township"
        )
    return chosen


def _announced(households: pd.Series, *, decisions: pd.DataFrame, steps: pd.DataFrame) -> set[str]:
    ids = set(households.astype(str))
    proposed = set()
    if len(decisions):
        current = decisions.loc[decisions["decision"] == "纳入监测", "household_id"]
        proposed |= set(current.astype(str))
    if len(steps):
        proposed |= set(steps.loc[steps["step"] == NOTICE_STEP, "household_id"].astype(str))
    return ids & proposed


def _fields(
    run: ReviewRun, tables: Tables, ids: pd.Series, scores: pd.DataFrame, steps: pd.DataFrame
) -> pd.DataFrame:
    from risk.score import household_info  # noqa: PLC0415 - the list's own masking

    info = household_info(tables, ids)
    size = tables.members.groupby(tables.members["household_id"].astype(str)).size()
    notice = _notice_dates(steps)
    return pd.DataFrame(
        {
            "户主": info["head"].to_numpy(),
            "乡镇": scores.loc[ids, "township"].astype(str).to_numpy(),
            "村": scores.loc[ids, "village"].astype(str).to_numpy(),
            "家庭人口": size.reindex(ids).fillna(0).astype(int).to_numpy(),
            "监测对象类别": _categories(tables, ids, info["household_type"]),
            "风险类型": _risk_words(run, tables, ids),
            "审核结论": PROPOSED,
            "公示开始日期": notice["notice_start"].reindex(ids).fillna("").to_numpy(),
            "公示结束日期": notice["notice_end"].reindex(ids).fillna("").to_numpy(),
        }
    )


def _notice_dates(steps: pd.DataFrame) -> pd.DataFrame:
    if steps.empty:
        return pd.DataFrame(columns=["notice_start", "notice_end"])
    notice = steps.loc[steps["step"] == NOTICE_STEP].drop_duplicates("household_id", keep="last")
    return notice.set_index(notice["household_id"].astype(str))[["notice_start", "notice_end"]]


def _categories(tables: Tables, ids: pd.Series, types: pd.Series) -> list[str]:
    by_type = [CATEGORY_BY_TYPE.get(str(kind), "边缘易致贫户") for kind in types]
    outcomes = tables.outcomes
    if outcomes is None or outcomes.empty or "category" not in outcomes.columns:
        return by_type
    latest = outcomes.assign(household_id=outcomes["household_id"].astype(str))
    latest = latest.sort_values("identified_month", kind="stable")
    known = latest.drop_duplicates("household_id", keep="last").set_index("household_id")
    found = known["category"].reindex(ids)
    return [
        str(value) if isinstance(value, str) and value else fallback
        for value, fallback in zip(found, by_type, strict=True)
    ]


def _risk_words(run: ReviewRun, tables: Tables, ids: pd.Series) -> list[str]:
    """The first reason's cause in general words; else the identification's risk type; else 其他."""
    causes = _first_causes(run.explanations)
    words = {h: PUBLIC_RISK_WORDS.get(c, "其他") for h, c in causes.items()}
    outcomes = tables.outcomes
    if outcomes is not None and "risk_types" in outcomes.columns:
        for household, text in zip(
            outcomes["household_id"].astype(str), outcomes["risk_types"], strict=True
        ):
            first = re.split(r"[,，、;；]", str(text or ""))[0].strip()
            if household not in words and first in PUBLIC_RISK_TYPES:
                words[household] = PUBLIC_RISK_TYPES[first]
    return [words.get(household, "其他") for household in ids]


def _first_causes(explanations: pd.DataFrame) -> dict[str, str]:
    """household → the cause of its first reason (`cause` column, else the catalogue's)."""
    if explanations.empty:
        return {}
    frame = explanations.copy()
    if "cause" not in frame.columns:
        from features.catalogue import CATALOGUE  # noqa: PLC0415

        by_feature = {spec.name: spec.cause for spec in CATALOGUE}
        frame["cause"] = frame["feature"].map(by_feature)
    frame = frame.loc[frame["cause"].notna() & (frame["cause"].astype(str) != "")]
    if "reason_order" in frame.columns and frame["reason_order"].notna().any():
        frame = frame.loc[frame["reason_order"].notna()].sort_values("reason_order")
    else:
        frame = frame.sort_values("contribution", ascending=False, kind="stable")
    first = frame.drop_duplicates("household_id")
    return dict(zip(first["household_id"].astype(str), first["cause"].astype(str), strict=True))


def check_public(values: Iterable[Any]) -> None:
    """Refuse text that looks private: ID, phone or bank-account numbers, health words.

    Raises
    ------
    PrivateDataError
        Naming what was found (not the value itself).

    Examples
    --------
    >>> check_public(["张*", "边缘易致贫户", "2026-11-05"])
    >>> check_public(["13912345678"])
    Traceback (most recent call last):
    ...
    risk.review.notice.PrivateDataError: 公示名单含有 手机号 mobile number; not written
    """
    for value in values:
        text = str(value)
        for what, pattern in PRIVATE_PATTERNS.items():
            if pattern.search(text):
                raise PrivateDataError(f"公示名单含有 {what}; not written")


def write_notice(
    rows: pd.DataFrame, out: str | Path, *, village: str, township: str, month: str
) -> Path:
    """Write the notice as one sheet: a title, the rows, and how to object; moved into place at the end.

    Parameters
    ----------
    rows
        `notice_rows`' frame.
    out
        The workbook to write (`.xlsx`).
    village, township, month
        For the title (month: the run's month ``YYYY-MM``).
    """
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = NOTICE_SHEET
    title = f"{township}{village}防止返贫致贫监测对象拟纳入名单公示（{month}批次）"
    texts = [title, *NOTICE_COLUMNS]
    footer = (
        "公示期内如有异议，请向村民委员会或乡镇人民政府反映。"
        "本名单仅公示户主姓名（已遮挡）、家庭人口、监测对象类别和风险类型。"
    )
    check_public([*texts, footer])
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(NOTICE_COLUMNS))
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    sheet.append(list(NOTICE_COLUMNS))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for record in rows.itertuples(index=False):
        sheet.append([_plain(value) for value in record])
    sheet.append([])
    sheet.append([footer])
    for letter, width in zip("ABCDEFGHIJ", (6, 10, 12, 12, 9, 16, 16, 12, 14, 14), strict=True):
        sheet.column_dimensions[letter].width = width
    book.properties.creator = "fanpin"
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    return save_workbook(book, out)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
