"""The house: the package's imports run one way (no cycle), and the library never prints.

Every import of an ``alphaquant`` module counts, at module level or inside a function (a lazy
import is still a dependency); imports under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "alphaquant"
# Entry points that may write to the terminal themselves.
PRINTING_ALLOWED = {"alphaquant.cli", "alphaquant.__main__", "alphaquant.setup_lean"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The alphaquant modules ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n for n in names if n in known)
    return found


def import_graph() -> nx.DiGraph:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        for target in imports_of(path, set(files)):
            parent = name.rsplit(".", 1)[0]
            if target != name and target != parent and not name.startswith(target + "."):
                graph.add_edge(name, target)
    return graph


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_search_sees_no_concrete_prover_provers_no_tactics_and_only_cli_sees_ui():
    graph = import_graph()
    for name in graph:
        targets = set(graph.successors(name))
        if name.startswith("alphaquant.search"):
            assert not {t for t in targets if t.startswith("alphaquant.provers.")} - {
                "alphaquant.provers.base"}, name
            assert not {t for t in targets if t.startswith("alphaquant.tactics.")} - {
                "alphaquant.tactics.base"}, name
        if name.startswith("alphaquant.tactics"):  # the search asks the sources, not back
            assert not any(t.startswith(("alphaquant.search", "alphaquant.runs"))
                           for t in targets), name
        if any(t.startswith("alphaquant.ui") for t in targets):
            assert name == "alphaquant.cli" or name.startswith("alphaquant.ui"), name
        if name.startswith("alphaquant.provers"):
            assert not any(t.startswith(("alphaquant.runs", "alphaquant.search", "alphaquant.ui",
                                         "alphaquant.cli", "alphaquant.tactics",
                                         "alphaquant.config"))
                           for t in targets), name


# The three families of tactic sources, each a folder of alphaquant/tactics/; base.py is their
# contract, mixed.py and factory.py (above them) combine them.
FAMILIES = ("model", "rules", "learned")
# The edges between families they had before they had folders. Any other is a break of the
# layering (and nothing in a family imports the factory above it).
CROSSING = {
    ("alphaquant.tactics.learned.memory", "alphaquant.tactics.rules.goal_rules"),
    ("alphaquant.tactics.learned.source", "alphaquant.tactics.rules.statements"),
}


def family(name: str) -> str | None:
    parts = name.split(".")
    return parts[2] if parts[:2] == ["alphaquant", "tactics"] and len(parts) > 2 \
        and parts[2] in FAMILIES else None


def test_the_tactic_families_import_each_other_only_along_named_edges():
    graph = import_graph()
    packages = {f"alphaquant.tactics.{f}" for f in FAMILIES}
    for package in packages:  # a docstring only: importing a family's package imports nothing
        assert set(graph.successors(package)) == set(), package
    for name in graph:
        own = family(name)
        targets = {t for t in graph.successors(name)
                   if t.startswith("alphaquant.tactics.") and t not in packages}
        if own is not None:
            for target in targets - {"alphaquant.tactics.base"}:
                assert family(target) == own or (name, target) in CROSSING, f"{name} -> {target}"
        if name == "alphaquant.tactics.mixed":
            assert targets <= {"alphaquant.tactics.base"}, name
        if name == "alphaquant.tactics.base":
            assert targets == set(), name
    assert CROSSING <= set(graph.edges), CROSSING - set(graph.edges)  # the list stays true
    assert not any(family(a) == "rules" and family(b) not in (None, "rules")
                   for a, b in CROSSING)  # the hand rules import no other family


def test_the_proof_script_is_a_leaf():
    # The search, the splice and the runs all read it: it imports nothing of the package.
    assert set(import_graph().successors("alphaquant.script")) == set()


def test_goal_sites_see_only_lexing_and_errors():
    graph = import_graph()
    below = {"alphaquant.errors", "alphaquant.lexing", "alphaquant.file_text"}
    for name in graph:
        if name == "alphaquant.goals" or name.startswith("alphaquant.sites"):
            targets = set(graph.successors(name))
            assert not {t for t in targets if not t.startswith("alphaquant.sites")} - below, name
        if name.startswith("alphaquant.sites"):
            assert "alphaquant.goals" not in set(graph.successors(name)), name


def test_the_library_never_prints():
    printing = []
    for path in PACKAGE.rglob("*.py"):
        if module_name(path) in PRINTING_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                printing.append(f"{module_name(path)}:{node.lineno}")
    assert printing == []
