"""The Lean REPL as a prover: ``LeanRepl`` owns the process, ``LeanProver`` speaks ``Prover``.

``LeanRepl`` runs ``lake env <repl>/.lake/build/bin/repl`` in the project root in its own
process group, sends one request at a time under a lock, and reads each answer with a deadline
(the REPL has no timeout of its own). A hung REPL is killed with its whole group; a dead or
garbled one is restarted with backoff on the next request; one that grows past ``rss_limit_mb``
is recycled. Callers see *stable* ids: the REPL's own ids in the first process, fresh numbers
after a restart, and every stable env or proof state is restored on demand by re-running the
request that made it (header command, declaration command, then the tactic path).

``LeanProver`` elaborates a file's import header once, sends the rest in that environment, takes
the root proof state from the ``sorry`` at the goal's position, and turns tactic answers into
outcome values: Solved only on proofStatus "Completed"; errors, sorries and unfinished proofs
are TacticError; a hung tactic is TacticTimeout.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

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
    Progress,
    ProofState,
    Solved,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean_protocol import (
    Command,
    CommandResponse,
    File,
    PickleEnvironment,
    PickleProofState,
    ProofStep,
    ProofStepResponse,
    ProtocolError,
    ReplError,
    Request,
    Response,
    Sorry,
    UnpickleProofState,
    encode_request,
    parse_axioms,
    parse_response,
    sorry_warnings,
)

log = logging.getLogger(__name__)

LAKE_MISSING = (
    "Lean is not installed (lake not on PATH): run `make lean`, or install elan "
    "(https://github.com/leanprover/elan) and open a new shell"
)


class ReplDied(ProverCrashed):
    """The REPL died or garbled its answer; it was killed and restarts on the next request."""


class ReplTimeout(ReplDied):
    """The REPL gave no answer in time; its process group was killed."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


# How to launch and look after one REPL process.
@dataclass(frozen=True)
class ReplOptions:
    command: tuple[str, ...]  # e.g. ("lake", "env", "<repl>/.lake/build/bin/repl")
    cwd: Path  # the Lake project root
    command_timeout: float = 600.0  # seconds for a command (imports, whole files)
    rss_limit_mb: float | None = 16_000.0  # recycle the process tree past this resident size
    max_restarts: int = 3  # consecutive deaths tolerated before giving up
    backoff: float = 0.5  # first wait before a restart; doubles per consecutive death
    backoff_max: float = 8.0


def repl_options(project: Path, *, repl_dir: Path | None = None) -> ReplOptions:
    """Options that run the REPL built in ``repl_dir`` (default: the project's Lake package)."""
    repl_dir = repl_dir or project / ".lake" / "packages" / "REPL"
    binary = repl_dir / ".lake" / "build" / "bin" / "repl"
    return ReplOptions(command=("lake", "env", str(binary)), cwd=project)


def lake_root(path: Path) -> Path:
    """The nearest folder at or above ``path`` with a lakefile."""
    for folder in [path.resolve(), *path.resolve().parents]:
        if (folder / "lakefile.toml").is_file() or (folder / "lakefile.lean").is_file():
            return folder
    raise InputError(f"{path} is not in a Lake project (no lakefile.toml or lakefile.lean above)")


# ---------------------------------------------------------------------------------------------
# Stable ids and how to restore them

Kind = Literal["env", "proofState"]
Selector = tuple[str, int]  # where an id sits in a response: ("env", 0), ("sorries", 2), ...


# The request that produced some stable ids, and where each sits in its response.
@dataclass
class _Origin:
    request: Request  # in stable ids
    timeout: float
    outputs: list[tuple[Selector, Kind, int]] = field(default_factory=list)


class _Ids:
    """Stable ids handed to callers, mapped to the ids of the current REPL process."""

    def __init__(self) -> None:
        self.generation = -1  # 0 in the first process: there stable ids are the REPL's own
        self.origin: dict[Kind, dict[int, _Origin | None]] = {"env": {}, "proofState": {}}
        self.real: dict[Kind, dict[int, int]] = {"env": {}, "proofState": {}}
        self.stable: dict[Kind, dict[int, int]] = {"env": {}, "proofState": {}}
        self.next = {"env": 0, "proofState": 0}

    def new_process(self) -> None:
        self.generation += 1
        for kind in ("env", "proofState"):
            self.real[kind].clear()
            self.stable[kind].clear()

    def adopt(self, kind: Kind, real: int, origin: _Origin | None) -> int:
        """The stable id of a REPL id from an answer, allocating one for a new REPL id."""
        if real in self.stable[kind]:
            return self.stable[kind][real]
        sid = real if self.generation == 0 else self.next[kind]
        self.next[kind] = max(self.next[kind], sid + 1)
        self.origin[kind][sid] = origin
        self.bind(kind, sid, real)
        return sid

    def bind(self, kind: Kind, sid: int, real: int) -> None:
        self.real[kind][sid] = real
        self.stable[kind][real] = sid


def _ref(request: Request) -> tuple[Kind, int] | None:
    """The one env or proof state a request builds on, if any."""
    if isinstance(request, ProofStep | PickleProofState):
        return "proofState", request.proof_state
    env: int | None = getattr(request, "env", None)
    return None if env is None else ("env", env)


def _with_ref(request: Request, value: int) -> Request:
    if isinstance(request, ProofStep | PickleProofState):
        return replace(request, proof_state=value)
    if isinstance(request, Command | File | PickleEnvironment | UnpickleProofState):
        return replace(request, env=value)
    return request


def _outputs(response: Response) -> list[tuple[Selector, Kind, int]]:
    """Every id an answer hands out, with where it sits, in the order the REPL allocates them."""
    out: list[tuple[Selector, Kind, int]] = []
    if isinstance(response, CommandResponse | ProofStepResponse):
        for i, s in enumerate(response.sorries):
            if s.proof_state is not None:
                out.append((("sorries", i), "proofState", s.proof_state))
    if isinstance(response, CommandResponse):
        for i, t in enumerate(response.tactics):
            if t.proof_state is not None:
                out.append((("tactics", i), "proofState", t.proof_state))
        out.append((("env", 0), "env", response.env))
    elif isinstance(response, ProofStepResponse):
        out.append((("proofState", 0), "proofState", response.proof_state))
    return out


def _renumbered(response: Response, ids: dict[Selector, int]) -> Response:
    """The answer with the ids at ``ids``' selectors replaced."""
    if isinstance(response, ReplError):
        return response
    sorries = tuple(
        replace(s, proof_state=ids.get(("sorries", i), s.proof_state))
        for i, s in enumerate(response.sorries)
    )
    if isinstance(response, ProofStepResponse):
        return replace(response, proof_state=ids[("proofState", 0)], sorries=sorries)
    tactics = tuple(
        replace(t, proof_state=ids.get(("tactics", i), t.proof_state))
        for i, t in enumerate(response.tactics)
    )
    return replace(response, env=ids[("env", 0)], sorries=sorries, tactics=tactics)


class _Lost(Exception):
    """A stable id that the current process cannot have: never issued, or not restorable."""


# ---------------------------------------------------------------------------------------------
# The process


class LeanRepl:
    """One Lean REPL process: lock, deadlines, group kill, restart with backoff, restore."""

    def __init__(self, options: ReplOptions) -> None:
        self.options = options
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: deque[str] = deque(maxlen=50)
        self._stderr_thread: threading.Thread | None = None
        self._buffer = b""
        self._answers = 0  # answers from the current process
        self._deaths = 0  # consecutive deaths, reset by any good answer
        self._last_death = ""
        self._ids = _Ids()

    # -- public --------------------------------------------------------------------------------

    def send(
        self, request: Request, timeout: float | None = None, *, restorable: bool = True
    ) -> Response:
        """Send one request (in stable ids) and return its answer (in stable ids).

        Ids the current process lacks are restored first. With ``restorable=False`` the ids of
        the answer are not restored after a restart (for one-off checks).

        Raises:
            ReplTimeout: no answer within ``timeout``; the process group was killed.
            ReplDied: the process died or printed garbage while answering; it was killed.
            ProverCrashed: restarting or restoring failed ``max_restarts`` times in a row.
            ProverStartError, ProverNotInstalled: the REPL cannot be started at all.
        """
        seconds = self.options.command_timeout if timeout is None else timeout
        with self._lock:
            prepared = self._prepare(request)
            if isinstance(prepared, ReplError):
                return prepared
            response = self._exchange(prepared, seconds)
            answer = self._adopt(request, response, seconds, restorable)
            self._recycle_if_large()
            return answer

    @property
    def pid(self) -> int | None:
        """The pid (and process group) of the running REPL, if any."""
        return None if self._proc is None else self._proc.pid

    @property
    def generation(self) -> int:
        """How many times the REPL was (re)started, minus one."""
        return self._ids.generation

    def restart(self) -> None:
        """Stop the process now; the next request starts a new one and restores what it needs."""
        with self._lock:
            self._kill()

    def close(self) -> None:
        """Kill the REPL's process group. Safe to call twice."""
        with self._lock:
            self._kill()

    def __enter__(self) -> LeanRepl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rss_mb(self) -> float:
        """Resident memory of the REPL's process tree (``lake env`` and the REPL), in MiB."""
        return 0.0 if self._proc is None else _tree_rss_kb(self._proc.pid) / 1024

    # -- ids and restore -------------------------------------------------------------------------

    def _prepare(self, request: Request) -> Request | ReplError:
        """The request in this process's ids, restoring (and restarting) as needed."""
        for attempt in range(self.options.max_restarts + 1):
            self._ensure_running()
            try:
                ref = _ref(request)
                return request if ref is None else _with_ref(request, self._materialize(*ref))
            except _Lost as e:
                return ReplError(str(e))
            except ReplDied as e:
                if attempt == self.options.max_restarts:
                    raise ProverCrashed(
                        f"could not restore the REPL's proof states after a restart: {e}"
                    ) from e
        raise AssertionError("unreachable")

    def _materialize(self, kind: Kind, sid: int) -> int:
        """The current process's id for a stable id, re-running its origins if needed."""
        if sid not in self._ids.origin[kind]:
            if self._ids.generation == 0:
                return sid  # never issued: let the REPL answer for itself
            raise _Lost(_UNKNOWN[kind])
        chain: list[_Origin] = []
        ref: tuple[Kind, int] | None = (kind, sid)
        while ref is not None and ref[1] not in self._ids.real[ref[0]]:
            origin = self._ids.origin[ref[0]].get(ref[1])
            if origin is None:
                raise _Lost(f"{_UNKNOWN[ref[0]]} (it was lost when the Lean REPL restarted)")
            chain.append(origin)
            ref = _ref(origin.request)
        for origin in reversed(chain):
            self._rerun(origin)
        return self._ids.real[kind][sid]

    def _rerun(self, origin: _Origin) -> None:
        ref = _ref(origin.request)
        request = origin.request
        if ref is not None:
            request = _with_ref(request, self._ids.real[ref[0]][ref[1]])
        log.info("restoring Lean REPL state: %s", _short(json.dumps(request.to_json())))
        response = self._exchange(request, 2 * origin.timeout + 5)
        found = {selector: real for selector, _, real in _outputs(response)}
        for selector, kind, sid in origin.outputs:
            if selector not in found:
                raise ProverCrashed(
                    "restoring after a Lean REPL restart gave a different answer "
                    f"({_short(str(response))}); the project may have changed on disk"
                )
            self._ids.bind(kind, sid, found[selector])

    def _adopt(self, request: Request, response: Response, timeout: float, keep: bool) -> Response:
        origin = _Origin(request, timeout) if keep else None
        ids: dict[Selector, int] = {}
        for selector, kind, real in _outputs(response):
            ids[selector] = self._ids.adopt(kind, real, origin)
            if origin is not None and self._ids.origin[kind][ids[selector]] is origin:
                origin.outputs.append((selector, kind, ids[selector]))
        return _renumbered(response, ids)

    # -- the process -----------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._proc is not None:
            return
        if self._deaths > self.options.max_restarts:
            raise ProverCrashed(
                f"the Lean REPL died {self._deaths} times in a row (last: {self._last_death}); "
                "giving up: check free memory (`dmesg`) and rebuild the REPL with `make lean`"
            )
        if self._deaths:
            time.sleep(
                min(self.options.backoff_max, self.options.backoff * 2 ** (self._deaths - 1))
            )
        self._start()

    def _start(self) -> None:
        command, cwd = self.options.command, self.options.cwd
        if shutil.which(command[0]) is None:
            if Path(command[0]).name == "lake":
                raise ProverNotInstalled(LAKE_MISSING)
            raise ProverNotInstalled(f"{command[0]} not found: check the Lean REPL command")
        if not cwd.is_dir():
            raise ProverStartError(f"the Lean project folder {cwd} does not exist")
        if command[:2] == ("lake", "env") and len(command) > 2:
            binary = cwd / command[2]
            if not binary.exists():
                raise ProverNotInstalled(
                    f"the Lean REPL is not built ({binary} is missing): run `make lean`"
                )
        self._ids.new_process()
        self._stderr = deque(maxlen=50)
        self._buffer = b""
        self._answers = 0
        try:
            proc = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as e:
            raise ProverStartError(f"could not run the Lean REPL ({command[0]}): {e}") from None
        assert proc.stdin is not None and proc.stderr is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self._stderr_thread = threading.Thread(
            target=_drain, args=(proc.stderr, self._stderr), daemon=True
        )
        self._stderr_thread.start()
        self._proc = proc
        log.info("started the Lean REPL (pid %d): %s", proc.pid, " ".join(command))

    def _exchange(self, request: Request, timeout: float) -> Response:
        """Write one request and read its answer, or kill the process and raise."""
        deadline = time.monotonic() + timeout
        try:
            self._write(encode_request(request), deadline)
            text = self._read(deadline)
        except TimeoutError:
            self._kill()
            raise ReplTimeout(
                f"the Lean REPL gave no answer within {timeout:g} s and was stopped "
                "(it restarts on the next request; raise the timeout for slow files or tactics)",
                timeout,
            ) from None
        except (EOFError, BrokenPipeError):
            code, stderr = self._kill()
            self._died(f"exit code {code}" + (f", stderr: {stderr}" if stderr else ""))
            if self._answers == 0:
                raise ProverStartError(
                    f"the Lean REPL exited before its first answer ({self._last_death}): "
                    "build it with `make lean`; its toolchain must match the project's"
                ) from None
            raise ReplDied(
                f"the Lean REPL died while answering ({self._last_death}); likely out of memory "
                "or a crash in Lean; it restarts on the next request"
            ) from None
        try:
            response = parse_response(json.loads(text))
        except (ValueError, ProtocolError):
            self._kill()
            self._died(f"printed {_short(text)!r}")
            raise ReplDied(
                f"the Lean REPL printed something that is not an answer ({_short(text)!r}); "
                "is the command really the REPL? rebuild it with `make lean`"
            ) from None
        self._answers += 1
        self._deaths = 0
        return response

    def _died(self, reason: str) -> None:
        self._deaths += 1
        self._last_death = reason
        log.warning("the Lean REPL died (%s)", reason)

    def _write(self, data: bytes, deadline: float) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        while data:
            if not _ready(fd, select.POLLOUT, deadline):
                raise TimeoutError
            try:
                data = data[os.write(fd, data[:65536]) :]
            except BlockingIOError:
                continue

    def _read(self, deadline: float) -> str:
        """One answer: everything up to and including the next blank line."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while (end := self._buffer.find(b"\n\n")) < 0:
            if not _ready(fd, select.POLLIN, deadline):
                raise TimeoutError
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError
            self._buffer += chunk
        answer, self._buffer = self._buffer[: end + 2], self._buffer[end + 2 :]
        return answer.decode("utf-8", errors="replace")

    def _kill(self) -> tuple[int | None, str]:
        """Kill the whole process group; the exit code and the last line of stderr."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None, ""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            code: int | None = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        _await_group_exit(proc.pid, timeout=2.0)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        last = next((line for line in reversed(self._stderr) if line.strip()), "")
        return code, _short(last)

    def _recycle_if_large(self) -> None:
        limit = self.options.rss_limit_mb
        if limit is not None and self._proc is not None and (rss := self.rss_mb()) > limit:
            log.info("recycling the Lean REPL: %.0f MiB resident > %.0f MiB", rss, limit)
            self._kill()


_UNKNOWN: dict[Kind, str] = {"env": "Unknown environment.", "proofState": "Unknown proof state."}


def _ready(fd: int, event: int, deadline: float) -> bool:
    """Wait until ``fd`` is ready (or hung up) before ``deadline``; poll has no FD_SETSIZE cap."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(remaining * 1000))


def _drain(stream: IO[bytes], tail: deque[str]) -> None:
    """Keep the last lines of the REPL's stderr (for error messages); never let the pipe fill."""
    for raw in iter(stream.readline, b""):
        tail.append(raw.decode("utf-8", errors="replace").rstrip())
    stream.close()


def _await_group_exit(pgid: int, timeout: float) -> None:
    """Wait until no live process is left in the group (a killed REPL frees its memory late)."""
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc (empty where there is none)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, _ppid, group = text[text.rfind(")") + 2 :].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _tree_rss_kb(pid: int) -> int:
    """VmRSS summed over ``pid`` and its descendants (``lake env`` runs the REPL as a child)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            status = Path(f"/proc/{p}/status").read_text()
            children = [Path(c).read_text() for c in Path(f"/proc/{p}/task").glob("*/children")]
        except OSError:
            continue
        total += next(
            (int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS:")), 0
        )
        todo.extend(int(c) for text in children for c in text.split())
    return total


def _short(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters (errors print on one line)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


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


_DECL = re.compile(
    r"\s*(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|nonrec|noncomputable)\s+)*"
    r"(?P<keyword>theorem|lemma|example)(?=[\s({\[⦃:])"
)
_NAME = re.compile(r"\s*(?P<name>[^\s({\[⦃:.]+(?:\.[^\s({\[⦃:.]+)*)(?P<univ>\.\{[^}]*\})?")
_OPEN, _CLOSE = "([{⦃⟨", ")]}⦄⟩"


def negation_statement(statement: str, name: str = "aq_negation") -> str | None:
    """``theorem <name> : ¬ (∀ binders, type) := by sorry`` from a theorem's header, or None.

    ``statement`` runs from the keyword (theorem, lemma, example) to the end of the type; a
    trailing ``:=`` and what follows are ignored. None when the header is not of that shape.
    """
    decl = _DECL.match(statement)
    if decl is None:
        return None
    rest, univ = statement[decl.end() :], ""
    if decl["keyword"] != "example":
        m = _NAME.match(rest)
        if m is None:
            return None
        rest, univ = rest[m.end() :], m["univ"] or ""
    colon = _top_level(rest, ":")
    if colon is None:
        return None
    binders, prop = rest[:colon].strip(), rest[colon + 1 :]
    if (assign := _top_level(prop, ":=")) is not None:
        prop = prop[:assign]
    prop = prop.strip()
    if not prop or not _only_groups(binders) or ":=" in binders:
        return None
    body = f"∀ {binders}, {prop}" if binders else prop
    return f"theorem {name}{univ} : ¬ ({body}) := by sorry"


def _top_level(text: str, token: str) -> int | None:
    """Index of the first ``token`` outside brackets (a ``:`` that starts ``:=`` is not one)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        elif depth == 0 and text.startswith(token, i):
            if token == ":" and text.startswith(":=", i):
                continue
            return i
    return None


def _only_groups(binders: str) -> bool:
    """True if ``binders`` is a sequence of bracketed groups, like ``(x : ℕ) {α} [Group α]``."""
    depth = 0
    for ch in binders:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth < 0:
                return False
        elif depth == 0 and not ch.isspace():
            return False
    return depth == 0


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
        """A prover for a file of a Lake project: the REPL runs in the project's root."""
        return cls(LeanRepl(repl_options(lake_root(path), repl_dir=repl_dir)))

    def open(self, site: GoalSite, text: str) -> ProofState:
        source = split_source(text)
        response = self._elaborate(source, self._header_env(site.file, source))
        if isinstance(response, ReplError):
            raise FileDoesNotCompile(f"Lean rejected {site.file}: {_short(response.message)}")
        sorry = _site_sorry(response.sorries, site, text, source)
        if sorry is None or sorry.proof_state is None:
            if response.errors:
                first = response.errors[0]
                line = first.pos.line + source.line_offset
                raise FileDoesNotCompile(f"{site.file}:{line}: {_short(first.data)}")
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
            return env
        response = self._elaborate(source, env, restorable=False)
        if isinstance(response, ReplError):
            return FileCheck(ok=False, message=_short(response.message))
        if response.errors:
            first = response.errors[0]
            return FileCheck(False, _short(first.data), first.pos.line + source.line_offset)
        return FileCheck(ok=True)

    def axioms(self, path: Path, text: str, theorem: str) -> frozenset[str]:
        """``#print axioms`` in the environment of the elaborated file (``sorryAx`` included)."""
        source = split_source(text)
        env = self._header_env(path, source)
        for _ in range(2):
            elaborated = self._elaborate(source, env, restorable=False)
            if isinstance(elaborated, ReplError):
                raise FileDoesNotCompile(f"Lean rejected {path}: {_short(elaborated.message)}")
            query = Command(f"#print axioms {theorem}", env=elaborated.env)
            response = self.repl.send(query, restorable=False)
            if isinstance(response, CommandResponse):
                break
            self._bodies.pop((env, source.body, False), None)  # lost in a restart: redo
        else:
            raise ProverCrashed(f"`#print axioms {theorem}` failed: {_short(str(response))}")
        printed = [p for m in response.messages if (p := parse_axioms(m.data)) is not None]
        for name, axioms in printed:
            if name == theorem or name.endswith("." + theorem) or len(printed) == 1:
                return axioms
        error = response.errors[0].data if response.errors else "no output"
        raise InputError(f"no axioms for {theorem} in {path}: {_short(error)}")

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
                return FileCheck(ok=False, message=_short(response.message), line=1)
            if response.errors:
                first = response.errors[0]
                return FileCheck(ok=False, message=_short(first.data), line=first.pos.line)
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
            raise ProverCrashed(f"the Lean REPL answered a command with {_short(str(response))}")
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
        raise ProverCrashed(f"the Lean REPL answered a tactic with {_short(str(response))}")
    if response.errors:
        return TacticError(response.errors[0].data)
    if response.sorries or sorry_warnings(response):
        return TacticError("the tactic leaves a `sorry`")
    path = (*state.path, tactic)
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
