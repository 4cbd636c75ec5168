"""Month indices, calendar months and money levels of a simulation run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.lines import DEFAULT_LINE_BY_YEAR, MonitoringLines
from simulation.dynamics import Calendar

#: Months simulated before the first written month so that trailing incomes and the monitored
#: population are in their steady state when the data begin.
BURN_IN = 12
#: Province rural per-capita disposable income in 2022 and its yearly growth (department rules).
PROVINCE_INCOME_2022 = 17000.0
PROVINCE_GROWTH = 1.06


@dataclass(frozen=True)
class Timeline:
    """Month index t = 0 … n-1; the written data cover t ≥ `BURN_IN`."""

    start: pd.Period  # month index 0
    n_months: int  # burn-in + written months
    lines: MonitoringLines
    downturn_onset: int | None = None  # month index at which a scheduled downturn begins

    @classmethod
    def build(
        cls, *, end: str | pd.Period, months: int, downturn_at: float | None = None
    ) -> Timeline:
        """The timeline whose written months are the `months` months ending at `end`.

        `downturn_at` (a share of the written months) schedules a downturn's onset: 0.45 of 36
        written months begins it in the 17th written month (index `BURN_IN + 16`).
        """
        last = pd.Period(end, freq="M")
        start = last - (months - 1) - BURN_IN
        onset = None if downturn_at is None else BURN_IN + int(round(downturn_at * months))
        return cls(
            start=start,
            n_months=months + BURN_IN,
            lines=MonitoringLines(DEFAULT_LINE_BY_YEAR),
            downturn_onset=onset,
        )

    @property
    def first_written(self) -> int:
        """Month index of the first written month."""
        return BURN_IN

    @property
    def end(self) -> pd.Period:
        """The last month."""
        return self.start + (self.n_months - 1)

    def period(self, t: int) -> pd.Period:
        """Calendar month of month index t."""
        return self.start + t

    def index(self, month: str | pd.Period) -> int:
        """Month index of a calendar month."""
        return (pd.Period(month, freq="M") - self.start).n

    def line(self, t: int) -> float:
        """The monitoring line in force in month t (the default lines, by calendar year)."""
        return self.lines.line_for("", self.period(t).year)

    def calendar(self, t: int) -> Calendar:
        """What the step needs to know about month t."""
        period = self.period(t)
        return Calendar(
            month_of_year=period.month,
            line=self.line(t),
            scale=self._smooth_line(t) / self._smooth_line(0),
            province_income=PROVINCE_INCOME_2022 * PROVINCE_GROWTH ** (period.year - 1 - 2022),
            line0=self.line(0),
            downturn_onset=t == self.downturn_onset,
        )

    def _smooth_line(self, t: int) -> float:
        """The line interpolated between mid-years: incomes grow smoothly while the line steps."""
        period = self.period(t)
        x = period.year + (period.month - 7) / 12.0
        years = np.arange(period.year - 1, period.year + 2)
        values = [self.lines.line_for("", int(y)) for y in years]
        return float(np.interp(x, years, values))
