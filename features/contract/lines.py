"""Policy figures by province, county and year: monitoring line, 低保 standard, last year's rural income.

Since 2026 each province sets its own figures every year (DOMAIN.md, "2025–2026"): the monitoring line
(监测线), the rural 低保 standard, last year's rural per-capita disposable income (the yardstick of
刚性支出困难), the monitoring categories in use and the thresholds of the department rules. A
`PolicyPack` holds them as `risk.toml` gives them (`risk.config` reads the file; see its docstring for
the TOML shape); a county may override its province. `MonitoringLines` is the view the features read:
the monitoring line by county and year.

A pack works in one of two modes:

- **strict** (every pack read from a risk.toml that sets policy figures): a province-year that the
  months being scored or trained reach must carry every amount of `YEARLY_AMOUNTS`. `require` checks
  them all before work starts, and each lookup checks its own; a missing one is a `ConfigError` naming
  the key (``[policy.provinces."某省".2027] dibao_standard … is missing …``). There is no nearest year
  and no silent default.
- **built-in** (no risk.toml, or one without policy figures: the tests, the simulator, ``make demo``):
  national figures, and a year outside them takes the nearest year's figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from features.contract.errors import ConfigError

#: Province of every county that risk.toml does not place in a province.
DEFAULT_PROVINCE = "默认省份"

#: The three monitoring categories of 2021, still used in 2026 local plans (DOMAIN.md).
DEFAULT_CATEGORIES: tuple[str, ...] = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")

#: Amounts that change every year; a strict pack needs each of them for every province-year it is
#: asked about. Key → 中文 label (yuan per person per year).
YEARLY_AMOUNTS: Mapping[str, str] = MappingProxyType(
    {
        "monitoring_line": "防止返贫监测线",
        "dibao_standard": "农村低保标准",
        "rural_income_last_year": "上年农村居民人均可支配收入",
    }
)

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

#: Rural 低保 standard (yuan per person per year), national year-end averages of 民政's statistics,
#: rounded to 10 yuan; only for the built-in pack. Configure the province's own standard.
DEFAULT_DIBAO_BY_YEAR: Mapping[int, float] = MappingProxyType(
    {2019: 5340.0, 2020: 5960.0, 2021: 6360.0, 2022: 6990.0, 2023: 7450.0}
)

#: Rural per-capita disposable income (yuan) by the year it describes, national figures of the
#: statistics bureau; the rules of year Y use the figure of Y − 1. Only for the built-in pack.
DEFAULT_RURAL_INCOME_BY_YEAR: Mapping[int, float] = MappingProxyType(
    {
        2019: 16021.0,
        2020: 17131.0,
        2021: 18931.0,
        2022: 20133.0,
        2023: 21691.0,
        2024: 23119.0,
        2025: 24400.0,
    }
)


@dataclass(frozen=True)
class RegionPolicy:
    """What risk.toml sets for one province or one county.

    Parameters
    ----------
    by_year
        Year → {key: value}: the yearly amounts (`YEARLY_AMOUNTS`) and any rule threshold for that year.
    every_year
        Rule thresholds that hold in every year (never a yearly amount).
    categories, categories_by_year
        Monitoring category names in use, for every year and for one year.
    province
        Counties only: the province the county belongs to ("" = the pack's default province).
    """

    by_year: Mapping[int, Mapping[str, float]] = field(default_factory=dict)
    every_year: Mapping[str, float] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    categories_by_year: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    province: str = ""


@dataclass(frozen=True)
class PolicyPack:
    """Policy figures by province and year, overridable per county.

    Parameters
    ----------
    provinces, counties
        Name → `RegionPolicy`. A county not listed belongs to `default_province` and has no overrides.
    default_province
        Province of the counties that do not name one.
    nearest_year
        True only for the built-in figures: a year without a figure takes the nearest year's. False
        (strict): a missing amount is a `ConfigError` naming the key.

    Examples
    --------
    >>> pack = PolicyPack(
    ...     provinces={"某省": RegionPolicy(by_year={2026: {"monitoring_line": 8700.0,
    ...         "dibao_standard": 6000.0, "rural_income_last_year": 21000.0}})},
    ...     counties={"甲县": RegionPolicy(by_year={2026: {"monitoring_line": 9000.0}})},
    ...     default_province="某省")
    >>> pack.amount("monitoring_line", "甲县", 2026), pack.amount("monitoring_line", "乙县", 2026)
    (9000.0, 8700.0)
    >>> pack.amount("dibao_standard", "甲县", 2027)
    Traceback (most recent call last):
    ...
    features.contract.errors.ConfigError: [policy.provinces."某省".2027] dibao_standard ...
    """

    provinces: Mapping[str, RegionPolicy] = field(default_factory=dict)
    counties: Mapping[str, RegionPolicy] = field(default_factory=dict)
    default_province: str = DEFAULT_PROVINCE
    nearest_year: bool = False

    def province_of(self, county: str) -> str:
        """The province of a county (the default province unless risk.toml names another)."""
        region = self.counties.get(county)
        return region.province if region is not None and region.province else self.default_province

    def amount(self, key: str, county: str, year: int) -> float:
        """A yearly amount of `YEARLY_AMOUNTS` for one county and year.

        Raises
        ------
        ConfigError
            Strict pack: the province-year (or the county's override) lacks this amount.
        """
        year = int(year)
        found = self._exact(key, county, year)
        if found is not None:
            return found
        if self.nearest_year:
            return self._nearest(key, county, year)
        raise ConfigError(missing_message([(self.province_of(county), year, key, county)]))

    def amounts(self, key: str, counties: pd.Series, year: int) -> np.ndarray:
        """`amount` for every county of a column (a missing county is in the default province)."""
        return _by_county(counties, lambda county: self.amount(key, county, year))

    def setting(self, key: str, county: str, year: int, *, default: float) -> float:
        """A rule threshold: county-year, county, province-year, province, else `default`."""
        for region in self._chain(county):
            for table in (region.by_year.get(int(year), {}), region.every_year):
                if key in table:
                    return float(table[key])
        return float(default)

    def settings(self, key: str, counties: pd.Series, year: int, *, default: float) -> np.ndarray:
        """`setting` for every county of a column."""
        return _by_county(counties, lambda county: self.setting(key, county, year, default=default))

    def categories_for(self, county: str, year: int) -> tuple[str, ...]:
        """Monitoring category names in use (the three 2021 categories unless configured)."""
        for region in self._chain(county):
            chosen = region.categories_by_year.get(int(year)) or region.categories
            if chosen:
                return tuple(chosen)
        return DEFAULT_CATEGORIES

    def missing(
        self, counties: Iterable[str], years: Iterable[int]
    ) -> list[tuple[str, int, str, str]]:
        """Yearly amounts a strict pack lacks: (province, year, key, first county needing it)."""
        if self.nearest_year:
            return []
        found: dict[tuple[str, int, str], str] = {}
        for year in sorted({int(y) for y in years}):
            for county in dict.fromkeys(counties):
                for key in YEARLY_AMOUNTS:
                    slot = (self.province_of(county), year, key)
                    if slot not in found and self._exact(key, county, year) is None:
                        found[slot] = county
        return [(p, y, k, c) for (p, y, k), c in found.items()]

    def require(
        self,
        counties: Iterable[str],
        years: Iterable[int],
        *,
        reach: str | Mapping[int, str] = "",
    ) -> None:
        """Raise one `ConfigError` naming every yearly amount the counties and years lack.

        Parameters
        ----------
        counties, years
            What the work ahead needs.
        reach
            Why they are needed, for the message ("needed to score 2027-03"), or one reason per year.
        """
        missing = self.missing(counties, years)
        if missing:
            raise ConfigError(missing_message(missing, reach=reach))

    def _chain(self, county: str) -> list[RegionPolicy]:
        chain = [self.counties[county]] if county in self.counties else []
        province = self.provinces.get(self.province_of(county))
        return [*chain, province] if province is not None else chain

    def _exact(self, key: str, county: str, year: int) -> float | None:
        for region in self._chain(county):
            value = region.by_year.get(year, {}).get(key)
            if value is not None:
                return float(value)
        return None

    def _nearest(self, key: str, county: str, year: int) -> float:
        province = self.province_of(county)
        region = self.provinces.get(province, RegionPolicy())
        table = {y: values[key] for y, values in region.by_year.items() if key in values}
        if not table:
            raise ConfigError(
                f'[policy.provinces."{province}"] {key} ({YEARLY_AMOUNTS.get(key, key)}) is not set '
                "for any year; add it to risk.toml"
            )
        return _nearest(table, year)


def missing_message(
    missing: list[tuple[str, int, str, str]], *, reach: str | Mapping[int, str] = ""
) -> str:
    """The message for missing yearly amounts: each key by its risk.toml table, why, and the fix."""
    parts = []
    for province, year, key, county in missing[:12]:
        why = (reach.get(year, "") if isinstance(reach, Mapping) else reach) or (
            f"needed for the months of {year}"
        )
        parts.append(
            f'[policy.provinces."{province}".{year}] {key} ({YEARLY_AMOUNTS.get(key, key)}) is '
            f"missing: {why} (county {county}); add it to risk.toml"
        )
    more = f"; and {len(missing) - 12} more" if len(missing) > 12 else ""
    return "; ".join(parts) + more + "。缺少该省该年度的政策参数，请在 risk.toml 中补充后重新运行。"


def check_amount(where: str, year: object, value: object) -> tuple[int, float]:
    """A (year, yuan) pair checked: a year in 1990–2100 and a positive amount."""
    try:
        pair = int(str(year)), float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pair = (0, 0.0)
    if not (1990 <= pair[0] <= 2100) or not pair[1] > 0:
        raise ConfigError(
            f"{where}: year {year!r} with amount {value!r} is not valid; "
            "expected a year between 1990 and 2100 and a positive amount in yuan"
        )
    return pair


def built_in_pack(
    *,
    lines: Mapping[int, float] = DEFAULT_LINE_BY_YEAR,
    lines_by_county: Mapping[str, Mapping[int, float]] | None = None,
    dibao: Mapping[int, float] = DEFAULT_DIBAO_BY_YEAR,
    rural_income: Mapping[int, float] = DEFAULT_RURAL_INCOME_BY_YEAR,
) -> PolicyPack:
    """The built-in (nearest-year) pack: one province, national figures unless given.

    `rural_income` is keyed by the year the income describes; the pack stores it under the next year
    (``rural_income_last_year``), the year whose rules use it.
    """
    by_year: dict[int, dict[str, float]] = {}
    for key, table, shift in (
        ("monitoring_line", lines, 0),
        ("dibao_standard", dibao, 0),
        ("rural_income_last_year", rural_income, 1),
    ):
        for year, value in table.items():
            by_year.setdefault(int(year) + shift, {})[key] = float(value)
    counties = {
        str(county): RegionPolicy(
            by_year={int(y): {"monitoring_line": float(v)} for y, v in table.items()}
        )
        for county, table in (lines_by_county or {}).items()
    }
    return PolicyPack(
        provinces={DEFAULT_PROVINCE: RegionPolicy(by_year=by_year)},
        counties=counties,
        nearest_year=True,
    )


@dataclass(frozen=True, init=False)
class MonitoringLines:
    """Per-capita yearly monitoring line by county and year: the features' view of a `PolicyPack`.

    Parameters
    ----------
    default
        Year → line (yuan per person per year) for every county (built-in figures when omitted).
    by_county
        County name → (year → line); overrides `default` for that county and year.
    pack
        Instead of the two above: the pack read from risk.toml (strict: a missing province-year is an
        error naming the key).

    Built from `default`/`by_county` (tests, the simulator, no risk.toml), years outside the configured
    range take the nearest configured year's line.

    Examples
    --------
    >>> lines = MonitoringLines(default={2022: 6500, 2023: 7000}, by_county={"甲县": {2023: 7300}})
    >>> lines.line_for("甲县", 2023), lines.line_for("乙县", 2023), lines.line_for("乙县", 2030)
    (7300.0, 7000.0, 7000.0)
    """

    pack: PolicyPack

    def __init__(
        self,
        default: Mapping[int, float] | None = None,
        by_county: Mapping[str, Mapping[int, float]] | None = None,
        *,
        pack: PolicyPack | None = None,
    ) -> None:
        if pack is None:
            pack = _lines_pack(
                DEFAULT_LINE_BY_YEAR if default is None else default, by_county or {}
            )
        elif default is not None or by_county is not None:
            raise TypeError("MonitoringLines: give either default/by_county or pack, not both")
        object.__setattr__(self, "pack", pack)

    @property
    def default(self) -> Mapping[int, float]:
        """Year → line of the default province (as configured)."""
        region = self.pack.provinces.get(self.pack.default_province, RegionPolicy())
        return _lines_of(region)

    @property
    def by_county(self) -> Mapping[str, Mapping[int, float]]:
        """County → (year → line) for every county the pack names, its province's lines included."""
        out: dict[str, dict[int, float]] = {}
        for county, region in self.pack.counties.items():
            province = self.pack.provinces.get(self.pack.province_of(county), RegionPolicy())
            out[county] = {**_lines_of(province), **_lines_of(region)}
        return out

    def line_for(self, county: str, year: int) -> float:
        """The line for one county and year."""
        return self.pack.amount("monitoring_line", county, int(year))

    def lookup(self, county: pd.Series, year: int | pd.Series) -> np.ndarray:
        """Vectorised `line_for` over aligned county (and year) series."""
        if np.isscalar(year):
            return self.pack.amounts("monitoring_line", county, int(year))  # type: ignore[arg-type]
        years = np.asarray(year, dtype=int)
        out = np.empty(len(county))
        for one in np.unique(years):
            rows = np.flatnonzero(years == one)
            out[rows] = self.pack.amounts("monitoring_line", county.iloc[rows], int(one))
        return out


def _lines_pack(
    default: Mapping[int, float], by_county: Mapping[str, Mapping[int, float]]
) -> PolicyPack:
    if not default:
        raise ConfigError("[lines] needs at least one year with a line, e.g. 2024 = 7300")
    for where, table in [("default", default), *by_county.items()]:
        for year, line in table.items():
            check_amount(f"[lines] {where}", year, line)
    return built_in_pack(lines=default, lines_by_county=by_county)


def _lines_of(region: RegionPolicy) -> dict[int, float]:
    return {
        year: float(values["monitoring_line"])
        for year, values in sorted(region.by_year.items())
        if "monitoring_line" in values
    }


def _by_county(counties: pd.Series, value_of: Callable[[str], float]) -> np.ndarray:
    """Apply `value_of` once per distinct county and spread it over the rows (missing → "")."""
    codes, names = pd.factorize(counties, use_na_sentinel=True)
    values = [value_of(str(name)) for name in names]
    if (codes < 0).any():
        values.append(value_of(""))  # code -1 picks this last value
    return np.asarray(values, dtype=float)[codes]


def _nearest(table: Mapping[int, float], year: int) -> float:
    years = sorted(int(y) for y in table)
    if year in table:
        return float(table[year])
    if year < years[0]:
        return float(table[years[0]])
    below = [y for y in years if y <= year]
    return float(table[below[-1]])
