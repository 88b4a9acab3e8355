"""Coq as a prover: ``CoqTop`` owns one ``coqtop -emacs`` process, ``CoqProver`` speaks ``Prover``.

``CoqTop`` runs coqtop in its own session with the project's load-path flags, reads its merged
output on a thread and hands back one reply per prompt (``<prompt>NAME < N |...| 0 < </prompt>``,
N being the state number ``BackTo N.`` takes), each read with a deadline.

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
import select
import shutil
import signal
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
from alphaquant.goals import GoalSite
from alphaquant.provers.base import (
    FileCheck,
    Outcome,
    Premise,
    Progress,
    ProofState,
    Solved,
    Subgoal,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.coq_premises import Retriever, own_lemmas
from alphaquant.provers.coq_project import (
    CoqProject,
    ToolRun,
    build_dependencies,
    find_project,
    first_error,
    run_tool,
)
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


# --- sentences -----------------------------------------------------------------------------------

# One Coq sentence of a text: a command or tactic ending with ``.``, a bullet, ``{`` or ``}``.
@dataclass(frozen=True)
class Sentence:
    start: int  # offset of its first character that is neither blank nor comment
    end: int  # offset just past its terminator
    text: str


# A text cut into sentences, and what follows the last one.
@dataclass(frozen=True)
class Sentences:
    sentences: tuple[Sentence, ...]
    rest: str  # text after the last sentence, comments removed, stripped ("" when clean)
    unterminated: bool  # a comment or string is still open at the end


_SELECTOR_BRACE = re.compile(r"(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{")


def _skip_string(text: str, i: int) -> int | None:
    """Offset past the string literal opening at ``i`` (``""`` escapes a quote); None if open."""
    j = i + 1
    while True:
        k = text.find('"', j)
        if k < 0:
            return None
        if text.startswith('""', k):
            j = k + 2
            continue
        return k + 1


def _skip_comment(text: str, i: int) -> int | None:
    """Offset past the (nested) comment opening at ``i``; None if it never closes."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        if text.startswith("(*", j):
            depth += 1
            j += 2
        elif text.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif text[j] == '"':
            end = _skip_string(text, j)
            if end is None:
                return None
            j = end
        else:
            j += 1
    return None


def split_sentences(text: str) -> Sentences:
    """Cut Coq text into sentences the way coqtop reads them.

    A sentence ends at a ``.`` followed by a blank or the end (not inside a comment or string,
    not part of ``..``); bullets (``-``, ``+``, ``*`` runs), ``{``, ``}`` and ``N: {`` are
    sentences of their own where a sentence starts.
    """
    out: list[Sentence] = []
    n = len(text)
    i = 0
    start: int | None = None
    last_end = 0
    rest_parts: list[str] = []

    def emit(s: int, e: int) -> None:
        nonlocal start, last_end
        out.append(Sentence(s, e, text[s:e]))
        start = None
        last_end = e
        rest_parts.clear()

    while i < n:
        c = text[i]
        if text.startswith("(*", i):
            j = _skip_comment(text, i)
            if j is None:
                return Sentences(tuple(out), text[last_end:].strip(), True)
            i = j
            continue
        if c.isspace():
            i += 1
            continue
        if start is None:
            start = i
            if c in "-+*":
                j = i
                while j < n and text[j] == c:
                    j += 1
                emit(i, j)
                i = j
                continue
            if c in "{}":
                emit(i, i + 1)
                i += 1
                continue
            m = _SELECTOR_BRACE.match(text, i)
            if m is not None:
                emit(i, m.end())
                i = m.end()
                continue
        if c == '"':
            j2 = _skip_string(text, i)
            if j2 is None:
                return Sentences(tuple(out), text[last_end:].strip(), True)
            i = j2
            continue
        if c == ".":
            j = i
            while j < n and text[j] == ".":
                j += 1
            dots = j - i
            if (dots == 1 or dots == 3) and (j == n or text[j].isspace()):
                emit(start, j)
            i = j
            continue
        i += 1
    rest = "" if start is None else text[start:].strip()
    return Sentences(tuple(out), rest, False)


# Vernacular commands a tactic sentence must not start with (Timeout would run them, too).
_COMMANDS = frozenset("""
    Abort About Add Admit Admitted Arguments Axiom Axioms Back BackTo Bind Canonical Check Class
    Close CoFixpoint CoInductive Coercion Collection Combined Compute Conjecture Constraint Context
    Corollary Create Cumulative Declare Defined Definition Delimit Derive Drop Enable Disable End
    Eval Example Existing Export Extract Extraction Fact Fail Fixpoint Focus From Function
    Functional Generalizable Global Goal Guarded Hint Hypotheses Hypothesis Identity Implicit
    Import Include
    Inductive Infix Info Inline Instance Instructions Lemma Let Load Local Locate Ltac Ltac2 Module
    Monomorphic NonCumulative Next Notation Obligation Obligations Opaque Open Optimize Parameter
    Parameters Polymorphic Preterm Primitive Print Private Program Proof Proposition Qed Quit Record
    Redirect Register Remark Remove Require Reserved Reset Restart Save Scheme Search SearchPattern
    SearchRewrite Section Separate Set Show Solve Strategy String Structure SubClass Succeed Tactic
    Test Theorem Time Timeout Transparent Typeclasses Undelimit Undo Unfocus Unfocused Universe
    Universes Unset Variable Variables Variant
""".split())


def one_tactic_sentence(tactic: str) -> str | None:
    """None when ``tactic`` is exactly one Coq tactic sentence, else why it is refused.

    This is the prover's own last line of defence: coqtop runs every sentence of a line it is
    given, and accepts ``Axiom`` inside an open proof, so ``reflexivity. Qed. Axiom cheat :
    False.`` must never reach it.
    """
    if _MARKUP.search(tactic):
        return "contains coqtop's output markup (<prompt>, <infomsg>, <warning>)"
    split = split_sentences(tactic)
    if split.unterminated:
        return "an unterminated comment or string"
    if split.rest:
        return "not a complete Coq sentence (a tactic ends with a period)"
    if len(split.sentences) != 1:
        return f"{len(split.sentences)} Coq sentences, not exactly one"
    text = split.sentences[0].text
    if not text.endswith("."):
        return "a bullet or brace, not a tactic"
    if text.endswith(".."):
        return "an ellipsis sentence, not a plain tactic"
    word = re.match(r"#\[|[A-Za-z_][\w']*", text)
    if word is not None and (word.group(0) == "#[" or word.group(0) in _COMMANDS):
        return f"a Coq command ({word.group(0)}), not a tactic"
    return None


def _tactic_body(tactic: str) -> str:
    """The tactic's one sentence without its final period."""
    return split_sentences(tactic).sentences[0].text[:-1]


# --- coqtop output -------------------------------------------------------------------------------

_TAGS = re.compile(r"</?(?:infomsg|warning|prompt)>")
_MARKUP = re.compile(r"</?\s*(?:infomsg|warning|prompt)", re.IGNORECASE)
_MESSAGES = re.compile(r"<(infomsg|warning)>.*?</\1>", re.DOTALL)
_ERROR_LINE = re.compile(r"^Error:(.*)", re.MULTILINE | re.DOTALL)
_GOALS_HEADER = re.compile(
    r"^\d+ (?:focused )?goals?(?: \(shelved: \d+\))?(?: \(ID \d+\))?\s*$"
)
_RULE = re.compile(r"^\s*={4,}\s*$")
_OTHER_GOAL = re.compile(r"^goal \d+ .*is:\s*$")
_NO_MORE = re.compile(r"^No more goals\.\s*$", re.MULTILINE)
_CARET_SOURCE = re.compile(r"^> (.*)$", re.MULTILINE)
# A tactic that tells what to write instead (CoqHammer's ``hammer``).
_RESTATED = re.compile(r"Replace the hammer tactic with:\s*([^<]*?)\s*</infomsg>", re.DOTALL)
# A focusing sentence the session itself adds to a path (never a search's tactic: those end
# with a period); goals after it are those of one goal of the state before.
_FOCUS = re.compile(r"\d+: \{")
_EVAR = re.compile(r"\?[A-Za-z_]")
_DECLARATION = re.compile(
    r"\s*(?:#\[[^\]]*\]\s*)?(?:Local\s+|Global\s+)?(?:Lemma|Theorem|Fact|Remark|Corollary|"
    r"Proposition|Example|Goal|Definition|Fixpoint|Instance|Program)\b"
)


_CLOSED = re.compile(r"\s*(?:Qed|Defined|Admitted|Save|Abort)\b")


def _environment(sentences: tuple[str, ...]) -> tuple[str, ...]:
    """The sentences before the last declaration (the one being proved): what `Search` sees,
    so goals of one file, or of files with the same imports, share retrieval answers."""
    last = max((i for i, s in enumerate(sentences) if _DECLARATION.match(s)), default=None)
    if last is None or any(_CLOSED.match(s) for s in sentences[last + 1 :]):
        return sentences  # no declaration open at the end (a negation is stated after them)
    return sentences[:last]


def _plain(output: str) -> str:
    """The reply without its messages: what coqtop itself printed (goals, errors)."""
    return _TAGS.sub("", _MESSAGES.sub("", output))


def error_message(output: str) -> str | None:
    """The text after ``Error:`` in a reply, whitespace-trimmed; None if there is no error.

    Messages (``<infomsg>``, ``<warning>``) are left out first, so ``idtac "Error: x"`` is no
    error.
    """
    m = _ERROR_LINE.search(_plain(output))
    return None if m is None else m.group(1).strip()


def parse_goals(output: str) -> tuple[Subgoal, ...] | None:
    """The goals coqtop printed in a reply, or None if it printed no goal list.

    The first goal comes with its hypotheses (a continuation line of a long hypothesis is joined
    to it with a space) and its conclusion (dedented, lines kept); ``goal k (ID j) is:`` goals
    come with their conclusion only.
    """
    lines = _TAGS.sub("", output).splitlines()
    i = next((k for k, ln in enumerate(lines) if _GOALS_HEADER.match(ln)), None)
    if i is None:
        return None
    i += 1
    hyps: list[str] = []
    while i < len(lines) and not _RULE.match(lines[i]):
        line = lines[i]
        if _OTHER_GOAL.match(line):
            return None
        if line.strip():
            if line.startswith("   ") and hyps:
                hyps[-1] += " " + line.strip()
            else:
                hyps.append(line.strip())
        i += 1
    if i == len(lines):
        return None
    i += 1
    concl: list[str] = []
    while i < len(lines) and lines[i].strip() and not _OTHER_GOAL.match(lines[i]):
        concl.append(lines[i][2:] if lines[i].startswith("  ") else lines[i].strip())
        i += 1
    goals = [Subgoal(tuple(hyps), "\n".join(concl).rstrip())]
    while i < len(lines):
        if not _OTHER_GOAL.match(lines[i]):
            i += 1
            continue
        i += 1
        other: list[str] = []
        while i < len(lines) and lines[i].strip() and not _OTHER_GOAL.match(lines[i]):
            other.append(lines[i][1:] if lines[i].startswith(" ") else lines[i])
            i += 1
        goals.append(Subgoal((), "\n".join(other).rstrip()))
    return tuple(goals)


# What a reply says about the proof after a successful command.
@dataclass(frozen=True)
class Reading:
    kind: str  # goals | done | subproof | gave_up | shelf | unknown
    goals: tuple[Subgoal, ...] = ()


def read_reply(output: str) -> Reading:
    """Classify the output of a command that did not fail.

    A goal list or ``No more goals.`` printed outside messages decides first (so text a tactic
    prints, say with ``idtac``, cannot pass for them); the messages that end a proof without
    closing it come next.
    """
    plain = _plain(output)
    goals = parse_goals(plain)
    if goals is not None:
        return Reading("goals", goals)
    if _NO_MORE.search(plain):
        return Reading("done")
    text = _TAGS.sub("", output)
    if "No more goals, but there are some goals you gave up" in text:
        return Reading("gave_up")
    if "All the remaining goals are on the shelf" in text:
        return Reading("shelf")
    if "This subproof is complete, but there are some unfocused goals" in text:
        return Reading("subproof")
    return Reading("unknown")


# --- the process ---------------------------------------------------------------------------------

class CoqtopDied(ProverCrashed):
    """coqtop exited (or its pipe broke) while a reply was awaited."""


class CoqtopHung(ProverCrashed):
    """No prompt came from coqtop before the deadline."""


class _Desync(ProverCrashed):
    """coqtop's state numbers no longer match the line this backend keeps."""


_PROMPT = re.compile(rb"<prompt>(\S+) < (\d+) \|([^|]*)\| (\d+) < </prompt>")


# One answer of coqtop: what it printed, then the prompt that ended it.
@dataclass(frozen=True)
class Reply:
    output: str
    state: int  # the state number in the prompt
    name: str  # the proof's name, "Coq" outside proofs


class CoqTop:
    """One ``coqtop -emacs`` process: own session, a reader thread, replies read with deadlines."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self._proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, bufsize=0, env=env,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin.fileno()
        os.set_blocking(self._stdin, False)
        self._buf = bytearray()
        self._eof = False
        self._cond = threading.Condition()
        self.waited = 0.0  # seconds spent waiting for replies
        self._thread = threading.Thread(
            target=self._pump, name=f"coqtop-reader-{self._proc.pid}", daemon=True
        )
        self._thread.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        with self._cond:
            return not self._eof and self._proc.poll() is None

    def _pump(self) -> None:
        stdout = self._proc.stdout
        assert stdout is not None
        fd = stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += chunk
                self._cond.notify_all()

    def send(self, text: str, deadline: float) -> None:
        """Write ``text`` to coqtop's input by ``deadline`` (a ``time.monotonic()`` value)."""
        data = text.encode("utf-8")
        sent = 0
        while sent < len(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CoqtopHung("coqtop stopped reading its input")
            if not self.alive():
                raise CoqtopDied(f"coqtop (pid {self.pid}) exited")
            try:
                _, ready, _ = select.select([], [self._stdin], [], min(remaining, 0.5))
                if ready:
                    sent += os.write(self._stdin, data[sent:])
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError, ValueError) as e:
                raise CoqtopDied(f"coqtop (pid {self.pid}) closed its input: {e}") from None

    def read_reply(self, deadline: float) -> Reply:
        """The output up to the next prompt, and that prompt; by ``deadline`` or CoqtopHung."""
        t0 = time.monotonic()
        try:
            with self._cond:
                while True:
                    m = _PROMPT.search(self._buf)
                    if m is not None:
                        output = self._buf[: m.start()].decode("utf-8", errors="replace")
                        reply = Reply(output, int(m.group(2)), m.group(1).decode(errors="replace"))
                        del self._buf[: m.end()]
                        return reply
                    if self._eof:
                        tail = self._buf.decode("utf-8", errors="replace").strip()[-300:]
                        raise CoqtopDied(
                            f"coqtop (pid {self.pid}) exited" + (f": {tail}" if tail else "")
                        )
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise CoqtopHung(f"coqtop (pid {self.pid}) gave no prompt in time")
                    self._cond.wait(remaining)
        finally:
            self.waited += time.monotonic() - t0

    def command(self, text: str, seconds: float) -> Reply:
        """Send one sentence and read its reply within ``seconds``."""
        deadline = time.monotonic() + seconds
        self.send(text + "\n", deadline)
        return self.read_reply(deadline)

    def kill(self) -> None:
        """Kill the whole process group and reap it."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            log.warning("coqtop pid %d did not exit after SIGKILL", self._proc.pid)
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._thread.join(timeout=2)


# --- the prover ----------------------------------------------------------------------------------

# Debian's libcoq-hammer keeps `htimeout`, under which `hammer` runs the external provers, off
# PATH; coqtop gets it on its PATH (only coqtop: a written proof never runs `hammer`).
_HAMMER_LIBEXEC = Path("/usr/libexec/coq-hammer")


def _coqtop_environment() -> dict[str, str] | None:
    """coqtop's environment: ours, with CoqHammer's helper directory on PATH if it exists."""
    if not _HAMMER_LIBEXEC.is_dir():
        return None
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH", ""), str(_HAMMER_LIBEXEC)]))
    return env


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
        self._retriever = Retriever(self._query)
        self._last_goals: tuple[Subgoal, ...] | None = None  # as the last replayed step left them
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
        command = f"Timeout {seconds} {_tactic_body(tactic)}."
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
                except (CoqtopDied, CoqtopHung, _Desync) as e:
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
                restated = _RESTATED.search(reply.output)
                if restated is not None and error_message(reply.output) is None:
                    return self._restated(state, restated.group(1), timeout)
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

    def axioms(self, path: Path, text: str, theorem: str) -> frozenset[str]:
        """The assumptions ``Print Assumptions <theorem>`` lists after compiling ``text``.

        Axioms and Admitted lemmas come by name (``ClassicalDedekindReals.sig_forall_dec``);
        reliance on unsafe fixpoints, type-in-type or assumed positivity comes as
        ``name [<what>]``. Closed theorems give the empty set.

        Raises:
          FileDoesNotCompile: the text (with the Print command) does not compile.
        """
        self._require_installed()
        project = find_project(path)
        marker = f"aq_assumptions_marker_{os.getpid()}_{int(time.time() * 1000) % 10**9}"
        probe = (f"{text}\nDefinition {marker} := 0.\nPrint {marker}.\n"
                 f"Print Assumptions {theorem}.\n")
        with tempfile.TemporaryDirectory(prefix="alphaquant-coq-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_text(probe, encoding="utf-8")
            build_dependencies(project, copy, coqc=self._coqc, coqdep=self._coqdep,
                               timeout=self.check_timeout)
            run = self._coqc_copy(project, path, copy)
        if run.returncode != 0:
            message, line = first_error(run.stderr + "\n" + run.stdout, copy)
            where = f" (line {line})" if line else ""
            raise FileDoesNotCompile(
                f"Print Assumptions {theorem} failed{where}: {' '.join(message.split())}"
            )
        out = run.stdout
        at = out.rfind(f"{marker} = 0")
        return parse_assumptions(out[at:] if at >= 0 else out)

    # -- helpers for open / apply

    def focus(self, state: ProofState, index: int) -> ProofState | None:
        """Goal ``index`` of ``state`` alone, under ``index+1: {`` in the session (a product
        node's subproblem); None when the state has existential variables (goals may share
        them) or Coq refuses. coqtop prints only the first goal's hypotheses, so a later goal
        is read from the focused session."""
        if len(state.goals) < 2 or any(_EVAR.search(g.render()) for g in state.goals):
            return None
        marker = f"{index + 1}: {{"
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return None
            if index == 0:
                return self._state(root, state.goals[:1], (*state.path, marker))
            try:
                self._reach(root, state.path)
                self._replay(marker)
            except (_ReplayError, _FeedError, CoqtopDied, CoqtopHung, _Desync) as e:
                log.info("could not focus goal %d: %s", index + 1, e)
                self._kill()
                return None
            goals = self._last_goals
        if goals is None or len(goals) != 1:
            return None
        return self._state(root, goals, (*state.path, marker))

    def premises(self, state: ProofState, limit: int) -> tuple[Premise, ...]:
        """Lemmas of the loaded libraries that may serve ``state`` (coq_premises.py)."""
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return ()
            environment = _environment(root.sentences[: root.from_file])
            own = own_lemmas(environment)
        return self._retriever.premises(state, limit, environment, own)

    def _query(self, state: ProofState, command: str) -> str | None:
        """Run a query command (``Search``) at ``state``; its output, None on a Coq error."""
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return None
            try:
                self._reach(root, state.path)
                proc = self._proc
                assert proc is not None
                reply = proc.command(command, self.command_timeout)
            except (_ReplayError, _FeedError, CoqtopDied, CoqtopHung, _Desync) as e:
                log.info("query %r failed: %s", command, e)
                self._kill()
                return None
            self._current = reply.state
            if error_message(reply.output) is not None:
                return None
            return _plain(reply.output)

    def _restated(self, state: ProofState, printed: str, timeout: float) -> Outcome:
        """Run what ``hammer`` said to write instead, at ``state``: its printed tactic, else the
        same lemmas under ``hauto``/``sauto`` (CoqHammer prints some forms, ``srun …``, that
        its own parser refuses). The first that works is the step; the path records it."""
        printed = " ".join(printed.split()).rstrip(".")
        hints = re.search(r"\b(?:use|unfold|inv):.*", printed)
        tries = [printed + "."]
        if hints is not None:
            tries += [f"hauto {hints.group(0)}.", f"sauto {hints.group(0)}."]
        last: Outcome = TacticError(f"hammer's reconstruction does not replay: {printed}")
        for tactic in tries:
            if self.refusal(tactic) is not None:
                continue
            outcome = self.apply(state, tactic, timeout)
            if isinstance(outcome, (Solved, Progress)):
                return outcome
            last = TacticError(f"hammer's reconstruction {tactic} fails: {outcome}")
        return last

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
        caret = _CARET_SOURCE.search(e.output)
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
            if error.startswith("Timeout!") or error.endswith("Control.Timeout"):
                return TacticTimeout(timeout)
            return TacticError(error)
        path = (*state.path, tactic)
        self._line.append((("t", tactic), reply.state))
        reading = read_reply(reply.output)
        if reading.kind == "unknown":
            reading = self._show()
        focused = any(_FOCUS.fullmatch(t) for t in state.path)
        if reading.kind == "done" or (reading.kind == "subproof" and (root.subproof or focused)):
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
        try:
            proc = CoqTop(argv, project.root, _coqtop_environment())
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
            except (CoqtopDied, CoqtopHung, _Desync) as e:
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
                raise _Desync(f"BackTo {target} answered state {reply.state}: "
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
            raise _Desync("coqtop answered none of the file's sentences")
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
                  + " ".join(_plain(replies[-1].output).split())[:200])
            raise _FeedError(len(root.sentences) - 1, why, replies[-1].output)

    def _replay(self, tactic: str) -> None:
        proc = self._proc
        assert proc is not None
        seconds = max(1, math.ceil(self.replay_timeout))
        if _FOCUS.fullmatch(tactic):
            reply = proc.command(tactic, self.command_timeout)
        else:
            reply = proc.command(f"Timeout {seconds} {_tactic_body(tactic)}.",
                                 seconds + self.grace)
        self._last_goals = parse_goals(_plain(reply.output))
        self._current = reply.state
        message = error_message(reply.output)
        if message is not None:
            raise _ReplayError(f"{tactic} -> {' '.join(message.split())}")
        self._line.append((("t", tactic), reply.state))
        self.replayed += 1

    # -- coqc

    def _coqc_copy(self, project: CoqProject, path: Path, copy: Path) -> ToolRun:
        logical = project.logical_dir(path)
        mapping = ["-Q", str(copy.parent), logical] if logical is not None else []
        argv = [self._coqc, *project.flags, *mapping, str(copy)]
        return run_tool(argv, project.root, self.check_timeout)


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


def parse_assumptions(output: str) -> frozenset[str]:
    """The names in ``Print Assumptions`` output; entries may span lines.

    ``Axioms:`` entries come by name; entries of the unsafe sections (unsafe fixpoints,
    type-in-type, assumed positivity) as ``name [section title]``.
    """
    if "Closed under the global context" in output and "Axioms:" not in output:
        return frozenset()
    names: set[str] = set()
    section: str | None = None
    for line in output.splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            continue  # a continuation of the previous entry's type
        if line.rstrip().endswith(":") and " : " not in line:
            section = line.rstrip()[:-1]
            continue
        if section is None or section == "Section Variables":
            continue
        name = line.split(" : ", 1)[0].strip()
        if not name:
            continue
        names.add(name if section == "Axioms" else f"{name} [{section}]")
    return frozenset(names)
