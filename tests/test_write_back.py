"""A user's edit is never lost, and faults leave nothing behind: `--write`, signals, the run store.

Every case runs the real CLI as a subprocess on real Coq.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alphaquant import safe_write
from alphaquant.file_text import Layout, decode, encode
from tests.conftest import needs_coq, run_cli, write_config

pytestmark = [pytest.mark.coq, needs_coq]

TWO = """Lemma a : 2 = 2.
Proof.
Admitted.

Lemma b : 3 = 3.
Proof.
Admitted.
"""


def offline(folder: Path, tactics=(("reflexivity.", 1.0),), **search) -> None:
    write_config(folder, list(tactics), budget_seconds=10, **search)


def search(folder: Path, *args: str, env: dict[str, str] | None = None):
    return run_cli("search", *args, "--config", "config.toml", "--no-disproof", cwd=folder,
                   env=env)


def test_edit_during_the_search_is_kept_and_the_proofs_go_to_a_side_file(tmp_path):
    pytest.importorskip("openai", reason="the llm extra is not installed")
    from tests.test_llm import ModelServer, Reply

    target = tmp_path / "T.v"
    target.write_text(TWO, encoding="utf-8")
    offline(tmp_path, tactics=(("idtac.", 1.0),))
    edited = TWO + "\n(* the user's edit, made while the search ran *)\n"

    def answer(seen):
        target.write_text(edited, encoding="utf-8")  # the user saves the file meanwhile
        return Reply(text=json.dumps(["reflexivity."]))

    server = ModelServer().start()
    server.default = answer
    try:
        done = run_cli("search", "T.v", "--config", "config.toml", "--no-disproof", "--llm",
                       "openai", "--base-url", server.url, "--write", "--json", cwd=tmp_path)
    finally:
        server.stop()
    assert done.returncode == 2, done.stderr
    assert target.read_text(encoding="utf-8") == edited
    payload = json.loads(done.stdout)
    assert [g["status"] for g in payload["goals"]] == ["proved", "proved"]
    assert "changed on disk" in payload["write_error"]
    lines = [line for line in done.stderr.splitlines() if "changed on disk" in line]
    assert len(lines) == 1 and "T.v.proofs" in lines[0]
    side = (tmp_path / "T.v.proofs").read_text(encoding="utf-8")
    assert "a (line 3)" in side and "reflexivity." in side
    assert not (tmp_path / "T.v.orig.bak").exists()


def test_symlink_is_written_through_to_its_target(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "T.v").write_text(TWO, encoding="utf-8")
    (tmp_path / "T.v").symlink_to(real / "T.v")
    offline(tmp_path)
    done = search(tmp_path, "T.v", "--write")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "T.v").is_symlink()
    assert (real / "T.v").read_text(encoding="utf-8").count("Qed.") == 2
    assert (real / "T.v.orig.bak").read_text(encoding="utf-8") == TWO


def test_unwritable_file_one_line_exit_2_and_the_proofs_still_in_the_json(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(TWO, encoding="utf-8")
    offline(tmp_path)
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (the only way to deny root a write)")
    try:
        done = search(tmp_path, "T.v", "--write", "--json")
    finally:
        subprocess.run(["chattr", "-i", str(target)], capture_output=True)
    assert done.returncode == 2, done.stderr
    assert target.read_text(encoding="utf-8") == TWO
    payload = json.loads(done.stdout)
    assert all(g["status"] == "proved" and g["proof"] for g in payload["goals"])
    assert "cannot write" in payload["write_error"]
    assert [line for line in done.stderr.splitlines() if "alphaquant:" in line] == [
        f"alphaquant: {payload['write_error']}"]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "T.v.orig.bak").exists()


def test_second_write_keeps_the_first_backup(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(TWO, encoding="utf-8")
    offline(tmp_path)
    assert search(tmp_path, "T.v", "--theorem", "a", "--write").returncode == 0
    after_first = target.read_text(encoding="utf-8")
    assert search(tmp_path, "T.v", "--theorem", "b", "--write").returncode == 0
    assert (tmp_path / "T.v.orig.bak").read_text(encoding="utf-8") == TWO
    assert (tmp_path / "T.v.orig.bak.1").read_text(encoding="utf-8") == after_first
    assert target.read_text(encoding="utf-8").count("Qed.") == 2


def test_write_refuses_a_changed_file_and_leaves_no_backup(tmp_path):
    target = tmp_path / "T.v"
    target.write_text(TWO + "(* edit *)\n", encoding="utf-8")
    with pytest.raises(safe_write.WriteRefused, match="changed on disk"):
        safe_write.write_file(target, "new", expected=TWO)
    assert target.read_text(encoding="utf-8") == TWO + "(* edit *)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["T.v"]


LAYOUTS = [Layout(crlf=True), Layout(bom=True), Layout(bom=True, crlf=True)]


def assert_written_as(data: bytes, layout: Layout, admitted: int) -> None:
    """``data`` holds Coq text laid out as ``layout`` throughout, with ``admitted`` holes left."""
    text, found = decode(data)
    assert found == layout and encode(text, layout) == data
    assert data.startswith(b"\xef\xbb\xbf") == layout.bom
    assert (data.count(b"\r\n") == data.count(b"\n")) == layout.crlf  # spliced lines too
    assert text.count("Admitted.") == admitted and text.count("Qed.") == 2 - admitted


@pytest.mark.parametrize("layout", LAYOUTS, ids=["crlf", "bom", "bom+crlf"])
def test_search_write_keeps_the_files_line_endings_and_bom(tmp_path, layout):
    # was: "changed on disk since the search began" (CRLF), "does not compile" (BOM); exit 2
    target = tmp_path / "T.v"
    original = encode(TWO, layout)
    target.write_bytes(original)
    offline(tmp_path)
    done = search(tmp_path, "T.v", "--write", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert [(g["line"], g["status"]) for g in payload["goals"]] == [(3, "proved"), (7, "proved")]
    assert_written_as(target.read_bytes(), layout, admitted=0)
    assert (tmp_path / "T.v.orig.bak").read_bytes() == original
    checked = subprocess.run(["coqc", "T.v"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_batch_write_keeps_each_files_line_endings_and_bom(tmp_path):
    # was: the CRLF file "skipped" and the exit code 0
    project = tmp_path / "project"
    project.mkdir()
    for k, layout in enumerate(LAYOUTS):
        (project / f"F{k}.v").write_bytes(encode(TWO, layout))
    offline(tmp_path)
    done = run_cli("batch", str(project), "--run-dir", str(tmp_path / "run"), "--config",
                   "config.toml", "--offline", "--workers", "1", "--second-pass", "0",
                   "--write", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for k, layout in enumerate(LAYOUTS):
        assert_written_as((project / f"F{k}.v").read_bytes(), layout, admitted=0)
        assert (project / f"F{k}.v.orig.bak").read_bytes() == encode(TWO, layout)


def scratch_entries(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir())


def test_no_cache_or_lock_in_the_project_or_left_in_the_temporary_directory(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "_CoqProject").write_text("-Q . P\n", encoding="utf-8")
    (project / "Base.v").write_text("Require Import Lia.\nLemma base : forall n, n + 0 = n.\n"
                                    "Proof. intros; lia. Qed.\n", encoding="utf-8")
    (project / "U.v").write_text("Require Import Lia P.Base.\nLemma u : forall n, n * 1 = n.\n"
                                 "Proof.\nAdmitted.\n", encoding="utf-8")
    offline(project, tactics=(("intros; lia.", 1.0),))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = search(project, "U.v", "--write", env={"TMPDIR": str(tmp)})
    assert done.returncode == 0, done.stderr
    assert "Qed." in (project / "U.v").read_text(encoding="utf-8")
    leftovers = [p.name for p in project.rglob(".*cache*")]
    assert leftovers == []
    assert scratch_entries(tmp) == []


def test_sigterm_removes_temporary_folders_like_sigint(tmp_path):
    pytest.importorskip("openai", reason="the llm extra is not installed")
    from tests.test_llm import ModelServer, Reply

    (tmp_path / "T.v").write_text(TWO, encoding="utf-8")
    offline(tmp_path, tactics=(("idtac.", 1.0),))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    holder: dict[str, subprocess.Popen[str]] = {}

    def answer(seen):
        holder["proc"].send_signal(signal.SIGTERM)  # mid-search: coqtop is running
        return Reply(text=json.dumps(["idtac."]))

    server = ModelServer().start()
    server.default = answer
    try:
        holder["proc"] = subprocess.Popen(
            [sys.executable, "-m", "alphaquant", "search", "T.v", "--config", "config.toml",
             "--llm", "openai", "--base-url", server.url, "--no-disproof"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "TMPDIR": str(tmp)},
        )
        _, stderr = holder["proc"].communicate(timeout=120)
    finally:
        server.stop()
    assert holder["proc"].returncode != 0
    assert "Traceback" not in stderr
    assert scratch_entries(tmp) == []
    assert (tmp_path / "T.v").read_text(encoding="utf-8") == TWO


def test_damaged_run_store_is_one_line_and_exit_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.sqlite").write_bytes(b"this is not a database" * 100)
    for args in (("report", str(run)), ("batch", str(tmp_path), "--resume", str(run))):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "run store is damaged" in lines[0], done.stderr


HELPED = """Lemma helper : 2 = 2.
Proof.
reflexivity.
Qed.

Lemma t : 2 = 2.
Proof.
Admitted.
"""


def test_batch_write_back_refuses_a_proof_through_an_avoided_lemma(tmp_path):
    # search.avoid is the acceptance rule's at write-back too, as in `search`: the stored proof
    # of t goes through helper, and a write-back that avoids helper writes nothing
    project, run = tmp_path / "project", tmp_path / "run"
    project.mkdir()
    (project / "H.v").write_text(HELPED, encoding="utf-8")
    offline(tmp_path, (("exact helper.", 1.0),))
    done = run_cli("batch", str(project), "--run-dir", str(run), "--config", "config.toml",
                   "--offline", "--workers", "1", "--second-pass", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    offline(tmp_path, (("exact helper.", 1.0),), avoid=["helper"])
    avoided = run_cli("batch", "--resume", str(run), "--config", "config.toml", "--force",
                      "--write", cwd=tmp_path)
    log = (run / "run.log").read_text(encoding="utf-8")
    assert "H.v: kept" in log and "helper" in log.split("H.v: kept", 1)[1], log
    assert (project / "H.v").read_text(encoding="utf-8") == HELPED
    assert not (project / "H.v.orig.bak").exists(), avoided.stdout
    # the same stored proof, nothing avoided: written (what the refusal above took away)
    offline(tmp_path, (("exact helper.", 1.0),))
    written = run_cli("batch", "--resume", str(run), "--config", "config.toml", "--force",
                      "--write", cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert "exact helper." in (project / "H.v").read_text(encoding="utf-8")
