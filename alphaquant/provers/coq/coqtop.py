"""One coqtop -emacs process: its own session, a reader thread, replies read with deadlines.

Each reply ends at a prompt ``<prompt>NAME < N |...| 0 < </prompt>``, N being the state number
``BackTo N.`` takes. A missing prompt past the deadline is ``CoqtopHung``; an exit or a broken
pipe is ``CoqtopDied``; both kill the whole process group first.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import (
    ProverCrashed,
)

log = logging.getLogger(__name__)


class CoqtopDied(ProverCrashed):
    """coqtop exited (or its pipe broke) while a reply was awaited."""


class CoqtopHung(ProverCrashed):
    """No prompt came from coqtop before the deadline."""


class Desync(ProverCrashed):
    """coqtop's state numbers no longer match the line this backend keeps."""


# The prompt's name outside any proof: "Coq" up to Coq 8, "Rocq" from Rocq 9.
TOPLEVEL = frozenset({"Coq", "Rocq"})
_PROMPT = re.compile(rb"<prompt>(\S+) < (\d+) \|([^|]*)\| (\d+) < </prompt>")
_PROMPT_END = b"</prompt>"


# One answer of coqtop: what it printed, then the prompt that ended it.
@dataclass(frozen=True)
class Reply:
    output: str
    state: int  # the state number in the prompt
    name: str  # the proof's name; outside proofs "Coq" ("Rocq" from Rocq 9): see TOPLEVEL


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
        self._scanned = 0  # bytes of _buf already searched for a prompt's end
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
                    m = self._prompt()
                    if m is not None:
                        output = self._buf[: m.start()].decode("utf-8", errors="replace")
                        reply = Reply(output, int(m.group(2)), m.group(1).decode(errors="replace"))
                        del self._buf[: m.end()]
                        self._scanned = 0
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

    def _prompt(self) -> re.Match[bytes] | None:
        """The first whole prompt in the buffer, searched from where the last search ended
        (a long answer, such as a ``Search``, arrives in many chunks: searching the whole
        buffer at each was quadratic). Called with the lock held."""
        while True:
            end = self._buf.find(_PROMPT_END, self._scanned)
            if end < 0:
                self._scanned = max(0, len(self._buf) - len(_PROMPT_END) + 1)
                return None
            m = _PROMPT.search(self._buf, 0, end + len(_PROMPT_END))
            if m is not None:
                return m
            self._scanned = end + 1  # an end without its prompt: look past it

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
