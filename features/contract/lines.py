"""Monitoring lines (监测范围/监测线): configuration keyed by region and year, never a constant in code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from features.contract.errors import ConfigError

#: Default per-capita yearly line (yuan) by year: rises every year, as the local lines do
#: (6,000 in 2020–2021 in the seed documents; 7,000–7,300 in 2022–2023 examples).
DEFAULT_LINE_BY_YEAR: Mapping[int, float] = MappingProxyType(
    {
        2019: 5800.0,
        2020: 6000.0,
        2021: 6000.0,
        2022: 6500.0,
        2023: 7000.0,
        2024: 7300.0,
        2025: 7600.0,
        2026: 7900.0,
        2027: 8200.0,
    }
)


@dataclass(frozen=True)
class MonitoringLines:
    """Per-capita yearly monitoring line by county and year.

    Parameters
    ----------
    default
        Year → line (yuan per person per year) for every county.
    by_county
        County name → (year → line); overrides `default` for that county and year.

    Years outside the configured range take the nearest configured year's line.

    Examples
    --------
    >>> lines = MonitoringLines(default={2022: 6500, 2023: 7000}, by_county={"甲县": {2023: 7300}})
    >>> lines.line_for("甲县", 2023), lines.line_for("乙县", 2023), lines.line_for("乙县", 2030)
    (7300.0, 7000.0, 7000.0)
    """

    default: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_LINE_BY_YEAR))
    by_county: Mapping[str, Mapping[int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.default:
            raise ConfigError("[lines] needs at least one year with a line, e.g. 2024 = 7300")
        for where, table in [("default", self.default), *self.by_county.items()]:
            for year, line in table.items():
                if not (1990 <= int(year) <= 2100) or not float(line) > 0:
                    raise ConfigError(
                        f"[lines] {where}: year {year!r} with line {line!r} is not valid; "
                        "expected a year between 1990 and 2100 and a positive amount in yuan"
                    )

    def line_for(self, county: str, year: int) -> float:
        """The line for one county and year."""
        table = self.by_county.get(county, {})
        if int(year) in table:
            return float(table[int(year)])
        return _nearest(self.default, int(year))

    def lookup(self, county: pd.Series, year: int | pd.Series) -> np.ndarray:
        """Vectorised `line_for` over aligned county (and year) series."""
        years = pd.Series(year, index=county.index) if np.isscalar(year) else year
        keys = pd.DataFrame({"county": county.to_numpy(), "year": np.asarray(years, dtype=int)})
        unique = keys.drop_duplicates()
        unique["line"] = [
            self.line_for(c, y) for c, y in zip(unique["county"], unique["year"], strict=True)
        ]
        merged = keys.merge(unique, on=["county", "year"], how="left")
        return merged["line"].to_numpy(dtype=float)


def _nearest(table: Mapping[int, float], year: int) -> float:
    years = sorted(int(y) for y in table)
    if year in table:
        return float(table[year])
    if year < years[0]:
        return float(table[years[0]])
    below = [y for y in years if y <= year]
    return float(table[below[-1]])
