"""risk.toml: defaults, overrides, the policy pack by province/county/year, and messages that start
with the section name."""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.tables import Tables
from risk.config import FanpinConfig, config_from_dict, load_config, require_policy


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


# --- the policy pack ------------------------------------------------------------------------

POLICY = """
[policy]
default_province = "某省"

[policy.provinces."某省"]
categories = ["脱贫不稳定户", "边缘易致贫户", "突发严重困难户", "低保边缘户"]
rigid_spending_share = 0.4

[policy.provinces."某省".2026]
monitoring_line = 8700
dibao_standard = 6000
rural_income_last_year = 21000
inpatient_push_other = 18000

[policy.provinces."另省".2026]
monitoring_line = 8000
dibao_standard = 5500
rural_income_last_year = 19000

[policy.counties."甲县"]
province = "另省"
outpatient_push_month = 400

[policy.counties."甲县".2026]
monitoring_line = 8200
rigid_spending_share = 0.3

[rules]
outpatient_push_month = 600
rigid_spending_share = 0.6
"""


def _tables(counties: list[str]) -> Tables:
    households = pd.DataFrame(
        {"household_id": [f"H{i}" for i in range(len(counties))], "county": counties}
    )
    members = pd.DataFrame({"person_id": [], "household_id": []}, dtype=str)
    return Tables(households=households, members=members, export_month=pd.Period("2026-10", "M"))


def test_policy_by_province_county_and_year(tmp_path: Path) -> None:
    path = tmp_path / "risk.toml"
    path.write_text(POLICY, encoding="utf-8")
    config = load_config(path)
    pack = config.policy
    assert config.rules.policy is pack and config.lines.pack is pack
    assert pack.province_of("甲县") == "另省" and pack.province_of("乙县") == "某省"
    assert config.lines.line_for("甲县", 2026) == 8200.0  # county-year
    assert config.lines.line_for("乙县", 2026) == 8700.0  # default province
    assert pack.amount("dibao_standard", "甲县", 2026) == 5500.0  # its province
    assert pack.amount("rural_income_last_year", "乙县", 2026) == 21000.0
    assert config.lines.by_county == {"甲县": {2026: 8200.0}}


@pytest.mark.parametrize(
    ("key", "county", "expected"),
    [
        ("rigid_spending_share", "甲县", 0.3),  # county-year wins
        ("outpatient_push_month", "甲县", 400.0),  # county, every year
        ("inpatient_push_other", "乙县", 18000.0),  # province-year
        ("rigid_spending_share", "乙县", 0.4),  # province, every year
        ("outpatient_push_month", "乙县", 600.0),  # [rules], everywhere
        ("stay_oop_other", "乙县", 10000.0),  # built-in default
        ("inpatient_push_other", "甲县", 20000.0),  # 另省 sets none: the default
    ],
)
def test_thresholds_take_the_most_specific_setting(key: str, county: str, expected: float) -> None:
    config = config_from_dict(tomllib.loads(POLICY))
    default = getattr(config.rules, key)
    assert config.policy.setting(key, county, 2026, default=default) == expected


def test_category_names_default_to_the_three_of_2021() -> None:
    config = config_from_dict(tomllib.loads(POLICY))
    assert config.policy.categories_for("乙县", 2026)[-1] == "低保边缘户"
    assert config.policy.categories_for("甲县", 2026) == (
        "脱贫不稳定户",
        "边缘易致贫户",
        "突发严重困难户",
    )


def test_a_missing_province_year_names_the_key_before_any_work() -> None:
    config = config_from_dict(tomllib.loads(POLICY))
    months = [pd.Period("2026-12", "M"), pd.Period("2027-01", "M"), pd.Period("2027-03", "M")]
    message = (
        r'^\[policy\.provinces\."另省"\.2027\] monitoring_line \(防止返贫监测线\) is missing: '
        r"needed to score 2027-01–2027-03 \(county 甲县\); add it to risk\.toml"
    )
    with pytest.raises(ConfigError, match=message) as raised:
        require_policy(config, _tables(["甲县", "乙县"]), months=months, doing="score")
    assert '[policy.provinces."某省".2027] dibao_standard' in str(raised.value)
    assert "2026]" not in str(raised.value)
    require_policy(config, _tables(["甲县", "乙县"]), months=months[:1], doing="score")
    with pytest.raises(ConfigError, match=r'^\[policy\.provinces\."某省"\.2027\] monitoring_line'):
        config.lines.line_for("乙县", 2027)  # never the nearest year


def test_old_sections_are_read_as_the_default_province() -> None:
    raw = {
        "lines": {"default": {"2025": 7600}, "counties": {"甲县": {"2025": 7800}}},
        "rules": {"rural_income_by_year": {"2024": 23119}, "stay_oop_other": 12000},
    }
    config = config_from_dict(raw)
    pack = config.policy
    assert not pack.nearest_year and pack.default_province == "默认省份"
    assert config.lines.line_for("甲县", 2025) == 7800.0
    assert config.lines.line_for("乙县", 2025) == 7600.0
    assert pack.amount("rural_income_last_year", "乙县", 2025) == 23119.0
    assert config.rules.stay_oop_other == 12000.0
    with pytest.raises(
        ConfigError, match=r'^\[policy\.provinces\."默认省份"\.2025\] dibao_standard'
    ):
        require_policy(config, _tables(["乙县"]), months=[pd.Period("2025-03", "M")])


def test_without_policy_figures_the_built_in_pack_takes_the_nearest_year() -> None:
    config = config_from_dict({"model": {"horizon": 6}})
    assert config.policy.nearest_year
    assert config.lines.line_for("甲县", 2040) == config.lines.line_for("甲县", 2027)
    require_policy(config, _tables(["甲县"]), months=[pd.Period("2040-01", "M")])


def test_the_rules_settings_stay_serialisable_for_the_run_id() -> None:
    config = config_from_dict(tomllib.loads(POLICY))
    text = json.dumps(asdict(config.rules), sort_keys=True, ensure_ascii=False, default=str)
    assert "另省" in text and "8200" in text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"policy": {"provinces": {"某省": {"dibao_standard": 6000}}}},
            r'^\[policy\.provinces\."某省"\] dibao_standard changes every year',
        ),
        (
            {"policy": {"provinces": {"某省": {"2026": {"dibao": 6000}}}}},
            r'^\[policy\.provinces\."某省"\.2026\] unknown key \'dibao\'',
        ),
        (
            {"policy": {"provinces": {"某省": {"2026": {"dibao_standard": -1}}}}},
            r'^\[policy\.provinces\."某省"\.2026\] dibao_standard: year',
        ),
        (
            {"policy": {"provinces": {"某省": {"2026": {"oop_share_other": 0}}}}},
            r'^\[policy\.provinces\."某省"\.2026\] oop shares',
        ),
        (
            {"policy": {"provinces": {"某省": {"categories": []}}}},
            r'^\[policy\.provinces\."某省"\] categories',
        ),
        (
            {"policy": {"counties": {"甲县": {"province": "他省"}}}},
            r'^\[policy\.counties\."甲县"\] belongs to province "他省"',
        ),
        ({"policy": {"default": "某省"}}, r"^\[policy\] unknown key"),
        (
            {
                "policy": {"provinces": {"某省": {"2025": {"monitoring_line": 7600}}}},
                "lines": {"default": {"2025": 7500}},
            },
            r"^\[lines\] default 2025: monitoring_line of 2025 is also set in \[policy\]",
        ),
    ],
)
def test_invalid_policy_tables_are_named(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_risk_score_stops_before_any_work_on_a_missing_province_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "features" / "contract"))
    from contract_frames import base_frames, write_directory  # noqa: PLC0415

    from risk.cli import main  # noqa: PLC0415

    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", "config-test-key")
    monkeypatch.chdir(tmp_path)
    data = write_directory(tmp_path / "county", base_frames())  # 甲县, data up to 2024-04
    config = tmp_path / "risk.toml"
    config.write_text(
        '[policy.provinces."某省".2023]\n'
        "monitoring_line = 7000\ndibao_standard = 5000\nrural_income_last_year = 20000\n",
        encoding="utf-8",
    )
    out = tmp_path / "runs" / "2024-04"
    argv = ["score", "--data", str(data), "--month", "2024-04", "--out", str(out)]
    with pytest.raises(SystemExit) as done:
        main([*argv, "--config", str(config), "--model", "models:/none/1"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert '[policy.provinces."某省".2024] monitoring_line (防止返贫监测线) is missing' in err
    assert "needed to score 2024-04 (county 甲县)" in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "runs").exists()
    # risk train checks every as-of month it would use before fitting anything
    train = ["train", "--data", str(data), "--out", str(tmp_path / "model")]
    with pytest.raises(SystemExit) as done:
        main([*train, "--config", str(config), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert '[policy.provinces."某省".2024] monitoring_line (防止返贫监测线) is missing' in err
    assert "needed to train" in err and "Traceback" not in err
    assert not (tmp_path / "model").exists() and not (tmp_path / "m.db").exists()
    # with the figures there, four months are too few to train: a clear message, exit 2
    config.write_text(config.read_text(encoding="utf-8").replace("2023]", "2024]"), "utf-8")
    with pytest.raises(SystemExit) as done:
        main([*train, "--config", str(config), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"])
    assert done.value.code == 2
    assert "not enough months for an out-of-time split" in capsys.readouterr().err


def test_always_list_names_rules_that_list_whatever_the_rank() -> None:
    config = config_from_dict({"warning": {"always_list": ["disaster_on_record", "dibao_edge"]}})
    assert config.warning.always_list == ("disaster_on_record", "dibao_edge")
    assert "dibao_edge" not in FanpinConfig().warning.always_list  # a broad screen by default
    with pytest.raises(
        ConfigError, match=r"\[warning\] always_list: unknown rule\(s\) \['flood'\]"
    ):
        config_from_dict({"warning": {"always_list": ["flood"]}})
    with pytest.raises(ConfigError, match="expected a list of rule names"):
        config_from_dict({"warning": {"always_list": "disaster_on_record"}})
