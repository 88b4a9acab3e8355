"""The prover boundary: the types every backend speaks and the search relies on.

The search sees only this module. A backend opens a proof at a located goal, applies a tactic to
any earlier state, and answers with an outcome value; only a dead or hung prover raises.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from alphaquant.sites.site import GoalSite


# One goal of a proof state: hypotheses as printed ("x : R") and the conclusion.
@dataclass(frozen=True)
class Subgoal:
    hypotheses: tuple[str, ...]
    conclusion: str

    def render(self) -> str:
        """The goal as a prover would print it: hypotheses, a rule, the conclusion."""
        return "\n".join([*self.hypotheses, "=" * 20, self.conclusion])


# A proof state compares on its goals only, so identical goal lists are one search node.
@dataclass(frozen=True)
class ProofState:
    goals: tuple[Subgoal, ...]
    handle: int = field(default=0, compare=False)  # backend's id (coqtop state, REPL proofState)
    path: tuple[str, ...] = field(default=(), compare=False)  # tactics from the root, for replay

    def __hash__(self) -> int:
        return self._hash  # a search looks states up at every step: hashed once

    @functools.cached_property
    def _hash(self) -> int:
        return hash(self.goals)

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_hash", None)  # string hashes differ between processes
        return state

    @property
    def text(self) -> str:
        """All goals rendered, blank-line separated."""
        return "\n\n".join(g.render() for g in self.goals)


# A lemma of the prover's own library (or the project's) that may serve a state: premise retrieval.
@dataclass(frozen=True)
class Premise:
    name: str
    statement: str  # as the prover prints it
    score: float  # relevance to the state, higher first
    local: bool = False  # one of the file's or project's own lemmas


# One step of a finished proof, as a prover showed it when the proof was replayed: the focused
# goal before the tactic (hypotheses as printed, conclusion) and the tactic as written.
@dataclass(frozen=True)
class RecordedStep:
    theorem: str
    index: int  # the step's place among its proof's recorded steps
    hypotheses: tuple[str, ...]
    conclusion: str
    tactic: str


# The tactic made progress: new open goals (possibly fewer than before). The last tactic of
# ``state.path`` is the text to write: the tactic itself, or the prover's restatement of it (a
# tactic that prints what to use instead, as CoqHammer's ``hammer`` or Lean's ``exact?`` do).
@dataclass(frozen=True)
class Progress:
    state: ProofState


# The tactic closed every goal; ``path[-1]`` is the text to write, as for Progress.
@dataclass(frozen=True)
class Solved:
    path: tuple[str, ...]


# The prover rejected the tactic; the message is the prover's own.
@dataclass(frozen=True)
class TacticError:
    message: str


# The tactic ran past its time limit (the prover survived or was restarted).
@dataclass(frozen=True)
class TacticTimeout:
    seconds: float


Outcome = Progress | Solved | TacticError | TacticTimeout


# The verdict of a whole-file check.
@dataclass(frozen=True)
class FileCheck:
    ok: bool
    message: str = ""  # first error, as the prover printed it
    line: int | None = None  # 1-based line of that error in the checked text


# The acceptance rule's verdict on one declaration, from a prover that checks the whole file and
# the declaration's assumptions at once (``Judging``).
@dataclass(frozen=True)
class Acceptance:
    ok: bool
    reason: str = ""  # why refused
    check: FileCheck | None = None  # set when the file itself does not compile
    negation_fails: bool = False  # a disproof's tactics do not prove the negation where stated
    assumes: tuple[str, ...] = ()  # axioms (own, allowed) and section hypotheses it rests on
    refused: tuple[str, ...] = ()  # what the rule refused, by name


@runtime_checkable
class Judging(Protocol):
    """A prover whose acceptance rule is one check: the whole file, the declaration's
    dependencies and what they rest on, and for a disproof the negation of the declaration's own
    kernel type, stated where no section variable is in scope."""

    def judge(self, path: Path, text: str, decl_start: int, *,
              negation: tuple[str, ...] | None = None,
              avoid: frozenset[str] = frozenset(),
              imports: tuple[str, ...] = ()) -> Acceptance:
        """The verdict on the declaration at ``decl_start`` of ``text`` (with ``negation``, the
        tactics of a disproof: on its negation instead, with ``imports``, the import lines
        those tactics need, loaded after the claim); ``avoid`` names no dependency may
        have."""
        ...


@runtime_checkable
class Prover(Protocol):
    """One prover session. Backends own their processes; ``close`` ends them."""

    name: str

    def open(self, site: GoalSite, text: str) -> ProofState:
        """Start a proof at ``site`` in the file ``text``; the root state of the search."""
        ...

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """Start a proof of the negation of the goal's whole statement; None if not possible."""
        ...

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        """Run one tactic on any earlier state. Raises ProverCrashed only if recovery failed."""
        ...

    def check_file(self, path: Path, text: str) -> FileCheck:
        """Check ``text`` as the contents of ``path`` with the prover's kernel, whole."""
        ...

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """The assumptions the acceptance rule refuses, of the declaration at ``decl_start``.

        ``text`` is the whole file with a proof spliced in, ``original`` the file before the
        search. The backend resolves the declaration to its fully qualified kernel name
        (modules, sections, namespaces; an anonymous ``Goal``/``example`` through a named
        auxiliary copy), asks the kernel for its assumptions, and returns, by fully qualified
        name, every one outside the allow-list: the prover's own library axioms and the axioms
        the file itself declared before the search. Remaining holes of the same declaration
        (other ``admit``/``sorry``) are stood in for by a marker and are not reported; anything
        they would hide (a ``fix`` in a hole) the kernel checks. () means accepted.

        Raises:
          FileDoesNotCompile: the probe text does not compile.
        """
        ...

    def close(self) -> None:
        """End every process this session started."""
        ...


# Optional capabilities a backend may add; the search asks for them with getattr.


@runtime_checkable
class Focusing(Protocol):
    def focus(self, state: ProofState, index: int) -> ProofState | None:
        """A state holding goal ``index`` of ``state`` alone, to be searched as its own
        subproblem (a product node), or None when the goals are not independent (shared
        existential variables). A proof of it, run on the first goal of ``state``, closes that
        goal and leaves the others as they were."""
        ...


@runtime_checkable
class CheckingApart(Protocol):
    def check_file_opening(self, path: Path, text: str, site: GoalSite) -> FileCheck:
        """``check_file``, in its own process, while the session opens ``site`` beside it: the
        first goal's root is ready when the check is. An error of the opening is not raised
        here (the search's own ``open`` meets it again)."""
        ...


@runtime_checkable
class Retrieving(Protocol):
    def premises(self, state: ProofState, limit: int) -> tuple[Premise, ...]:
        """Up to ``limit`` lemmas of the prover's library that may serve ``state``, best first
        (the project's own first); () when retrieval is unavailable."""
        ...
