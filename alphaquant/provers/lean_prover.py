"""The Lean prover: ``provers.base.Prover`` over the Lean REPL that ``lean_repl.LeanRepl`` owns.

``LeanProver`` elaborates a file's import header once, sends the rest in that environment, takes
the root proof state from the ``sorry`` at the goal's position, and turns tactic answers into
outcome values: Solved only on proofStatus "Completed"; errors, sorries and unfinished proofs
are TacticError; a hung tactic is TacticTimeout. ``LeanProver.for_file`` checks, in this order,
that Lean is installed, that the file is in a Lake project, and that a REPL for the project's
Lean version is built, each failure one line naming the fix.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from alphaquant.errors import (
    FileDoesNotCompile,
    InputError,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.goals import GoalSite
from alphaquant.provers import lean_setup
from alphaquant.provers.base import (
    FileCheck,
    Outcome,
    Progress,
    ProofState,
    Solved,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean_protocol import (
    Command,
    CommandResponse,
    ProofStep,
    ProofStepResponse,
    ReplError,
    Response,
    Sorry,
    parse_axioms,
    sorry_warnings,
    suggestion,
)
from alphaquant.provers.lean_repl import (
    LAKE_MISSING,
    LeanRepl,
    ReplDied,
    ReplTimeout,
    one_line,
    repl_options,
)
from alphaquant.provers.negation import lean_negation, lean_universes


def lake_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` with a lakefile."""
    for folder in [path.resolve(), *path.resolve().parents]:
        if (folder / "lakefile.toml").is_file() or (folder / "lakefile.lean").is_file():
            return folder
    raise InputError(
        f"{path} is not in a Lake project (no lakefile.toml or lakefile.lean in its folder or "
        "above): Lean files are checked in their project; move it into one (e.g. lean_project/)"
    )


# ---------------------------------------------------------------------------------------------
# Lean text: the import header, the negation of a statement


# A Lean file cut where the REPL needs it: the header starts a session, the body runs in it.
@dataclass(frozen=True)
class Source:
    header: str  # comments, imports and leading `open`s; "" if none
    body: str  # the rest; its line 1 is the file's line ``line_offset + 1``, columns unchanged
    line_offset: int
    body_start: int  # offset in the file of the body's first character (after the padding)
    padding: int  # spaces put before the body to keep the columns of its first line


_SPACE = re.compile(r"\s+|--[^\n]*|/-")
_HEADER_COMMAND = re.compile(
    r"(?:module|prelude)\b"
    r"|(?:(?:public|private)\s+)?(?:meta\s+)?import\s+(?:all\s+)?[^\s/]+"
    r"|open\s+[^\n]*"
)


def split_source(text: str) -> Source:
    """Cut a file after its imports and the `open` lines right after them.

    The header is sent once without an environment (``import`` needs a fresh session); the body
    is sent with the header's environment, with its positions mapped back by ``line_offset``.
    """
    i = end = 0
    while True:
        i = _skip_space(text, i)
        m = _HEADER_COMMAND.match(text, i)
        if m is None or (m[0].startswith("open") and re.search(r"\bin\s*(--.*)?$", m[0])):
            break
        i = end = m.end()
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end]
    if not rest.strip() or rest.strip().startswith("--"):
        start, padding = min(line_end + 1, len(text)), 0
    else:
        start, padding = end, end - (text.rfind("\n", 0, end) + 1)
    if end == 0:
        start, padding = 0, 0
    return Source(
        header=text[:end],
        body=" " * padding + text[start:],
        line_offset=text.count("\n", 0, start),
        body_start=start,
        padding=padding,
    )


def _skip_space(text: str, i: int) -> int:
    """Past whitespace and comments (block comments nest)."""
    while m := _SPACE.match(text, i):
        if m[0] != "/-":
            i = m.end()
            continue
        depth, i = 1, m.end()
        while depth and i < len(text):
            if text.startswith("/-", i):
                depth, i = depth + 1, i + 2
            elif text.startswith("-/", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
    return i


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

    def __init__(self, repl: LeanRepl, *, cache_size: int = 32) -> None:
        self.repl = repl
        self._headers: dict[str, int] = {}
        self._bodies: dict[tuple[int | None, str, bool], CommandResponse] = {}
        self._cache_size = cache_size

    @classmethod
    def for_file(cls, path: Path, *, repl_dir: Path | None = None) -> LeanProver:
        """A prover for a file of a Lake project: the REPL runs in the project's root.

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
        return cls(LeanRepl(repl_options(project, repl_dir=folder)))

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
        request = ProofStep(proof_state=state.handle, tactic=tactic)
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

    def axioms(self, path: Path, text: str, theorem: str) -> frozenset[str]:
        """``#print axioms`` in the environment of the elaborated file (``sorryAx`` included)."""
        source = split_source(text)
        env = self._header_env(path, source)
        for _ in range(2):
            elaborated = self._elaborate(source, env, restorable=False)
            if isinstance(elaborated, ReplError):
                raise FileDoesNotCompile(f"Lean rejected {path}: {one_line(elaborated.message)}")
            query = Command(f"#print axioms {theorem}", env=elaborated.env)
            response = self.repl.send(query, restorable=False)
            if isinstance(response, CommandResponse):
                break
            self._bodies.pop((env, source.body, False), None)  # lost in a restart: redo
        else:
            raise ProverCrashed(f"`#print axioms {theorem}` failed: {one_line(str(response))}")
        printed = [p for m in response.messages if (p := parse_axioms(m.data)) is not None]
        for name, axioms in printed:
            if name == theorem or name.endswith("." + theorem) or len(printed) == 1:
                return axioms
        error = response.errors[0].data if response.errors else "no output"
        raise InputError(f"no axioms for {theorem} in {path}: {one_line(error)}")

    def close(self) -> None:
        self.repl.close()

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
        if source.header not in self._headers:
            response = self.repl.send(Command(source.header))
            if isinstance(response, ReplError):
                return FileCheck(ok=False, message=one_line(response.message), line=1)
            if response.errors:
                first = response.errors[0]
                return FileCheck(ok=False, message=one_line(first.data), line=first.pos.line)
            assert isinstance(response, CommandResponse)
            self._headers[source.header] = response.env
        return self._headers[source.header]

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
