"""Safe to leave running overnight: the machine's faults are no results, interrupts say how to
resume, run directories that cannot be written. Real Coq, a real run store, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from alphaquant.provers.coq.coqc import COQ_MISSING
from alphaquant.runs.store import RunStore
from tests.conftest import needs_coq, sigint_as_a_terminal_sends_it, write_config
from tests.test_batch import FILES, TACTICS, TRUE_GOALS, make_project

pytestmark = [pytest.mark.coq, needs_coq]

ROOT = Path(__file__).resolve().parent.parent
# What the version before this one recorded as the error of every goal when Coq was missing.
OLD_COQ_MISSING = ("Coq is not installed (coqtop not on PATH): install it with "
                   "`apt-get install -y coq`")
# A goal none of TACTICS proves and that is true: it runs to its budget (for interrupts).
LONG_GOAL = """
Lemma even_or_odd : forall n : nat, Nat.even n = true \\/ Nat.odd n = true.
Proof.
Admitted.
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_config(tmp_path_factory.mktemp("config"), TACTICS, tactic_timeout=3)


@pytest.fixture(scope="module")
def long_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TACTICS and one that always applies: LONG_GOAL searches to its budget."""
    return write_config(tmp_path_factory.mktemp("long-config"),
                        [*TACTICS, ("assert True by exact I.", 0.5)], tactic_timeout=3)


def environment(tmp_path: Path, path: str | None = None) -> dict[str, str]:
    env = {**os.environ, "ALPHAQUANT_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "100"}
    if path is not None:
        env["PATH"] = path
    return env


def batch(config: Path, project: Path, run_dir: Path, *extra: str,
          budget: str = "15") -> list[str]:
    return [sys.executable, "-m", "alphaquant", "batch", str(project), "--run-dir", str(run_dir),
            "--config", str(config), "--budget-per-goal", budget, "--offline",
            "--second-pass", "0", *extra]


def statuses(run_dir: Path) -> dict[str, str]:
    store = RunStore.open(run_dir, readonly=True)
    try:
        names = {g.id: g.theorem for g in store.goals()}
        return {names[i]: r.status for i, r in store.latest().items()}
    finally:
        store.close()


def coq_only_bin(folder: Path) -> Path:
    """A folder holding links to the Coq tools (every coq* beside coqtop) and nothing else (a
    PATH to take them from)."""
    folder.mkdir()
    for tool in Path(shutil.which("coqtop") or "coqtop").resolve().parent.glob("coq*"):
        (folder / tool.name).symlink_to(tool)
    return folder


def test_a_missing_prover_stops_batch_before_anything_starts(tmp_path: Path,
                                                             config: Path) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = subprocess.run(batch(config, project, run_dir), capture_output=True, text=True,
                          env=environment(tmp_path, str(empty)), cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"alphaquant: error: {COQ_MISSING}"]
    assert not run_dir.exists()  # nothing recorded: a fixed PATH starts the run afresh


def test_a_prover_gone_mid_run_leaves_its_goals_to_try_and_resume_retries_them(
        tmp_path: Path, config: Path) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    tools = coq_only_bin(tmp_path / "bin")
    path = f"{tools}{os.pathsep}{os.path.dirname(sys.executable)}"
    proc = subprocess.Popen(batch(config, project, run_dir, "--workers", "1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment(tmp_path, path), cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if RunStore.is_run(run_dir) and statuses(run_dir):
            break
        time.sleep(0.05)
    for tool in tools.iterdir():  # the prover disappears after the first result
        tool.unlink()
    out, err = proc.communicate(timeout=120)
    decided = statuses(run_dir)
    assert 1 <= len(decided) < len(FILES) + 1, (decided, err)
    assert proc.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("alphaquant: error: ") and "once fixed, resume with: " in last, err
    assert last.endswith(f"alphaquant batch --resume {run_dir}")
    assert "error" not in decided.values()  # the machine's fault is no goal's result
    assert "halt: stopped: " in (run_dir / "run.log").read_text()

    resumed = subprocess.run([sys.executable, "-m", "alphaquant", "batch", "--resume",
                              str(run_dir)], capture_output=True, text=True,
                             env=environment(tmp_path), cwd=ROOT, timeout=300)
    final = statuses(run_dir)
    assert {t for t, s in final.items() if s == "proved"} == TRUE_GOALS, resumed.stderr
    assert len(final) == 5
    store = RunStore.open(run_dir, readonly=True)
    try:
        assert store.redone() == []
        assert "unavailable" in {a["status"] for a in store.attempts()}
    finally:
        store.close()


def test_resume_retries_goals_an_older_version_recorded_as_errors_of_a_missing_prover(
        tmp_path: Path, config: Path) -> None:
    """Before, a missing prover was recorded as each goal's error, and a resume retried
    nothing: such a run is mended by the next resume."""
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    done = subprocess.run(batch(config, project, run_dir, "--workers", "2"), capture_output=True,
                          text=True, env=environment(tmp_path), cwd=ROOT, timeout=300)
    assert {t for t, s in statuses(run_dir).items() if s == "proved"} == TRUE_GOALS, done.stderr
    db = sqlite3.connect(run_dir / "run.sqlite")
    with db:  # what the old version wrote for the goals of Nat1.v
        rows = db.execute("SELECT r.goal_id, r.item FROM results r JOIN goals g "
                          "ON g.id = r.goal_id WHERE g.file = 'Nat1.v'").fetchall()
        for goal_id, item in rows:
            broken = {**json.loads(item), "status": "error", "message": OLD_COQ_MISSING}
            db.execute("UPDATE results SET status = 'error', item = ? WHERE goal_id = ?",
                       (json.dumps(broken), goal_id))
    db.close()
    assert list(statuses(run_dir).values()).count("error") == 2
    resumed = subprocess.run([sys.executable, "-m", "alphaquant", "batch", "--resume",
                              str(run_dir)], capture_output=True, text=True,
                             env=environment(tmp_path), cwd=ROOT, timeout=300)
    assert "2 to try" in resumed.stderr, resumed.stderr
    assert {t for t, s in statuses(run_dir).items() if s == "proved"} == TRUE_GOALS


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_batch_says_what_is_left_and_how_to_resume(
        tmp_path: Path, long_config: Path, signum: int) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    with (project / "Nat1.v").open("a", encoding="utf-8") as f:
        f.write(LONG_GOAL)
    proc = subprocess.Popen(batch(long_config, project, run_dir, "--workers", "1",
                                  budget="60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment(tmp_path), cwd=ROOT,
                            preexec_fn=sigint_as_a_terminal_sends_it)
    deadline = time.monotonic() + 120
    log = run_dir / "run.log"
    while time.monotonic() < deadline and proc.poll() is None:
        if log.is_file() and "start: Nat1.v:even_or_odd" in log.read_text():
            break
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    finished = len(statuses(run_dir))
    left = 6 - finished
    line = (f"{finished} of 6 goals finished, {left} left; "
            f"resume with: alphaquant batch --resume {run_dir}")
    assert err.strip().splitlines()[-1] == f"alphaquant: interrupted: {line}"
    assert log.read_text().strip().splitlines()[-1].endswith(f"interrupted: {line}")
    assert f"left   {left} goals to try" in out
    store = RunStore.open(run_dir, readonly=True)
    try:
        assert "running" not in {a["status"] for a in store.attempts()}
        assert "interrupted" in {a["status"] for a in store.attempts()}
    finally:
        store.close()


def run_read_only(folder: Path, argv: list[str],
                  env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``argv`` where ``folder`` cannot be written: its modes (0555, 0444) for a user, a
    read-only bind mount in a mount namespace of its own for root (who writes anywhere)."""
    if os.geteuid() != 0:
        for entry in [folder, *folder.rglob("*")]:
            entry.chmod(0o555 if entry.is_dir() else 0o444)
        try:
            return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT,
                                  timeout=120)
        finally:
            for entry in [folder, *folder.rglob("*")]:
                entry.chmod(0o755 if entry.is_dir() else 0o644)
    script = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    done = subprocess.run(["unshare", "-m", "sh", "-c", script, str(folder), *argv],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"root without a mount namespace: {done.stderr.strip()}")
    return done


def test_a_read_only_run_is_read_and_an_unwritable_one_is_one_line(
        tmp_path: Path, long_config: Path) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    with (project / "Nat1.v").open("a", encoding="utf-8") as f:
        f.write(LONG_GOAL)
    done = subprocess.run(batch(long_config, project, run_dir, "--workers", "2"),
                          capture_output=True, text=True, env=environment(tmp_path),
                          cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    # The summary ends like pytest's: the goal left open at its theorem's line, then counts.
    lemma = 1 + (project / "Nat1.v").read_text().splitlines().index(
        "Lemma even_or_odd : forall n : nat, Nat.even n = true \\/ Nat.odd n = true.")
    lines = done.stdout.strip().splitlines()
    assert f"open   Nat1.v:{lemma} even_or_odd" in lines, done.stdout
    assert lines[-1].startswith("== ") and "open, 0 error of 6 goals in" in lines[-1]
    env, cli = environment(tmp_path), [sys.executable, "-m", "alphaquant"]
    report = run_read_only(run_dir, [*cli, "report", str(run_dir), "--format", "json"], env)
    assert report.returncode == 0, report.stderr
    items = {g["theorem"]: g for g in json.loads(report.stdout)["goals"]}
    assert len(items) == 6 and items["even_or_odd"]["decl_line"] == lemma
    assert all(g["tactics_tried"] <= g["expansions"] for g in items.values())
    assert any(g["tactics_tried"] < g["expansions"] for g in items.values())  # not one number
    written = run_read_only(run_dir, [*cli, "report", str(run_dir), "--output",
                                      str(tmp_path / "report.md")], env)
    assert written.returncode == 0 and (tmp_path / "report.md").is_file(), written.stderr
    assert written.stderr.strip() == (f"alphaquant: wrote the md report of {run_dir} to "
                                       f"{tmp_path / 'report.md'} "
                                       f"({(tmp_path / 'report.md').stat().st_size:,} bytes)")
    stats = run_read_only(run_dir, [*cli, "stats", str(run_dir), "--json"], env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["proved"] == 4
    tree = run_read_only(run_dir, [*cli, "tree", str(run_dir), "add_zero_r", "--format",
                                   "json"], env)
    assert tree.returncode == 0, tree.stderr
    resumed = run_read_only(run_dir, [*cli, "batch", "--resume", str(run_dir)], env)
    assert resumed.returncode == 2
    assert resumed.stderr.strip().splitlines() == [
        f"alphaquant: error: cannot write the run directory {run_dir}: "
        "`report`, `tree` and `stats` read it as it is"]
    fresh = run_read_only(run_dir, batch(long_config, project, run_dir / "new"), env)
    assert fresh.returncode == 2
    (line,) = fresh.stderr.strip().splitlines()
    assert line.startswith(f"alphaquant: error: cannot create the run directory "
                           f"{run_dir / 'new'}: "), line
    assert not (run_dir / "new").exists()


class SilentServer:
    """A local port that accepts connections and never answers (a model endpoint gone deaf)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def refusing_url() -> str:
    """A local port nothing listens on: every connection is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.llm
@pytest.mark.parametrize("endpoint", ["silent", "refusing"])
def test_budgets_hold_with_an_unreachable_model(tmp_path: Path, endpoint: str) -> None:
    """Every goal ends within max(1 s, 5 %) of its budget, and what the offline search proves
    is still proved: the model costs its own share of the time, not the search's."""
    pytest.importorskip("openai", reason="the llm extra is not installed")
    project = make_project(tmp_path / "project")
    with (project / "Nat1.v").open("a", encoding="utf-8") as f:
        f.write(LONG_GOAL)
    # The test's tactics, and one that always applies: even_or_odd searches to its budget.
    write_config(project, [*TACTICS, ("assert True by exact I.", 0.5)], offline=False,
                 tactic_timeout=3)
    server = SilentServer() if endpoint == "silent" else None
    url = server.url if server is not None else refusing_url()
    budget = 20.0
    goals = {}
    try:
        for file in ("Nat1.v", "Nat2.v"):  # Nat2.v: a disproof, and its re-check, within it too
            done = subprocess.run(
                [sys.executable, "-m", "alphaquant", "search", file, "--config", "config.toml",
                 "--llm", "openai", "--base-url", url, "--model", "m", "--budget", str(budget),
                 "--json"],
                capture_output=True, text=True, cwd=project, timeout=300,
                env={**environment(tmp_path), "OPENAI_API_KEY": "test-key"})
            goals.update({g["theorem"]: g for g in json.loads(done.stdout)["goals"]})
    finally:
        if server is not None:
            server.close()
    assert {t for t, g in goals.items() if g["status"] == "proved"} == TRUE_GOALS, done.stderr
    assert goals["even_or_odd"]["status"] == "open"
    assert goals["succ_is_self"]["status"] in ("disproved", "open")
    for name, goal in goals.items():
        assert goal["seconds"] <= budget + max(1.0, 0.05 * budget), (name, goal["seconds"])
    assert "the goal's 20s" in goals["even_or_odd"]["message"]
