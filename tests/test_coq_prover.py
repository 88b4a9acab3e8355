"""CoqProver against a real coqtop / coqc: goals, jumps, timeouts, crashes, negation, kernel checks.

Every test that runs Coq is marked ``coq`` and skipped (with the reason) where coqtop is absent.
Goal sites are built by hand (``site()``) so these tests do not depend on the locator.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaquant.errors import FileDoesNotCompile, ProverCrashed, ProverNotInstalled
from alphaquant.provers.base import Progress, ProofState, Prover, Solved, TacticError, TacticTimeout
from alphaquant.provers.coq.coqc import coq_status
from alphaquant.provers.coq.protocol import parse_goals, read_reply
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.provers.coq.sentences import one_tactic_sentence, split_sentences
from alphaquant.provers.coq.trust import parse_checker, parse_graph
from alphaquant.sites.site import GoalSite
from tests.conftest import needs_coq


def site(path: Path, text: str, theorem: str, hole: str = "Admitted.", nth: int = 0) -> GoalSite:
    """The GoalSite of the ``nth`` occurrence of ``hole`` inside declaration ``theorem``."""
    decl_start = min(
        i for i in (text.find(f"{kw} {theorem} ") for kw in ("Lemma", "Theorem", "Example"))
        if i >= 0
    )
    start = decl_start
    for _ in range(nth + 1):
        start = text.index(hole, start + 1)
    header_end = text.index(".\n", decl_start) + 1
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1)
    kind = "admit" if hole == "admit." else "Admitted"
    return GoalSite(path, theorem, line, col, kind, start, start + len(hole), decl_start,
                    text[decl_start:header_end], nth)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def prover() -> Iterator[CoqProver]:
    with CoqProver(grace=1.0, command_timeout=10.0) as p:
        yield p


ARITH = """Require Import Arith Lia.

Lemma two_goals : forall n : nat, n + 0 = n /\\ n = n.
Proof.
  Admitted.
"""


def progress(outcome: object) -> ProofState:
    assert isinstance(outcome, Progress), outcome
    return outcome.state


# --- pure functions --------------------------------------------------------------------------

def test_split_sentences_comments_strings_bullets() -> None:
    text = ('Lemma a : "x. y" = "x. y". (* c. (* nested. *) *)\nProof.\n  split.\n'
            "  - exact Nat.add_0_r.\n  + {\n  2: { idtac. }\nfoo')")
    split = split_sentences(text)
    assert [s.text for s in split.sentences] == [
        'Lemma a : "x. y" = "x. y".', "Proof.", "split.", "-", "exact Nat.add_0_r.", "+", "{",
        "2: {", "idtac.", "}",
    ]
    assert split.rest == "foo')"
    assert split_sentences("intros. (* open").unterminated


def test_one_tactic_sentence_refusals() -> None:
    assert one_tactic_sentence("lra.") is None
    assert one_tactic_sentence("intros x y. (* then *)") is None
    assert one_tactic_sentence("idtac \"a. b\".") is None
    assert one_tactic_sentence("reflexivity. Qed. Axiom cheat : False.") is not None
    assert one_tactic_sentence("Axiom cheat : False.") is not None
    assert one_tactic_sentence("Timeout 5 lra.") is not None
    assert one_tactic_sentence("#[local] Axiom x : False.") is not None
    assert one_tactic_sentence("- lra.") is not None
    assert one_tactic_sentence("lra") is not None
    assert one_tactic_sentence("lra. (*") is not None
    assert one_tactic_sentence('idtac "<prompt>Coq < 1 || 0 < </prompt>".') is not None


BACKTO_REPLY = "2 goals (ID 6)\n  \n" + """  n : nat
  Hf : forall a b : nat,
       a <= b ->
       a + b <= b + a
  ============================
  n + 0 = n

goal 2 (ID 7) is:
 n = n /\\
 n + 1 = S n
"""


def test_parse_goals_multiple_goals_multiline_hypotheses() -> None:
    goals = parse_goals(BACKTO_REPLY)
    assert goals is not None and len(goals) == 2
    assert goals[0].hypotheses == ("n : nat", "Hf : forall a b : nat, a <= b -> a + b <= b + a")
    assert goals[0].conclusion == "n + 0 = n"
    assert goals[1].hypotheses == ()
    assert goals[1].conclusion == "n = n /\\\nn + 1 = S n"


def test_read_reply_gave_up_is_not_done() -> None:
    gave_up = ("<infomsg>No more goals, but there are some goals you gave up:</infomsg>\n\n"
               "1 goal\n\ngoal 1 (ID 4) is:\n 1 = 1\nYou need to go back and solve them.\n")
    assert read_reply(gave_up).kind == "gave_up"
    assert read_reply("No more goals.\n").kind == "done"
    assert read_reply("<infomsg>\nThis subproof is complete, but there are some unfocused "
                      "goals.\n</infomsg>\n1 goal\n\ngoal 1 (ID 4) is:\n True\n").kind == "subproof"


CHECKER = """\
CONTEXT SUMMARY
===============

* Theory: Set is predicative

* Axioms:
    Coq.Logic.Classical_Prop.classic
    Top.P2.msg

* Constants/Inductives relying on type-in-type: <none>

* Constants/Inductives relying on unsafe (co)fixpoints:
    Top.P2.f

* Inductives whose positivity is assumed: <none>

"""

GRAPH = """N: 4 "ax" [body=no, kind=cnst, prop=yes, path="T", ];
N: 1 "v" [body=yes, kind=cnst, prop=yes, ];
N: 9 "and" [kind=inductive, prop=no, ];
E: 1 4 [weight=1, ];
"""


def test_the_checker_summary_and_the_graph_are_read_by_name() -> None:
    axioms, unsafe = parse_checker(CHECKER)
    assert axioms == {"Coq.Logic.Classical_Prop.classic", "Top.P2.msg"}
    assert unsafe == {"Top.P2.f"}
    with pytest.raises(ValueError):
        parse_checker("Error: no such library")
    nodes, edges = parse_graph(GRAPH)
    assert nodes[4].qualid == "T.ax" and not nodes[4].body and nodes[4].kind == "cnst"
    assert nodes[1].body and nodes[9].kind == "inductive" and edges == [(1, 4)]


def test_not_installed_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProverNotInstalled, match="apt-get install -y coq"):
        CoqProver()
    assert coq_status() == (False, "", "apt-get install -y coq")


# --- a live coqtop ---------------------------------------------------------------------------

@pytest.mark.coq
@needs_coq
def test_coq_status_reports_version() -> None:
    found, version, hint = coq_status()
    assert found and version[:1].isdigit() and hint == ""


@pytest.mark.coq
@needs_coq
def test_is_a_prover(prover: CoqProver) -> None:
    assert isinstance(prover, Prover)
    assert prover.name == "coq"


@pytest.mark.coq
@needs_coq
def test_open_parses_goals_and_apply_outcomes(tmp_path: Path, prover: CoqProver) -> None:
    path = write(tmp_path, "Arith1.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    assert root.path == () and len(root.goals) == 1
    assert root.goals[0].conclusion == "forall n : nat, n + 0 = n /\\ n = n"
    s1 = progress(prover.apply(root, "intros n.", 5))
    assert s1.goals[0].hypotheses == ("n : nat",)
    s2 = progress(prover.apply(s1, "split.", 5))
    assert [g.conclusion for g in s2.goals] == ["n + 0 = n", "n = n"]
    assert s2.goals[1].hypotheses == ()
    assert s2.path == ("intros n.", "split.")
    error = prover.apply(s2, "exact foo.", 5)
    assert isinstance(error, TacticError) and "foo was not found" in error.message
    s3 = progress(prover.apply(s2, "lia.", 5))
    assert [g.conclusion for g in s3.goals] == ["n = n"]
    assert prover.apply(s3, "reflexivity.", 5) == Solved(("intros n.", "split.", "lia.",
                                                         "reflexivity."))


@pytest.mark.coq
@needs_coq
def test_backto_earlier_state_after_going_deeper(tmp_path: Path, prover: CoqProver) -> None:
    path = write(tmp_path, "Arith2.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    s1 = progress(prover.apply(root, "intros n.", 5))
    s2 = progress(prover.apply(s1, "split.", 5))
    s3 = progress(prover.apply(s2, "rewrite <- plus_n_O.", 5))
    assert [g.conclusion for g in s3.goals] == ["n = n", "n = n"]
    # jump back to an ancestor: the sibling sees the ancestor's goals, not the deeper ones
    solved = prover.apply(s1, "exact (conj (eq_sym (plus_n_O n)) eq_refl).", 5)
    assert solved == Solved(("intros n.", "exact (conj (eq_sym (plus_n_O n)) eq_refl)."))
    wrong = prover.apply(root, "reflexivity.", 5)
    assert isinstance(wrong, TacticError)
    # and deeper again: s3 is rebuilt from its path
    s4 = progress(prover.apply(s3, "reflexivity.", 5))
    assert [g.conclusion for g in s4.goals] == ["n = n"]
    assert prover.apply(s4, "reflexivity.", 5) == Solved((*s3.path, "reflexivity.",
                                                         "reflexivity."))
    assert prover.restarts == 0


@pytest.mark.coq
@needs_coq
def test_nonterminating_tactic_is_a_quick_timeout(tmp_path: Path, prover: CoqProver) -> None:
    path = write(tmp_path, "Arith3.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    outcome = prover.apply(root, "let rec f x := f x in f 0.", 1)
    assert isinstance(outcome, TacticTimeout)
    assert prover.restarts == 0  # Coq's own Timeout fired: no kill, no restart
    s1 = progress(prover.apply(root, "intros n.", 5))
    assert s1.goals[0].conclusion == "n + 0 = n /\\ n = n"


@pytest.mark.coq
@needs_coq
def test_hung_coqtop_is_killed_and_restarted(tmp_path: Path, prover: CoqProver) -> None:
    path = write(tmp_path, "Arith4.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    s1 = progress(prover.apply(root, "intros n.", 5))
    pid = prover.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # coqtop can answer nothing, not even its own Timeout
    t0 = time.monotonic()
    outcome = prover.apply(s1, "split.", 1)
    assert isinstance(outcome, TacticTimeout)
    assert time.monotonic() - t0 < 1 + prover.grace + 2
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # no coqtop until the next request (a replay now could outrun the goal's budget)
    assert prover.restarts == 1 and prover.pid is None
    s2 = progress(prover.apply(s1, "split.", 5))
    assert [g.conclusion for g in s2.goals] == ["n + 0 = n", "n = n"]
    assert prover.pid not in (None, pid)


@pytest.mark.coq
@needs_coq
def test_killed_coqtop_is_replayed_transparently(tmp_path: Path, prover: CoqProver) -> None:
    path = write(tmp_path, "Arith5.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    s1 = progress(prover.apply(root, "intros n.", 5))
    s2 = progress(prover.apply(s1, "split.", 5))
    pid = prover.pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    s3 = progress(prover.apply(s2, "lia.", 5))
    assert [g.conclusion for g in s3.goals] == ["n = n"]
    assert prover.restarts == 1 and prover.pid != pid
    assert prover.replayed >= 2  # intros n. and split. ran again
    assert prover.apply(s3, "reflexivity.", 5) == Solved((*s3.path, "reflexivity."))


@pytest.mark.coq
@needs_coq
def test_injection_never_reaches_coqtop(tmp_path: Path, prover: CoqProver) -> None:
    text = "Lemma bad : 1 = 2.\nProof.\n  Admitted.\n"
    path = write(tmp_path, "Inject.v", text)
    root = prover.open(site(path, text, "bad"), text)
    outcome = prover.apply(root, "reflexivity. Qed. Axiom cheat : False.", 5)
    assert isinstance(outcome, TacticError) and "refused" in outcome.message
    for cheat in ("Axiom cheat : False.", "Timeout 1 Axiom cheat : False.",
                  "exfalso. Axiom cheat : False."):
        refused = prover.apply(root, cheat, 5)
        assert isinstance(refused, TacticError) and "refused" in refused.message, cheat
    spoof = prover.apply(root, 'idtac "No more goals.".', 5)
    assert progress(spoof).goals == root.goals
    error_text = prover.apply(root, 'idtac "Error: nothing".', 5)
    assert progress(error_text).goals == root.goals
    s1 = progress(prover.apply(root, "exfalso.", 5))
    missing = prover.apply(s1, "exact cheat.", 5)
    assert isinstance(missing, TacticError) and "cheat was not found" in missing.message


@pytest.mark.coq
@needs_coq
def test_admit_site_focuses_the_first_goal(tmp_path: Path, prover: CoqProver) -> None:
    text = ("Lemma two : True /\\ 2 = 2.\nProof.\n  split.\n  - admit.\n"
            "  - reflexivity.\nAdmitted.\n")
    path = write(tmp_path, "Admit.v", text)
    root = prover.open(site(path, text, "two", "admit."), text)
    assert [g.conclusion for g in root.goals] == ["True"]
    assert prover.apply(root, "exact I.", 5) == Solved(("exact I.",))
    bad = prover.apply(root, "exact 0.", 5)
    assert isinstance(bad, TacticError)


@pytest.mark.coq
@needs_coq
def test_prefix_error_is_file_does_not_compile(tmp_path: Path, prover: CoqProver) -> None:
    text = ("Lemma ok : 1 = 1.\nProof.\n  reflexivity.\nQed.\n\nLemma later : 2 = 2.\n"
            "Proof.\n  apply\n    no_such_lemma.\n  Admitted.\n")
    path = write(tmp_path, "Broken.v", text)
    with pytest.raises(FileDoesNotCompile, match=r"line 9: .*no_such_lemma was not found"):
        prover.open(site(path, text, "later"), text)


@pytest.mark.coq
@needs_coq
def test_negation_of_false_statement_is_provable(tmp_path: Path, prover: CoqProver) -> None:
    text = ("Require Import Arith.\n\nLemma wrong (n : nat) (m : nat) : n + m = n.\n"
            "Proof.\n  Admitted.\n")
    path = write(tmp_path, "Wrong.v", text)
    goal = site(path, text, "wrong")
    root = prover.open(goal, text)
    negation = prover.open_negation(goal, text)
    assert negation is not None
    assert negation.goals[0].conclusion == "~ (forall n m : nat, n + m = n)"
    s1 = progress(prover.apply(negation, "intro H.", 5))
    s2 = progress(prover.apply(s1, "specialize (H 0 1).", 5))
    assert s2.goals[0].hypotheses == ("H : 0 + 1 = 0",)
    assert prover.apply(s2, "discriminate.", 5) == Solved(("intro H.", "specialize (H 0 1).",
                                                          "discriminate."))
    # states of the first root still mean what they meant
    s = progress(prover.apply(root, "simpl.", 5))
    assert s.goals[0].conclusion == "n + m = n"


@pytest.mark.coq
@needs_coq
def test_negation_inside_section_with_variables_is_none(tmp_path: Path,
                                                       prover: CoqProver) -> None:
    text = ("Section S.\nVariable k : nat.\nLemma in_section : k = k + 0.\nProof.\n  Admitted.\n"
            "End S.\n")
    path = write(tmp_path, "Sec.v", text)
    assert prover.open_negation(site(path, text, "in_section"), text) is None
    closed = text.replace("Variable k : nat.\n", "")
    closed = closed.replace("k = k + 0", "forall k : nat, k = k + 0")
    assert prover.open_negation(site(path, closed, "in_section"), closed) is not None


@pytest.mark.coq
@needs_coq
def test_check_file_reports_the_failing_line(tmp_path: Path, prover: CoqProver) -> None:
    good = "Lemma a : 1 = 1.\nProof.\n  reflexivity.\nQed.\n"
    path = write(tmp_path, "Check.v", good)
    assert prover.check_file(path, good).ok
    bad = good + "\nLemma b : 1 = 2.\nProof.\n  reflexivity.\nQed.\n"
    check = prover.check_file(path, bad)
    assert not check.ok
    assert check.line == 8
    assert "Unable to unify" in check.message
    assert list(tmp_path.iterdir()) == [path]  # nothing written beside the file itself


@pytest.mark.coq
@needs_coq
def test_axioms_reals_and_admitted(tmp_path: Path, prover: CoqProver) -> None:
    text = ("Require Import Reals Lra.\nOpen Scope R_scope.\n\n"
            "Lemma abs_nonneg (x : R) : Rabs x >= 0.\nProof. apply Rle_ge, Rabs_pos. Qed.\n\n"
            "Lemma helper : 1 = 1.\nProof. Admitted.\n\n"
            "Lemma uses (x : R) : Rabs x >= 0 /\\ 1 = 1.\n"
            "Proof. split. apply abs_nonneg. apply helper. Qed.\n\n"
            "Lemma closed : (2 = 2)%nat.\nProof. reflexivity. Qed.\n")
    path = write(tmp_path, "Ax.v", text)
    at = {s: text.index(f"Lemma {s} ") for s in ("uses", "closed", "abs_nonneg")}
    found = prover.judge(path, text, at["uses"])  # the Reals axioms are the library's
    assert not found.ok and found.refused == ("helper (admitted)",) and found.assumes == ()
    assert prover.untrusted(path, text, text, at["uses"]) == ("helper (admitted)",)
    assert prover.untrusted(path, text, text, at["abs_nonneg"]) == ()
    closed = prover.judge(path, text, at["closed"])
    assert closed.ok and closed.assumes == ()


@pytest.mark.coq
@needs_coq
def test_project_dependencies_are_built_and_required(tmp_path: Path, prover: CoqProver) -> None:
    (tmp_path / "theories").mkdir()
    write(tmp_path, "_CoqProject", "-R theories Quant\n\ntheories/Base.v\ntheories/Use.v\n")
    base = "Definition three := 3.\nLemma three_pos : 0 < three.\nProof. Admitted.\n"
    write(tmp_path / "theories", "Base.v", base)
    use = ("From Quant Require Import Base.\n\nLemma use : 0 < three /\\ three = 3.\n"
           "Proof.\n  Admitted.\n")
    path = write(tmp_path / "theories", "Use.v", use)
    root = prover.open(site(path, use, "use"), use)
    assert (tmp_path / "theories" / "Base.vo").exists()
    s1 = progress(prover.apply(root, "split.", 5))
    s2 = progress(prover.apply(s1, "apply three_pos.", 5))
    assert prover.apply(s2, "reflexivity.", 5) == Solved(("split.", "apply three_pos.",
                                                         "reflexivity."))
    proved = use.replace("  Admitted.", "  split. apply three_pos. reflexivity. Qed.")
    assert prover.check_file(path, proved).ok
    at = proved.index("Lemma use ")
    assert prover.untrusted(path, use, proved, at) == ("Quant.Base.three_pos",)
    assert not (tmp_path / "theories" / "Use.vo").exists()  # the checked copy lives elsewhere


@pytest.mark.coq
@needs_coq
def test_prover_crashed_when_restarts_keep_failing(tmp_path: Path) -> None:
    text = "Quit.\n\nLemma never : True.\nProof.\n  Admitted.\n"  # coqtop exits on every replay
    path = write(tmp_path, "Quits.v", text)
    with CoqProver(max_restarts=2, backoff=0.05) as p:
        with pytest.raises(ProverCrashed, match="failed 3 times in a row"):
            p.open(site(path, text, "never"), text)
        assert p.restarts == 3


@pytest.mark.coq
@needs_coq
def test_close_ends_coqtop(tmp_path: Path) -> None:
    path = write(tmp_path, "Arith6.v", ARITH)
    with CoqProver() as p:
        p.open(site(path, ARITH, "two_goals"), ARITH)
        pid = p.pid
        assert pid is not None
    assert p.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.coq
@needs_coq
def test_session_is_silent_goals_are_read_with_show(tmp_path: Path, prover: CoqProver,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Replayed steps print nothing (their goals were never read; printing them was most of a
    replay's cost); a tried tactic's goals still come back, read with ``Show.``."""
    from alphaquant.provers.coq import coqtop

    sent: list[tuple[str, str]] = []
    command = coqtop.CoqTop.command

    def recording(self: coqtop.CoqTop, text: str, seconds: float) -> coqtop.Reply:
        reply = command(self, text, seconds)
        sent.append((text, reply.output))
        return reply

    monkeypatch.setattr(coqtop.CoqTop, "command", recording)
    path = write(tmp_path, "Quiet.v", ARITH)
    root = prover.open(site(path, ARITH, "two_goals"), ARITH)
    s1 = progress(prover.apply(root, "intros n.", 5))
    s2 = progress(prover.apply(s1, "split.", 5))
    assert isinstance(prover.apply(root, "reflexivity.", 5), TacticError)  # the line goes back
    sent.clear()
    s3 = progress(prover.apply(s2, "rewrite <- plus_n_O.", 5))  # intros, split replayed first
    assert [g.conclusion for g in s3.goals] == ["n = n", "n = n"]
    assert s3.goals[0].hypotheses == ("n : nat",)
    tactics = [(t, out) for t, out in sent if t.startswith("Timeout")]
    assert [t for t, _ in tactics] == ["Timeout 60 intros n.", "Timeout 60 split.",
                                       "Timeout 5 rewrite <- plus_n_O."]
    assert all(parse_goals(out) is None for _, out in tactics)
    assert [t for t, _ in sent].count("Show.") == 1
    # the next step below needs neither a replay nor a BackTo: the line stands at the Show
    sent.clear()
    progress(prover.apply(s3, "reflexivity.", 5))
    assert [t for t, _ in sent] == ["Timeout 5 reflexivity.", "Show."]
    # a product node's goal is read from the focused session, as before
    focused = prover.focus(s3, 1)
    assert focused is not None and [g.conclusion for g in focused.goals] == ["n = n"]


RECALL = """Require Import Arith.

Lemma succ_twice : forall a b : nat, S (S a) = S (S b) -> a = b.
Proof. intros a b H. injection H. auto. Qed.

Lemma recalled_steps : forall x y : nat, x <= y -> x + 0 <= y /\\ x + 0 <= y.
Proof.
Admitted.
"""


@pytest.mark.coq
@needs_coq
def test_a_rejected_step_on_one_conclusion_is_recalled_at_another_context(
        tmp_path: Path, prover: CoqProver, monkeypatch: pytest.MonkeyPatch) -> None:
    """``apply`` of a global lemma fails or not by the focused conclusion (and the declarations
    of the variables it names): Coq's rejection at one state answers the same step at a state
    whose context differs elsewhere, without sending it. A hypothesis step, another conclusion
    or another declaration of a named variable is sent again."""
    from alphaquant.provers.coq import coqtop

    sent: list[str] = []
    command = coqtop.CoqTop.command

    def recording(self: coqtop.CoqTop, text: str, seconds: float) -> coqtop.Reply:
        sent.append(text)
        return command(self, text, seconds)

    monkeypatch.setattr(coqtop.CoqTop, "command", recording)
    path = write(tmp_path, "Recall.v", RECALL)
    root = prover.open(site(path, RECALL, "recalled_steps"), RECALL)
    both = progress(prover.apply(root, "intros x y H.", 5))
    left = progress(prover.apply(both, "split.", 5))  # x + 0 <= y, twice, with H
    bare = progress(prover.apply(left, "clear H.", 5))  # the same conclusion, H gone
    assert bare.goals[0].conclusion == left.goals[0].conclusion
    first = prover.apply(left, "apply succ_twice.", 5)
    assert isinstance(first, TacticError) and prover.recall.recalled == 0
    sent.clear()
    again = prover.apply(bare, "apply succ_twice.", 5)
    assert isinstance(again, TacticError) and again.message == first.message
    assert sent == [] and prover.recall.recalled == 1
    # a hypothesis named by the step: Coq is asked
    assert isinstance(prover.apply(left, "apply H.", 5), TacticError)
    sent.clear()
    assert isinstance(prover.apply(bare, "apply H.", 5), TacticError)
    assert any("apply H" in t for t in sent)
    # a step that worked is never recalled as failing
    progress(prover.apply(left, "rewrite <- plus_n_O.", 5))
    sent.clear()
    progress(prover.apply(bare, "rewrite <- plus_n_O.", 5))
    assert any("plus_n_O" in t for t in sent) and prover.recall.recalled == 1


def test_a_recall_key_holds_the_declarations_of_the_variables_the_conclusion_names() -> None:
    from alphaquant.provers.base import Subgoal
    from alphaquant.provers.coq.recall import key

    def state(*hypotheses: str, conclusion: str = "f x = y") -> ProofState:
        return ProofState((Subgoal(hypotheses, conclusion),))

    nat = key("env", state("x, y : nat", "f : nat -> nat", "H : x < 3"), "apply L.")
    assert nat == key("env", state("x, y : nat", "f : nat -> nat"), "apply   L .")
    assert nat != key("env", state("x : Z", "y : nat", "f : Z -> nat"), "apply L.")
    assert nat != key("env", state("x, y : nat", "f := S : nat -> nat"), "apply L.")
    assert nat != key("other", state("x, y : nat", "f : nat -> nat"), "apply L.")
    assert key("env", state("x, y : nat", "L : f x = y"), "apply L.") is None  # a hypothesis
    assert key("env", state("x : nat"), "lia.") is None  # reads the hypotheses
    assert key("env", state(conclusion="?n = 2"), "apply L.") is None  # an existential variable
    assert key("env", state("x, y : nat"), "rewrite <- Nat.add_0_r.") is not None


@pytest.mark.coq
@needs_coq
def test_the_first_goal_opens_while_the_file_is_checked(tmp_path: Path,
                                                        prover: CoqProver) -> None:
    path = write(tmp_path, "Both.v", ARITH)
    goal = site(path, ARITH, "two_goals")
    assert prover.check_file_opening(path, ARITH, goal).ok
    waited = prover.wait_seconds
    assert waited > 0  # coqtop fed the prefix beside the check
    root = prover.open(goal, ARITH)
    assert prover.wait_seconds == waited  # the search's open finds its root reached
    assert root.goals[0].conclusion == "forall n : nat, n + 0 = n /\\ n = n"
    # a prefix that fails: the check says where; the opening beside it raises nothing
    bad = ARITH.replace("Lia.\n", "Lia.\nLemma bad : 1 = 2.\nProof. reflexivity. Qed.\n", 1)
    check = prover.check_file_opening(path, bad, site(path, bad, "two_goals"))
    assert not check.ok and check.line == 3
    with pytest.raises(FileDoesNotCompile):
        prover.open(site(path, bad, "two_goals"), bad)
