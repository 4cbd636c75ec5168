"""The data contract (DATA_CONTRACT.md, version 1) declared once, as schema classes.

Loading, validation, documentation, Excel headers and reason texts all read `CONTRACT`; no other
module repeats a column list, a Chinese label or an allowed value.

Examples
--------
>>> CONTRACT["households"].column("household_type").allowed
('脱贫户', '一般农户')
>>> label_of("members", "person_id")
'证件号码'
>>> CONTRACT["medical"].labels_zh
('医保结算',)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Kind = Literal[
    "text", "category", "multicategory", "bool", "month", "date", "money", "number", "year", "grade"
]

#: What each kind accepts, in the words shown to users ("expected ..." in messages).
KIND_FORMS: Mapping[str, str] = MappingProxyType(
    {
        "text": "文本 text (ID numbers as text cells: an Excel number keeps only 15 digits)",
        "category": "规定取值之一 one of the allowed values",
        "multicategory": "规定取值, 多个用逗号分隔 allowed values joined by ','",
        "bool": "是/否, true/false, 1/0, Y/N",
        "month": "月份 YYYY-MM, YYYYMM, YYYY/MM, 2024年3月 or a date",
        "date": "日期 YYYY-MM-DD, YYYYMMDD, YYYY/M/D or an Excel date",
        "money": "金额(元) a number of yuan, e.g. 1234.5 or 1,234.5",
        "number": "数字 a number",
        "year": "年份 a year such as 2019",
        "grade": "一级…四级 or 1…4",
    }
)

#: The dtype of each kind once parsed: the normalised frames' dtypes (docs/architecture.md).
KIND_DTYPES: Mapping[str, str] = MappingProxyType(
    {
        "text": "str",
        "category": "str",
        "multicategory": "str",
        "bool": "boolean",
        "month": "period[M]",
        "date": "datetime64[ns]",
        "money": "float64",
        "number": "float64",
        "year": "Int64",
        "grade": "Int64",
    }
)

#: The range (inclusive) a value of a bounded kind may take once read.
KIND_BOUNDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"year": (1900, 2100), "grade": (1, 4)}
)

#: A money value at or above this (100 million yuan in one record) is a unit or typing error.
IMPLAUSIBLE_AMOUNT = 1e8

#: Money columns may carry the unit in the header: `工资性收入(元)` = `工资性收入`.
MONEY_HEADER_SUFFIX = "(元)"


def normalise_text(value: str) -> str:
    """NFKC (full-width → half-width: `（元）` → `(元)`) and strip surrounding spaces."""
    return unicodedata.normalize("NFKC", value).strip()


def header_key(value: str) -> str:
    """The form headers are matched in: NFKC, no whitespace at all, English lower-cased."""
    return "".join(normalise_text(value).split()).lower()


@dataclass(frozen=True)
class ColumnSpec:
    """One contract column.

    Parameters
    ----------
    name
        English column name (the normalised frame's column).
    labels_zh
        Chinese labels accepted as headers; the first is used in messages and Chinese outputs.
    kind
        One of `Kind`: how the values are parsed.
    required
        The column must be present and every value non-empty.
    allowed
        Allowed values for `category` / `multicategory` columns, in canonical order.
    description
        What the column means (docs, tooltips).
    nonnegative
        Money and numbers: negative values are errors.
    """

    name: str
    labels_zh: tuple[str, ...]
    kind: Kind
    required: bool = False
    allowed: tuple[str, ...] = ()
    description: str = ""
    nonnegative: bool = True

    @property
    def label_zh(self) -> str:
        """The main Chinese label."""
        return self.labels_zh[0]

    @property
    def display(self) -> str:
        """`name (中文)` for messages."""
        return f"{self.name} ({self.label_zh})"

    def header_keys(self) -> tuple[str, ...]:
        """Every header spelling accepted for this column, in `header_key` form."""
        spellings = [self.name, *self.labels_zh]
        if self.kind == "money":
            spellings += [label + MONEY_HEADER_SUFFIX for label in self.labels_zh]
        return tuple(dict.fromkeys(header_key(s) for s in spellings))

    def expected_form(self) -> str:
        """What a valid value looks like, for messages."""
        if self.allowed:
            joiner = " 或 or " if self.kind == "category" else ", "
            head = joiner.join(self.allowed) if len(self.allowed) <= 12 else None
            listed = head or ", ".join(self.allowed[:12]) + f", … ({len(self.allowed)} values)"
            return f"{KIND_FORMS[self.kind]}: {listed}"
        return KIND_FORMS[self.kind]


@dataclass(frozen=True)
class TableSpec:
    """One contract table.

    Parameters
    ----------
    name
        English table name (also an accepted file stem).
    labels_zh
        Chinese table names (accepted file stems; the first is used in messages).
    columns
        Column specs in contract order.
    unique_key
        Columns that identify a row; empty when rows have no key (claims, payments).
    person_ref
        Rows name a person (`person_id`) who should exist in `members`.
    description
        What one row is.
    time_column
        The column that dates a record (months-covered report); None for snapshots.
    required
        The table must be present in every data directory.
    """

    name: str
    labels_zh: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    unique_key: tuple[str, ...] = ()
    person_ref: bool = False
    description: str = ""
    time_column: str | None = None
    required: bool = False

    @property
    def label_zh(self) -> str:
        """The main Chinese table name."""
        return self.labels_zh[0]

    @property
    def display(self) -> str:
        """`name (中文)` for messages."""
        return f"{self.name} ({self.label_zh})"

    @property
    def column_names(self) -> tuple[str, ...]:
        """English column names in contract order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The spec of one column; KeyError naming the table when it does not exist."""
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(f"table {self.name} has no column {name!r}")

    def columns_of_kind(self, *kinds: str) -> Iterator[ColumnSpec]:
        """The columns whose kind is one of `kinds`."""
        return (c for c in self.columns if c.kind in kinds)

    def header_map(self) -> dict[str, str]:
        """`header_key` of every accepted header spelling → English column name."""
        return {key: spec.name for spec in self.columns for key in spec.header_keys()}


def _grades(prefix: str, last: str) -> tuple[str, ...]:
    """`普通高中一年级…三年级` → the three values."""
    numbers = ("一", "二", "三", "四", "五")
    return tuple(f"{prefix}{n}年级" for n in numbers[: numbers.index(last) + 1])


_ID = "户编号"
_PERSON = ColumnSpec(
    "person_id", ("证件号码", "人编号"), "text", required=True,
    description="证件号码: ID-card number (18), disability card (20), system number (22) or opaque id",
)  # fmt: skip

RELATIONS = (
    "户主", "配偶", "之子", "之女", "之儿媳", "之女婿", "之孙子", "之孙女", "之外孙子", "之外孙女",
    "之父", "之母", "之岳父", "之岳母", "之公公", "之婆婆", "之祖父", "之祖母", "之外祖父",
    "之外祖母", "之兄弟姐妹", "之曾孙子", "之曾孙女", "之侄儿", "之侄女", "之兄弟媳妇", "之叔伯",
    "其他",
)  # fmt: skip
HEAD_OF_HOUSEHOLD = "户主"
FORMERLY_POOR = "脱贫户"

SCHOOL_STATUSES = (
    ("非在校生", "学龄前儿童", "学前教育", "小学", "七年级", "八年级", "九年级")
    + _grades("普通高中", "三")
    + _grades("中职", "三")
    + _grades("高职高专", "三")
    + _grades("本科", "五")
    + ("硕士研究生及以上",)
)

HOUSEHOLDS = TableSpec(
    name="households",
    labels_zh=("户信息",),
    description="one row per household (snapshot as of the export month)",
    unique_key=("household_id",),
    required=True,
    columns=(
        ColumnSpec("household_id", (_ID,), "text", required=True, description="household id"),
        ColumnSpec("county", ("县", "县(市、区、旗)"), "text", required=True, description="county"),
        ColumnSpec("township", ("乡", "乡(镇)", "乡镇"), "text", required=True,
                   description="township"),
        ColumnSpec("village", ("村", "行政村"), "text", required=True,
                   description="administrative village"),
        ColumnSpec("household_type", ("户类型",), "category", required=True,
                   allowed=(FORMERLY_POOR, "一般农户"),
                   description="formerly poor (脱贫户) or ordinary farm household (一般农户)"),
        ColumnSpec("exit_year", ("脱贫年度",), "year",
                   description="year the household left poverty; 脱贫户 only"),
        ColumnSpec("relocated", ("是否易地扶贫搬迁",), "bool",
                   description="relocated for poverty alleviation"),
        ColumnSpec("dangerous_house", ("是否危房户",), "bool", description="dangerous housing"),
        ColumnSpec("safe_water", ("是否解决安全饮用水",), "bool",
                   description="safe drinking water secured"),
        ColumnSpec("cultivated_land_mu", ("耕地面积（亩）",), "number",
                   description="cultivated land in mu"),
    ),
)  # fmt: skip

MEMBERS = TableSpec(
    name="members",
    labels_zh=("家庭成员",),
    description="one row per person (snapshot as of the export month)",
    unique_key=("person_id",),
    required=True,
    columns=(
        _PERSON,
        ColumnSpec("household_id", (_ID,), "text", required=True,
                   description="household id; must exist in households"),
        ColumnSpec("relation", ("与户主关系",), "category", required=True, allowed=RELATIONS,
                   description="relation to the head of household; exactly one 户主 per household"),
        ColumnSpec("sex", ("性别",), "category", allowed=("男", "女"), description="sex"),
        ColumnSpec("birth_date", ("出生日期",), "date", description="date of birth"),
        ColumnSpec("ethnicity", ("民族",), "text", description="ethnic group (汉族, 苗族, …)"),
        ColumnSpec("health", ("健康状况",), "multicategory",
                   allowed=("健康", "长期慢性病", "患有大病", "残疾"),
                   description="health status, one or several"),
        ColumnSpec("labor_skill", ("劳动技能",), "category",
                   allowed=("普通劳动力", "技能劳动力", "弱劳动力或半劳动力", "丧失劳动力",
                            "无劳动力"),
                   description="labour capacity"),
        ColumnSpec("education", ("文化程度",), "category",
                   allowed=("文盲或半文盲", "小学", "初中", "高中", "大专", "本科及以上"),
                   description="highest education"),
        ColumnSpec("school_status", ("在校生状况",), "category", allowed=SCHOOL_STATUSES,
                   description="schooling status"),
        ColumnSpec("dibao", ("享受低保政策情况",), "category",
                   allowed=("农村低保", "城市低保", "未享受"),
                   description="minimum living allowance, current status"),
        ColumnSpec("tekun", ("享受特困供养政策情况",), "category",
                   allowed=("农村特困", "城市特困", "不享受"),
                   description="extreme-poverty support, current status"),
        ColumnSpec("medical_insured", ("是否参加城乡居民基本医疗保险",), "bool",
                   description="enrolled in basic medical insurance"),
    ),
)  # fmt: skip

INCOME = TableSpec(
    name="income",
    labels_zh=("收入",),
    description="household income by month; months with no row are unknown, not zero",
    unique_key=("household_id", "month"),
    time_column="month",
    columns=(
        ColumnSpec("household_id", (_ID,), "text", required=True, description="household id"),
        ColumnSpec("month", ("月份",), "month", required=True, description="income month"),
        ColumnSpec("wage_income", ("工资性收入",), "money", description="wage income"),
        ColumnSpec("business_income", ("生产经营性收入",), "money",
                   description="business income, gross"),
        ColumnSpec("business_expense", ("生产经营性支出",), "money",
                   description="business expenses"),
        ColumnSpec("property_income", ("财产性收入",), "money", description="property income"),
        ColumnSpec("transfer_income", ("转移性收入",), "money",
                   description="transfers: 低保金, 养老金, 补贴"),
    ),
)  # fmt: skip

MEDICAL = TableSpec(
    name="medical",
    labels_zh=("医保结算",),
    description="one row per settled medical-insurance claim",
    person_ref=True,
    time_column="settle_date",
    columns=(
        _PERSON,
        ColumnSpec("settle_date", ("结算日期",), "date", required=True,
                   description="settlement date"),
        ColumnSpec("visit_type", ("就诊类型",), "category", required=True,
                   allowed=("住院", "门诊慢特病", "普通门诊"), description="visit type"),
        ColumnSpec("total_cost", ("医疗费总额",), "money", required=True,
                   description="total cost"),
        ColumnSpec("insurance_paid", ("基本医保支付",), "money",
                   description="paid by basic insurance"),
        ColumnSpec("critical_illness_paid", ("大病保险支付",), "money",
                   description="paid by critical-illness insurance"),
        ColumnSpec("assistance_paid", ("医疗救助支付",), "money",
                   description="paid by medical assistance"),
        ColumnSpec("out_of_pocket", ("个人自付",), "money", required=True,
                   description="paid by the patient; at most total_cost"),
        ColumnSpec("diagnosis", ("诊断",), "text", description="diagnosis, free text"),
    ),
)  # fmt: skip

DISABILITY = TableSpec(
    name="disability",
    labels_zh=("残疾人证",),
    description="one row per certified person",
    unique_key=("person_id",),
    person_ref=True,
    time_column="certified_date",
    columns=(
        _PERSON,
        ColumnSpec("disability_type", ("残疾类别",), "category",
                   allowed=("视力", "听力", "言语", "肢体", "智力", "精神", "多重"),
                   description="type of disability"),
        ColumnSpec("grade", ("残疾等级",), "grade",
                   description="grade 1–4 (1 most severe); else last character of a 20-char card"),
        ColumnSpec("certified_date", ("发证日期",), "date", required=True,
                   description="date the certificate was issued"),
    ),
)  # fmt: skip

EMPLOYMENT = TableSpec(
    name="employment",
    labels_zh=("务工",),
    description="one row per work spell",
    person_ref=True,
    time_column="start_month",
    columns=(
        _PERSON,
        ColumnSpec("start_month", ("开始时间",), "month", required=True,
                   description="first month of the spell"),
        ColumnSpec("end_month", ("结束时间",), "month",
                   description="last month of the spell; empty = still working"),
        ColumnSpec("work_location", ("务工地域",), "category",
                   allowed=("县内", "省内县外", "省外"), description="where the work is"),
        ColumnSpec("monthly_income", ("务工月收入",), "money", description="monthly income"),
        ColumnSpec("industry", ("所属行业",), "text", description="industry"),
        ColumnSpec("channel", ("就业渠道",), "category",
                   allowed=("公益性岗位", "帮扶车间", "自主就业", "劳务输出", "其他"),
                   description="how the job was found"),
    ),
)  # fmt: skip

ASSISTANCE = TableSpec(
    name="assistance",
    labels_zh=("帮扶救助",),
    description="assistance payments and measures",
    time_column="month",
    columns=(
        ColumnSpec("household_id", (_ID,), "text", required=True, description="household id"),
        ColumnSpec("month", ("月份",), "month", required=True, description="payment month"),
        ColumnSpec("type", ("类型",), "category", required=True,
                   allowed=("低保金", "特困供养金", "临时救助", "医疗救助", "防贫保理赔",
                            "教育资助", "公益岗位补贴", "产业奖补", "小额信贷", "其他"),
                   description="kind of payment or measure"),
        ColumnSpec("amount", ("金额",), "money", description="amount"),
    ),
)  # fmt: skip

EVENTS = TableSpec(
    name="events",
    labels_zh=("突发事件",),
    description="shocks reported by 应急, 公安 and villages",
    person_ref=True,
    time_column="date",
    columns=(
        ColumnSpec("household_id", (_ID,), "text", required=True, description="household id"),
        ColumnSpec("person_id", ("证件号码",), "text", description="person concerned, if any"),
        ColumnSpec("date", ("发生日期",), "date", required=True, description="date of the event"),
        ColumnSpec("event_type", ("事件类型",), "category", required=True,
                   allowed=("自然灾害", "意外事故", "家庭成员死亡", "房屋损毁", "产业项目失败",
                            "失业", "其他"),
                   description="kind of event"),
        ColumnSpec("loss_amount", ("损失金额",), "money", description="loss in yuan"),
    ),
)  # fmt: skip

OUTCOMES = TableSpec(
    name="outcomes",
    labels_zh=("监测对象",),
    description="identifications of monitored households",
    unique_key=("household_id", "identified_month"),
    time_column="identified_month",
    columns=(
        ColumnSpec("household_id", (_ID,), "text", required=True, description="household id"),
        ColumnSpec("identified_month", ("识别监测时间",), "month", required=True,
                   description="month identified"),
        ColumnSpec("category", ("监测对象类别",), "category", required=True,
                   allowed=("脱贫不稳定户", "边缘易致贫户", "突发严重困难户"),
                   description="monitoring category"),
        ColumnSpec("risk_types", ("致贫返贫风险",), "multicategory",
                   allowed=("因病", "因残", "因学", "因自然灾害", "因意外事故", "因产业项目失败",
                            "因务工就业不稳", "缺劳动力", "因安全住房", "因安全饮水", "其他"),
                   description="risk types"),
        ColumnSpec("channel", ("发现渠道",), "category",
                   allowed=("农户自主申报", "基层干部排查", "部门筛查预警", "模型预警"),
                   description="how the household was found"),
        ColumnSpec("eliminated_month", ("消除监测时间",), "month",
                   description="month the risk was eliminated; not before identified_month"),
    ),
)  # fmt: skip

#: Every contract table, in load order (required first).
CONTRACT: Mapping[str, TableSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            HOUSEHOLDS, MEMBERS, INCOME, MEDICAL, DISABILITY, EMPLOYMENT, ASSISTANCE, EVENTS,
            OUTCOMES,
        )
    }
)  # fmt: skip

#: Above this share of rows naming unknown people (or households), a table is rejected.
UNKNOWN_REF_LIMIT = 0.20


def label_of(table: str, column: str) -> str:
    """The Chinese label of a contract column (messages, Chinese output headers).

    Examples
    --------
    >>> label_of("households", "township")
    '乡'
    """
    return CONTRACT[table].column(column).label_zh


def table_for_stem(stem: str) -> str | None:
    """The contract table a file stem names (English or Chinese), or None."""
    key = header_key(stem)
    for spec in CONTRACT.values():
        if key in {header_key(spec.name), *(header_key(label) for label in spec.labels_zh)}:
            return spec.name
    return None


def contract_markdown() -> str:
    """The contract as Markdown tables (for docs), generated from `CONTRACT`.

    Examples
    --------
    >>> print(contract_markdown().splitlines()[0])
    ### households — 户信息 (required)
    """
    lines: list[str] = []
    for spec in CONTRACT.values():
        need = "required" if spec.required else "optional"
        lines += [f"### {spec.name} — {' / '.join(spec.labels_zh)} ({need})", spec.description, ""]
        lines += [
            "| column | 中文 | kind | required | allowed / form | description |",
            "|---" * 6 + "|",
        ]
        for column in spec.columns:
            form = ", ".join(column.allowed) if column.allowed else KIND_FORMS[column.kind]
            lines.append(
                f"| {column.name} | {' / '.join(column.labels_zh)} | {column.kind} | "
                f"{'yes' if column.required else ''} | {form} | {column.description} |"
            )
        key = f"unique key: {', '.join(spec.unique_key)}" if spec.unique_key else "no unique key"
        lines += ["", key, ""]
    return "\n".join(lines)
