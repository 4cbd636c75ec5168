"""The hidden truth: p_true by Monte Carlo continuation of the simulation's own step function.

The truth's other column, the true `cause`, is decided from the hidden state by `simulation.causes`
(its docstring states the rule).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulation import layout as L
from simulation.dynamics import Rules, State, step
from simulation.timeline import Timeline

HORIZON = 6
#: Household-draw rows per continuation chunk (bounds memory; fixed so results never depend on it).
CHUNK_ROWS = 240_000


def replicate(state: State, households: np.ndarray, draws: int) -> State:
    """`draws` copies of the given households, draw-major: row k is household k % n, draw k // n.

    The chunk is gathered once and then tiled (plain memory copies). Villages and counties get one
    key per draw, so a disaster or a downturn in one continuation hits the whole village (county)
    of that continuation only.
    """
    n = len(households)
    n_vil = state.n_villages
    n_cty = len(state.downturn)
    counts = np.diff(state.person_start)[households]
    base_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=base_start[1:])
    offset = np.arange(base_start[-1]) - np.repeat(base_start[:-1], counts)
    persons = np.repeat(state.person_start[households], counts) + offset
    n_p = int(base_start[-1])
    hi = np.tile(state.hi[households], (draws, 1))
    draw = np.repeat(np.arange(draws), n)
    hi[:, L.CKEY] += (draw * n_cty).astype(hi.dtype)
    hi[:, L.VKEY] += (draw * n_vil).astype(hi.dtype)
    person_start = np.concatenate(
        [(base_start[:-1][None, :] + n_p * np.arange(draws)[:, None]).ravel(), [n_p * draws]]
    )
    return State(
        hf=np.tile(state.hf[households], (draws, 1)),
        hi=hi,
        pf=np.tile(state.pf[persons], (draws, 1)),
        pi=np.tile(state.pi[persons], (draws, 1)),
        person_start=person_start.astype(np.int64),
        inc_ring=np.tile(state.inc_ring[households], (draws, 1)),
        rig_ring=np.tile(state.rig_ring[households], (draws, 1)),
        oop_ring=np.tile(state.oop_ring[households], (draws, 1)),
        downturn=np.tile(state.downturn, draws),
        n_villages=n_vil * draws,
        effect=np.zeros((1, L.N_EFFECT)),  # a scratch row: causes are read on the main path only
    )


def not_monitored(state: State) -> np.ndarray:
    """Households not already monitored at the end of the state's month (pending clues included)."""
    return np.flatnonzero((state.hi[:, L.MONITORED] == 0) & (state.hi[:, L.SIZE] > 0))


def continuation_probability(
    state: State,
    *,
    t: int,
    timeline: Timeline,
    seed: np.random.SeedSequence,
    rules: Rules,
    draws: int = 200,
    horizon: int = HORIZON,
) -> tuple[np.ndarray, np.ndarray]:
    """P(identified in (t, t+horizon] | state at the end of t) for every household not monitored.

    The continuations follow the same `rules` (scenario) as the main path, scheduled downturns
    included.

    Returns
    -------
    households, p_true
        Household rows and their probabilities (share of the `draws` continuations in which the
        household received an outcome).
    """
    households = not_monitored(state)
    per_chunk = max(1, CHUNK_ROWS // draws)
    chunks = [households[i : i + per_chunk] for i in range(0, len(households), per_chunk)]
    streams = seed.spawn(len(chunks))
    p_true = np.zeros(len(households))
    done = 0
    for chunk, stream in zip(chunks, streams, strict=True):
        rng = np.random.default_rng(stream)
        copy = replicate(state, chunk, draws)
        found = np.zeros(len(chunk) * draws, dtype=bool)
        for k in range(1, horizon + 1):
            record = step(
                copy, t=t + k, calendar=timeline.calendar(t + k), rng=rng, rules=rules, record=False
            )
            found |= record.ohi[:, L.O_IDENTIFIED] > 0
        p_true[done : done + len(chunk)] = found.reshape(draws, len(chunk)).mean(axis=0)
        done += len(chunk)
    return households, p_true


def realised_labels(
    outcomes_t: np.ndarray, outcomes_h: np.ndarray, households: np.ndarray, *, t: int
) -> np.ndarray:
    """1 where the household has an outcome with month index in (t, t+HORIZON] on the main path."""
    window = (outcomes_t > t) & (outcomes_t <= t + HORIZON)
    hit = np.zeros(int(max(households.max(initial=0), outcomes_h.max(initial=0))) + 1, dtype=bool)
    hit[outcomes_h[window]] = True
    return hit[households].astype(np.int8)


def oracle_summary(truth: pd.DataFrame) -> dict[str, float]:
    """Oracle AUC of p_true against the realised label, positive rate and mean p_true."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    y = truth["label"].to_numpy()
    p = truth["p_true"].to_numpy()
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return {
        "oracle_auc": auc,
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "mean_p_true": float(p.mean()) if len(p) else float("nan"),
        "rows": float(len(y)),
    }
