"""Goal location in Coq and Lean text: kinds, exact positions, statements, what is no hole."""

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaquant.errors import InputError
from alphaquant.goals import declaration_names, find_goals, locate
from alphaquant.lexing import coq_sentences, lex, lex_by_lexeme, mask
from alphaquant.sites.site import GoalSite, language_of

V, LEAN = Path("T.v"), Path("T.lean")


def holes(text: str, path: Path) -> list[tuple[str, str, str, int]]:
    """(theorem, kind, covered text, index) of each site."""
    return [(s.theorem, s.kind, text[s.start : s.end], s.index) for s in locate(text, path)]


# --- Coq ----------------------------------------------------------------------------------

COQ = """\
Require Import Reals.
(* (* nested admit. *) Admitted. "a string *) inside" *)
Lemma admit_lemma (x : R) : x = x.
Proof.
  split.
  - admit.
  - reflexivity.
  + { admit. }
Admitted.

Theorem closed : True. Proof. exact I. Qed.
"""


def test_coq_admit_and_admitted_positions_and_indices():
    sites = locate(COQ, V)
    assert [(s.kind, s.line, s.col, s.index) for s in sites] == [
        ("admit", 6, 4, 0),
        ("admit", 8, 6, 1),
        ("Admitted", 9, 0, 2),
    ]
    assert {s.theorem for s in sites} == {"admit_lemma"}
    assert [COQ[s.start : s.end] for s in sites] == ["admit.", "admit.", "Admitted."]
    lemma = COQ.index("Lemma admit_lemma")
    assert all(s.decl_start == lemma for s in sites)
    assert sites[0].statement == "Lemma admit_lemma (x : R) : x = x."
    assert sites[0].file == V and sites[0].language == "coq"


def test_coq_comments_strings_and_lookalike_identifiers_are_not_holes():
    text = """\
(* admit. (* Admitted. *) "*)" admit. *)
Definition msg := "admit. ""Admitted."" admit.".
Lemma l : True.
Proof.
  pose proof admit_lemma as Admitted_x.
  exact I. (* admit. *)
Qed.
"""
    assert locate(text, V) == []


def test_coq_abort_means_no_goal_and_goal_is_anonymous():
    text = """\
Goal 1 = 1. Proof. admit. Abort.
Goal 2 = 2.
Proof.
  admit.
Qed.
"""
    assert holes(text, V) == [("", "admit", "admit.", 0)]
    (site,) = locate(text, V)
    assert (site.line, site.col, site.statement) == (4, 2, "Goal 2 = 2.")


def test_coq_compound_admit_sentence_is_covered_whole():
    text = "Lemma l : A /\\ B.\nProof. split; admit. Qed.\n"
    assert holes(text, V) == [("l", "admit", "split; admit.", 0)]


def test_coq_ltac_and_definitions_with_a_body_hold_no_goal():
    text = """\
Definition f (n : nat) : nat := let m := n in m.
Ltac cheat := admit.
Definition g : nat.
Proof. admit. Defined.
Lemma l : let x := 1 in x = x.
Proof. admit. Qed.
"""
    assert holes(text, V) == [("g", "admit", "admit.", 0), ("l", "admit", "admit.", 0)]


def test_coq_attributes_modifiers_and_obligations():
    text = """\
#[local] Program Instance inst : Foo nat.
Next Obligation. admit. Qed.
Global Instance : Bar.
Admitted.
"""
    sites = locate(text, V)
    assert [(s.theorem, s.kind) for s in sites] == [("inst", "admit"), ("", "Admitted")]
    assert sites[1].decl_start == text.index("Global")
    assert sites[1].statement == "Instance : Bar."


def test_coq_statement_has_comments_removed_and_keeps_qualified_names():
    text = "Lemma l (* why *) : Nat.add 0 1 = 1.\nAdmitted."
    (site,) = locate(text, V)
    assert site.statement == "Lemma l   : Nat.add 0 1 = 1."
    assert text[site.start : site.end] == "Admitted."


def test_coq_columns_count_code_points():
    text = "Lemma ε_pos : (* ∀ε *) True.\nProof. (* ∀ *) admit. Qed."
    (site,) = locate(text, V)
    assert (site.theorem, site.line, site.col) == ("ε_pos", 2, 15)


def test_coq_declaration_names():
    assert declaration_names(COQ, V) == ["admit_lemma", "closed"]


# --- Lean ---------------------------------------------------------------------------------

LEAN_TEXT = """\
/- header /- nested sorry -/ sorry -/
import Mathlib
namespace Quant
/-- doc: sorry -/
@[simp] private theorem round_le (x : ℝ) (h : 0 < x) : x ≤ x + 1 := by
  constructor
  · sorry
  · simp [sorry_free]  -- sorry
    sorry
theorem t_term : True := sorry
theorem t_by : True := by sorry
example : 1 = 1 := by
  sorry
end Quant
"""


def test_lean_kinds_positions_and_indices():
    sites = locate(LEAN_TEXT, LEAN)
    got = [(s.theorem, s.kind, s.line, s.col, s.index) for s in sites]
    assert got == [
        ("round_le", "sorry", 7, 4, 0),
        ("round_le", "sorry", 9, 4, 1),
        ("t_term", "term sorry", 10, 25, 0),
        ("t_by", "by sorry", 11, 23, 0),
        ("", "by sorry", 12, 19, 0),
    ]
    assert [LEAN_TEXT[s.start : s.end] for s in sites] == [
        "sorry", "sorry", "sorry", "by sorry", "by\n  sorry",
    ]


def test_lean_decl_start_takes_doc_attributes_and_modifiers_statement_takes_keyword():
    site = locate(LEAN_TEXT, LEAN)[0]
    assert site.decl_start == LEAN_TEXT.index("/-- doc")
    assert site.statement == "theorem round_le (x : ℝ) (h : 0 < x) : x ≤ x + 1"
    assert locate(LEAN_TEXT, LEAN)[2].statement == "theorem t_term : True"


def test_lean_comments_strings_chars_and_lookalike_identifiers_are_not_holes():
    text = """\
-- sorry
/-- sorry /- sorry -/ -/
def s : String := "sorry \\" sorry"
def c : Char := 's'
def r : String := r#"sorry " sorry"#
theorem ok (h : my_sorry = sorryAx) : sorry' ∧ h.sorry! ∧ «sorry» ∧ Foo.sorry_x := by
  exact ⟨sorry₁, x.sorry?, 'a', εsorry, ℝsorry⟩ -- sorry
"""
    assert locate(text, LEAN) == []


def test_lean_char_literal_quote_does_not_open_a_string():
    text = """def q : Char := '"'\ntheorem t : True := sorry\ndef s := "x"\n"""
    assert holes(text, LEAN) == [("t", "term sorry", "sorry", 0)]


def test_lean_term_positions_inside_tactic_blocks():
    text = """\
lemma l : P ∧ Q := by
  refine ⟨sorry, ?_⟩
  have h : Q := sorry
  have h2 : Q := by sorry
  exact fun x => sorry
"""
    assert holes(text, LEAN) == [
        ("l", "term sorry", "sorry", 0),
        ("l", "term sorry", "sorry", 1),
        ("l", "by sorry", "by sorry", 2),
        ("l", "term sorry", "sorry", 3),
    ]


def test_lean_tactic_positions_case_arms_combinators_and_admit():
    text = """\
theorem t (n : ℕ) : P n := by
  induction n with
  | zero => sorry
  | succ n ih =>
    simp at ih
    sorry
  all_goals sorry
  constructor <;> sorry
  admit
"""
    assert [s.kind for s in locate(text, LEAN)] == ["sorry", "sorry", "sorry", "sorry", "admit"]
    assert [s.index for s in locate(text, LEAN)] == [0, 1, 2, 3, 4]


def test_lean_by_then_more_tactics_is_a_tactic_sorry():
    text = "theorem t : P := by\n  sorry\n  simp\n"
    assert holes(text, LEAN) == [("t", "sorry", "sorry", 0)]


def test_lean_term_sorry_on_the_next_line():
    text = "theorem t : P :=\n  sorry\n"
    (site,) = locate(text, LEAN)
    assert (site.kind, site.line, site.col) == ("term sorry", 2, 2)


def test_lean_names_as_written_instances_and_examples():
    text = """\
namespace X
theorem Foo.bar : True := sorry
instance : Inhabited Nat := sorry
instance (priority := 100) instNamed : Inhabited Nat := ⟨sorry⟩
protected noncomputable def X.d : ℕ := sorry
abbrev a : ℕ := sorry
example : True := sorry
end X
"""
    assert [s.theorem for s in locate(text, LEAN)] == ["Foo.bar", "", "instNamed", "X.d", "a", ""]
    assert declaration_names(text, LEAN) == ["Foo.bar", "instNamed", "X.d", "a"]


def test_lean_statement_ends_at_where_or_pattern_bar():
    text = """\
instance : Foo where
  x := sorry
def f : ℕ → ℕ
  | 0 => sorry
  | n + 1 => f n
theorem abs_ok (x : ℝ) : |x| ≤ |x| := sorry
"""
    sites = locate(text, LEAN)
    assert [s.statement for s in sites] == [
        "instance : Foo", "def f : ℕ → ℕ", "theorem abs_ok (x : ℝ) : |x| ≤ |x|",
    ]
    assert [s.kind for s in sites] == ["term sorry"] * 3


def test_lean_attribute_and_deriving_instance_are_not_declarations():
    text = """\
theorem t : True := by
  sorry
attribute [instance] foo
deriving instance Repr for Foo
"""
    assert holes(text, LEAN) == [("t", "by sorry", "by\n  sorry", 0)]
    assert declaration_names(text, LEAN) == ["t"]


def test_lean_unbalanced_bracket_does_not_swallow_the_next_theorem():
    text = "theorem broken : (True := by\n  simp\ntheorem t : True := sorry\n"
    assert holes(text, LEAN) == [("t", "term sorry", "sorry", 0)]


def test_lean_columns_count_code_points():
    text = "theorem t : ∀ ε > (0:ℝ), ε ≤ ε := by exact fun ε hε => sorry\n"
    (site,) = locate(text, LEAN)
    assert (site.line, site.col) == (1, 55)
    assert len(text[:55].encode()) > 55  # so a byte offset would have been wrong


# --- files and suffixes -------------------------------------------------------------------


def test_unknown_suffix_is_an_input_error():
    with pytest.raises(InputError, match=r"unknown file type ..txt. for T.txt: expected .v"):
        locate("theorem t : True := sorry", Path("T.txt"))


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        find_goals(tmp_path / "absent.v")


def test_find_goals_reads_the_file(tmp_path):
    path = tmp_path / "A.lean"
    path.write_text("theorem t : True := sorry\n", encoding="utf-8")
    assert find_goals(path) == [
        GoalSite(path, "t", 1, 20, "term sorry", 20, 25, 0, "theorem t : True", 0,
                 decl_line=1)
    ]


# --- the shared lexer ---------------------------------------------------------------------


def test_mask_keeps_offsets_and_newlines():
    text = 'x (* a\n "*)" *) y "s" z'
    masked = mask(text, lex(text, "coq"))
    assert len(masked) == len(text)
    assert masked.split() == ["x", "y", "z"] and masked.count("\n") == 1


def test_coq_sentences_split_like_coq():
    text = "rewrite Nat.add_0_r. apply (f 0.5). - { auto... } (x .. (y ..)) (* a. b *) done."
    got = [text[s.start : s.end] for s in coq_sentences(text)]
    assert got == [
        "rewrite Nat.add_0_r.", "apply (f 0.5).", "-", "{", "auto...", "}",
        "(x .. (y ..)) (* a. b *) done.",
    ]


# --- Lean statements: a `|` after the colon belongs to the type ----------------------------

ABS_SHAPES = [
    ("theorem t (x : Int) :\n    |x| ≥ 0 := by sorry", "theorem t (x : Int) :\n    |x| ≥ 0"),
    ("theorem e (x y : ℝ) (h : x ≤ y) :\n    |x - y| ≤ |y - x|\n    := by sorry",
     "theorem e (x y : ℝ) (h : x ≤ y) :\n    |x - y| ≤ |y - x|"),
    ("theorem n (v : ℝ) : 0 ≤\n  ‖v‖ := sorry", "theorem n (v : ℝ) : 0 ≤\n  ‖v‖"),
    ("theorem l : let a := 1\n  |a| = 1 := by sorry", "theorem l : let a := 1\n  |a| = 1"),
    ("def f : ℕ → ℕ\n  | 0 => sorry\n  | n + 1 => f n", "def f : ℕ → ℕ"),
    ("theorem u (x : ℝ) :\n    |x| ≥ 0 ∧ ∀ f : ℕ → ℕ, f = fun n => f n := sorry",
     "theorem u (x : ℝ) :\n    |x| ≥ 0 ∧ ∀ f : ℕ → ℕ, f = fun n => f n"),
    ("def g (n : ℕ) : ℕ :=\n  match n with\n  | 0 => sorry\n  | _ => 1", "def g (n : ℕ) : ℕ"),
]


@pytest.mark.parametrize(("text", "statement"), ABS_SHAPES)
def test_lean_line_leading_bar_of_the_type_stays_in_the_statement(text, statement):
    (site,) = locate(text, LEAN)
    assert site.statement == statement


def test_lean_absolute_value_header_is_negated_whole():
    from alphaquant.provers.negation import lean_negation

    (site,) = locate("theorem t (x : Int) :\n    |x| ≥ 0 := by sorry", LEAN)
    assert lean_negation(site.statement) == "_root_.Not (∀ (x : Int), |x| ≥ 0)"


LEAN_PROJECT = Path(__file__).resolve().parents[1] / "lean_project"
LEAN_FILES = sorted((LEAN_PROJECT / "Quantization3p5bit").glob("*.lean"))


@pytest.mark.parametrize("path", LEAN_FILES, ids=lambda p: p.name)
def test_every_lean_project_statement_is_whole_and_negatable(path):
    from alphaquant.lexing import code_tokens, lex
    from alphaquant.provers.negation import lean_negation

    text = path.read_text(encoding="utf-8")
    sites = find_goals(path)
    assert sites
    for site in sites:
        at = text.index(site.statement, site.decl_start) + len(site.statement)
        following = next(t for t in code_tokens(lex(text[at:], "lean")))
        assert following.text == ":=", (site.theorem, text[at : at + 20])
        assert lean_negation(site.statement) is not None, site.theorem


# --- big files ----------------------------------------------------------------------------

LEXABLE = "ab_'!?.1209 \n\t(*)\"#r-/«»é²→ₐ:=<;>|[]@{}xλ\u00a0eE+X"


@given(st.text(alphabet=LEXABLE, max_size=40), st.sampled_from(["coq", "lean"]))
@settings(max_examples=3000, deadline=None)
def test_lex_gives_the_tokens_of_one_lexeme_at_a_time(text, language):
    # the regular expression's fast path must never move a token's kind, start or end
    assert lex(text, language) == lex_by_lexeme(text, language)


def many_goals(n: int, language: str) -> str:
    if language == "coq":
        goal = ("Lemma g{i} : forall n : nat, n + {i} = {i} + n.\nProof.\n"
                "  intros n. (* a comment *)\nAdmitted.\n")
    else:
        goal = ("/-- doc -/\ntheorem g{i} (n : Nat) : n + {i} = {i} + n := by\n"
                "  intro -- c\n  sorry\n")
    return "".join(goal.format(i=i) for i in range(n))


def cpu_seconds_to_locate(n: int, path: Path) -> tuple[float, list]:
    text = many_goals(n, language_of(path))
    started = time.process_time()
    sites = locate(text, path)
    return time.process_time() - started, sites


@pytest.mark.parametrize("path", [V, LEAN])
def test_sixty_thousand_goals_are_located_in_linear_time(path):
    # Each goal used to re-read the file's prefix (a header's comments, a hole's line number):
    # 4,000 goals took 26 s, 60,000 never ended. Location is linear: a goal of a 60,000-goal file
    # costs what one of a 6,000-goal file does (a quadratic locator: ten times as much). CPU
    # time, so that other processes do not count; the seconds themselves (how fast this machine
    # is today) are `make bench`'s figure, not this test's.
    small, _ = cpu_seconds_to_locate(6_000, path)
    spent, sites = cpu_seconds_to_locate(60_000, path)
    assert len(sites) == 60_000
    last = sites[-1]
    text = many_goals(60_000, language_of(path))
    assert (last.theorem, last.line) == ("g59999", text.count("\n"))
    assert sites[30_000].statement.endswith("n + 30000 = 30000 + n" + ("." if path == V else ""))
    assert spent / 60_000 < 3 * small / 6_000, (small, spent)
    assert spent < 60, f"{spent:.1f} s of CPU time for 60,000 goals"  # minutes, not hours
