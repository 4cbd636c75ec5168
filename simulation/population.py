"""The simulated county at its first month: regions, households, members and their initial state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulation import layout as L
from simulation.dynamics import (
    Rules,
    can_work,
    draw_job,
    expected_person_income,
    expected_transfers,
    job_wage,
)
from simulation.scenarios import Scenario

#: The simulated province's counties: invented names in the region's style and 6-digit codes with
#: one province prefix (52). A directory of `counties=k` counties uses the first k; county i of a
#: province (`simulation.province`) is entry i, so its household and person ids (which begin with
#: its code) never collide with another county's.
PROVINCE_COUNTIES: tuple[tuple[str, str], ...] = (
    ("清河县", "522622"), ("石泉县", "522623"), ("云岭县", "522624"), ("白水县", "522625"),
    ("青山县", "522626"), ("凤阳县", "522627"), ("安宁县", "522628"), ("长乐县", "522629"),
    ("龙溪县", "522630"), ("红岩县", "522631"), ("黄坪县", "522632"), ("桃源县", "522633"),
    ("梅岭县", "522634"), ("竹山县", "522635"), ("松林县", "522636"), ("杨柳县", "522637"),
    ("金川县", "522701"), ("银河县", "522702"), ("高桥县", "522703"), ("平溪县", "522704"),
    ("新寨县", "522705"), ("东江县", "522706"), ("西林县", "522707"), ("南山县", "522708"),
    ("北溪县", "522709"), ("大坪县", "522710"), ("小河县", "522711"), ("上川县", "522712"),
    ("下坝县", "522713"), ("鹿鸣县", "522714"), ("鹤溪县", "522715"), ("紫岩县", "522716"),
    ("望江县", "522301"), ("晴川县", "522302"), ("普济县", "522303"), ("兴和县", "522304"),
    ("丰源县", "522305"), ("安平县", "522306"), ("福源县", "522307"), ("永乐县", "522308"),
    ("永宁县", "522309"), ("太平县", "522310"), ("长宁县", "522311"), ("和平县", "522312"),
    ("宝山县", "522313"), ("翠屏县", "522314"), ("乌蒙县", "520521"), ("赤溪县", "520522"),
    ("七星县", "520523"), ("百里县", "520524"), ("九龙县", "520525"), ("三江县", "520526"),
    ("五峰县", "520527"), ("六合县", "520528"), ("双河县", "520529"), ("万山县", "520530"),
    ("千山县", "520531"), ("盘江县", "520532"), ("麻阳县", "520533"), ("草海县", "520534"),
    ("铜鼓县", "520621"), ("锦江县", "520622"), ("梵净县", "520623"), ("思源县", "520624"),
    ("德隆县", "520625"), ("沿溪县", "520626"), ("印山县", "520627"), ("石桥县", "520628"),
    ("玉泉县", "520629"), ("江源县", "520630"), ("碧水县", "520631"), ("岑溪县", "520632"),
    ("天星县", "520633"), ("镇安县", "520634"), ("龙宫县", "520421"), ("黄果县", "520422"),
    ("织锦县", "520423"), ("关山县", "520424"), ("花江县", "520425"), ("牂牁县", "520426"),
    ("夜郎县", "520427"), ("百花县", "520428"), ("红枫县", "520429"), ("云雾县", "520430"),
    ("月山县", "520431"), ("星河县", "520432"), ("凤山县", "520433"), ("石屏县", "520434"),
)  # fmt: skip
#: Counties one simulated directory may hold (`risk simulate --counties N`, the county layout).
MAX_COUNTIES_PER_DIRECTORY = 8
COUNTY_NAMES = tuple(name for name, _ in PROVINCE_COUNTIES[:MAX_COUNTIES_PER_DIRECTORY])
COUNTY_CODES = tuple(code for _, code in PROVINCE_COUNTIES[:MAX_COUNTIES_PER_DIRECTORY])
_PLACE_A = tuple("岭石白青红黄柳杨李马龙凤金银桃梅松竹高长平安新东西南北大小上下")
_PLACE_B = tuple("南门溪山河水坪坝沟湾寨口塘坡田庄桥岩林阳")
MINORITIES = ("苗族", "布依族", "侗族", "彝族", "土家族")

# Household compositions: single, couple, couple+children, three generations with the head's
# parents, three generations with a married son, single parent with children.
_TYPE_P = np.array([0.12, 0.24, 0.37, 0.09, 0.11, 0.07])
_HEAD_AGE = np.array([[40, 85], [25, 80], [25, 55], [28, 50], [55, 76], [30, 55]])
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))


@dataclass(frozen=True)
class Population:
    """Initial state plus the stable attributes written to `households` and `members`."""

    hf: np.ndarray
    hi: np.ndarray
    pf: np.ndarray
    pi: np.ndarray
    person_start: np.ndarray
    households: pd.DataFrame  # stable household columns, one row per household row of hf/hi
    persons: pd.DataFrame  # stable person columns, one row per person row of pf/pi
    n_villages: int
    n_counties: int


def build_population(
    rng: np.random.Generator,
    *,
    households: int,
    counties: int,
    start: pd.Period,
    line0: float,
    horizon_months: int,
    scenario: Scenario,
    first_county: int = 0,
) -> Population:
    """Draw the county (or counties) at month index 0.

    Parameters
    ----------
    rng
        The population's own random stream.
    households
        Number of households.
    counties
        Number of counties (at most 8).
    start
        Calendar month of month index 0 (ages are counted at its first day).
    line0
        Monitoring line at month 0 (yuan per person per year): incomes are drawn relative to it.
    horizon_months
        Months simulated (children may be born during them).
    scenario
        The county's scenario (prevalences, farming, job mix).
    first_county
        Index in `PROVINCE_COUNTIES` of the first county's name and code (a province's county i
        is simulated alone with ``first_county=i``). Only names and ids depend on it.

    Returns
    -------
    Population
        Persons sorted by household; `person_start[h]:person_start[h+1]` are household h's members.
    """
    regions = _regions(rng, households=households, counties=counties, first_county=first_county)
    poor = rng.random(households) < np.where(regions["minority_village"], 0.45, 0.34)
    people = _people(rng, households=households, horizon_years=horizon_months / 12.0)
    hh = people["hh"]
    order = np.argsort(hh, kind="stable")
    people = {k: v[order] for k, v in people.items()}
    hh = people["hh"]
    person_start = np.searchsorted(hh, np.arange(households + 1)).astype(np.int64)
    hi = _household_ints(rng, regions, poor, hh, households, people["age"] >= 0)
    rules = Rules.of(scenario)
    pi, pf = _person_state(rng, people, poor[hh], scenario=scenario, rules=rules)
    hf = _household_floats(rng, poor, pi, pf, hh, line0, scenario=scenario, rules=rules)
    _initial_assistance(rng, hf, hi, pi, hh)
    stable_h = _stable_households(rng, regions, poor)
    hi[:, L.HOUSE_BAD] = np.where(stable_h["dangerous_house"].to_numpy(), -1, 0)
    hi[:, L.SAFE_WATER] = (rng.random(households) > np.where(poor, 0.03, 0.01)).astype(np.int32)
    stable_p = _stable_persons(rng, people, regions, start)
    return Population(
        hf=hf,
        hi=hi,
        pf=pf,
        pi=pi,
        person_start=person_start,
        households=stable_h,
        persons=stable_p,
        n_villages=int(regions["village_index"].max()) + 1,
        n_counties=counties,
    )


def _regions(
    rng: np.random.Generator, *, households: int, counties: int, first_county: int = 0
) -> pd.DataFrame:
    county = np.sort(rng.integers(0, counties, households))
    county[: min(counties, households)] = np.arange(min(counties, households))
    county = np.sort(county)
    n_vil = max(4, households // (150 * counties))
    n_town = max(1, n_vil // 6)
    village_in_county = rng.integers(0, n_vil, households)
    village_index = county * n_vil + village_in_county
    names = _place_names(rng, counties * n_vil + counties * n_town)
    vil_names = np.array(names[: counties * n_vil])
    town_names = np.array(names[counties * n_vil :])
    town_of_village = (np.arange(counties * n_vil) % n_vil) * n_town // n_vil
    town_index = (np.arange(counties * n_vil) // n_vil) * n_town + town_of_village
    minority = rng.random(counties * n_vil) < 0.12
    declared = np.array(PROVINCE_COUNTIES[first_county : first_county + counties])
    return pd.DataFrame(
        {
            "county_index": county,
            "village_index": village_index,
            "county": declared[county, 0],
            "county_code": declared[county, 1],
            "township": np.char.add(town_names[town_index[village_index]], "镇"),
            "village": np.char.add(vil_names[village_index], "村"),
            "minority_village": minority[village_index],
            "seq": pd.Series(village_index).groupby(village_index).cumcount().to_numpy(),
        }
    )


def _place_names(rng: np.random.Generator, n: int) -> list[str]:
    pairs = [a + b for a in _PLACE_A for b in _PLACE_B]
    order = rng.permutation(len(pairs))
    names = [pairs[i] for i in order]
    while len(names) < n:  # very large counties: three-character names
        names += [a + b for a in names[: len(pairs)] for b in "上下中"]
    return names[:n]


def _people(
    rng: np.random.Generator, *, households: int, horizon_years: float
) -> dict[str, np.ndarray]:
    """Members by household composition: relations, sexes and ages (in years, fractional).

    Children born during the simulation carry a negative age (minus the years until birth).
    """
    kind = rng.choice(len(_TYPE_P), size=households, p=_TYPE_P)
    lo, hi = _HEAD_AGE[kind, 0], _HEAD_AGE[kind, 1]
    head_age = lo + rng.random(households) * (hi - lo)
    head_male = rng.random(households) < np.where(kind == 0, 0.55, 0.88)
    hh_all = np.arange(households)
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(hh: np.ndarray, rel: np.ndarray, sex: np.ndarray, age: np.ndarray) -> None:
        rows.append((hh, np.asarray(rel), np.asarray(sex), np.maximum(age, 0.1)))

    def add_births(hh: np.ndarray, mother_age: np.ndarray, child_rel: tuple[int, int]) -> None:
        # young mothers may have a child during the simulated years (born later: negative age)
        has = (mother_age > 21) & (mother_age < 38) & (rng.random(len(hh)) < 0.22)
        when = -rng.random(has.sum()) * horizon_years
        sex = (rng.random(has.sum()) < 0.47).astype(int)
        rel = np.where(sex == 0, child_rel[0], child_rel[1])
        rows.append((hh[has], rel, sex, when))

    add(hh_all, np.full(households, L.REL_HEAD), np.where(head_male, 0, 1), head_age)
    couple = np.isin(kind, [1, 2, 3, 4])
    sp_age = (
        head_age[couple] + np.where(head_male[couple], -2.0, 2.0) + rng.normal(0, 2.5, couple.sum())
    )
    add(
        hh_all[couple],
        np.full(couple.sum(), L.REL_SPOUSE),
        np.where(head_male[couple], 1, 0),
        sp_age,
    )
    mother_age = np.where(head_male, head_age - 2.0, head_age)
    with_kids = np.isin(kind, [2, 3, 5])
    n_kids = np.where(with_kids, rng.choice([1, 2, 3], size=households, p=[0.42, 0.45, 0.13]), 0)
    n_kids = np.where(kind == 4, rng.choice([0, 1], size=households, p=[0.7, 0.3]), n_kids)
    for k in range(3):
        has = n_kids > k
        gap = 21 + 3.0 * k + rng.random(has.sum()) * 9
        age = np.minimum(mother_age[has] - gap, np.where(kind[has] == 4, 28.0, 99.0))
        sex = (rng.random(has.sum()) < 0.47).astype(int)
        add(hh_all[has], np.where(sex == 0, L.REL_SON, L.REL_DAUGHTER), sex, age)
    parents = kind == 3
    n_par = rng.choice([1, 2], size=households, p=[0.45, 0.55])
    for k in range(2):
        has = parents & (n_par > k)
        sex = np.full(has.sum(), 1 - k) if k == 0 else np.zeros(has.sum(), dtype=int)
        age = head_age[has] + 24 + rng.random(has.sum()) * 8 + (2.0 if k else 0.0)
        add(hh_all[has], np.where(sex == 0, L.REL_FATHER, L.REL_MOTHER), sex, age)
    married_son = kind == 4
    son_age = mother_age[married_son] - 22 - rng.random(married_son.sum()) * 8
    add(
        hh_all[married_son],
        np.full(married_son.sum(), L.REL_SON),
        np.zeros(married_son.sum(), int),
        son_age,
    )
    dil_age = son_age - 1.5 + rng.normal(0, 2, married_son.sum())
    add(
        hh_all[married_son],
        np.full(married_son.sum(), L.REL_DIL),
        np.ones(married_son.sum(), int),
        dil_age,
    )
    n_grand = rng.choice([1, 2], size=married_son.sum(), p=[0.5, 0.5])
    for k in range(2):
        has = n_grand > k
        age = dil_age[has] - 21 - 3 * k - rng.random(has.sum()) * 8
        sex = (rng.random(has.sum()) < 0.47).astype(int)
        add(
            hh_all[married_son][has],
            np.where(sex == 0, L.REL_GRANDSON, L.REL_GRANDDAUGHTER),
            sex,
            age,
        )
    couple_hh = hh_all[couple]
    add_births(
        couple_hh,
        np.where(head_male[couple], sp_age, head_age[couple]),
        (L.REL_SON, L.REL_DAUGHTER),
    )
    add_births(hh_all[married_son], dil_age, (L.REL_GRANDSON, L.REL_GRANDDAUGHTER))
    return {
        "hh": np.concatenate([r[0] for r in rows]).astype(np.int64),
        "rel": np.concatenate([r[1] for r in rows]).astype(np.int32),
        "sex": np.concatenate([r[2] for r in rows]).astype(np.int32),
        "age": np.concatenate([r[3] for r in rows]).astype(float),
    }


def _household_ints(
    rng: np.random.Generator,
    regions: pd.DataFrame,
    poor: np.ndarray,
    hh: np.ndarray,
    n: int,
    people_alive: np.ndarray,
) -> np.ndarray:
    hi = np.zeros((n, L.N_HI), dtype=np.int32)
    hi[:, L.CKEY] = regions["county_index"].to_numpy()
    hi[:, L.VKEY] = regions["village_index"].to_numpy()
    hi[:, L.POOR] = poor
    hi[:, L.SIZE] = np.bincount(hh, weights=people_alive, minlength=n)
    hi[:, L.HAS_BIZ] = rng.random(n) < np.where(poor, 0.10, 0.16)
    hi[:, L.IDENT_T] = -1
    hi[:, L.PENDING] = -1
    hi[:, L.ELIM_T] = -1
    hi[:, L.LAST_ILL : L.LAST_DEATH + 1] = L.NONE_T
    return hi


def _person_state(
    rng: np.random.Generator,
    people: dict[str, np.ndarray],
    poor: np.ndarray,
    *,
    scenario: Scenario,
    rules: Rules,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(people["hh"])
    age = people["age"]
    pi = np.zeros((n, L.N_PI), dtype=np.int32)
    pf = np.zeros((n, L.N_PF), dtype=np.float64)
    pi[:, L.HH] = people["hh"]
    pi[:, L.AGE_M] = np.round(age * 12).astype(np.int32)
    pi[:, L.SEX] = people["sex"]
    pi[:, L.REL] = people["rel"]
    unborn = age < 0
    pi[:, L.ALIVE] = ~unborn
    pi[:, L.BIRTH_T] = np.where(unborn, _birth_month(age), -1)
    pi[:, L.AGE_M] = np.where(unborn, -1, pi[:, L.AGE_M])
    chronic_p = np.clip(0.01 + 0.0045 * np.maximum(age - 30, 0), 0, 0.35) * np.where(poor, 1.4, 1.0)
    pi[:, L.CHRONIC] = rng.random(n) < chronic_p * scenario.chronic_prevalence
    dis_p = np.clip(0.008 + 0.0012 * np.maximum(age - 20, 0), 0, 0.12) * np.where(poor, 1.6, 1.0)
    dis_p = dis_p * scenario.disability_prevalence
    disabled = rng.random(n) < dis_p
    pi[:, L.DIS] = np.where(
        disabled, rng.choice([1, 2, 3, 4], size=n, p=[0.1, 0.22, 0.33, 0.35]), 0
    )
    pi[:, L.DIS_TYPE] = rng.choice(7, size=n, p=[0.12, 0.14, 0.03, 0.42, 0.1, 0.09, 0.1])
    years_before = (1 + rng.random(n) * 12).astype(int) * 12
    pi[:, L.CERT_T] = np.where(disabled, -years_before, L.NONE_T)
    college = rng.random(n) < np.where(poor, 0.14, 0.22)
    track = np.where(
        rng.random(n) < np.where(poor, 0.55, 0.68), np.where(rng.random(n) < 0.62, 1, 2), 0
    )
    pi[:, L.TRACK] = np.where((track == 1) & college, 3, track)
    skilled = rng.random(n) < np.where(poor, 0.10, 0.22)
    pi[:, L.SKILLED] = skilled
    pf[:, L.ABILITY] = np.clip(rng.beta(5, 2, n) + 0.15 * skilled - 0.25 * (pi[:, L.DIS] > 0), 0, 1)
    _initial_jobs(rng, pi, pf, poor, rules=rules)
    return pi, pf


def _initial_jobs(
    rng: np.random.Generator, pi: np.ndarray, pf: np.ndarray, poor: np.ndarray, *, rules: Rules
) -> None:
    """Workers already in a spell at month 0, drawn near the dynamics' stationary shares."""
    n = len(pi)
    able = can_work(pi, pf)
    working = able & (rng.random(n) < np.where(poor, 0.55, 0.68) * pf[:, L.ABILITY] / 0.75)
    u = rng.random(n)
    job = draw_job(u, poor=poor, age_m=pi[:, L.AGE_M], ability=pf[:, L.ABILITY], rules=rules)
    pi[:, L.JOB] = np.where(working, job, 0)
    pi[:, L.SPELL_T] = np.where(working, -(rng.integers(1, 30, n)), 0)
    wage = job_wage(job, pi[:, L.SKILLED], rng.random(n), rules=rules)
    pf[:, L.WAGE] = np.where(working, wage, 0.0)


def _household_floats(
    rng: np.random.Generator,
    poor: np.ndarray,
    pi: np.ndarray,
    pf: np.ndarray,
    hh: np.ndarray,
    line0: float,
    *,
    scenario: Scenario,
    rules: Rules,
) -> np.ndarray:
    n = len(poor)
    hf = np.zeros((n, L.N_HF), dtype=np.float64)
    size = np.bincount(hh, weights=pi[:, L.ALIVE], minlength=n).astype(float)
    hf[:, L.LAND] = np.round(rng.gamma(3.0, 1.3, n) * np.where(poor, 0.9, 1.1), 1)
    hf[:, L.FARM_RATE] = rng.uniform(700, 1300, n) * scenario.farm_scale
    biz = rng.random(n) < np.where(poor, 0.10, 0.16)
    hf[:, L.BIZ_GROSS] = np.where(biz, rng.lognormal(np.log(2200), 0.4, n), 0.0)
    hf[:, L.PROPERTY] = np.where(rng.random(n) < 0.3, rng.lognormal(np.log(60), 0.6, n), 0.0)
    hf[:, L.BUFFER] = rng.lognormal(np.log(np.where(poor, 1200, 2500)), 0.8, n)
    hf[:, L.HELP] = np.where(rng.random(n) < 0.55, rng.lognormal(np.log(120), 0.5, n), 0.0)
    hf[:, L.PROPENSITY] = rng.lognormal(-0.08, 0.4, n)
    # Earning capacity: scale wages so that expected per-capita income follows the target mix
    # (about a tenth of 脱贫户 just above the line).
    hf[:, L.TARGET] = _target_ratio(rng, poor)
    # Members growing into work and assistance lift realised incomes above the drawn targets
    # (measured: about +10 % for 脱贫户, +5 % for others); aim below so the realised mix fits.
    target = hf[:, L.TARGET] * np.where(poor, 0.9, 0.95) * line0 / 12.0 * size
    wage_part = np.bincount(
        hh, weights=expected_person_income(pi, pf, poor[hh], rules=rules), minlength=n
    )
    other = (
        hf[:, L.LAND] * hf[:, L.FARM_RATE] * 0.62 / 12
        + hf[:, L.BIZ_GROSS] * 0.45
        + hf[:, L.PROPERTY]
        + expected_transfers(pi, hh, n)
    )
    need = target - other
    level = np.clip(need / np.maximum(wage_part, 1.0), 0.12, 3.5)
    level = np.where(wage_part > 50, level, 1.0)
    hf[:, L.WAGE_LEVEL] = level
    shortfall = target - other - wage_part * level
    hf[:, L.SUPPORT] = np.clip(shortfall, 0, None) * (wage_part <= 50)
    return hf


def _initial_assistance(
    rng: np.random.Generator, hf: np.ndarray, hi: np.ndarray, pi: np.ndarray, hh: np.ndarray
) -> None:
    """低保 for households with little earning capacity; 特困 for lone elderly 脱贫户 without support."""
    n = len(hf)
    weak = hf[:, L.WAGE_LEVEL] <= 0.5
    no_wage = (
        np.bincount(
            hh, weights=(pi[:, L.AGE_M] < 60 * 12) & (pi[:, L.AGE_M] >= 18 * 12), minlength=n
        )
        == 0
    )
    poor = hi[:, L.POOR] == 1
    hi[:, L.DIBAO] = (rng.random(n) < np.where(poor, 0.5, 0.15)) & (weak | no_wage)
    lone_old = (hi[:, L.SIZE] == 1) & no_wage & poor
    hi[:, L.TEKUN] = lone_old & (rng.random(n) < 0.35)
    hi[:, L.DIBAO] &= hi[:, L.TEKUN] == 0


def _target_ratio(rng: np.random.Generator, poor: np.ndarray) -> np.ndarray:
    n = len(poor)
    u = rng.random(n)
    body_poor = rng.lognormal(np.log(1.6), 0.32, n)
    body_poor = np.where(body_poor < 1.0, rng.uniform(1.02, 1.15, n), body_poor)
    body_other = np.maximum(rng.lognormal(np.log(2.7), 0.35, n), 1.2)
    near_poor = np.where(u < 0.03, rng.uniform(0.75, 1.0, n), rng.uniform(1.03, 1.14, n))
    near_other = np.where(u < 0.01, rng.uniform(0.75, 1.0, n), rng.uniform(1.05, 1.2, n))
    return np.where(
        poor, np.where(u < 0.06, near_poor, body_poor), np.where(u < 0.04, near_other, body_other)
    )


def _stable_households(
    rng: np.random.Generator, regions: pd.DataFrame, poor: np.ndarray
) -> pd.DataFrame:
    n = len(poor)
    codes = regions["county_code"].to_numpy(dtype=str)
    vil = regions["village_index"].to_numpy()
    household_id = [
        f"{c}{v:05d}{s:05d}" for c, v, s in zip(codes, vil, regions["seq"].to_numpy(), strict=True)
    ]
    exit_year = np.where(poor, rng.choice([2016, 2017, 2018, 2019, 2020], size=n), -1)
    return pd.DataFrame(
        {
            "household_id": household_id,
            "county": regions["county"].to_numpy(),
            "township": regions["township"].to_numpy(),
            "village": regions["village"].to_numpy(),
            "household_type": np.where(poor, "脱贫户", "一般农户"),
            "exit_year": pd.Series(exit_year, dtype="Int64").where(poor),
            "relocated": poor & (rng.random(n) < 0.12),
            "dangerous_house": rng.random(n) < np.where(poor, 0.015, 0.008),
            "minority_village": regions["minority_village"].to_numpy(),
            "county_code": codes,
        }
    )


def _stable_persons(
    rng: np.random.Generator, people: dict[str, np.ndarray], regions: pd.DataFrame, start: pd.Period
) -> pd.DataFrame:
    n = len(people["hh"])
    hh = people["hh"]
    # Some ages are drawn in whole years: spread birthdays over a few weeks (the state's age in
    # months stays right to within a month) so one county's people of one age do not share a date.
    age_days = np.round(people["age"] * 365.25).astype("int64") + rng.integers(0, 28, n)
    first_day = np.datetime64(start.start_time.date(), "D")
    birth: np.ndarray = np.asarray(first_day - age_days.astype("timedelta64[D]"))
    unborn = people["age"] < 0
    ordinals = start.ordinal + _birth_month(people["age"][unborn])
    month_start = pd.PeriodIndex.from_ordinals(ordinals, freq="M").to_timestamp().to_numpy()
    days = rng.integers(0, 28, unborn.sum()).astype("timedelta64[D]")
    birth[unborn] = (month_start + days).astype(birth.dtype)
    minority_village = regions["minority_village"].to_numpy()[hh]
    is_minority = rng.random(n) < np.where(minority_village, 0.72, 0.03)
    village_minority = np.array(MINORITIES)[
        regions["village_index"].to_numpy()[hh] % len(MINORITIES)
    ]
    ethnicity = np.where(is_minority, village_minority, "汉族")
    codes = regions["county_code"].to_numpy(dtype=str)[hh]
    person_id = national_ids(rng, codes, birth, people["sex"])
    no_card = (people["age"] < 16) & (rng.random(n) < 0.04)
    system_no = np.char.add(np.char.add(codes, "00"), _digits(rng, n, 14))
    person_id = np.where(no_card, system_no, person_id)
    age = people["age"]
    edu = _education(rng, age)
    return pd.DataFrame(
        {
            "person_id": person_id,
            "birth_date": birth.astype("datetime64[ns]"),
            "ethnicity": ethnicity,
            "education": edu,
            "medical_insured": rng.random(n) < 0.985,
        }
    )


def _education(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    levels = np.array(["文盲或半文盲", "小学", "初中", "高中", "大专", "本科及以上"])
    old = np.clip((age - 30) / 50, 0, 1)
    u = rng.random(len(age))
    cut = np.stack(
        [
            0.03 + 0.35 * old,
            0.25 + 0.45 * old,
            0.75 + 0.2 * old,
            0.92 + 0.06 * old,
            0.97 + 0.02 * old,
        ],
        axis=1,
    )
    level = (u[:, None] > cut).sum(axis=1)
    level = np.where(age < 7, 0, np.minimum(level, np.where(age < 13, 1, np.where(age < 16, 2, 5))))
    return np.where(age < 7, "", levels[level])


def _birth_month(age: np.ndarray) -> np.ndarray:
    """Month index of birth for members born during the simulation (negative ages)."""
    return np.floor(-age * 12).astype(np.int32)


def national_ids(
    rng: np.random.Generator, region: np.ndarray, birth: np.ndarray, sex: np.ndarray
) -> np.ndarray:
    """18-character resident ID numbers (GB 11643): region, birth date, sequence, check digit.

    The sequence's last digit is odd for men and even for women; numbers are unique.
    """
    ymd = pd.to_datetime(birth).strftime("%Y%m%d").to_numpy(dtype=str)
    prefix = np.char.add(region.astype(str), ymd)
    # Unique by construction: within each (region, birth date, sex) the sequence numbers are
    # consecutive from a random start, so no retry loop is needed (a loop that redraws clashes
    # never ends once a group outgrows the 500 sequence numbers a sex has).
    group, _ = pd.factorize(pd.Series(np.char.add(prefix, sex.astype(str))), sort=False)
    rank = pd.Series(group).groupby(group, sort=False).cumcount().to_numpy()
    if len(rank) and rank.max() >= 500:
        raise ValueError("more than 500 people of one sex share a region and birth date")
    start = rng.integers(0, 500, group.max() + 1 if len(group) else 0)[group]
    seq = (start + rank) % 500 * 2 + np.where(sex == 0, 1, 0)
    body = np.char.add(prefix, np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
    return np.char.add(body, _CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11])


def check_digit_valid(person_id: str) -> bool:
    """True when an 18-character ID number carries a valid GB 11643 check digit."""
    if len(person_id) != 18 or not person_id[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(person_id[:17], _ID_WEIGHTS, strict=True))
    return bool(_CHECK[total % 11] == person_id[17].upper())


def _digits(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    out = np.full(n, "", dtype=f"<U{width}")
    for _ in range(width):
        out = np.char.add(out, rng.integers(0, 10, n).astype(str))
    return out
