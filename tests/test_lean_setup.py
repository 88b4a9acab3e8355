"""Lean set-up: doctor's checks, `make lean` without network, and the one-line errors a user sees
from `alphaquant search X.lean` when Lean is missing, misplaced or mismatched.

No Lean toolchain is needed: a fake ``lake`` (``lake env CMD`` runs CMD) stands in for Lake, and
the replay REPL (tests/replay_repl.py) or a shell script for the REPL binary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alphaquant import setup_lean
from alphaquant.errors import ProverNotInstalled
from alphaquant.provers.lean import setup as lean_setup
from alphaquant.provers.lean.prover import LeanProver
from alphaquant.provers.lean.setup import (
    SetupError,
    lean_checks,
    repl_dir,
    repl_problem,
    toolchain_version,
    version_mismatch,
)
from alphaquant.runs.store import RunStore
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
REPLAY = REPO / "tests" / "replay_repl.py"
TOOLCHAIN = "leanprover/lean4:v4.34.0\n"


@pytest.fixture
def no_lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with no Lean on it and an empty ELAN_HOME; returns that bin folder."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("ELAN_HOME", str(tmp_path / "elan"))
    monkeypatch.delenv(lean_setup.REPL_ENV, raising=False)
    return empty


def fake_lean(
    tmp_path: Path, *, repl_toolchain: str = TOOLCHAIN, repl: str | None = None
) -> dict[str, str]:
    """A fake `lake` on PATH, a Lake project ``proj`` and a REPL checkout ``repl``.

    ``repl`` is the REPL binary's shell script (default: dies at start-up). Returns the
    environment for the CLI.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lake = bin_dir / "lake"
    lake.write_text('#!/bin/sh\n[ "$1" = env ] && shift && exec "$@"\nexit 1\n')
    lake.chmod(0o755)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "proj"\n')
    (project / "lean-toolchain").write_text(TOOLCHAIN)
    checkout = tmp_path / "repl"
    binary = lean_setup.repl_binary(checkout)
    binary.parent.mkdir(parents=True)
    (checkout / "lean-toolchain").write_text(repl_toolchain)
    binary.write_text(repl or "#!/bin/sh\necho 'repl: cannot load Init' >&2\nexit 3\n")
    binary.chmod(0o755)
    path = f"{bin_dir}:/usr/bin:/bin"
    return {"PATH": path, lean_setup.REPL_ENV: str(checkout), "ELAN_HOME": str(tmp_path / "e")}


# ---------------------------------------------------------------------------------------------
# Versions and tags


def test_toolchain_version() -> None:
    assert toolchain_version("leanprover/lean4:v4.32.0\n") == "v4.32.0"
    assert toolchain_version("# pinned\n\nleanprover/lean4:v4.9.0-rc1") == "v4.9.0-rc1"
    assert toolchain_version("4.32.0") == "v4.32.0"
    assert toolchain_version("leanprover/lean4:nightly-2025-06-01") == "nightly-2025-06-01"
    assert toolchain_version("\n") is None
    assert toolchain_version((REPO / "lean_project" / "lean-toolchain").read_text()) == "v4.34.0"


def test_version_mismatch() -> None:
    assert version_mismatch("v4.32.0", "v4.32.0") is None
    assert version_mismatch("v4.31.0", None) is None  # a project without a toolchain: no verdict
    assert version_mismatch("v4.31.0", "v4.32.0") == (
        "is built for v4.31.0 but the project needs v4.32.0"
    )
    assert "unknown Lean version" in (version_mismatch(None, "v4.32.0") or "")
    assert lean_setup.repl_tag("v4.34.0") == "v4.34.0"  # the REPL's tag is the Lean version


def test_repl_location_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(lean_setup.REPL_ENV, raising=False)
    default = repl_dir("v4.34.0")
    # lean-interact's own layout: <cache>/<owner>/<repo>/repl_<rev>_lean-toolchain-<version>
    assert default.parts[-3:] == ("leanprover-community", "repl",
                                  "repl_v4.34.0_lean-toolchain-v4.34.0")
    assert "alphaquant" in default.parts
    assert lean_setup.repl_binary(default) == default / ".lake" / "build" / "bin" / "repl"
    monkeypatch.setenv(lean_setup.REPL_ENV, str(tmp_path))
    assert repl_dir("v4.32.0") == tmp_path


def test_repl_tag_mismatch_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = fake_lean(tmp_path, repl_toolchain="leanprover/lean4:v4.31.0\n")
    project, checkout = tmp_path / "proj", tmp_path / "repl"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    problem = repl_problem(checkout, project)
    assert problem is not None
    assert "is built for v4.31.0 but the project needs v4.34.0" in problem
    build = f"python -m alphaquant.setup_lean --repl-only {project}"  # not lean_project
    assert f"run `unset {lean_setup.REPL_ENV} && {build}" in problem
    (project / "T.lean").write_text("theorem t : True := by sorry\n")
    with pytest.raises(ProverNotInstalled, match="built for v4.31.0 but the project needs v4.34"):
        LeanProver.for_file(project / "T.lean")
    (checkout / "lean-toolchain").write_text(TOOLCHAIN)
    assert repl_problem(checkout, project) is None
    LeanProver.for_file(project / "T.lean").close()  # nothing starts before the first request


# ---------------------------------------------------------------------------------------------
# alphaquant doctor


def test_lean_checks_without_lean_name_the_fix(no_lean: Path) -> None:
    checks = {c.name: c for c in lean_checks(REPO / "lean_project")}
    assert list(checks) == ["elan", "lake", "Lean toolchain", "Mathlib cache",
                            "lean_project build", "Lean soundness fixes", "Lean REPL",
                            "Lean REPL toolchain"]
    assert not checks["elan"].found and checks["elan"].fix == "make lean"
    assert not checks["lake"].found and checks["lake"].fix == "make lean"
    assert checks["Lean toolchain"].version == "v4.34.0"
    assert checks["Lean soundness fixes"].found  # lean_project is on v4.34.0
    mathlib = checks["Mathlib cache"]
    if not mathlib.found:
        assert mathlib.fix == f"cd {REPO / 'lean_project'} && lake exe cache get"
    repl = checks["Lean REPL"]
    assert repl.found or repl.fix == "make lean"
    assert all(c.fix for c in checks.values() if not c.found)


def test_elan_installed_but_not_on_path(no_lean: Path, tmp_path: Path) -> None:
    elan_bin = tmp_path / "elan" / "bin"
    elan_bin.mkdir(parents=True)
    for tool in ("elan", "lake"):
        (elan_bin / tool).write_text("#!/bin/sh\nexit 0\n")
        (elan_bin / tool).chmod(0o755)
    checks = {c.name: c for c in lean_checks(REPO / "lean_project")}
    assert not checks["lake"].found
    assert checks["lake"].fix.startswith(f'export PATH="{elan_bin}:$PATH"')
    toolchain = checks["Lean toolchain"]
    assert not toolchain.found
    assert toolchain.fix == "elan toolchain install leanprover/lean4:v4.34.0"


# ---------------------------------------------------------------------------------------------
# make lean


def test_make_lean_without_network_stops_with_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {
        "PATH": str(empty),  # no elan, so the installer is the first step
        "HOME": str(tmp_path),
        "ELAN_HOME": str(tmp_path / "elan"),
        lean_setup.ELAN_URL_ENV: "http://127.0.0.1:1/elan-init.sh",  # refused at once
    }
    done = subprocess.run(
        [sys.executable, "-m", "alphaquant.setup_lean"], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("alphaquant: error: cannot download the elan installer")
    assert "make lean" in lines[0]
    assert "elan: installing" in done.stdout
    assert not (tmp_path / "elan").exists()


def test_make_lean_steps_have_deadlines_and_name_their_failure(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    with pytest.raises(SetupError, match=r"sleepy: no result within 0.3 s"):
        setup_lean._run(["sh", "-c", "sleep 30"], tmp_path, env, 0.3, "sleepy")
    script = "echo working; echo 'fatal: unable to access repl' >&2; exit 128"
    with pytest.raises(SetupError, match=r"clone \(exit code 128: fatal: unable to access repl\)"):
        setup_lean._run(["sh", "-c", script], tmp_path, env, 10, "clone")


# ---------------------------------------------------------------------------------------------
# `alphaquant search X.lean`: one line on stderr, exit code 2


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_cli_without_lean_says_how_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), lean_setup.REPL_ENV: ""}
    line = _one_error_line(run_cli(
        "search", "lean_project/Quantization3p5bit/ErrorBounds.lean", "--offline",
        cwd=REPO, env=env, timeout=120,
    ))
    assert line.startswith("alphaquant: error: Lean is not installed (lake not on PATH)")
    assert "run `make lean`" in line
    outside = tmp_path / "Outside.lean"
    outside.write_text("theorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", str(outside), "--offline", cwd=tmp_path, env=env))
    assert "Lean is not installed" in line  # missing Lean wins over a misplaced file


def test_cli_file_outside_a_lake_project(tmp_path: Path) -> None:
    env = fake_lean(tmp_path)
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "Loose.lean").write_text("theorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", str(loose / "Loose.lean"), "--offline",
                                   cwd=tmp_path, env=env, timeout=120))
    assert "Loose.lean is not in a Lake project" in line


def test_cli_repl_of_another_lean_version(tmp_path: Path) -> None:
    env = fake_lean(tmp_path, repl_toolchain="leanprover/lean4:v4.30.0\n")
    (tmp_path / "proj" / "T.lean").write_text("theorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", "proj/T.lean", "--offline", cwd=tmp_path, env=env,
                                   timeout=120))
    assert "is built for v4.30.0 but the project needs v4.34.0" in line


def test_cli_repl_that_dies_at_start_up(tmp_path: Path) -> None:
    env = fake_lean(tmp_path)
    (tmp_path / "proj" / "T.lean").write_text("theorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", "proj/T.lean", "--offline", cwd=tmp_path, env=env,
                                   timeout=120))
    assert "the Lean REPL exited before its first answer (" in line
    assert "stderr: repl: cannot load Init" in line  # its last line, through lean-interact


def test_batch_whose_repl_dies_at_start_up_stops_and_leaves_the_goals_to_try(
        tmp_path: Path) -> None:
    """A REPL that dies before its first answer is the machine's fault (a broken or mismatched
    build), not the goals': the batch stops with one line and the resume command, and records
    no goal's result, so `--resume` retries them once Lean is mended."""
    env = fake_lean(tmp_path)
    (tmp_path / "proj" / "T.lean").write_text("theorem t : True := by sorry\n"
                                              "theorem u : 1 = 1 := by sorry\n")
    run_dir = tmp_path / "run"
    line = _one_error_line(run_cli("batch", "proj", "--run-dir", str(run_dir), "--offline",
                                   "--budget-per-goal", "5", "--workers", "1", "-q",
                                   cwd=tmp_path, env=env, timeout=120))
    assert "the Lean REPL exited before its first answer (" in line
    assert line.endswith(f"alphaquant batch --resume {run_dir}"), line
    store = RunStore.open(run_dir, readonly=True)
    try:
        assert len(store.goals()) == 2
        assert all(r.status != "error" for r in store.latest().values())
        assert not any(r.status in ("proved", "disproved", "open") for r in
                       store.latest().values())
    finally:
        store.close()


def test_cli_header_that_does_not_import(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    error = {"severity": "error", "pos": {"line": 1, "column": 0}, "endPos": None,
             "data": "unknown module prefix 'Nope'"}
    (fixtures / "header.in").write_text(json.dumps({"cmd": "import Nope"}) + "\n")
    (fixtures / "header.expected.out").write_text(
        json.dumps({"env": 0, "messages": [error]}, indent=1) + "\n\n"
    )
    replay = (f"#!/bin/sh\nexec {sys.executable} {REPLAY} --transcript header "
              f"--fixtures {fixtures}\n")
    env = fake_lean(tmp_path, repl=replay)
    (tmp_path / "proj" / "T.lean").write_text("import Nope\ntheorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", "proj/T.lean", "--offline", cwd=tmp_path, env=env,
                                   timeout=120))
    assert "T.lean:1 does not compile before search: its imports do not load in Lean" in line
    assert "unknown module prefix 'Nope'" in line and "lake build" in line


# ---------------------------------------------------------------------------------------------
# Soundness: toolchains before v4.34.0


@pytest.mark.parametrize(("version", "unsound"), [
    ("v4.32.0", True), ("v4.33.1", True), ("v4.34.0-rc2", True),
    ("v4.34.0", False), ("v4.36.0", False), ("nightly-2026-11-01", False), (None, False),
])
def test_soundness_note_for_toolchains_older_than_v4_34(version: str | None,
                                                          unsound: bool) -> None:
    note = lean_setup.soundness_note(version)
    assert (note is not None) == unsound
    if note is not None:
        assert version in note and "v4.34.0" in note and "\n" not in note


def test_doctor_warns_about_an_old_toolchain(no_lean: Path, tmp_path: Path) -> None:
    project = tmp_path / "old"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.32.0\n")
    check = {c.name: c for c in lean_checks(project)}["Lean soundness fixes"]
    assert not check.found and "kernel soundness bugs" in check.fix


# ---------------------------------------------------------------------------------------------
# make lean: lean-interact fetches the REPL at the project's exact version, before the project


FAKE_LAKE = """#!/bin/sh
echo "$PWD $*" >> {log}
case "$1" in
  --version) echo "Lake version 5.0.0 (fake)";;
  build) case "$PWD" in
           *repl_*) mkdir -p .lake/build/bin && touch .lake/build/bin/repl;;
         esac;;
  exe) mkdir -p .lake/packages/mathlib/.lake/build;;
esac
"""
FAKE_ELAN = """#!/bin/sh
case "$1" in
  --version) echo "elan 4.0.0 (fake)";;
  toolchain) echo "leanprover/lean4:v4.34.0 (default)";;
esac
"""


def _repl_repository(folder: Path) -> Path:
    """A git repository in the REPL's shape, tagged v4.33.0 and v4.34.0 (each tag's
    lean-toolchain names its own version, as the REPL's do)."""
    folder.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin", "HOME": str(folder)}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "master")
    (folder / "lakefile.lean").write_text("-- the REPL\n")
    for version in ("v4.33.0", "v4.34.0"):
        (folder / "lean-toolchain").write_text(f"leanprover/lean4:{version}\n")
        git("add", ".")
        git("commit", "-q", "-m", version)
        git("tag", version)
    return folder


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_make_lean_fetches_and_builds_the_repl_before_the_project(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "lake.log"
    (bin_dir / "lake").write_text(FAKE_LAKE.format(log=log))
    (bin_dir / "elan").write_text(FAKE_ELAN)
    for tool in ("lake", "elan"):
        (bin_dir / tool).chmod(0o755)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lakefile.toml").write_text('name = "proj"\n')
    (project / "lean-toolchain").write_text(TOOLCHAIN)
    repo = _repl_repository(tmp_path / "repl-origin")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "ELAN_HOME": str(tmp_path / "elan"),
           "ALPHAQUANT_LEAN_REPL_GIT": str(repo), "GIT_CONFIG_GLOBAL": "/dev/null"}
    done = subprocess.run([sys.executable, "-m", "alphaquant.setup_lean", str(project)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout, done.stderr)
    calls = log.read_text().splitlines()
    builds = [c for c in calls if c.endswith(" build")]
    assert "repl_v4.34.0_lean-toolchain-v4.34.0" in builds[0]  # the REPL first
    assert calls.index(builds[0]) < calls.index(f"{project} exe cache get")
    assert builds[-1] == f"{project} build"
    folder = (tmp_path / "cache" / "alphaquant" / "lean-interact" / tmp_path.name
              / "repl-origin" / "repl_v4.34.0_lean-toolchain-v4.34.0")  # <owner>/<repo>/...
    assert lean_setup.read_toolchain(folder) == "v4.34.0"  # the exact tag, not v4.33.0
    again = subprocess.run([sys.executable, "-m", "alphaquant.setup_lean", str(project)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "REPL: built" in again.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_make_lean_refuses_a_version_the_repl_has_no_tag_for(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "lake").write_text(FAKE_LAKE.format(log=tmp_path / "lake.log"))
    (bin_dir / "lake").chmod(0o755)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.33.1\n")
    repo = _repl_repository(tmp_path / "repl-origin")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "ALPHAQUANT_LEAN_REPL_GIT": str(repo),
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    script = ("import sys; from alphaquant import setup_lean as s; from pathlib import Path; "
              "s._ensure_repl(Path(sys.argv[1]), 'v4.33.1', dict(__import__('os').environ))")
    done = subprocess.run([sys.executable, "-c", script, str(project)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "could not fetch or build the REPL tag v4.33.1" in done.stderr
    log = tmp_path / "lake.log"
    assert not log.exists() or " build" not in log.read_text()  # nothing built for it
