"""The notebooks execute top to bottom on a small county (nbclient), importing library code only."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from scoring_county import KEY

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NAMES = ("1.0-explore-county.ipynb", "2.0-model-walkthrough.ipynb")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(name, scoring_county_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FANPIN_NOTEBOOK_DATA", str(scoring_county_dir))
    monkeypatch.setenv("FANPIN_PSEUDONYM_KEY", KEY.decode())
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2, "the notebook shows its plots"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_imports_library_code_only(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    source = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    local = re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, flags=re.MULTILINE)
    allowed = {"os", "io", "tempfile", "pathlib", "numpy", "pandas", "matplotlib", "IPython",
               "features", "training", "risk"}  # fmt: skip
    assert {m.split(".")[0] for m in local} <= allowed
    assert "def " not in source, "notebooks call library functions, they do not define their own"
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")
