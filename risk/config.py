"""The one configuration object: typed, frozen, loaded from `risk.toml`, validated before work starts.

Sections (all optional; defaults apply):

```toml
[lines]                       # monitoring line, yuan per person per year
default = { 2024 = 7300, 2025 = 7600 }
[lines.counties."甲县"]
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

[privacy]
key_env = "FANPIN_PSEUDONYM_KEY"
key_file = ".fanpin/pseudonym.key"

[rules]                       # department screening rules (DOMAIN.md)
rural_income_by_year = { 2024 = 23119 }   # province's rural per-capita disposable income
oop_share_formerly_poor = 0.5
stay_oop_formerly_poor = 6000

[review]
store = "review.sqlite"
audit_sample = 20
token_env = "FANPIN_REVIEW_TOKEN"
```
Lower layers never read this: the CLI (or a notebook) loads it and passes plain values down.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from features.contract.errors import ConfigError
from features.contract.lines import DEFAULT_LINE_BY_YEAR, MonitoringLines
from features.rules import RuleParams


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
    sections = {"lines", "model", "warning", "privacy", "review", "rules"}
    unknown = set(raw) - sections
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; expected {sorted(sections)}")
    return FanpinConfig(
        lines=_lines(raw.get("lines", {})),
        model=_section("model", ModelConfig, raw.get("model", {})),
        warning=_warning(raw.get("warning", {})),
        privacy=_section("privacy", PrivacyConfig, raw.get("privacy", {})),
        review=_section("review", ReviewConfig, raw.get("review", {})),
        rules=_rules(raw.get("rules", {})),
    )


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
    section: WarningConfig = _section("warning", WarningConfig, values)
    check_operating_point(section)
    return section


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


def _lines(values: dict[str, Any]) -> MonitoringLines:
    def years(table: dict[str, Any], where: str) -> dict[int, float]:
        try:
            return {int(year): float(line) for year, line in table.items()}
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"[lines] {where}: expected year = yuan pairs, e.g. 2024 = 7300 ({error})"
            ) from error

    unknown = set(values) - {"default", "counties"}
    if unknown:
        raise ConfigError(
            f"[lines] unknown key(s) {sorted(unknown)}; expected default and counties"
        )
    default = years(values.get("default", {}), "default") or dict(DEFAULT_LINE_BY_YEAR)
    counties = {str(c): years(t, f'counties."{c}"') for c, t in values.get("counties", {}).items()}
    return MonitoringLines(default=default, by_county=counties)


def _rules(values: dict[str, Any]) -> RuleParams:
    values = dict(values)
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
