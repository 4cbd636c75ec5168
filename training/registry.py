"""MLflow tracking and registry: log every run, register every model, move `champion` only through the gate.

Default tracking: an embedded SQLite store under the working directory (`FanpinConfig.model.
resolved_tracking_uri()`), with artifacts in `./mlartifacts`; `--tracking-uri` or `MLFLOW_TRACKING_URI`
points elsewhere, e.g. a shared `mlflow server`. Models are stored with skops (no arbitrary code runs on
load; the three fanpin/LightGBM types are declared trusted) and carry a fingerprint of their trees and
calibrator in the MLmodel metadata, checked on every load, and the configuration they were fitted with
(`training.candidates.Configuration`: candidate name, estimator, parameters) so that a later run can
refit the champion's configuration on the months it compares on.

Nothing personal is logged: parameters, metrics, sha256 fingerprints of input files, the evaluation
files (aggregates only) and the model. The model's input example is never logged; its signature holds
column names and types only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract.errors import FanpinError
from training.linear import LogisticRiskModel
from training.model import RiskModel

CHAMPION = "champion"
CHALLENGER = "challenger"
EXPERIMENT = "fanpin"
TRUSTED_TYPES: tuple[str, ...] = (
    "training.model.RiskModel",
    "training.linear.LogisticRiskModel",
    "training.calibration.Calibrator",
    "lightgbm.basic.Booster",
)
_QUIET = ("mlflow", "alembic", "urllib3", "skops", "git")


class ModelLoadError(FanpinError):
    """A model could not be found or loaded, or its files were altered after training."""


@dataclass(frozen=True)
class LoadedModel:
    """A model with where it came from (for manifests and reports).

    `configuration` is what it was fitted with (`Configuration.to_dict()`), None for a model
    registered before configurations were stored.
    """

    model: RiskModel | LogisticRiskModel
    name: str | None
    version: str | None
    uri: str
    configuration: dict[str, Any] | None = None


@dataclass(frozen=True)
class GateDecision:
    """Whether the new model becomes champion, and why (written into the evaluation)."""

    promote: bool
    reason: str


@dataclass(frozen=True)
class RegisteredRun:
    run_id: str
    model_uri: str
    version: str
    promoted: bool
    tracking_uri: str


def quiet_mlflow() -> None:
    """Keep MLflow's banners, telemetry and INFO chatter out of the user's terminal."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def _mlflow_silenced() -> Iterator[None]:
    """Mute MLflow's event stream ("Successfully registered model …" and run banners) for a while."""
    try:
        from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM  # noqa: PLC0415
    except ImportError:  # pragma: no cover - a future MLflow without it
        yield
        return
    previous = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = previous


def file_fingerprints(files: Mapping[str, Path]) -> dict[str, str]:
    """Table name → sha256 of its file (contents only: no personal data leaves the machine)."""
    result = {}
    for name, path in sorted(files.items()):
        digest = hashlib.sha256()
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        result[name] = digest.hexdigest()
    return result


def promotion_gate(
    new: Mapping[str, Any], champion: Mapping[str, Any] | None, *, share: str
) -> GateDecision:
    """The champion rule: recall at the configured capacity first, AUC second, on the same rows.

    Parameters
    ----------
    new, champion
        Metrics of the new model and of the current champion re-scored on the same newest rows
        (`recall_at[share]` and `auc`); `champion` is None when there is none yet.
    share
        The capacity key, e.g. ``"0.05"``.

    Examples
    --------
    >>> promotion_gate({"recall_at": {"0.05": 0.30}, "auc": 0.80},
    ...                {"recall_at": {"0.05": 0.31}, "auc": 0.70}, share="0.05").promote
    False
    """
    if champion is None:
        return GateDecision(True, "no champion yet: the first model becomes champion")
    new_key = (round(float(new["recall_at"][share]), 12), round(float(new["auc"]), 12))
    old_key = (round(float(champion["recall_at"][share]), 12), round(float(champion["auc"]), 12))
    detail = (
        f"recall@{share} {new_key[0]:.4f} vs champion {old_key[0]:.4f}; "
        f"AUC {new_key[1]:.4f} vs champion {old_key[1]:.4f}"
    )
    if new_key >= old_key:
        return GateDecision(True, f"at least as good as the champion on the same rows ({detail})")
    return GateDecision(
        False, f"worse than the champion on the same rows ({detail}); kept as challenger"
    )


class Registry:
    """One tracking server and one registered model name.

    Parameters
    ----------
    tracking_uri
        MLflow tracking URI (``sqlite:///…``, ``http://127.0.0.1:5000``, ``file:…``).
    name
        Registered model name.
    artifact_root
        Where a new experiment stores artifacts on a local SQLite store (default `./mlartifacts`).
    """

    def __init__(self, tracking_uri: str, name: str, *, artifact_root: Path | None = None) -> None:
        quiet_mlflow()
        import mlflow  # noqa: PLC0415 - heavy import, only when the registry is used
        from mlflow import MlflowClient  # noqa: PLC0415

        quiet_mlflow()  # again: importing mlflow configures its own loggers at INFO
        self.tracking_uri = tracking_uri
        self.name = name
        self.artifact_root = artifact_root
        self._mlflow = mlflow
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def champion(self) -> LoadedModel | None:
        """The current champion, loaded (None when the model or the alias does not exist yet)."""
        from mlflow.exceptions import MlflowException  # noqa: PLC0415

        try:
            version = self.client.get_model_version_by_alias(self.name, CHAMPION)
        except MlflowException:
            return None
        return load_model(
            f"models:/{self.name}@{CHAMPION}", tracking_uri=self.tracking_uri, _version=version
        )

    @_mlflow_silenced()  # a fresh context per call (contextmanager objects are ContextDecorators)
    def log_and_register(
        self,
        model: RiskModel | LogisticRiskModel,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        fingerprints: Mapping[str, str],
        tags: Mapping[str, str],
        signature_frame: pd.DataFrame,
        write_outputs: Callable[[str, str], Sequence[Path]],
        decide: Callable[[], GateDecision],
        configuration: Mapping[str, Any] | None = None,
    ) -> RegisteredRun:
        """Log a run (params, metrics, fingerprints, model), register it, write and log the outputs.

        `write_outputs(version, run_id)` writes the evaluation files (which name the version) and
        returns their paths; `decide()` gives the gate decision, applied after everything is logged.
        `configuration` is stored in the model's metadata (and logged as `configuration.json`).
        MLflow's event stream is muted meanwhile.
        """
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        experiment_id = self._experiment()
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if _finite(v)})
            mlflow.log_dict(dict(fingerprints), "data_fingerprints.json")
            mlflow.set_tags({**tags, **{f"data.sha256.{k}": v for k, v in fingerprints.items()}})
            if configuration is not None:
                mlflow.log_dict(dict(configuration), "configuration.json")
            info = self._log_model(model, signature_frame, configuration)
            with _mlflow_silenced():  # log_model re-enables MLflow's event stream on its way out
                version = mlflow.register_model(info.model_uri, self.name, tags=dict(tags))
            decision = decide()
            for path in write_outputs(str(version.version), run.info.run_id):
                mlflow.log_artifact(str(path), artifact_path="evaluation")
            self._apply(decision, str(version.version))
        return RegisteredRun(
            run_id=run.info.run_id,
            model_uri=f"models:/{self.name}/{version.version}",
            version=str(version.version),
            promoted=decision.promote,
            tracking_uri=self.tracking_uri,
        )

    def _experiment(self) -> str:
        found = self.client.get_experiment_by_name(EXPERIMENT)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if self.tracking_uri.startswith("sqlite:") or self.tracking_uri.startswith("file:"):
            root = self.artifact_root or Path("mlartifacts")
            location = Path(root).resolve().as_uri()
        return str(self.client.create_experiment(EXPERIMENT, artifact_location=location))

    def _log_model(
        self,
        model: RiskModel | LogisticRiskModel,
        signature_frame: pd.DataFrame,
        configuration: Mapping[str, Any] | None,
    ) -> Any:
        return self._mlflow.sklearn.log_model(
            model, name="model", **_model_files(model, signature_frame, configuration)
        )

    def _apply(self, decision: GateDecision, version: str) -> None:
        self.client.set_model_version_tag(
            self.name, version, "fanpin.role", CHAMPION if decision.promote else CHALLENGER
        )
        self.client.set_model_version_tag(self.name, version, "fanpin.gate", decision.reason[:4000])
        if decision.promote:
            self.client.set_registered_model_alias(self.name, CHAMPION, version)
        else:
            self.client.set_registered_model_alias(self.name, CHALLENGER, version)


def save_local(
    model: RiskModel | LogisticRiskModel,
    path: Path,
    *,
    signature_frame: pd.DataFrame,
    configuration: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model folder (MLmodel + skops file) that `load_model(path)` reads back."""
    quiet_mlflow()
    import mlflow  # noqa: PLC0415

    mlflow.sklearn.save_model(
        model, str(path), **_model_files(model, signature_frame, configuration)
    )
    return Path(path)


def _model_files(
    model: RiskModel | LogisticRiskModel,
    signature_frame: pd.DataFrame,
    configuration: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Signature (column names and types only), pinned requirements, fingerprint, trusted types."""
    import lightgbm  # noqa: PLC0415
    import sklearn  # noqa: PLC0415
    from mlflow.models import infer_signature  # noqa: PLC0415

    sample = signature_frame.head(20).copy()
    for column in sample.columns:
        if pd.api.types.is_numeric_dtype(sample[column]):
            sample[column] = sample[column].astype(float)
        else:
            sample[column] = sample[column].astype(object).astype(str)
    signature = infer_signature(sample, model.predict_proba(signature_frame.head(20))[:, 1])
    return {
        "signature": signature,
        "pip_requirements": [
            f"lightgbm=={lightgbm.__version__}",
            f"scikit-learn=={sklearn.__version__}",
            "fanpin",
        ],
        "metadata": {
            "fanpin_fingerprint": model.fingerprint(),
            # JSON text: a YAML mapping would reorder and retype the parameters
            **(
                {"fanpin_configuration": json.dumps(dict(configuration), sort_keys=True)}
                if configuration is not None
                else {}
            ),
        },
        "skops_trusted_types": list(TRUSTED_TYPES),
    }


def load_model(
    uri_or_path: str | Path, *, tracking_uri: str | None = None, _version: Any = None
) -> LoadedModel:
    """Load a fanpin model from `models:/name@alias`, `models:/name/3`, `runs:/…`, or a local folder.

    Raises
    ------
    ModelLoadError
        When nothing is found there, it is not a fanpin model, or its files were altered.
    """
    quiet_mlflow()
    import mlflow  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415
    from mlflow.models import Model  # noqa: PLC0415

    uri = str(uri_or_path)
    local = Path(uri).expanduser()
    if "://" not in uri and ":/" not in uri:
        if not (local / "MLmodel").is_file():
            raise ModelLoadError(
                f"no model at {local}: expected a folder with an MLmodel file (as written by "
                "`risk train`), or a registry URI such as models:/fanpin@champion"
            )
        uri = str(local.resolve())
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    name, version = _name_version(uri, tracking_uri=tracking_uri, known=_version)
    try:
        spec = Model.load(uri)
        metadata = spec.metadata or {}
        _require_skops(spec.flavors, uri)  # before any file is deserialised
        model = mlflow.sklearn.load_model(uri)
    except ModelLoadError:
        raise
    except MlflowException as error:
        raise ModelLoadError(f"cannot load model {uri}: {_first_line(error)}") from error
    except Exception as error:  # noqa: BLE001 - a damaged file raises anything from zip to skops
        raise ModelLoadError(
            f"model {uri} is damaged or was altered after training and cannot be read "
            f"({type(error).__name__}: {_first_line(error)}); retrain with `risk train` or name "
            "another version"
        ) from error
    _verify(model, metadata, uri)
    return LoadedModel(
        model=model,
        name=name,
        version=version,
        uri=uri,
        configuration=_configuration(metadata, uri),
    )


def _configuration(metadata: Mapping[str, Any], uri: str) -> dict[str, Any] | None:
    """The stored configuration, or None for a model registered before configurations were stored."""
    text = metadata.get("fanpin_configuration")
    if text is None:
        return None
    try:
        stored = json.loads(text)
    except (TypeError, ValueError) as error:
        raise ModelLoadError(
            f"model {uri}: its stored configuration is not JSON ({error})"
        ) from error
    if not isinstance(stored, dict) or not {"name", "estimator", "params"} <= set(stored):
        raise ModelLoadError(
            f"model {uri}: its stored configuration lacks name, estimator or params: {text[:200]}"
        )
    return stored


def _require_skops(flavors: Mapping[str, Any], uri: str) -> None:
    """Refuse a model stored any other way than skops: a pickle would run code while loading."""
    stored = (flavors.get("sklearn") or {}).get("serialization_format")
    if stored != "skops":
        raise ModelLoadError(
            f"model {uri} is stored as {stored or 'no sklearn flavour'}, not skops: fanpin loads only "
            "skops models (a pickle could run code when loaded); retrain with `risk train`"
        )


def _verify(model: Any, metadata: Mapping[str, Any], uri: str) -> None:
    if not isinstance(model, RiskModel | LogisticRiskModel):
        raise ModelLoadError(
            f"{uri} holds a {type(model).__name__}, not a fanpin RiskModel or LogisticRiskModel"
        )
    expected = metadata.get("fanpin_fingerprint")
    if expected is None:
        raise ModelLoadError(f"{uri} has no fanpin fingerprint: it was not written by `risk train`")
    if model.fingerprint() != expected:
        raise ModelLoadError(
            f"model {uri} was altered after training: its trees or calibrator do not match the "
            "fingerprint recorded at training time; retrain or restore the original files"
        )


def _name_version(
    uri: str, *, tracking_uri: str | None, known: Any
) -> tuple[str | None, str | None]:
    if not uri.startswith("models:/"):
        return None, None
    from mlflow import MlflowClient  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    rest = uri[len("models:/") :]
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            found = known or client.get_model_version_by_alias(name, alias)
            return name, str(found.version)
        if "/" in rest:
            name, version = rest.split("/", 1)
            client.get_model_version(name, version)
            return name, version
    except MlflowException as error:
        raise ModelLoadError(
            f"no model {uri} in the registry at {tracking_uri or 'the default tracking URI'}: "
            f"{_first_line(error)}. Train one with `risk train`, or check --tracking-uri"
        ) from error
    return rest, None


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def _finite(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
