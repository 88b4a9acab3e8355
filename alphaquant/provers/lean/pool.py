"""The Lean REPLs of one process: one ``LeanSession`` per (project, REPL), shared by every
prover of the process, none closed before ``SessionPool.close`` (so a prover never loses its REPL
to another file's). lean-interact (the ``lean`` extra) is imported only when a session starts.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from alphaquant.provers.lean.options import LeanConfig

if TYPE_CHECKING:
    from alphaquant.provers.lean.session import LeanSession


class SessionPool:
    """One session per (project, REPL), shared by every prover of a process; none is closed
    before ``close`` (a prover never loses its REPL to another file's)."""

    def __init__(self, config: LeanConfig | None = None) -> None:
        self.config = config or LeanConfig()
        self._sessions: dict[tuple[str, str], LeanSession] = {}
        self._lock = threading.Lock()

    def session(self, project: Path, repl_dir: Path, *, lake: str = "lake") -> LeanSession:
        key = (str(project.resolve()), str(repl_dir))
        with self._lock:
            if key not in self._sessions:
                from alphaquant.provers.lean.session import LeanSession

                self._sessions[key] = LeanSession(project, repl_dir, self.config, lake=lake)
            return self._sessions[key]

    @property
    def sessions(self) -> list[LeanSession]:
        return list(self._sessions.values())

    def close(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
