"""Department feeds: the main path's records turned into contract tables, imperfect like real ones.

Every dated table is first built as a *ledger* carrying `_known_t`, the month index from which the
county's system holds the record (late income checks arrive one or two months after their month).
`export_view(ledgers, at=M)` then gives the directory as exported at month M: records known by M,
spells still open at M without an end, eliminations after M not yet written.

What the departments send follows the scenario: claims settled monthly or in batches (a claim is
dated, and known, at its batch's settlement month), income checks in the scenario's months or as
today, an events feed or none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulation import layout as L
from simulation.dynamics import can_work
from simulation.population import Population
from simulation.records import Recorder
from simulation.scenarios import Scenario
from simulation.timeline import Timeline

VISIT_TYPES = np.array(["住院", "门诊慢特病", "普通门诊"])
ASSISTANCE_TYPES = np.array(
    ["低保金", "特困供养金", "临时救助", "医疗救助", "教育资助", "公益岗位补贴"]
)
EVENT_TYPES = np.array(
    ["", "家庭成员死亡", "意外事故", "失业", "自然灾害", "房屋损毁", "产业项目失败"]
)
INDUSTRIES = np.array(
    ["建筑业", "制造业", "餐饮住宿", "农林牧渔", "批发零售", "交通运输", "居民服务"]
)
DIAGNOSES = np.array(
    [*L.MAJOR_DIAGNOSES, "外伤", *L.ORDINARY_DIAGNOSES, *L.PROCEDURE_DIAGNOSES]
    + [""] * (20 - 7 - len(L.ORDINARY_DIAGNOSES) - len(L.PROCEDURE_DIAGNOSES))
    + [*L.CHRONIC_DIAGNOSES]
    + [""] * (30 - 20 - len(L.CHRONIC_DIAGNOSES))
    + ["普通门诊"]
)


UNDER_DECLARING = 0.35  # share of households that declare well under their wages


@dataclass(frozen=True)
class FeedGaps:
    """Where the feeds are imperfect (for tests and the report of a run)."""

    medical_missing: tuple[str, str]  # (county, month) with no medical claims at all
    income_missing: tuple[str, str]  # (county, month) with no income checks at all
    duplicates: int  # exact duplicate rows added (medical and events)


@dataclass
class Context:
    """Everything the table builders read."""

    pop: Population
    timeline: Timeline
    rec: Recorder
    rng: np.random.Generator
    household_ids: np.ndarray
    person_ids: np.ndarray
    counties: np.ndarray  # county name by household row
    final_pi: np.ndarray  # person state at the last month (disability types)
    scenario: Scenario


def month_labels(timeline: Timeline, t: np.ndarray) -> np.ndarray:
    """`YYYY-MM` strings of month indices (negative indices lie before the simulation start)."""
    t = np.asarray(t, dtype=np.int64)
    if not len(t):
        return np.zeros(0, dtype=object)
    low = int(t.min())
    span = np.arange(low, int(t.max()) + 1)
    labels = pd.PeriodIndex.from_ordinals(timeline.start.ordinal + span, freq="M").strftime("%Y-%m")
    return labels.to_numpy(dtype=object)[t - low]


def month_dates(timeline: Timeline, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A day within each month (datetime64[ns], midnight)."""
    t = np.asarray(t, dtype=np.int64)
    days = rng.integers(0, 28, len(t)).astype("timedelta64[D]")
    if not len(t):
        return np.zeros(0, dtype="datetime64[ns]")
    low = int(t.min())
    span = np.arange(low, int(t.max()) + 1)
    first = pd.PeriodIndex.from_ordinals(timeline.start.ordinal + span, freq="M").to_timestamp()
    return (first.to_numpy()[t - low] + days).astype("datetime64[ns]")


def build_ledgers(ctx: Context) -> tuple[dict[str, pd.DataFrame], FeedGaps]:
    """All dated tables as ledgers (with `_known_t`), plus where the feeds were made imperfect."""
    gaps_t = _gap_months(ctx)
    ledgers = {
        "income": _income(ctx, gaps_t[1]),
        "medical": _medical(ctx, gaps_t[0]),
        "disability": _disability(ctx),
        "employment": _employment(ctx),
        "assistance": _assistance(ctx),
        **({"events": _events(ctx)} if ctx.scenario.events_feed else {}),
        "outcomes": _outcomes(ctx),
    }
    dup = 0
    for name, n in (("medical", 3), ("events", 2)):
        frame = ledgers.get(name)
        if frame is not None and len(frame) > n:
            rows = np.sort(ctx.rng.choice(len(frame), size=n, replace=False))
            ledgers[name] = pd.concat([frame, frame.iloc[rows]], ignore_index=True)
            dup += n
    c_names = np.unique(ctx.counties)
    gaps = FeedGaps(
        medical_missing=(
            str(c_names[0]),
            str(month_labels(ctx.timeline, np.array([gaps_t[0]]))[0]),
        ),
        income_missing=(
            str(c_names[-1]),
            str(month_labels(ctx.timeline, np.array([gaps_t[1]]))[0]),
        ),
        duplicates=dup,
    )
    return ledgers, gaps


def _gap_months(ctx: Context) -> tuple[int, int]:
    first, last = ctx.timeline.first_written, ctx.timeline.n_months - 1
    span = max(1, last - first - 4)
    return first + 2 + int(ctx.rng.integers(0, span)), first + 2 + int(ctx.rng.integers(0, span))


def _in_window(ctx: Context, t: np.ndarray) -> np.ndarray:
    return t >= ctx.timeline.first_written


def _county_of_person(ctx: Context, person: np.ndarray) -> np.ndarray:
    return ctx.counties[ctx.pop.pi[person, L.HH]]


def calendar_month(timeline: Timeline, t: np.ndarray) -> np.ndarray:
    """Calendar month (1–12) of month indices."""
    return (timeline.start.month - 1 + np.asarray(t, dtype=np.int64)) % 12 + 1


def batch_settlement(timeline: Timeline, t: np.ndarray, *, every: int) -> np.ndarray:
    """Month index at which a claim of month index t is settled when batches close every `every`
    calendar months (3: at the ends of March, June, September and December).

    Examples
    --------
    >>> tl = Timeline.build(end="2026-10", months=24)  # month index 0 is 2023-11
    >>> batch_settlement(tl, np.array([0, 1, 2, 4]), every=3).tolist()  # Nov, Dec, Jan, Mar
    [1, 1, 4, 4]
    """
    moy = calendar_month(timeline, t)
    return np.asarray(t, dtype=np.int64) + (-moy) % every


def _income(ctx: Context, gap_t: int) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.income)
    hh, t = c["household"], c["t"].astype(np.int64)
    declared = _wage_declared(ctx)
    poor = ctx.pop.hi[hh, L.POOR] == 1
    phase = (hh * 7919) % 3
    u = ctx.rng.random(len(hh))
    check_months = ctx.scenario.income_check_months
    if check_months is None:  # 脱贫户 nearly every month, others quarterly
        checked = np.where(poor, u < 0.95, ((t + phase) % 3 == 0) & (u < 0.85))
    else:  # everyone in the campaign months only
        checked = np.isin(calendar_month(ctx.timeline, t), check_months) & (u < 0.95)
    c_names = np.unique(ctx.counties)
    missing = (t == gap_t) & (ctx.counties[hh] == c_names[-1])
    keep = checked & ~missing & _in_window(ctx, t)
    lag = ctx.rng.choice([0, 1, 2], size=len(hh), p=[0.6, 0.3, 0.1])
    noise = np.exp(ctx.rng.normal(0, 0.04, len(hh))) * declared[hh]
    frame = pd.DataFrame(
        {
            "household_id": ctx.household_ids[hh],
            "month": month_labels(ctx.timeline, t),
            "wage_income": np.round(c["wage"] * noise, 0),
            "business_income": np.round(c["biz_gross"], 0),
            "business_expense": np.round(c["biz_expense"], 0),
            "property_income": np.round(c["prop"], 0),
            "transfer_income": np.round(c["transfer"], 0),
            "_known_t": t + lag,
        }
    )
    return frame[keep].reset_index(drop=True)


def _wage_declared(ctx: Context) -> np.ndarray:
    """Share of its wages each household declares at income checks (hidden, fixed per household).

    Wages earned away from home are paid in cash or sent as remittances, and many households tell
    the helper less than they earn (some to keep their assistance): about a third declare only
    35–75% of it. The 人社 employment feed still records the job and its monthly pay.
    """
    u = ctx.rng.random((2, len(ctx.household_ids)))
    return np.where(u[0] < UNDER_DECLARING, 0.35 + 0.4 * u[1], 0.92 + 0.08 * u[1])


def _medical(ctx: Context, gap_t: int) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.claims)
    person, t = c["person"].astype(np.int64), c["t"].astype(np.int64)
    c_names = np.unique(ctx.counties)
    keep = _in_window(ctx, t) & ~((t == gap_t) & (_county_of_person(ctx, person) == c_names[0]))
    every = ctx.scenario.medical_batch_months
    settled = t if every == 1 else batch_settlement(ctx.timeline, t, every=every)
    total = np.round(c["total"], 2)
    basic = np.round(c["basic"], 2)
    crit = np.round(c["critical"], 2)
    assist = np.round(c["assist"], 2)
    frame = pd.DataFrame(
        {
            "person_id": ctx.person_ids[person],
            "settle_date": month_dates(ctx.timeline, settled, ctx.rng),
            "visit_type": VISIT_TYPES[c["visit"].astype(int)],
            "total_cost": total,
            "insurance_paid": basic,
            "critical_illness_paid": crit,
            "assistance_paid": assist,
            "out_of_pocket": np.round(np.maximum(total - basic - crit - assist, 0.0), 2),
            "diagnosis": DIAGNOSES[c["diag"].astype(int)],
            "_known_t": settled,
        }
    )
    return frame[keep].sort_values("settle_date", kind="stable").reset_index(drop=True)


def _disability(ctx: Context) -> pd.DataFrame:
    pi = ctx.pop.pi
    initial = np.flatnonzero(
        (pi[:, L.CERT_T] < 0) & (pi[:, L.CERT_T] != L.NONE_T)
    )  # issued earlier
    c = ctx.rec.columns(ctx.rec.certs)
    person = np.concatenate([initial, c["person"].astype(np.int64)])
    t = np.concatenate([pi[initial, L.CERT_T], c["t"].astype(np.int64)])
    grade = np.concatenate([pi[initial, L.DIS], c["grade"]])
    d_type = ctx.final_pi[person, L.DIS_TYPE]
    frame = pd.DataFrame(
        {
            "person_id": ctx.person_ids[person],
            "disability_type": np.array(L.DISABILITY_TYPES)[d_type],
            "grade": pd.array(grade, dtype="Int64"),
            "certified_date": month_dates(ctx.timeline, t, ctx.rng),
            "_known_t": t,
        }
    )
    frame = frame.drop_duplicates("person_id", keep="last")
    return frame.sort_values("certified_date", kind="stable").reset_index(drop=True)


def _employment(ctx: Context) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.spells)
    n = len(c["person"])
    end = np.full(n, 10**6, dtype=np.int64)
    for row, t_end in ctx.rec.spell_end.items():
        end[row] = t_end
    person = c["person"].astype(np.int64)
    start = c["start"].astype(np.int64)
    job = c["job"].astype(int)
    keep = (end >= ctx.timeline.first_written) & (end >= start)
    u = ctx.rng.random(n)
    migrant = (job == 2) | (job == 4)
    location = np.where(
        migrant,
        np.where(u < ctx.scenario.out_of_province, "省外", "省内县外"),
        np.where(u < 0.9, "县内", "省内县外"),
    )
    poor = ctx.pop.hi[ctx.pop.pi[person, L.HH], L.POOR] == 1
    v = ctx.rng.random(n)
    channel = np.select(
        [job == 5, poor & (job == 1) & (v < 0.3), migrant & (v < 0.5), v < 0.85],
        ["公益性岗位", "帮扶车间", "劳务输出", "自主就业"],
        "其他",
    )
    industry = np.where(job == 5, "公共管理", INDUSTRIES[ctx.rng.integers(0, len(INDUSTRIES), n)])
    frame = pd.DataFrame(
        {
            "person_id": ctx.person_ids[person],
            "start_month": month_labels(ctx.timeline, start),
            "end_month": month_labels(ctx.timeline, np.minimum(end, 10**5)),
            "work_location": location,
            "monthly_income": np.round(c["wage"], -1),
            "industry": industry,
            "channel": channel,
            "_known_t": np.maximum(start, 0),
            "_end_t": end,
        }
    )
    return frame[keep].reset_index(drop=True)


def _assistance(ctx: Context) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.assistance)
    hh, t, kind = c["household"].astype(np.int64), c["t"].astype(np.int64), c["kind"].astype(int)
    frame = pd.DataFrame(
        {
            "household_id": ctx.household_ids[hh],
            "month": month_labels(ctx.timeline, t),
            "type": ASSISTANCE_TYPES[kind],
            "amount": np.round(c["amount"], 0),
            "_known_t": t,
            "_key": kind,
        }
    )
    frame = frame[_in_window(ctx, t)]
    # 公益岗位补贴 and other monthly support for monitored households: one row per household-month
    frame = frame.groupby(["household_id", "month", "type"], sort=False, as_index=False).agg(
        amount=("amount", "sum"), _known_t=("_known_t", "first")
    )
    return frame.reset_index(drop=True)


def _events(ctx: Context) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.events)
    hh, person = c["household"].astype(np.int64), c["person"].astype(np.int64)
    t, kind = c["t"].astype(np.int64), c["kind"].astype(int)
    reported = np.where(kind == 3, ctx.rng.random(len(kind)) < 0.4, True)
    keep = reported & _in_window(ctx, t)
    pid = ctx.person_ids[np.maximum(person, 0)].copy()
    pid[person < 0] = None
    frame = pd.DataFrame(
        {
            "household_id": ctx.household_ids[hh],
            "person_id": pid,
            "date": month_dates(ctx.timeline, t, ctx.rng),
            "event_type": EVENT_TYPES[kind],
            "loss_amount": np.where(c["loss"] > 0, np.round(c["loss"], 0), np.nan),
            "_known_t": t,
        }
    )
    return frame[keep].sort_values("date", kind="stable").reset_index(drop=True)


def _outcomes(ctx: Context) -> pd.DataFrame:
    c = ctx.rec.columns(ctx.rec.outcomes)
    n = len(c["household"])
    elim = np.full(n, 10**6, dtype=np.int64)
    for row, t_end in ctx.rec.outcome_end.items():
        elim[row] = t_end
    t = c["t"].astype(np.int64)
    return pd.DataFrame(
        {
            "household_id": ctx.household_ids[c["household"].astype(np.int64)],
            "identified_month": month_labels(ctx.timeline, t),
            "category": np.array(L.CATEGORIES)[c["category"].astype(int)],
            "risk_types": c["causes"].astype(str),
            "channel": np.array(L.CHANNELS)[c["channel"].astype(int)],
            "eliminated_month": month_labels(ctx.timeline, np.minimum(elim, 10**5)),
            "_known_t": t,
            "_end_t": elim,
        }
    )


def export_view(ledgers: dict[str, pd.DataFrame], *, at: int) -> dict[str, pd.DataFrame]:
    """The dated tables as the county's system held them at the end of month index `at`."""
    out: dict[str, pd.DataFrame] = {}
    for name, ledger in ledgers.items():
        frame = ledger[ledger["_known_t"] <= at].copy()
        if "_end_t" in frame:
            column = "end_month" if name == "employment" else "eliminated_month"
            frame[column] = frame[column].where(frame["_end_t"] <= at, None)
        keep = [c for c in frame.columns if not c.startswith("_")]
        out[name] = frame[keep].reset_index(drop=True)
    return out


def snapshot_tables(
    pop: Population, hi: np.ndarray, pi: np.ndarray, pf: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`households` and `members` as of one month, from that month's state."""
    h = pop.households
    households = pd.DataFrame(
        {
            "household_id": h["household_id"],
            "county": h["county"],
            "township": h["township"],
            "village": h["village"],
            "household_type": h["household_type"],
            "exit_year": h["exit_year"],
            "relocated": h["relocated"],
            "dangerous_house": (hi[:, L.HOUSE_BAD] != 0),
            "safe_water": hi[:, L.SAFE_WATER] == 1,
            "cultivated_land_mu": pop.hf[:, L.LAND],
        }
    )
    alive = np.flatnonzero(pi[:, L.ALIVE] == 1)
    p = pi[alive]
    hh = p[:, L.HH]
    age = p[:, L.AGE_M] / 12.0
    members = pd.DataFrame(
        {
            "person_id": pop.persons["person_id"].to_numpy()[alive],
            "household_id": h["household_id"].to_numpy()[hh],
            "relation": np.array(L.RELATIONS)[p[:, L.REL]],
            "sex": np.where(p[:, L.SEX] == 0, "男", "女"),
            "birth_date": pop.persons["birth_date"].to_numpy()[alive],
            "ethnicity": pop.persons["ethnicity"].to_numpy()[alive],
            "health": _health(p),
            "labor_skill": _labor_skill(p, pf[alive]),
            "education": _education(age, p[:, L.TRACK], pop.persons["education"].to_numpy()[alive]),
            "school_status": school_status(age, p[:, L.TRACK]),
            "dibao": np.where(hi[hh, L.DIBAO] == 1, "农村低保", "未享受"),
            "tekun": np.where(hi[hh, L.TEKUN] == 1, "农村特困", "不享受"),
            "medical_insured": pop.persons["medical_insured"].to_numpy()[alive],
        }
    )
    return households, members


def _health(p: np.ndarray) -> np.ndarray:
    names = ("长期慢性病", "患有大病", "残疾")
    table = np.array(
        [
            ",".join(n for k, n in enumerate(names) if code >> (2 - k) & 1) or "健康"
            for code in range(8)
        ],
        dtype=object,
    )
    code = 4 * (p[:, L.CHRONIC] == 1) + 2 * (p[:, L.MAJOR] > 0) + (p[:, L.DIS] > 0)
    return table[code]


def _labor_skill(p: np.ndarray, pf: np.ndarray) -> np.ndarray:
    age = p[:, L.AGE_M] / 12.0
    able = can_work(p, pf)
    lost = (p[:, L.MAJOR] > 0) | np.isin(p[:, L.DIS], [1, 2])
    return np.select(
        [
            (age < 16) | (age >= 70) | (~able & ~lost & (age < 22)),
            lost,
            (pf[:, L.ABILITY] < 0.45) | (age >= 60) | ~able,
            p[:, L.SKILLED] == 1,
        ],
        ["无劳动力", "丧失劳动力", "弱劳动力或半劳动力", "技能劳动力"],
        "普通劳动力",
    )


def school_status(age: np.ndarray, track: np.ndarray) -> np.ndarray:
    """在校生状况 from age (years) and schooling track."""
    grade = np.floor(age).astype(int)
    nth = np.array(["一", "二", "三", "四", "五"])
    senior = np.clip(grade - 15, 0, 2)
    college = np.clip(grade - 18, 0, 3)
    return np.select(
        [
            age < 3,
            age < 6,
            age < 12,
            age < 15,
            (age < 18) & ((track == 1) | (track == 3)),
            (age < 18) & (track == 2),
            (age >= 18) & (age < 22) & (track == 3),
        ],
        [
            "学龄前儿童",
            "学前教育",
            "小学",
            np.char.add(np.array(["七", "八", "九"])[np.clip(grade - 12, 0, 2)], "年级"),
            np.char.add(np.char.add("普通高中", nth[senior]), "年级"),
            np.char.add(np.char.add("中职", nth[senior]), "年级"),
            np.char.add(np.char.add("本科", nth[college]), "年级"),
        ],
        "非在校生",
    )


def _education(age: np.ndarray, track: np.ndarray, adult: np.ndarray) -> np.ndarray:
    return np.select(
        [age < 7, age < 13, age < 16, (age < 22) & (track > 0), age < 22],
        ["", "小学", "初中", "高中", "初中"],
        adult,
    )
