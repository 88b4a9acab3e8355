"""The Lean backend imports downwards only: no cycle among provers/lean/*, the registry and the
modules they import (issue 9 names the old lean_dojo ↔ lean_prover ↔ lean_repl ↔ lean_setup ↔
registry cycle). Imports inside functions and under TYPE_CHECKING count too."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "alphaquant"


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name for a in node.names]
        else:
            continue
        found |= {c for c in candidates if c in known}
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_of(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imports(p, set(paths)) - {m} for m, p in paths.items()}


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        for nxt in graph.get(current, ()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def test_lean_backend_has_no_import_cycle() -> None:
    graph = import_graph()
    lean = {m for m in graph if m.startswith("alphaquant.provers.lean.")}
    lean |= {"alphaquant.provers.registry"}
    cycles = sorted(m for m in lean if reaches(graph, m, m))
    assert cycles == []


def test_lean_text_and_wire_modules_run_no_process() -> None:
    """The file cut, the REPL's JSON models, goal text and the probe are pure: none of them
    reaches a module that starts or talks to a process."""
    graph = import_graph()
    lean = "alphaquant.provers.lean."
    pure = ["source", "protocol", "requests", "responses", "goals", "probe"]
    running = ["lake", "process", "options", "setup", "repl", "prover", "pool", "build", "dojo"]
    reached = [(p, r) for p in pure for r in running if reaches(graph, lean + p, lean + r)]
    assert reached == []
