"""The command line as a user runs it: results, write-back, JSON, and every bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import needs_coq, run_cli, write_config

pytestmark = [pytest.mark.coq, needs_coq]

FILE = """Require Import Lia.

Lemma conj_intro : forall P Q : Prop, P -> Q -> P /\\ Q.
Proof.
Admitted.

Lemma tiles_fit : forall m : nat, m <= 320 -> m * 4 <= 1000.
Proof.
Admitted.
"""

TACTICS = [("intros.", 1.0), ("split.", 1.0), ("assumption.", 1.0), ("lia.", 1.0),
           ("intro H.", 1.0), ("specialize (H 320).", 1.0)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "T.v").write_text(FILE, encoding="utf-8")
    write_config(tmp_path, TACTICS, budget_seconds=20)
    return tmp_path


def test_search_prints_table_and_diff_and_leaves_the_file(project):
    done = run_cli("search", "T.v", "--config", "config.toml", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "proved" in done.stdout and "disproved" in done.stdout
    assert "+++ b/T.v" in done.stdout and "+Qed." in done.stdout
    assert (project / "T.v").read_text(encoding="utf-8") == FILE


def test_json_items_carry_the_shared_shape(project):
    done = run_cli("search", "T.v", "--config", "config.toml", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    items = {g["theorem"]: g for g in payload["goals"]}
    for item in items.values():
        assert {"file", "theorem", "line", "status", "proof", "seconds", "expansions"} <= set(item)
    assert items["conj_intro"]["status"] == "proved"
    assert items["tiles_fit"]["status"] == "disproved"
    assert items["tiles_fit"]["line"] == 9


def test_write_replaces_atomically_and_keeps_a_backup(project):
    done = run_cli("search", "T.v", "--config", "config.toml", "--write", cwd=project)
    assert done.returncode == 0, done.stderr
    text = (project / "T.v").read_text(encoding="utf-8")
    assert "Qed." in text and text.count("Admitted.") == 1  # the false claim stays open
    assert (project / "T.v.orig.bak").read_text(encoding="utf-8") == FILE
    check = run_cli("goals", "T.v", "--no-states", "--json", cwd=project)
    assert [g["theorem"] for g in json.loads(check.stdout)["goals"]] == ["tiles_fit"]


def test_file_untouched_when_verification_rejects_the_proof(tmp_path):
    # The admitted lemma is reached through a hint, never named: the tactic source cannot see
    # it (it drops candidates that name an admitted lemma), only the acceptance rule can.
    text = """Lemma helper : 1 = 2.
Proof.
Admitted.
Global Hint Resolve helper : core.

Lemma target : 1 = 2.
Proof.
Admitted.
"""
    (tmp_path / "T.v").write_text(text, encoding="utf-8")
    write_config(tmp_path, [("auto.", 1.0), ("eauto.", 1.0)], budget_seconds=10)
    done = run_cli("search", "T.v", "--config", "config.toml", "--theorem", "target",
                   "--write", "--json", "--no-disproof", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    item = json.loads(done.stdout)["goals"][0]
    assert item["status"] == "open"
    assert "helper (admitted)" in item["message"]  # the Admitted lemma showed up
    assert item["rejected"] >= 1  # refused paths were failed edges; the search went on
    assert (tmp_path / "T.v").read_text(encoding="utf-8") == text
    assert not (tmp_path / "T.v.orig.bak").exists()


def test_bare_name_resolves_below_the_cwd_or_lists_matches(project):
    sub = project / "deep" / "er"
    sub.mkdir(parents=True)
    shutil.move(project / "T.v", sub / "T.v")
    done = run_cli("goals", "T.v", "--no-states", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "conj_intro" in done.stdout
    (project / "deep" / "T.v").write_text(FILE, encoding="utf-8")
    done = run_cli("goals", "T.v", "--no-states", cwd=project)
    assert done.returncode == 2
    assert "deep/T.v" in done.stderr and "deep/er/T.v" in done.stderr


def one_line_error(done, *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_file(project):
    one_line_error(run_cli("search", "Nope.v", "--offline", cwd=project), "no such file")


def test_unknown_extension(project):
    (project / "notes.txt").write_text("hello", encoding="utf-8")
    one_line_error(run_cli("search", "notes.txt", "--offline", cwd=project), ".txt")


def test_file_that_does_not_compile_reports_first_error_and_line(project):
    broken = FILE.replace("Require Import Lia.", "Require Import Lia.\nDefinition x := nope.")
    (project / "T.v").write_text(broken, encoding="utf-8")
    done = run_cli("search", "T.v", "--config", "config.toml", "--write", cwd=project)
    one_line_error(done, "does not compile", ":2", "nope")
    assert (project / "T.v").read_text(encoding="utf-8") == broken


def test_unknown_theorem_lists_the_ones_that_exist(project):
    done = run_cli("search", "T.v", "--config", "config.toml", "--theorem", "nope", cwd=project)
    one_line_error(done, "nope", "conj_intro", "tiles_fit")


@pytest.mark.parametrize("budget", ["0", "-3"])
def test_budget_must_be_positive(project, budget):
    done = run_cli("search", "T.v", "--offline", f"--budget={budget}", cwd=project)
    one_line_error(done, "--budget")


def test_prover_not_installed_names_the_package(project):
    done = run_cli("search", "T.v", "--offline", cwd=project, env={"PATH": "/nonexistent"})
    one_line_error(done, "apt-get install -y coq")
    assert (project / "T.v").read_text(encoding="utf-8") == FILE


def test_doctor_lists_coq_found():
    done = run_cli("doctor", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    assert "coqtop" in done.stdout and "found" in done.stdout


def test_admit_inside_a_proof_is_filled_and_the_proof_closed_with_qed(tmp_path):
    text = """Require Import Lia.
Lemma two : forall n : nat, n + 0 = n /\\ 0 + n = n.
Proof.
  intros n. split.
  - admit.
  - lia.
Admitted.
"""
    (tmp_path / "A.v").write_text(text, encoding="utf-8")
    write_config(tmp_path, [("lia.", 1.0), ("idtac.", 1.0)], budget_seconds=10)
    done = run_cli("search", "A.v", "--config", "config.toml", "--write", "--json",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    kinds = [(g["kind"], g["status"]) for g in json.loads(done.stdout)["goals"]]
    assert kinds == [("admit", "proved"), ("Admitted", "proved")]
    new = (tmp_path / "A.v").read_text(encoding="utf-8")
    # The hole after a bullet reads as a normal bullet (it was `- { lia. }`).
    assert new == text.replace("  - admit.", "  - lia.").replace("Admitted.", "Qed.")
    assert subprocess.run(["coqc", "A.v"], cwd=tmp_path, capture_output=True).returncode == 0
