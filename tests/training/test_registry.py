"""Registry: the pure gate, loading errors (missing, tampered), and a real `mlflow server` round trip."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from features.contract.lines import MonitoringLines
from features.rules import RuleParams
from training.model import RiskModel
from training.registry import ModelLoadError, Registry, load_model, promotion_gate, save_local
from training.train import TrainOptions, train_and_register, train_from_tables, write_json

FAST = {"n_estimators": 30, "learning_rate": 0.1, "min_child_samples": 20}


def metrics(recall: float, auc: float) -> dict:
    return {"recall_at": {"0.05": recall}, "auc": auc}


def test_gate_recall_first_then_auc() -> None:
    assert promotion_gate(metrics(0.30, 0.80), None, share="0.05").promote
    assert promotion_gate(metrics(0.31, 0.70), metrics(0.30, 0.80), share="0.05").promote
    assert not promotion_gate(metrics(0.29, 0.90), metrics(0.30, 0.80), share="0.05").promote
    assert promotion_gate(metrics(0.30, 0.80), metrics(0.30, 0.80), share="0.05").promote  # as good
    assert not promotion_gate(metrics(0.30, 0.79), metrics(0.30, 0.80), share="0.05").promote


@pytest.fixture(scope="module")
def small_model(features_and_labels):
    X, y = features_and_labels
    return RiskModel(**FAST).fit(X, y), X


def test_local_folder_round_trip(small_model, tmp_path: Path) -> None:
    model, X = small_model
    save_local(model, tmp_path / "model", signature_frame=X)
    loaded = load_model(tmp_path / "model")
    assert isinstance(loaded.model, RiskModel)
    assert np.array_equal(loaded.model.predict_proba(X), model.predict_proba(X))
    assert loaded.model.booster_.num_trees() == model.booster_.num_trees()


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model at .*expected a folder with an MLmodel"):
        load_model(tmp_path / "nowhere")
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(ModelLoadError, match="no model models:/fanpin@champion in the registry"):
        load_model("models:/fanpin@champion", tracking_uri=uri)


def test_tampered_files_are_refused(small_model, tmp_path: Path) -> None:
    model, X = small_model
    folder = save_local(model, tmp_path / "damaged", signature_frame=X)
    skops_file = next(folder.glob("model.*"))
    skops_file.write_bytes(skops_file.read_bytes()[:200])
    with pytest.raises(ModelLoadError, match="damaged or was altered"):
        load_model(folder)
    folder = save_local(model, tmp_path / "altered", signature_frame=X)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    spec["metadata"]["fanpin_fingerprint"] = "0" * 64
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelLoadError, match="altered after training"):
        load_model(folder)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_server(tmp_path: Path):
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination",
        str(tmp_path / "artifacts"),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not start on {url}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_train_against_a_real_mlflow_server(mlflow_server: str, tmp_path: Path) -> None:
    from training_county import synthetic_tables

    tables, truth = synthetic_tables(400, n_months=30, seed=2)
    options = TrainOptions(model_params=FAST, compare_monotone=False)
    result = train_from_tables(
        tables, lines=MonitoringLines(), rule_params=RuleParams(), options=options, truth=truth
    )
    registry = Registry(mlflow_server, "server-model")

    def write(evaluation, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        return [write_json(evaluation, folder / "evaluation.json")]

    evaluation = train_and_register(
        result,
        registry=registry,
        options=options,
        out_dir=tmp_path / "out",
        fingerprints={"income": "ab" * 32},
        write_files=write,
    )
    assert evaluation["promotion"]["promoted"]
    loaded = load_model("models:/server-model@champion", tracking_uri=mlflow_server)
    assert loaded.version == "1"
    features = result.valid_features.drop(columns=["household_id", "month"])
    # the registered model is the refit on every labelled month, with its configuration
    assert np.array_equal(
        loaded.model.predict_proba(features)[:, 1], result.model.predict_proba(features)[:, 1]
    )
    assert loaded.configuration == result.configuration.to_dict()
    run_artifacts = [a.path for a in registry.client.list_artifacts(evaluation["run_id"])]
    assert "configuration.json" in run_artifacts
    run = registry.client.get_run(evaluation["run_id"])
    assert run.data.tags["data.sha256.income"] == "ab" * 32
    assert "auc" in run.data.metrics and "rules.auc" in run.data.metrics
    artifacts = [a.path for a in registry.client.list_artifacts(evaluation["run_id"], "evaluation")]
    assert artifacts == ["evaluation/evaluation.json"]
    assert load_model("models:/server-model/1", tracking_uri=mlflow_server).version == "1"
