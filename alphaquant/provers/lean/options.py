"""LeanConfig, the ``[lean]`` table of a config file: the limits of the Lean REPL backend."""

from __future__ import annotations

from dataclasses import dataclass

from alphaquant.values import AT_LEAST_1, NOT_NEGATIVE, POSITIVE, check_fields


# The Lean REPL backend's limits: inside Lean first, the process's as the last resort.
@dataclass(frozen=True)
class LeanConfig:
    max_heartbeats: int | None = None  # `set_option maxHeartbeats` for every command; None: Lean's
    memory_limit_mb: int | None = None  # RLIMIT_AS of each REPL; it restarts past 80 % of it
    command_timeout: float = 600.0  # seconds for a command (imports, declarations, whole files)
    max_restarts: int = 3  # REPL deaths in a row before a session gives up

    def __post_init__(self) -> None:
        check_fields(self, "lean", max_heartbeats=AT_LEAST_1, memory_limit_mb=AT_LEAST_1,
                     command_timeout=POSITIVE, max_restarts=NOT_NEGATIVE)
