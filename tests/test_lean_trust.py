"""Lean soundness: the axiom probe (qualified names, `example`, other holes), ``untrusted`` on the
replay REPL and on LeanDojo's ``lake env lean``, and a "Completed" proof through a sorry'd lemma
refused by the search's acceptance rule."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alphaquant.goals import locate
from alphaquant.proof import Refusal, splice
from alphaquant.provers.lean import probe as lean_probe
from alphaquant.provers.lean.dojo import LeanDojoProver
from alphaquant.provers.lean.prover import LeanProver
from alphaquant.script import Script
from alphaquant.search.base import GoalContext, SearchConfig, SearchParts
from alphaquant.search.mcts import run_search
from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic

sys.path.insert(0, str(Path(__file__).parent))
import replay_repl  # noqa: E402
from lean_replay import replay_prover  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPLAY = Path(__file__).with_name("replay_repl.py")


def prover_over(tmp_path: Path, pairs: list[tuple[object, object]]) -> LeanProver:
    """A LeanProver whose REPL is the replay over a hand-written transcript."""
    replay_repl.write_transcript(tmp_path, "t", pairs)
    return replay_prover("t", flags=("--fixtures", str(tmp_path)))


def message(data: str, line: int, severity: str = "info", column: int = 0) -> dict[str, object]:
    return {"severity": severity, "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": column + 6}, "data": data}


def decl(text: str, needle: str) -> int:
    return text.index(needle)


# ---------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize(("text", "name", "full"), [
    ("namespace X\ntheorem Foo.bar : True := trivial\n", "Foo.bar", "X.Foo.bar"),
    ("namespace X\ntheorem _root_.top : True := trivial\n", "_root_.top", "top"),
    ("namespace A.B\nnamespace C\nend C\ntheorem t : True := trivial\n", "t", "A.B.t"),
    ("namespace A\nnoncomputable section\nmutual\nend\nend\ntheorem t : True := trivial\n",
     "t", "A.t"),
    ("namespace A\nsection S\n-- end S\ntheorem t : True := trivial\nend S\nend A\n", "t", "A.t"),
    ("namespace A\nend A\nnamespace B\ntheorem t : True := trivial\n", "t", "B.t"),
])
def test_names_are_qualified_by_the_open_namespaces(text: str, name: str, full: str) -> None:
    assert lean_probe.qualify(text, text.index("theorem"), name) == full


def test_declared_axioms_are_qualified_and_sorry_ax_is_never_allowed() -> None:
    text = ("namespace X\naxiom cheat : False\nend X\naxiom sorryAx : False\n"
            "theorem t : True := trivial")
    assert lean_probe.declared_axioms(text) == {"X.cheat", "sorryAx"}
    probe = lean_probe.build(text, text, text.index("theorem"))
    assert "sorryAx" not in probe.allowed and "X.cheat" in probe.allowed
    assert probe.refused(frozenset({"sorryAx", "X.cheat", "propext"})) == ("sorryAx",)


def test_probe_of_a_declaration_without_a_name_is_refused_to_build() -> None:
    text = "instance (priority := low) : Inhabited Nat := ⟨0⟩"
    with pytest.raises(ValueError, match="no name"):
        lean_probe.build(text, text, 0)


# ---------------------------------------------------------------------------------------------
# untrusted on the replay REPL: the probe the transcript expects, word for word

NAMESPACED = "namespace X\n\ntheorem Foo.bar : 1 = 1 := by\n  sorry\n\nend X\n"
NAMESPACED_PROVED = NAMESPACED.replace("sorry", "rfl")
NAMESPACED_PROBE = NAMESPACED_PROVED + "\n#print axioms X.Foo.bar\n"

EXAMPLE = "example : 1 = 1 := by sorry\n"
EXAMPLE_PROVED = "example : 1 = 1 := by\n  rfl\n"
EXAMPLE_PROBE = "theorem aq_example_0 : 1 = 1 := by\n  rfl\n\n#print axioms aq_example_0\n"

HOLES = "theorem two : 1 = 1 ∧ 2 = 2 := by\n  constructor\n  · sorry\n  · sorry\n"
HOLES_PROVED = "theorem two : 1 = 1 ∧ 2 = 2 := by\n  constructor\n  · rfl\n  · sorry\n"
HOLES_PROBE = ("axiom aq_hole_0.{u} {α : Sort u} : α\n"
               "theorem two : 1 = 1 ∧ 2 = 2 := by\n  constructor\n  · rfl\n  · exact aq_hole_0\n"
               "\n#print axioms two\n")

AXIOM = "namespace X\naxiom cheat : False\ntheorem _root_.t : 1 = 2 := by sorry\nend X\n"
AXIOM_PROVED = AXIOM.replace("by sorry", "by\n  exact cheat.elim")
AXIOM_PROBE = AXIOM_PROVED + "\n#print axioms t\n"


@pytest.mark.parametrize(("original", "proved", "probe", "line", "answer", "refused"), [
    (NAMESPACED, NAMESPACED_PROVED, NAMESPACED_PROBE, 8,
     "'X.Foo.bar' depends on axioms: [propext]", ()),
    (NAMESPACED, NAMESPACED_PROVED, NAMESPACED_PROBE, 8,
     "'X.Foo.bar' depends on axioms: [Lean.ofReduceBool, Lean.trustCompiler]",
     ("Lean.ofReduceBool", "Lean.trustCompiler")),
    (EXAMPLE, EXAMPLE_PROVED, EXAMPLE_PROBE, 4, "'aq_example_0' does not depend on any axioms", ()),
    (HOLES, HOLES_PROVED, HOLES_PROBE, 7, "'two' depends on axioms: [aq_hole_0]", ()),
    (HOLES, HOLES_PROVED, HOLES_PROBE, 7, "'two' depends on axioms: [aq_hole_0, sorryAx]",
     ("sorryAx",)),
    (AXIOM, AXIOM_PROVED, AXIOM_PROBE, 7, "'t' depends on axioms: [X.cheat]", ()),
    (AXIOM, AXIOM_PROVED, AXIOM_PROBE, 7, "'t' depends on axioms: [X.cheat, sorryAx]",
     ("sorryAx",)),
])
def test_untrusted_asks_for_the_qualified_declaration(
    tmp_path: Path, original: str, proved: str, probe: str, line: int, answer: str,
    refused: tuple[str, ...],
) -> None:
    assert probe.split("\n")[line - 1].startswith("#print axioms")
    answered = {"env": 0, "messages": [message(answer, line)]}
    prover = prover_over(tmp_path, [({"cmd": probe}, answered)])
    start = next(s.decl_start for s in locate(original, Path("T.lean")))
    try:
        assert prover.untrusted(Path("T.lean"), original, proved, start) == refused
    finally:
        prover.close()


def test_an_unresolved_name_is_an_error_not_an_acceptance(tmp_path: Path) -> None:
    from alphaquant.errors import FileDoesNotCompile

    unknown = message("unknown constant 'X.Foo.bar'", 8, severity="error")
    prover = prover_over(tmp_path, [({"cmd": NAMESPACED_PROBE}, {"env": 0, "messages": [unknown]})])
    try:
        with pytest.raises(FileDoesNotCompile, match="unknown constant"):
            prover.untrusted(Path("T.lean"), NAMESPACED, NAMESPACED_PROVED, 0)
    finally:
        prover.close()


# ---------------------------------------------------------------------------------------------
# The search: a "Completed" path through a sorry'd lemma is a failed edge

SORRIED = "theorem helper : False := sorry\n\ntheorem t : 1 = 2 := by sorry\n"
SORRIED_PROVED = "theorem helper : False := sorry\n\ntheorem t : 1 = 2 := by\n  exact helper.elim\n"


def sorried_pairs() -> list[tuple[object, object]]:
    warning = "declaration uses `sorry`"
    return [
        # one declaration a command, the second in the first's environment
        ({"cmd": "theorem helper : False := sorry\n\n"}, {
            "env": 0,
            "sorries": [{"proofState": 0, "pos": {"line": 1, "column": 26},
                         "endPos": {"line": 1, "column": 31}, "goal": "⊢ False"}],
            "messages": [message(warning, 1, "warning", 8)],
        }),
        ({"cmd": "theorem t : 1 = 2 := by sorry\n", "env": 0}, {
            "env": 1,
            "sorries": [{"proofState": 1, "pos": {"line": 1, "column": 24},
                         "endPos": {"line": 1, "column": 29}, "goal": "⊢ 1 = 2"}],
            "messages": [message(warning, 1, "warning", 8)],
        }),
        ({"tactic": "exact helper.elim", "proofState": 1},
         {"proofState": 2, "goals": [], "proofStatus": "Completed"}),
        ({"cmd": SORRIED_PROVED + "\n#print axioms t\n"}, {
            "env": 2,
            "messages": [message(warning, 1, "warning", 8),
                         message("'t' depends on axioms: [sorryAx]", 6)],
        }),
    ]


def test_completed_proof_through_a_sorried_lemma_is_refused_and_the_search_goes_on(
    tmp_path: Path,
) -> None:
    prover = prover_over(tmp_path, sorried_pairs())
    site = locate(SORRIED, Path("T.lean"))[1]
    assert site.theorem == "t"
    source = HeuristicSource((WeightedTactic("exact helper.elim", 1.0),
                              WeightedTactic("simp", 1.0)), goal_aware_weight=0.0)
    seen: list[tuple[str, ...]] = []

    def accept(script: Script) -> str | None:
        path = script.tactics()
        seen.append(path)
        spliced = splice(SORRIED, site, path)
        assert spliced == SORRIED_PROVED
        bad = prover.untrusted(Path("T.lean"), SORRIED, spliced, site.decl_start)
        return f"uses {', '.join(bad)}" if bad else None

    try:
        root = prover.open(site, SORRIED)
        result = run_search(SearchParts(prover, source, gate=lambda t: None, accept=accept),
                            root, SearchConfig(budget_seconds=20, seed=0),
                            GoalContext("lean", SORRIED))
    finally:
        prover.close()
    assert seen == [("exact helper.elim",)]
    assert not result.proved and result.proof is None
    assert result.rejected == 1


# ---------------------------------------------------------------------------------------------
# LeanDojo's probe runs `lake env lean`: a fake `lake` that answers like Lean's command line


FAKE_LAKE = """#!{python}
import sys
from pathlib import Path
text = Path(sys.argv[-1]).read_text(encoding="utf-8")
Path({log!r}).write_text(text, encoding="utf-8")
last = text.rstrip().splitlines()[-1]
if last == "#print axioms X.Foo.bar":
    print(sys.argv[-1] + ":4:2: warning: declaration uses 'sorry'")
    print("'X.Foo.bar' depends on axioms: [propext,\\n sorryAx]")
else:
    print(sys.argv[-1] + ":8:0: error: unknown constant")
"""


def test_lean_dojo_untrusted_probes_with_lake_env_lean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "probe.lean"
    lake = bin_dir / "lake"
    lake.write_text(FAKE_LAKE.format(python=sys.executable, log=str(log)))
    lake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    (tmp_path / "lakefile.toml").write_text('name = "t"\n')
    path = tmp_path / "T.lean"
    prover = LeanDojoProver(path)
    assert prover.untrusted(path, NAMESPACED, NAMESPACED_PROVED, 0) == ("sorryAx",)
    assert log.read_text() == NAMESPACED_PROBE
    with pytest.raises(Exception, match="unknown constant"):
        prover.untrusted(path, EXAMPLE, EXAMPLE_PROVED, 0)


def test_a_proof_naming_the_marker_does_not_get_it() -> None:
    text = HOLES_PROVED.replace("· rfl", "· exact aq_hole_0")
    probe = lean_probe.build(HOLES, text, 0)
    assert probe.marker == "aq_hole_1" and "axiom aq_hole_1" in probe.text
    assert probe.refused(frozenset({"aq_hole_0"})) == ("aq_hole_0",)


def test_the_declaration_is_found_past_its_attributes_from_either_offset() -> None:
    text = ("namespace N\n@[instance, simp] theorem foo : 1 = 1 ∧ True := by\n"
            "  constructor\n  · rfl\n  · sorry\nend N\n")
    from_attribute = lean_probe.build(text, text, text.index("@["))
    from_keyword = lean_probe.build(text, text, text.index("theorem"))
    assert from_attribute == from_keyword
    assert from_attribute.name == "N.foo" and "· exact aq_hole_0" in from_attribute.text


# ---------------------------------------------------------------------------------------------
# Disproofs: no section variable may hide in the negation (issue 24, item 2). No recorded
# transcript holds Lean's answer to these lemmas, so the text and the refusals are tested as
# pure functions: what Lean is asked, and what is never sent.

SECTIONED = ("section S\nvariable (h : False)\ninclude h\n"
             "theorem target : 2 + 2 = 4 := by sorry\n\ntheorem after : True := trivial\nend S\n")


def test_a_lean_disproof_states_the_negation_of_the_declarations_own_type() -> None:
    from alphaquant.proof import insert_disproof

    (site,) = locate(SECTIONED, Path("T.lean"))
    name, text, start = insert_disproof(SECTIONED, site, ("intro H", "exact h.elim")) or ("", "", 0)
    assert name == "aq_disproof_target"
    assert text[start:].startswith(
        "theorem aq_disproof_target : _root_.Not (type_of% @_root_.target) := by\n"
        "  intro H\n  exact h.elim\n")
    # the disproof's type must be that negation exactly: a section variable taken in as a
    # premise (``include h``) makes it ``∀ h, ¬ …``, which `rfl` does not prove
    assert ("theorem aq_disproof_target_exact :\n    @_root_.Eq Prop (type_of% @aq_disproof_target)"
            " (_root_.Not (type_of% @_root_.target)) := _root_.rfl\n") in text
    # after the target (its constant exists), before what follows it, in its scope
    assert text.index("sorry") < start < text.index("theorem after") < text.index("end S")
    assert text.replace(text[start - 2 : text.index("\n\ntheorem after")], "") == SECTIONED
    # the judged declaration is the lemma, by its own qualified name
    assert lean_probe.build(SECTIONED, text, start).name == "aq_disproof_target"


def test_the_negated_constant_is_qualified_and_keeps_its_universes() -> None:
    from alphaquant.proof import insert_disproof

    source = ("namespace N\nuniverse u\ntheorem t.{v} {α : Sort v} (a : α) : a = a := by\n"
              "  sorry\nend N\n")
    (site,) = locate(source, Path("T.lean"))
    _, text, start = insert_disproof(source, site, ("simp",)) or ("", "", 0)
    assert text[start:].startswith(
        "theorem aq_disproof_t.{v} : _root_.Not (type_of% @_root_.N.t.{v}) := by\n")
    assert "(type_of% @aq_disproof_t.{v})" in text
    assert lean_probe.build(source, text, start).name == "N.aq_disproof_t"


@pytest.mark.parametrize("before", [
    "variable (h : False)\n",
    "section\nvariable {α : Type} [inst : Inhabited α]\nend\n",  # even a closed section's
    "section S\nvariable (h : False)\ninclude h\n",
    "theorem x : True := trivial variable (h : False)\n",  # not at a line's start
])
def test_an_example_after_a_variable_has_no_negation_to_check(before: str) -> None:
    from alphaquant.proof import insert_disproof

    source = before + "example : 2 + 2 = 4 := by sorry\n"
    (site,) = locate(source, Path("T.lean"))
    assert insert_disproof(source, site, ("intro H",)) is None


def test_an_example_with_no_variable_anywhere_above_keeps_the_negation_of_its_header() -> None:
    from alphaquant.proof import insert_disproof

    source = "-- variable (h : False)\nexample : 2 + 2 = 5 := by sorry\n"
    (site,) = locate(source, Path("T.lean"))
    name, text, start = insert_disproof(source, site, ("decide",)) or ("", "", 0)
    assert text[start:].startswith("theorem aq_disproof_goal : _root_.Not (2 + 2 = 5) := by\n")
    assert start == site.decl_start


def test_a_lean_disproof_with_no_negation_to_state_is_refused_before_lean_is_asked() -> None:
    from alphaquant.config import load_settings
    from alphaquant.runs.attempt import Goal, _Attempt

    source = "section\nvariable (h : False)\ninclude h\nexample : 2 + 2 = 4 := by sorry\nend\n"
    path = Path("T.lean")
    (site,) = locate(source, path)
    # no prover at all: the refusal must come before any REPL request
    attempt = _Attempt(None, None, Goal(path, source, site), load_settings(None),  # type: ignore[arg-type]
                       lambda _e: None, None, False)
    verdict, text, _ = attempt.judged("disprove", Script(("intro H", "exact h.elim")))
    assert not verdict.ok and verdict.reason == "the negation cannot be stated"
    assert verdict.refusal is Refusal.UNSTATED
    assert text == source


def test_no_negation_is_opened_for_an_example_after_a_variable(tmp_path: Path) -> None:
    source = "variable (h : False)\nexample : 2 + 2 = 4 := by sorry\n"
    (site,) = locate(source, Path("T.lean"))
    prover = prover_over(tmp_path, [])  # answers nothing: no request may be needed
    try:
        assert prover.open_negation(site, source) is None
    finally:
        prover.close()
