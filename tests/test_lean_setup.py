"""Lean set-up: doctor's checks, `make lean` without network, and the one-line errors a user sees
from `alphaquant search X.lean` when Lean is missing, misplaced or mismatched.

No Lean toolchain is needed: a fake ``lake`` (``lake env CMD`` runs CMD) stands in for Lake, and
the replay REPL (tests/replay_repl.py) or a shell script for the REPL binary.
"""

from __future__ import annotations

import json
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
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
REPLAY = REPO / "tests" / "replay_repl.py"
TOOLCHAIN = "leanprover/lean4:v4.32.0\n"


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
    assert toolchain_version((REPO / "lean_project" / "lean-toolchain").read_text()) == "v4.32.0"


def test_version_mismatch() -> None:
    assert version_mismatch("v4.32.0", "v4.32.0") is None
    assert version_mismatch("v4.31.0", None) is None  # a project without a toolchain: no verdict
    assert version_mismatch("v4.31.0", "v4.32.0") == (
        "is built for v4.31.0 but the project needs v4.32.0"
    )
    assert "unknown Lean version" in (version_mismatch(None, "v4.32.0") or "")
    assert lean_setup.repl_tag("v4.32.0") == "v4.32.0"


def test_repl_location_and_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(lean_setup.REPL_ENV, raising=False)
    default = repl_dir("v4.32.0")
    assert default.parts[-2:] == ("repl", "v4.32.0") and "alphaquant" in default.parts
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
    assert "is built for v4.31.0 but the project needs v4.32.0" in problem
    clone = f"git clone --depth 1 --branch v4.32.0 {lean_setup.REPL_URL}"  # not lean_project
    assert f"run `unset {lean_setup.REPL_ENV} && {clone}" in problem
    (project / "T.lean").write_text("theorem t : True := by sorry\n")
    with pytest.raises(ProverNotInstalled, match="built for v4.31.0 but the project needs v4.32"):
        LeanProver.for_file(project / "T.lean")
    (checkout / "lean-toolchain").write_text(TOOLCHAIN)
    assert repl_problem(checkout, project) is None
    LeanProver.for_file(project / "T.lean").close()  # nothing starts before the first request


# ---------------------------------------------------------------------------------------------
# alphaquant doctor


def test_lean_checks_without_lean_name_the_fix(no_lean: Path) -> None:
    checks = {c.name: c for c in lean_checks(REPO / "lean_project")}
    assert list(checks) == ["elan", "lake", "Lean toolchain", "Mathlib cache",
                            "lean_project build", "Lean REPL tag", "Lean REPL",
                            "Lean REPL toolchain"]
    assert not checks["elan"].found and checks["elan"].fix == "make lean"
    assert not checks["lake"].found and checks["lake"].fix == "make lean"
    assert checks["Lean toolchain"].version == "v4.32.0"
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
    assert toolchain.fix == "elan toolchain install leanprover/lean4:v4.32.0"


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
    assert "is built for v4.30.0 but the project needs v4.32.0" in line


def test_cli_repl_that_dies_at_start_up(tmp_path: Path) -> None:
    env = fake_lean(tmp_path)
    (tmp_path / "proj" / "T.lean").write_text("theorem t : True := by sorry\n")
    line = _one_error_line(run_cli("search", "proj/T.lean", "--offline", cwd=tmp_path, env=env,
                                   timeout=120))
    assert "the Lean REPL exited before its first answer (exit code 3" in line
    assert "repl: cannot load Init" in line


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
# Which REPL tag serves which toolchain: a table in the package, not a guess


def test_tag_table_is_package_data_parsed_and_sorted() -> None:
    tags = lean_setup.repl_tags()
    keys = [lean_setup.version_key(t) for t in tags]
    assert None not in keys and len(tags) >= 50
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert len(set(tags)) == len(tags)
    assert lean_setup.version_key("v4.29.0-rc2") < lean_setup.version_key("v4.29.0")  # type: ignore[operator]


@pytest.mark.parametrize(("version", "tag"), [
    ("v4.32.0", "v4.32.0"),       # tagged: itself
    ("v4.29.1", "v4.29.0"),       # a patch release without a tag
    ("v4.20.0", "v4.19.0"),       # a whole minor version without a tag
    ("v4.20.1", "v4.19.0"),
    ("v4.23.0", "v4.23.0-rc2"),   # only a release candidate was tagged
    ("v4.12.0", "v4.11.0-rc1"),
    ("v4.13.0", "v4.11.0-rc1"),
    ("v4.33.0-rc3", "v4.33.0-rc2"),
])
def test_toolchain_without_a_tag_maps_to_the_nearest_lower_tag(version: str, tag: str) -> None:
    assert lean_setup.repl_tag(version) == tag


@pytest.mark.parametrize("version", ["v4.2.0", "nightly-2026-01-01", "v5.0.0"])
def test_no_fitting_tag_is_one_clear_line(version: str) -> None:
    with pytest.raises(lean_setup.NoReplTag) as info:
        lean_setup.repl_tag(version)
    assert "\n" not in str(info.value) and version in str(info.value)
    ok, note = lean_setup.repl_tag_note(version)
    assert not ok and note == str(info.value)


def test_a_lower_tag_too_far_away_is_refused() -> None:
    with pytest.raises(lean_setup.NoReplTag, match="too old"):
        lean_setup.repl_tag("v4.14.0", tags=["v4.10.0", "v4.15.0"])
    assert lean_setup.repl_tag("v4.12.0", tags=["v4.10.0", "v4.15.0"]) == "v4.10.0"
    assert lean_setup.repl_tag_note("v4.29.1") == (
        True, "v4.29.0 (no tag v4.29.1: the nearest lower one, built with v4.29.1)")


FAKE_GIT = """#!{python}
import sys
from pathlib import Path
args = sys.argv[1:]
tag, dest = args[args.index("--branch") + 1], Path(args[-1])
dest.mkdir(parents=True)
(dest / "lakefile.lean").write_text("-- the REPL")
(dest / "lean-toolchain").write_text("leanprover/lean4:" + tag + "\\n")
Path({log!r}).write_text(tag)
"""
FAKE_BUILD = """#!/bin/sh
[ "$1" = build ] || exit 1
grep -q v4.29.1 lean-toolchain || exit 1
mkdir -p .lake/build/bin && touch .lake/build/bin/repl
"""


def test_make_lean_builds_the_nearest_lower_tag_with_the_project_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "cloned-tag"
    (bin_dir / "git").write_text(FAKE_GIT.format(python=sys.executable, log=str(log)))
    (bin_dir / "lake").write_text(FAKE_BUILD)
    for tool in ("git", "lake"):
        (bin_dir / tool).chmod(0o755)
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lean-toolchain").write_text("leanprover/lean4:v4.29.1\n")
    monkeypatch.delenv(lean_setup.REPL_ENV, raising=False)
    monkeypatch.setattr(lean_setup, "repl_cache", lambda: tmp_path / "cache")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    setup_lean._ensure_repl(project, "v4.29.1", env)
    folder = tmp_path / "cache" / "v4.29.1"
    assert log.read_text() == "v4.29.0"
    assert lean_setup.read_toolchain(folder) == "v4.29.1"
    assert lean_setup.repl_binary(folder).exists()
    assert "v4.29.0 (no tag v4.29.1: the nearest lower one" in capsys.readouterr().out
    with pytest.raises(SetupError, match="older than every REPL tag"):
        setup_lean._ensure_repl(project, "v4.0.0", env)
