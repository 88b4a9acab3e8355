"""`lake build` after write-back: the written module and what imports it, nothing else. A fake
`lake` (a real child process) records what it was asked to build."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from alphaquant.provers.lean.build import dependants, project_imports, rebuild

FAKE_LAKE = """#!{python}
import json, sys
from pathlib import Path
Path({log!r}).write_text(json.dumps(sys.argv[1:]))
sys.exit({code})
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "P").mkdir(parents=True)
    (root / "lakefile.toml").write_text('name = "P"\n')
    files = {
        "P/A.lean": "import Mathlib\ntheorem a : True := trivial\n",
        "P/B.lean": "import P.A\n-- import P.D\ntheorem b : True := trivial\n",
        "P/C.lean": "/- import P.D -/\nimport P.B\ntheorem c : True := trivial\n",
        "P/D.lean": "import Mathlib\ntheorem d : True := trivial\n",
        "P.lean": "import P.C\nimport P.D\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    (root / ".lake" / "packages" / "x").mkdir(parents=True)
    (root / ".lake" / "packages" / "x" / "Y.lean").write_text("import P.A\n")
    return root


def fake_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int = 0) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "lake-args.json"
    lake = bin_dir / "lake"
    lake.write_text(FAKE_LAKE.format(python=sys.executable, log=str(log), code=code))
    lake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return log


def test_dependants_follow_imports_transitively_and_ignore_comments(project: Path) -> None:
    graph = project_imports(project)
    assert set(graph) == {"P.A", "P.B", "P.C", "P.D", "P"}  # packages are not the project's
    assert dependants(graph, "P.A") == ["P", "P.B", "P.C"]
    assert dependants(graph, "P.D") == ["P"]
    assert dependants(graph, "P.C") == ["P"]


def test_rebuild_builds_the_module_and_its_dependants_only(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = fake_lake(tmp_path, monkeypatch)
    assert rebuild(project / "P" / "A.lean") is None
    assert json.loads(log.read_text()) == ["build", "P.A", "P", "P.B", "P.C"]
    assert rebuild(project / "P" / "D.lean") is None
    assert json.loads(log.read_text()) == ["build", "P.D", "P"]


def test_failed_rebuild_is_one_line(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_lake(tmp_path, monkeypatch, code=1)
    message = rebuild(project / "P" / "B.lean")
    assert message is not None and "\n" not in message
    assert message.startswith("`lake build P.B P P.C` failed")


def test_a_byte_order_mark_or_crlf_hides_no_import(project: Path) -> None:
    (project / "P" / "B.lean").write_bytes(
        b"\xef\xbb\xbfimport P.A\r\ntheorem b : True := trivial\r\n")
    (project / "P.lean").write_bytes(b"import P.C\r\nimport P.D\r\n")
    graph = project_imports(project)
    assert (graph["P.B"], graph["P"]) == ({"P.A"}, {"P.C", "P.D"})
    assert dependants(graph, "P.A") == ["P", "P.B", "P.C"]
