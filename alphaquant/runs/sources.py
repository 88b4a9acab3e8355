"""A project's proof files: discovery, imports, dependency order, and the imported text a
tactic source may read.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from alphaquant import file_text
from alphaquant.errors import InputError
from alphaquant.goals import locate
from alphaquant.runs.store import (
    GoalSpec,
)
from alphaquant.sites.site import SUFFIXES, language_of

log = logging.getLogger(__name__)

SKIP_DIRS = {".git", ".lake", "lake-packages", "node_modules", "__pycache__", "runs", ".venv"}
BATCH_SKIP = SKIP_DIRS | {"_build"}


def project_files(project: Path) -> list[Path]:
    """Every .v and .lean file below ``project`` (skipping .lake, _build, runs, hidden dirs)."""
    if not project.is_dir():
        raise InputError(f"not a directory: {project}")
    found = []
    for root, dirs, files in os.walk(project):
        dirs[:] = sorted(d for d in dirs if d not in BATCH_SKIP and not d.startswith("."))
        found += [Path(root, f) for f in sorted(files) if Path(f).suffix in SUFFIXES]
    if not found:
        raise InputError(f"no Coq (.v) or Lean (.lean) files under {project}")
    return found


def required_modules(text: str, language: str) -> list[str]:
    """Last components of the modules a file requires or imports (Coq ``Require``, Lean
    ``import``), in order, each once."""
    if language == "coq":
        found = re.findall(r"Require\s+(?:Import\s+|Export\s+)?([\w.\s]+?)\.(?:\s|$)", text)
        names = [name.split(".")[-1] for group in found for name in group.split()]
    else:
        names = [m.split(".")[-1] for m in re.findall(r"^import\s+([\w.]+)", text, re.MULTILINE)]
    return list(dict.fromkeys(names))


def dependency_order(files: list[Path], texts: dict[Path, str]) -> list[Path]:
    """The files, each after the project files it imports (ties keep path order)."""
    by_stem = {(f.stem, f.suffix): f for f in files}
    deps = {
        f: {by_stem[(m, f.suffix)] for m in required_modules(texts[f], language_of(f))
            if (m, f.suffix) in by_stem and by_stem[(m, f.suffix)] != f}
        for f in files
    }
    ordered: list[Path] = []
    visiting: set[Path] = set()

    def visit(f: Path) -> None:
        if f in ordered or f in visiting:
            return  # an import cycle: the prover will say so
        visiting.add(f)
        for d in sorted(deps[f]):
            visit(d)
        ordered.append(f)

    for f in files:
        visit(f)
    return ordered


def read_texts(files: list[Path], *, strict: bool = True) -> dict[Path, str]:
    """Each file's text; a file that is not UTF-8 is an InputError (``strict``) or empty."""
    texts = {}
    for f in files:
        try:
            texts[f] = file_text.read_text(f)
        except UnicodeDecodeError:
            if strict:
                raise InputError(f"{f} is not UTF-8 text; save it as UTF-8") from None
            texts[f] = ""
    return texts


def discover(project: Path) -> list[tuple[str, str, list[GoalSpec]]]:
    """(relative path, text, goals) of every file, in dependency order; goals as (ordinal,
    theorem, index, line, kind)."""
    files = project_files(project)
    texts = read_texts(files)
    out = []
    for f in dependency_order(files, texts):
        sites = locate(texts[f], f)
        goals = [(i, s.theorem, s.index, s.line, s.kind) for i, s in enumerate(sites)]
        out.append((f.relative_to(project).as_posix(), texts[f], goals))
    return out


def imported_context(path: Path, text: str) -> str:
    """The text of the project files this file requires (tactic sources read their lemmas)."""
    if path.suffix != ".v":
        return ""
    parts = []
    for name in required_modules(text, "coq"):
        candidate = path.parent / f"{name}.v"
        if candidate.is_file() and candidate.resolve() != path.resolve():
            parts.append(file_text.read_text(candidate))
    return "\n".join(parts)
