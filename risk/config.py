"""The one configuration object: typed, frozen, loaded from `risk.toml`, validated before work starts.

Sections (all optional; defaults apply):

```toml
[policy]                      # the policy pack: figures by province and year, overridable per county
default_province = "某省"      # province of every county not placed below (default: the only
                              # province given, else "默认省份")

[policy.provinces."某省"]      # for every year of this province: rule thresholds, category names
categories = ["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"]   # the default
rigid_spending_share = 0.5

[policy.provinces."某省".2026] # one year: the three yearly amounts (yuan per person per year) —
monitoring_line = 8700        #   all three are required for every year the months to score or
dibao_standard = 6000         #   train reach — and any threshold for this year only
rural_income_last_year = 21000  # last year's rural per-capita disposable income (2025's figure)

[policy.counties."甲县"]       # a county: its province (else default_province) and overrides
province = "某省"
[policy.counties."甲县".2026]
monitoring_line = 9000

[lines]                       # before [policy]: read as the default province's monitoring_line
default = { 2024 = 7300, 2025 = 7600 }
[lines.counties."甲县"]        # … and as [policy.counties."甲县".<year>] monitoring_line
2024 = 7500

[model]
name = "fanpin"               # registered model name
horizon = 6                   # months ahead a label looks
valid_months = 3              # newest out-of-time months used for validation and the champion gate
tracking_uri = ""             # default: sqlite:///mlflow.db in the working directory

[warning]
top_percent = 5.0             # warn the top P % (or capacity = N, or threshold = 0.3)
tier_high = 0.30              # probability at or above: 高
tier_medium = 0.10            # at or above: 中, else 低
always_list = ["large_inpatient_stay", "inpatient_oop_push", "disaster_on_record"]
                              # rules that list a household whatever its rank, when they fire on a
                              # record of the month (default: features.rules.ALWAYS_LISTED_RULES)

[privacy]
key_env = "FANPIN_PSEUDONYM_KEY"
key_file = ".fanpin/pseudonym.key"

[rules]                       # department rule thresholds everywhere (DOMAIN.md; features.rules)
oop_share_formerly_poor = 0.5
stay_oop_formerly_poor = 6000
dibao_edge_multiple = 1.5     # 低保边缘: per-capita income below 1.5 × the 低保 standard
rigid_spending_share = 0.5    # 刚性支出困难: medical spending above this share of household income
inpatient_push_formerly_poor = 5000   # 医保 push: one stay's out-of-pocket, 脱贫户 / others
inpatient_push_other = 20000
outpatient_push_month = 500   # 医保 push: one person's outpatient out-of-pocket in a month
rural_income_by_year = { 2024 = 23119 }   # before [policy]: the default province's figure, used as
                              # rural_income_last_year of the next year (2025)

[review]
store = "review.sqlite"
audit_sample = 20
token_env = "FANPIN_REVIEW_TOKEN"

[lifecycle]                   # monitored households and those that left (risk.lifecycle; DOMAIN.md)
stable_income_months = 6      # ready to exit: the last 6 monthly income records all above the line
income_lookback_months = 12   #   (looked for in the last 12 months)
medical_oop_limit = 5000      # … medical out-of-pocket of the last 6 months below this (yuan)
shock_events = ["自然灾害", "家庭成员死亡", "房屋损毁", "意外事故"]   # … and none of these events
worsening_months = 3          # 风险加重: a shock, or income down by more than
income_fall_share = 0.2       #   this share, in the last 3 months since identification
exited_window_months = 24     # households that left monitoring this recently are watched
relapse_share = 0.1           # 消除后返贫风险: the most at risk tenth of them (or relapse_capacity = N)
```

**The policy pack.** Every rule threshold of `features.rules.REGIONAL_THRESHOLDS` may be set in
[rules] (everywhere), in a province or county table (every year there) or in one of their year tables;
the most specific wins (county-year, county, province-year, province, [rules], built-in default). The
three yearly amounts (`features.contract.lines.YEARLY_AMOUNTS`) are set per year only: once risk.toml
sets any policy figure ([policy], [lines] or [rules] rural_income_by_year), a province-year that the
months to score or train reach must carry all three, else a `ConfigError` names the key, e.g.
``[policy.provinces."某省".2027] dibao_standard (农村低保标准) is missing: needed to score 2027-03``.
No nearest year is taken and no national figure fills in. `require_policy` checks this before any
work; the lookups check it again. A county belongs to the province its table names, else to the
default province.

**Old files.** [lines] and [rules] keep working, read as the default province (a file with
[policy] may keep them; a figure given both ways is an error). They cannot hold a 低保 standard, so a
file that has only them must add ``[policy.provinces."默认省份".<year>] dibao_standard`` for the years
it scores — the error says so.

**Without policy figures** (no risk.toml, or one without [policy], [lines] and rural_income_by_year)
the built-in national figures apply (`features.contract.lines`), and a year outside them takes the
nearest year's: that is for the tests, the simulator and ``make demo``, not for a county's real run.

Lower layers never read this: the CLI (or a notebook) loads it and passes plain values down.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from features.contract.errors import ConfigError
from features.contract.lines import (
    DEFAULT_PROVINCE,
    YEARLY_AMOUNTS,
    MonitoringLines,
    PolicyPack,
    RegionPolicy,
    check_amount,
)
from features.contract.schema import EVENTS
from features.contract.tables import Tables
from features.rules import (
    ALWAYS_LISTED_RULES,
    REGIONAL_THRESHOLDS,
    RULE_NAMES,
    RuleParams,
    check_thresholds,
)
from risk.lifecycle import LifecycleParams


@dataclass(frozen=True)
class ModelConfig:
    name: str = "fanpin"
    horizon: int = 6
    valid_months: int = 3
    tracking_uri: str = ""

    def resolved_tracking_uri(self) -> str:
        """`--tracking-uri`/config, else `MLFLOW_TRACKING_URI`, else an embedded SQLite store here."""
        if self.tracking_uri:
            return self.tracking_uri
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


@dataclass(frozen=True)
class WarningConfig:
    capacity: int | None = None
    top_percent: float | None = 5.0
    threshold: float | None = None
    tier_high: float = 0.30
    tier_medium: float = 0.10
    always_list: tuple[str, ...] = ALWAYS_LISTED_RULES


@dataclass(frozen=True)
class PrivacyConfig:
    key_env: str = "FANPIN_PSEUDONYM_KEY"
    key_file: str = ".fanpin/pseudonym.key"

    def pseudonym_key(self) -> bytes:
        """The keyed-hash key: from the environment, else a local key file created once (mode 0600)."""
        from_env = os.environ.get(self.key_env)
        if from_env:
            return from_env.encode("utf-8")
        path = Path(self.key_file)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32), encoding="ascii")
            path.chmod(0o600)
        return path.read_text(encoding="ascii").strip().encode("ascii")


@dataclass(frozen=True)
class ReviewConfig:
    store: str = "review.sqlite"
    audit_sample: int = 20
    token_env: str = "FANPIN_REVIEW_TOKEN"


@dataclass(frozen=True)
class FanpinConfig:
    lines: MonitoringLines = field(default_factory=MonitoringLines)
    model: ModelConfig = field(default_factory=ModelConfig)
    warning: WarningConfig = field(default_factory=WarningConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    rules: RuleParams = field(default_factory=RuleParams)
    lifecycle: LifecycleParams = field(default_factory=LifecycleParams)

    @property
    def policy(self) -> PolicyPack:
        """The policy pack: figures by province, county and year (see the module docstring)."""
        return self.rules.pack()

    def with_warning(self, **changes: Any) -> FanpinConfig:
        """A copy with the operating point replaced (used by CLI options)."""
        return replace(self, warning=replace(self.warning, **changes))


def load_config(path: str | Path | None = None) -> FanpinConfig:
    """Load and validate `risk.toml` (the given path, else ./risk.toml if present, else defaults)."""
    candidate = Path(path) if path else Path("risk.toml")
    if path and not candidate.exists():
        raise ConfigError(f"config file {candidate} does not exist")
    if not candidate.exists():
        return FanpinConfig()
    try:
        raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{candidate}: not valid TOML: {error}") from error
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> FanpinConfig:
    """Build the config from a parsed TOML mapping, checking each section before any work starts."""
    sections = {"lines", "model", "warning", "privacy", "review", "rules", "policy", "lifecycle"}
    unknown = set(raw) - sections
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; expected {sorted(sections)}")
    rules = _rules(raw.get("rules", {}))
    pack = _policy(raw)
    if pack is not None:
        rules = replace(rules, policy=pack)
    return FanpinConfig(
        lines=MonitoringLines(pack=pack) if pack is not None else MonitoringLines(),
        model=_section("model", ModelConfig, raw.get("model", {})),
        warning=_warning(raw.get("warning", {})),
        privacy=_section("privacy", PrivacyConfig, raw.get("privacy", {})),
        review=_section("review", ReviewConfig, raw.get("review", {})),
        rules=rules,
        lifecycle=_lifecycle(raw.get("lifecycle", {})),
    )


def _lifecycle(values: dict[str, Any]) -> LifecycleParams:
    """`[lifecycle]`: the exit conditions and the relapse watch (`risk.lifecycle.LifecycleParams`)."""
    if "shock_events" in values:
        kinds = values["shock_events"]
        allowed = EVENTS.column("event_type").allowed
        if not isinstance(kinds, list) or not all(k in allowed for k in kinds):
            raise ConfigError(
                f"[lifecycle] shock_events = {kinds!r}: expected a list of event kinds "
                f"(突发事件类型) among {list(allowed)}"
            )
        values = {**values, "shock_events": tuple(kinds)}
    section: LifecycleParams = _section("lifecycle", LifecycleParams, values)
    months = (section.stable_income_months, section.income_lookback_months,
              section.worsening_months, section.exited_window_months)  # fmt: skip
    if not all(1 <= m <= 60 for m in months):
        raise ConfigError("[lifecycle] month counts must be 1–60")
    if section.stable_income_months > section.income_lookback_months:
        raise ConfigError("[lifecycle] stable_income_months must not exceed income_lookback_months")
    if not 0.0 <= section.relapse_share <= 1.0 or not 0.0 < section.income_fall_share < 1.0:
        raise ConfigError("[lifecycle] relapse_share must be 0–1 and income_fall_share in (0, 1)")
    if section.relapse_capacity is not None and section.relapse_capacity < 0:
        raise ConfigError("[lifecycle] relapse_capacity must be ≥ 0")
    return section


def _section(name: str, cls: type, values: dict[str, Any]) -> Any:
    declared = {f.name: f for f in fields(cls)}
    allowed = set(declared)
    unknown = set(values) - allowed
    if unknown:
        raise ConfigError(f"[{name}] unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        section = cls(**values)
    except TypeError as error:
        raise ConfigError(f"[{name}] {error}") from error
    for key, value in values.items():
        default = declared[key].default
        if default is MISSING:
            continue
        wrong_type = not isinstance(value, type(default))
        int_for_float = isinstance(default, float) and isinstance(value, int)
        if default is not None and value is not None and wrong_type and not int_for_float:
            raise ConfigError(f"[{name}] {key} = {value!r}: expected a {type(default).__name__}")
    if name == "model" and not (1 <= section.horizon <= 24 and 1 <= section.valid_months <= 12):
        raise ConfigError("[model] horizon must be 1–24 months and valid_months 1–12")
    return section


def _warning(values: dict[str, Any]) -> WarningConfig:
    chosen = [k for k in ("capacity", "top_percent", "threshold") if k in values]
    if len(chosen) > 1:
        raise ConfigError(f"[warning] give one of capacity, top_percent, threshold; got {chosen}")
    if chosen and chosen[0] != "top_percent":
        values = {"top_percent": None, **values}
    if "always_list" in values:
        values = {**values, "always_list": _rule_names(values["always_list"])}
    section: WarningConfig = _section("warning", WarningConfig, values)
    check_operating_point(section)
    return section


def _rule_names(value: Any) -> tuple[str, ...]:
    """`[warning] always_list`: a list of department rule names (features.rules.RULE_NAMES)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[warning] always_list = {value!r}: expected a list of rule names")
    unknown = sorted(set(value) - set(RULE_NAMES))
    if unknown:
        raise ConfigError(
            f"[warning] always_list: unknown rule(s) {unknown}; known: {', '.join(RULE_NAMES)}"
        )
    return tuple(value)


def check_operating_point(section: WarningConfig) -> None:
    """Validate capacity / top_percent / threshold and the tier cut-offs."""
    if section.capacity is not None and section.capacity < 1:
        raise ConfigError(
            f"[warning] capacity must be a positive number of households, got {section.capacity}"
        )
    if section.top_percent is not None and not 0 < section.top_percent <= 100:
        raise ConfigError(f"[warning] top_percent must be in (0, 100], got {section.top_percent}")
    if section.threshold is not None and not 0 < section.threshold < 1:
        raise ConfigError(
            f"[warning] threshold must be a probability in (0, 1), got {section.threshold}"
        )
    if not 0 < section.tier_medium < section.tier_high < 1:
        raise ConfigError("[warning] expected 0 < tier_medium < tier_high < 1")


def _rules(values: dict[str, Any]) -> RuleParams:
    values = dict(values)
    if "policy" in values:
        raise ConfigError("[rules] policy: put the policy pack in its own [policy] section")
    if "rural_income_by_year" in values:
        table = values["rural_income_by_year"]
        try:
            values["rural_income_by_year"] = {int(y): float(v) for y, v in table.items()}
        except (AttributeError, TypeError, ValueError) as error:
            raise ConfigError(
                "[rules] rural_income_by_year: expected year = yuan pairs, e.g. { 2024 = 23119 }"
            ) from error
    params: RuleParams = _section("rules", RuleParams, values)
    return params


# --- the policy pack ---------------------------------------------------------------------------


def _policy(raw: dict[str, Any]) -> PolicyPack | None:
    """The strict pack from [policy], [lines] and [rules] rural_income_by_year; None without them."""
    legacy_income = _table("[rules]", raw.get("rules", {})).get("rural_income_by_year")
    if "policy" not in raw and "lines" not in raw and legacy_income is None:
        return None
    section = _table("[policy]", raw.get("policy", {}))
    unknown = set(section) - {"default_province", "provinces", "counties"}
    if unknown:
        raise ConfigError(
            f"[policy] unknown key(s) {sorted(unknown)}; expected default_province, provinces, "
            "counties"
        )
    provinces = _regions(section.get("provinces", {}), kind="provinces")
    counties = _regions(section.get("counties", {}), kind="counties")
    default = _default_province(section, provinces)
    _merge_legacy_lines(raw.get("lines", {}), provinces, counties, default=default)
    if legacy_income is not None:
        _merge_legacy_income(legacy_income, provinces, default=default)
    _check_county_provinces(counties, provinces, default=default)
    return PolicyPack(
        provinces={name: _freeze(region) for name, region in provinces.items()},
        counties={name: _freeze(region) for name, region in counties.items()},
        default_province=default,
        nearest_year=False,
    )


def _default_province(section: dict[str, Any], provinces: Mapping[str, Any]) -> str:
    if "default_province" in section:
        name = section["default_province"]
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"[policy] default_province = {name!r}: expected a province name")
        return name.strip()
    return next(iter(provinces)) if len(provinces) == 1 else DEFAULT_PROVINCE


def _table(where: str, value: object) -> dict[str, Any]:
    """`value` when it is a TOML table, else an error naming `where`."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table, got {value!r}")
    return value


def _regions(tables: object, *, kind: str) -> dict[str, dict[str, Any]]:
    """Province or county name → {"by_year", "every_year", "categories", ...} as plain dicts."""
    return {
        str(name).strip(): _region(f'[policy.{kind}."{str(name).strip()}"]', table, kind=kind)
        for name, table in _table(f"[policy.{kind}]", tables).items()
    }


def _region(where: str, table: object, *, kind: str) -> dict[str, Any]:
    region = _empty_region()
    for key, value in _table(where, table).items():
        if str(key).isdigit():
            year = check_amount(f"{where} {key}", key, 1)[0]
            values, categories = _year_table(f"{where[:-1]}.{year}]", value)
            region["by_year"][year] = values
            if categories:
                region["categories_by_year"][year] = categories
        elif key in REGIONAL_THRESHOLDS:
            region["every_year"][key] = value
        elif key == "categories":
            region["categories"] = _categories(f"{where} categories", value)
        elif key == "province" and kind == "counties":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{where} province = {value!r}: expected a province name")
            region["province"] = value.strip()
        elif key in YEARLY_AMOUNTS:
            raise ConfigError(
                f"{where} {key} changes every year: give it in a year table, e.g. "
                f"{where[:-1]}.2026] {key} = …"
            )
        else:
            allowed = ["<year>", "categories", *REGIONAL_THRESHOLDS]
            allowed += ["province"] if kind == "counties" else []
            raise ConfigError(f"{where} unknown key {key!r}; allowed: {allowed}")
    check_thresholds(where, region["every_year"])
    return region


def _year_table(where: str, table: object) -> tuple[dict[str, float], tuple[str, ...]]:
    values: dict[str, float] = {}
    categories: tuple[str, ...] = ()
    for key, value in _table(where, table).items():
        if key in YEARLY_AMOUNTS:
            values[key] = check_amount(f"{where} {key}", where.rsplit(".", 1)[-1][:-1], value)[1]
        elif key in REGIONAL_THRESHOLDS:
            values[key] = value
        elif key == "categories":
            categories = _categories(f"{where} categories", value)
        else:
            allowed = ["categories", *YEARLY_AMOUNTS, *REGIONAL_THRESHOLDS]
            raise ConfigError(f"{where} unknown key {key!r}; allowed: {allowed}")
    check_thresholds(where, {k: v for k, v in values.items() if k in REGIONAL_THRESHOLDS})
    return {k: float(v) for k, v in values.items()}, categories


def _categories(where: str, value: object) -> tuple[str, ...]:
    names = value if isinstance(value, list) else None
    if not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError(f"{where} = {value!r}: expected a list of category names")
    cleaned = tuple(n.strip() for n in names)
    if len(set(cleaned)) != len(cleaned):
        raise ConfigError(f"{where} = {value!r}: a category is named twice")
    return cleaned


def _merge_legacy_lines(
    section: object,
    provinces: dict[str, dict[str, Any]],
    counties: dict[str, dict[str, Any]],
    *,
    default: str,
) -> None:
    """[lines] default → the default province's monitoring_line; [lines.counties] → the counties'."""
    table = _table("[lines]", section)
    unknown = set(table) - {"default", "counties"}
    if unknown:
        raise ConfigError(
            f"[lines] unknown key(s) {sorted(unknown)}; expected default and counties"
        )
    targets = [("default", table.get("default", {}), provinces, default)]
    for county, years in _table("[lines] counties", table.get("counties", {})).items():
        targets.append((f'counties."{county}"', years, counties, str(county).strip()))
    for where, pairs, regions, name in targets:
        for year, line in _year_pairs(f"[lines] {where}", pairs).items():
            region = regions.setdefault(name, _empty_region())
            _set_once(region, year, "monitoring_line", line, where=f"[lines] {where} {year}")


def _merge_legacy_income(
    table: Mapping[int, float], provinces: dict[str, Any], *, default: str
) -> None:
    """[rules] rural_income_by_year Y → the default province's rural_income_last_year of Y + 1."""
    region = provinces.setdefault(default, _empty_region())
    for year, value in table.items():
        where = f"[rules] rural_income_by_year {year}"
        amount = check_amount(where, year, value)[1]
        _set_once(region, int(year) + 1, "rural_income_last_year", amount, where=where)


def _year_pairs(where: str, table: object) -> dict[int, float]:
    try:
        pairs = {int(year): float(line) for year, line in _table(where, table).items()}
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{where}: expected year = yuan pairs, e.g. 2024 = 7300 ({error})"
        ) from error
    return dict(check_amount(where, year, line) for year, line in pairs.items())


def _set_once(region: dict[str, Any], year: int, key: str, value: float, *, where: str) -> None:
    values = region["by_year"].setdefault(year, {})
    if key in values:
        raise ConfigError(
            f"{where}: {key} of {year} is also set in [policy]; keep it in one place "
            "(the [policy] tables)"
        )
    values[key] = value


def _empty_region() -> dict[str, Any]:
    return {
        "by_year": {},
        "every_year": {},
        "categories": (),
        "categories_by_year": {},
        "province": "",
    }


def _check_county_provinces(
    counties: Mapping[str, Mapping[str, Any]], provinces: Mapping[str, Any], *, default: str
) -> None:
    for county, region in counties.items():
        province = region["province"] or default
        if province not in provinces:
            raise ConfigError(
                f'[policy.counties."{county}"] belongs to province "{province}", which has no '
                f'[policy.provinces."{province}"] table; add it, or set province = "…" / '
                "[policy] default_province"
            )


def _freeze(region: Mapping[str, Any]) -> RegionPolicy:
    return RegionPolicy(
        by_year={int(y): dict(v) for y, v in sorted(region["by_year"].items())},
        every_year={k: float(v) for k, v in region["every_year"].items()},
        categories=tuple(region["categories"]),
        categories_by_year=dict(sorted(region["categories_by_year"].items())),
        province=region["province"],
    )


def require_policy(
    config: FanpinConfig, tables: Tables, *, months: Iterable[pd.Period], doing: str = "score"
) -> None:
    """Before any work: every figure the months need, for every county of the data.

    Parameters
    ----------
    config
        The loaded configuration (a built-in pack never misses: it takes the nearest year).
    tables
        The loaded data; their households' counties are checked.
    months
        The as-of months about to be scored or trained.
    doing
        "score" or "train", for the message.

    Raises
    ------
    ConfigError
        One message naming every missing key, e.g. ``[policy.provinces."某省".2027] dibao_standard
        (农村低保标准) is missing: needed to score 2027-03 (county 甲县); add it to risk.toml``.
    """
    chosen = sorted(set(months))
    if not chosen:
        return
    county = tables.households["county"]
    counties = [str(c) for c in pd.unique(county.dropna())] + ([""] if county.isna().any() else [])
    reach = {}
    for year in sorted({m.year for m in chosen}):
        inside = [m for m in chosen if m.year == year]
        span = f"{inside[0]}" if len(inside) == 1 else f"{inside[0]}–{inside[-1]}"
        reach[year] = f"needed to {doing} {span}"
    packs = [config.policy]
    if config.lines.pack is not config.policy:
        packs.append(config.lines.pack)
    for pack in packs:
        pack.require(counties, reach, reach=reach)
