"""LeanDojo as a prover (``--prover lean-dojo``; ``pip install -e ".[dojo]"``).

LeanDojo (lean-dojo/LeanDojo) runs one theorem of a *traced git commit*: ``Dojo(Theorem(
LeanGitRepo(root, commit), file, full_name))`` replaces the theorem's whole proof by its own
tactic REPL and answers ``run_tac(state, tactic)`` with ``TacticState | ProofFinished |
LeanError | ProofGivenUp``. Hence the limits of this backend, each reported as one line:

- the Lake project must be the root of a git repository, the file committed and unchanged, and
  that commit traced beforehand (``lean_dojo.trace``: hours and tens of GB for a Mathlib project);
- only goals that are a theorem's *whole* proof (``:= by sorry``, ``:= sorry``) can be opened;
  a ``sorry`` inside a longer proof is an InputError (the REPL backend, the default, has no such
  limit); negations cannot be opened (they are not theorems of the traced commit).

Whole-file checks and the axiom probe (``probe.py``) run ``lake env lean`` on the text in the
project's root. LeanDojo's answers become outcome values in ``dojo_answers.py``.
``lean_dojo`` is imported on first use only: its import runs ``git --version``, reads a ``.env``
file of the working directory, imports Ray and re-configures loguru's stderr sink. ``Dojo``
changes the process's working directory while it starts: do not share one process between
concurrent workers.
"""

from __future__ import annotations

import logging
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphaquant.errors import (
    FileDoesNotCompile,
    InputError,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.lexing import code_tokens, lex
from alphaquant.provers.base import FileCheck, Outcome, Progress, ProofState, TacticTimeout
from alphaquant.provers.lean import probe as lean_probe
from alphaquant.provers.lean.dojo_answers import dojo_failure, dojo_outcome, import_lean_dojo
from alphaquant.provers.lean.goals import parse_goals
from alphaquant.provers.lean.lake import lake_root, one_line, run_lake
from alphaquant.provers.lean.responses import parse_axioms
from alphaquant.sites.site import GoalSite

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Which goals LeanDojo can open


def whole_theorem_problem(site: GoalSite, text: str) -> str | None:
    """Why LeanDojo cannot open ``site`` (it replaces whole proofs of named theorems); None if
    the hole is the whole proof of a theorem or lemma."""
    keyword = site.statement.split(maxsplit=1)[0] if site.statement.strip() else ""
    where = f"{site.file}:{site.line}"
    if keyword not in ("theorem", "lemma") or not site.theorem:
        return (f"{where}: LeanDojo opens named theorems only (this is {keyword or 'no'} "
                "declaration); use --prover lean")
    tokens = [t for t in code_tokens(lex(text, "lean")) if site.decl_start <= t.start < site.start]
    start = next((i for i, t in enumerate(tokens) if t.text == keyword), None)
    assign, depth = None, 0
    for i, t in enumerate(tokens[start or 0 :], start or 0):
        if t.kind == "symbol" and t.text in _OPENERS:
            depth += 1
        elif t.kind == "symbol" and t.text in _CLOSERS:
            depth -= 1
        elif depth == 0 and t.text == ":=":
            assign = i
            break
    whole = site.kind in ("by sorry", "term sorry") and assign == len(tokens) - 1
    if not whole:
        return (f"{where}: LeanDojo replaces whole proofs only, and this sorry is inside the "
                f"proof of {site.theorem}; use --prover lean (the REPL backend) for it")
    return None


_OPENERS = frozenset({"(", "[", "{", "⟨", "⦃", "@[", "#[", "‹"})
_CLOSERS = frozenset({")", "]", "}", "⟩", "⦄", "›"})


def full_name(text: str, site: GoalSite) -> str:
    """The theorem's name with the namespaces open at its declaration (``_root_.`` dropped)."""
    return lean_probe.qualify(text, site.decl_start, site.theorem)


# ---------------------------------------------------------------------------------------------
# The prover


# One theorem open in LeanDojo: the entered Dojo and the tactic states it handed out.
@dataclass
class _Session:
    key: tuple[str, str]  # (file relative to the repository, full name)
    theorem: Any  # lean_dojo.Theorem
    dojo: Any  # the entered lean_dojo.Dojo
    states: dict[tuple[str, ...], Any] = field(default_factory=dict)  # path -> TacticState


class LeanDojoProver:
    """``provers.base.Prover`` over LeanDojo: whole theorems of a traced git commit.

    Proof-state handles are LeanDojo's state ids; the authority is the tactic path, so after a
    timeout or a crash (the Dojo is restarted) a state is rebuilt by replaying its path.
    """

    name = "lean-dojo"

    def __init__(
        self,
        path: Path,
        *,
        start_timeout: float = 600.0,
        check_timeout: float = 900.0,
        max_restarts: int = 3,
    ) -> None:
        self.path = path
        self.start_timeout = start_timeout
        self.check_timeout = check_timeout
        self.max_restarts = max_restarts
        self._session: _Session | None = None
        self._repo: Any = None  # lean_dojo.LeanGitRepo, made once
        self._root: Path | None = None

    # -- Prover ----------------------------------------------------------------------------------

    def open(self, site: GoalSite, text: str) -> ProofState:
        problem = whole_theorem_problem(site, text)
        if problem is not None:
            raise InputError(problem)
        ld = import_lean_dojo()
        repo, root = self._traced_repo(site.file)
        key = (str(site.file.resolve().relative_to(root)), full_name(text, site))
        if self._session is None or self._session.key != key:
            self._close_session()
            theorem = ld.Theorem(repo, Path(key[0]), key[1])
            self._session = self._start(key, theorem)
        root_state = self._session.states[()]
        return ProofState(goals=parse_goals(root_state.pp), handle=int(root_state.id), path=())

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """None: LeanDojo opens theorems of the traced commit only, and the negation is not one."""
        return None

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        if timeout <= 0:
            return TacticTimeout(timeout)
        if self._session is None:
            raise ProverCrashed("LeanDojo has no open theorem: open a goal first")
        path = (*state.path, tactic)
        for attempt in range(2):
            try:
                before = self._state_at(state.path)
                result = self._run(before, tactic, timeout)
            except Exception as e:  # LeanDojo's own exceptions, sorted by dojo_failure
                failure = dojo_failure(e, timeout)
                if failure is None:
                    raise
                self._restart()  # a timed-out or crashed Dojo is out of step: start afresh
                if isinstance(failure, TacticTimeout):
                    return failure
                if attempt == 1:
                    raise failure from None
                continue
            outcome = dojo_outcome(result, path)
            if isinstance(outcome, Progress):
                self._session.states[path] = result
            return outcome
        raise AssertionError("unreachable")

    def check_file(self, path: Path, text: str) -> FileCheck:
        """``lake env lean`` on the text, in the project's root; ok when Lean reports no error."""
        code, output = self._lean(path, text)
        errors = [m for m in _LEAN_MESSAGE.finditer(output) if m["severity"] == "error"]
        if errors:
            first = errors[0]
            return FileCheck(False, one_line(first["message"]), int(first["line"]))
        if code != 0:
            return FileCheck(False, one_line(output) or f"lean exited with code {code}")
        return FileCheck(ok=True)

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """``lake env lean`` on ``lean_probe.build``'s probe; its last command's answer."""
        try:
            probe = lean_probe.build(original, text, decl_start)
        except ValueError as e:
            raise InputError(f"cannot check the axioms of {path.name}: {e}") from None
        _, output = self._lean(path, probe.text)
        errors = [m for m in _LEAN_MESSAGE.finditer(output) if m["severity"] == "error"]
        if errors:
            first = errors[0]
            raise FileDoesNotCompile(f"{path.name}:{first['line']}: {one_line(first['message'])}")
        messages = re.split(r"\n(?=\S)", output)  # continuation lines are indented
        printed = [p for m in messages if (p := parse_axioms(m)) is not None]
        if not printed:
            said = one_line(output) or "no output"
            raise FileDoesNotCompile(f"`#print axioms {probe.name}` in {path.name}: {said}")
        return probe.refused(printed[-1][1])  # the probe's command is the file's last

    def close(self) -> None:
        self._close_session()

    # -- LeanDojo --------------------------------------------------------------------------------

    def _traced_repo(self, file: Path) -> tuple[Any, Path]:
        """LeanDojo's repository for the file's commit, which must be committed and traced."""
        if self._repo is not None and self._root is not None:
            return self._repo, self._root
        ld = import_lean_dojo()
        folder = file.resolve().parent
        root = Path(_git(folder, "rev-parse", "--show-toplevel"))
        if not ((root / "lakefile.toml").is_file() or (root / "lakefile.lean").is_file()):
            raise InputError(
                f"LeanDojo needs the Lake project at the root of a git repository, and {root} "
                "has no lakefile: make the project its own repository, or use --prover lean"
            )
        if _git(root, "status", "--porcelain", "--", str(file.resolve())):
            raise InputError(
                f"{file} has uncommitted changes: LeanDojo reads the traced commit, not the "
                "working tree; commit the file and trace that commit first"
            )
        commit = _git(root, "rev-parse", "HEAD")
        try:
            repo = ld.LeanGitRepo(str(root), commit)
        except Exception as e:  # LeanDojo asserts and raises ValueError, git errors, ...
            raise ProverStartError(f"LeanDojo cannot read {root}: {one_line(str(e))}") from None
        traced = Path(ld.constants.CACHE_DIR) / repo.get_cache_dirname()
        if not traced.exists():
            command = (f"DISABLE_REMOTE_CACHE=1 python -c \"import lean_dojo as d; "
                       f"d.trace(d.LeanGitRepo('{root}', '{commit}'))\"")
            raise ProverNotInstalled(
                f"{root} at {commit[:12]} is not traced for LeanDojo: run `{command}` first "
                "(a Mathlib project takes hours and tens of GB), or use --prover lean"
            )
        self._repo, self._root = repo, root
        return repo, root

    def _start(self, key: tuple[str, str], theorem: Any) -> _Session:
        """Enter a Dojo for ``theorem``; its initial state is the session's root."""
        ld = import_lean_dojo()
        dojo = ld.Dojo(theorem, timeout=int(self.start_timeout))
        try:
            _, initial = dojo.__enter__()
        except Exception as e:  # DojoInitError, DojoCrashError, and LeanDojo's assertions
            failure = dojo_failure(e, self.start_timeout)
            if isinstance(failure, ProverStartError):
                raise failure from None
            raise ProverStartError(
                f"LeanDojo could not start {key[1]} in {key[0]}: {one_line(str(e)) or type(e)}"
            ) from None
        if not isinstance(initial, ld.TacticState):
            dojo.__exit__(None, None, None)
            raise ProverStartError(f"LeanDojo opened {key[1]} without a tactic state")
        return _Session(key, theorem, dojo, {(): initial})

    def _run(self, state: Any, tactic: str, timeout: float) -> Any:
        """``run_tac`` with this tactic's deadline (the Dojo's pexpect child reads with it)."""
        assert self._session is not None
        proc = getattr(self._session.dojo, "proc", None)
        if proc is not None:
            proc.timeout = max(1.0, timeout)
        return self._session.dojo.run_tac(state, tactic)

    def _state_at(self, path: tuple[str, ...]) -> Any:
        """The TacticState at ``path``, replayed from the root if this Dojo has not seen it."""
        assert self._session is not None
        states = self._session.states
        if path in states:
            return states[path]
        ld = import_lean_dojo()
        parent = self._state_at(path[:-1])
        result = self._run(parent, path[-1], self.start_timeout)
        if not isinstance(result, ld.TacticState):
            replay = " ; ".join(path)
            raise ProverCrashed(
                f"replaying {replay} after a LeanDojo restart gave {one_line(repr(result))}"
            )
        states[path] = result
        return result

    def _restart(self) -> None:
        """A fresh Dojo for the same theorem (states are replayed on demand)."""
        assert self._session is not None
        key, theorem = self._session.key, self._session.theorem
        self._close_session()
        for attempt in range(self.max_restarts):
            try:
                self._session = self._start(key, theorem)
                return
            except ProverStartError as e:
                log.warning("restarting LeanDojo failed (%s); attempt %d", e, attempt + 1)
                time.sleep(min(8.0, 0.5 * 2**attempt))
        raise ProverCrashed(f"LeanDojo could not be restarted on {key[1]} after a crash")

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.dojo.__exit__(None, None, None)
            except Exception as e:  # the process may be gone already
                log.info("closing LeanDojo: %s", e)

    # -- lake env lean ---------------------------------------------------------------------------

    def _lean(self, path: Path, text: str) -> tuple[int | None, str]:
        """Run ``lake env lean`` on ``text`` (as a temporary file) in the file's Lake project."""
        root = lake_root(path)
        with tempfile.TemporaryDirectory(prefix="alphaquant-dojo-") as tmp:
            source = Path(tmp) / path.name
            source.write_text(text, encoding="utf-8")
            done = run_lake(["env", "lean", str(source)], root, self.check_timeout)
        if done is None:
            raise ProverCrashed(
                f"`lake env lean` gave no verdict on {path.name} within "
                f"{self.check_timeout:g} s and was stopped"
            )
        return done


_LEAN_MESSAGE = re.compile(
    r"^.*?:(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|info): (?P<message>.*)$",
    re.MULTILINE,
)


def _git(folder: Path, *args: str) -> str:
    """``git -C folder ARGS``' output; an InputError when the folder is not in a repository."""
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=60)
    except FileNotFoundError:
        raise ProverNotInstalled("git is not installed: apt-get install -y git") from None
    except subprocess.TimeoutExpired:
        raise ProverStartError(f"`git {' '.join(args)}` gave no answer in {folder}") from None
    if done.returncode != 0:
        raise InputError(
            f"LeanDojo needs the file in a git repository ({folder}: "
            f"{one_line(done.stderr) or 'git failed'}); use --prover lean"
        )
    return done.stdout.strip()
