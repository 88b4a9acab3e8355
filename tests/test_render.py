"""Rendering as a user reads it: the plain text of tables at 80 and 200 columns, Markdown
reports, dot exports, and what a disproof says it disproved."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from alphaquant.checks import Check
from alphaquant.goals import locate
from alphaquant.runs.attempt import GoalEvent, GoalResult
from alphaquant.runs.counterexample import coq_binders, coq_values
from alphaquant.runs.report import GoalLine, RunReport, deciding_phase, to_markdown
from alphaquant.runs.store import GoalRow
from alphaquant.search.base import SearchEvent
from alphaquant.search.export import to_dot
from alphaquant.tactics.learned.memory import Stat
from alphaquant.ui.render import (
    SearchProgress,
    doctor_fixes,
    doctor_table,
    goals_table,
    proof_listing,
    results_table,
    stats_table,
)

BRACKETED = ["intros.",
             "specialize (H ltac:(intros; simpl; first [lra | lia | apply Rabs_le; lra])).",
             "[> lia | lia ]."]
NAMES = ["matmul_fits_groq_sram_with_int4_weights", "matmul_fits_groq_sram_with_int8_weights",
         "matmul_fits_groq_sram_with_fp16_weights"]


def render(renderable: object, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def results() -> list[GoalResult]:
    return [
        GoalResult("F.v", NAMES[0], 12, "Admitted", "proved", proof=BRACKETED, seconds=1.5,
                   expansions=40),
        GoalResult("F.v", NAMES[1], 20, "Admitted", "open", message="no proof found (time)"),
        GoalResult("F.v", NAMES[2], 31, "Admitted", "disproved",
                   proof=["intro H.", "specialize (H 320).", "lia."],
                   message="aq_disproof_x proves the negation",
                   negation="~ (forall m : nat, m <= 320 -> m * 4 <= 1000)",
                   counterexample={"m": "320"}),
    ]


@pytest.mark.parametrize("width", [80, 200])
def test_names_are_never_cut_and_brackets_print_as_written(width):
    text = render(results_table(results()), width)
    lines = text.splitlines()
    for name in NAMES:
        assert any(re.search(rf"(^|\s){name}(\s|$)", line) for line in lines), text
    assert "…" not in text
    listing = render_lines(proof_listing(results()), width)
    assert "  " + " ".join(BRACKETED) in listing.splitlines()
    if width == 200:  # the proof column is wide enough for the whole proof on one line
        assert " ".join(BRACKETED) in text


def render_lines(lines: list, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    for line in lines:
        console.print(line, soft_wrap=True)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 200])
def test_the_proof_column_folds_and_keeps_every_character(width):
    one = [dataclasses.replace(results()[0], theorem="short")]
    text = render(results_table(one), width)
    assert max(len(line) for line in text.splitlines()) <= width
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if "proof / reason" in line)
    column = lines[header].index("proof / reason")
    folded = "".join(line[column:].strip() for line in lines[header + 2:])
    assert folded.replace(" ", "") == " ".join(BRACKETED).replace(" ", "")


@pytest.mark.parametrize("width", [80, 200])
def test_a_disproof_row_says_what_was_disproved(width):
    text = render(results_table(results()[2:]), width)
    flat = " ".join(text.split())
    assert "disproves: ~ (forall m : nat, m <= 320 -> m * 4 <= 1000)" in flat
    assert "counterexample: m = 320" in flat
    listing = render_lines(proof_listing(results()), width)
    assert "counterexample: m = 320" in listing
    assert "~ (forall m : nat, m <= 320 -> m * 4 <= 1000)" in listing


def test_other_tables_print_text_from_files_and_provers_literally():
    shape = "[x] : list nat ⊢ [bold]hd[/bold]"
    stats = render(stats_table({shape: [Stat(shape, "first [lia | lra].", 4, 2, 1, 0.5)]}), 200)
    assert shape in stats and "first [lia | lra]." in stats
    found = [Check("coqtop", True, "[8.16]", "apt-get install [coq]")]
    checks = render(doctor_table(found), 200) + "".join(str(t) for t in doctor_fixes(found))
    assert "[8.16]" in checks and "apt-get install [coq]" in checks
    text = "Lemma l : [1] = [1].\nProof.\nAdmitted.\n"
    sites = locate(text, Path("L.v"))
    table = render(goals_table(sites, {0: "====================\n[1] = [1]"}), 200)
    assert "[1] = [1]" in table


def test_stats_table_counts_the_shapes_left_out():
    best = {f"shape {i}": [Stat(f"shape {i}", "lia.", 3, 1, 1, 0.1)] for i in range(3)}
    assert "2 more goal shapes not shown" in render(stats_table(best, hidden=2), 100)
    assert "not shown" not in render(stats_table(best), 100)


def test_the_live_line_explains_each_phase():
    site = locate("Lemma l : 1 = 1.\nProof.\nAdmitted.\n", Path("L.v"))[0]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    progress = SearchProgress(console, 1)
    seen = {}
    for phase in ("probe", "prove", "disprove", "verify"):
        event = SearchEvent("expand", 3, 1.0, 4, "lia.") if phase != "verify" else None
        progress(GoalEvent(site, phase, event))
        seen[phase] = progress._render().plain
    assert "counterexample" in seen["probe"] and "short" in seen["probe"]
    assert "proof" in seen["prove"]
    assert "counterexample" in seen["disprove"]
    assert "re-checking" in seen["verify"]


def test_verbose_progress_prints_each_tactic_tried_and_quiet_nothing():
    site = locate("Lemma l : 1 = 1.\nProof.\nAdmitted.\n", Path("L.v"))[0]
    for verbose, quiet, expected in ((True, False, True), (False, True, False)):
        buffer = io.StringIO()
        progress = SearchProgress(Console(file=buffer, width=200), 1, verbose=verbose,
                                  quiet=quiet)
        progress(GoalEvent(site, "prove", SearchEvent("expand", 1, 0.1, 2, "first [lia].")))
        progress(GoalEvent(site, "done", result=GoalResult("L.v", "l", 3, "Admitted", "proved",
                                                           proof=["first [lia]."])))
        out = buffer.getvalue()
        assert ("tried first [lia]." in out) is expected
        assert ("proved l" in out) is not quiet


# -- what a disproof disproves -----------------------------------------------------------------

MATMUL_LIKE = """Theorem mm_seed :
  forall (k : nat) (A W : nat -> nat -> R) (p : QuantParams) (i j : nat),
  (forall i l, Rabs (A i l) <= 1) ->
  Rabs (f k A W p i j) <= INR k * scale p."""


def test_counterexample_values_follow_the_binders():
    assert coq_binders(MATMUL_LIKE) == ["k", "A", "W", "p", "i", "j"]
    proof = ["intro H.",
             "specialize (H 0%nat (fun _ _ => 1) (fun _ _ => 1) (int4_params 1%R 1%R Rlt_0_1) "
             "0%nat 0%nat).", "simpl in H.",
             "specialize (H ltac:(intros; simpl; first [lra | lia])).", "lra."]
    assert coq_values(MATMUL_LIKE, proof) == {
        "k": "0", "A": "fun _ _ => 1", "W": "fun _ _ => 1",
        "p": "int4_params 1%R 1%R Rlt_0_1", "i": "0", "j": "0"}
    header = "Lemma fits (n : nat) : forall m : nat, m <= n -> m * 4 <= 1000."
    assert coq_values(header, ["intro H.", "specialize (H 300 301).", "lia."]) == {
        "n": "300", "m": "301"}
    assert coq_values(header, ["intros H.", "lia."]) == {}


# -- reports and trees -------------------------------------------------------------------------


def test_markdown_report_escapes_html_from_proofs_and_goal_text(tmp_path):
    item = GoalResult("A.v", "lt_gt", 3, "Admitted", "proved",
                      proof=["assert (<script>alert(1)</script> : 1 < 2 | 2 > 1)."]).to_json()
    bad = GoalResult("A.v", "b", 9, "Admitted", "open",
                     message="rejected: <img src=x onerror=alert(1)>").to_json()
    goals = [GoalLine(GoalRow(1, "A.v", 0, "lt_gt", 0, 3, "Admitted"), item, 1, 1.0),
             GoalLine(GoalRow(2, "A.v", 1, "b", 0, 9, "Admitted"), bad, 1, 2.0)]
    text = to_markdown(RunReport(tmp_path, tmp_path, "h", 0.0, goals, []))
    assert "<script>" not in text and "<img" not in text
    assert "&lt;script>" in text and "&lt;img src=x" in text
    assert "1 < 2" in text and "2 > 1" in text  # what is no HTML reads as written
    assert "\\|" in text  # a pipe in a proof does not end the cell


def test_markdown_report_says_what_a_disproof_disproved(tmp_path):
    item = GoalResult("A.v", "f", 3, "Admitted", "disproved", proof=["intro H.", "lia."],
                      negation="~ (forall m : nat, m < 3)", counterexample={"m": "3"}).to_json()
    goals = [GoalLine(GoalRow(1, "A.v", 0, "f", 0, 3, "Admitted"), item, 1, 1.0)]
    text = to_markdown(RunReport(tmp_path, tmp_path, "h", 0.0, goals, []))
    assert "disproves ~ (forall m : nat, m < 3)" in text and "counterexample: m = 3" in text


def tree(nodes: list[dict], edges: list[dict]) -> dict:
    return {"nodes": nodes, "edges": edges}


def test_the_deciding_phase_is_the_one_whose_root_was_proved():
    failed = tree([{"id": "n0", "root": True, "status": "failed", "goals": "P"}], [])
    proved = tree([{"id": "n0", "root": True, "status": "proved", "goals": "~ P"}], [])
    assert deciding_phase({"probe": proved}) == "probe"
    assert deciding_phase({"probe": failed, "prove": proved}) == "prove"
    assert deciding_phase({"probe": failed, "prove": failed, "disprove": proved}) == "disprove"
    assert deciding_phase({"probe": failed, "prove": failed}) == "prove"


def test_dot_labels_hold_the_whole_conclusion_not_its_last_line():
    goal = ("k : nat\nH : k <= 8\n====================\nk * 4096 * 2\n  <= 2 *\n 220 * 1024"
            "\n\nx : R\n====================\n0 <= x")
    text = to_dot(tree([{"id": "n0", "root": True, "status": "open", "goals": goal}], []))
    label = re.search(r'n0 \[label="([^"]*)"', text).group(1)
    assert label.replace("\\l", " ").split() == "k * 4096 * 2 <= 2 * 220 * 1024 0 <= x".split()


def search_like_tree(edges_wanted: int, branching: int = 8) -> dict:
    """A tree shaped like a search's: every node expanded into ``branching`` children, breadth
    first, goals of a few dozen characters."""
    goal = "x : R\nH : 0 <= x\n====================\nRabs (x - IZR (Rround x)) + {} <= 1 / 2"
    nodes = [{"id": "n0", "root": True, "status": "open", "goals": goal.format(0)}]
    edges = []
    parent = 0
    while len(edges) < edges_wanted:
        for _ in range(branching):
            child = len(nodes)
            nodes.append({"id": f"n{child}", "status": "open", "goals": goal.format(child)})
            edges.append({"source": f"n{parent}", "target": f"n{child}",
                          "tactic": "apply Rabs_le; lra."})
        parent += 1
    return tree(nodes, edges)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_an_800_edge_tree_lays_out_at_a_sane_width():
    text = to_dot(search_like_tree(800))
    plain_layout = subprocess.run(["dot", "-Tplain"], input=text, capture_output=True, text=True,
                                  timeout=300, check=True).stdout
    _, _, width, height = plain_layout.splitlines()[0].split()
    assert float(width) * 72 < 32767 / 4, (width, height)  # points; the issue saw 32 767 px


def test_small_trees_keep_the_top_down_layout():
    assert "rankdir" not in to_dot(search_like_tree(8))
    assert "rankdir=LR" in to_dot(search_like_tree(800))


# -- what a user reads at 80 columns and less (issue 27, "Why" 8) ------------------------------


def test_goals_of_a_directory_never_break_a_file_name(tmp_path):
    long_names = ["QuantizationErrorBounds.v", "IntegerBoundsOfTheAccumulator.v"]
    sites = []
    for name in long_names:
        lemma = f"{name[:-2].lower()}_holds_for_every_input_we_tried"
        text = f"Lemma {lemma} : True.\nProof.\nAdmitted.\n"
        sites += locate(text, tmp_path / name)
    shown = render(goals_table(sites, None, tmp_path), 80)
    lines = shown.splitlines()
    for name in long_names:
        assert any(line.strip() == name for line in lines), shown


def test_doctor_fix_commands_are_never_cut():
    command = "cd /a/rather/long/path/to/the/lean_project && lake exe cache get"
    checks = [Check("Mathlib cache", False, "", command), Check("coqtop", True, "8.16.1", "")]
    console = Console(file=io.StringIO(), width=40, color_system=None, record=True)
    console.print(doctor_table(checks))
    for line in doctor_fixes(checks):
        console.print(line, soft_wrap=True)
    text = console.export_text()
    assert f"Mathlib cache: {command}" in text.splitlines()
    assert "…" not in text


def test_markdown_report_reads_as_written_where_nothing_is_html(tmp_path):
    item = GoalResult("A.v", "le", 3, "Admitted", "open",
                      message="Unable to unify 0 <= x && x < 256 with a & b").to_json()
    goals = [GoalLine(GoalRow(1, "A.v", 0, "le", 0, 3, "Admitted"), item, 1, 1.0)]
    text = to_markdown(RunReport(tmp_path, tmp_path, "h", 0.0, goals, []))
    assert "0 <= x && x < 256 with a & b" in text and "&lt;" not in text and "&amp;" not in text
