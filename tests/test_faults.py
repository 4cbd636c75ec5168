"""Faults survived (issue 8): a run killed at any stage, a rerun, MLflow down, a full or read-only disk.

`risk score` is stopped at each stage (features, scoring, explanation, writing) — by an exception in
this process and by a hard `os._exit` in a child process — and must leave no partial output and the
previous month's outputs byte for byte as they were. A rerun gives byte-identical parquet files.
`risk train` against a tracking server that is down fails with a readable message and registers no
champion; a registry that fails half-way leaves the champion alias where it was.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import risk.stages.outputs
from risk.cli import main
from training.registry import save_local

HERE = Path(__file__).resolve().parent
KEY = "faults-test-key"
PREVIOUS, MONTH = "2025-11", "2025-12"
STAGES = {  # stage → the module and function that runs it
    "features": ("risk.stages.features", "build_month_features"),
    "scoring": ("risk.stages.predict", "predict_households"),
    "explanation": ("risk.stages.explain", "explain_listed"),
    "writing": ("risk.report", "write_report"),
}


def _scoring_county():
    spec = importlib.util.spec_from_file_location(
        "scoring_county", HERE / "risk" / "scoring_county.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules.setdefault("scoring_county", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", KEY)


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small county on disk and a model folder for it."""
    helpers = _scoring_county()
    root = tmp_path_factory.mktemp("faults")
    data = helpers.write_county(root / "data", households=200)
    tables = helpers.load_county(data)
    model = helpers.train_small_model(tables)
    panel_columns = list(model.feature_names_in_)
    import features.build as build  # noqa: PLC0415
    from features.contract.lines import MonitoringLines  # noqa: PLC0415

    frame = build.build_features(tables, as_of=helpers.LAST_MONTH, lines=MonitoringLines())
    return data, save_local(model, root / "model", signature_frame=frame[panel_columns])


def run(args: list[object]) -> int:
    with pytest.raises(SystemExit) as done:
        main([str(a) for a in args])
    return int(done.value.code or 0)


def score_args(county: tuple[Path, Path], out: Path, month: str) -> list[object]:
    data, model = county
    return ["score", "--data", data, "--month", month, "--out", out, "--model", model,
            "--no-progress"]  # fmt: skip


def digests(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) → sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def previous_run(county: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Last month's outputs, scored once."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FANPIN_PSEUDONYM_KEY", KEY)
        assert run(score_args(county, root / PREVIOUS, PREVIOUS)) == 0
    return root


def _copy_runs(previous_run: Path, tmp_path: Path) -> Path:
    import shutil  # noqa: PLC0415

    root = tmp_path / "runs"
    shutil.copytree(previous_run, root)
    return root


@pytest.mark.parametrize("stage", list(STAGES))
def test_run_stopped_at_each_stage_leaves_nothing_partial(
    stage: str,
    county: tuple[Path, Path],
    previous_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _copy_runs(previous_run, tmp_path)
    before = digests(root)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"killed during {stage}")

    module, function = STAGES[stage]
    target = importlib.import_module(module)
    monkeypatch.setattr(target, function, crash)
    assert run(score_args(county, root / MONTH, MONTH)) == 1
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err and f"killed during {stage}" in printed.err
    assert digests(root) == before  # no new folder, no leftover temporary folder
    # the same month again, over its own earlier outputs: they stay as they were
    monkeypatch.undo()
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", KEY)
    assert run(score_args(county, root / MONTH, MONTH)) == 0
    done = digests(root / MONTH)
    monkeypatch.setattr(target, function, crash)
    assert run(score_args(county, root / MONTH, MONTH)) == 1
    assert digests(root / MONTH) == done


KILL = """
import os, sys
import risk.{module} as module
from risk.cli import main

real = module.{function}

def killed(*args, **kwargs):
    if "{when}" == "after":
        real(*args, **kwargs)
    os._exit(9)

module.{function} = killed
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("module", "function", "when"),
    [
        ("stages.explain", "explain_listed", "before"),
        ("report", "write_report", "after"),
        ("manifest", "write_manifest", "after"),
    ],  # fmt: skip
)
def test_hard_kill_keeps_the_previous_outputs(
    module: str,
    function: str,
    when: str,
    county: tuple[Path, Path],
    previous_run: Path,
    tmp_path: Path,
) -> None:
    """`os._exit` in a child process mid-run: the previous run is intact; the next run cleans up."""
    root = _copy_runs(previous_run, tmp_path)
    before = digests(root / PREVIOUS)
    script = textwrap.dedent(KILL.format(module=module, function=function, when=when))
    args = [str(a) for a in score_args(county, root / PREVIOUS, PREVIOUS)[1:]]
    env = {"FANPIN_PSEUDONYM_KEY": KEY, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script, "score", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 9, done.stderr
    assert digests(root / PREVIOUS) == before
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".")]
    assert run(score_args(county, root / PREVIOUS, PREVIOUS)) == 0  # the next run cleans up
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []
    assert leftovers == [] or all(".tmp-" in name for name in leftovers)


def test_rerun_gives_byte_identical_results(
    county: tuple[Path, Path], previous_run: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a" / MONTH, tmp_path / "b" / MONTH
    assert run(score_args(county, first, MONTH)) == 0
    assert run(score_args(county, second, MONTH)) == 0
    for name in ("scores.parquet", "explanations.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    again = (first / "scores.parquet").read_bytes()
    assert run(score_args(county, first, MONTH)) == 0  # over its own outputs
    assert (first / "scores.parquet").read_bytes() == again


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_full_or_read_only_disk_is_a_clear_error(
    code: int,
    county: tuple[Path, Path],
    previous_run: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Tests run as root (chmod stops nothing): the write itself fails as a full or read-only disk."""
    root = _copy_runs(previous_run, tmp_path)
    before = digests(root)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(
            code, "No space left on device" if code == errno.ENOSPC else "Read-only file system"
        )

    monkeypatch.setattr(risk.stages.outputs, "write_parquet", refuse)
    status = run(score_args(county, root / PREVIOUS, PREVIOUS))
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err
    assert "cannot write the outputs" in err and ("No space" in err or "Read-only" in err)
    assert digests(root) == before


def test_unwritable_output_parent_is_a_clear_error(
    county: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run(score_args(county, blocker / "run", MONTH)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "cannot create an output folder" in err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tracking_server_down_is_a_clear_error(
    county: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    data, _ = county
    uri = f"http://127.0.0.1:{_closed_port()}"
    status = run(["train", "--data", data, "--tracking-uri", uri, "--out", tmp_path / "train",
                  "--model-name", "down"])  # fmt: skip
    err = capsys.readouterr().err
    assert status in (1, 2), err
    assert "Traceback" not in err
    assert "127.0.0.1" in err
    assert not (tmp_path / "train").exists()


def test_registry_failing_half_way_keeps_the_champion(
    county: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The alias step fails after the model version is registered: the old champion still serves."""
    from mlflow import MlflowClient  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    from training.registry import load_model  # noqa: PLC0415

    data, _ = county
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    common = ["train", "--data", data, "--tracking-uri", uri, "--model-name", "half",
              ]  # fmt: skip
    assert run([*common, "--out", tmp_path / "first"]) == 0
    assert load_model("models:/half@champion", tracking_uri=uri).version == "1"

    def down(*args: object, **kwargs: object) -> None:
        raise MlflowException("connection reset by peer")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", down)
    status = run([*common, "--out", tmp_path / "second"])
    err = capsys.readouterr().err
    assert status in (1, 2) and "Traceback" not in err and "connection reset" in err
    assert not (tmp_path / "second").exists()
    monkeypatch.undo()
    assert load_model("models:/half@champion", tracking_uri=uri).version == "1"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "--no-such-option"]) == 2
    assert "internal error" not in capsys.readouterr().err


def test_unreachable_scheduler_is_a_clear_error_within_seconds(
    county: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    """`--scheduler` naming a closed port: exit 2, the address named, no hang, nothing written."""
    import time  # noqa: PLC0415

    from risk.engine_dask import CONNECT_TIMEOUT_S, connect  # noqa: PLC0415

    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.perf_counter()
    with pytest.raises(Exception) as raised, connect(address):
        pass
    assert time.perf_counter() - start < CONNECT_TIMEOUT_S + 5
    assert address in str(raised.value) and type(raised.value).__name__ == "ConfigError"

    out = tmp_path / "runs" / MONTH
    start = time.perf_counter()
    status = run([*score_args(county, out, MONTH), "--engine", "dask", "--scheduler", address])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err
    assert status == 2, err
    assert address in err and "Traceback" not in err
    assert elapsed < 60, f"the CLI took {elapsed:.0f} s (loading the county and model included)"
    assert not out.exists()
