"""How to launch and look after one Lean REPL process: ``ReplOptions`` (command, timeouts,
memory limits, recycling, restarts), the default address-space limit, and the options that run
the REPL `make lean` builds; LeanConfig, the ``[lean]`` table of a config file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alphaquant.provers.lean import setup as lean_setup
from alphaquant.values import AT_LEAST_1, POSITIVE, check_fields


# The Lean REPL backend: limits inside Lean first, the process's limits as the last resort.
@dataclass(frozen=True)
class LeanConfig:
    heartbeats_per_second: float | None = 40_000.0  # maxHeartbeats per second of a tactic's limit
    memory_limit_mb: float | None = None  # address-space cap per REPL; None: from RAM and workers
    rss_limit_mb: float | None = 16_000.0  # recycle a REPL past this resident size
    max_commands: int | None = 5_000  # recycle a REPL after this many answers
    pool_size: int = 2  # REPLs a process keeps for reuse, keyed by file header
    pickles: bool = True  # restart from pickled header environments and root proof states

    def __post_init__(self) -> None:
        check_fields(self, "lean", heartbeats_per_second=POSITIVE, memory_limit_mb=POSITIVE,
                     rss_limit_mb=POSITIVE, max_commands=AT_LEAST_1, pool_size=AT_LEAST_1)


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
    (``setup.repl_dir``: $ALPHAQUANT_LEAN_REPL, else the user cache directory).
    """
    repl_dir = repl_dir or lean_setup.repl_dir(lean_setup.read_toolchain(project))
    binary = lean_setup.repl_binary(repl_dir)
    return ReplOptions(command=("lake", "env", str(binary)), cwd=project)
