"""Which prover serves which file (the language of a file is sites.site.language_of)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from alphaquant.errors import InputError
from alphaquant.provers.base import Prover
from alphaquant.sites.site import language_of

if TYPE_CHECKING:
    from alphaquant.provers.lean.options import LeanConfig
    from alphaquant.provers.lean.pool import ReplPool

PROVERS = {"coq": "coq", "lean": "lean", "lean-dojo": "lean"}


def make_prover(
    path: Path, choice: str = "auto", *, pool: ReplPool | None = None,
    lean: LeanConfig | None = None,
) -> Prover:
    """A prover session for ``path``; ``choice`` is auto, coq, lean or lean-dojo. A Lean REPL
    comes from ``pool`` when one is given (the pool's settings apply), else it is the session's
    own, under ``lean``'s limits."""
    language = language_of(path)
    if choice == "auto":
        choice = language
    if choice not in PROVERS:
        raise InputError(f"unknown prover {choice!r}: choose auto, coq, lean or lean-dojo")
    if PROVERS[choice] != language:
        raise InputError(f"prover {choice!r} cannot check {path.name} (a {language} file)")
    if choice == "coq":
        from alphaquant.provers.coq.prover import CoqProver

        return CoqProver(path)
    if choice == "lean-dojo":
        from alphaquant.provers.lean.dojo import LeanDojoProver

        return LeanDojoProver(path)
    from alphaquant.provers.lean.prover import LeanProver

    if pool is not None:
        return pool.prover_for_file(path)
    return LeanProver.for_file(path, config=lean)
