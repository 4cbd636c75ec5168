"""risk.toml: defaults, overrides, and messages that start with the section name."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.contract.errors import ConfigError
from risk.config import FanpinConfig, config_from_dict, load_config


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == FanpinConfig()
    assert config.model.horizon == 6


def test_county_line_overrides_default(tmp_path: Path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text(
        '[lines]\ndefault = { 2024 = 7300 }\n[lines.counties."甲县"]\n2024 = 7500\n'
        "[warning]\ncapacity = 50\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.lines.line_for("甲县", 2024) == 7500.0
    assert config.lines.line_for("乙县", 2024) == 7300.0
    assert config.warning.capacity == 50 and config.warning.top_percent is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"modle": {}}, r"unknown section"),
        ({"model": {"horizon": 0}}, r"^\[model\] horizon"),
        ({"model": {"horizon": "six"}}, r"^\[model\] horizon = 'six'"),
        ({"warning": {"capacity": 5, "top_percent": 5.0}}, r"^\[warning\] give one of"),
        ({"warning": {"threshold": 1.5}}, r"^\[warning\] threshold"),
        ({"lines": {"default": {"2024": "much"}}}, r"^\[lines\] default"),
        ({"rules": {"rural_income_by_year": [1, 2]}}, r"^\[rules\] rural_income_by_year"),
    ],
)
def test_invalid_sections_are_named(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_pseudonym_key_from_env_or_created_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FANPIN_PSEUDONYM_KEY", raising=False)
    privacy = FanpinConfig().privacy
    key = privacy.pseudonym_key()
    assert key == privacy.pseudonym_key()  # stable across calls
    assert (tmp_path / ".fanpin" / "pseudonym.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "from-env")
    assert privacy.pseudonym_key() == b"from-env"
