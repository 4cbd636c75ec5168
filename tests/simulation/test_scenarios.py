"""Scenarios (issue 13, item 3): structurally different counties and the true cause in the truth.

Every scenario is simulated once at 300 households × 24 months with truth (module fixture) and
written once as a parquet directory; the tests check each scenario's structural signature, the
cause vocabulary, the contract, and byte-reproducibility.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.io import load_directory
from simulation import Simulation, simulate, write_simulation
from simulation import layout as L
from simulation.causes import (
    CAUSES,
    FEEDS,
    NEVER,
    dated_bookings,
    hidden_effect,
    record_dates,
    true_cause,
    visible_as,
)
from simulation.dynamics import State, village_disasters
from simulation.scenarios import BASELINE, SCENARIOS, Scenario, get_scenario

HOUSEHOLDS = 300
MONTHS = 24
END = "2026-10"
KEY = b"scenario-test-key"


@pytest.fixture(scope="module")
def counties(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Simulation, Path]]:
    """Each scenario simulated once (seed 1, with truth) and written as parquet."""
    out = {}
    for name in SCENARIOS:
        sim = simulate(households=HOUSEHOLDS, months=MONTHS, end=END, seed=1, scenario=name)
        folder = write_simulation(sim, tmp_path_factory.mktemp(name) / "county")
        out[name] = (sim, folder)
    return out


def _cause_shares(sim: Simulation) -> pd.Series:
    truth = sim.truth
    assert truth is not None
    return truth.loc[truth["label"] == 1, "cause"].value_counts(normalize=True)


def _members(sim: Simulation, name: str) -> pd.DataFrame:
    t = sim.tables
    return t[name].merge(t["members"][["person_id", "household_id"]], on="person_id")


# --- every scenario ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_is_a_valid_data_directory(counties, name):
    sim, folder = counties[name]
    loaded = load_directory(folder, pseudonym_key=KEY)
    assert loaded.report.ok
    assert len(loaded.tables.households) == HOUSEHOLDS
    assert sim.scenario.name == name


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_truth_has_a_cause_from_the_vocabulary(counties, name):
    sim, folder = counties[name]
    truth = pd.read_parquet(folder / "_truth" / "truth.parquet")
    assert list(truth.columns) == ["household_id", "month", "p_true", "cause"]
    assert set(truth["cause"]) <= set(CAUSES)
    assert truth["cause"].notna().all()
    shares = _cause_shares(sim)
    assert shares.get("other", 0.0) < 0.35  # the positives mostly have a named cause
    assert 0.01 < sim.summary["positive_rate"] < 0.2
    assert sim.summary["oracle_auc"] > 0.75


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_seed_same_bytes(tmp_path, name):
    kwargs = {
        "households": 80,
        "months": 10,
        "seed": 4,
        "scenario": name,
        "export_at": ("2026-06",),
    }
    for run in ("a", "b"):
        write_simulation(simulate(**kwargs), tmp_path / run)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a" / "_truth" / "truth.parquet").exists()


def test_scenarios_differ_from_each_other(counties):
    members = {name: counties[name][0].tables["income"] for name in SCENARIOS}
    assert not members["baseline"].equals(members["disaster"])
    assert not members["baseline"].equals(members["migrant"])


def test_default_is_the_baseline_county(tmp_path):
    kwargs = {"households": 60, "months": 8, "seed": 2, "truth": False}
    write_simulation(simulate(**kwargs), tmp_path / "default")
    write_simulation(simulate(scenario="baseline", **kwargs), tmp_path / "named")
    assert _digest(tmp_path / "default") == _digest(tmp_path / "named")
    assert get_scenario("baseline") == Scenario(name="baseline", description="today's county")


# --- each scenario's signature ------------------------------------------------------------------


def test_sparse_sends_little(counties):
    sim, folder = counties["sparse"]
    assert not (folder / "events.parquet").exists()
    assert "events" not in sim.tables
    settled = sim.tables["medical"]["settle_date"].dt.month
    assert set(settled) <= {3, 6, 9, 12}
    income = sim.tables["income"]
    month = pd.PeriodIndex(income["month"], freq="M")
    assert set(month.month) <= {6, 12}
    per_year = income.groupby([income["household_id"], month.year]).size()
    assert per_year.max() <= 2
    base = counties["baseline"][0].tables
    assert len(income) < 0.5 * len(base["income"])
    assert (base["medical"]["settle_date"].dt.month.value_counts().size) == 12


def test_illness_is_the_commonest_cause_in_the_illness_county(counties):
    illness = _cause_shares(counties["illness"][0])
    baseline = _cause_shares(counties["baseline"][0])
    assert illness.index[0] == "illness"
    assert illness["illness"] > 0.35
    assert illness["illness"] > baseline.get("illness", 0.0) + 0.1
    assert illness.get("disability", 0.0) > baseline.get("disability", 0.0)
    stays = {
        name: _members(counties[name][0], "medical").query("visit_type == '住院'")
        for name in ("baseline", "illness")
    }
    assert len(stays["illness"]) > 1.5 * len(stays["baseline"])
    assert stays["illness"]["total_cost"].median() > stays["baseline"]["total_cost"].median()


def test_disasters_cluster_by_village_and_farm_income_is_lumpy(counties):
    sim, _ = counties["disaster"]
    t = sim.tables
    ev = t["events"][t["events"]["event_type"] == "自然灾害"].merge(
        t["households"], on="household_id"
    )
    ev["month"] = ev["date"].dt.to_period("M")
    hit = ev.groupby(["village", "month"])["household_id"].nunique()
    size = t["households"].groupby("village")["household_id"].size()
    coverage = hit / size.reindex(hit.index.get_level_values(0)).to_numpy()
    # most disaster records belong to village-months where much of the village was hit
    events_in_wide_hits = hit[coverage >= 0.3].sum() / hit.sum()
    assert events_in_wide_hits > 0.8
    assert len(hit) >= 5
    base = counties["baseline"][0].tables["events"]
    assert (ev["household_id"].nunique()) > 2 * (base["event_type"] == "自然灾害").sum() / 3
    income = t["income"]
    by_month = income.groupby(pd.PeriodIndex(income["month"], freq="M").month)
    gross = by_month["business_income"].sum() / by_month.size()
    harvest = gross[[6, 10]].sum() / gross.sum()
    assert harvest > 0.6  # two harvests hold most of the year's farm income
    assert _cause_shares(sim).index[0] == "disaster"


def test_migrant_wages_come_from_out_of_province_and_a_downturn_shows(counties):
    sim, _ = counties["migrant"]
    spells = sim.tables["employment"]
    wage = spells.groupby("work_location")["monthly_income"].sum()
    assert wage["省外"] / wage.sum() > 0.5
    base = counties["baseline"][0].tables["employment"]
    base_wage = base.groupby("work_location")["monthly_income"].sum()
    assert wage["省外"] / wage.sum() > base_wage["省外"] / base_wage.sum() + 0.15
    onset = pd.Period(END, freq="M") - (MONTHS - 1) + round(MONTHS * 0.45)
    start = pd.PeriodIndex(spells["start_month"], freq="M")
    end = pd.PeriodIndex(spells["end_month"].fillna("2100-01"), freq="M")

    def working(months: pd.PeriodIndex) -> float:
        return float(np.mean([((start <= m) & (end >= m)).sum() for m in months]))

    before = working(pd.period_range(onset - 6, onset - 1, freq="M"))
    after = working(pd.period_range(onset + 1, onset + 4, freq="M"))
    assert after < 0.9 * before  # many spells end at once and are not replaced
    assert _cause_shares(sim).index[0] == "work"


# --- declared as data ----------------------------------------------------------------------------


def test_unknown_or_malformed_scenarios_are_refused():
    with pytest.raises(ConfigError, match="unknown scenario.*baseline, illness"):
        get_scenario("flood")
    with pytest.raises(ConfigError, match="farm_season needs 12 shares"):
        Scenario(name="bad", farm_season=(1.0,))
    with pytest.raises(ConfigError, match="job_mix_poor"):
        Scenario(name="bad", job_mix_poor=(0.5, 0.5, 0.5, 0.0, 0.0))
    assert BASELINE.events_feed and not SCENARIOS["sparse"].events_feed


def test_village_disasters_compete_on_one_uniform():
    u = np.array([0.0, 0.039, 0.04, 0.059, 0.06, 0.9])
    assert village_disasters(u, np.array([0.04, 0.02])).tolist() == [1, 1, 2, 2, 0, 0]
    assert village_disasters(u, np.array([0.0])).tolist() == [0] * 6


def test_cli_scenario_option(tmp_path):
    from typer.testing import CliRunner

    from risk.cli import _register_commands, app

    _register_commands()
    out = tmp_path / "cli"
    args = ["simulate", "--out", str(out), "--households", "40", "--months", "8", "--no-truth"]
    result = CliRunner().invoke(app, [*args, "--scenario", "sparse"])
    assert result.exit_code == 0, result.output
    assert (out / "members.parquet").exists() and not (out / "events.parquet").exists()
    bad = CliRunner().invoke(app, [*args, "--scenario", "flood"])
    assert bad.exit_code == 2
    assert "unknown scenario" in bad.output


# --- the cause rule on a hand-made state -----------------------------------------------------


def _state(effect: np.ndarray, income: np.ndarray, disabled: np.ndarray) -> State:
    n = len(effect)
    hi = np.zeros((n, L.N_HI), dtype=np.int32)
    hi[:, L.SIZE] = 2
    hf = np.zeros((n, L.N_HF))
    pi = np.zeros((n, L.N_PI), dtype=np.int32)
    pi[:, L.HH] = np.arange(n)
    pi[:, L.ALIVE] = 1
    pi[:, L.DIS] = np.where(disabled, 1, 0)
    return State(
        hf=hf,
        hi=hi,
        pf=np.zeros((n, L.N_PF)),
        pi=pi,
        person_start=np.arange(n + 1, dtype=np.int64),
        inc_ring=np.repeat(income[:, None] / 12.0, 12, axis=1),
        rig_ring=np.zeros((n, 12)),
        oop_ring=np.zeros((n, 12)),
        downturn=np.zeros(1, dtype=bool),
        n_villages=1,
        effect=effect,
    )


def test_true_cause_rule():
    line = 6000.0  # need of a two-person household: 12,000 a year, 1,000 a month
    effect = np.zeros((6, L.N_EFFECT))
    effect[0, L.E_ILLNESS] = 1500.0  # a shock worth 1.5 months: illness
    effect[1, [L.E_ILLNESS, L.E_WORK]] = [1200.0, 1300.0]  # the larger shock wins
    effect[2, L.E_DISASTER] = 500.0  # too small a shock; near the line: low income
    income = np.array([12000.0, 12000.0, 14000.0, 14000.0, 40000.0, 40000.0])
    effect[5, L.E_DEATH] = 3000.0  # far from the line, but a shock worth 0.9 months of 40,000/12
    disabled = np.array([False, False, False, True, False, False])
    state = _state(effect, income, disabled)
    codes = true_cause(state, np.arange(6), line=line)
    names = [CAUSES[c] for c in codes]
    assert names == ["illness", "work", "low_income", "disability", "other", "other"]
    effect[5, L.E_DEATH] = 3400.0
    assert CAUSES[true_cause(state, np.array([5]), line=line)[0]] == "death"


def test_the_truth_names_only_what_the_feeds_can_show():
    line = 6000.0
    effect = np.zeros((4, L.N_EFFECT))
    effect[0, L.E_DEATH] = 3000.0  # a death worth 3 months of a near-line household
    effect[1, L.E_DISASTER] = 3000.0  # a destroyed crop
    effect[2, [L.E_DEATH, L.E_ILLNESS]] = [3000.0, 1500.0]  # a death and a smaller illness
    effect[3, L.E_DEATH] = 3000.0  # a death in a household far above the line
    income = np.array([12000.0, 12000.0, 12000.0, 40000.0])
    state = _state(effect, income, np.zeros(4, dtype=bool))
    every = visible_as(FEEDS)
    assert every.tolist() == list(range(L.N_EFFECT))  # every feed sent: each cause is itself

    def named(shown: np.ndarray) -> list[str]:
        return [CAUSES[c] for c in true_cause(state, np.arange(4), line=line, shown=shown)]

    assert named(every) == ["death", "disaster", "death", "other"]
    assert named(every) == [CAUSES[c] for c in true_cause(state, np.arange(4), line=line)]
    # without an events feed a death is in no record, a lost crop shows as a farm income fall
    no_events = visible_as([f for f in FEEDS if f != "events"])
    assert named(no_events) == ["low_income", "business", "illness", "other"]
    assert effect[0, L.E_DEATH] == 3000.0  # the state is not changed


def test_only_the_sparse_county_hides_a_cause():
    from simulation.engine import feeds_sent

    for name, scenario in SCENARIOS.items():
        hidden = (visible_as(feeds_sent(scenario)) != np.arange(L.N_EFFECT)).any()
        assert hidden == (name == "sparse")


def test_the_sparse_truth_names_no_death_and_no_disaster(counties):
    sim, _ = counties["sparse"]
    assert sim.truth is not None
    assert not set(sim.truth["cause"]) & {"death", "disaster"}


def _records(**ledgers: pd.DataFrame) -> dict[int, pd.DataFrame]:
    return record_dates(
        ledgers,
        household_row=pd.Index(["h0", "h1", "h2"]),
        person_household=pd.Series([0, 1, 2], index=["p0", "p1", "p2"]),
        start_ordinal=pd.Period("2025-01", freq="M").ordinal,
    )


def test_a_shock_counts_from_the_first_record_that_shows_it():
    # month index 0 = 2025-01; a hospital stay of h0 in month 4 is settled in a quarterly batch
    # (month 5); h1's crop is lost in months 4 and 5, the half-yearly check of month 5 (recording
    # the second lost month) arrives in month 7; h2 loses a job in month 2 and the spell's end is
    # on record then.
    medical = pd.DataFrame({"person_id": ["p0"], "_known_t": [5]})
    income = pd.DataFrame(
        {"household_id": ["h1", "h1"], "month": ["2025-01", "2025-06"], "_known_t": [0, 7]}
    )
    employment = pd.DataFrame({"person_id": ["p2"], "_known_t": [0], "_end_t": [2]})
    records = _records(medical=medical, income=income, employment=employment)
    booked = pd.DataFrame(
        {
            "t": [4, 4, 5, 3, 4],
            "household": [0, 1, 1, 2, 2],
            "cause": [L.E_ILLNESS, L.E_BUSINESS, L.E_BUSINESS, L.E_WORK, L.E_WORK],
            "amount": [3000.0, 800.0, 800.0, 1000.0, 1000.0],
        }
    )
    dated = dated_bookings(booked, records).sort_values(["household", "t"])
    assert dated["shown"].tolist() == [5, 7, 7, 2, 2]
    # at month 4 nothing shows h0's stay or h1's crop yet; h2's lost wages are on record
    hidden = hidden_effect(dated, np.arange(3), t=4, decay=0.5, n_households=3)
    assert hidden[0, L.E_ILLNESS] == 3000.0
    assert hidden[1, L.E_BUSINESS] == 800.0
    assert not hidden[2].any()
    assert not hidden_effect(dated, np.arange(3), t=7, decay=0.5, n_households=3).any()


def test_a_record_before_the_episode_does_not_show_it_a_certificate_does():
    # h1's income check of month 0 speaks of a month before its crop loss (month 5): never shown;
    # h0's certificate of month 0 shows a disability that stops its work in month 6
    income = pd.DataFrame({"household_id": ["h1"], "month": ["2025-01"], "_known_t": [0]})
    disability = pd.DataFrame({"person_id": ["p0"], "_known_t": [0]})
    records = _records(income=income, disability=disability)
    booked = pd.DataFrame(
        {
            "t": [5, 6, 6],
            "household": [1, 0, 2],
            "cause": [L.E_BUSINESS, L.E_DISABILITY, L.E_DEATH],
            "amount": [900.0, 500.0, 400.0],
        }
    )
    dated = dated_bookings(booked, records).sort_values("household")
    assert dated["shown"].tolist() == [0, NEVER, NEVER]  # h2's death: no events feed sent


def test_an_income_check_shows_only_the_months_the_episode_moved_money():
    # each household loses money in months 4..6 (one episode each); an income check speaks of the
    # one month it is dated, so it shows a loss only when dated within months 4..6, while a record
    # that is itself the event shows it whenever it comes
    income = pd.DataFrame(
        {"household_id": ["h0", "h1", "h2"], "month": ["2025-07", "2025-08", "2025-04"]}
    ).assign(_known_t=[8, 7, 3])
    employment = pd.DataFrame({"person_id": ["p2"], "_known_t": [0], "_end_t": [3]})
    medical = pd.DataFrame({"person_id": ["p1"], "_known_t": [10]})
    records = _records(income=income, employment=employment, medical=medical)
    booked = pd.DataFrame(
        {
            "t": np.tile([4, 5, 6], 3),
            "household": np.repeat([0, 1, 2], 3),
            "cause": [L.E_WORK] * 3 + [L.E_BUSINESS, L.E_ILLNESS, L.E_ILLNESS] + [L.E_WORK] * 3,
            "amount": 500.0,
        }
    )
    dated = dated_bookings(booked, records).sort_values(["household", "t"])
    # h0: the check of month 6, its last lost month, held from month 8
    # h1: the check of month 7 records nothing of the farm loss of month 4 (never shown); the
    #     claim settled in month 10, after the span, shows the illness of months 5 and 6
    # h2: the check of month 3 records the last paid month; the spell that ended then shows it
    assert dated["shown"].tolist() == [8, 8, 8, NEVER, 10, 10, 3, 3, 3]


@pytest.mark.parametrize(
    ("month", "expected"),
    [("2025-04", NEVER), ("2025-05", 6), ("2025-06", 6), ("2025-07", 6), ("2025-08", NEVER)],
)
def test_an_income_check_shows_an_episode_within_its_span_only(month, expected):
    # a farm income lost in months 4 and 6 (one episode): the checks of months 4..6 record it, the
    # check of the month before (no lead, unlike an ended spell) or after it records nothing of it
    income = pd.DataFrame({"household_id": ["h0"], "month": [month], "_known_t": [6]})
    booked = pd.DataFrame(
        {"t": [4, 6], "household": [0, 0], "cause": L.E_BUSINESS, "amount": [900.0, 100.0]}
    )
    assert dated_bookings(booked, _records(income=income))["shown"].tolist() == [expected] * 2
