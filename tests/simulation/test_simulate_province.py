"""`risk simulate --layout province` (issue 14, item 5): a folder of county folders, per seed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from features.contract.errors import ConfigError
from features.contract.io import validate_directory
from features.contract.province import county_folders
from simulation.population import COUNTY_CODES, COUNTY_NAMES, PROVINCE_COUNTIES
from simulation.province import county_seed, county_sizes, province_plan, write_province

PROVINCE = {"households": 600, "counties": 3, "months": 14, "seed": 3, "truth": False}
EXPORT = "2026-08"
KEY = b"test-province-key"

#: sha256 of every file `risk simulate --out D --households 600 --months 14 --seed 3 --counties 2
#: --export-at 2026-08 --format csv` wrote before the province layout existed: the county layout
#: must stay byte-identical (`_truth/truth.parquet`: since its `cause` is dated by the first record
#: that shows it, and an income check shows only the months it records, `simulation.causes`).
COUNTY_LAYOUT_DIGESTS = {
    "_cases/办理步骤.xlsx": "d3aa1fcb06184813258e505d1c0cca164c0b87454617c229d7667ef7cf371a9f",
    "_truth/cases.parquet": "7dd01c6d73ad2b0bc3a6ef0ff6f7c351d5888d9dc1386fa980534f7edf55dc0b",
    "_truth/truth.parquet": "dd49131845665859719e6aba7aaae4b6d10feb04623593e8efa65937d93d086d",
    "assistance.csv": "be27082cddb7385bfc1bf75334ba570319379cc5996d5ef93f3c50cb29af1408",
    "disability.csv": "136db96013813d1fb710c7bae87edd22d5ddc936ea8f8a36ece78aa39741fff1",
    "employment.csv": "e1a5e9dd7670bc98860d74c6e9ce3d9dea330b57170ddbbd31b60dbd80fb7502",
    "events.csv": "d7c36b91d701de89813f376e80004a353b9155831aee986d5f5524de0999ee3a",
    "export_2026-08/assistance.csv": "14f8ac4ffe430ddb3111acaf8d7a070fee4631dd2aa9f672af2595754584f77c",
    "export_2026-08/disability.csv": "136db96013813d1fb710c7bae87edd22d5ddc936ea8f8a36ece78aa39741fff1",
    "export_2026-08/employment.csv": "afffd1999313665cbb5d7a32a0924c9dc48df483c9b826ee01b2e8ef77e017b8",
    "export_2026-08/events.csv": "09954ebde9103cd6a1d606f6b30f28c90e8d34c272477b4548cb553a5553d5a3",
    "export_2026-08/households.csv": "33482a7c8a3e5cebfd7acb62d052346e61c1dcfe2a9d0ae677f7db8584ddace0",
    "export_2026-08/income.csv": "7514181b5a85df04aa07d38910cdc9e6e4588f0ab79658661b0f52bfc13677bc",
    "export_2026-08/medical.csv": "e5ab69f403d6bd41965ca7721526e1c7142b3dd779f91ca20ec4d62e9110e5ff",
    "export_2026-08/members.csv": "291a186fb6b08770453dcc763ff8bdee8c368341c6b9a6e1278b3e46e1fb4cff",
    "export_2026-08/outcomes.csv": "8e4cf52a1ffd17e049067a5952b1715b11ea69362d403dba61d9f2ffc585125e",
    "households.csv": "33482a7c8a3e5cebfd7acb62d052346e61c1dcfe2a9d0ae677f7db8584ddace0",
    "income.csv": "8456915c3f065adcad39ad987a2f230e2ae0f1be6e91ea940bdf7b73db9775dc",
    "medical.csv": "30ba265dcd6bf8b13c58bd19abc379f262712c9c4c17b62c5045e0064cfe144c",
    "members.csv": "71bb6fd9683f7dc5dbfff7991ee733afb72e58c6184234803488cd8e363de2dc",
    "outcomes.csv": "a24f24ea87197bbed1c2df87cdf24c2701c46658747219287aa357915bb344b1",
}  # fmt: skip


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _cli(args: list[str]) -> str:
    from typer.testing import CliRunner

    from risk.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["simulate", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 counties × 600 households × 14 months, no truth, with the 2026-08 export (via the CLI)."""
    out = tmp_path_factory.mktemp("province") / "省"
    _cli(
        [
            "--out", str(out), "--layout", "province", "--counties", "3",
            "--households", "600", "--months", "14", "--seed", "3", "--no-truth",
            "--export-at", EXPORT,
        ]
    )  # fmt: skip
    return out


def _read(province: Path, table: str) -> pd.DataFrame:
    frames = []
    for county in county_folders(province) or []:
        frame = pd.read_parquet(county.path / f"{table}.parquet")
        frames.append(frame.assign(folder=county.name))
    return pd.concat(frames, ignore_index=True)


def test_same_seed_same_bytes(province: Path, tmp_path: Path) -> None:
    write_province(tmp_path / "again", export_at=(EXPORT,), **PROVINCE)
    first, again = _digest(province), _digest(tmp_path / "again")
    assert first == again
    assert len(first) == 2 * 3 * 9  # 9 tables per county, at the end and as exported


def test_another_seed_other_data(province: Path, tmp_path: Path) -> None:
    write_province(tmp_path / "other", **{**PROVINCE, "seed": 4})
    name = f"{COUNTY_NAMES[0]}/members.parquet"
    assert _digest(tmp_path / "other")[name] != _digest(province)[name]
    assert county_seed(4, 0) != county_seed(3, 0) != county_seed(3, 1)


def test_county_folders_finds_exactly_the_counties(province: Path) -> None:
    found = county_folders(province)
    assert found is not None
    assert sorted(c.name for c in found) == sorted(COUNTY_NAMES[:3])
    exported = county_folders(province / f"export_{EXPORT}")  # the export is itself a province
    assert exported is not None and [c.name for c in exported] == [c.name for c in found]


def test_counties_have_the_planned_unequal_sizes(province: Path) -> None:
    households = _read(province, "households")
    sizes = households.groupby("folder").size()
    plan = {c.name: c.households for c in province_plan(households=600, counties=3, seed=3)}
    assert sizes.to_dict() == plan
    assert sizes.sum() == 600 and sizes.nunique() == 3
    assert (households["county"] == households["folder"]).all()


def test_ids_unique_across_the_province(province: Path) -> None:
    households = _read(province, "households")
    members = _read(province, "members")
    assert households["household_id"].is_unique
    assert members["person_id"].is_unique
    codes = dict(PROVINCE_COUNTIES)
    prefixes = households["folder"].map(codes)
    assert all(h.startswith(p) for h, p in zip(households["household_id"], prefixes, strict=True))
    home = members.set_index("person_id")["folder"]
    for table in ("medical", "disability", "employment"):
        records = _read(province, table)
        known = records["person_id"].map(home)
        assert (known.dropna() == records.loc[known.notna(), "folder"]).all(), table


def test_every_county_folder_is_a_valid_directory(province: Path) -> None:
    for root in (province, province / f"export_{EXPORT}"):
        for county in county_folders(root) or []:
            report = validate_directory(county.path, pseudonym_key=KEY)
            assert report.ok and not report.errors, (county.name, report.errors)


def test_truth_and_cases_inside_each_county(tmp_path: Path) -> None:
    options = {**PROVINCE, "truth": True, "counties": 2, "households": 200, "months": 10}
    summary = write_province(tmp_path / "p", draws=5, **options)
    for county in summary.counties:
        folder = tmp_path / "p" / county.name
        truth = pd.read_parquet(folder / "_truth" / "truth.parquet")
        households = pd.read_parquet(folder / "households.parquet")
        assert set(truth["household_id"]) <= set(households["household_id"])
        assert (folder / "_cases" / "办理步骤.xlsx").is_file()
    assert [c.name for c in county_folders(tmp_path / "p") or []] == sorted(COUNTY_NAMES[:2])


def test_sizes_sum_and_stay_above_the_minimum() -> None:
    sizes = county_sizes(1_000_000, 50, seed=0)
    assert sizes.sum() == 1_000_000 and sizes.min() >= 10
    assert sizes.max() > 3 * sizes.min()  # unequal, as real counties are
    assert (county_sizes(1_000_000, 50, seed=0) == sizes).all()
    assert len(province_plan(households=88_000, counties=len(PROVINCE_COUNTIES), seed=1)) == 88
    assert len({code for _, code in PROVINCE_COUNTIES}) == len(PROVINCE_COUNTIES)
    assert all(code.startswith("52") and len(code) == 6 for _, code in PROVINCE_COUNTIES)
    assert tuple(code for _, code in PROVINCE_COUNTIES[:8]) == COUNTY_CODES


@pytest.mark.parametrize(
    ("households", "counties", "match"),
    [(600, 89, "between 1 and 88"), (20, 3, "at least 30"), (600, 0, "between 1 and 88")],
)
def test_impossible_plans_are_refused(households: int, counties: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        province_plan(households=households, counties=counties, seed=0)


def test_written_over_an_earlier_province(tmp_path: Path) -> None:
    out = tmp_path / "p"
    small = {**PROVINCE, "households": 300, "months": 6}
    write_province(out, **{**small, "counties": 3}, export_at=("2026-09",))
    (out / "risk.toml").write_text("# kept\n", encoding="utf-8")
    write_province(out, **{**small, "counties": 2})
    assert sorted(c.name for c in county_folders(out) or []) == sorted(COUNTY_NAMES[:2])
    assert not (out / "export_2026-09").exists()
    assert (out / "risk.toml").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_a_county_directory_is_not_overwritten(tmp_path: Path) -> None:
    _cli(["--out", str(tmp_path / "c"), "--households", "50", "--months", "6", "--no-truth"])
    with pytest.raises(ConfigError, match="县级数据目录"):
        write_province(tmp_path / "c", **PROVINCE)


def test_county_layout_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "county"
    _cli(
        [
            "--out", str(out), "--households", "600", "--months", "14", "--seed", "3",
            "--counties", "2", "--export-at", EXPORT, "--format", "csv",
        ]
    )  # fmt: skip
    assert _digest(out) == COUNTY_LAYOUT_DIGESTS
