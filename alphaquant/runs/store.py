"""The run store: one SQLite database (WAL) per run directory, written by the driver only.

Tables: ``run`` (the config used, its hash, the project, the options), ``files`` (each file's
original text: every attempt works on it), ``goals``, ``attempts`` (one row per try of a goal in
a pass, with worker, pid, start and end), ``results`` (the GoalResult item and its trees, one per
goal and pass), ``stats`` (search statistics per attempt, as columns), ``sessions`` (the first
run and each resume) and ``writes`` (write-back outcomes). One driver at a time holds the
directory's writer lock. Each finished attempt is committed in one transaction the moment it
finishes, so a killed run loses only the attempts in flight; `redone()` checks that no finished
goal was tried again.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant.config import (
    BesideConfig,
    DisproofConfig,
    FirstPassConfig,
    LearnConfig,
    Settings,
    TacticsConfig,
)
from alphaquant.errors import InputError
from alphaquant.provers.lean.options import LeanConfig
from alphaquant.search.base import SearchConfig
from alphaquant.status import FINAL

DB_NAME = "run.sqlite"
LOCK_NAME = "run.lock"

GoalSpec = tuple[int, str, int, int, str]  # ordinal, theorem, index, line, kind

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  project TEXT NOT NULL, settings TEXT NOT NULL, config_hash TEXT NOT NULL,
  config_text TEXT NOT NULL, options TEXT NOT NULL, started REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  file TEXT PRIMARY KEY, text TEXT NOT NULL, ord INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS goals (
  id INTEGER PRIMARY KEY, file TEXT NOT NULL REFERENCES files(file), ordinal INTEGER NOT NULL,
  theorem TEXT NOT NULL, idx INTEGER NOT NULL, line INTEGER NOT NULL, kind TEXT NOT NULL,
  UNIQUE (file, ordinal)
);
CREATE TABLE IF NOT EXISTS attempts (
  id INTEGER PRIMARY KEY, goal_id INTEGER NOT NULL REFERENCES goals(id), pass INTEGER NOT NULL,
  worker TEXT NOT NULL, pid INTEGER, budget REAL NOT NULL, started REAL NOT NULL,
  finished REAL, status TEXT NOT NULL, message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS results (
  goal_id INTEGER NOT NULL REFERENCES goals(id), pass INTEGER NOT NULL,
  attempt_id INTEGER NOT NULL REFERENCES attempts(id), status TEXT NOT NULL,
  item TEXT NOT NULL, trees TEXT NOT NULL, finished REAL NOT NULL,
  PRIMARY KEY (goal_id, pass)
);
CREATE TABLE IF NOT EXISTS stats (
  attempt_id INTEGER PRIMARY KEY REFERENCES attempts(id), goal_id INTEGER NOT NULL,
  seconds REAL, expansions INTEGER, nodes INTEGER, errors INTEGER, timeouts INTEGER,
  prover_seconds REAL, tactics_tried INTEGER
);
CREATE TABLE IF NOT EXISTS writes (
  file TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY, started REAL NOT NULL, options TEXT NOT NULL
);
"""


def settings_json(settings: Settings) -> dict[str, Any]:
    """The settings as plain JSON data (paths as strings; the config file's path left out)."""
    data = dataclasses.asdict(settings)
    del data["source_file"]
    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain


def settings_from_json(data: dict[str, Any]) -> Settings:
    """The Settings `settings_json` recorded."""
    tactics = dict(data["tactics"])
    for key in ("coq", "lean", "memory_path"):
        if tactics.get(key) is not None:
            tactics[key] = Path(tactics[key])
    learn = dict(data.get("learn", {}))
    if "exclude" in learn:
        learn["exclude"] = tuple(learn["exclude"])
    if learn.get("corpus") is not None:
        learn["corpus"] = Path(learn["corpus"])
    return Settings(
        search=SearchConfig(**data["search"]),
        tactics=TacticsConfig(**tactics),
        disproof=DisproofConfig(**data["disproof"]),
        learn=LearnConfig(**learn),
        lean=LeanConfig(**{k: v for k, v in data.get("lean", {}).items()  # keys of older runs
                           if k in LeanConfig.__dataclass_fields__}),
        first_pass=FirstPassConfig(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in data.get("first_pass", {}).items()}),
        beside=BesideConfig(**data.get("beside", {})),
        prover=data["prover"],
        offline=data["offline"],
        new_imports=data.get("new_imports", True),
        llm=dict(data["llm"]),
    )


def config_hash(settings: Settings) -> str:
    """A short stable hash of the effective settings (what decides how goals are searched)."""
    text = json.dumps(settings_json(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _writable(folder: Path) -> bool:
    """Whether this process may create and change files in ``folder`` (and its store)."""
    store = folder / DB_NAME
    return os.access(folder, os.W_OK | os.X_OK) and (
        not store.exists() or os.access(store, os.W_OK))


def ensure_writable(run_dir: Path) -> None:
    """Create ``run_dir`` if needed; an InputError (one line) if it cannot be written."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the run directory {run_dir}: "
                         f"{e.strerror or e}") from None
    if not _writable(run_dir):
        raise InputError(f"cannot write the run directory {run_dir}")


@contextmanager
def writer_lock(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's writer lock (one driver at a time; the kernel releases it when
    the driver dies, even by SIGKILL). A second driver gets an InputError."""
    ensure_writable(run_dir)
    with open(run_dir / LOCK_NAME, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"{run_dir} is in use: another batch is running on it") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# One goal of the run, as registered when the run began.
@dataclass(frozen=True)
class GoalRow:
    id: int
    file: str  # relative to the project directory
    ordinal: int  # position among the file's goals
    theorem: str
    index: int
    line: int
    kind: str

    @property
    def label(self) -> str:
        """``File.v:theorem`` (with ``#index`` for a second hole of one declaration)."""
        name = self.theorem or f"(anonymous@{self.line})"
        return f"{Path(self.file).name}:{name}" + (f"#{self.index}" if self.index else "")


# The stored outcome of one goal in one pass.
@dataclass(frozen=True)
class ResultRow:
    goal_id: int
    pass_no: int
    attempt_id: int
    status: str
    item: dict[str, Any]  # GoalResult.to_json()
    finished: float


# The run's header: what it searched and with which settings.
@dataclass(frozen=True)
class RunInfo:
    project: Path
    settings: Settings
    config_hash: str
    config_text: str
    options: dict[str, Any]
    started: float


class RunStore:
    """The SQLite store of one run directory. Every write commits before returning."""

    def __init__(self, run_dir: Path, db: sqlite3.Connection) -> None:
        self.run_dir = run_dir
        self.db = db

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    @staticmethod
    def is_run(run_dir: Path) -> bool:
        """Whether ``run_dir`` holds a run (a store whose creation committed)."""
        path = run_dir / DB_NAME
        if not path.is_file():
            return False
        try:
            with closing(RunStore._reader(path)) as db:
                return bool(db.execute("SELECT count(*) FROM run").fetchone()[0] == 1)
        except sqlite3.DatabaseError:
            return False

    @classmethod
    def create(
        cls, run_dir: Path, project: Path, settings: Settings, config_text: str,
        options: dict[str, Any], files: list[tuple[str, str, list[GoalSpec]]],
    ) -> RunStore:
        """A new run in ``run_dir`` with its files and goals, committed as one transaction (a
        run killed while being created is no run, and can be started again).

        Args:
          run_dir: the directory (created if missing; must not hold a run already).
          project: the project directory.
          settings: the effective settings (recorded with their hash).
          config_text: the config file's text, for the record.
          options: the batch options, for the record.
          files: (path relative to the project, original text, goals) in dependency order;
            each goal as (ordinal, theorem, index, line, kind).
        """
        if cls.is_run(run_dir):
            raise InputError(f"{run_dir} already holds a run")
        run_dir.mkdir(parents=True, exist_ok=True)
        db = cls._connect(run_dir / DB_NAME)
        db.executescript(SCHEMA)
        with db:
            db.execute(
                "INSERT INTO run VALUES (1, ?, ?, ?, ?, ?, ?)",
                (str(project), json.dumps(settings_json(settings)), config_hash(settings),
                 config_text, json.dumps(options), time.time()),
            )
            for order, (file, text, goals) in enumerate(files):
                db.execute("INSERT INTO files VALUES (?, ?, ?)", (file, text, order))
                db.executemany(
                    "INSERT INTO goals (file, ordinal, theorem, idx, line, kind) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(file, *g) for g in goals],
                )
        return cls(run_dir, db)

    @classmethod
    def open(cls, run_dir: Path, *, readonly: bool = False) -> RunStore:
        """The run in ``run_dir``; an InputError if it is not a run directory or its store is
        damaged (the message says which). ``readonly`` (report, tree): the store is only read,
        so a run directory this user may not write is fine."""
        path = run_dir / DB_NAME
        if path.is_file():
            try:
                with closing(cls._reader(path)) as db:
                    db.execute("PRAGMA quick_check").fetchall()
                    db.execute("SELECT count(*) FROM run").fetchone()
            except sqlite3.DatabaseError as e:
                raise InputError(f"run store is damaged: {path}: {e}") from None
        if not cls.is_run(run_dir):
            raise InputError(f"{run_dir} is not a run directory (no run store in it)")
        if readonly:
            return cls(run_dir, cls._reader(path))
        if not _writable(run_dir):
            raise InputError(f"cannot write the run directory {run_dir}: "
                             "`report`, `tree` and `stats` read it as it is")
        return cls(run_dir, cls._connect(path))

    @staticmethod
    def _reader(path: Path) -> sqlite3.Connection:
        """A read-only connection; ``immutable`` where the folder cannot be written (SQLite
        cannot make the WAL index there, and no writer can be at work in it either)."""
        immutable = "&immutable=1" if not _writable(path.parent) else ""
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro{immutable}", uri=True,
                               timeout=30)

    def close(self) -> None:
        self.db.close()

    # -- the run ---------------------------------------------------------------------------

    def info(self) -> RunInfo:
        row = self.db.execute(
            "SELECT project, settings, config_hash, config_text, options, started FROM run"
        ).fetchone()
        return RunInfo(Path(row[0]), settings_from_json(json.loads(row[1])), row[2], row[3],
                       json.loads(row[4]), row[5])

    def replace_settings(self, settings: Settings, config_text: str) -> None:
        """Record new settings for the rest of the run (a forced resume with another config)."""
        with self.db:
            self.db.execute(
                "UPDATE run SET settings = ?, config_hash = ?, config_text = ? WHERE id = 1",
                (json.dumps(settings_json(settings)), config_hash(settings), config_text),
            )

    def begin_session(self, options: dict[str, Any]) -> int:
        """Record that a session (the first, or a resume) started; in-flight attempts of an
        earlier session are marked interrupted. Returns the session number."""
        with self.db:
            self.db.execute(
                "UPDATE attempts SET status = 'interrupted' WHERE status = 'running'"
            )
            cur = self.db.execute(
                "INSERT INTO sessions (started, options) VALUES (?, ?)",
                (time.time(), json.dumps(options)),
            )
        return int(cur.lastrowid or 0)

    # -- files and goals -------------------------------------------------------------------

    def files(self) -> dict[str, str]:
        """Relative path → original text, in registration order."""
        rows = self.db.execute("SELECT file, text FROM files ORDER BY ord")
        return dict(rows.fetchall())

    def goals(self) -> list[GoalRow]:
        rows = self.db.execute(
            "SELECT g.id, g.file, g.ordinal, g.theorem, g.idx, g.line, g.kind FROM goals g "
            "JOIN files f ON f.file = g.file ORDER BY f.ord, g.ordinal"
        )
        return [GoalRow(*r) for r in rows.fetchall()]

    # -- attempts and results --------------------------------------------------------------

    def start_attempt(
        self, goal_id: int, pass_no: int, worker: str, pid: int | None, budget: float
    ) -> int:
        """Record an attempt as running; returns its id."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO attempts (goal_id, pass, worker, pid, budget, started, status) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running')",
                (goal_id, pass_no, worker, pid, budget, time.time()),
            )
        return int(cur.lastrowid or 0)

    def fail_attempt(self, attempt_id: int, message: str) -> None:
        """Record an attempt that ended without a result (it will be retried)."""
        with self.db:
            self.db.execute(
                "UPDATE attempts SET finished = ?, status = 'retry', message = ? WHERE id = ?",
                (time.time(), message, attempt_id),
            )

    def leave_attempt(self, attempt_id: int, message: str) -> None:
        """Record an attempt the machine cut short (a prover missing): no result, not counted
        among the goal's failures; the goal stays to try."""
        with self.db:
            self.db.execute(
                "UPDATE attempts SET finished = ?, status = 'unavailable', message = ? "
                "WHERE id = ?", (time.time(), message, attempt_id),
            )

    def interrupt_running(self) -> None:
        """Mark the attempts in flight as interrupted (Ctrl-C, SIGTERM); their goals stay to try."""
        with self.db:
            self.db.execute(
                "UPDATE attempts SET finished = ?, status = 'interrupted' "
                "WHERE status = 'running'", (time.time(),),
            )

    def reopen(self, goal_id: int, pass_no: int) -> None:
        """Drop a goal's result for a pass that the machine, not the goal, decided (an older
        version recorded a missing prover as an error): the goal is to try again."""
        with self.db:
            self.db.execute(
                "UPDATE attempts SET status = 'unavailable' WHERE id IN (SELECT attempt_id "
                "FROM results WHERE goal_id = ? AND pass = ?) OR (goal_id = ? AND pass = ? "
                "AND status = 'retry')", (goal_id, pass_no, goal_id, pass_no))
            self.db.execute(
                "DELETE FROM stats WHERE attempt_id IN (SELECT attempt_id FROM results "
                "WHERE goal_id = ? AND pass = ?)", (goal_id, pass_no))
            self.db.execute("DELETE FROM results WHERE goal_id = ? AND pass = ?",
                            (goal_id, pass_no))

    def finish_attempt(
        self, attempt_id: int, item: dict[str, Any], trees: dict[str, Any]
    ) -> None:
        """Record a goal's result for the attempt's pass, its statistics and the attempt's end,
        in one transaction."""
        now = time.time()
        goal_id, pass_no = self.db.execute(
            "SELECT goal_id, pass FROM attempts WHERE id = ?", (attempt_id,)
        ).fetchone()
        with self.db:
            self.db.execute(
                "UPDATE attempts SET finished = ?, status = ?, message = ? WHERE id = ?",
                (now, item["status"], item.get("message", ""), attempt_id),
            )
            self.db.execute(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                (goal_id, pass_no, attempt_id, item["status"], json.dumps(item),
                 json.dumps(trees), now),
            )
            self.db.execute(
                "INSERT INTO stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt_id, goal_id, item.get("seconds"), item.get("expansions"),
                 item.get("nodes"), item.get("errors"), item.get("timeouts"),
                 item.get("prover_seconds"), item.get("tactics_tried")),
            )

    def failures(self, goal_id: int, pass_no: int) -> int:
        """Attempts of the goal in the pass that ended without a result."""
        row = self.db.execute(
            "SELECT count(*) FROM attempts WHERE goal_id = ? AND pass = ? AND status = 'retry'",
            (goal_id, pass_no),
        ).fetchone()
        return int(row[0])

    def results(self) -> list[ResultRow]:
        """Every stored result, by goal and pass."""
        rows = self.db.execute(
            "SELECT goal_id, pass, attempt_id, status, item, finished FROM results "
            "ORDER BY goal_id, pass"
        )
        return [ResultRow(g, p, a, s, json.loads(i), f) for g, p, a, s, i, f in rows.fetchall()]

    def status_counts(self) -> dict[str, int]:
        """How many goals have each status in their latest pass."""
        rows = self.db.execute(
            "SELECT status, count(*) FROM results r WHERE pass = "
            "(SELECT max(pass) FROM results WHERE goal_id = r.goal_id) GROUP BY status"
        )
        return dict(rows.fetchall())

    def latest(self) -> dict[int, ResultRow]:
        """Each goal's result from its latest pass."""
        return {r.goal_id: r for r in self.results()}

    def trees(self, goal_id: int) -> dict[str, Any]:
        """The search trees (phase → tree data) of the goal's latest result; {} if none."""
        row = self.db.execute(
            "SELECT trees FROM results WHERE goal_id = ? ORDER BY pass DESC LIMIT 1", (goal_id,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt as a dict (id, goal_id, pass, worker, pid, budget, started, finished,
        status, message)."""
        cur = self.db.execute("SELECT * FROM attempts ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def redone(self) -> list[tuple[int, int]]:
        """(goal, pass) pairs attempted again after the pass had a result: must be empty."""
        rows = self.db.execute(
            "SELECT DISTINCT a.goal_id, a.pass FROM attempts a JOIN attempts f "
            "ON f.goal_id = a.goal_id AND f.pass = a.pass AND f.id <> a.id "
            f"WHERE f.status IN {FINAL!r} AND a.started >= f.finished"
        )
        duplicates = self.db.execute(
            "SELECT goal_id, pass FROM attempts "
            f"WHERE status IN {FINAL!r} GROUP BY goal_id, pass HAVING count(*) > 1"
        )
        return sorted(set(rows.fetchall()) | set(duplicates.fetchall()))

    # -- write-back ------------------------------------------------------------------------

    def record_write(self, file: str, status: str, message: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO writes VALUES (?, ?, ?, ?)",
                            (file, status, message, time.time()))

    def writes(self) -> list[tuple[str, str, str]]:
        rows = self.db.execute("SELECT file, status, message FROM writes ORDER BY rowid")
        return [tuple(r) for r in rows.fetchall()]
