"""LeanDojo itself, imported on first use, and its answers as outcome values: ``Dojo.run_tac``'s
results (``dojo_outcome``) and exceptions (``dojo_failure``). ``dojo.LeanDojoProver`` uses them.
"""

from __future__ import annotations

import os
from types import ModuleType

from alphaquant.errors import (
    AlphaquantError,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.provers.base import (
    Outcome,
    Progress,
    ProofState,
    Solved,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean.goals import parse_goals
from alphaquant.provers.lean.lake import one_line

DOJO_MISSING = "LeanDojo is not installed: pip install -e '.[dojo]' (or pip install lean-dojo)"


def import_lean_dojo() -> ModuleType:
    """The lean_dojo package, imported on first use (its import has side effects: ``dojo.py``).

    LeanDojo's remote cache of traces holds GitHub repositories only, and this backend opens
    local ones: DISABLE_REMOTE_CACHE (read at import) spares each start an HTTP request without
    a timeout to dl.fbaipublicfiles.com, which fails or hangs offline.
    """
    os.environ.setdefault("DISABLE_REMOTE_CACHE", "1")
    try:
        import lean_dojo
    except ImportError as e:
        raise ProverNotInstalled(f"{DOJO_MISSING} ({e})") from None
    except AssertionError as e:  # its import asserts git >= 2.25 is installed
        raise ProverNotInstalled(f"LeanDojo cannot start: {one_line(str(e))}") from None
    module: ModuleType = lean_dojo
    return module


# ---------------------------------------------------------------------------------------------
# LeanDojo's answers as outcome values


def dojo_outcome(result: object, path: tuple[str, ...]) -> Outcome:
    """What one ``Dojo.run_tac`` answer means for the search; ``path`` includes the tactic.

    TacticState -> Progress (goals parsed like the REPL's), ProofFinished -> Solved, LeanError ->
    TacticError (Lean's message), ProofGivenUp -> TacticError("proof given up").
    """
    ld = import_lean_dojo()
    if isinstance(result, ld.TacticState):
        state = ProofState(goals=parse_goals(result.pp), handle=int(result.id), path=path)
        return Progress(state)
    if isinstance(result, ld.ProofFinished):
        return Solved(path=path)
    if isinstance(result, ld.LeanError):
        return TacticError(str(result.error))
    if isinstance(result, ld.ProofGivenUp):
        return TacticError("proof given up")
    raise ProverCrashed(f"LeanDojo gave an answer alphaquant does not know: {result!r}")


def dojo_failure(error: BaseException, seconds: float) -> TacticTimeout | AlphaquantError | None:
    """What an exception of LeanDojo means: a tactic timeout (a value), a crash or a failed start
    (errors to raise); None for an exception that is not LeanDojo's."""
    ld = import_lean_dojo()
    if isinstance(error, ld.DojoTacticTimeoutError):
        return TacticTimeout(seconds)
    if isinstance(error, ld.DojoCrashError):
        why = "out of memory" if str(error) == "OOM" else one_line(str(error)) or "no message"
        return ProverCrashed(f"LeanDojo's Lean process crashed ({why})")
    if isinstance(error, ld.DojoInitError):
        return ProverStartError(f"LeanDojo could not start the theorem: {one_line(str(error))}")
    return None
