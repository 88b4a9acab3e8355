"""A persistent cache of model answers: SQLite (WAL) in the user cache directory.

The key is a SHA-256 of (provider, model, prompt, sampling settings), so a second identical
request is answered from disk and makes no HTTP request. The answer is stored raw (text, token
logprobs, tokens used), not parsed, so a better parser also reads old answers. Only successful
answers are stored. The cache never raises: a file it cannot open or write is logged once and the
cache then acts as empty.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant.user_cache import cache_dir

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
  key TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  created REAL NOT NULL,
  answer TEXT NOT NULL
)
"""


def default_path() -> Path:
    """The cache file in alphaquant's user cache directory."""
    return cache_dir() / "llm_cache.sqlite"


def cache_key(provider: str, model: str, prompt: str, sampling: dict[str, Any]) -> str:
    """A stable hash of everything that determines a model's answer."""
    payload = json.dumps(
        {"provider": provider, "model": model, "prompt": prompt, "sampling": sampling},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# A model's answer as stored: its text, token logprobs where the server gave them, tokens used.
@dataclass(frozen=True)
class Answer:
    text: str
    token_logprobs: tuple[tuple[str, float], ...] | None = None
    tokens: int = 0

    def to_json(self) -> str:
        """The answer as a JSON object."""
        lp = None if self.token_logprobs is None else [list(t) for t in self.token_logprobs]
        return json.dumps({"text": self.text, "token_logprobs": lp, "tokens": self.tokens})

    @classmethod
    def from_json(cls, raw: str) -> Answer | None:
        """The answer stored as ``raw``; None if it is not one."""
        try:
            data = json.loads(raw)
            lp = data.get("token_logprobs")
            return cls(
                text=str(data["text"]),
                token_logprobs=None if lp is None else tuple((str(t), float(v)) for t, v in lp),
                tokens=int(data.get("tokens", 0)),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class AnswerCache:
    """Model answers by key. Opens its file on first use; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(SCHEMA)
            conn.commit()
        except (sqlite3.Error, OSError) as e:
            self._broken = True
            log.warning("model answer cache %s unusable (%s): answers are not cached", self.path, e)
            return None
        self._conn = conn
        return conn

    def get(self, key: str) -> Answer | None:
        """The stored answer for ``key``, or None."""
        with self._lock:
            conn = self._connect()
            if conn is None:
                return None
            try:
                row = conn.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error as e:
                log.debug("model answer cache read failed: %s", e)
                return None
        return Answer.from_json(row[0]) if row else None

    def put(self, key: str, provider: str, model: str, answer: Answer) -> None:
        """Store ``answer`` under ``key`` (replacing any older one)."""
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO answers (key, provider, model, created, answer) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (key, provider, model, time.time(), answer.to_json()),
                    )
            except sqlite3.Error as e:
                log.debug("model answer cache write failed: %s", e)

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            try:
                return int(conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
            except sqlite3.Error:
                return 0

    def close(self) -> None:
        """Close the file (the cache reopens it on next use)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
