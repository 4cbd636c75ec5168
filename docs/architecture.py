"""The module map of docs/architecture.md, generated from each module's docstring.

``python docs/architecture.py`` prints the map; ``python docs/architecture.py --write`` puts it between
the ``<!-- modules:start -->`` and ``<!-- modules:end -->`` marks of docs/architecture.md. A test fails
when the committed map differs from the tree (a module added, moved or re-described).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
START, END = "<!-- modules:start -->\n", "<!-- modules:end -->"

#: Floors from the bottom up: (folder, what the floor is for).
FLOORS: tuple[tuple[str, str], ...] = (
    ("features/contract", "the data contract: declare, read, validate, pseudonymise"),
    ("features", "point-in-time features: one row per household per month, one catalogue"),
    ("training", "labels, out-of-time splits, candidate models, calibration, evaluation, registry"),
    ("risk", "the monthly job: score, rules, reasons, lists, report, review, the `risk` command"),
    (
        "simulation",
        "simulated counties for the demo, the tests and the benchmarks (not the product)",
    ),
)
TEMPLATE_FOLDER = "risk/templates"


def summary(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line (empty when there is none)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    paragraph = docstring.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in paragraph.splitlines()).replace("|", "\\|")


def floor_modules(folder: str) -> list[Path]:
    """The floor's modules, nested floors (listed on their own) left out."""
    nested = [other for other, _ in FLOORS if other != folder and other.startswith(f"{folder}/")]
    paths = sorted((ROOT / folder).rglob("*.py"))
    return [
        p
        for p in paths
        if not any(p.relative_to(ROOT).as_posix().startswith(f"{n}/") for n in nested)
    ]


def module_map() -> str:
    """The Markdown map: one table per floor, one row per module, then the templates."""
    lines: list[str] = []
    for folder, purpose in FLOORS:
        lines += [f"### `{folder}/` — {purpose}", "", "| module | job |", "|---|---|"]
        for path in floor_modules(folder):
            lines.append(f"| `{path.relative_to(ROOT).as_posix()}` | {summary(path)} |")
        lines.append("")
    lines += [f"### `{TEMPLATE_FOLDER}/` — every HTML template in one place", ""]
    for path in sorted((ROOT / TEMPLATE_FOLDER).rglob("*")):
        if path.is_file():
            lines.append(f"- `{path.relative_to(ROOT).as_posix()}`")
    lines.append("")
    return "\n".join(lines)


def write() -> None:
    """Replace the map between the marks of docs/architecture.md."""
    doc = DOC.read_text(encoding="utf-8")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + START + module_map() + END + tail, encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        sys.stdout.write(module_map())
