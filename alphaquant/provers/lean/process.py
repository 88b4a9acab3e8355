"""The operating-system side of one REPL child: its address-space limit, pipes read and written
under a deadline, its stderr tail, the kill of its whole process group, its resident memory.

Plain functions over file descriptors and ``/proc``; ``repl.LeanRepl`` owns the process.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO


def address_space_limit(megabytes: float | None) -> Callable[[], None] | None:
    """A preexec function that caps the child's address space (inherited by ``lake env``'s
    child, the REPL), so that a runaway elaboration fails inside Lean, not the machine."""
    if megabytes is None:
        return None
    limit = int(megabytes * 2**20)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def write_all(fd: int, data: bytes, deadline: float) -> None:
    """Write ``data`` to a non-blocking ``fd``; TimeoutError if it is not taken by ``deadline``."""
    while data:
        if not ready(fd, select.POLLOUT, deadline):
            raise TimeoutError
        try:
            data = data[os.write(fd, data[:65536]) :]
        except BlockingIOError:
            continue


def read_answer(fd: int, buffer: bytes, deadline: float) -> tuple[str, bytes]:
    """One answer, everything up to and including the next blank line, and what was read past
    it. TimeoutError if it is not complete by ``deadline``; EOFError if the pipe closes first."""
    while (end := buffer.find(b"\n\n")) < 0:
        if not ready(fd, select.POLLIN, deadline):
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError
        buffer += chunk
    answer, rest = buffer[: end + 2], buffer[end + 2 :]
    return answer.decode("utf-8", errors="replace"), rest


def ready(fd: int, event: int, deadline: float) -> bool:
    """Wait until ``fd`` is ready (or hung up) before ``deadline``; poll has no FD_SETSIZE cap."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    poller = select.poll()
    poller.register(fd, event)
    return bool(poller.poll(remaining * 1000))


def drain(stream: IO[bytes], tail: deque[str]) -> None:
    """Keep the last lines of the REPL's stderr (for error messages); never let the pipe fill."""
    for raw in iter(stream.readline, b""):
        tail.append(raw.decode("utf-8", errors="replace").rstrip())
    stream.close()


def kill_group(proc: subprocess.Popen[bytes]) -> int | None:
    """Kill the process group of ``proc``, wait for it, close its pipes; its exit code (None if
    it did not end within 10 s)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        code: int | None = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    await_group_exit(proc.pid, timeout=2.0)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass
    return code


def await_group_exit(pgid: int, timeout: float) -> None:
    """Wait until no live process is left in the group (a killed REPL frees its memory late)."""
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def group_members(pgid: int) -> list[int]:
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


def tree_rss_kb(pid: int) -> int:
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
