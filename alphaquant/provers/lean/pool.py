"""Lean REPLs kept for reuse across files and goals, keyed by the environment they hold.

Elaborating ``import Mathlib`` takes a REPL many seconds and gigabytes; a REPL that has done it
answers every later file with the same header from that environment. ``ReplPool.prover`` hands
out a ``LeanProver`` over the pooled REPL for a (REPL command, project, header) key, starting
one, with the pool's limits (address space, recycling, heartbeats, pickles), if none is kept.
Closing such a prover returns the REPL to the pool; ``ReplPool.close`` ends them all. At most
``size`` REPLs are kept, the least recently used closed first.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path

from alphaquant import file_text
from alphaquant.provers.lean.options import LeanConfig, ReplOptions, default_memory_limit_mb
from alphaquant.provers.lean.prover import LeanProver, checked_options
from alphaquant.provers.lean.repl import LeanRepl
from alphaquant.provers.lean.source import split_source

PoolKey = tuple[tuple[str, ...], str, str]  # (command, project folder, header text)


class ReplPool:
    """REPL processes by header; one per key, ``config.pool_size`` at most."""

    def __init__(self, config: LeanConfig | None = None, *, workers: int = 1) -> None:
        self.config = config or LeanConfig()
        self.memory_limit_mb = self.config.memory_limit_mb or default_memory_limit_mb(workers)
        self._repls: OrderedDict[PoolKey, LeanRepl] = OrderedDict()

    def prover(self, options: ReplOptions, text: str) -> LeanProver:
        """A prover for a file whose text is ``text``, over the REPL kept for its header."""
        key = (options.command, str(options.cwd), split_source(text).header)
        repl = self._repls.pop(key, None)
        if repl is None:
            repl = LeanRepl(dataclasses.replace(
                options, memory_limit_mb=self.memory_limit_mb,
                max_commands=self.config.max_commands, rss_limit_mb=self.config.rss_limit_mb))
        self._repls[key] = repl
        while len(self._repls) > max(1, self.config.pool_size):
            _, oldest = self._repls.popitem(last=False)
            oldest.close()
        return LeanProver(repl, heartbeats_per_second=self.config.heartbeats_per_second,
                          pickles=self.config.pickles, on_close=_keep)

    def prover_for_file(self, path: Path) -> LeanProver:
        """``prover`` for the file at ``path`` of a Lake project (its header read from disk;
        raises what ``prover.checked_options`` raises)."""
        return self.prover(checked_options(path), file_text.read_text(path))

    @property
    def repls(self) -> list[LeanRepl]:
        """The kept REPLs, least recently used first."""
        return list(self._repls.values())

    def close(self) -> None:
        """End every kept REPL."""
        while self._repls:
            _, repl = self._repls.popitem()
            repl.close()


def _keep(prover: LeanProver) -> None:
    """A pooled prover's close: the REPL stays with the pool."""
