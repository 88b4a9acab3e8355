"""What a new user meets on the command line (issue 12), run as a subprocess on real Coq: output
that shows proofs as they are, one-line errors, truthful progress, the options a command-line
tool is expected to have, and Ctrl-C that keeps what was found."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import alphaquant
from alphaquant.config import load_settings
from tests.conftest import needs_coq, run_cli, sigint_as_a_terminal_sends_it, write_config

pytestmark = [pytest.mark.coq, needs_coq]

LONG = "conjunction_introduction_for_any_two_propositions"
FILE = f"""Require Import Lia.

Lemma {LONG} : forall P Q : Prop, P -> Q -> P /\\ Q.
Proof.
Admitted.

Lemma {LONG}_again : forall P Q : Prop, P -> Q -> Q /\\ P.
Proof.
Admitted.

Lemma tiles_fit : forall m : nat, m <= 320 -> m * 4 <= 1000.
Proof.
Admitted.
"""

TACTICS = [("intros.", 1.0), ("split; first [assumption | lia].", 2.0), ("lia.", 1.0),
           ("intro H.", 1.0), ("specialize (H 320).", 1.0)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "T.v").write_text(FILE, encoding="utf-8")
    write_config(tmp_path, TACTICS, budget_seconds=20)
    return tmp_path


def one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "╭" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- items 1, 3, 4, 6: the results as printed ---------------------------------------------------


def test_piped_output_shows_whole_names_and_the_json_proofs_verbatim(project):
    shown = run_cli("search", "T.v", "--config", "config.toml", cwd=project,
                    env={"COLUMNS": "80"})
    assert shown.returncode == 0, shown.stderr
    as_json = run_cli("search", "T.v", "--config", "config.toml", "--json", cwd=project)
    goals = {g["theorem"]: g for g in json.loads(as_json.stdout)["goals"]}
    assert goals[LONG]["status"] == goals[f"{LONG}_again"]["status"] == "proved"
    assert any("[" in t for t in goals[LONG]["proof"])  # the proof the table ate
    lines = shown.stdout.splitlines()
    for name, goal in goals.items():
        assert any(re.search(rf"(^|\s){name}(\s|$)", line) for line in lines), shown.stdout
        assert "  " + " ".join(goal["proof"]) in lines, shown.stdout
    assert "…" not in shown.stdout


def test_progress_lines_give_the_lines_of_the_file(project):
    done = run_cli("search", "T.v", "--config", "config.toml", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    original = FILE.splitlines()
    for goal in json.loads(done.stdout)["goals"]:
        assert original[goal["line"] - 1].strip() == "Admitted."
        assert original[goal["decl_line"] - 1].startswith(("Lemma", "Theorem")), goal
        progress = re.search(rf"{goal['status']} {goal['theorem']} \(line (\d+)\)", done.stderr)
        assert progress is not None, done.stderr
        assert int(progress.group(1)) == goal["decl_line"], done.stderr  # the theorem's line


def test_a_disproof_says_what_it_disproved(project):
    done = run_cli("search", "T.v", "--config", "config.toml", "--json", "--theorem",
                   "tiles_fit", cwd=project)
    assert done.returncode == 0, done.stderr
    (goal,) = json.loads(done.stdout)["goals"]
    assert goal["status"] == "disproved"
    assert goal["negation"] == "~ (forall m : nat, m <= 320 -> m * 4 <= 1000)"
    assert goal["counterexample"] == {"m": "320"}
    table = run_cli("search", "T.v", "--config", "config.toml", "--theorem", "tiles_fit",
                    cwd=project)
    flat = " ".join(table.stdout.split())
    assert "disproves: ~ (forall m : nat, m <= 320 -> m * 4 <= 1000)" in flat
    assert "counterexample: m = 320" in flat


# -- item 2: no tracebacks ---------------------------------------------------------------------


def test_a_file_that_is_not_utf8_is_one_line(project):
    (project / "b.v").write_bytes(b"Lemma x : True.\n\xff\xfe\x80 Admitted.\n")
    before = (project / "b.v").read_bytes()
    one_line_error(run_cli("search", "b.v", "--offline", cwd=project), "b.v", "UTF-8")
    one_line_error(run_cli("batch", ".", "--offline", "--run-dir", "run", cwd=project), "b.v",
                   "UTF-8")
    assert (project / "b.v").read_bytes() == before
    assert not (project / "run").exists()


def test_a_missing_prover_is_the_only_line_even_online_without_a_key(project):
    env = {"PATH": "/nonexistent", "GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""}
    done = run_cli("search", "T.v", cwd=project, env=env)  # no --offline: the model notice waits
    one_line_error(done, "apt-get install -y coq")


@pytest.mark.parametrize("args,needle", [
    (["search", "T.v", "--budget", "abc"], "--budget"),
    (["search", "T.v", "--no-such-flag"], "--no-such-flag"),
    (["tree", "run", "goal", "--phase", "later"], "--phase"),
])
def test_usage_errors_are_one_line(project, args, needle):
    one_line_error(run_cli(*args, cwd=project), needle)


# -- item 7: what a command-line tool is expected to have ---------------------------------------


def test_version():
    done = run_cli("--version", cwd=Path.cwd())
    assert done.returncode == 0
    assert done.stdout.strip() == f"alphaquant {alphaquant.__version__}"


def test_help_shows_the_budget_default_and_flags_as_named():
    done = run_cli("search", "--help", cwd=Path.cwd())
    assert done.returncode == 0, done.stderr
    default = f"{load_settings(None).search.budget_seconds:g}"
    assert re.search(rf"default:\s+{default}\b", done.stdout), done.stdout
    for flag in ("--no-cache", "--no-disproof", "--offline", "--write", "--quiet", "--verbose"):
        assert flag in done.stdout
    assert "--no-no-" not in done.stdout and "--no-offline" not in done.stdout


def test_quiet_prints_no_progress_and_verbose_after_the_subcommand_prints_each_tactic(project):
    quiet = run_cli("search", "T.v", "--config", "config.toml", "-q", "--theorem", "tiles_fit",
                    cwd=project)
    assert quiet.returncode == 0 and quiet.stderr.strip() == "", quiet.stderr
    assert "tiles_fit" in quiet.stdout
    loud = run_cli("search", "T.v", "--config", "config.toml", "--theorem", "tiles_fit", "-v",
                   cwd=project)
    assert loud.returncode == 0, loud.stderr
    assert re.search(r"\[probe\] #\d+ tried intro H\.", loud.stderr), loud.stderr
    assert "solved by" in loud.stderr
    before = run_cli("-v", "search", "T.v", "--config", "config.toml", "--theorem",
                     "tiles_fit", cwd=project)
    assert "tried intro H." in before.stderr


def test_goals_of_a_project_directory(tmp_path):
    (tmp_path / "A.v").write_text("Lemma a1 : True.\nProof.\nAdmitted.\n", encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "B.v").write_text("Lemma b1 : 1 = 1.\nProof.\nAdmitted.\n\nLemma b2 : 2 = 2.\n"
                             "Proof.\nAdmitted.\n", encoding="utf-8")
    done = run_cli("goals", str(tmp_path), "--no-states", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = [(Path(g["file"]).name, g["theorem"]) for g in json.loads(done.stdout)["goals"]]
    assert sorted(found) == [("A.v", "a1"), ("B.v", "b1"), ("B.v", "b2")]
    table = run_cli("goals", ".", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "sub/B.v" in table.stdout and "b2" in table.stdout and "1 = 1" in table.stdout


def test_stats_shows_a_limited_number_of_shapes(tmp_path):
    cache = tmp_path / "cache"
    env = {"ALPHAQUANT_CACHE_DIR": str(cache)}
    script = (
        "from alphaquant.tactics.learned.memory import open_memory\n"
        "from alphaquant.provers.base import ProofState, Subgoal\n"
        "from alphaquant.search.base import Trial\n"
        "m = open_memory(None, 'coq')\n"
        "for i in range(40):\n"
        "    s = ProofState((Subgoal(('x : nat',), 'f%d x = 0' % i),))\n"
        "    m.record([Trial(s, 'lia.', 'solved', 0.1)], ['lia.'])\n"
    )
    made = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env},
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    all_shapes = run_cli("stats", "--json", "--shapes", "0", cwd=tmp_path, env=env)
    total = len(json.loads(all_shapes.stdout))
    assert total > 10, all_shapes.stdout
    limited = run_cli("stats", "--json", cwd=tmp_path, env=env)
    assert len(json.loads(limited.stdout)) == 10
    table = run_cli("stats", cwd=tmp_path, env=env)
    assert f"{total - 10} more goal shapes not shown" in table.stdout


# -- item 9: long steps show progress ----------------------------------------------------------


def test_building_dependencies_before_the_first_check_is_announced(tmp_path):
    (tmp_path / "_CoqProject").write_text("-Q . P\nDep.v\nUse.v\n", encoding="utf-8")
    (tmp_path / "Dep.v").write_text("Definition two := 2.\n", encoding="utf-8")
    (tmp_path / "Use.v").write_text("From P Require Import Dep.\nLemma use_two : two = 2.\n"
                                    "Proof.\nAdmitted.\n", encoding="utf-8")
    write_config(tmp_path, [("reflexivity.", 1.0)], budget_seconds=10)
    first = run_cli("search", "Use.v", "--config", "config.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    building = [i for i, line in enumerate(lines) if "building Dep.v" in line]
    proved = [i for i, line in enumerate(lines) if "proved use_two" in line]
    assert building and proved and building[0] < proved[0], first.stderr
    again = run_cli("search", "Use.v", "--config", "config.toml", cwd=tmp_path)
    assert "building" not in again.stderr  # Dep.vo is up to date now


# -- Ctrl-C ------------------------------------------------------------------------------------

SLOW = """Require Import Lia.

Lemma quick : forall n : nat, n + 0 = n.
Proof.
Admitted.

Lemma slow : forall n : nat, exists m, m * m <= n < (m + 1) * (m + 1).
Proof.
Admitted.
"""


def interrupt_after_first_goal(folder: Path, *args: str) -> tuple[int, str, str]:
    """Run `search`, send SIGINT once the first goal is reported proved; (code, stdout,
    stderr)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphaquant", "search", "S.v", "--config", "config.toml", *args],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"}, preexec_fn=sigint_as_a_terminal_sends_it,
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "proved quick" in line:
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(seen) + err


@pytest.fixture
def slow(tmp_path: Path) -> Path:
    (tmp_path / "S.v").write_text(SLOW, encoding="utf-8")
    write_config(tmp_path, [("intros.", 1.0), ("lia.", 1.0), ("simpl.", 1.0),
                            ("induction n.", 1.0), ("rewrite Nat.mul_comm.", 1.0)],
                 budget_seconds=120, tactic_timeout=3)
    return tmp_path


def test_ctrl_c_prints_the_proofs_found_and_writes_nothing(slow):
    code, out, err = interrupt_after_first_goal(slow)
    assert code == 130, err
    assert "Traceback" not in err
    assert "proof of quick" in out and "interrupted: 1 of 2 goals finished" in out
    assert (slow / "S.v").read_text(encoding="utf-8") == SLOW
    assert not (slow / "S.v.orig.bak").exists()


def test_ctrl_c_with_write_and_json_keeps_the_rechecked_proofs(slow):
    code, out, err = interrupt_after_first_goal(slow, "--write", "--json")
    assert code == 130, err
    payload = json.loads(out)
    assert payload["interrupted"] is True and payload["written"] is True
    (goal,) = payload["goals"]
    assert goal["theorem"] == "quick" and goal["status"] == "proved"
    text = (slow / "S.v").read_text(encoding="utf-8")
    assert text.count("Admitted.") == 1 and "Qed." in text
    assert (slow / "S.v.orig.bak").read_text(encoding="utf-8") == SLOW
    assert subprocess.run(["coqc", "S.v"], cwd=slow, capture_output=True).returncode == 0


# -- items 5 and 9 on a batch run: the tree that decided a goal, the final re-check -------------

BATCH_FILE = """Require Import Lia.

Lemma plus_zero : forall n : nat, n + 0 = n.
Proof.
Admitted.

Lemma fits : forall m : nat, m <= 320 -> m * 4 <= 1000.
Proof.
Admitted.
"""


def test_batch_shows_the_recheck_and_tree_defaults_to_the_deciding_phase(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "B.v").write_text(BATCH_FILE, encoding="utf-8")
    config = write_config(tmp_path, [("intros.", 1.0), ("lia.", 1.0), ("intro H.", 1.0),
                                     ("specialize (H 320).", 1.0)], budget_seconds=20)
    run_dir = tmp_path / "run"
    done = run_cli("batch", str(project), "--run-dir", str(run_dir), "--config", str(config),
                   "--workers", "1", "--offline", "--second-pass", "0", "--write", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"re-checking B\.v with its 1 proof combined", done.stderr), done.stderr
    report = json.loads(run_cli("report", str(run_dir), "--format", "json", cwd=tmp_path).stdout)
    fits = next(g for g in report["goals"] if g["theorem"] == "fits")
    assert fits["status"] == "disproved" and fits["counterexample"] == {"m": "320"}
    trees = {}
    for goal in ("plus_zero", "fits"):
        shown = run_cli("tree", str(run_dir), goal, "--format", "json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        trees[goal] = json.loads(shown.stdout)
        dot = run_cli("tree", str(run_dir), goal, "--format", "dot", cwd=tmp_path)
        assert dot.returncode == 0 and "digraph search" in dot.stdout, dot.stderr
    root = {g: next(n for n in t["nodes"] if n.get("root")) for g, t in trees.items()}
    assert root["plus_zero"]["status"] == "proved" and "n + 0 = n" in root["plus_zero"]["goals"]
    assert root["fits"]["status"] == "proved" and root["fits"]["goals"].lstrip().endswith(
        "~ (forall m : nat, m <= 320 -> m * 4 <= 1000)")
    probe = run_cli("tree", str(run_dir), "fits", "--phase", "prove", cwd=tmp_path)
    one_line_error(probe, "no prove tree")
    loud = run_cli("batch", "--resume", str(run_dir), cwd=tmp_path)
    quiet = run_cli("batch", "--resume", str(run_dir), "-q", cwd=tmp_path)
    assert "session" in loud.stderr and quiet.stderr.strip() == "", quiet.stderr
    assert quiet.returncode == loud.returncode == 0 and "of 2 goals" in quiet.stdout
