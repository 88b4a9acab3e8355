"""After proofs are written into a Lean module: `lake build` it and what imports it.

Lean loads an imported module from its ``.olean``, so once ``Basic.lean`` holds new proofs the
files that import it still see the old, sorry'd ``Basic`` (and an honest proof through one of its
lemmas would be refused for ``sorryAx``) until the module is rebuilt. ``rebuild`` runs
``lake build`` on the written module and on the project's modules that import it, directly or
not, and on nothing else.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from alphaquant.errors import ProverNotInstalled
from alphaquant.file_text import BOM
from alphaquant.lexing import COMMENT_KINDS, lex, mask
from alphaquant.provers.lean.lake import LAKE_MISSING, lake_root, one_line, run_lake

log = logging.getLogger(__name__)

BUILD_TIMEOUT = 3600.0
_SKIP = {".lake", "lake-packages", ".git"}
_IMPORT = re.compile(r"^\s*(?:(?:public|private)\s+)?(?:meta\s+)?import\s+(?:all\s+)?([\w.«»]+)",
                     re.MULTILINE)


def module_name(root: Path, path: Path) -> str:
    """``Quantization3p5bit/Basic.lean`` under ``root`` -> ``Quantization3p5bit.Basic``."""
    return ".".join(path.resolve().relative_to(root.resolve()).with_suffix("").parts)


def project_imports(root: Path) -> dict[str, set[str]]:
    """Module -> the modules it imports, for every .lean file of the project (not packages)."""
    graph: dict[str, set[str]] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        for name in files:
            path = Path(folder, name)
            if path.suffix != ".lean" or name == "lakefile.lean":
                continue
            text = path.read_text(encoding="utf-8", errors="replace").removeprefix(BOM)
            code = mask(text, lex(text, "lean"), COMMENT_KINDS)
            graph[module_name(root, path)] = set(_IMPORT.findall(code))
    return graph


def dependants(graph: dict[str, set[str]], module: str) -> list[str]:
    """The modules that import ``module``, directly or through others, sorted."""
    found: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for other, imports in graph.items():
            if current in imports and other not in found and other != module:
                found.add(other)
                todo.append(other)
    return sorted(found)


def rebuild(path: Path, *, timeout: float = BUILD_TIMEOUT) -> str | None:
    """``lake build`` the module at ``path`` and its dependants; None on success, else why not
    (one line)."""
    root = lake_root(path)
    module = module_name(root, path)
    targets = [module, *dependants(project_imports(root), module)]
    log.info("lake build %s (in %s)", " ".join(targets), root)
    try:
        done = run_lake(["build", *targets], root, timeout)
    except ProverNotInstalled:
        return LAKE_MISSING
    if done is None:
        return f"`lake build {module}` gave no result within {timeout:g} s and was stopped"
    code, output = done
    if code != 0:
        lines = [ln for ln in output.splitlines() if ln.strip()]
        last = one_line(lines[-1]) if lines else f"exit code {code}"
        return f"`lake build {' '.join(targets)}` failed in {root}: {last}"
    return None
