"""Shocks (突发事件): disasters, accidents, deaths, business failure, house damage, job loss, losses.

Losses are also summed by kind (disaster, death, business, other) so that rigid spending splits into
its causes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.tables import Tables
from features.panel import Cells, Grid, equals, month_codes
from features.sources import all_missing

NAMES = (
    "events_3m",
    "events_12m",
    "event_loss_3m",
    "event_loss_12m",
    "disaster_loss_12m",
    "death_loss_12m",
    "business_loss_12m",
    "other_event_loss_12m",
    "disasters_12m",
    "accidents_12m",
    "business_failures_3m",
    "business_failures_12m",
    "member_deaths_12m",
    "working_age_deaths_12m",
    "house_damage_12m",
    "job_loss_events_12m",
    "months_since_event",
)

_COUNT_BY_TYPE = {
    "disasters_12m": ("自然灾害", 12),
    "accidents_12m": ("意外事故", 12),
    "business_failures_3m": ("产业项目失败", 3),
    "business_failures_12m": ("产业项目失败", 12),
    "member_deaths_12m": ("家庭成员死亡", 12),
    "house_damage_12m": ("房屋损毁", 12),
    "job_loss_events_12m": ("失业", 12),
}
#: The parts of `event_loss_12m` (rigid spending by cause): event types whose losses they sum.
_LOSS_BY_TYPE = {
    "disaster_loss_12m": ("自然灾害", "房屋损毁"),
    "death_loss_12m": ("家庭成员死亡",),
    "business_loss_12m": ("产业项目失败",),
    "other_event_loss_12m": ("意外事故", "失业", "其他"),
}


def features(grid: Grid, tables: Tables) -> dict[str, np.ndarray]:
    """Shock features, as-of months × households (NaN without an events table)."""
    if tables.events is None:
        return all_missing(grid, NAMES)
    events = tables.events
    rows = grid.household_rows(events["household_id"])
    codes = month_codes(events["date"])
    loss = events["loss_amount"].fillna(0.0).to_numpy(dtype=float)
    n = grid.n_households
    cells = Cells(grid, rows, codes, n)
    counts = cells.count()
    losses = cells.total(loss)
    out = {
        "events_3m": grid.window_count(counts, 3),
        "events_12m": grid.window_count(counts, 12),
        "event_loss_3m": grid.window_sum(losses, 3),
        "event_loss_12m": grid.window_sum(losses, 12),
    }
    out["months_since_event"] = grid.months_since(rows, codes, n)
    for name, types in _LOSS_BY_TYPE.items():
        out[name] = grid.window_sum(cells.total(loss, equals(events["event_type"], types)), 12)
    for name, (wanted, months) in _COUNT_BY_TYPE.items():
        out[name] = grid.window_count(cells.count(equals(events["event_type"], wanted)), months)
    out["working_age_deaths_12m"] = grid.window_count(
        cells.count(_working_age_death(grid, events, codes)), 12
    )
    return {name: out[name] for name in NAMES}


def _working_age_death(grid: Grid, events: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Death events naming a member aged 16–64 in the month of the event."""
    if "person_id" not in events.columns:
        return np.zeros(len(events), dtype=bool)
    person_ids = events["person_id"].fillna("")
    people = grid.person_rows(person_ids)
    known = people >= 0
    age = np.full(len(events), -1)
    age[known] = np.floor_divide(codes[known] - grid.member_birth[people[known]], 12)
    return equals(events["event_type"], "家庭成员死亡") & known & (age >= 16) & (age <= 64)
