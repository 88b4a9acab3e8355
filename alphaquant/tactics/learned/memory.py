"""Priors learned from past runs: smoothed success rates per (goal shape, tactic).

The record is an aggregate, not a log: one row per (language, shape, tactic) with counts, so it
stays small and a lookup is a dict access (the table is read once when a source is built).
Success rate r = (wins + m·r0) / (tries + m) with a wins count that credits a tactic fully when it
lies on a found proof and a little when it merely made progress; a configured weight w becomes
w · r / r0, so an untried tactic keeps its configured weight. The factor r / r0 is kept within
[MIN_FACTOR, MAX_FACTOR]: experience reorders candidates but never vetoes one — a closer such as
`lra` fails on most states it is tried on (its rate sinks towards 0) yet ends nearly every proof.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from alphaquant.provers.base import ProofState
from alphaquant.tactics.rules.goal_rules import shape
from alphaquant.user_cache import cache_dir


# One tactic a search sent to the prover, as the record reads it (search/base.py's Trial is one;
# the search sits above the tactic sources, so the record names only what it reads).
class Tried(Protocol):
    @property
    def state(self) -> ProofState: ...
    @property
    def tactic(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def seconds(self) -> float: ...


MIN_FACTOR = 0.5  # learned reweighting at most halves a configured weight ...
MAX_FACTOR = 3.0  # ... and at most triples it

SCHEMA = """
CREATE TABLE IF NOT EXISTS tactic_stats (
  language TEXT NOT NULL, shape TEXT NOT NULL, tactic TEXT NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0, progress INTEGER NOT NULL DEFAULT 0,
  on_proof INTEGER NOT NULL DEFAULT 0, seconds REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (language, shape, tactic)
)
"""


def default_path() -> Path:
    """The record's file in the user cache directory."""
    return cache_dir() / "tactic_memory.sqlite"


# Counts of one (shape, tactic).
@dataclass(frozen=True)
class Stat:
    shape: str
    tactic: str
    tries: int
    progress: int
    on_proof: int
    seconds: float

    def rate(self, *, prior_rate: float = 0.2, strength: float = 4.0) -> float:
        """Smoothed success rate: (wins + m·r0) / (tries + m)."""
        wins = self.on_proof + 0.2 * self.progress
        return (wins + strength * prior_rate) / (self.tries + strength)

    def to_json(self) -> dict[str, object]:
        """The item `stats --json` prints."""
        return {"tactic": self.tactic, "tries": self.tries, "on_proof": self.on_proof,
                "rate": round(self.rate(), 4)}


class TacticMemory:
    """The SQLite record of tactic outcomes for one language."""

    def __init__(self, path: Path, language: str) -> None:
        self.path = path
        self.language = language
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)
        self._stats = {(s.shape, s.tactic): s for s in self.stats()}

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def stats(self) -> list[Stat]:
        """Every recorded (shape, tactic) of this language."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT shape, tactic, tries, progress, on_proof, seconds FROM tactic_stats "
                "WHERE language = ?", (self.language,),
            ).fetchall()
        return [Stat(*row) for row in rows]

    def reweigh(self, goal_shape: str, tactic: str, weight: float) -> float:
        """The configured weight scaled by the tactic's smoothed success rate on this shape."""
        stat = self._stats.get((goal_shape, tactic))
        if stat is None:
            return weight
        return weight * min(MAX_FACTOR, max(MIN_FACTOR, stat.rate() / 0.2))

    def record(self, trials: Iterable[Tried], proof: Iterable[str] = ()) -> None:
        """Add a search's trials; tactics of the found ``proof`` count as on the proof path."""
        on_proof = set(proof)
        rows: dict[tuple[str, str], list[float]] = {}
        for t in trials:
            key = (shape(t.state), t.tactic)
            row = rows.setdefault(key, [0, 0, 0, 0.0])
            row[0] += 1
            row[1] += t.outcome in ("progress", "solved")
            row[2] += t.tactic in on_proof and t.outcome in ("progress", "solved")
            row[3] += t.seconds
        with self._lock, self._connect() as db:
            db.executemany(
                "INSERT INTO tactic_stats VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (language, shape, tactic) DO UPDATE SET "
                "tries = tries + excluded.tries, progress = progress + excluded.progress, "
                "on_proof = on_proof + excluded.on_proof, seconds = seconds + excluded.seconds",
                [(self.language, s, t, *v) for (s, t), v in rows.items()],
            )
        self._stats = {(s.shape, s.tactic): s for s in self.stats()}

    def best(self, limit: int = 5) -> dict[str, list[Stat]]:
        """Per goal shape, the tactics with the highest smoothed success rate."""
        by_shape: dict[str, list[Stat]] = {}
        for s in self.stats():
            by_shape.setdefault(s.shape, []).append(s)
        return {
            k: sorted(v, key=lambda s: -s.rate())[:limit]
            for k, v in sorted(by_shape.items(), key=lambda kv: -sum(s.tries for s in kv[1]))
        }


def open_memory(path: Path | None, language: str) -> TacticMemory:
    """The record at ``path`` (default: user cache directory) for ``language``."""
    return TacticMemory(path or default_path(), language)
