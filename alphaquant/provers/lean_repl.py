"""The Lean REPL process: ``LeanRepl`` owns one ``repl`` child and speaks its JSON protocol.

``LeanRepl`` runs ``lake env <repl>/.lake/build/bin/repl`` in the project root in its own
process group, sends one request at a time under a lock, and reads each answer with a deadline
(the REPL has no timeout of its own). A hung REPL is killed with its whole group; a dead or
garbled one is restarted with backoff on the next request; one that grows past ``rss_limit_mb``
is recycled. Callers see *stable* ids: the REPL's own ids in the first process, fresh numbers
after a restart, and every stable env or proof state is restored on demand by re-running the
request that made it (header command, declaration command, then the tactic path).

The prover on top of it (``LeanProver``: files, goals, outcomes) is in ``lean_prover.py``.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Literal

from alphaquant.errors import ProverCrashed, ProverNotInstalled, ProverStartError
from alphaquant.provers import lean_setup
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
    UnpickleEnvironment,
    UnpickleProofState,
    encode_request,
    parse_response,
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
    memory_limit_mb: float | None = None  # hard address-space limit (RLIMIT_AS) of the child
    max_commands: int | None = None  # recycle the process after this many answers
    pickle_dir: Path | None = None  # where pickles go (default: a temporary folder of our own)
    max_restarts: int = 3  # consecutive deaths tolerated before giving up
    backoff: float = 0.5  # first wait before a restart; doubles per consecutive death
    backoff_max: float = 8.0


MIN_MEMORY_LIMIT_MB = 8192.0  # importing Mathlib maps its .olean files: several GB of address space


def default_memory_limit_mb(workers: int = 1) -> float:
    """An address-space limit for one REPL: 80 % of the machine's memory shared by the workers,
    at least ``MIN_MEMORY_LIMIT_MB``. It stops a runaway elaboration, not an ordinary one:
    the limit counts mapped files, and idle REPLs of a pool hold resident memory that
    ``rss_limit_mb`` recycles instead."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError):
        total = 16_384.0
    return max(MIN_MEMORY_LIMIT_MB, 0.8 * total / max(1, workers))


def repl_options(project: Path, *, repl_dir: Path | None = None) -> ReplOptions:
    """Options that run the REPL built in ``repl_dir`` in the Lake project ``project``.

    The default REPL is the one `make lean` builds for the project's Lean version
    (``lean_setup.repl_dir``: $ALPHAQUANT_LEAN_REPL, else the user cache directory).
    """
    repl_dir = repl_dir or lean_setup.repl_dir(lean_setup.read_toolchain(project))
    binary = lean_setup.repl_binary(repl_dir)
    return ReplOptions(command=("lake", "env", str(binary)), cwd=project)


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
        self._pickles: tempfile.TemporaryDirectory[str] | None = None
        self.headers: dict[str, int] = {}  # header text -> stable env (kept across restarts)

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
            self._recycle_if_due()
            return answer

    def pickle(self, kind: Kind, sid: int) -> Path | None:
        """Pickle the stable env or proof state ``sid`` (the REPL's ``pickleTo``); after a restart
        it is restored from that file (``unpickleEnvFrom`` / ``unpickleProofStateFrom``) instead
        of by re-running the request that made it. None (nothing changes) if the REPL refused or
        died trying.
        """
        with self._lock:
            origin = self._ids.origin[kind].get(sid)
            if origin is None:
                return None
            path = self._pickle_folder() / f"{kind}-{sid}.olean"
            request: Request = (PickleEnvironment(env=sid, pickle_to=str(path)) if kind == "env"
                                else PickleProofState(proof_state=sid, pickle_to=str(path)))
            try:
                prepared = self._prepare(request)
                if isinstance(prepared, ReplError):
                    return None
                response = self._exchange(prepared, self.options.command_timeout)
            except ReplDied as e:  # killed already; the next request restarts it
                log.info("pickling %s %d failed: %s", kind, sid, e)
                return None
            if isinstance(response, ReplError):
                log.info("the Lean REPL would not pickle %s %d: %s", kind, sid, response.message)
                return None
            env = _ref(origin.request)
            restore: Request = (
                UnpickleEnvironment(str(path)) if kind == "env"
                else UnpickleProofState(str(path), env[1] if env and env[0] == "env" else None)
            )
            selector: Selector = ("env", 0) if kind == "env" else ("proofState", 0)
            self._ids.origin[kind][sid] = _Origin(restore, origin.timeout, [(selector, kind, sid)])
            return path

    def _pickle_folder(self) -> Path:
        if self.options.pickle_dir is not None:
            self.options.pickle_dir.mkdir(parents=True, exist_ok=True)
            return self.options.pickle_dir
        if self._pickles is None:
            self._pickles = tempfile.TemporaryDirectory(prefix="alphaquant-lean-")
        return Path(self._pickles.name)

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
        """Kill the REPL's process group and remove its pickles. Safe to call twice."""
        with self._lock:
            self._kill()
            if self._pickles is not None:
                self._pickles.cleanup()
                self._pickles = None

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
        log.info("restoring Lean REPL state: %s", one_line(json.dumps(request.to_json())))
        response = self._exchange(request, 2 * origin.timeout + 5)
        found = {selector: real for selector, _, real in _outputs(response)}
        for selector, kind, sid in origin.outputs:
            if selector not in found:
                raise ProverCrashed(
                    "restoring after a Lean REPL restart gave a different answer "
                    f"({one_line(str(response))}); the project may have changed on disk"
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
                preexec_fn=_address_space_limit(self.options.memory_limit_mb),
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
            at_start = self._answers == 0
            self._died(f"exit code {code}" + (f", stderr: {stderr}" if stderr else ""), at_start)
            if at_start:
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
            self._died(f"printed {one_line(text)!r}")
            raise ReplDied(
                f"the Lean REPL printed something that is not an answer ({one_line(text)!r}); "
                "is the command really the REPL? rebuild it with `make lean`"
            ) from None
        self._answers += 1
        self._deaths = 0
        return response

    def _died(self, reason: str, at_start: bool = False) -> None:
        """Count a death; a death at start-up is the caller's error message, not a warning."""
        self._deaths += 1
        self._last_death = reason
        (log.info if at_start else log.warning)("the Lean REPL died (%s)", reason)

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
        return code, one_line(last)

    def _recycle_if_due(self) -> None:
        """Recycle after ``max_commands`` answers or past ``rss_limit_mb`` resident; the next
        request starts a fresh process and restores what it needs."""
        if self._proc is None:
            return
        most = self.options.max_commands
        if most is not None and self._answers >= most:
            log.info("recycling the Lean REPL after %d answers", self._answers)
            self._kill()
            return
        limit = self.options.rss_limit_mb
        if limit is not None and (rss := self.rss_mb()) > limit:
            log.info("recycling the Lean REPL: %.0f MiB resident > %.0f MiB", rss, limit)
            self._kill()


_UNKNOWN: dict[Kind, str] = {"env": "Unknown environment.", "proofState": "Unknown proof state."}


def _address_space_limit(megabytes: float | None) -> Callable[[], None] | None:
    """A preexec function that caps the child's address space (inherited by ``lake env``'s
    child, the REPL), so that a runaway elaboration fails inside Lean, not the machine."""
    if megabytes is None:
        return None
    limit = int(megabytes * 2**20)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


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


def one_line(text: str, limit: int = 200) -> str:
    """One line, at most ``limit`` characters (errors print on one line)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."
