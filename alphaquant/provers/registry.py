"""Which prover serves which file (the language of a file is sites.site.language_of)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from alphaquant.errors import InputError, ProverCannotRun, ProverNotInstalled
from alphaquant.provers.base import Prover
from alphaquant.sites.site import language_of

if TYPE_CHECKING:
    from alphaquant.provers.lean.options import LeanConfig
    from alphaquant.provers.lean.pool import SessionPool
    from alphaquant.provers.lean.prover import LeanProver

PROVERS = {"coq": "coq", "lean": "lean", "lean-dojo": "lean"}


READY_TIMEOUT = 60.0  # seconds a prover's version query may take before it counts as hung


def _choice(path: Path, choice: str) -> str:
    language = language_of(path)
    if choice == "auto":
        choice = language
    if choice not in PROVERS:
        raise InputError(f"unknown prover {choice!r}: choose auto, coq, lean or lean-dojo")
    if PROVERS[choice] != language:
        raise InputError(f"prover {choice!r} cannot check {path.name} (a {language} file)")
    return choice


def ensure_ready(path: Path, choice: str = "auto") -> None:
    """Check that the prover for ``path`` is installed and starts, without opening a session.

    Raises:
      ProverNotInstalled: a program it needs is not on PATH (the message names the fix).
      ProverCannotRun: the program is there but does not run (its first line of output).
    """
    choice = _choice(path, choice)
    if choice == "coq":
        from alphaquant.provers.coq.coqc import COQ_MISSING
        from alphaquant.provers.coq.toolchain import toolchain

        found = toolchain()
        if found is None:
            raise ProverNotInstalled(COQ_MISSING)
        _runs([*found.coqc, "--version"])
        _runs([*found.coqtop, "--version"])
    elif choice == "lean":
        _import_lean_prover()
        from alphaquant.provers.lean.prover import checked_repl

        checked_repl(path)
    else:
        from alphaquant.provers.lean.dojo_answers import import_lean_dojo

        import_lean_dojo()


def _runs(argv: list[str]) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=READY_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except OSError as e:
        raise ProverCannotRun(f"{argv[0]} cannot run: {e.strerror or e}") from None
    except subprocess.TimeoutExpired:
        raise ProverCannotRun(f"`{' '.join(argv)}` gave no answer in {READY_TIMEOUT:g} s") from None
    if done.returncode != 0:
        first = next((line for line in (done.stderr + done.stdout).splitlines() if line.strip()),
                     f"exit code {done.returncode}")
        raise ProverCannotRun(f"`{' '.join(argv)}` fails: {first.strip()}")


def make_prover(
    path: Path, choice: str = "auto", *, pool: SessionPool | None = None,
    lean: LeanConfig | None = None,
) -> Prover:
    """A prover session for ``path``; ``choice`` is auto, coq, lean or lean-dojo. A Lean REPL
    comes from ``pool`` when one is given (the pool's settings apply), else it is the prover's
    own, under ``lean``'s limits."""
    choice = _choice(path, choice)
    if choice == "coq":
        from alphaquant.provers.coq.prover import CoqProver

        return CoqProver(path)
    if choice == "lean-dojo":
        from alphaquant.provers.lean.dojo import LeanDojoProver

        return LeanDojoProver(path)
    return _import_lean_prover().for_file(path, config=lean, pool=pool)


def _import_lean_prover() -> type[LeanProver]:
    """LeanProver, or one line naming the extra it needs (lean-interact)."""
    try:
        from alphaquant.provers.lean.prover import LeanProver
    except ImportError as e:
        raise ProverNotInstalled(f"the Lean backend needs lean-interact ({e}): "
                                 "pip install 'alphaquant[lean]' (or `make install`)") from None
    return LeanProver
