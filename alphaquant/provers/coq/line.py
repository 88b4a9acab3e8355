"""The *line*: what one coqtop process has run, and how any proof state is reached again.

``CoqLine`` owns the coqtop process (coqtop.py) and remembers the sentences it has run since it
started, each with the state number it produced. Every proof state is addressed by its root (the
file's sentences before the hole, then ``Show.``) and its tactic path; reaching it means
``BackTo`` the longest prefix of the line it shares, then sending what is missing. Coq forgets
every state past a ``BackTo`` target, so the line is cut there; after a restart it is empty and
the whole path is replayed. A broken process is killed and started again, with backoff, at most
``max_restarts`` times in a row before ProverCrashed. coqtop runs in a scratch folder of its own:
tactic caches (``.lia.cache``) stay out of the user's project and go with the process.

The session is silent (``Set Silent.``, the first sentence of every process): coqtop prints no
goals after a command, and the goals of a state are asked for with ``Show.`` when they are
wanted. Decision: a replayed step's goals are never read, yet printing them was most of what a
replay cost (on the project's longest goal, three replays per tactic tried, each ~2 ms of
printing against ~1 ms of running); errors, ``Search`` answers and messages print as before.
"""

from __future__ import annotations

import bisect
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from alphaquant.errors import (
    FileDoesNotCompile,
    ProverCannotRun,
    ProverCrashed,
    ProverStartError,
)
from alphaquant.provers.base import Subgoal, TacticError, TacticTimeout
from alphaquant.provers.coq.coqtop import CoqTop, CoqtopDied, CoqtopHung, Desync, Reply
from alphaquant.provers.coq.hammer import coqtop_environment
from alphaquant.provers.coq.project import CoqProject
from alphaquant.provers.coq.protocol import (
    CARET_SOURCE,
    FOCUS,
    Reading,
    error_message,
    read_reply,
    without_messages,
)
from alphaquant.provers.coq.requires import HEADER
from alphaquant.provers.coq.sentences import Sentences, tactic_body

log = logging.getLogger(__name__)

T = TypeVar("T")


# Where a search starts: the sentences that bring coqtop to its root proof state.
@dataclass(eq=False)
class Root:
    project: CoqProject
    file: Path
    sentences: tuple[str, ...]  # the file's sentences, then any added ones, ``Show.`` last
    lines: tuple[int, ...]  # 1-based line in the file of each of the file's sentences
    subproof: bool  # an ``admit`` site: closing the focused goal solves it
    what: str  # how the root is described in errors
    loads: tuple[str, ...] = ()  # the session's own loads, after the file's imports
    loads_at: int = 0  # the index of the first of them in ``sentences``

    @property
    def from_file(self) -> int:
        """How many of the sentences come from the file (the session's loads among them)."""
        return len(self.lines)

    @property
    def file_sentences(self) -> tuple[str, ...]:
        """The file's own sentences before the hole, without the session's loads."""
        return (*self.sentences[: self.loads_at],
                *self.sentences[self.loads_at + len(self.loads) : self.from_file])

    def is_load(self, index: int) -> bool:
        """Whether sentence ``index`` is one of the session's loads."""
        return self.loads_at <= index < self.loads_at + len(self.loads)

    def without_loads(self) -> Root:
        """The same root with the file's sentences only (when a load breaks the session)."""
        end = self.loads_at + len(self.loads)
        return Root(self.project, self.file, (*self.sentences[: self.loads_at],
                                              *self.sentences[end:]),
                    (*self.lines[: self.loads_at], *self.lines[end:]), self.subproof, self.what)

    @classmethod
    def of(cls, project: CoqProject, file: Path, text: str, split: Sentences,
           added: list[str], subproof: bool, what: str, loads: tuple[str, ...] = ()) -> Root:
        """The root of ``split`` (sentences of ``text``), ``loads`` after the file's leading
        imports (the search session's own: requires.session_loads), then ``added``, then
        ``Show.``."""
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        lines = [bisect.bisect_left(newlines, s.start) + 1 for s in split.sentences]
        sentences = [s.text for s in split.sentences]
        at = 0
        while at < len(sentences) and HEADER.match(sentences[at].strip()):
            at += 1
        if loads:
            line = lines[at - 1] if at else 1
            sentences[at:at] = loads
            lines[at:at] = [line] * len(loads)
        return cls(project, file, (*sentences, *added, "Show."), tuple(lines), subproof, what,
                   tuple(loads), at)


# A sentence of the root that failed while being fed.
class FeedError(Exception):
    def __init__(self, index: int, message: str, output: str) -> None:
        super().__init__(message)
        self.index = index
        self.message = message
        self.output = output


# A tactic of a path that failed when replayed.
class ReplayError(Exception):
    pass


_Key = tuple[str, str]  # ("s", sentence) for root sentences, ("t", tactic) for tactics


def does_not_compile(root: Root, e: FeedError) -> FileDoesNotCompile:
    """The file's own sentence ``e`` failed on: its line (moved to the caret's line within
    the sentence) and Coq's message."""
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


class CoqLine:
    """One coqtop process at a time and the line it has run.

    Args:
      coqtop: the coqtop command (``("coqtop",)``, or ``("rocq", "repl")`` on a Rocq 9 without
        the old names).
      grace: seconds past a tactic's own ``Timeout`` before coqtop is killed as hung.
      start_timeout: seconds for coqtop to print its first prompt.
      prefix_timeout: seconds for the file's text before a hole (Require, earlier proofs).
      command_timeout: seconds for ``BackTo`` and other bookkeeping commands.
      replay_timeout: the ``Timeout`` of a tactic replayed after a jump or a restart.
      max_restarts: restarts in a row (with exponential backoff) before ProverCrashed.
      backoff: first backoff delay in seconds (the first restart is immediate).
    """

    def __init__(self, coqtop: tuple[str, ...], *, grace: float, start_timeout: float,
                 prefix_timeout: float, command_timeout: float, replay_timeout: float,
                 max_restarts: int, backoff: float) -> None:
        self.coqtop = coqtop
        self.grace = grace
        self.start_timeout = start_timeout
        self.prefix_timeout = prefix_timeout
        self.command_timeout = command_timeout
        self.replay_timeout = replay_timeout
        self.max_restarts = max_restarts
        self.backoff = backoff
        self.proc: CoqTop | None = None
        self.project: CoqProject | None = None
        self._scratch: str | None = None
        self._line: list[tuple[_Key, int | None]] = []
        self._base = 0
        self.current = 0
        self._sync = 0
        self.root_goals: dict[tuple[str, ...], tuple[Subgoal, ...]] = {}
        self.restarts = 0  # coqtop restarts after a crash or a hang
        self.replayed = 0  # tactics replayed to reach a state again
        self.generation = 0  # coqtop processes started so far
        self._waited_before = 0.0
        self.aborted = False  # closed from another thread: no restart, the next step fails

    @property
    def wait_seconds(self) -> float:
        """Seconds spent waiting for coqtop's replies, over all its processes."""
        return self._waited_before + (self.proc.waited if self.proc is not None else 0.0)

    # -- the process

    def start(self, project: CoqProject) -> None:
        self.kill()
        if self.aborted:
            raise ProverCrashed("the session was closed")
        argv = [*self.coqtop, "-emacs", *project.flags]
        self._scratch = tempfile.mkdtemp(prefix="alphaquant-coqtop-")
        try:
            proc = CoqTop(argv, Path(self._scratch), coqtop_environment())
        except OSError as e:
            raise ProverCannotRun(f"could not start coqtop: {e}") from None
        self.proc = proc
        self.project = project
        self.generation += 1
        try:
            first = proc.read_reply(time.monotonic() + self.start_timeout)
        except CoqtopDied as e:
            self.kill()
            raise ProverStartError(
                f"coqtop exited at start-up with flags {' '.join(project.flags) or '(none)'} "
                f"from {project.root}/_CoqProject: {e}"
            ) from None
        self._line = []
        self._base = self.current = first.state
        silent = proc.command("Set Silent.", self.command_timeout)
        if error_message(silent.output) is None:
            self._base = self.current = silent.state  # BackTo never goes before it

    def kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self._waited_before += proc.waited
        self.proc = None
        self._line = []
        proc.kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def after_failure(self, failures: int, error: Exception) -> int:
        """Kill the broken process; wait before the next try; ProverCrashed when out of tries."""
        self.kill()
        if self.aborted:
            raise ProverCrashed("the session was closed")
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

    def recovering(self, action: Callable[[], T]) -> T:
        failures = 0
        while True:
            try:
                return action()
            except (CoqtopDied, CoqtopHung, Desync) as e:
                failures = self.after_failure(failures, e)

    # -- reaching states

    def run_tactic(self, root: Root, path: tuple[str, ...], command: str,
                   timeout: float) -> Reply | TacticError | TacticTimeout:
        """Reach ``path`` from ``root`` and run ``command`` (a tactic under ``Timeout``),
        restarting coqtop when it dies or hangs on the way.

        Returns:
          coqtop's reply; TacticTimeout when no prompt came within the timeout and the grace
          (coqtop is killed and restarted at the state); TacticError when the path no longer
          replays or the tactic killed coqtop twice.

        Raises:
          FileDoesNotCompile: the file's own sentences fail (it changed under the session).
          ProverCrashed: the sentences added after them fail, or restarts ran out.
        """
        seconds = max(1, math.ceil(timeout))
        failures = tactic_deaths = 0
        while True:
            try:
                self.reach(root, path)
            except ReplayError as e:
                return TacticError(f"could not replay the path to this state: {e}")
            except FeedError as e:
                if e.index < root.from_file:
                    raise does_not_compile(root, e) from None
                raise ProverCrashed(f"coqtop no longer reaches {root.what}: {e}") from None
            except (CoqtopDied, CoqtopHung, Desync) as e:
                failures = self.after_failure(failures, e)
                continue
            assert self.proc is not None
            try:
                return self.proc.command(command, seconds + self.grace)
            except CoqtopHung:
                if self.aborted:
                    self.kill()
                    raise ProverCrashed("the session was closed") from None
                log.warning("coqtop gave no prompt %gs past the tactic's Timeout: killed",
                            self.grace)
                self.kill()
                self.restarts += 1
                # coqtop comes back at the next request (reach starts it), not now: a replay of
                # the file after the goal's last tactic would run past the goal's budget
                return TacticTimeout(timeout)
            except CoqtopDied as e:
                tactic_deaths += 1
                if tactic_deaths >= 2:
                    self.kill()
                    return TacticError(f"coqtop died running this tactic, twice: {e}")
                failures = self.after_failure(failures, e)

    def reach_root(self, root: Root) -> tuple[Subgoal, ...]:
        goals = self.root_goals.get(root.sentences)
        if goals is None and self._line_matches(root.sentences) >= len(root.sentences):
            # the root is on the line but its goals were never read: send Show. again
            del self._line[len(root.sentences) - 1 :]
        self.reach(root, ())
        goals = self.root_goals.get(root.sentences)
        assert goals is not None
        return goals

    def _line_matches(self, sentences: tuple[str, ...]) -> int:
        n = 0
        while (n < len(sentences) and n < len(self._line)
               and self._line[n][0] == ("s", sentences[n])):
            n += 1
        return n

    def reach(self, root: Root, path: tuple[str, ...]) -> None:
        """Bring coqtop to the state ``path`` from ``root``: BackTo, then send what is missing."""
        if self.proc is None or not self.proc.alive() or self.project != root.project:
            self.start(root.project)
        proc = self.proc
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
        if target != self.current:
            reply = proc.command(f"BackTo {target}.", self.command_timeout)
            if reply.state != target or error_message(reply.output) is not None:
                raise Desync(f"BackTo {target} answered state {reply.state}: "
                             f"{' '.join(reply.output.split())[:200]}")
            self.current = target
        if n < len(root.sentences):
            self._feed(root, n)
        for tactic in path[max(0, n - len(root.sentences)) :]:
            self._replay(tactic)

    def _feed(self, root: Root, start: int) -> None:
        """Send root sentences ``start:`` in one chunk, closed by a marker command."""
        proc = self.proc
        assert proc is not None
        self._sync += 1
        marker = f"aq_sync_{self._sync}_end"
        texts = root.sentences[start:]
        deadline = time.monotonic() + self.prefix_timeout
        proc.send("\n".join(texts) + f"\nCheck {marker}.\n", deadline)
        replies: list[Reply] = []
        while True:
            reply = proc.read_reply(deadline)
            self.current = reply.state
            if marker in reply.output:
                break
            replies.append(reply)
        for i, r in enumerate(replies):
            message = error_message(r.output)
            if message is not None:
                index = min(start + i, len(root.sentences) - 1)
                raise FeedError(index, message, r.output)
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
            self.root_goals[root.sentences] = reading.goals
        elif root.sentences not in self.root_goals:
            why = {
                "gave_up": "no goals remain there: the proof gave them up with admit earlier "
                           "(close those holes first)",
                "shelf": "only shelved goals remain there",
            }.get(reading.kind, "coqtop shows no goals there: "
                  + " ".join(without_messages(replies[-1].output).split())[:200])
            raise FeedError(len(root.sentences) - 1, why, replies[-1].output)

    def replay(self, tactic: str) -> None:
        """Run one more step of a path at the line's end (a tactic, or a focusing sentence)."""
        self._replay(tactic)

    def _replay(self, tactic: str) -> None:
        proc = self.proc
        assert proc is not None
        seconds = max(1, math.ceil(self.replay_timeout))
        if FOCUS.fullmatch(tactic):
            reply = proc.command(tactic, self.command_timeout)
        else:
            reply = proc.command(f"Timeout {seconds} {tactic_body(tactic)}.",
                                 seconds + self.grace)
        self.current = reply.state
        message = error_message(reply.output)
        if message is not None:
            raise ReplayError(f"{tactic} -> {' '.join(message.split())}")
        self._line.append((("t", tactic), reply.state))
        self.replayed += 1

    def ran(self, tactic: str, state: int) -> None:
        """Record that ``tactic`` ran at the line's end and produced ``state``."""
        self._line.append((("t", tactic), state))

    def show(self) -> Reading:
        """What ``Show.`` says of the current state (the session prints no goals by itself).
        ``Show.`` takes a state number of its own, with the same proof: the line's last step
        is moved to it, so the next step there needs no ``BackTo``."""
        proc = self.proc
        assert proc is not None
        before = self.current
        try:
            shown = proc.command("Show.", self.command_timeout)
        except (CoqtopDied, CoqtopHung) as e:
            log.warning("coqtop broke on Show. (%s); it restarts on the next step", e)
            self.kill()
            return Reading("unknown")
        self.current = shown.state
        if self._line and self._line[-1][1] == before and shown.state != before:
            self._line[-1] = (self._line[-1][0], shown.state)
        if error_message(shown.output) is not None:
            return Reading("unknown")
        return read_reply(shown.output)
