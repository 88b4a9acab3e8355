"""One Lean REPL for a Lake project, run by lean-interact, and the proof states alphaquant keeps.

lean-interact's ``AutoLeanServer`` owns the process: ``lake env <repl>/.lake/build/bin/repl`` in
the project, its memory hard limit (``RLIMIT_AS``) and the restart past 80 % of it, the kill of
its process tree on a timeout, and a session cache that replays the commands of the
environments kept with ``add_to_session_cache`` when a new process needs them.

``LeanSession`` adds what the library leaves to its caller: a proof state of a ``sorry`` or of a
tactic has no place in that cache, so each state alphaquant hands out is a handle that remembers
how it was made (the command and the sorry's index, or the parent state and the tactic). A state
asked for in a process that did not make it is rebuilt from that recipe.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from lean_interact import AutoLeanServer, LeanREPLConfig, LocalProject
from lean_interact.interface import (
    Command,
    CommandResponse,
    LeanError,
    ProofStep,
    ProofStepResponse,
)

from alphaquant.errors import ProverCannotRun, ProverCrashed
from alphaquant.provers.lean.lake import one_line
from alphaquant.provers.lean.options import LeanConfig

log = logging.getLogger(__name__)


class ReplDied(ProverCrashed):
    """The REPL died or garbled an answer; the next request starts a new one."""


class ReplTimeout(ReplDied):
    """The REPL gave no answer in time; lean-interact killed its process tree."""


# How a proof state is made again in a new process: a sorry of a command, or a tactic.
@dataclass
class _Recipe:
    env: int | None = None  # root: the command's environment (a session-cached id)
    command: str = ""  # root: the command's text
    sorry: int = 0  # root: the sorry's index in the answer
    parent: int | None = None  # step: the state the tactic ran in (a handle)
    tactic: str = ""
    real: int = -1  # the REPL's id in process ``pid``
    pid: int | None = None


class LeanSession:
    """A lean-interact server for one project, with environments and proof states by handle."""

    def __init__(self, project: Path, repl_dir: Path, config: LeanConfig | None = None, *,
                 lake: str = "lake") -> None:
        self.config = config or LeanConfig()
        self.project, self.repl_dir, self.lake = project, repl_dir, lake
        self._server: AutoLeanServer | None = None  # started by the first request
        self._lock = threading.RLock()
        self._answers: dict[tuple[int | None, str], CommandResponse | LeanError] = {}
        self._states: dict[int, _Recipe] = {}
        self._answered = False  # any answer yet (a death before one is a start error)
        self._deaths = 0

    @property
    def server(self) -> AutoLeanServer:
        """lean-interact's server, started on first use."""
        if self._server is None:
            try:
                repl = LeanREPLConfig(
                    project=LocalProject(directory=str(self.project), auto_build=False,
                                         lake_path=self.lake),
                    local_repl_path=str(self.repl_dir), build_repl=False, lake_path=self.lake,
                    memory_hard_limit_mb=self.config.memory_limit_mb,
                    # both add fields to every command that only the library's own REPL fork
                    # reads; alphaquant elaborates declaration by declaration and sets its
                    # options as commands, which every REPL understands
                    enable_incremental_optimization=False, enable_parallel_elaboration=False)
                self._server = AutoLeanServer(repl, max_restart_attempts=self.config.max_restarts)
            except (OSError, ValueError, ChildProcessError) as e:
                why = _stderr_tail(str(e)) or one_line(str(e))
                raise ProverCannotRun(f"the Lean REPL exited before its first answer ({why}): "
                                       "build it with `make lean`; its toolchain must match the "
                                       "project's") from None
        return self._server

    # -- environments ----------------------------------------------------------------------------

    def env(self, text: str, env: int | None) -> CommandResponse | LeanError:
        """Run ``text`` in ``env`` once; its environment stays restorable after a restart (the
        library replays the command). Answers are kept by (env, text)."""
        key = (env, text)
        with self._lock:
            if key not in self._answers:
                answer = self._run(Command(cmd=text, env=env), self.config.command_timeout,
                                   keep=True)
                assert isinstance(answer, CommandResponse | LeanError)
                self._answers[key] = answer
            return self._answers[key]

    def command(self, text: str, env: int | None, timeout: float | None = None
                ) -> CommandResponse | LeanError:
        """Run ``text`` in ``env`` for its answer only (checks, probes)."""
        with self._lock:
            answer = self._run(Command(cmd=text, env=env), timeout or self.config.command_timeout)
            assert isinstance(answer, CommandResponse | LeanError)
            return answer

    # -- proof states ----------------------------------------------------------------------------

    def root(self, env: int | None, text: str, sorry: int, real: int) -> int:
        """A handle for the proof state of the ``sorry``-th sorry of ``text`` run in ``env``,
        whose id in the current process is ``real``."""
        with self._lock:
            handle = len(self._states)
            self._states[handle] = _Recipe(env=env, command=text, sorry=sorry, real=real,
                                           pid=self._pid())
            return handle

    def step(self, handle: int, tactic: str, timeout: float
             ) -> tuple[int | None, ProofStepResponse | LeanError]:
        """Run ``tactic`` in the state ``handle``: the new state's handle and the answer."""
        with self._lock:
            for _ in range(2):  # once more if the process changed under the request
                real = self._materialize(handle)
                pid = self._pid()
                answer = self._run(ProofStep(proof_state=real, tactic=tactic), timeout)
                if self._pid() != pid:
                    continue
                if not isinstance(answer, ProofStepResponse):
                    assert isinstance(answer, LeanError)
                    return None, answer
                new = len(self._states)
                self._states[new] = _Recipe(parent=handle, tactic=tactic,
                                            real=answer.proof_state, pid=pid)
                return new, answer
            raise ReplDied("the Lean REPL restarted twice while running one tactic")

    def _materialize(self, handle: int) -> int:
        """The current process's id for ``handle``, rebuilding it (and its parents) if needed."""
        recipe = self._states[handle]
        if recipe.pid is not None and recipe.pid == self._pid():
            return recipe.real
        if recipe.parent is None:
            log.info("rebuilding a root proof state in a new Lean REPL")
            answer = self._run(Command(cmd=recipe.command, env=recipe.env),
                               self.config.command_timeout)
            sorries = answer.sorries if isinstance(answer, CommandResponse) else []
            real = sorries[recipe.sorry].proof_state if recipe.sorry < len(sorries) else None
        else:
            parent = self._materialize(recipe.parent)
            answer = self._run(ProofStep(proof_state=parent, tactic=recipe.tactic),
                               2 * self.config.command_timeout)
            real = answer.proof_state if isinstance(answer, ProofStepResponse) else None
        if real is None:
            raise ProverCrashed("rebuilding a proof state after a Lean REPL restart gave another "
                                f"answer ({one_line(str(answer))}); did the project change?")
        recipe.real, recipe.pid = real, self._pid()
        return real

    # -- the process -----------------------------------------------------------------------------

    def _pid(self) -> int | None:
        """The pid of the REPL process now running (lean-interact keeps its Popen private)."""
        proc = getattr(self._server, "_proc", None)
        return None if proc is None else proc.pid

    def _run(self, request: Command | ProofStep, timeout: float, *, keep: bool = False
             ) -> CommandResponse | ProofStepResponse | LeanError:
        """One request through lean-interact; its failures as our errors."""
        if self._deaths > self.config.max_restarts:
            raise ProverCrashed(f"the Lean REPL died {self._deaths} times in a row; giving up: "
                                "check free memory (`dmesg`) and rebuild it with `make lean`")
        try:
            answer = self.server.run(request, timeout=timeout, add_to_session_cache=keep)
        except TimeoutError:
            raise ReplTimeout(f"the Lean REPL gave no answer within {timeout:g} s and was "
                              "stopped (it restarts on the next request)") from None
        except (ConnectionAbortedError, ChildProcessError, BrokenPipeError, json.JSONDecodeError,
                ValueError, MemoryError) as e:
            proc = getattr(self._server, "_proc", None)
            code = None if proc is None else proc.poll()
            self.server.kill()
            self._deaths += 1
            why = ", ".join(filter(None, [f"exit code {code}" if code is not None else "",
                                          _stderr_tail(str(e))])) or one_line(str(e))
            if not self._answered:
                raise ProverCannotRun(  # the machine's fault: a batch stops, the goal stays to try
                    f"the Lean REPL exited before its first answer ({why}): build it with "
                    "`make lean`; its toolchain must match the project's") from None
            raise ReplDied(f"the Lean REPL died while answering ({why}); it restarts on the "
                           "next request") from None
        self._answered = True
        self._deaths = 0
        return answer

    def close(self) -> None:
        """Kill the REPL's process tree. Safe to call twice."""
        with self._lock:
            if self._server is not None:
                self._server.kill()


def _stderr_tail(text: str) -> str:
    """The last line of the REPL's stderr that lean-interact put in its error message."""
    if "stderr:" not in text:
        return ""
    section = text.split("stderr:", 1)[1].split("-" * 10, 1)[0]
    lines = [ln for ln in section.splitlines() if ln.strip()]
    return f"stderr: {one_line(lines[-1])}" if lines else ""
