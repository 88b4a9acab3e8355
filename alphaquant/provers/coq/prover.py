"""Coq as a prover: ``CoqProver`` speaks ``Prover`` over one coqtop process (coqtop.py).

``CoqProver`` keeps the *line*: the sentences coqtop has run since it started, each with the state
number it produced. Every proof state is addressed by its root (the file's sentences before the
hole, then ``Show.``) and its tactic path; reaching it means ``BackTo`` the longest prefix of the
line it shares, then sending what is missing. Coq forgets every state past a ``BackTo`` target,
so the line is cut there; after a restart it is empty and the whole path is replayed. The search
never sees state numbers, only a slower step. A tactic runs as ``Timeout <s> tac.``; when no
prompt comes within ``s + grace`` seconds the process group is killed and coqtop restarted. Whole
files are checked with ``coqc`` on a copy in a temporary directory.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from alphaquant.errors import (
    FileDoesNotCompile,
    InputError,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.goals import GoalSite, locate
from alphaquant.provers.base import (
    FileCheck,
    Outcome,
    Progress,
    ProofState,
    Solved,
    Subgoal,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.coq.coqtop import CoqTop, CoqtopDied, CoqtopHung, Desync, Reply
from alphaquant.provers.coq.project import (
    CoqProject,
    ToolRun,
    build_dependencies,
    find_project,
    first_error,
)
from alphaquant.provers.coq.protocol import (
    CARET_SOURCE,
    Reading,
    error_message,
    read_reply,
    without_messages,
)
from alphaquant.provers.coq.sentences import (
    Sentence,
    Sentences,
    one_tactic_sentence,
    split_sentences,
    tactic_body,
)
from alphaquant.provers.coq.trust import CoqTrust, compile_copy, refused
from alphaquant.provers.negation import coq_negation
from alphaquant.tactics.sanitize import check_tactic

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install -y coq"
COQ_MISSING = f"Coq is not installed (coqtop not on PATH): install it with `{INSTALL_HINT}`"

T = TypeVar("T")


def coq_status() -> tuple[bool, str, str]:
    """(found, version, install hint) of coqtop; the hint is "" when Coq is found."""
    exe = shutil.which("coqtop")
    if exe is None:
        return False, "", INSTALL_HINT
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return True, "", ""
    m = re.search(r"version\s+(\S+)", done.stdout + done.stderr)
    return True, (m.group(1) if m else (done.stdout.strip().splitlines() or [""])[0]), ""



# Where a search starts: the sentences that bring coqtop to its root proof state.
@dataclass(eq=False)
class _Root:
    project: CoqProject
    file: Path
    sentences: tuple[str, ...]  # the file's sentences, then any added ones, ``Show.`` last
    lines: tuple[int, ...]  # 1-based line in the file of each of the file's sentences
    subproof: bool  # an ``admit`` site: closing the focused goal solves it
    what: str  # how the root is described in errors

    @property
    def from_file(self) -> int:
        """How many of the sentences come from the file."""
        return len(self.lines)


# A sentence of the root that failed while being fed.
class _FeedError(Exception):
    def __init__(self, index: int, message: str, output: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
        self.output = output


# A tactic of a path that failed when replayed.
class _ReplayError(Exception):
    pass


_Key = tuple[str, str]  # ("s", sentence) for root sentences, ("t", tactic) for tactics


class CoqProver:
    """A Coq session for the search: one coqtop process, restarted and replayed when it breaks.

    Args:
      path: the file the session is for (optional; each ``open`` names its own file).
      grace: seconds past a tactic's own ``Timeout`` before coqtop is killed as hung.
      start_timeout: seconds for coqtop to print its first prompt.
      prefix_timeout: seconds for the file's text before a hole (Require, earlier proofs).
      command_timeout: seconds for ``BackTo`` and other bookkeeping commands.
      replay_timeout: the ``Timeout`` of a tactic replayed after a jump or a restart.
      check_timeout: seconds for each coqc / coqdep run.
      max_restarts: restarts in a row (with exponential backoff) before ProverCrashed.
      backoff: first backoff delay in seconds (the first restart is immediate).
      allowed_axioms: fully qualified axiom names a proof may rest on besides the standard
        library's and the file's own declared axioms.
    """

    name = "coq"

    def __init__(
        self,
        path: Path | None = None,
        *,
        grace: float = 3.0,
        start_timeout: float = 60.0,
        prefix_timeout: float = 600.0,
        command_timeout: float = 60.0,
        replay_timeout: float = 60.0,
        check_timeout: float = 900.0,
        max_restarts: int = 3,
        backoff: float = 0.5,
        allowed_axioms: frozenset[str] = frozenset(),
    ) -> None:
        coqtop = shutil.which("coqtop")
        if coqtop is None:
            raise ProverNotInstalled(COQ_MISSING)
        self.path = path
        self.grace = grace
        self.start_timeout = start_timeout
        self.prefix_timeout = prefix_timeout
        self.command_timeout = command_timeout
        self.replay_timeout = replay_timeout
        self.check_timeout = check_timeout
        self.max_restarts = max_restarts
        self.backoff = backoff
        self._coqtop = coqtop
        self._coqc = shutil.which("coqc") or "coqc"
        self._coqdep = shutil.which("coqdep") or "coqdep"
        self.allowed_axioms = allowed_axioms
        self._trust = CoqTrust(self._coqc, self._coqdep, check_timeout)
        self._scratch: str | None = None
        self._lock = threading.RLock()
        self._proc: CoqTop | None = None
        self._project: CoqProject | None = None
        self._line: list[tuple[_Key, int | None]] = []
        self._base = 0
        self._current = 0
        self._root: _Root | None = None
        self._owner: dict[int, _Root] = {}
        self._next_handle = 1
        self._sync = 0
        self._root_goals: dict[tuple[str, ...], tuple[Subgoal, ...]] = {}
        self.restarts = 0  # coqtop restarts after a crash or a hang
        self.replayed = 0  # tactics replayed to reach a state again
        self.generation = 0  # coqtop processes started so far
        self._waited_before = 0.0

    # -- counters and lifetime

    @property
    def pid(self) -> int | None:
        """The pid of the current coqtop process (None when none runs)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.alive() else None

    @property
    def wait_seconds(self) -> float:
        """Seconds spent waiting for coqtop's replies, over all its processes."""
        return self._waited_before + (self._proc.waited if self._proc is not None else 0.0)

    def stats(self) -> dict[str, float]:
        """Counters for benchmarks."""
        return {
            "restarts": self.restarts,
            "replayed": self.replayed,
            "processes": self.generation,
            "wait_seconds": round(self.wait_seconds, 3),
        }

    def close(self) -> None:
        """Kill coqtop (and anything it started)."""
        with self._lock:
            self._kill()

    def __enter__(self) -> CoqProver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Prover protocol

    def open(self, site: GoalSite, text: str) -> ProofState:
        """Feed the file up to the hole at ``site``; the root state of the search.

        Raises:
          FileDoesNotCompile: the text before the hole fails; the message has Coq's first
            error and its line.
          InputError: there is no open proof at the hole.
        """
        self._require_installed()
        project = find_project(site.file)
        prefix = text[: site.start]
        split = split_sentences(prefix)
        if split.unterminated:
            raise InputError(f"{site.file.name}: the text before line {site.line} leaves a "
                             "comment or string open")
        added: list[str] = []
        if site.kind == "admit":
            added.append(f"{split.rest} {{" if split.rest else "{")
        elif split.rest:
            raise InputError(f"{site.file.name}, line {site.line}: the hole does not start a "
                             f"sentence (it follows {split.rest[-40:]!r})")
        root = self._make_root(project, site.file, text, split, added, site.kind == "admit",
                               f"the goal at line {site.line}")
        try:
            return self._open_root(root, text)
        except _FeedError as e:
            raise InputError(
                f"{site.file.name}, line {site.line}: no open proof at the hole "
                f"({' '.join(e.message.split())})"
            ) from None

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """Start ``Lemma aq_negation_of_<name> : ~ (forall binders, statement)`` before the
        declaration; None inside a section with variables or if the negation does not state."""
        self._require_installed()
        negation = coq_negation(site.statement)
        if negation is None:
            return None
        split = split_sentences(text[: site.decl_start])
        if split.unterminated or _in_section_with_variables(split.sentences):
            return None
        name = f"aq_negation_of_{site.theorem or 'goal'}"
        project = find_project(site.file)
        root = self._make_root(project, site.file, text, split,
                               [f"Lemma {name} : {negation}."], False, f"the negation of {name}")
        try:
            return self._open_root(root, text)
        except _FeedError as e:
            log.info("the negation of %s does not state: %s", site.theorem, e.message)
            return None

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        """Run ``tactic`` on ``state`` (any state this session returned) within ``timeout``."""
        refusal = self.refusal(tactic)
        if refusal is not None:
            return TacticError(f"tactic refused: {refusal}")
        seconds = max(1, math.ceil(timeout))
        command = f"Timeout {seconds} {tactic_body(tactic)}."
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                raise InputError("apply() before open(): no proof is open in this Coq session")
            failures = 0
            tactic_deaths = 0
            while True:
                try:
                    self._reach(root, state.path)
                except _ReplayError as e:
                    return TacticError(f"could not replay the path to this state: {e}")
                except _FeedError as e:
                    if e.index < root.from_file:
                        raise self._does_not_compile(root, e) from None
                    raise ProverCrashed(f"coqtop no longer reaches {root.what}: {e}") from None
                except (CoqtopDied, CoqtopHung, Desync) as e:
                    failures = self._after_failure(failures, e)
                    continue
                proc = self._proc
                assert proc is not None
                try:
                    reply = proc.command(command, seconds + self.grace)
                except CoqtopHung:
                    log.warning("coqtop gave no prompt %gs past the tactic's Timeout: killed",
                                self.grace)
                    self._kill()
                    self.restarts += 1
                    self._restart_at(root, state.path)
                    return TacticTimeout(timeout)
                except CoqtopDied as e:
                    tactic_deaths += 1
                    if tactic_deaths >= 2:
                        self._kill()
                        return TacticError(f"coqtop died running this tactic, twice: {e}")
                    failures = self._after_failure(failures, e)
                    continue
                self._current = reply.state
                return self._outcome(root, state, tactic, reply, timeout)

    def check_file(self, path: Path, text: str) -> FileCheck:
        """Compile ``text`` as ``path`` with coqc (stale project dependencies built first)."""
        self._require_installed()
        project = find_project(path)
        with tempfile.TemporaryDirectory(prefix="alphaquant-coq-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_text(text, encoding="utf-8")
            try:
                build_dependencies(project, copy, coqc=self._coqc, coqdep=self._coqdep,
                                   timeout=self.check_timeout)
            except FileDoesNotCompile as e:
                return FileCheck(False, str(e), None)
            run = self._coqc_copy(project, path, copy)
        if run.returncode == 0:
            return FileCheck(True)
        if run.timed_out:
            return FileCheck(False, f"coqc did not finish within {self.check_timeout:g}s", None)
        message, line = first_error(run.stderr + "\n" + run.stdout, copy)
        return FileCheck(False, message, line)

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """The assumptions of the declaration at ``decl_start`` the acceptance rule refuses,
        by fully qualified kernel name (see provers/coq_trust.py)."""
        self._require_installed()
        holes = [(s.start, s.end) for s in locate(text, path) if s.kind == "admit"]
        found = self._trust.assumptions(path, text, decl_start, holes)
        return refused(found, path=path, original=original, allowed=self.allowed_axioms)

    # -- helpers for open / apply

    def refusal(self, tactic: str) -> str | None:
        """Why ``tactic`` is refused (not one tactic sentence, or the sanitizer says no)."""
        return one_tactic_sentence(tactic) or check_tactic(tactic, "coq")

    def _open_root(self, root: _Root, text: str) -> ProofState:
        """Reach ``root`` and return its state. The file's own sentences failing raise
        FileDoesNotCompile; the sentences added after them failing raise _FeedError."""
        with self._lock:
            self._prepare(root.project, root.file, text)
            try:
                goals = self._recovering(lambda: self._reach_root(root))
            except _FeedError as e:
                if e.index < root.from_file:
                    raise self._does_not_compile(root, e) from None
                raise
            self._root = root
            return self._state(root, goals, ())

    def _require_installed(self) -> None:
        if shutil.which("coqtop") is None and not os.path.exists(self._coqtop):
            raise ProverNotInstalled(COQ_MISSING)

    def _make_root(
        self, project: CoqProject, file: Path, text: str, split: Sentences,
        added: list[str], subproof: bool, what: str,
    ) -> _Root:
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        lines = tuple(bisect.bisect_left(newlines, s.start) + 1 for s in split.sentences)
        sentences = (*(s.text for s in split.sentences), *added, "Show.")
        return _Root(project, file, sentences, lines, subproof, what)

    def _state(self, root: _Root, goals: tuple[Subgoal, ...], path: tuple[str, ...]) -> ProofState:
        handle = self._next_handle
        self._next_handle += 1
        self._owner[handle] = root
        return ProofState(goals, handle, path)

    def _prepare(self, project: CoqProject, file: Path, text: str) -> None:
        """Build the project files ``text`` needs; restart coqtop if any changed or the project
        differs from the running process's."""
        with tempfile.TemporaryDirectory(prefix="alphaquant-coq-") as tmp:
            copy = Path(tmp) / file.name
            copy.write_text(text, encoding="utf-8")
            compiled = build_dependencies(project, copy, coqc=self._coqc, coqdep=self._coqdep,
                                          timeout=self.check_timeout)
        if compiled:
            log.info("built %s", ", ".join(p.name for p in compiled))
        if compiled or (self._project is not None and self._project != project):
            self._kill()  # loaded libraries may be stale: start afresh
            self._root_goals.clear()

    def _does_not_compile(self, root: _Root, e: _FeedError) -> FileDoesNotCompile:
        line = root.lines[e.index]
        sentence = root.sentences[e.index]
        caret = CARET_SOURCE.search(e.output)
        if caret is not None and caret.group(1).strip():
            shown = caret.group(1).strip()
            for k, source_line in enumerate(sentence.splitlines()):
                if source_line.strip() and source_line.strip() in shown:
                    line += k
                    break
        message = " ".join(e.message.split())
        return FileDoesNotCompile(
            f"{root.file.name} does not compile before {root.what}: line {line}: {message}"
        )

    def _outcome(
        self, root: _Root, state: ProofState, tactic: str, reply: Reply, timeout: float
    ) -> Outcome:
        error = error_message(reply.output)
        if error is not None:
            if error.startswith("Timeout!"):
                return TacticTimeout(timeout)
            return TacticError(error)
        path = (*state.path, tactic)
        self._line.append((("t", tactic), reply.state))
        reading = read_reply(reply.output)
        if reading.kind == "unknown":
            reading = self._show()
        if reading.kind == "done" or (reading.kind == "subproof" and root.subproof):
            return Solved(path)
        if reading.kind == "goals":
            return Progress(self._state(root, reading.goals, path))
        why = {
            "gave_up": "no goals remain, but some were given up (admit / give_up)",
            "shelf": "all the remaining goals are on the shelf",
            "subproof": "the focused goal is closed but unfocused goals remain (a bullet or "
                        "brace would be needed)",
        }.get(reading.kind, "coqtop printed no goals: " + " ".join(reply.output.split())[:200])
        return TacticError(why)

    def _show(self) -> Reading:
        """What ``Show.`` says of the current state (coqtop prints no goals after a tactic that
        printed a message). ``Show.`` takes a state number of its own; the line does not keep
        it, so the next step goes back to the tactic's state first."""
        proc = self._proc
        assert proc is not None
        try:
            shown = proc.command("Show.", self.command_timeout)
        except (CoqtopDied, CoqtopHung) as e:
            log.warning("coqtop broke on Show. (%s); it restarts on the next step", e)
            self._kill()
            return Reading("unknown")
        self._current = shown.state
        if error_message(shown.output) is not None:
            return Reading("unknown")
        return read_reply(shown.output)

    # -- reaching states

    def _start(self, project: CoqProject) -> None:
        self._kill()
        argv = [self._coqtop, "-emacs", *project.flags]
        # coqtop runs in a scratch folder of its own: tactic caches (.lia.cache) stay out of
        # the user's project and go with the process.
        self._scratch = tempfile.mkdtemp(prefix="alphaquant-coqtop-")
        try:
            proc = CoqTop(argv, Path(self._scratch))
        except OSError as e:
            raise ProverStartError(f"could not start coqtop: {e}") from None
        self._proc = proc
        self._project = project
        self.generation += 1
        try:
            first = proc.read_reply(time.monotonic() + self.start_timeout)
        except CoqtopDied as e:
            self._kill()
            raise ProverStartError(
                f"coqtop exited at start-up with flags {' '.join(project.flags) or '(none)'} "
                f"from {project.root}/_CoqProject: {e}"
            ) from None
        self._line = []
        self._base = self._current = first.state

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._waited_before += proc.waited
        self._proc = None
        self._line = []
        proc.kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _after_failure(self, failures: int, error: Exception) -> int:
        """Kill the broken process; wait before the next try; ProverCrashed when out of tries."""
        self._kill()
        failures += 1
        self.restarts += 1
        log.warning("coqtop failed (%s); restarting and replaying (try %d)", error, failures)
        if failures > self.max_restarts:
            raise ProverCrashed(
                f"coqtop failed {failures} times in a row and was given up (last: {error}); "
                "likely causes: memory exhausted or a tactic that hangs coqtop; "
                "check `coqtop -emacs` by hand, or lower the tactic timeout"
            )
        if failures > 1:
            time.sleep(self.backoff * 2 ** (failures - 2))
        return failures

    def _recovering(self, action: Callable[[], T]) -> T:
        failures = 0
        while True:
            try:
                return action()
            except (CoqtopDied, CoqtopHung, Desync) as e:
                failures = self._after_failure(failures, e)

    def _restart_at(self, root: _Root, path: tuple[str, ...]) -> None:
        """After a kill: start coqtop again at ``path``; a failure here waits for the next call."""
        try:
            self._recovering(lambda: self._reach(root, path))
        except (ProverCrashed, ProverStartError, InputError, _FeedError, _ReplayError) as e:
            log.warning("coqtop did not come back after a hang (%s); retrying on next use", e)

    def _reach_root(self, root: _Root) -> tuple[Subgoal, ...]:
        goals = self._root_goals.get(root.sentences)
        if goals is None and self._line_matches(root.sentences) >= len(root.sentences):
            # the root is on the line but its goals were never read: send Show. again
            del self._line[len(root.sentences) - 1 :]
        self._reach(root, ())
        goals = self._root_goals.get(root.sentences)
        assert goals is not None
        return goals

    def _line_matches(self, sentences: tuple[str, ...]) -> int:
        n = 0
        while (n < len(sentences) and n < len(self._line)
               and self._line[n][0] == ("s", sentences[n])):
            n += 1
        return n

    def _reach(self, root: _Root, path: tuple[str, ...]) -> None:
        """Bring coqtop to the state ``path`` from ``root``: BackTo, then send what is missing."""
        if self._proc is None or not self._proc.alive() or self._project != root.project:
            self._start(root.project)
        proc = self._proc
        assert proc is not None
        keys: list[_Key] = [("s", s) for s in root.sentences] + [("t", t) for t in path]
        n = 0
        while n < len(keys) and n < len(self._line) and self._line[n][0] == keys[n]:
            n += 1
        while n > 0 and self._line[n - 1][1] is None:
            n -= 1
        target = self._line[n - 1][1] if n else self._base
        assert target is not None
        del self._line[n:]
        if target != self._current:
            reply = proc.command(f"BackTo {target}.", self.command_timeout)
            if reply.state != target or error_message(reply.output) is not None:
                raise Desync(f"BackTo {target} answered state {reply.state}: "
                              f"{' '.join(reply.output.split())[:200]}")
            self._current = target
        if n < len(root.sentences):
            self._feed(root, n)
        for tactic in path[max(0, n - len(root.sentences)) :]:
            self._replay(tactic)

    def _feed(self, root: _Root, start: int) -> None:
        """Send root sentences ``start:`` in one chunk, closed by a marker command."""
        proc = self._proc
        assert proc is not None
        self._sync += 1
        marker = f"aq_sync_{self._sync}_end"
        texts = root.sentences[start:]
        deadline = time.monotonic() + self.prefix_timeout
        proc.send("\n".join(texts) + f"\nCheck {marker}.\n", deadline)
        replies: list[Reply] = []
        while True:
            reply = proc.read_reply(deadline)
            self._current = reply.state
            if marker in reply.output:
                break
            replies.append(reply)
        for i, r in enumerate(replies):
            message = error_message(r.output)
            if message is not None:
                index = min(start + i, len(root.sentences) - 1)
                raise _FeedError(index, message, r.output)
        if not replies:
            raise Desync("coqtop answered none of the file's sentences")
        if len(replies) == len(texts):
            self._line.extend((("s", s), r.state) for s, r in zip(texts, replies, strict=True))
        else:
            log.debug("coqtop read %d sentences where %d were sent", len(replies), len(texts))
            self._line.extend((("s", s), None) for s in texts[:-1])
            self._line.append((("s", texts[-1]), replies[-1].state))
        reading = read_reply(replies[-1].output)
        if reading.kind in ("goals", "done", "subproof"):
            self._root_goals[root.sentences] = reading.goals
        elif root.sentences not in self._root_goals:
            why = {
                "gave_up": "no goals remain there: the proof gave them up with admit earlier "
                           "(close those holes first)",
                "shelf": "only shelved goals remain there",
            }.get(reading.kind, "coqtop shows no goals there: "
                  + " ".join(without_messages(replies[-1].output).split())[:200])
            raise _FeedError(len(root.sentences) - 1, why, replies[-1].output)

    def _replay(self, tactic: str) -> None:
        proc = self._proc
        assert proc is not None
        seconds = max(1, math.ceil(self.replay_timeout))
        reply = proc.command(f"Timeout {seconds} {tactic_body(tactic)}.", seconds + self.grace)
        self._current = reply.state
        message = error_message(reply.output)
        if message is not None:
            raise _ReplayError(f"{tactic} -> {' '.join(message.split())}")
        self._line.append((("t", tactic), reply.state))
        self.replayed += 1

    # -- coqc

    def _coqc_copy(self, project: CoqProject, path: Path, copy: Path) -> ToolRun:
        return compile_copy(self._coqc, project, path, copy, self.check_timeout)


_SECTION_VARS = {"Variable", "Variables", "Hypothesis", "Hypotheses", "Context"}
_MODIFIERS = {"Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative",
              "Private", "Program", "Export", "Import"}


def _in_section_with_variables(sentences: tuple[Sentence, ...]) -> bool:
    """Whether the end of these sentences lies inside a Section that declared variables."""
    stack: list[list[object]] = []  # [kind, name, has_variables]
    for s in sentences:
        words = re.sub(r"^#\[[^\]]*\]\s*", "", s.text).split()
        while words and words[0] in _MODIFIERS:
            words = words[1:]
        if not words:
            continue
        head = words[0]
        name = words[1].rstrip(".") if len(words) > 1 else ""
        if head == "Section":
            stack.append(["section", name, False])
        elif head == "Module" and ":=" not in s.text:
            if name == "Type":
                name = words[2].rstrip(".") if len(words) > 2 else ""
            stack.append(["module", name, False])
        elif head == "End":
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][1] == name:
                    del stack[k:]
                    break
        elif head in _SECTION_VARS and stack and stack[-1][0] == "section":
            stack[-1][2] = True
    return any(kind == "section" and has for kind, _, has in stack)
