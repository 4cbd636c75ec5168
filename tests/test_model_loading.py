"""Models are loaded only from the registry or a folder the user names, and checked (issue 8).

A model folder whose files were swapped, whose MLmodel was edited to load a pickle, or that holds
another kind of model is refused with a clear error — and nothing in the tampered files runs. A
model whose features differ from the data's is refused at scoring, naming the features. No module
unpickles a file itself.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from risk.score import check_model_features
from training.model import ModelMismatchError, RiskModel
from training.registry import ModelLoadError, load_model, save_local

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("risk", "features", "training")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"income_per_capita_12m": rng.lognormal(9, 0.5, 600),
                      "oop_medical_12m": rng.exponential(2000, 600)})  # fmt: skip
    y = (rng.random(600) < 1 / (1 + np.exp(-(X["oop_medical_12m"] / 2000 - 1)))).astype(int)
    model = RiskModel(n_estimators=20, num_leaves=5, max_depth=3, min_child_samples=10,
                      early_stopping_rounds=5, random_state=0, n_jobs=1).fit(X, y)  # fmt: skip
    folder = tmp_path_factory.mktemp("models") / "good"
    return save_local(model, folder, signature_frame=X), X


def _copy(folder: Path, target: Path) -> Path:
    import shutil  # noqa: PLC0415

    shutil.copytree(folder, target)
    return target


class _Payload:
    """Unpickling this writes a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_good_model_loads_with_its_signature(saved) -> None:
    folder, X = saved
    loaded = load_model(folder)
    assert list(loaded.model.feature_names_in_) == list(X.columns)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    assert spec["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert [c["name"] for c in yaml.safe_load(spec["signature"]["inputs"])] == list(X.columns)


def test_mlmodel_switched_to_pickle_is_refused_without_running_it(saved, tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path / "pickled")
    marker = tmp_path / "pwned.txt"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["serialization_format"] = "cloudpickle"
    spec["flavors"]["sklearn"]["pickled_model"] = "model.pkl"
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(ModelLoadError, match="skops"):
        load_model(folder)
    assert not marker.exists(), "a pickle in a tampered model folder was executed"


def test_model_file_replaced_by_a_pickle_is_refused(saved, tmp_path: Path) -> None:
    folder = _copy(saved[0], tmp_path / "swapped")
    marker = tmp_path / "pwned.txt"
    model_file = next(p for p in folder.iterdir() if p.name.startswith("model."))
    model_file.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelLoadError, match="damaged or was altered"):
        load_model(folder)
    assert not marker.exists()


def test_another_kind_of_model_is_refused(tmp_path: Path) -> None:
    import mlflow  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    other = LogisticRegression().fit(X, [0, 0, 1, 1])
    mlflow.sklearn.save_model(other, str(tmp_path / "other"), serialization_format="skops")
    with pytest.raises(ModelLoadError, match="not a fanpin RiskModel|fingerprint|cannot load"):
        load_model(tmp_path / "other")


def test_features_that_differ_are_named(saved) -> None:
    _, X = saved
    with pytest.raises(ModelMismatchError, match="oop_medical_12m"):
        check_model_features(list(X.columns), ["income_per_capita_12m", "household_size"])


def test_only_a_named_path_or_a_registry_uri() -> None:
    with pytest.raises(ModelLoadError, match="expected a folder with an MLmodel"):
        load_model("model.pkl")


def test_no_module_unpickles_files_itself() -> None:
    """Loading goes through MLflow's skops flavour only: no pickle/joblib/cloudpickle loads."""
    pattern = re.compile(
        r"\b(?:pickle|cloudpickle|joblib|dill|torch)\.loads?\(|\bnp\.load\([^)]*allow_pickle=True"
    )
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
