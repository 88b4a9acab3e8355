"""The tactic gate: ordinary tactics pass; cheating or unsafe text is refused with a reason."""

import pytest

from alphaquant.sanitize import check_tactic, clean_tactic

COQ_ALLOWED = [
    "rewrite Nat.add_0_r.",
    "lra.",
    "lra",
    "apply (Rle_trans _ 0.5).",
    "unfold Rabs; destruct (Rcase_abs x); lra.",
    "rewrite (Nat.add_comm x y) in H |- *.",
    "apply admit_lemma.",
    'idtac "admit. Qed.".',
    "lra (* admit. Qed. *).",
    "exists (fun (A : Set) => A).",
    "all: lra.",
    "auto...",
    "Unshelve.",
]


@pytest.mark.parametrize("tactic", COQ_ALLOWED)
def test_coq_ordinary_tactics_pass(tactic):
    assert check_tactic(tactic, "coq") is None


COQ_REFUSED = [
    ("admit.", "forbidden: admit"),
    ("admit. Qed.", "forbidden: admit"),
    ("reflexivity. Qed. Axiom cheat : False.", "forbidden: Qed"),
    ("exact cheat. Qed.", "forbidden: Qed"),
    ("Axiom cheat : False.", "forbidden: Axiom"),
    ("Admitted.", "forbidden: Admitted"),
    ("Abort.", "forbidden: Abort"),
    ("give_up.", "forbidden: give_up"),
    ("exact_no_check I.", "forbidden: exact_no_check"),
    ("Timeout 1 lra.", "forbidden: Timeout"),
    ("Proof.", "forbidden: Proof"),
    ("intros. lra.", "several sentences"),
    ("intros.\nlra.", "several sentences"),
    ("- lra.", "bullet"),
    ("{ lra. }", "bullet"),
    ("Set Printing All.", "vernacular command"),
    ("Time lra.", "vernacular command"),
    ("", "empty"),
    (" . ", "empty"),
    ("(* just a comment *)", "empty"),
    ("lra. (*", "unterminated comment or string"),
    ('idtac "open', "unterminated comment or string"),
    ("exact\x00 I.", "control character"),
]


@pytest.mark.parametrize(("tactic", "reason"), COQ_REFUSED)
def test_coq_refusals_name_their_reason(tactic, reason):
    assert check_tactic(tactic, "coq") == reason


LEAN_ALLOWED = [
    "simp [foo] at h ⊢",
    "nlinarith [sq_nonneg (a - b)]",
    "rcases h with ⟨x, hx⟩",
    "exact sorry_free",
    "exact IO_bound",
    "exact my_sorry h",
    'trace "sorry"',
    "exact 's'",
    "exact ⟨#[1, 2], rfl⟩",
    "open Real in simp",
    "constructor <;> simp",
    "constructor\n  · simp\n  · ring",
    "have h : 0 < x := by\n  positivity",
    "simp -- sorry",
    "rw [show (2:ℝ) = 1 + 1 by norm_num]",
    "exact?",
]


@pytest.mark.parametrize("tactic", LEAN_ALLOWED)
def test_lean_ordinary_tactics_pass(tactic):
    assert check_tactic(tactic, "lean") is None


LEAN_REFUSED = [
    ("sorry", "forbidden: sorry"),
    ("admit", "forbidden: admit"),
    ("exact (sorry : False)", "forbidden: sorry"),
    ("exact sorryAx _ false", "forbidden: sorryAx"),
    ("run_cmd Lean.logInfo", "forbidden: run_cmd"),
    ('#eval IO.Process.run {cmd := "rm"}', "forbidden: #eval"),
    ("#exit", "forbidden: #exit"),
    ("exact IO.Process.run", "forbidden: IO"),
    ("native_decide", "forbidden: native_decide"),
    ("decide +native", "forbidden: native"),
    ("exact Lean.ofReduceBool _ _ rfl", "forbidden: ofReduceBool"),
    ("set_option maxHeartbeats 0 in simp", "forbidden: set_option"),
    ("simp\ntheorem x : False := sorry", "forbidden: theorem"),
    ("simp\naxiom cheat : False", "forbidden: axiom"),
    ("stop", "forbidden: stop"),
    ("simp\nexact h", "several tactics"),
    ("  simp\n  ring", "several tactics"),
    ("-- only a comment", "empty"),
    ("simp /- open", "unterminated comment or string"),
    ("exact foo\u202e", "control character"),
]


@pytest.mark.parametrize(("tactic", "reason"), LEAN_REFUSED)
def test_lean_refusals_name_their_reason(tactic, reason):
    assert check_tactic(tactic, "lean") == reason


@pytest.mark.parametrize("language", ["coq", "lean"])
def test_length_limit(language):
    tactic = "simp only [" + ", ".join(["foo"] * 600) + "]"
    assert check_tactic(tactic, language) == "too long"
    assert check_tactic(tactic, language, max_length=10_000) is None


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("lra", "lra."),
        ("  lra  .  ", "lra."),
        ("lra..", "lra."),
        ("auto...", "auto..."),
        ("unfold  Rabs ;\n\t lra (* why *).", "unfold Rabs ; lra."),
        ('idtac "a  b".', 'idtac "a  b".'),
        ("(* nothing *)", ""),
    ],
)
def test_clean_coq(raw, cleaned):
    assert clean_tactic(raw, "coq") == cleaned


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("  simp  ", "simp"),
        ("  constructor\n    · simp -- done\n\n    · ring\r\n", "constructor\n  · simp\n  · ring"),
        ("simp /- a -/ at h", "simp         at h"),
        ("simp /- a\nb -/ at h", "simp\n     at h"),  # positions kept: Lean's layout unchanged
        ("have := by\n\tsimp", "have := by\n  simp"),
    ],
)
def test_clean_lean(raw, cleaned):
    assert clean_tactic(raw, "lean") == cleaned


LEAN_TIGHTENED = [
    ("exact «sorryAx» False false", "forbidden: sorryAx"),
    ("exact «sorry»", "forbidden: sorry"),
    ("ѕorry", "forbidden: sorry (in lookalike letters)"),  # Cyrillic dze
    ("exact (unsafeCast () : False)", "forbidden: unsafeCast"),
    ("sleep 100000", "forbidden: sleep"),
    ("termination_by 0", "forbidden: termination_by"),
    ("decreasing_by simp", "forbidden: decreasing_by"),
]


@pytest.mark.parametrize(("tactic", "reason"), LEAN_TIGHTENED)
def test_lean_quoted_names_lookalikes_and_clauses_are_refused(tactic, reason):
    assert check_tactic(tactic, "lean") == reason


@pytest.mark.parametrize("tactic", ["exact «Nat».add_comm _ _", "simp [α]", "exact h.ε"])
def test_lean_quoted_and_greek_names_still_pass(tactic):
    assert check_tactic(tactic, "lean") is None
