"""The feature catalogue: every feature declared once (name, 中文名, unit, source, reason, cause).

Explanations, the Excel legend, the report and the README table all read `CATALOGUE`; `build_features`
returns exactly these columns in this order (a test checks both ways).

Windows: "last k months" (近k个月) are the months m with as_of − k < m ≤ as_of, the as-of month included.
Only records dated on or before the as-of month are read (DATA_CONTRACT.md, "Time"). The time-varying
snapshot fields of `households`/`members` (健康状况, 劳动技能, 在校生状况, 低保/特困 status, 危房, 安全饮水)
feed no feature: they describe the export month only. Illness comes from claims, disability from
certificates, work from spells, 低保/特困 from payments; school stage is inferred from birth dates.
`dangerous_house` and `safe_water` therefore have no feature at all: no dated table records when a house
became dangerous or water safe, and the snapshot would leak the export month into earlier months.

Causes: every feature that can tell a reviewer *why* a household is at risk names one cause of the
vocabulary `CAUSES` (INTERFACE.md v2: one vocabulary for the truth, explanations, Excel, page and
report); features that describe no cause (region, household type, calendar, data coverage, monitoring
history) have ``cause=None`` and never become a reason. A composite feature (rigid spending, income
level, all events, all assistance) lists its `parts`: an explanation splits its contribution over the
parts' causes in proportion to what each part amounts to for the household, so the reason names the
part that moved. Rigid spending splits into medical cost, disaster, death, business and other losses;
the contract carries no schooling spending, so schooling shows through school-age members and 教育资助.
A level (income, wages now, members working now) describes the household's standing and speaks for
`low_income` (no wage now after a spell ended in the last 6 months is that job's loss); a change or an
event (a spell ended, wages fell, a claim, a disaster) speaks for the shock behind it, unless the
records contradict the shock (`shock_needs`). Transfer and property income falls (a subsidy or rent
that stopped) are the household's income, not a shock: `low_income`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

#: The contract's 致贫返贫风险 values a feature can point to.
RISK_TYPES: tuple[str, ...] = (
    "因病",
    "因残",
    "因学",
    "因务工就业不稳",
    "缺劳动力",
    "因自然灾害",
    "因意外事故",
    "因产业项目失败",
    "因安全住房",
    "因安全饮水",
    "其他",
)


@dataclass(frozen=True)
class Cause:
    """One cause of the shared vocabulary.

    Attributes
    ----------
    name
        English name used in every output (``illness``, ``work``, …).
    label_zh
        Chinese name shown to reviewers (因病, 务工就业, …).
    measure_zh
        The assistance measure that fits the cause (DOMAIN.md), suggested beside the reason.
    description
        What the cause covers, in English.
    """

    name: str
    label_zh: str
    measure_zh: str
    description: str


#: The cause vocabulary (INTERFACE.md v2), in the order reviewers see it.
CAUSES: tuple[Cause, ...] = (
    Cause(
        "illness",
        "因病",
        "医疗救助/大病保险",
        "Illness: medical cost, stays, serious or chronic illness.",
    ),
    Cause("disability", "因残", "残疾人两项补贴/康复", "Disability: certified members, severity."),
    Cause("schooling", "因学", "教育资助/雨露计划", "Schooling: school-age members, 教育资助."),
    Cause(
        "work",
        "务工就业",
        "就业帮扶/公益岗位",
        "Job or wage loss: spells ended, unemployment, wages.",
    ),
    Cause(
        "disaster",
        "自然灾害",
        "灾害救助/农房修缮",
        "Natural disaster and house damage, their losses.",
    ),
    Cause(
        "business",
        "产业经营",
        "产业帮扶/小额信贷",
        "Farm or business failure, business income fall.",
    ),
    Cause(
        "death",
        "家庭成员去世",
        "临时救助/丧葬补助",
        "Death of a member, the loss and funeral cost.",
    ),
    Cause(
        "low_income",
        "收入长期偏低",
        "低保/兜底保障",
        "Chronically low income without a shock: income level, labour, dependants, 低保.",
    ),
    Cause("other", "其他", "临时救助/入户核实", "Accidents, other losses and hardship payments."),
)
CAUSE_NAMES: tuple[str, ...] = tuple(cause.name for cause in CAUSES)
_CAUSES_BY_NAME = {cause.name: cause for cause in CAUSES}


def cause_by_name(name: str) -> Cause:
    """The `Cause` called `name`.

    Raises
    ------
    KeyError
        Naming the cause and the vocabulary.
    """
    try:
        return _CAUSES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a cause; expected one of {list(CAUSE_NAMES)}") from None


@dataclass(frozen=True)
class Records:
    """The records of a contract table that back a feature (named as a reason's evidence).

    Attributes
    ----------
    table
        Contract table (``medical``, ``events``, …).
    column, values
        Only records whose `column` is one of `values` (e.g. ``event_type`` in ``("自然灾害",)``);
        every record of the household when `column` is empty.
    """

    table: str
    column: str = ""
    values: tuple[str, ...] = ()


RiskyWhen = Literal["any", "positive", "negative"]
_PRECISION = re.compile(r"\{value:[^}]*?\.(\d+)([f%])\}")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature.

    Attributes
    ----------
    name
        Column name in the feature table.
    label_zh
        Chinese label shown to reviewers.
    unit
        Unit in Chinese (元, 元/人/年, 人, 个月, 次, 比例, …); "" for categories and flags.
    source
        Contract table(s) it is computed from, e.g. "medical" or "medical+income".
    description
        What it means exactly, in English (for developers and the docs).
    reason_zh
        Chinese sentence template; `reason` fills it with the value (see `reason` for zero and
        negative values).
    risk_type
        The 致贫返贫风险 it points to, or None for neutral features.
    kind
        "numeric" (float64) or "categorical" (pandas category).
    monotone
        +1 where more never lowers risk, -1 where more never raises it, 0 otherwise.
    cause
        The cause in `CAUSES` the feature speaks of, or None when it names no cause (never a reason).
    group
        Finer grouping of features telling the same story (``medical_cost``, ``job_loss``, …).
    risky_when
        Which values point to the cause: "positive" (a count or amount above zero), "negative" (a
        fall), or "any". A value on the other side is never counted for the cause nor shown.
    reason_zero_zh
        The sentence when the value shows as zero (e.g. "当月无人务工"); "" to use `reason_zh`.
    reason_negative_zh
        The sentence for a negative value, filled with its absolute value ("同比减少{value}元").
    parts
        For a composite feature: the part features whose amounts split its contribution by cause.
    records
        The records behind the feature, when not every record of its first source table.
    explained_by
        (event feature, cause) pairs: where the household's event feature is above zero, the value
        speaks for that cause instead of `cause` (the first pair that applies wins). An income fall
        in the year a working-age member died is the death's, a farm income fall in a disaster year
        the disaster's, a chronic gap with a severely disabled member the disability's.
    shock_needs
        (feature, operator, bound) checks the household's records must not contradict for the value
        to speak for its shock `cause` (operator ``">"`` or ``"<="``; a missing feature contradicts
        nothing). Where a known value fails a check, and no `explained_by` pair applies, the value
        speaks for `low_income` instead: a wage fall is a job loss only while an able working-age
        member is out of work and a spell ended in the last 12 months.
    """

    name: str
    label_zh: str
    unit: str
    source: str
    description: str
    reason_zh: str
    risk_type: str | None
    kind: Literal["numeric", "categorical"] = "numeric"
    monotone: Literal[-1, 0, 1] = 0
    cause: str | None = None
    group: str = ""
    risky_when: RiskyWhen = "any"
    reason_zero_zh: str = ""
    reason_negative_zh: str = ""
    parts: tuple[str, ...] = ()
    records: Records | None = None
    explained_by: tuple[tuple[str, str], ...] = ()
    shock_needs: tuple[tuple[str, str, float], ...] = ()

    def reason(self, value: object) -> str:
        """The reason sentence for one household's value.

        Zero (as shown) takes `reason_zero_zh`, a negative value `reason_negative_zh` with its
        absolute value, a missing value "label：无记录"; a value the sentence cannot carry (negative
        without a negative sentence, infinite) is shown plainly as "label：value unit".

        Examples
        --------
        >>> by_name("wage_income_change_12m").reason(-95580.0)
        '工资性收入同比减少95,580元'
        >>> by_name("income_to_line_ratio_12m").reason(float("nan"))
        '人均纯收入与监测线之比：无记录'
        """
        if isinstance(value, str):
            return self.reason_zh.format(value=value, unit=self.unit)
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number):
            return f"{self.label_zh}：无记录"
        if math.isinf(number):
            return f"{self.label_zh}：数值异常"
        if self.shows_as_zero(number):
            template = self.reason_zero_zh or self.reason_zh
            return template.format(value=0.0, unit=self.unit)
        if number < 0:
            if self.reason_negative_zh:
                return self.reason_negative_zh.format(value=-number, unit=self.unit)
            return f"{self.label_zh}：{number:,.2f}{self.unit}".replace(".00", "")
        return self.reason_zh.format(value=number, unit=self.unit)

    def zero_tolerance(self) -> float:
        """Largest size a value may have and still show as zero in the sentence (half its last digit).

        A sentence without a number (a flag) shows 0 or 1: its tolerance is 0.5.
        """
        match = _PRECISION.search(self.reason_zh)
        if match is None:
            return 0.5
        digits = int(match.group(1)) + (2 if match.group(2) == "%" else 0)
        return 0.5 * 10.0**-digits

    def shows_as_zero(self, value: float) -> bool:
        """True when `value` rounds to zero at the precision the sentence shows it."""
        return abs(value) < self.zero_tolerance()

    def points_to_cause(self, value: float) -> bool:
        """True when `value` is on the side of `risky_when` (and not missing)."""
        if math.isnan(value):
            return False
        if self.risky_when == "positive":
            return value > self.zero_tolerance()
        if self.risky_when == "negative":
            return value < -self.zero_tolerance()
        return True


def _spec(
    name: str,
    label_zh: str,
    unit: str,
    source: str,
    description: str,
    reason_zh: str,
    risk_type: str | None = None,
    *,
    cause: str | None,
    group: str,
    kind: Literal["numeric", "categorical"] = "numeric",
    monotone: Literal[-1, 0, 1] = 0,
    risky_when: RiskyWhen = "any",
    reason_zero_zh: str = "",
    reason_negative_zh: str = "",
    parts: tuple[str, ...] = (),
    records: Records | None = None,
    explained_by: tuple[tuple[str, str], ...] = (),
    shock_needs: tuple[tuple[str, str, float], ...] = (),
) -> FeatureSpec:
    return FeatureSpec(
        name,
        label_zh,
        unit,
        source,
        description,
        reason_zh,
        risk_type,
        kind,
        monotone,
        cause,
        group,
        risky_when,
        reason_zero_zh,
        reason_negative_zh,
        parts,
        records,
        explained_by,
        shock_needs,
    )


#: Parts of the household's income gap to the line: last year's gap and this year's falls by source.
INCOME_CHANGE_PARTS: tuple[str, ...] = (
    "wage_income_change_12m",
    "business_income_change_12m",
    "property_income_change_12m",
    "transfer_income_change_12m",
)
INCOME_PARTS: tuple[str, ...] = ("income_gap_before_12m", *INCOME_CHANGE_PARTS)
#: What an income fall is the effect of when the household's own records show a shock that year
#: (the first that applies): wages fall when a member dies (many rural earners work past 64), is
#: newly certified disabled, lives with a severe disability (the member cannot work, or another
#: stays home to care) or falls seriously ill; farm and business income falls when a business fails
#: or a disaster destroys the crop or the house. Without such a record the fall speaks for itself (work, business).
WAGE_FALL_EXPLAINED_BY: tuple[tuple[str, str], ...] = (
    ("member_deaths_12m", "death"),
    ("disability_certified_12m", "disability"),
    ("severe_disabled_members", "disability"),
    ("seriously_ill_members_12m", "illness"),
)
BUSINESS_FALL_EXPLAINED_BY: tuple[tuple[str, str], ...] = (
    ("business_failures_12m", "business"),
    ("disasters_12m", "disaster"),
    ("house_damage_12m", "disaster"),
)
#: What the employment feed must not contradict for a wage fall to be a job loss: an able
#: working-age member out of work in the last 6 months, and a spell that ended in the last 12. A fall
#: with nobody able left out of work (the earner retired, left, or is too ill to work) or whose last
#: spell ended over a year ago is the household's standing now: low income.
JOB_LOSS_NEEDS: tuple[tuple[str, str, float], ...] = (
    ("months_unemployed_6m", ">", 0.0),
    ("months_since_spell_ended", "<=", 12.0),
)
#: The wage fall as the employment feed records it: the wages of the last 12 months
#: (``employment_wage_12m``) less twelve times this month's (``monthly_wage_now``) — a spell that
#: stopped and was not replaced, in yuan a year. An income check can miss it (wages declared late,
#: a job lost this quarter barely moves a 12-month comparison); explanations count the larger of it
#: and the income checks' fall (``wage_income_change_12m``) for the wage part of the shortfall.
RECORDED_WAGE_FALL: tuple[str, str] = ("employment_wage_12m", "monthly_wage_now")
#: Levels of work that speak for a job loss when a spell ended in the last 6 months (and no death,
#: disability or serious illness explains them first): no wage this month because a job ended.
WORK_LEVEL_EXPLAINED_BY: tuple[tuple[str, str], ...] = (
    *WAGE_FALL_EXPLAINED_BY,
    ("spells_ended_6m", "work"),
)
#: Transfer income (pensions, subsidies) falls when the member who drew it dies.
TRANSFER_FALL_EXPLAINED_BY: tuple[tuple[str, str], ...] = (("member_deaths_12m", "death"),)
#: A gap to the line that was already there last year is the disability's when a member is severely
#: disabled (因残: the household cannot earn), else chronic low income.
GAP_EXPLAINED_BY: tuple[tuple[str, str], ...] = (("severe_disabled_members", "disability"),)
#: The feature that makes disability the household's standing (a grade 1–2 member: 因残).
SEVERE_DISABILITY = "severe_disabled_members"
#: Members at the school stages that cost the household money (高中/中职 from 15, college to 22;
#: the nine compulsory years are free): they make schooling part of the household's standing.
SCHOOLING_COSTS: tuple[str, ...] = ("senior_secondary_age_members", "college_age_members")
#: Parts of the rigid spending (刚性支出) of the last 12 months.
RIGID_PARTS: tuple[str, ...] = (
    "oop_medical_12m",
    "disaster_loss_12m",
    "death_loss_12m",
    "business_loss_12m",
    "other_event_loss_12m",
)
EVENT_LOSS_PARTS: tuple[str, ...] = RIGID_PARTS[1:]
#: The household's shortfall in yuan a year, by what caused it: last year's gap to the line, this
#: year's income falls by source and the rigid spending of the last 12 months (the parts of
#: ``income_after_rigid_to_line_12m``). Explanations put the causes whose share of it is material
#: first, largest first: the shock with the largest money effect is what a reviewer names.
SHORTFALL_PARTS: tuple[str, ...] = (*INCOME_PARTS, *RIGID_PARTS)
#: The part of the shortfall that is the household's standing (last year's gap); the others are
#: this year's shocks (falls and rigid spending).
STANDING_PARTS: tuple[str, ...] = ("income_gap_before_12m",)
EVENT_COUNT_PARTS: tuple[str, ...] = (
    "disasters_12m",
    "house_damage_12m",
    "member_deaths_12m",
    "business_failures_12m",
    "accidents_12m",
    "job_loss_events_12m",
)
ASSISTANCE_PARTS: tuple[str, ...] = (
    "dibao_amount_12m",
    "tekun_amount_12m",
    "medical_assistance_12m",
    "education_assistance_12m",
    "temporary_assistance_12m",
    "fangpinbao_payout_12m",
)

_HOUSING = (
    _spec(
        "county",
        "所在县",
        "",
        "households",
        "County (stable field).",
        "所在县为{value}",
        group="region",
        cause=None,
        kind="categorical",
    ),
    _spec(
        "household_type",
        "户类型",
        "",
        "households",
        "脱贫户 or 一般农户 (stable field).",
        "户类型为{value}",
        group="household_type",
        cause=None,
        kind="categorical",
    ),
    _spec(
        "is_formerly_poor",
        "是否脱贫户",
        "",
        "households",
        "1 for 脱贫户, else 0 (stable field).",
        "属于脱贫户",
        group="household_type",
        cause=None,
        risky_when="positive",
        reason_zero_zh="不是脱贫户",
    ),
    _spec(
        "years_since_exit",
        "脱贫年数",
        "年",
        "households",
        "as-of year − exit_year; NaN for 一般农户 or an exit after the as-of year. exit_year is "
        "stable. 危房/安全饮水 are snapshot fields and are not used (no history).",
        "脱贫{value:.0f}年",
        "其他",
        group="exit",
        cause=None,
        reason_zero_zh="当年脱贫",
    ),
    _spec(
        "relocated",
        "是否易地扶贫搬迁",
        "",
        "households",
        "1 if relocated under 易地扶贫搬迁 (completed by 2020, so treated as stable), 0 if not, "
        "NaN unknown.",
        "属于易地扶贫搬迁户",
        "其他",
        group="relocation",
        cause=None,
        risky_when="positive",
        reason_zero_zh="不是易地扶贫搬迁户",
    ),
    _spec(
        "cultivated_land_mu",
        "耕地面积",
        "亩",
        "households",
        "Cultivated land in mu (export snapshot; land holdings change rarely).",
        "耕地{value:.1f}亩",
        group="land",
        cause="low_income",
        reason_zero_zh="没有耕地",
    ),
)

_MEMBERS = (
    _spec(
        "household_size",
        "家庭人口",
        "人",
        "members",
        "Members born on or before the as-of month.",
        "家庭人口{value:.0f}人",
        group="size",
        cause="low_income",
    ),
    _spec(
        "working_age_members",
        "劳动年龄人口",
        "人",
        "members",
        "Members aged 16–64 at the as-of month (age from birth month).",
        "劳动年龄人口{value:.0f}人",
        "缺劳动力",
        monotone=-1,
        group="labour",
        cause="low_income",
        reason_zero_zh="家中没有劳动年龄人口",
    ),
    _spec(
        "able_working_age_members",
        "有劳动能力的劳动年龄人口",
        "人",
        "members+medical+disability",
        "Members aged 16–64 with no grade 1–2 disability certificate dated ≤ as-of and no "
        "serious-illness claim (大病保险 paid, or an inpatient claim of ≥ 30,000 yuan) in the "
        "last 12 months. Snapshot 健康状况/劳动技能 are not used.",
        "有劳动能力的劳动年龄人口{value:.0f}人",
        "缺劳动力",
        monotone=-1,
        group="labour",
        cause="low_income",
        reason_zero_zh="家中没有有劳动能力的劳动年龄人口",
    ),
    _spec(
        "elderly_members",
        "65岁及以上老人",
        "人",
        "members",
        "Members aged 65 or more.",
        "家中有65岁及以上老人{value:.0f}人",
        "缺劳动力",
        group="dependants",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="家中没有65岁及以上老人",
    ),
    _spec(
        "children_members",
        "16岁以下儿童",
        "人",
        "members",
        "Members under 16.",
        "家中有16岁以下儿童{value:.0f}人",
        group="dependants",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="家中没有16岁以下儿童",
    ),
    _spec(
        "dependency_ratio",
        "抚养比",
        "比例",
        "members",
        "(members under 16 + members 65+) / max(working-age members, 1).",
        "抚养比{value:.2f}",
        "缺劳动力",
        group="dependants",
        cause="low_income",
        reason_zero_zh="家中没有需抚养的老人和儿童",
    ),
    _spec(
        "preschool_children",
        "学龄前儿童",
        "人",
        "members",
        "Members aged 0–5 (from birth dates).",
        "家中有学龄前儿童{value:.0f}人",
        group="schooling",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="家中没有学龄前儿童",
    ),
    _spec(
        "primary_school_age_children",
        "小学学龄儿童",
        "人",
        "members",
        "Members aged 6–11 (from birth dates; snapshot 在校生状况 not used).",
        "家中有小学学龄儿童{value:.0f}人",
        "因学",
        group="schooling",
        cause="schooling",
        risky_when="positive",
        reason_zero_zh="家中没有小学学龄儿童",
    ),
    _spec(
        "junior_secondary_age_children",
        "初中学龄儿童",
        "人",
        "members",
        "Members aged 12–14 (from birth dates).",
        "家中有初中学龄儿童{value:.0f}人",
        "因学",
        group="schooling",
        cause="schooling",
        risky_when="positive",
        reason_zero_zh="家中没有初中学龄儿童",
    ),
    _spec(
        "senior_secondary_age_members",
        "高中学龄人口",
        "人",
        "members",
        "Members aged 15–17 (from birth dates; 高中/中职 is where schooling costs start).",
        "家中有高中学龄人口{value:.0f}人",
        "因学",
        group="schooling",
        cause="schooling",
        risky_when="positive",
        reason_zero_zh="家中没有高中学龄人口",
    ),
    _spec(
        "college_age_members",
        "大学学龄人口",
        "人",
        "members",
        "Members aged 18–22 (from birth dates).",
        "家中有大学学龄人口{value:.0f}人",
        "因学",
        group="schooling",
        cause="schooling",
        risky_when="positive",
        reason_zero_zh="家中没有大学学龄人口",
    ),
    _spec(
        "elderly_only_household",
        "纯老年户",
        "",
        "members",
        "1 if every member is 65 or older, else 0.",
        "家中仅有65岁及以上老人",
        "缺劳动力",
        group="labour",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="不是纯老年户",
    ),
    _spec(
        "single_elderly_household",
        "独居老人户",
        "",
        "members",
        "1 if the household is one member aged 65 or older, else 0.",
        "独居老人户",
        "缺劳动力",
        group="labour",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="不是独居老人户",
    ),
    _spec(
        "head_age",
        "户主年龄",
        "岁",
        "members",
        "Age of the 户主 at the as-of month.",
        "户主{value:.0f}岁",
        group="head",
        cause="low_income",
    ),
    _spec(
        "head_is_female",
        "户主为女性",
        "",
        "members",
        "1 if the 户主 is female, else 0.",
        "户主为女性",
        group="head",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="户主为男性",
    ),
    _spec(
        "head_education_level",
        "户主文化程度",
        "级",
        "members",
        "户主's education: 0 文盲或半文盲, 1 小学, 2 初中, 3 高中, 4 大专, 5 本科及以上; NaN unknown.",
        "户主文化程度为{value:.0f}级（0为文盲或半文盲，5为本科及以上）",
        group="head",
        cause="low_income",
        reason_zero_zh="户主为文盲或半文盲",
    ),
)

_INCOME = (
    _spec(
        "income_per_capita_12m",
        "近12个月人均纯收入",
        "元/人/年",
        "income+members",
        "Trailing-12-month net income (wage + business − business_expense + property + "
        "transfer) / household_size, annualised from the months observed (× 12 / months "
        "observed); NaN when no income month observed.",
        "近12个月人均纯收入{value:,.0f}元",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="近12个月人均纯收入为零",
        reason_negative_zh="近12个月家庭纯收入为负，人均亏损{value:,.0f}元",
        parts=INCOME_PARTS,
    ),
    _spec(
        "income_to_line_ratio_12m",
        "人均纯收入与监测线之比",
        "倍",
        "income+members",
        "income_per_capita_12m / monitoring line of the household's county and as-of year.",
        "近12个月人均纯收入为监测线的{value:.2f}倍",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="近12个月人均纯收入为零",
        reason_negative_zh="近12个月家庭纯收入为负，人均亏损相当于监测线的{value:.2f}倍",
        parts=INCOME_PARTS,
    ),
    _spec(
        "income_months_observed_12m",
        "近12个月收入记录月数",
        "个月",
        "income",
        "Months in the last 12 with an income row (0–12): a missing feed shows here, it is not "
        "read as zero income.",
        "近12个月有{value:.0f}个月收入记录",
        group="coverage",
        cause=None,
        reason_zero_zh="近12个月没有收入记录",
    ),
    _spec(
        "income_per_capita_3m",
        "近3个月人均纯收入（年化）",
        "元/人/年",
        "income+members",
        "As income_per_capita_12m over the last 3 months (annualised).",
        "近3个月人均纯收入折合全年{value:,.0f}元",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="近3个月人均纯收入为零",
        reason_negative_zh="近3个月家庭纯收入为负，折合全年人均亏损{value:,.0f}元",
        parts=INCOME_PARTS,
    ),
    _spec(
        "income_to_line_ratio_3m",
        "近3个月人均纯收入与监测线之比",
        "倍",
        "income+members",
        "income_per_capita_3m / monitoring line.",
        "近3个月人均纯收入折合全年为监测线的{value:.2f}倍",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="近3个月人均纯收入为零",
        reason_negative_zh="近3个月家庭纯收入为负，折合全年人均亏损相当于监测线的{value:.2f}倍",
        parts=INCOME_PARTS,
    ),
    _spec(
        "income_months_observed_3m",
        "近3个月收入记录月数",
        "个月",
        "income",
        "Months in the last 3 with an income row (0–3).",
        "近3个月有{value:.0f}个月收入记录",
        group="coverage",
        cause=None,
        reason_zero_zh="近3个月没有收入记录",
    ),
    _spec(
        "wage_share_12m",
        "工资性收入占比",
        "比例",
        "income",
        "Wage income / net income over the last 12 months; NaN when net income ≤ 0.",
        "工资性收入占纯收入的{value:.0%}",
        group="income_mix",
        cause="low_income",
        reason_zero_zh="近12个月没有工资性收入",
    ),
    _spec(
        "business_share_12m",
        "经营净收入占比",
        "比例",
        "income",
        "(business − business_expense) / net income over the last 12 months.",
        "经营净收入占纯收入的{value:.0%}",
        group="income_mix",
        cause="business",
        reason_zero_zh="近12个月没有经营净收入",
        reason_negative_zh="近12个月生产经营亏损，亏损额相当于纯收入的{value:.0%}",
    ),
    _spec(
        "property_share_12m",
        "财产性收入占比",
        "比例",
        "income",
        "Property income / net income over the last 12 months.",
        "财产性收入占纯收入的{value:.0%}",
        group="income_mix",
        cause="other",
        reason_zero_zh="近12个月没有财产性收入",
    ),
    _spec(
        "transfer_share_12m",
        "转移性收入占比",
        "比例",
        "income",
        "Transfer income (低保金, pensions, subsidies) / net income over the last 12 months.",
        "转移性收入占纯收入的{value:.0%}",
        group="income_mix",
        cause="low_income",
        reason_zero_zh="近12个月没有转移性收入",
    ),
    _spec(
        "income_change_ratio_12m",
        "人均纯收入同比变化",
        "比例",
        "income",
        "Annualised net income of the last 12 months / that of the 12 months before − 1; NaN "
        "when the earlier window has no month or a total ≤ 0.",
        "家庭纯收入同比增长{value:.0%}",
        "其他",
        group="income_drop",
        cause="low_income",
        risky_when="negative",
        reason_zero_zh="家庭纯收入与上年基本持平",
        reason_negative_zh="家庭纯收入同比下降{value:.0%}",
        parts=INCOME_CHANGE_PARTS,
    ),
    _spec(
        "income_volatility_12m",
        "月收入波动系数",
        "比例",
        "income",
        "Coefficient of variation (std / |mean|) of monthly net income over the observed "
        "months of the last 12; NaN with fewer than 2 months.",
        "月收入波动系数{value:.2f}",
        "因务工就业不稳",
        group="income_drop",
        cause="work",
        risky_when="positive",
        reason_zero_zh="月收入没有波动",
    ),
    _spec(
        "net_income_last_month",
        "当月家庭纯收入",
        "元",
        "income",
        "Household net income in the as-of month; NaN when that month has no income row.",
        "当月家庭纯收入{value:,.0f}元",
        "其他",
        group="income_drop",
        cause="low_income",
        reason_zero_zh="当月家庭纯收入为零",
        reason_negative_zh="当月家庭纯收入为负，亏损{value:,.0f}元",
        parts=INCOME_PARTS,
    ),
    _spec(
        "wage_income_last_month",
        "当月工资性收入",
        "元",
        "income",
        "Household wage income in the as-of month; NaN when that month has no income row.",
        "当月工资性收入{value:,.0f}元",
        "因务工就业不稳",
        group="wage_loss",
        cause="low_income",
        explained_by=WORK_LEVEL_EXPLAINED_BY,
        reason_zero_zh="当月没有工资性收入",
    ),
    _spec(
        "wage_income_change_12m",
        "工资性收入同比变化",
        "元/年",
        "income",
        "Annualised wage income of the last 12 months − that of the 12 months before "
        "(household, yuan per year); NaN when either window has no month.",
        "工资性收入同比增加{value:,.0f}元",
        "因务工就业不稳",
        group="wage_loss",
        cause="work",
        risky_when="negative",
        reason_zero_zh="工资性收入与上年持平",
        reason_negative_zh="工资性收入同比减少{value:,.0f}元",
        explained_by=WAGE_FALL_EXPLAINED_BY,
        shock_needs=JOB_LOSS_NEEDS,
    ),
    _spec(
        "business_income_change_12m",
        "经营净收入同比变化",
        "元/年",
        "income",
        "Annualised net business income (business − business_expense) of the last 12 months − that of the 12 months before (household, yuan per year); NaN when either window has no month.",
        "经营净收入同比增加{value:,.0f}元",
        "因产业项目失败",
        cause="business",
        group="business_drop",
        risky_when="negative",
        reason_zero_zh="经营净收入与上年持平",
        reason_negative_zh="经营净收入同比减少{value:,.0f}元",
        explained_by=BUSINESS_FALL_EXPLAINED_BY,
    ),
    _spec(
        "property_income_change_12m",
        "财产性收入同比变化",
        "元/年",
        "income",
        "As business_income_change_12m for property income.",
        "财产性收入同比增加{value:,.0f}元",
        "其他",
        cause="low_income",
        group="income_drop",
        risky_when="negative",
        reason_zero_zh="财产性收入与上年持平",
        reason_negative_zh="财产性收入同比减少{value:,.0f}元",
    ),
    _spec(
        "transfer_income_change_12m",
        "转移性收入同比变化",
        "元/年",
        "income",
        "As business_income_change_12m for transfer income (低保金, pensions, subsidies).",
        "转移性收入同比增加{value:,.0f}元",
        "其他",
        cause="low_income",
        group="income_drop",
        risky_when="negative",
        reason_zero_zh="转移性收入与上年持平",
        reason_negative_zh="转移性收入同比减少{value:,.0f}元",
        explained_by=TRANSFER_FALL_EXPLAINED_BY,
    ),
    _spec(
        "income_gap_before_12m",
        "上一年度收入距监测线缺口",
        "元/年",
        "income+members",
        "Monitoring line of the as-of year × household_size − annualised net income of the 12 months "
        "before the last 12 (household, yuan per year; negative when above the line); NaN when that "
        "window has no month. With the four *_income_change_12m it splits the household's present "
        "gap to the line into last year's gap and this year's falls by source.",
        "上一年度家庭纯收入比监测线标准少{value:,.0f}元",
        "其他",
        cause="low_income",
        group="income_level",
        risky_when="positive",
        reason_zero_zh="上一年度家庭纯收入恰好达到监测线标准",
        reason_negative_zh="上一年度家庭纯收入高于监测线标准{value:,.0f}元",
        explained_by=GAP_EXPLAINED_BY,
    ),
)

_MEDICAL = (
    _spec(
        "oop_medical_1m",
        "当月医疗自付",
        "元",
        "medical",
        "out_of_pocket of claims settled in the as-of month (household); NaN without a medical "
        "table, 0 when present but no claims.",
        "当月医疗自付{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="当月没有医疗自付",
    ),
    _spec(
        "oop_medical_3m",
        "近3个月医疗自付",
        "元",
        "medical",
        "out_of_pocket of claims settled in the last 3 months (household total).",
        "近3个月医疗自付{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近3个月没有医疗自付",
    ),
    _spec(
        "oop_medical_12m",
        "近12个月医疗自付",
        "元",
        "medical",
        "out_of_pocket of claims settled in the last 12 months (household total).",
        "近12个月医疗自付{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有医疗自付",
    ),
    _spec(
        "oop_medical_per_capita_3m",
        "近3个月人均医疗自付",
        "元/人",
        "medical+members",
        "oop_medical_3m / household_size.",
        "近3个月人均医疗自付{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近3个月没有医疗自付",
    ),
    _spec(
        "oop_medical_per_capita_12m",
        "近12个月人均医疗自付",
        "元/人",
        "medical+members",
        "oop_medical_12m / household_size.",
        "近12个月人均医疗自付{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有医疗自付",
    ),
    _spec(
        "oop_to_income_12m",
        "医疗自付占收入比",
        "比例",
        "medical+income",
        "oop_medical_12m / (income_per_capita_12m × household_size); NaN when income is "
        "unknown or ≤ 0.",
        "近12个月医疗自付相当于家庭收入的{value:.0%}",
        "因病",
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有医疗自付",
    ),
    _spec(
        "max_inpatient_oop_12m",
        "单次住院最高自付",
        "元",
        "medical",
        "Largest single 住院 claim's out_of_pocket in the last 12 months (0 if none).",
        "近12个月单次住院自付最高{value:,.0f}元",
        "因病",
        monotone=1,
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有住院自付",
        records=Records("medical", "visit_type", ("住院",)),
    ),
    _spec(
        "inpatient_stays_3m",
        "近3个月住院次数",
        "次",
        "medical",
        "Count of 住院 claims in the last 3 months.",
        "近3个月住院{value:.0f}次",
        "因病",
        monotone=1,
        group="illness",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近3个月没有住院",
        records=Records("medical", "visit_type", ("住院",)),
    ),
    _spec(
        "inpatient_stays_12m",
        "近12个月住院次数",
        "次",
        "medical",
        "Count of 住院 claims in the last 12 months.",
        "近12个月住院{value:.0f}次",
        "因病",
        monotone=1,
        group="illness",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有住院",
        records=Records("medical", "visit_type", ("住院",)),
    ),
    _spec(
        "inpatient_members_12m",
        "近12个月住院人数",
        "人",
        "medical",
        "Members with at least one 住院 claim in the last 12 months.",
        "近12个月有{value:.0f}人住院",
        "因病",
        monotone=1,
        group="illness",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有人住院",
        records=Records("medical", "visit_type", ("住院",)),
    ),
    _spec(
        "chronic_outpatient_members_12m",
        "慢特病门诊人数",
        "人",
        "medical",
        "Members with at least one 门诊慢特病 claim in the last 12 months (chronic illness, "
        "from claims, not the snapshot 健康状况).",
        "有{value:.0f}人患慢性病（门诊慢特病）",
        "因病",
        monotone=1,
        group="illness",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有门诊慢特病记录",
        records=Records("medical", "visit_type", ("门诊慢特病",)),
    ),
    _spec(
        "seriously_ill_members_12m",
        "大病人数",
        "人",
        "medical",
        "Members with a serious-illness claim (大病保险 paid, or 住院 total ≥ 30,000 yuan) in the "
        "last 12 months.",
        "有{value:.0f}人患大病",
        "因病",
        monotone=1,
        group="illness",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有大病就医记录",
    ),
    _spec(
        "months_since_serious_claim",
        "距最近一次大病就医月数",
        "个月",
        "medical",
        "Months from the latest serious-illness claim (as in seriously_ill_members_12m) dated ≤ "
        "as-of to the as-of month; NaN if none.",
        "{value:.0f}个月前有大病就医记录",
        "因病",
        group="illness",
        cause="illness",
        reason_zero_zh="当月有大病就医记录",
    ),
    _spec(
        "medical_total_cost_12m",
        "近12个月医疗总费用",
        "元",
        "medical",
        "total_cost of claims settled in the last 12 months (household).",
        "近12个月医疗总费用{value:,.0f}元",
        "因病",
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有医疗费用",
    ),
    _spec(
        "medical_feed_months_12m",
        "医保数据覆盖月数",
        "个月",
        "medical",
        "Months in the last 12 in which the household's county has any claim (coverage of the "
        "医保 feed).",
        "医保数据近12个月覆盖{value:.0f}个月",
        group="coverage",
        cause=None,
        reason_zero_zh="医保数据近12个月没有覆盖",
    ),
)

_DISABILITY = (
    _spec(
        "disabled_members",
        "残疾人数",
        "人",
        "disability",
        "Members with a disability certificate dated ≤ as-of.",
        "家中有{value:.0f}名残疾人",
        "因残",
        monotone=1,
        group="disability",
        cause="disability",
        risky_when="positive",
        reason_zero_zh="家中没有持证残疾人",
    ),
    _spec(
        "severe_disabled_members",
        "重度残疾人数",
        "人",
        "disability",
        "Members with a grade 1–2 certificate dated ≤ as-of.",
        "家中有{value:.0f}名重度残疾人",
        "因残",
        monotone=1,
        group="disability",
        cause="disability",
        risky_when="positive",
        reason_zero_zh="家中没有重度残疾人",
    ),
    _spec(
        "max_disability_severity",
        "最重残疾程度",
        "级",
        "disability",
        "5 − the most severe grade certified ≤ as-of (4 = 一级, 1 = 四级, 0 = none).",
        "家中最重残疾程度为{value:.0f}（4为一级，1为四级）",
        "因残",
        monotone=1,
        group="disability",
        cause="disability",
        risky_when="positive",
        reason_zero_zh="家中没有持证残疾人",
    ),
    _spec(
        "months_since_disability_certified",
        "距最近办证月数",
        "个月",
        "disability",
        "Months since the latest certificate dated ≤ as-of; NaN if none.",
        "{value:.0f}个月前办理残疾人证",
        "因残",
        group="disability",
        cause="disability",
        reason_zero_zh="当月新办残疾证",
    ),
    _spec(
        "disability_certified_12m",
        "近12个月新办残疾证",
        "人",
        "disability",
        "Certificates dated in the last 12 months.",
        "近12个月新办残疾证{value:.0f}人",
        "因残",
        monotone=1,
        group="disability",
        cause="disability",
        risky_when="positive",
        reason_zero_zh="近12个月没有新办残疾证",
    ),
)

_EMPLOYMENT = (
    _spec(
        "members_working_now",
        "当月务工人数",
        "人",
        "employment",
        "Members with a spell covering the as-of month (start ≤ as-of, end empty or ≥ as-of; "
        "an end after as-of is not yet known and counts as still working).",
        "当月务工{value:.0f}人",
        "因务工就业不稳",
        monotone=-1,
        group="work",
        cause="low_income",
        explained_by=WORK_LEVEL_EXPLAINED_BY,
        reason_zero_zh="当月无人务工",
    ),
    _spec(
        "members_working_in_county",
        "县内务工人数",
        "人",
        "employment",
        "Members working now with a 县内 spell.",
        "县内务工{value:.0f}人",
        group="work",
        cause="low_income",
        reason_zero_zh="当月无人在县内务工",
    ),
    _spec(
        "members_working_in_province",
        "省内县外务工人数",
        "人",
        "employment",
        "Members working now with a 省内县外 spell.",
        "省内县外务工{value:.0f}人",
        group="work",
        cause="low_income",
        reason_zero_zh="当月无人在省内县外务工",
    ),
    _spec(
        "members_working_out_of_province",
        "省外务工人数",
        "人",
        "employment",
        "Members working now with a 省外 spell.",
        "省外务工{value:.0f}人",
        group="work",
        cause="low_income",
        reason_zero_zh="当月无人在省外务工",
    ),
    _spec(
        "monthly_wage_now",
        "当月务工月收入",
        "元",
        "employment",
        "Sum of monthly_income of the spells covering the as-of month.",
        "当月务工月收入{value:,.0f}元",
        "因务工就业不稳",
        group="work",
        cause="low_income",
        explained_by=WORK_LEVEL_EXPLAINED_BY,
        reason_zero_zh="当月没有务工收入",
    ),
    _spec(
        "employment_wage_12m",
        "近12个月人社登记工资",
        "元",
        "employment",
        "Wages the employment feed records over the last 12 months: for each month, the "
        "monthly_income of the spells covering it (from start_month to end_month), summed.",
        "近12个月人社登记务工工资{value:,.0f}元",
        "因务工就业不稳",
        group="work",
        cause="low_income",
        reason_zero_zh="近12个月没有人社登记的务工工资",
    ),
    _spec(
        "spells_ended_3m",
        "近3个月结束务工次数",
        "次",
        "employment",
        "Spells whose end_month is in the last 3 months.",
        "近3个月有{value:.0f}段务工结束",
        "因务工就业不稳",
        monotone=1,
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近3个月没有务工结束",
    ),
    _spec(
        "spells_ended_6m",
        "近6个月结束务工次数",
        "次",
        "employment",
        "Spells whose end_month is in the last 6 months.",
        "近6个月有{value:.0f}段务工结束",
        "因务工就业不稳",
        monotone=1,
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近6个月没有务工结束",
    ),
    _spec(
        "months_since_spell_ended",
        "距最近一次务工结束月数",
        "个月",
        "employment",
        "Months from the latest end_month of a spell (≤ as-of) to the as-of month; NaN if none.",
        "{value:.0f}个月前有务工结束",
        "因务工就业不稳",
        group="job_loss",
        cause="work",
        reason_zero_zh="当月有务工结束",
    ),
    _spec(
        "short_spell_share_12m",
        "短期务工占比",
        "比例",
        "employment",
        "Among spells ended in the last 12 months, the share that lasted 3 months or less "
        "(flexible, odd-job work); NaN when none ended.",
        "近12个月结束的务工中{value:.0%}为短期零工",
        "因务工就业不稳",
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近12个月结束的务工中没有短期零工",
    ),
    _spec(
        "months_unemployed_3m",
        "近3个月失业人月",
        "人月",
        "employment+members",
        "Sum over able working-age members of months in the last 3 without a covering spell "
        "(only months the county's employment feed covers).",
        "近3个月劳动力失业{value:.0f}人月",
        "因务工就业不稳",
        monotone=1,
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近3个月劳动力没有失业",
    ),
    _spec(
        "months_unemployed_6m",
        "近6个月失业人月",
        "人月",
        "employment+members",
        "As months_unemployed_3m over the last 6 months.",
        "近6个月劳动力失业{value:.0f}人月",
        "因务工就业不稳",
        monotone=1,
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近6个月劳动力没有失业",
    ),
    _spec(
        "employment_feed_months_6m",
        "务工数据覆盖月数",
        "个月",
        "employment",
        "Months in the last 6 on or after the first spell start in the household's county "
        "(coverage of the 人社 feed).",
        "务工数据近6个月覆盖{value:.0f}个月",
        group="coverage",
        cause=None,
        reason_zero_zh="务工数据近6个月没有覆盖",
    ),
)

_ASSISTANCE = (
    _spec(
        "assistance_amount_3m",
        "近3个月帮扶救助金额",
        "元",
        "assistance",
        "All assistance amounts in the last 3 months.",
        "近3个月获帮扶救助{value:,.0f}元",
        group="assistance",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近3个月没有获得帮扶救助",
        parts=ASSISTANCE_PARTS,
    ),
    _spec(
        "assistance_amount_12m",
        "近12个月帮扶救助金额",
        "元",
        "assistance",
        "All assistance amounts in the last 12 months.",
        "近12个月获帮扶救助{value:,.0f}元",
        group="assistance",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有获得帮扶救助",
        parts=ASSISTANCE_PARTS,
    ),
    _spec(
        "dibao_months_12m",
        "近12个月领取低保月数",
        "个月",
        "assistance",
        "Months in the last 12 with a 低保金 payment (from payments, not the snapshot status).",
        "近12个月领取低保{value:.0f}个月",
        "其他",
        group="dibao",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="近12个月没有领取低保",
        records=Records("assistance", "type", ("低保金",)),
    ),
    _spec(
        "dibao_amount_12m",
        "近12个月低保金",
        "元",
        "assistance",
        "低保金 amounts in the last 12 months.",
        "近12个月领取低保金{value:,.0f}元",
        "其他",
        group="dibao",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="近12个月没有领取低保金",
        records=Records("assistance", "type", ("低保金",)),
    ),
    _spec(
        "tekun_amount_12m",
        "近12个月特困供养金",
        "元",
        "assistance",
        "特困供养金 amounts in the last 12 months.",
        "近12个月领取特困供养金{value:,.0f}元",
        "缺劳动力",
        group="dibao",
        cause="low_income",
        risky_when="positive",
        reason_zero_zh="近12个月没有领取特困供养金",
        records=Records("assistance", "type", ("特困供养金",)),
    ),
    _spec(
        "temporary_assistance_12m",
        "近12个月临时救助",
        "元",
        "assistance",
        "临时救助 amounts in the last 12 months (a known hardship).",
        "近12个月获临时救助{value:,.0f}元",
        "其他",
        monotone=1,
        group="hardship_payment",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有获临时救助",
        records=Records("assistance", "type", ("临时救助",)),
    ),
    _spec(
        "fangpinbao_payout_12m",
        "近12个月防贫保理赔",
        "元",
        "assistance",
        "防贫保理赔 amounts in the last 12 months (the household crossed a near-poverty line).",
        "近12个月获防贫保理赔{value:,.0f}元",
        "其他",
        monotone=1,
        group="hardship_payment",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有防贫保理赔",
        records=Records("assistance", "type", ("防贫保理赔",)),
    ),
    _spec(
        "medical_assistance_12m",
        "近12个月医疗救助",
        "元",
        "assistance",
        "医疗救助 amounts in the last 12 months.",
        "近12个月获医疗救助{value:,.0f}元",
        "因病",
        group="medical_cost",
        cause="illness",
        risky_when="positive",
        reason_zero_zh="近12个月没有获医疗救助",
        records=Records("assistance", "type", ("医疗救助",)),
    ),
    _spec(
        "education_assistance_12m",
        "近12个月教育资助",
        "元",
        "assistance",
        "教育资助 amounts in the last 12 months (a member in school with costs the county helps with).",
        "近12个月获教育资助{value:,.0f}元",
        "因学",
        cause="schooling",
        group="schooling",
        risky_when="positive",
        reason_zero_zh="近12个月没有获教育资助",
        records=Records("assistance", "type", ("教育资助",)),
    ),
    _spec(
        "months_since_assistance",
        "距最近一次救助月数",
        "个月",
        "assistance",
        "Months since the latest assistance payment dated ≤ as-of; NaN if none.",
        "{value:.0f}个月前获得过帮扶救助",
        group="assistance",
        cause="other",
        reason_zero_zh="当月获得过帮扶救助",
        parts=ASSISTANCE_PARTS,
    ),
    _spec(
        "months_since_hardship_payment",
        "距最近临时救助或防贫保理赔月数",
        "个月",
        "assistance",
        "Months since the latest 临时救助 or 防贫保理赔 payment; NaN if none.",
        "{value:.0f}个月前获临时救助或防贫保理赔",
        "其他",
        group="hardship_payment",
        cause="other",
        reason_zero_zh="当月获临时救助或防贫保理赔",
        records=Records("assistance", "type", ("临时救助", "防贫保理赔")),
    ),
    _spec(
        "assistance_feed_months_12m",
        "救助数据覆盖月数",
        "个月",
        "assistance",
        "Months in the last 12 in which the household's county has any assistance row.",
        "救助数据近12个月覆盖{value:.0f}个月",
        group="coverage",
        cause=None,
        reason_zero_zh="救助数据近12个月没有覆盖",
    ),
)

_EVENTS = (
    _spec(
        "events_3m",
        "近3个月突发事件",
        "次",
        "events",
        "Events dated in the last 3 months.",
        "近3个月发生突发事件{value:.0f}次",
        "其他",
        monotone=1,
        group="shock",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近3个月没有突发事件",
        parts=EVENT_COUNT_PARTS,
    ),
    _spec(
        "events_12m",
        "近12个月突发事件",
        "次",
        "events",
        "Events dated in the last 12 months.",
        "近12个月发生突发事件{value:.0f}次",
        "其他",
        monotone=1,
        group="shock",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有突发事件",
        parts=EVENT_COUNT_PARTS,
    ),
    _spec(
        "event_loss_3m",
        "近3个月事件损失",
        "元",
        "events",
        "Summed loss_amount of events in the last 3 months.",
        "近3个月突发事件损失{value:,.0f}元",
        "其他",
        monotone=1,
        group="shock",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近3个月没有突发事件损失",
        parts=EVENT_LOSS_PARTS,
    ),
    _spec(
        "event_loss_12m",
        "近12个月事件损失",
        "元",
        "events",
        "Summed loss_amount of events in the last 12 months.",
        "近12个月突发事件损失{value:,.0f}元",
        "其他",
        monotone=1,
        group="shock",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有突发事件损失",
        parts=EVENT_LOSS_PARTS,
    ),
    _spec(
        "disaster_loss_12m",
        "近12个月灾害损失",
        "元",
        "events",
        "Summed loss_amount of 自然灾害 and 房屋损毁 events in the last 12 months.",
        "近12个月自然灾害和房屋损毁损失{value:,.0f}元",
        "因自然灾害",
        cause="disaster",
        group="disaster",
        monotone=1,
        risky_when="positive",
        reason_zero_zh="近12个月没有灾害损失",
        records=Records("events", "event_type", ("自然灾害", "房屋损毁")),
    ),
    _spec(
        "death_loss_12m",
        "近12个月家庭成员去世损失",
        "元",
        "events",
        "Summed loss_amount (funeral cost, lost support) of 家庭成员死亡 events in the last 12 months.",
        "近12个月家庭成员去世的丧葬等支出和损失{value:,.0f}元",
        "缺劳动力",
        cause="death",
        group="death",
        monotone=1,
        risky_when="positive",
        reason_zero_zh="近12个月没有家庭成员去世的损失",
        records=Records("events", "event_type", ("家庭成员死亡",)),
    ),
    _spec(
        "business_loss_12m",
        "近12个月产业失败损失",
        "元",
        "events",
        "Summed loss_amount of 产业项目失败 events in the last 12 months.",
        "近12个月产业项目失败损失{value:,.0f}元",
        "因产业项目失败",
        cause="business",
        group="business_failure",
        monotone=1,
        risky_when="positive",
        reason_zero_zh="近12个月没有产业项目失败损失",
        records=Records("events", "event_type", ("产业项目失败",)),
    ),
    _spec(
        "other_event_loss_12m",
        "近12个月其他突发损失",
        "元",
        "events",
        "Summed loss_amount of 意外事故, 失业 and 其他 events in the last 12 months.",
        "近12个月意外事故等其他突发损失{value:,.0f}元",
        "其他",
        cause="other",
        group="shock",
        monotone=1,
        risky_when="positive",
        reason_zero_zh="近12个月没有其他突发损失",
        records=Records("events", "event_type", ("意外事故", "失业", "其他")),
    ),
    _spec(
        "disasters_12m",
        "近12个月自然灾害",
        "次",
        "events",
        "自然灾害 events in the last 12 months.",
        "近12个月遭受自然灾害{value:.0f}次",
        "因自然灾害",
        monotone=1,
        group="disaster",
        cause="disaster",
        risky_when="positive",
        reason_zero_zh="近12个月没有遭受自然灾害",
        records=Records("events", "event_type", ("自然灾害",)),
    ),
    _spec(
        "accidents_12m",
        "近12个月意外事故",
        "次",
        "events",
        "意外事故 events in the last 12 months.",
        "近12个月发生意外事故{value:.0f}次",
        "因意外事故",
        monotone=1,
        group="accident",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有发生意外事故",
        records=Records("events", "event_type", ("意外事故",)),
    ),
    _spec(
        "business_failures_3m",
        "近3个月产业项目失败",
        "次",
        "events",
        "产业项目失败 events in the last 3 months.",
        "近3个月产业项目失败{value:.0f}次",
        "因产业项目失败",
        monotone=1,
        group="business_failure",
        cause="business",
        risky_when="positive",
        reason_zero_zh="近3个月没有产业项目失败",
        records=Records("events", "event_type", ("产业项目失败",)),
    ),
    _spec(
        "business_failures_12m",
        "近12个月产业项目失败",
        "次",
        "events",
        "产业项目失败 events in the last 12 months.",
        "近12个月产业项目失败{value:.0f}次",
        "因产业项目失败",
        monotone=1,
        group="business_failure",
        cause="business",
        risky_when="positive",
        reason_zero_zh="近12个月没有产业项目失败",
        records=Records("events", "event_type", ("产业项目失败",)),
    ),
    _spec(
        "member_deaths_12m",
        "近12个月家庭成员死亡",
        "人",
        "events",
        "家庭成员死亡 events in the last 12 months.",
        "近12个月有{value:.0f}名家庭成员去世",
        "缺劳动力",
        monotone=1,
        group="death",
        cause="death",
        risky_when="positive",
        reason_zero_zh="近12个月没有家庭成员去世",
        records=Records("events", "event_type", ("家庭成员死亡",)),
    ),
    _spec(
        "working_age_deaths_12m",
        "近12个月劳动年龄成员死亡",
        "人",
        "events+members",
        "家庭成员死亡 events in the last 12 months naming a member aged 16–64 at the event.",
        "近12个月有{value:.0f}名劳动年龄成员去世",
        "缺劳动力",
        monotone=1,
        group="death",
        cause="death",
        risky_when="positive",
        reason_zero_zh="近12个月没有劳动年龄成员去世",
        records=Records("events", "event_type", ("家庭成员死亡",)),
    ),
    _spec(
        "house_damage_12m",
        "近12个月房屋损毁",
        "次",
        "events",
        "房屋损毁 events in the last 12 months (the dated housing evidence; the 危房 snapshot "
        "is not used).",
        "近12个月房屋损毁{value:.0f}次",
        "因安全住房",
        monotone=1,
        group="housing",
        cause="disaster",
        risky_when="positive",
        reason_zero_zh="近12个月没有房屋损毁",
        records=Records("events", "event_type", ("房屋损毁",)),
    ),
    _spec(
        "job_loss_events_12m",
        "近12个月失业事件",
        "次",
        "events",
        "失业 events in the last 12 months.",
        "近12个月发生失业事件{value:.0f}次",
        "因务工就业不稳",
        monotone=1,
        group="job_loss",
        cause="work",
        risky_when="positive",
        reason_zero_zh="近12个月没有失业事件",
        records=Records("events", "event_type", ("失业",)),
    ),
    _spec(
        "months_since_event",
        "距最近一次突发事件月数",
        "个月",
        "events",
        "Months from the latest event of any type dated ≤ as-of to the as-of month; NaN if none.",
        "{value:.0f}个月前发生突发事件",
        "其他",
        group="shock",
        cause="other",
        reason_zero_zh="当月发生突发事件",
        parts=EVENT_COUNT_PARTS,
    ),
)

_DERIVED = (
    _spec(
        "rigid_expense_12m",
        "近12个月刚性支出",
        "元",
        "medical+events",
        "oop_medical_12m + event_loss_12m: the rigid spending (刚性支出) of the last 12 months that "
        "the household could see on its own records; NaN when either table is missing. Its parts: "
        "oop_medical_12m, disaster_loss_12m, death_loss_12m, business_loss_12m, "
        "other_event_loss_12m.",
        "近12个月医疗自付和突发损失等刚性支出{value:,.0f}元",
        "其他",
        monotone=1,
        group="rigid_expense",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有医疗自付和突发损失等刚性支出",
        parts=RIGID_PARTS,
    ),
    _spec(
        "rigid_expense_to_income_12m",
        "刚性支出占收入比",
        "比例",
        "medical+events+income",
        "rigid_expense_12m / (income_per_capita_12m × household_size); NaN when income is unknown "
        "or ≤ 0.",
        "近12个月刚性支出相当于家庭收入的{value:.0%}",
        "其他",
        group="rigid_expense",
        cause="other",
        risky_when="positive",
        reason_zero_zh="近12个月没有刚性支出",
        parts=RIGID_PARTS,
    ),
    _spec(
        "income_after_rigid_to_line_12m",
        "扣除刚性支出后人均收入与监测线之比",
        "倍",
        "income+medical+events",
        "(income_per_capita_12m × household_size − rigid_expense_12m) / (monitoring line × "
        "household_size).",
        "扣除刚性支出后人均收入为监测线的{value:.2f}倍",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="扣除刚性支出后家庭收入所剩无几",
        reason_negative_zh="刚性支出超过家庭全年收入，扣除后人均缺口相当于监测线的{value:.2f}倍",
        parts=INCOME_PARTS + RIGID_PARTS,
    ),
    _spec(
        "income_checked_to_line_12m",
        "核对工资后人均收入与监测线之比",
        "倍",
        "income+employment",
        "Per-capita income of the last 12 months with the declared wages (wage_share_12m × "
        "household income) replaced by the larger of them and employment_wage_12m, over the "
        "monitoring line: income checks miss wages earned away from home that the employment "
        "feed records. Equals income_to_line_ratio_12m where the employment feed is silent.",
        "核对人社工资后人均收入为监测线的{value:.2f}倍",
        "其他",
        monotone=-1,
        group="income_level",
        cause="low_income",
        reason_zero_zh="核对人社工资后人均收入为零",
        reason_negative_zh="核对人社工资后家庭纯收入仍为负，人均亏损相当于监测线的{value:.2f}倍",
        parts=INCOME_PARTS,
    ),
    _spec(
        "wage_declared_to_recorded_12m",
        "申报工资与人社登记工资之比",
        "比例",
        "income+employment",
        "Declared wages of the last 12 months (annualised from income checks) / employment_wage_12m; "
        "NaN when the employment feed records no wages.",
        "收入核查申报的工资为人社登记工资的{value:.0%}",
        "其他",
        group="income_level",
        cause=None,
        reason_zero_zh="收入核查未申报人社登记的工资",
    ),
)

_CALENDAR = (
    _spec(
        "month_of_year",
        "月份",
        "月",
        "calendar",
        "Calendar month of the as-of month (1–12): identification has seasons (the yearly sweep).",
        "当前为{value:.0f}月",
        group="calendar",
        cause=None,
    ),
)

_MONITORING = (
    _spec(
        "previous_monitoring_episodes",
        "既往监测次数",
        "次",
        "outcomes",
        "Monitoring episodes identified and eliminated on or before as-of.",
        "曾{value:.0f}次被纳入监测并消除风险",
        "其他",
        group="monitoring_history",
        cause=None,
        reason_zero_zh="从未被纳入监测",
    ),
    _spec(
        "months_since_risk_eliminated",
        "距上次风险消除月数",
        "个月",
        "outcomes",
        "Months since the latest eliminated_month ≤ as-of; NaN if never.",
        "{value:.0f}个月前刚消除风险",
        "其他",
        group="monitoring_history",
        cause=None,
        reason_zero_zh="当月刚消除风险",
    ),
    _spec(
        "monitored_now",
        "当前处于监测中",
        "",
        "outcomes",
        "1 if an episode was identified ≤ as-of and not eliminated ≤ as-of (such households are "
        "excluded from the warning list and from training rows).",
        "当前已在监测中",
        group="monitoring_history",
        cause=None,
        reason_zero_zh="当前不在监测中",
    ),
)

CATALOGUE: tuple[FeatureSpec, ...] = (
    *_HOUSING,
    *_MEMBERS,
    *_INCOME,
    *_MEDICAL,
    *_DISABILITY,
    *_EMPLOYMENT,
    *_ASSISTANCE,
    *_EVENTS,
    *_DERIVED,
    *_MONITORING,
    *_CALENDAR,
)

_BY_NAME = {spec.name: spec for spec in CATALOGUE}


def by_name(name: str) -> FeatureSpec:
    """The spec of one feature.

    Raises
    ------
    KeyError
        Naming the feature and pointing at `feature_names()`.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not in the feature catalogue; see features.catalogue.feature_names()"
        ) from None


def feature_names() -> list[str]:
    """Every feature name, in catalogue (= column) order."""
    return [spec.name for spec in CATALOGUE]


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table (docs/features.md is generated from it).

    >>> catalogue_markdown().splitlines()[0]
    '| feature | 中文名 | unit | source | cause | risk type | monotone | description |'
    """
    lines = [
        "| feature | 中文名 | unit | source | cause | risk type | monotone | description |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec in CATALOGUE:
        cause = spec.cause or ""
        if spec.parts:
            cause += " (split by parts: " + ", ".join(f"`{p}`" for p in spec.parts) + ")"
        if spec.explained_by:
            cause += " (or " + ", ".join(f"{c} when `{e}` > 0" for e, c in spec.explained_by) + ")"
        if spec.shock_needs:
            needs = " and ".join(f"`{f}` {op} {bound:g}" for f, op, bound in spec.shock_needs)
            cause += f" (low_income unless {needs})"
        cells = (
            f"`{spec.name}`",
            spec.label_zh,
            spec.unit or "",
            spec.source,
            cause,
            spec.risk_type or "",
            {1: "+", -1: "−"}.get(spec.monotone, ""),
            spec.description.replace("|", "\\|").replace("\n", " "),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def causes_markdown() -> str:
    """The cause vocabulary as a Markdown table.

    >>> causes_markdown().splitlines()[0]
    '| cause | 中文 | suggested measure | covers |'
    """
    lines = ["| cause | 中文 | suggested measure | covers |", "|---|---|---|---|"]
    for cause in CAUSES:
        lines.append(
            f"| `{cause.name}` | {cause.label_zh} | {cause.measure_zh} | {cause.description} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print("# Feature catalogue\n")
    print("Generated by `python -m features.catalogue > docs/features.md`; do not edit by hand.\n")
    print("## Causes\n")
    print(
        "Every reason names one cause of this vocabulary (INTERFACE.md v2); features without a "
        "cause never become a reason. A composite feature's contribution is split over its parts' "
        "causes in proportion to what each part amounts to for the household.\n"
    )
    print(causes_markdown())
    print("## Features\n")
    print(catalogue_markdown(), end="")
