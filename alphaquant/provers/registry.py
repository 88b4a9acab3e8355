"""Which prover serves which file, and what `alphaquant doctor` checks."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from alphaquant.errors import InputError
from alphaquant.provers.base import Prover

if TYPE_CHECKING:
    from alphaquant.provers.lean_pool import ReplPool

LANGUAGES = {".v": "coq", ".lean": "lean"}
PROVERS = {"coq": "coq", "lean": "lean", "lean-dojo": "lean"}


def language_of(path: Path) -> str:
    """"coq" or "lean" by extension; anything else is an InputError."""
    try:
        return LANGUAGES[path.suffix]
    except KeyError:
        raise InputError(
            f"unknown file type {path.suffix or '(none)'!r} for {path}: expected .v (Coq) or "
            ".lean (Lean 4)"
        ) from None


def make_prover(path: Path, choice: str = "auto", *, pool: ReplPool | None = None) -> Prover:
    """A prover session for ``path``; ``choice`` is auto, coq, lean or lean-dojo. A Lean REPL
    comes from ``pool`` when one is given (its settings then apply)."""
    language = language_of(path)
    if choice == "auto":
        choice = language
    if choice not in PROVERS:
        raise InputError(f"unknown prover {choice!r}: choose auto, coq, lean or lean-dojo")
    if PROVERS[choice] != language:
        raise InputError(f"prover {choice!r} cannot check {path.name} (a {language} file)")
    if choice == "coq":
        from alphaquant.provers.coq import CoqProver

        return CoqProver(path)
    if choice == "lean-dojo":
        from alphaquant.provers.lean_dojo import LeanDojoProver

        return LeanDojoProver(path)
    from alphaquant.provers.lean_prover import LeanProver

    return LeanProver.for_file(path, pool=pool)


# One line of `alphaquant doctor`.
@dataclass(frozen=True)
class Check:
    name: str
    found: bool
    version: str
    fix: str  # the exact command that installs or repairs it ("" when found)


def _version(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0] if out else ""


def tool_check(name: str, binary: str, version_args: list[str], fix: str) -> Check:
    """Whether ``binary`` is on PATH and what version it reports."""
    if shutil.which(binary) is None:
        return Check(name, False, "", fix)
    return Check(name, True, _version([binary, *version_args]), "")
