"""The corpus: (proof state, tactic) pairs recorded from finished proofs, one SQLite file per
language and library version in the user cache directory.

A file is recorded whole or not at all: its steps and its row (the digest of the text recorded)
are written in one transaction, so a killed ``learn`` leaves only whole files, and the next one
records the rest (resumable) and whatever changed since (incremental: a file whose digest
differs is recorded again, its old steps replaced). Every change bumps ``generation``; the
index (index.py) is rebuilt when the generation it was built from is not the corpus's.

Files are known by a key that names them portably: ``Coq/Reals/Rbase.v`` for a library file (the
logical prefix of its load-path root, then its path below it), the absolute path otherwise.
``excluded`` matches a key against the user's patterns (``learn.exclude``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from alphaquant.provers.base import RecordedStep
from alphaquant.user_cache import cache_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, digest TEXT NOT NULL,
  steps INTEGER NOT NULL, proofs INTEGER NOT NULL, failures INTEGER NOT NULL,
  seconds REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS steps (
  id INTEGER PRIMARY KEY, file INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
  theorem TEXT NOT NULL, idx INTEGER NOT NULL, hypotheses TEXT NOT NULL,
  conclusion TEXT NOT NULL, tactic TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_file ON steps(file);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def digest(text: str) -> str:
    """What identifies a recorded file's contents."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_path(language: str, version: str) -> Path:
    """The corpus of ``language`` recorded with prover ``version``, in the user cache."""
    safe = re.sub(r"[^\w.+-]", "_", version)
    return cache_dir() / "learned" / f"{language}-{safe}.sqlite"


def file_key(path: Path, roots: Iterable[tuple[Path, str]]) -> str:
    """``Prefix/rel/path.v`` under the deepest load-path root holding ``path``, else its
    absolute path."""
    resolved = path.resolve()
    best: tuple[int, str] | None = None
    for root, prefix in roots:
        try:
            rel = resolved.relative_to(root.resolve())
        except ValueError:
            continue
        if prefix and (best is None or len(root.parts) > best[0]):
            best = (len(root.parts), "/".join((*prefix.split("."), *rel.parts)))
    return best[1] if best is not None else str(resolved)


def excluded(key: str, patterns: Iterable[str]) -> bool:
    """Whether a file key matches one of ``patterns``: a glob over the key, a path suffix
    (``Reals/Rpower.v``), or a dotted module name or prefix (``Coq.Reals.Rpower``,
    ``Coq.Reals``)."""
    module = key[:-2].replace("/", ".") if key.endswith(".v") else key
    for raw in patterns:
        p = raw.strip().rstrip("/")
        if not p:
            continue
        if fnmatch.fnmatchcase(key, p) or fnmatch.fnmatchcase(module, p):
            return True
        if key == p or key.endswith("/" + p.lstrip("/")):
            return True
        if module == p or module.startswith(p + ".") or module.endswith("." + p):
            return True
    return False


# One file's row.
@dataclass(frozen=True)
class FileRow:
    id: int
    key: str
    digest: str
    steps: int
    proofs: int
    failures: int
    seconds: float


class Corpus:
    """The SQLite corpus of one language and library version (WAL: readers never wait)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @property
    def generation(self) -> int:
        """How many changes the corpus has seen (the index records the one it was built at)."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def files(self) -> dict[str, FileRow]:
        with self._connect() as db:
            rows = db.execute("SELECT id, key, digest, steps, proofs, failures, seconds "
                              "FROM files").fetchall()
        return {r[1]: FileRow(*r) for r in rows}

    def recorded(self, key: str, text_digest: str) -> bool:
        """Whether ``key`` is recorded with these contents (nothing to do for it)."""
        row = self.files().get(key)
        return row is not None and row.digest == text_digest

    def put(self, key: str, text_digest: str, steps: Iterable[RecordedStep], proofs: int,
            failures: int, seconds: float) -> int:
        """Record one file whole (its old steps replaced); the number of steps written."""
        rows = [(s.theorem, s.index, json.dumps(list(s.hypotheses)), s.conclusion, s.tactic)
                for s in steps]
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM files WHERE key = ?", (key,))
            cur = db.execute(
                "INSERT INTO files (key, digest, steps, proofs, failures, seconds) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, text_digest, len(rows), proofs, failures, seconds))
            file_id = cur.lastrowid
            db.executemany(
                "INSERT INTO steps (file, theorem, idx, hypotheses, conclusion, tactic) "
                "VALUES (?, ?, ?, ?, ?, ?)", [(file_id, *r) for r in rows])
            db.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key) DO "
                       "UPDATE SET value = CAST(value AS INTEGER) + 1")
        return len(rows)

    def forget(self, key: str) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM files WHERE key = ?", (key,))
            db.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT (key) DO "
                       "UPDATE SET value = CAST(value AS INTEGER) + 1")

    def all_steps(self) -> Iterator[tuple[int, int, tuple[str, ...], str]]:
        """(step id, file id, hypotheses, conclusion) of every step, in id order."""
        with self._connect() as db:
            for sid, fid, hyps, concl in db.execute(
                    "SELECT id, file, hypotheses, conclusion FROM steps ORDER BY id"):
                yield sid, fid, tuple(json.loads(hyps)), concl

    def steps(self, ids: Iterable[int]) -> dict[int, tuple[str, RecordedStep]]:
        """Step id -> (file key, step) for ``ids``."""
        wanted = list(ids)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT s.id, f.key, s.theorem, s.idx, s.hypotheses, s.conclusion, s.tactic "
                f"FROM steps s JOIN files f ON f.id = s.file WHERE s.id IN ({marks})",
                wanted).fetchall()
        return {r[0]: (r[1], RecordedStep(r[2], r[3], tuple(json.loads(r[4])), r[5], r[6]))
                for r in rows}

    def size_bytes(self) -> int:
        """The corpus's size on disk, its write-ahead log included."""
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))
