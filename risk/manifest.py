"""`manifest.json` of a scoring run: what went in, which model, what came out, how long it took.

The run id is derived from the inputs only (data hashes, month, model, settings), so the same inputs
give the same run id and the same files; wall-clock values (timings) live only in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from risk.atomic import OutputError

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20
_VERSIONED = ("lightgbm", "shap", "pandas", "numpy", "pyarrow", "openpyxl", "mlflow", "fanpin")


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def input_hashes(data_dir: str | Path, files: Mapping[str, str]) -> dict[str, str]:
    """File name → SHA-256 for the files a data directory was read from (sorted by name)."""
    folder = Path(data_dir)
    names = sorted(set(files.values()))
    return {name: file_sha256(folder / name) for name in names if (folder / name).is_file()}


def frame_hashes(frames: Mapping[str, pd.DataFrame | None]) -> dict[str, str]:
    """Table → content hash, for tables built in memory (a notebook) rather than read from files."""
    hashes = {}
    for name, frame in sorted(frames.items()):
        if frame is None:
            continue
        row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest = hashlib.sha256(row_hashes.tobytes())
        digest.update(json.dumps([str(c) for c in frame.columns]).encode("utf-8"))
        hashes[f"{name} (in memory)"] = digest.hexdigest()
    return hashes


def make_run_id(
    *, inputs: Mapping[str, str], month: str, model_uri: str, model_version: str, settings: Any
) -> str:
    """A short id that changes when any input, the month, the model or a setting changes.

    Examples
    --------
    >>> make_run_id(inputs={"a.csv": "00"}, month="2026-10", model_uri="m", model_version="1",
    ...             settings={"top_percent": 5})
    '2026-10-...'
    """
    payload = json.dumps(
        {
            "inputs": dict(sorted(inputs.items())),
            "month": month,
            "model": [model_uri, model_version],
            "settings": settings,
        },
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return f"{month}-{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:12]}"


def library_versions() -> dict[str, str]:
    """Python and the libraries whose versions can change a score."""
    versions = {"python": platform.python_version()}
    for package in _VERSIONED:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def write_manifest(folder: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write `manifest.json` (UTF-8, Chinese kept readable, keys in a stable order)."""
    path = Path(folder) / MANIFEST_NAME
    text = json.dumps(manifest, ensure_ascii=False, indent=2, default=_jsonable)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read a run folder's manifest; `OutputError` names the folder when it is not a run folder."""
    path = Path(folder) / MANIFEST_NAME
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise OutputError(
            f"{folder} is not a scoring run folder: {MANIFEST_NAME} is missing; "
            "give the --out folder of an earlier `risk score`"
        ) from error
    except json.JSONDecodeError as error:
        raise OutputError(f"{path}: not valid JSON ({error}); re-run `risk score` there") from error
    return loaded


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Period):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
