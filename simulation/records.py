"""Collects what happens on the main path, month by month, as numpy columns (concatenated once)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulation import layout as L
from simulation.dynamics import State, StepRecord, can_work

RISK_TYPES = (
    "因病",
    "因残",
    "因学",
    "缺劳动力",
    "因务工就业不稳",
    "因自然灾害",
    "因产业项目失败",
    "因意外事故",
    "因安全住房",
    "其他",
)


def _cat(parts: list[np.ndarray], dtype: type | str = np.float64) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


@dataclass
class Recorder:
    """Rows of every dated table, as lists of per-month numpy arrays."""

    n_persons: int
    n_households: int
    claims: dict[str, list[np.ndarray]] = field(default_factory=dict)
    certs: dict[str, list[np.ndarray]] = field(default_factory=dict)
    events: dict[str, list[np.ndarray]] = field(default_factory=dict)
    assistance: dict[str, list[np.ndarray]] = field(default_factory=dict)
    income: dict[str, list[np.ndarray]] = field(default_factory=dict)
    outcomes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    spells: dict[str, list[np.ndarray]] = field(default_factory=dict)
    qualifies: list[np.ndarray] = field(default_factory=list)
    open_spell: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    open_outcome: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_spells: int = 0
    n_outcomes: int = 0
    spell_end: dict[int, int] = field(default_factory=dict)
    outcome_end: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.open_spell = np.full(self.n_persons, -1, dtype=np.int64)
        self.open_outcome = np.full(self.n_households, -1, dtype=np.int64)

    def add(self, table: dict[str, list[np.ndarray]], **columns: np.ndarray) -> None:
        """Append one month's rows to a table."""
        for name, values in columns.items():
            table.setdefault(name, []).append(np.asarray(values))

    def columns(self, table: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
        """The table's columns, concatenated."""
        return {name: np.concatenate(parts) for name, parts in table.items()}

    def start_spells(self, state: State, persons: np.ndarray, start_t: np.ndarray) -> None:
        """Open spells for `persons` (wage at the household's level)."""
        level = state.hf[state.pi[persons, L.HH], L.WAGE_LEVEL]
        rows = self.n_spells + np.arange(len(persons))
        self.add(
            self.spells,
            person=persons,
            start=start_t,
            job=state.pi[persons, L.JOB],
            wage=state.pf[persons, L.WAGE] * level,
        )
        self.open_spell[persons] = rows
        self.n_spells += len(persons)

    def record_month(self, state: State, rec: StepRecord, *, t: int, scale: float) -> None:
        """Store month t's claims, certificates, spells, events, income, assistance and outcomes."""
        self._claims(rec, t)
        cert = np.flatnonzero(rec.opi[:, L.CERT] > 0)
        self.add(self.certs, person=cert, t=np.full(len(cert), t), grade=rec.opi[cert, L.CERT])
        ended = np.flatnonzero(rec.opi[:, L.END_JOB] > 0)
        for row in self.open_spell[ended]:
            self.spell_end[int(row)] = t - 1
        self.open_spell[ended] = -1
        new = np.flatnonzero(rec.opi[:, L.NEW_SPELL] > 0)
        self.start_spells(state, new, np.full(len(new), t))
        if scale != 1.0 and len(new):
            self.spells["wage"][-1] = self.spells["wage"][-1] * scale
        self._events(state, rec, t)
        self._money(rec, t)
        self._outcomes(state, rec, t)
        open_case = (state.hi[:, L.MONITORED] == 0) | (rec.ohi[:, L.O_IDENTIFIED] > 0)
        self.qualifies.append((rec.ohi[:, L.O_QUALIFIES] > 0) & open_case)

    def _claims(self, rec: StepRecord, t: int) -> None:
        op, opi = rec.op, rec.opi
        inp = np.flatnonzero(opi[:, L.INP_KIND] > 0)
        chr_ = np.flatnonzero(op[:, L.CHR_COST] > 0)
        out = np.flatnonzero(op[:, L.OUT_COST] > 0)
        zeros = np.zeros
        self.add(
            self.claims,
            person=np.concatenate([inp, chr_, out]),
            t=np.full(len(inp) + len(chr_) + len(out), t),
            visit=np.concatenate([zeros(len(inp)), np.ones(len(chr_)), np.full(len(out), 2)]),
            total=np.concatenate([op[inp, L.INP_COST], op[chr_, L.CHR_COST], op[out, L.OUT_COST]]),
            basic=np.concatenate(
                [op[inp, L.INP_BASIC], op[chr_, L.CHR_BASIC], op[out, L.OUT_BASIC]]
            ),
            critical=np.concatenate([op[inp, L.INP_CRIT], zeros(len(chr_) + len(out))]),
            assist=np.concatenate([op[inp, L.INP_ASSIST], zeros(len(chr_) + len(out))]),
            oop=np.concatenate([op[inp, L.INP_OOP], op[chr_, L.CHR_OOP], op[out, L.OUT_OOP]]),
            diag=np.concatenate(
                [opi[inp, L.DIAG], 20 + opi[chr_, L.CHR_DIAG], np.full(len(out), 30)]
            ),
        )

    def _events(self, state: State, rec: StepRecord, t: int) -> None:
        person = np.flatnonzero(rec.opi[:, L.EVENT] > 0)
        hh_person = state.pi[person, L.HH]
        kind = rec.opi[person, L.EVENT]  # 1 death, 2 accident, 3 job loss
        disaster = np.flatnonzero(rec.ohi[:, L.O_DISASTER] > 0)
        house = np.flatnonzero(rec.ohi[:, L.O_DISASTER] == 2)
        biz = np.flatnonzero(rec.ohi[:, L.O_BIZ_FAIL] > 0)
        n_h = len(disaster) + len(house) + len(biz)
        self.add(
            self.events,
            household=np.concatenate([hh_person, disaster, house, biz]),
            person=np.concatenate([person, np.full(n_h, -1)]),
            t=np.full(len(person) + n_h, t),
            kind=np.concatenate(
                [kind, np.full(len(disaster), 4), np.full(len(house), 5), np.full(len(biz), 6)]
            ),
            loss=np.concatenate(
                [
                    np.where(kind == 2, rec.op[person, L.INP_COST], 0.0),
                    rec.oh[disaster, L.O_DISASTER_LOSS],
                    rec.oh[house, L.O_DISASTER_LOSS],
                    rec.oh[biz, L.O_BIZ_LOSS],
                ]
            ),
        )

    def _money(self, rec: StepRecord, t: int) -> None:
        oh = rec.oh
        alive = np.flatnonzero(oh[:, L.O_INC12] != 0)
        self.add(
            self.income,
            household=alive,
            t=np.full(len(alive), t, dtype=np.int32),
            wage=oh[alive, L.O_WAGE],
            biz_gross=oh[alive, L.O_BIZ_GROSS],
            biz_expense=oh[alive, L.O_BIZ_EXPENSE],
            prop=oh[alive, L.O_PROPERTY],
            transfer=oh[alive, L.O_TRANSFER],
        )
        kinds = (
            (L.O_DIBAO, 0),
            (L.O_TEKUN, 1),
            (L.O_RELIEF, 2),
            (L.O_MED_ASSIST, 3),
            (L.O_EDU_AID, 4),
            (L.O_ASSIST, 5),
        )
        for column, code in kinds:
            rows = np.flatnonzero(oh[:, column] > 0)
            self.add(
                self.assistance,
                household=rows,
                t=np.full(len(rows), t),
                kind=np.full(len(rows), code),
                amount=oh[rows, column],
            )

    def _outcomes(self, state: State, rec: StepRecord, t: int) -> None:
        elim = np.flatnonzero(rec.ohi[:, L.O_ELIMINATED] > 0)
        for row in self.open_outcome[elim]:
            self.outcome_end[int(row)] = t
        self.open_outcome[elim] = -1
        ident = np.flatnonzero(rec.ohi[:, L.O_IDENTIFIED] > 0)
        causes = risk_causes(state, ident, t=t)
        self.add(
            self.outcomes,
            household=ident,
            t=np.full(len(ident), t),
            category=rec.ohi[ident, L.O_CAT],
            channel=rec.ohi[ident, L.O_CHANNEL],
            causes=causes,
        )
        self.open_outcome[ident] = self.n_outcomes + np.arange(len(ident))
        self.n_outcomes += len(ident)


def risk_causes(state: State, households: np.ndarray, *, t: int) -> np.ndarray:
    """致贫返贫风险 of identified households from their recent shocks and members (`,`-joined)."""
    n = len(state.hi)
    pi, pf = state.pi, state.pf
    alive = pi[:, L.ALIVE] == 1
    hh = pi[:, L.HH]
    age = pi[:, L.AGE_M] / 12.0
    able = np.bincount(hh, weights=alive & can_work(pi, pf), minlength=n)[households]
    college = np.bincount(
        hh, weights=alive & (age >= 18) & (age < 22) & (pi[:, L.TRACK] == 3), minlength=n
    )[households]
    high = np.bincount(
        hh, weights=alive & (age >= 15) & (age < 18) & (pi[:, L.TRACK] > 0), minlength=n
    )[households]
    ill_now = np.bincount(hh, weights=alive & (pi[:, L.MAJOR] > 0), minlength=n)[households]
    severe = np.bincount(hh, weights=alive & np.isin(pi[:, L.DIS], [1, 2]), minlength=n)[households]
    chronic = np.bincount(hh, weights=alive & (pi[:, L.CHRONIC] == 1), minlength=n)[households]
    working = np.bincount(hh, weights=alive & (pi[:, L.JOB] > 0), minlength=n)[households]
    hi = state.hi[households]
    oop12 = state.oop_ring[households].sum(axis=1)
    inc12 = np.maximum(state.inc_ring[households].sum(axis=1), 1.0)
    flags = np.stack(
        [
            (hi[:, L.LAST_ILL] >= t - 12)
            | (ill_now > 0)
            | (oop12 > 0.12 * inc12)
            | ((chronic > 0) & (oop12 > 0.03 * inc12)),
            (hi[:, L.LAST_DIS] >= t - 24) | (severe > 0),
            (college > 0) | (high > 1),
            able == 0,
            (hi[:, L.LAST_JOB] >= t - 9) & (working == 0),
            hi[:, L.LAST_DISASTER] >= t - 12,
            hi[:, L.LAST_BIZ] >= t - 12,
            hi[:, L.LAST_ACC] >= t - 12,
            hi[:, L.HOUSE_BAD] > 0,
        ],
        axis=1,
    )
    names = np.array(RISK_TYPES)
    out = []
    for row in flags:
        chosen = names[:-1][row][:3]
        out.append(",".join(chosen) if len(chosen) else "其他")
    return np.array(out, dtype=object)
