"""The Lean prover: ``provers.base.Prover`` over the Lean REPL that ``repl.LeanRepl`` owns.

``LeanProver`` elaborates a file's import header once, sends the rest in that environment, takes
the root proof state from the ``sorry`` at the goal's position, and turns tactic answers into
outcome values: Solved only on proofStatus "Completed"; errors, sorries and unfinished proofs
are TacticError; a hung tactic is TacticTimeout. ``LeanProver.for_file`` checks, in this order,
that Lean is installed, that the file is in a Lake project, and that a REPL for the project's
Lean version is built, each failure one line naming the fix.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from alphaquant.errors import (
    FileDoesNotCompile,
    InputError,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.provers.base import (
    FileCheck,
    Outcome,
    Progress,
    ProofState,
    Solved,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean import probe as lean_probe
from alphaquant.provers.lean import setup as lean_setup
from alphaquant.provers.lean.lake import LAKE_MISSING, lake_root, one_line
from alphaquant.provers.lean.options import (
    LeanConfig,
    ReplOptions,
    default_memory_limit_mb,
    repl_options,
)
from alphaquant.provers.lean.repl import LeanRepl, ReplDied, ReplTimeout
from alphaquant.provers.lean.requests import Command, ProofStep
from alphaquant.provers.lean.responses import (
    CommandResponse,
    ProofStepResponse,
    ReplError,
    Response,
    Sorry,
    parse_axioms,
    sorry_warnings,
    suggestion,
)
from alphaquant.provers.lean.source import Source, split_source
from alphaquant.provers.negation import lean_negation, lean_universes
from alphaquant.sites.site import GoalSite


def checked_options(path: Path, *, repl_dir: Path | None = None) -> ReplOptions:
    """How to run the REPL for a file of a Lake project: in the project's root.

    Raises, in this order (the first that applies is the one line a user sees):
        ProverNotInstalled: no ``lake`` on PATH (Lean is not installed: `make lean`).
        InputError: the file is not inside a Lake project.
        ProverNotInstalled: no REPL built for the project's Lean version, or one built
            for another version; the message names the command that builds the right one.
    """
    if shutil.which("lake") is None:
        raise ProverNotInstalled(LAKE_MISSING)
    project = lake_root(path)
    folder = repl_dir or lean_setup.repl_dir(lean_setup.read_toolchain(project))
    problem = lean_setup.repl_problem(folder, project)
    if problem is not None:
        raise ProverNotInstalled(problem)
    return repl_options(project, repl_dir=folder)


# ---------------------------------------------------------------------------------------------
# Lean text: the negation of a statement


def negation_statement(statement: str, name: str = "aq_negation") -> str | None:
    """``theorem <name> : ¬ (∀ binders, type) := by sorry`` from a theorem's header, or None.

    The negation itself is ``negation.lean_negation`` (the one proof.py's disproof lemma uses);
    the universe parameters of the theorem's name are kept.
    """
    negation = lean_negation(statement)
    if negation is None:
        return None
    return f"theorem {name}{lean_universes(statement)} : {negation} := by sorry"


# ---------------------------------------------------------------------------------------------
# The prover


class LeanProver:
    """``provers.base.Prover`` over a Lean REPL.

    Build it with ``LeanProver(LeanRepl(repl_options(project)))``; tests pass a LeanRepl whose
    command runs ``tests/replay_repl.py``. Proof-state handles are LeanRepl's stable ids, so a
    state stays usable across REPL restarts.
    """

    name = "lean"

    def __init__(
        self,
        repl: LeanRepl,
        *,
        cache_size: int = 32,
        heartbeats_per_second: float | None = None,
        pickles: bool = False,
        on_close: Callable[[LeanProver], None] | None = None,
    ) -> None:
        """Args:
          repl: the REPL process (shared with other provers when it comes from a pool).
          cache_size: elaborated file bodies kept.
          heartbeats_per_second: run each tactic as ``set_option maxHeartbeats N in`` with N
            this rate times its time limit (Lean's unit, thousands of heartbeats), so a slow
            tactic fails inside Lean as an ordinary error; None sends tactics unchanged.
          pickles: pickle each header's environment and each root proof state, so a restarted
            REPL restores them from the pickles instead of elaborating the file again.
          on_close: called by ``close`` instead of closing the REPL (a pool's release).
        """
        self.repl = repl
        self._bodies: dict[tuple[int | None, str, bool], CommandResponse] = {}
        self._cache_size = cache_size
        self.heartbeats_per_second = heartbeats_per_second
        self.pickles = pickles
        self._on_close = on_close

    @classmethod
    def for_file(
        cls, path: Path, *, repl_dir: Path | None = None, config: LeanConfig | None = None
    ) -> LeanProver:
        """A prover with a REPL of its own for a file of a Lake project (``checked_options``
        says what must hold), under ``config``'s limits (a ``pool.ReplPool`` shares one
        REPL between files of the same header instead)."""
        options = checked_options(path, repl_dir=repl_dir)
        config = config or LeanConfig()
        options = replace(options, memory_limit_mb=config.memory_limit_mb or
                          default_memory_limit_mb(), max_commands=config.max_commands,
                          rss_limit_mb=config.rss_limit_mb)
        return cls(LeanRepl(options), heartbeats_per_second=config.heartbeats_per_second,
                   pickles=config.pickles)

    def open(self, site: GoalSite, text: str) -> ProofState:
        source = split_source(text)
        response = self._elaborate(source, self._header_env(site.file, source))
        if isinstance(response, ReplError):
            raise FileDoesNotCompile(f"Lean rejected {site.file}: {one_line(response.message)}")
        sorry = _site_sorry(response.sorries, site, text, source)
        if sorry is None or sorry.proof_state is None:
            if response.errors:
                first = response.errors[0]
                line = first.pos.line + source.line_offset
                raise FileDoesNotCompile(f"{site.file}:{line}: {one_line(first.data)}")
            where = f"{site.file}:{site.line}:{site.col}"
            raise InputError(f"Lean reports no `sorry` at {where}: is the file saved?")
        if self.pickles:
            self.repl.pickle("proofState", sorry.proof_state)
        return ProofState(goals=sorry.subgoals, handle=sorry.proof_state, path=())

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """The negation, elaborated where the theorem stands (same namespace, opens, defs)."""
        statement = negation_statement(site.statement)
        if statement is None:
            return None
        source = split_source(text)
        env = self._header_env(site.file, source)
        prefix = source.body[: max(0, site.decl_start - source.body_start) + source.padding]
        if prefix and not prefix.endswith("\n"):
            prefix += "\n"
        response = self.repl.send(Command(prefix + statement, env=env))
        if not isinstance(response, CommandResponse):
            return None
        first_line = prefix.count("\n") + 1
        if any(m.pos.line >= first_line for m in response.errors):
            return None
        ours = [s for s in response.sorries if s.pos is not None and s.pos.line >= first_line]
        if len(ours) != 1 or ours[0].proof_state is None:
            return None
        return ProofState(goals=ours[0].subgoals, handle=ours[0].proof_state, path=())

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        if timeout <= 0:
            return TacticTimeout(timeout)  # no time left: don't kill the REPL for nothing
        request = ProofStep(proof_state=state.handle, tactic=self._limited(tactic, timeout))
        try:
            try:
                response = self.repl.send(request, timeout)
            except ReplTimeout:
                raise
            except ReplDied:
                response = self.repl.send(request, timeout)  # once more, in a fresh process
        except ReplTimeout:
            return TacticTimeout(timeout)
        except ReplDied as e:
            return TacticError(f"the Lean REPL died twice running this tactic: {e}")
        return _outcome(state, tactic, response)

    def check_file(self, path: Path, text: str) -> FileCheck:
        """Elaborate the whole file; ok when Lean reports no error (sorries are proof.py's)."""
        source = split_source(text)
        env = self._header_result(source)
        if isinstance(env, FileCheck):
            hint = "run `lake build` in the project (or `make lean`)"
            return replace(env, message=f"its imports do not load in Lean: {env.message}; {hint}")
        response = self._elaborate(source, env, restorable=False)
        if isinstance(response, ReplError):
            return FileCheck(ok=False, message=one_line(response.message))
        if response.errors:
            first = response.errors[0]
            return FileCheck(False, one_line(first.data), first.pos.line + source.line_offset)
        return FileCheck(ok=True)

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """``#print axioms`` of the declaration at ``decl_start``, asked through
        ``lean_probe.build`` (qualified name, ``example`` renamed, other holes marked)."""
        try:
            probe = lean_probe.build(original, text, decl_start)
        except ValueError as e:
            raise InputError(f"cannot check the axioms of {path.name}: {e}") from None
        source = split_source(probe.text)
        env = self._header_env(path, source)
        response = self.repl.send(Command(source.body, env=env), restorable=False)
        if isinstance(response, ReplError):
            why = one_line(response.message)
            raise ProverCrashed(f"`#print axioms {probe.name}` failed: {why}")
        if not isinstance(response, CommandResponse):
            raise ProverCrashed(f"the Lean REPL answered a command with {one_line(str(response))}")
        line = probe.print_line - source.line_offset
        errors = [m for m in response.errors if m.pos.line != line]
        if errors:
            first = errors[0]
            where = first.pos.line + source.line_offset
            raise FileDoesNotCompile(f"{path.name}:{where}: {one_line(first.data)}")
        for message in response.messages:
            printed = parse_axioms(message.data)
            if message.pos.line == line and printed is not None:
                return probe.refused(printed[1])
        said = next((m.data for m in response.messages if m.pos.line == line), "no answer")
        raise FileDoesNotCompile(f"`#print axioms {probe.name}` in {path.name}: {one_line(said)}")

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close(self)
        else:
            self.repl.close()

    def _limited(self, tactic: str, timeout: float) -> str:
        """The tactic under a heartbeat limit scaled to ``timeout`` (see ``__init__``)."""
        if self.heartbeats_per_second is None:
            return tactic
        beats = max(1, round(self.heartbeats_per_second * timeout))
        body = "\n".join("  " + line for line in tactic.splitlines())
        return f"set_option maxHeartbeats {beats} in\n{body}"

    # -- elaboration -----------------------------------------------------------------------------

    def _header_env(self, path: Path, source: Source) -> int | None:
        """The environment of the file's header (None: no header, start a fresh session)."""
        env = self._header_result(source)
        if isinstance(env, FileCheck):
            raise ProverStartError(
                f"the imports of {path.name} do not load in Lean: {env.message}; "
                "run `lake build` in the project (or `make lean`)"
            )
        return env

    def _header_result(self, source: Source) -> int | None | FileCheck:
        """The header's environment, or the check that failed; successes are cached."""
        if not source.header:
            return None
        headers = self.repl.headers
        if source.header not in headers:
            response = self.repl.send(Command(source.header))
            if isinstance(response, ReplError):
                return FileCheck(ok=False, message=one_line(response.message), line=1)
            if response.errors:
                first = response.errors[0]
                return FileCheck(ok=False, message=one_line(first.data), line=first.pos.line)
            assert isinstance(response, CommandResponse)
            headers[source.header] = response.env
            if self.pickles:
                self.repl.pickle("env", response.env)
        return headers[source.header]

    def _elaborate(
        self, source: Source, env: int | None, *, restorable: bool = True
    ) -> CommandResponse | ReplError:
        """The REPL's answer for the file's body; answers are cached by text."""
        key = (env, source.body, restorable)
        if key in self._bodies:
            return self._bodies[key]
        response = self.repl.send(Command(source.body, env=env), restorable=restorable)
        if isinstance(response, ProofStepResponse):
            raise ProverCrashed(f"the Lean REPL answered a command with {one_line(str(response))}")
        if isinstance(response, CommandResponse):
            if len(self._bodies) >= self._cache_size:
                del self._bodies[next(iter(self._bodies))]
            self._bodies[key] = response
        return response


def _outcome(state: ProofState, tactic: str, response: Response) -> Outcome:
    """What a tactic's answer means for the search."""
    if isinstance(response, ReplError):
        return TacticError(response.message)
    if not isinstance(response, ProofStepResponse):
        raise ProverCrashed(f"the Lean REPL answered a tactic with {one_line(str(response))}")
    if response.errors:
        return TacticError(response.errors[0].data)
    if response.sorries or sorry_warnings(response):
        return TacticError("the tactic leaves a `sorry`")
    # `exact?` and friends say what to write instead: that goes into the proof.
    path = (*state.path, suggestion(response.messages) or tactic)
    if response.completed:
        return Solved(path=path)
    if not response.goals:
        return TacticError(
            f"no goals are left but Lean does not accept the proof: {response.proof_status}"
        )
    return Progress(ProofState(goals=response.subgoals, handle=response.proof_state, path=path))


def _site_sorry(
    sorries: tuple[Sorry, ...], site: GoalSite, text: str, source: Source
) -> Sorry | None:
    """The sorry at the goal's position: the hole token, or any sorry inside the hole's span."""
    line_starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]

    def position(offset: int) -> tuple[int, int]:
        line = text.count("\n", 0, offset)
        return line + 1, offset - line_starts[line]

    hole = text[site.start : site.end]
    token = max(hole.rfind("sorry"), hole.rfind("admit"))
    wanted = {(site.line, site.col), position(site.start)}
    if token >= 0:
        wanted.add(position(site.start + token))
    placed = [s for s in sorries if s.pos is not None and s.proof_state is not None]
    for s in placed:
        assert s.pos is not None
        if (s.pos.line + source.line_offset, s.pos.column) in wanted:
            return s
    for s in placed:
        assert s.pos is not None
        line = s.pos.line + source.line_offset
        if (
            line <= len(line_starts)
            and site.start <= line_starts[line - 1] + s.pos.column < site.end
        ):
            return s
    return None
