"""The house's shape: imports run one way, and docs/architecture.md matches the tree.

Layers, lowest first: ``features.contract`` ← ``features`` ← ``training`` ← ``risk``; the simulator
(``simulation``) stands beside them and may import only ``features.contract``. The product reaches the
simulator only from the two commands that make simulated data (``risk demo``, ``risk simulate``).
The import graph is read from the source with ``ast`` (imports inside functions included), so a late
import cannot hide an arrow that runs the wrong way.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("features", "training", "risk", "simulation")

#: Layer → the layers it may import (itself included).
ALLOWED: dict[str, frozenset[str]] = {
    "features.contract": frozenset({"features.contract"}),
    "features": frozenset({"features", "features.contract"}),
    "training": frozenset({"training", "features", "features.contract"}),
    "risk": frozenset({"risk", "training", "features", "features.contract"}),
    "simulation": frozenset({"simulation", "features.contract"}),
}
#: The only product modules that may import the simulator.
SIMULATOR_USERS = frozenset({"risk/demo.py", "risk/cli/simulate.py"})


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to (None: not the project's)."""
    if module == "features.contract" or module.startswith("features.contract."):
        return "features.contract"
    top = module.split(".")[0]
    return top if top in PACKAGES else None


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a project module in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                # `from features import contract` imports the submodule features.contract
                full = f"{node.module}.{alias.name}"
                same = layer_of(full) == layer_of(node.module)
                found.append((node.lineno, node.module if same else full))
    unique = dict.fromkeys((line, name) for line, name in found if layer_of(name) is not None)
    return list(unique)


def source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def wrong_way_imports() -> list[str]:
    problems = []
    for path in source_files():
        relative = path.relative_to(ROOT).as_posix()
        own = layer_of(relative.removesuffix(".py").replace("/", "."))
        assert own is not None
        for line, name in project_imports(path):
            target = layer_of(name)
            if target == "simulation" and own == "risk" and relative in SIMULATOR_USERS:
                continue
            if target not in ALLOWED[own]:
                problems.append(f"{relative}:{line} ({own}) imports {name} ({target})")
    return problems


def test_imports_run_one_way() -> None:
    assert wrong_way_imports() == []


def test_the_checker_sees_a_wrong_way_import(tmp_path: Path, monkeypatch) -> None:
    fake_root = tmp_path / "tree"
    for package in PACKAGES:
        (fake_root / package).mkdir(parents=True)
    (fake_root / "features" / "contract").mkdir()
    (fake_root / "features" / "contract" / "io.py").write_text(
        "def load():\n    from features.build import build_features\n", encoding="utf-8"
    )
    (fake_root / "simulation" / "engine.py").write_text("import risk.score\n", encoding="utf-8")
    (fake_root / "risk" / "demo.py").write_text(
        "from simulation import simulate\n", encoding="utf-8"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    assert wrong_way_imports() == [
        "features/contract/io.py:2 (features.contract) imports features.build (features)",
        "simulation/engine.py:1 (simulation) imports risk.score (risk)",
    ]


# --------------------------------------------------------------------------- docs/architecture.md
def generated_modules() -> str:
    return subprocess.run(
        [sys.executable, "docs/architecture.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        encoding="utf-8",
    ).stdout


def test_architecture_doc_lists_every_module() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start, end = "<!-- modules:start -->\n", "<!-- modules:end -->"
    assert start in doc and end in doc
    committed = doc[doc.index(start) + len(start) : doc.index(end)]
    assert committed == generated_modules(), "run: python docs/architecture.py --write"


@pytest.mark.parametrize("document", ["docs/architecture.md", "README.md"])
def test_every_path_named_in_the_docs_exists(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    named = set(
        re.findall(r"`((?:features|training|risk|simulation|tests|docs|bench)/[\w./-]*)`", text)
    )
    named |= set(re.findall(r"^ *((?:features|training|risk|simulation)/[\w./-]+)", text, re.M))
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert missing == []
