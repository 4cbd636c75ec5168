"""`simulate`: run the county month by month, record the feeds, estimate the hidden truth."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract.errors import ConfigError
from simulation import layout as L
from simulation.cases import case_register
from simulation.causes import (
    FEEDS,
    cause_inputs,
    cause_names,
    dated_bookings,
    decide,
    hidden_effect,
    new_bookings,
    record_dates,
    visible_as,
)
from simulation.dynamics import (
    EFFECT_DECAY,
    Rules,
    State,
    expected_person_income,
    expected_transfers,
    step,
)
from simulation.feeds import (
    Context,
    FeedGaps,
    build_ledgers,
    export_view,
    month_labels,
    snapshot_tables,
)
from simulation.population import (
    MAX_COUNTIES_PER_DIRECTORY,
    PROVINCE_COUNTIES,
    Population,
    build_population,
)
from simulation.records import Recorder
from simulation.scenarios import Scenario, get_scenario
from simulation.timeline import Timeline
from simulation.truth import (
    HORIZON,
    continuation_probability,
    oracle_summary,
    realised_labels,
)

#: Called as progress(stage, done, total).
Progress = Callable[[str, int, int], None]
TRUTH_MONTHS = 12
DRAWS = 200


@dataclass
class Simulation:
    """A simulated data directory in memory.

    Attributes
    ----------
    tables
        Contract tables by name (English column names), as exported at the last month.
    truth
        `household_id, month, p_true, cause, label` for the truth months (None without truth).
    exports
        For each `export_at` month (`YYYY-MM`): the tables as exported at that month.
    hidden
        Per household at the last month: hidden factors and the true trailing income (diagnostics).
    distress
        `household_id, month` of every month a household not yet monitored was in real distress.
    summary
        Oracle AUC, positive rate, cause shares among the positives, timings.
    scenario
        The scenario simulated.
    case_steps
        The case register at the last month (`simulation.cases.REGISTER_COLUMNS`): each recent
        identification's dated steps and the cases still open, written as `_cases/办理步骤.xlsx`.
    case_truth
        One row per case of the register: late by how many days, notice length, open or closed
        (`simulation.cases.TRUTH_COLUMNS`), written as `_truth/cases.parquet`.
    """

    tables: dict[str, pd.DataFrame]
    truth: pd.DataFrame | None
    exports: dict[str, dict[str, pd.DataFrame]]
    hidden: pd.DataFrame
    distress: pd.DataFrame
    gaps: FeedGaps
    summary: dict[str, float] = field(default_factory=dict)
    scenario: Scenario = field(default_factory=lambda: get_scenario("baseline"))
    case_steps: pd.DataFrame | None = None
    case_truth: pd.DataFrame | None = None


def simulate(
    *,
    households: int = 20000,
    months: int = 36,
    end: str = "2026-10",
    counties: int = 2,
    seed: int = 0,
    truth: bool = True,
    export_at: Sequence[str] = (),
    draws: int = DRAWS,
    scenario: str | Scenario = "baseline",
    progress: Progress | None = None,
    first_county: int = 0,
) -> Simulation:
    """Simulate a rural county (or several) and its department feeds, with the hidden truth.

    Parameters
    ----------
    households, months, end, counties, seed
        Size, the written months (the `months` months ending at `end`), counties (1–8) and seed.
    truth
        Estimate `p_true` for the last 12 months that have a full 6-month horizon, and write the
        case register with its truth (`simulation.cases`).
    export_at
        Months (`YYYY-MM`) at which to also produce the directory as exported then.
    draws
        Monte Carlo continuations per household and month (at least 200 for the contract).
    scenario
        A scenario name (`simulation.scenarios.SCENARIOS`) or a `Scenario`.
    progress
        Optional callback `progress(stage, done, total)`.
    first_county
        Index in `simulation.population.PROVINCE_COUNTIES` of the first county (its name and code,
        and so its ids): a province's county i is simulated alone with ``first_county=i``
        (`simulation.province`). Nothing random depends on it.

    Returns
    -------
    Simulation
    """
    _check(
        households=households,
        months=months,
        counties=counties,
        draws=draws,
        first_county=first_county,
    )
    world = get_scenario(scenario)
    rules = Rules.of(world)
    timeline = Timeline.build(end=end, months=months, downturn_at=world.downturn_at)
    exports_t = _export_months(timeline, export_at)
    root = np.random.SeedSequence(seed)
    # A fifth child leaves the first four (and so every table and the truth) as they were.
    ss_pop, ss_dyn, ss_feed, ss_truth, ss_cases = root.spawn(5)
    clock = {"start": time.perf_counter()}
    pop = build_population(
        np.random.default_rng(ss_pop),
        households=households,
        counties=counties,
        start=timeline.start,
        line0=timeline.line(0),
        horizon_months=timeline.n_months,
        scenario=world,
        first_county=first_county,
    )
    state = initial_state(pop, rules=rules)
    rec = Recorder(n_persons=len(pop.pi), n_households=len(pop.hi))
    working = np.flatnonzero(pop.pi[:, L.JOB] > 0)
    rec.start_spells(state, working, pop.pi[working, L.SPELL_T])
    truth_t = _truth_months(timeline) if truth else []
    shown = visible_as(feeds_sent(world))
    rng = np.random.default_rng(ss_dyn)
    truth_streams = dict(zip(truth_t, ss_truth.spawn(max(len(truth_t), 1)), strict=False))
    parts: list[pd.DataFrame] = []
    cause_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    snapshots: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    clock["population"] = time.perf_counter()
    booked: list[pd.DataFrame] = []
    for t in range(timeline.n_months):
        calendar = timeline.calendar(t)
        before = state.effect.copy()
        record = step(state, t=t, calendar=calendar, rng=rng, rules=rules)
        if truth:
            booked.append(_bookings(before, state.effect, t=t, shown=shown))
        rec.record_month(state, record, t=t, scale=calendar.scale)
        if t in exports_t or t == timeline.n_months - 1:
            snapshots[t] = (state.hi.copy(), state.pi.copy(), state.pf.copy())
        if t in truth_streams:
            rows, p_true = continuation_probability(
                state, t=t, timeline=timeline, seed=truth_streams[t], rules=rules, draws=draws
            )
            inputs = cause_inputs(state, rows, line=calendar.line, shown=shown)
            parts.append(pd.DataFrame({"row": rows, "t": t, "p_true": p_true}))
            cause_parts.append(inputs)
        if progress:
            progress("simulate", t + 1, timeline.n_months)
    clock["dynamics"] = time.perf_counter()
    sim = _assemble(
        pop,
        timeline,
        rec,
        state,
        snapshots,
        parts,
        ss_feed,
        exports_t,
        world,
        causes=(booked, cause_parts),
    )
    if truth:  # the register's truth lives in `_truth/`, which `truth=False` does not write
        register = case_register(
            sim.tables["outcomes"],
            _pending(state, pop, timeline),
            export_month=timeline.end,
            rng=np.random.default_rng(ss_cases),
        )
        sim.case_steps, sim.case_truth = register.steps, register.truth
    clock["tables"] = time.perf_counter()
    sim.summary.update(
        {
            "seconds_population": clock["population"] - clock["start"],
            "seconds_dynamics_and_truth": clock["dynamics"] - clock["population"],
            "seconds_tables": clock["tables"] - clock["dynamics"],
        }
    )
    return sim


def feeds_sent(scenario: Scenario) -> tuple[str, ...]:
    """The contract feeds a county of this scenario receives (``sparse``: no events feed)."""
    return tuple(f for f in FEEDS if f != "events" or scenario.events_feed)


def _check(
    *, households: int, months: int, counties: int, draws: int, first_county: int = 0
) -> None:
    if households < 10:
        raise ConfigError(f"--households must be at least 10, got {households}")
    if not 1 <= counties <= MAX_COUNTIES_PER_DIRECTORY:
        raise ConfigError(
            f"--counties must be between 1 and {MAX_COUNTIES_PER_DIRECTORY}, got {counties} "
            "(more counties: --layout province)"
        )
    if not 0 <= first_county <= len(PROVINCE_COUNTIES) - counties:
        raise ConfigError(
            f"first_county {first_county}: the simulated province declares "
            f"{len(PROVINCE_COUNTIES)} counties"
        )
    if months < 2:
        raise ConfigError(f"--months must be at least 2, got {months}")
    if draws < 1:
        raise ConfigError(f"draws must be positive, got {draws}")


def _pending(state: State, pop: Population, timeline: Timeline) -> np.ndarray:
    """Ids of the households discovered but not yet approved at the end of the last month."""
    rows = np.flatnonzero(state.hi[:, L.PENDING] > timeline.n_months - 1)
    return pop.households["household_id"].to_numpy(dtype=object)[rows].astype(str)


def _export_months(timeline: Timeline, export_at: Sequence[str]) -> set[int]:
    out = set()
    for month in export_at:
        try:
            t = timeline.index(month)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"--export-at {month!r}: expected a month YYYY-MM") from error
        if not timeline.first_written <= t < timeline.n_months:
            raise ConfigError(
                f"--export-at {month}: outside the simulated months "
                f"{timeline.period(timeline.first_written)}…{timeline.end}"
            )
        out.add(t)
    return out


def _truth_months(timeline: Timeline) -> list[int]:
    last = timeline.n_months - 1 - HORIZON
    first = max(timeline.first_written, last - TRUTH_MONTHS + 1)
    return list(range(first, last + 1))


def initial_state(pop: Population, *, rules: Rules) -> State:
    """The state at month 0, trailing incomes filled with each household's expected income."""
    hh = pop.pi[:, L.HH]
    n = len(pop.hi)
    wages = expected_person_income(pop.pi, pop.pf, pop.hi[hh, L.POOR] == 1, rules=rules)
    expected = (
        np.bincount(hh, weights=wages, minlength=n) * pop.hf[:, L.WAGE_LEVEL]
        + pop.hf[:, L.LAND] * pop.hf[:, L.FARM_RATE] * 0.62 / 12
        + pop.hf[:, L.BIZ_GROSS] * 0.45
        + pop.hf[:, L.PROPERTY]
        + pop.hf[:, L.SUPPORT]
        + expected_transfers(pop.pi, hh, n)
        + 280.0 * pop.hi[:, L.DIBAO] * pop.hi[:, L.SIZE]
        + 600.0 * pop.hi[:, L.TEKUN]
    )
    return State(
        hf=pop.hf.copy(),
        hi=pop.hi.copy(),
        pf=pop.pf.copy(),
        pi=pop.pi.copy(),
        person_start=pop.person_start.copy(),
        inc_ring=np.repeat(expected[:, None], 12, axis=1),
        rig_ring=np.zeros((n, 12)),
        oop_ring=np.zeros((n, 12)),
        downturn=np.zeros(pop.n_counties, dtype=bool),
        n_villages=pop.n_villages,
        effect=np.zeros((n, L.N_EFFECT)),
    )


def _assemble(
    pop: Population,
    timeline: Timeline,
    rec: Recorder,
    state: State,
    snapshots: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]],
    parts: list[pd.DataFrame],
    ss_feed: np.random.SeedSequence,
    exports_t: set[int],
    scenario: Scenario,
    *,
    causes: tuple[list[pd.DataFrame], list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
) -> Simulation:
    household_ids = pop.households["household_id"].to_numpy(dtype=object)
    ctx = Context(
        pop=pop,
        timeline=timeline,
        rec=rec,
        rng=np.random.default_rng(ss_feed),
        household_ids=household_ids,
        person_ids=pop.persons["person_id"].to_numpy(dtype=object),
        counties=pop.households["county"].to_numpy(dtype=object),
        final_pi=state.pi,
        scenario=scenario,
    )
    ledgers, gaps = build_ledgers(ctx)
    if parts:
        _date_causes(parts, *causes, ledgers=ledgers, pop=pop, timeline=timeline)
    last = timeline.n_months - 1
    views = {t: _directory(pop, ledgers, snapshots[t], t) for t in sorted(exports_t | {last})}
    tables = views[last]
    exports = {str(timeline.period(t)): views[t] for t in sorted(exports_t)}
    outcomes = rec.columns(rec.outcomes)
    truth = _truth_frame(parts, outcomes, household_ids, timeline)
    summary = oracle_summary(truth) if truth is not None else {}
    if truth is not None:
        summary.update(cause_shares(truth))
    return Simulation(
        tables=tables,
        truth=None if truth is None else truth,
        exports=exports,
        hidden=_hidden(pop, state, timeline, household_ids),
        distress=_distress(rec, state, timeline, household_ids),
        gaps=gaps,
        summary=summary,
        scenario=scenario,
    )


def _directory(
    pop: Population,
    ledgers: dict[str, pd.DataFrame],
    snapshot: tuple[np.ndarray, np.ndarray, np.ndarray],
    t: int,
) -> dict[str, pd.DataFrame]:
    households, members = snapshot_tables(pop, *snapshot)
    return {"households": households, "members": members, **export_view(ledgers, at=t)}


def _bookings(before: np.ndarray, after: np.ndarray, *, t: int, shown: np.ndarray) -> pd.DataFrame:
    """The month's new bookings as rows `t, household, cause, amount` (visible columns)."""
    amount = new_bookings(before, after, decay=EFFECT_DECAY, shown=shown)
    household, cause = np.nonzero(amount > 1e-6)
    return pd.DataFrame(
        {"t": t, "household": household, "cause": cause, "amount": amount[household, cause]}
    )


def _date_causes(
    parts: list[pd.DataFrame],
    booked: list[pd.DataFrame],
    inputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    ledgers: dict[str, pd.DataFrame],
    pop: Population,
    timeline: Timeline,
) -> None:
    """Add each truth part's `cause`: the rule on the effects the county's records show by then."""
    records = record_dates(
        ledgers,
        household_row=pd.Index(pop.households["household_id"].astype(str)),
        person_household=pd.Series(
            pop.pi[:, L.HH], index=pop.persons["person_id"].astype(str).to_numpy()
        ),
        start_ordinal=timeline.start.ordinal,
    )
    dated = dated_bookings(pd.concat(booked, ignore_index=True), records)
    for part, (effect, threshold, fallback) in zip(parts, inputs, strict=True):
        rows = part["row"].to_numpy()
        hidden = hidden_effect(
            dated, rows, t=int(part["t"].iloc[0]), decay=EFFECT_DECAY, n_households=len(pop.hi)
        )
        part["cause"] = decide(np.maximum(effect - hidden, 0.0), threshold, fallback)


def _truth_frame(
    parts: list[pd.DataFrame],
    outcomes: dict[str, np.ndarray],
    household_ids: np.ndarray,
    timeline: Timeline,
) -> pd.DataFrame | None:
    if not parts:
        return None
    frame = pd.concat(parts, ignore_index=True)
    out_t = outcomes.get("t", np.zeros(0, dtype=np.int64)).astype(np.int64)
    out_h = outcomes.get("household", np.zeros(0, dtype=np.int64)).astype(np.int64)
    labels = np.concatenate(
        [
            realised_labels(out_t, out_h, part["row"].to_numpy(), t=int(part["t"].iloc[0]))
            for part in parts
        ]
    )
    return pd.DataFrame(
        {
            "household_id": household_ids[frame["row"].to_numpy()].astype(str),
            "month": month_labels(timeline, frame["t"].to_numpy()).astype(str),
            "p_true": frame["p_true"].to_numpy(),
            "cause": cause_names(frame["cause"].to_numpy()),
            "label": labels,
        }
    )


def _hidden(
    pop: Population, state: State, timeline: Timeline, household_ids: np.ndarray
) -> pd.DataFrame:
    size = np.maximum(state.hi[:, L.SIZE], 1)
    return pd.DataFrame(
        {
            "household_id": household_ids.astype(str),
            "household_type": pop.households["household_type"].to_numpy(),
            "size": state.hi[:, L.SIZE],
            "income_pc_12m": state.inc_ring.sum(axis=1) / size,
            "line": timeline.line(timeline.n_months - 1),
            "buffer": state.hf[:, L.BUFFER],
            "help_monthly": state.hf[:, L.HELP],
            "propensity": state.hf[:, L.PROPENSITY],
            "target_ratio": state.hf[:, L.TARGET],
            "monitored": state.hi[:, L.MONITORED] == 1,
        }
    )


def _distress(
    rec: Recorder, state: State, timeline: Timeline, household_ids: np.ndarray
) -> pd.DataFrame:
    flags = np.stack(rec.qualifies)  # (months, households)
    t, h = np.nonzero(flags)
    return pd.DataFrame(
        {
            "household_id": household_ids[h].astype(str),
            "month": month_labels(timeline, t).astype(str),
            "_t": t,
        }
    )


def cause_shares(truth: pd.DataFrame) -> dict[str, float]:
    """`cause_<name>`: share of each true cause among the household-months later identified."""
    positives = truth.loc[truth["label"] == 1, "cause"]
    shares = positives.value_counts(normalize=True) if len(positives) else pd.Series(dtype=float)
    return {f"cause_{name}": float(shares.get(name, 0.0)) for name in L.CAUSES}
