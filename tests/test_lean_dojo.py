"""The LeanDojo backend: LeanDojo's own result and exception classes mapped to outcome values,
which goals it can open, and restart-and-replay over a Dojo double that answers with LeanDojo's
classes. Tests that need ``lean_dojo`` are skipped, with the reason, where it is not installed.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from alphaquant.errors import InputError, ProverCrashed, ProverStartError
from alphaquant.goals import locate
from alphaquant.provers.base import (
    Progress,
    ProofState,
    Prover,
    Solved,
    Subgoal,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean.dojo import LeanDojoProver, _Session, full_name, whole_theorem_problem
from alphaquant.provers.lean.dojo_answers import dojo_failure, dojo_outcome
from alphaquant.provers.registry import make_prover

needs_dojo = pytest.mark.skipif(
    importlib.util.find_spec("lean_dojo") is None,
    reason="lean_dojo is not installed (pip install -e '.[dojo]')",
)

TWO_GOALS = "case inl\np q : Prop\nh : p\n⊢ p ∨ q\n\ncase inr\np q : Prop\nh : q\n⊢ p ∨ q"


def sites(text: str, path: str = "T.lean") -> list[Any]:
    return locate(text, Path(path))


# ---------------------------------------------------------------------------------------------
# LeanDojo's results and exceptions


@needs_dojo
def test_lean_dojo_results_become_outcomes() -> None:
    from lean_dojo import LeanError, ProofFinished, ProofGivenUp, TacticState

    path = ("intro h", "cases h")
    progress = dojo_outcome(TacticState(TWO_GOALS, 7), path)
    assert isinstance(progress, Progress)
    assert progress.state.handle == 7 and progress.state.path == path
    assert progress.state.goals == (
        Subgoal(("case inl", "p q : Prop", "h : p"), "p ∨ q"),
        Subgoal(("case inr", "p q : Prop", "h : q"), "p ∨ q"),
    )
    assert progress.state == ProofState(progress.state.goals)  # compares on goal text only
    assert dojo_outcome(ProofFinished(8, None), path) == Solved(path)
    assert dojo_outcome(LeanError("unknown identifier 'x'"), path) == TacticError(
        "unknown identifier 'x'"
    )
    assert dojo_outcome(ProofGivenUp(), path) == TacticError("proof given up")
    with pytest.raises(ProverCrashed, match="does not know"):
        dojo_outcome("no goals", path)


@needs_dojo
def test_lean_dojo_exceptions_become_timeouts_and_errors() -> None:
    from lean_dojo import DojoCrashError, DojoInitError, DojoTacticTimeoutError

    assert dojo_failure(DojoTacticTimeoutError(), 3.0) == TacticTimeout(3.0)
    crash = dojo_failure(DojoCrashError("OOM"), 3.0)
    assert isinstance(crash, ProverCrashed) and "out of memory" in str(crash)
    crash = dojo_failure(DojoCrashError("Unexpected EOF"), 3.0)
    assert isinstance(crash, ProverCrashed) and "Unexpected EOF" in str(crash)
    start = dojo_failure(DojoInitError("Unexpected EOF"), 3.0)
    assert isinstance(start, ProverStartError) and "could not start" in str(start)
    assert dojo_failure(ValueError("not LeanDojo's"), 3.0) is None


# ---------------------------------------------------------------------------------------------
# Which goals LeanDojo can open


WHOLE = """namespace Q
theorem a (n : ℕ := 3) : n = n := by sorry
lemma b : True :=
  sorry
end Q
section S
theorem c {p : Prop} (h : p) : p ∧ p := by
  have h' : p := sorry
  exact ⟨h, h'⟩
theorem d : True ∧ True := ⟨sorry, trivial⟩
example : True := by sorry
end S
"""


def test_only_whole_proofs_of_named_theorems() -> None:
    found = {s.theorem or "example": s for s in sites(WHOLE)}
    assert whole_theorem_problem(found["a"], WHOLE) is None
    assert whole_theorem_problem(found["b"], WHOLE) is None
    inner = whole_theorem_problem(found["c"], WHOLE) or ""
    assert "whole proofs only" in inner and "--prover lean" in inner
    assert "whole proofs only" in (whole_theorem_problem(found["d"], WHOLE) or "")
    assert "named theorems only" in (whole_theorem_problem(found["example"], WHOLE) or "")


def test_full_names_follow_namespaces() -> None:
    found = {s.theorem or "example": s for s in sites(WHOLE)}
    assert full_name(WHOLE, found["a"]) == "Q.a"
    assert full_name(WHOLE, found["c"]) == "c"  # sections add nothing; `end Q` closed Q
    nested = "namespace A.B\n-- namespace X\nnamespace C\ntheorem t : True := by sorry\n"
    (site,) = sites(nested)
    assert full_name(nested, site) == "A.B.C.t"
    rooted = "namespace A\ntheorem _root_.u : True := by sorry\n"
    assert full_name(rooted, sites(rooted)[0]) == "u"


def test_registry_and_inner_sorry_need_no_lean_dojo(tmp_path: Path) -> None:
    path = tmp_path / "T.lean"
    path.write_text(WHOLE)
    prover = make_prover(path, "lean-dojo")
    assert isinstance(prover, LeanDojoProver) and isinstance(prover, Prover)
    inner = next(s for s in sites(WHOLE, str(path)) if s.theorem == "c")
    with pytest.raises(InputError, match="whole proofs only"):
        prover.open(inner, WHOLE)
    assert prover.open_negation(inner, WHOLE) is None
    prover.close()


# ---------------------------------------------------------------------------------------------
# apply: timeouts restart the Dojo, states are replayed by path


class FakeDojo:
    """Answers like ``lean_dojo.Dojo.run_tac`` from a script: tactic -> result or exception."""

    starts = 0

    def __init__(self, script: dict[str, list[object]]) -> None:
        FakeDojo.starts += 1
        self.script = script
        self.ran: list[str] = []
        self.closed = False

    def run_tac(self, state: object, tactic: str) -> object:
        self.ran.append(tactic)
        answer = self.script[tactic].pop(0) if len(self.script[tactic]) > 1 else (
            self.script[tactic][0])
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def __exit__(self, *exc: object) -> None:
        self.closed = True


@needs_dojo
def test_timeout_restarts_and_replays(tmp_path: Path) -> None:
    from lean_dojo import DojoTacticTimeoutError, LeanError, ProofFinished, TacticState

    split = TacticState("case left\np q : Prop\nh : p ∧ q\n⊢ p\n\ncase right\np q : Prop\n"
                        "h : p ∧ q\n⊢ q", 1)
    script: dict[str, list[object]] = {
        "constructor": [split],
        "simp": [DojoTacticTimeoutError(), LeanError("simp made no progress")],
        "exact ⟨h.1, h.2⟩": [ProofFinished(2, None)],
    }
    root = TacticState("p q : Prop\nh : p ∧ q\n⊢ p ∧ q", 0)

    class Scripted(LeanDojoProver):
        def _start(self, key: tuple[str, str], theorem: Any) -> _Session:
            return _Session(key, theorem, FakeDojo(script), {(): root})

    prover = Scripted(tmp_path / "T.lean")
    prover._session = prover._start(("T.lean", "t"), None)
    start = ProofState(goals=(), handle=0, path=())
    FakeDojo.starts = 1
    after = prover.apply(start, "constructor", 5)
    assert isinstance(after, Progress) and len(after.state.goals) == 2
    assert prover.apply(after.state, "simp", 5) == TacticTimeout(5)
    assert FakeDojo.starts == 2  # the Dojo was out of step: a fresh one
    assert prover.apply(after.state, "simp", 5) == TacticError("simp made no progress")
    assert prover._session is not None and prover._session.dojo.ran == ["constructor", "simp"]
    assert prover.apply(start, "exact ⟨h.1, h.2⟩", 5) == Solved(("exact ⟨h.1, h.2⟩",))
    assert prover.apply(start, "anything", 0) == TacticTimeout(0)
    prover.close()
