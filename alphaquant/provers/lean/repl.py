"""The Lean REPL process: ``LeanRepl`` owns one ``repl`` child and speaks its JSON protocol.

``LeanRepl`` runs ``lake env <repl>/.lake/build/bin/repl`` in the project root in its own
process group, sends one request at a time under a lock, and reads each answer with a deadline
(the REPL has no timeout of its own). A hung REPL is killed with its whole group; a dead or
garbled one is restarted with backoff on the next request; one that grows past ``rss_limit_mb``
is recycled. Callers see *stable* ids (``ids.py``): the REPL's own ids in the first process,
fresh numbers after a restart, and every stable env or proof state is restored on demand by
re-running the request that made it (header command, declaration command, then the tactic path).

How it is launched is ``options.ReplOptions``; the pipes, limits and process group are
``process.py``'s; the prover on top of it (``LeanProver``: files, goals, outcomes) is
``prover.py``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from alphaquant.errors import (
    ProverCannotRun,
    ProverCrashed,
    ProverNotInstalled,
    ProverStartError,
)
from alphaquant.provers.lean import process
from alphaquant.provers.lean.ids import (
    UNKNOWN,
    Kind,
    Lost,
    Origin,
    Selector,
    StableIds,
    outputs,
    ref_of,
    with_ref,
)
from alphaquant.provers.lean.lake import LAKE_MISSING, one_line
from alphaquant.provers.lean.options import ReplOptions
from alphaquant.provers.lean.protocol import ProtocolError
from alphaquant.provers.lean.requests import (
    PickleEnvironment,
    PickleProofState,
    Request,
    UnpickleEnvironment,
    UnpickleProofState,
    encode_request,
)
from alphaquant.provers.lean.responses import ReplError, Response, parse_response

log = logging.getLogger(__name__)


class ReplDied(ProverCrashed):
    """The REPL died or garbled its answer; it was killed and restarts on the next request."""


class ReplTimeout(ReplDied):
    """The REPL gave no answer in time; its process group was killed."""

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


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
        self._ids = StableIds()
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
            answer = self._ids.adopt_answer(request, response, seconds, restorable)
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
            env = ref_of(origin.request)
            restore: Request = (
                UnpickleEnvironment(str(path)) if kind == "env"
                else UnpickleProofState(str(path), env[1] if env and env[0] == "env" else None)
            )
            selector: Selector = ("env", 0) if kind == "env" else ("proofState", 0)
            self._ids.origin[kind][sid] = Origin(restore, origin.timeout, [(selector, kind, sid)])
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
        return 0.0 if self._proc is None else process.tree_rss_kb(self._proc.pid) / 1024

    # -- ids and restore -------------------------------------------------------------------------

    def _prepare(self, request: Request) -> Request | ReplError:
        """The request in this process's ids, restoring (and restarting) as needed."""
        for attempt in range(self.options.max_restarts + 1):
            self._ensure_running()
            try:
                ref = ref_of(request)
                return request if ref is None else with_ref(request, self._materialize(*ref))
            except Lost as e:
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
            raise Lost(UNKNOWN[kind])
        chain: list[Origin] = []
        ref: tuple[Kind, int] | None = (kind, sid)
        while ref is not None and ref[1] not in self._ids.real[ref[0]]:
            origin = self._ids.origin[ref[0]].get(ref[1])
            if origin is None:
                raise Lost(f"{UNKNOWN[ref[0]]} (it was lost when the Lean REPL restarted)")
            chain.append(origin)
            ref = ref_of(origin.request)
        for origin in reversed(chain):
            self._rerun(origin)
        return self._ids.real[kind][sid]

    def _rerun(self, origin: Origin) -> None:
        ref = ref_of(origin.request)
        request = origin.request
        if ref is not None:
            request = with_ref(request, self._ids.real[ref[0]][ref[1]])
        log.info("restoring Lean REPL state: %s", one_line(json.dumps(request.to_json())))
        response = self._exchange(request, 2 * origin.timeout + 5)
        found = {selector: real for selector, _, real in outputs(response)}
        for selector, kind, sid in origin.outputs:
            if selector not in found:
                raise ProverCrashed(
                    "restoring after a Lean REPL restart gave a different answer "
                    f"({one_line(str(response))}); the project may have changed on disk"
                )
            self._ids.bind(kind, sid, found[selector])

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
                preexec_fn=process.address_space_limit(self.options.memory_limit_mb),
            )
        except OSError as e:
            raise ProverCannotRun(f"could not run the Lean REPL ({command[0]}): {e}") from None
        assert proc.stdin is not None and proc.stderr is not None
        os.set_blocking(proc.stdin.fileno(), False)
        self._stderr_thread = threading.Thread(
            target=process.drain, args=(proc.stderr, self._stderr), daemon=True
        )
        self._stderr_thread.start()
        self._proc = proc
        log.info("started the Lean REPL (pid %d): %s", proc.pid, " ".join(command))

    def _exchange(self, request: Request, timeout: float) -> Response:
        """Write one request and read its answer, or kill the process and raise."""
        deadline = time.monotonic() + timeout
        try:
            assert self._proc is not None
            assert self._proc.stdin is not None and self._proc.stdout is not None
            process.write_all(self._proc.stdin.fileno(), encode_request(request), deadline)
            text, self._buffer = process.read_answer(
                self._proc.stdout.fileno(), self._buffer, deadline
            )
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

    def _kill(self) -> tuple[int | None, str]:
        """Kill the whole process group; the exit code and the last line of stderr."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None, ""
        code = process.kill_group(proc)
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
