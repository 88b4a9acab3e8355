"""The Lean prover: ``provers.base.Prover`` over a Lean REPL that lean-interact runs
(``session.LeanSession``).

A file is elaborated the way ``lake build`` elaborates it, one command at a time so that every
goal sees the declarations before it: the import header starts a session; the lakefile's
``leanOptions`` (and ``maxHeartbeats`` when configured) follow as ``set_option`` commands, so
they hold for every command after them, as `lake build`'s -D options do; then the body goes in
chunks, one declaration each, each chunk in the environment the previous one left. A goal's
root proof state is the ``sorry`` at its position in its own declaration's chunk: the REPL
records a sorry's proof state in the environment from *before* its command (REPL issue #66), so
a declaration sent alone sees every definition above it.

Tactic answers become outcome values: Solved only on proofStatus "Completed"; errors, sorries and
unfinished proofs are TacticError; a tactic past its time limit is TacticTimeout.
``LeanProver.for_file`` checks, in this order, that Lean is installed, that the file is in a Lake
project, and that a REPL for the project's Lean version is built, each failure one line naming
the fix.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from lean_interact.interface import CommandResponse, LeanError, ProofStepResponse, Sorry

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
from alphaquant.provers.lean.automation import refused
from alphaquant.provers.lean.goals import parse_goal, parse_goals
from alphaquant.provers.lean.lake import (
    LAKE_MISSING,
    lake_root,
    lean_options,
    one_line,
    required_packages,
    set_options,
)
from alphaquant.provers.lean.options import LeanConfig
from alphaquant.provers.lean.pool import SessionPool
from alphaquant.provers.lean.responses import errors, parse_axioms, sorry_warnings, suggestion
from alphaquant.provers.lean.session import LeanSession, ReplDied, ReplTimeout
from alphaquant.provers.lean.source import Source, split_source
from alphaquant.provers.negation import lean_negation, lean_universes
from alphaquant.sites.lean import declarations
from alphaquant.sites.site import GoalSite


def checked_repl(path: Path, *, repl_dir: Path | None = None) -> tuple[Path, Path]:
    """The Lake project of a file and the REPL built for its Lean version.

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
    return project, folder
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
    """``provers.base.Prover`` over a ``LeanSession``.

    Proof-state handles are the session's, so a state stays usable across REPL restarts. A
    prover made by ``for_file`` owns its session; one over a ``SessionPool``'s shares it.
    """

    name = "lean"

    def __init__(self, session: LeanSession, *, project: Path | None = None,
                 owned: bool = True) -> None:
        """Args:
          session: the REPL (shared with other provers when it comes from a pool).
          project: the Lake project, whose lakefile ``leanOptions`` every command gets.
          owned: ``close`` closes the session (else the pool does).
        """
        self.session = session
        options = lean_options(project) if project is not None else {}
        beats = session.config.max_heartbeats
        if beats is not None:
            options["maxHeartbeats"] = beats
        self.options = set_options(options)
        self._owned = owned
        # what the automation gate checks (nothing is gated without a project)
        self.version = lean_setup.read_toolchain(project) if project is not None else None
        self.packages = required_packages(project) if project is not None else None

    @classmethod
    def for_file(cls, path: Path, *, repl_dir: Path | None = None,
                 config: LeanConfig | None = None, pool: SessionPool | None = None) -> LeanProver:
        """A prover for a file of a Lake project (``checked_repl`` says what must hold): over
        ``pool``'s session for the project, else over a session of its own under ``config``."""
        project, folder = checked_repl(path, repl_dir=repl_dir)
        if pool is not None:
            return cls(pool.session(project, folder), project=project, owned=False)
        return cls(LeanSession(project, folder, config), project=project)

    def open(self, site: GoalSite, text: str) -> ProofState:
        source = split_source(text)
        env, (start, end) = self._env_before(site.file, text, source, site.start)
        command, line_offset = _chunk(text, start, end)
        response = self.session.env(command, env)
        if isinstance(response, LeanError):
            raise FileDoesNotCompile(f"Lean rejected {site.file}: {one_line(response.message)}")
        index = _site_sorry(response.sorries, site, text, line_offset)
        sorry = None if index is None else response.sorries[index]
        if sorry is None or sorry.proof_state is None:
            if errors(response.messages):
                first = errors(response.messages)[0]
                line = first.start_pos.line + line_offset
                raise FileDoesNotCompile(f"{site.file}:{line}: {one_line(first.data)}")
            where = f"{site.file}:{site.line}:{site.col}"
            raise InputError(f"Lean reports no `sorry` at {where}: is the file saved?")
        assert index is not None
        handle = self.session.root(env, command, index, sorry.proof_state)
        return ProofState(goals=parse_goals(sorry.goal), handle=handle, path=())

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """The negation, elaborated where the theorem stands (its namespace, opens, and every
        declaration above it). None for an ``example`` after a ``variable``/``include``: its
        disproof could not be checked (``proof.insert_disproof``)."""
        statement = negation_statement(site.statement)
        if statement is None or (not site.theorem
                                 and lean_probe.declares_variables(text, site.decl_start)):
            return None
        env, _ = self._env_before(site.file, text, split_source(text), site.start)
        response = self.session.env(statement, env)
        if not isinstance(response, CommandResponse) or errors(response.messages):
            return None
        if len(response.sorries) != 1 or response.sorries[0].proof_state is None:
            return None
        sorry = response.sorries[0]
        assert sorry.proof_state is not None
        handle = self.session.root(env, statement, 0, sorry.proof_state)
        return ProofState(goals=parse_goals(sorry.goal), handle=handle, path=())

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        if timeout <= 0:
            return TacticTimeout(timeout)  # no time left: don't kill the REPL for nothing
        if self.packages is not None:
            reason = refused(tactic, self.version, self.packages)
            if reason is not None:
                return TacticError(reason)
        try:
            try:
                handle, response = self.session.step(state.handle, tactic, timeout)
            except ReplTimeout:
                raise
            except ReplDied:
                handle, response = self.session.step(state.handle, tactic, timeout)
        except ReplTimeout:
            return TacticTimeout(timeout)
        except ReplDied as e:
            return TacticError(f"the Lean REPL died twice running this tactic: {e}")
        return _outcome(state, tactic, handle, response)

    def check_file(self, path: Path, text: str) -> FileCheck:
        """Elaborate the whole file as `lake build` would (its options included); ok when Lean
        reports no error (sorries are proof.py's)."""
        source = split_source(text)
        env = self._base_result(source)
        if isinstance(env, FileCheck):
            hint = "run `lake build` in the project (or `make lean`)"
            return replace(env, message=f"its imports do not load in Lean: {env.message}; {hint}")
        response = self.session.command(source.body, env)
        if isinstance(response, LeanError):
            return FileCheck(ok=False, message=one_line(response.message))
        if errors(response.messages):
            first = errors(response.messages)[0]
            return FileCheck(False, one_line(first.data),
                             first.start_pos.line + source.line_offset)
        return FileCheck(ok=True)

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """``#print axioms`` of the declaration at ``decl_start``, asked through
        ``lean_probe.build`` (qualified name, ``example`` renamed, other holes marked)."""
        try:
            probe = lean_probe.build(original, text, decl_start)
        except ValueError as e:
            raise InputError(f"cannot check the axioms of {path.name}: {e}") from None
        source = split_source(probe.text)
        response = self.session.command(source.body, self._base_env(path, source))
        if isinstance(response, LeanError):
            why = one_line(response.message)
            raise ProverCrashed(f"`#print axioms {probe.name}` failed: {why}")
        line = probe.print_line - source.line_offset
        failed = [m for m in errors(response.messages) if m.start_pos.line != line]
        if failed:
            where = failed[0].start_pos.line + source.line_offset
            raise FileDoesNotCompile(f"{path.name}:{where}: {one_line(failed[0].data)}")
        for message in response.messages:
            printed = parse_axioms(message.data)
            if message.start_pos.line == line and printed is not None:
                return probe.refused(printed[1])
        said = next((m.data for m in response.messages if m.start_pos.line == line), "no answer")
        raise FileDoesNotCompile(f"`#print axioms {probe.name}` in {path.name}: {one_line(said)}")

    def close(self) -> None:
        if self._owned:
            self.session.close()

    # -- elaboration -----------------------------------------------------------------------------

    def _base_env(self, path: Path, source: Source) -> int | None:
        """The environment after the header and the options (None: no header, no options)."""
        env = self._base_result(source)
        if isinstance(env, FileCheck):
            raise ProverStartError(
                f"the imports of {path.name} do not load in Lean: {env.message}; "
                "run `lake build` in the project (or `make lean`)"
            )
        return env

    def _base_result(self, source: Source) -> int | None | FileCheck:
        """The header's environment with the options set, or the check that failed."""
        env: int | None = None
        for text in (source.header, self.options):
            if not text:
                continue
            response = self.session.env(text, env)
            if isinstance(response, LeanError):
                return FileCheck(ok=False, message=one_line(response.message), line=1)
            if errors(response.messages):
                first = errors(response.messages)[0]
                line = first.start_pos.line if text is source.header else 1
                return FileCheck(ok=False, message=one_line(first.data), line=line)
            env = response.env
        return env

    def _env_before(self, path: Path, text: str, source: Source, offset: int
                    ) -> tuple[int | None, tuple[int, int]]:
        """The environment every declaration before ``offset`` leaves, each sent as a command
        of its own in the environment of the one before, and the chunk that holds ``offset``."""
        env = self._base_env(path, source)
        chunks = _chunks(text, source)
        for start, end in chunks:
            if start <= offset < end or (start, end) == chunks[-1]:
                return env, (start, end)
            command, _ = _chunk(text, start, end)
            if not command.strip():
                continue
            response = self.session.env(command, env)
            if isinstance(response, LeanError):
                raise FileDoesNotCompile(f"Lean rejected {path.name}: "
                                         f"{one_line(response.message)}")
            env = response.env
        raise AssertionError("a file has at least one chunk")


def _chunks(text: str, source: Source) -> list[tuple[int, int]]:
    """The body cut before each declaration (attributes and doc comments included)."""
    cuts = sorted({d.decl_start for d in declarations(text) if d.decl_start > source.body_start})
    bounds = [source.body_start, *cuts, len(text)]
    return list(zip(bounds, bounds[1:], strict=False)) or [(source.body_start, len(text))]


def _chunk(text: str, start: int, end: int) -> tuple[str, int]:
    """The command for ``text[start:end]``, padded to keep its first line's columns, and the
    number of file lines before it."""
    column = start - (text.rfind("\n", 0, start) + 1)
    return " " * column + text[start:end], text.count("\n", 0, start)


def _outcome(state: ProofState, tactic: str, handle: int | None,
             response: ProofStepResponse | LeanError) -> Outcome:
    """What a tactic's answer means for the search."""
    if isinstance(response, LeanError):
        return TacticError(response.message)
    if errors(response.messages):
        return TacticError(errors(response.messages)[0].data)
    if response.sorries or sorry_warnings(response.messages):
        return TacticError("the tactic leaves a `sorry`")
    # `exact?`, `try?` and friends say what to write instead: that goes into the proof.
    path = (*state.path, suggestion(response.messages) or tactic)
    if response.proof_status == "Completed":
        return Solved(path=path)
    if not response.goals:
        return TacticError(
            f"no goals are left but Lean does not accept the proof: {response.proof_status}"
        )
    goals = tuple(parse_goal(g) for g in response.goals)
    assert handle is not None  # an answer to a step always names its new state
    return Progress(ProofState(goals=goals, handle=handle, path=path))


def _site_sorry(sorries: list[Sorry], site: GoalSite, text: str, line_offset: int) -> int | None:
    """The index of the sorry at the goal's position: the hole token, or any sorry inside the
    hole's span."""
    line_starts = [0, *(i + 1 for i, ch in enumerate(text) if ch == "\n")]

    def position(offset: int) -> tuple[int, int]:
        line = text.count("\n", 0, offset)
        return line + 1, offset - line_starts[line]

    hole = text[site.start : site.end]
    token = max(hole.rfind("sorry"), hole.rfind("admit"))
    wanted = {(site.line, site.col), position(site.start)}
    if token >= 0:
        wanted.add(position(site.start + token))
    placed = [(i, s) for i, s in enumerate(sorries)
              if s.start_pos is not None and s.proof_state is not None]
    for i, s in placed:
        assert s.start_pos is not None
        if (s.start_pos.line + line_offset, s.start_pos.column) in wanted:
            return i
    for i, s in placed:
        assert s.start_pos is not None
        line = s.start_pos.line + line_offset
        if (line <= len(line_starts)
                and site.start <= line_starts[line - 1] + s.start_pos.column < site.end):
            return i
    return None
