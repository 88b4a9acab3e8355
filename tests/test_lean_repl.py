"""The Lean REPL client against the REPL's own transcripts, replayed by tests/replay_repl.py.

The replay is a real child process spoken to over pipes, so framing, deadlines, group kills,
restarts and restores run as they would against ``lake env repl``. Only the ``lean``-marked test
needs a real toolchain.

For an MCTS-over-replay test, ``proof_branching`` suits best (four tactics, two goals with case
tags, then "Completed"); ``readme`` is the shortest (two tactics); ``by_cases`` and
``mathlib/induction`` branch from an earlier state. See ``replay_prover`` below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lean_interact.interface import (
    Command,
    CommandResponse,
    LeanError,
    Message,
    Pos,
    ProofStep,
    ProofStepResponse,
)

from alphaquant.errors import ProverNotInstalled, ProverStartError
from alphaquant.goals import locate
from alphaquant.proof import disproof_lemma
from alphaquant.provers.base import (
    Progress,
    ProofState,
    Prover,
    Solved,
    Subgoal,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.lean import setup as lean_setup
from alphaquant.provers.lean.goals import goal_text, parse_goal, parse_goals
from alphaquant.provers.lean.prover import LeanProver, negation_statement
from alphaquant.provers.lean.responses import parse_axioms, sorry_warnings
from alphaquant.provers.lean.session import ReplTimeout
from alphaquant.provers.lean.source import split_source
from alphaquant.provers.negation import lean_negation, lean_universes
from alphaquant.sites.site import GoalSite

sys.path.insert(0, str(Path(__file__).parent))
import replay_repl  # noqa: E402
from lean_replay import REPLAY_CONFIG, replay_prover, replay_session  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NAMES = replay_repl.transcript_names()


def site(text: str, hole: str = "sorry", nth: int = 0, path: str = "T.lean") -> GoalSite:
    """The GoalSite of the ``nth`` ``hole`` in ``text``, as goals.locate reports one."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(hole, start + 1)
    line = text.count("\n", 0, start) + 1
    col = start - (text.rfind("\n", 0, start) + 1)
    keyword = max(text.rfind(k, 0, start) for k in ("theorem ", "example ", "def ", "lemma "))
    assign = text.index(":=", keyword)
    by = text.rfind("by", 0, start)
    kind = "by sorry" if text[by:start].strip() == "by" else "sorry"
    return GoalSite(
        file=Path(path),
        theorem=(text[keyword:].split()[1] if not text.startswith("example", keyword) else ""),
        line=line,
        col=col,
        kind=kind,
        start=by if kind == "by sorry" else start,
        end=start + len(hole),
        decl_start=keyword,
        statement=text[keyword:assign].strip(),
    )


def group_alive(pgid: int) -> list[int]:
    """Live (non-zombie) processes of the process group ``pgid``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(entry.name))
    return alive


# ---------------------------------------------------------------------------------------------
# Every transcript, through the real client


@pytest.mark.parametrize("name", NAMES)
def test_transcript_replays_through_lean_interact(name: str) -> None:
    """Every recorded request goes through lean-interact's typed requests and server, and every
    recorded answer comes back as the library's typed response, field for field."""
    session = replay_session(name)
    try:
        for request_json, recorded in replay_repl.load_transcript(name):
            request = _request(request_json)
            if request is None:  # a file or pickle request: sent as its raw JSON
                answer = session.server._run_dict_backoff(request_json, False, 10)
                assert answer == json.loads(recorded)
                continue
            assert request.model_dump(exclude_none=True, by_alias=True) == request_json
            response = session.server.run(request, timeout=10)
            expected = json.loads(recorded)
            if isinstance(response, LeanError):
                assert response.message == expected["message"]
                continue
            dumped = response.model_dump(exclude_none=True, by_alias=True)
            for key, value in expected.items():
                assert dumped[key] == value, key
            _check_types(response)
    finally:
        session.close()


def _request(obj: dict[str, object]) -> Command | ProofStep | None:
    if "tactic" in obj:
        return ProofStep.model_validate(obj)
    if "cmd" in obj:
        return Command.model_validate(obj)
    return None


def _check_types(response: object) -> None:
    """The goals of an answer as the project reads them."""
    assert isinstance(response, CommandResponse | ProofStepResponse)
    for s in response.sorries:
        assert goal_text(parse_goal(s.goal)) == s.goal.strip()
    if isinstance(response, ProofStepResponse):
        for text in response.goals:
            goal = parse_goal(text)
            assert goal_text(goal) == text
            if text.startswith("case "):
                assert goal.hypotheses[0] == text.split("\n")[0]


def _answers(name: str) -> list[object]:
    out: list[object] = []
    for request, answer in replay_repl.load_transcript(name):
        data = json.loads(answer)
        if set(data) == {"message"}:
            out.append(LeanError.model_validate(data))
        elif "tactic" in request or "proofState" in data:
            out.append(ProofStepResponse.model_validate(data))
        else:
            out.append(CommandResponse.model_validate(data))
    return out


def test_sorries_goals_and_warnings_are_typed() -> None:
    (answer,) = _answers("tactic_sorry")
    assert isinstance(answer, CommandResponse)
    assert parse_goals(answer.sorries[0].goal) == (Subgoal((), "Nat"),)
    assert answer.sorries[0].start_pos == Pos(line=1, column=18)
    assert [m.data for m in sorry_warnings(answer.messages)] == ["declaration uses `sorry`"]
    old = Message(pos=Pos(line=1, column=4), severity="warning", data="declaration uses 'sorry'")
    assert sorry_warnings([old]) == [old]
    assert sorry_warnings([old.model_copy(update={"severity": "info"})]) == []


def test_branching_goals_keep_case_tags_first() -> None:
    answer = _answers("proof_branching")[1]
    assert isinstance(answer, ProofStepResponse)
    left = parse_goal(answer.goals[0])
    assert left.hypotheses == ("case left", "p q r : Prop", "h1 : p ∧ q", "h2 : q → r")
    assert left.conclusion == "p"
    assert answer.proof_status == "Incomplete: open goals remain"
    last = _answers("proof_branching")[-1]
    assert isinstance(last, ProofStepResponse)
    assert (last.proof_state, last.goals, last.proof_status) == (4, [], "Completed")


def test_statuses_errors_and_tactic_sorries() -> None:
    by_cases = _answers("by_cases")[-1]
    assert isinstance(by_cases, ProofStepResponse)
    assert by_cases.proof_status == "Incomplete: contains sorry" and by_cases.goals == []
    assert [s.start_pos for s in by_cases.sorries] == [None, None]
    invalid = _answers("invalid_tactic")[-1]
    assert isinstance(invalid, ProofStepResponse)
    assert invalid.get_errors()[0].data == "Unknown identifier `my_fake_premise`"
    assert invalid.get_errors()[0].start_pos == Pos(line=0, column=0)
    mvars = _answers("app_type_mismatch")[-1]
    assert isinstance(mvars, ProofStepResponse)
    assert mvars.proof_status == "Incomplete: contains metavariable(s)"
    unknown = _answers("unknown_tactic")[-1]
    assert unknown == LeanError(message="Lean error:\n<input>:1:1: unknown tactic")
    assert _answers("unknown_proof_state")[-1] == LeanError(message="Unknown proof state.")
    exact = _answers("mathlib/exact")[2]
    assert isinstance(exact, ProofStepResponse) and exact.proof_status == "Completed"
    assert not exact.get_errors()


def test_tactics_root_goals_and_unsolved_goals() -> None:
    (calc,) = _answers("calc")
    assert isinstance(calc, CommandResponse) and len(calc.tactics) == 4
    assert "sorryAx" in calc.tactics[0].used_constants
    assert parse_goals(calc.tactics[1].goals) == ()
    roots = _answers("self_proof_check")[7]
    assert isinstance(roots, CommandResponse)
    assert roots.sorries[1].start_pos == roots.sorries[1].end_pos
    unsolved = _answers("mathlib/H20231115_3")[1]
    assert isinstance(unsolved, CommandResponse)
    goals = parse_goals(unsolved.get_errors()[0].data.removeprefix("unsolved goals\n"))
    assert [g.hypotheses[0] for g in goals] == ["case zero", "case succ"]
    assert goals[1].conclusion == "x + 1 + 1 > x + 1"


def test_goal_text_with_wrapped_lines() -> None:
    goal = parse_goal("case h\nx : ℝ\nh :\n  a very long\n    hypothesis\n⊢ x =\n    x")
    assert goal.hypotheses == ("case h", "x : ℝ", "h :\n  a very long\n    hypothesis")
    assert goal.conclusion == "x =\n    x"
    assert parse_goal("\n⊢ Nat") == Subgoal((), "Nat")  # older REPLs start with a newline


def test_axioms_messages() -> None:
    assert parse_axioms("'Foo.t' depends on axioms: [propext,\n Classical.choice, Quot.sound]") == (
        "Foo.t",
        frozenset({"propext", "Classical.choice", "Quot.sound"}),
    )
    assert parse_axioms("'a'_b' does not depend on any axioms") == ("a'_b", frozenset())
    assert parse_axioms("unknown constant 'x'") is None


# ---------------------------------------------------------------------------------------------
# Lean text


def test_split_source_keeps_positions() -> None:
    text = "/- c -/\nimport Mathlib\nopen Real\n\ntheorem t : π > 0 := by sorry\n"
    src = split_source(text)
    assert src.header == "/- c -/\nimport Mathlib\nopen Real"
    assert src.body == "\ntheorem t : π > 0 := by sorry\n" and src.line_offset == 3
    assert split_source("open Nat in\ntheorem t : True := trivial").header == ""
    assert split_source("theorem t : True := trivial").body == "theorem t : True := trivial"
    same_line = split_source("import A theorem t : True := trivial")
    assert (
        same_line.header == "import A"
        and same_line.body == "        " + " theorem t : True := trivial"
    )


def test_negation_statement() -> None:
    assert (
        negation_statement("theorem foo (x y : ℕ) {α} [Group α] ⦃z : α⦄ : x + y = y + x")
        == "theorem aq_negation : _root_.Not (∀ (x y : ℕ) {α} [Group α] ⦃z : α⦄, x + y = y + x)"
        " := by sorry"
    )
    assert negation_statement("example : (fun x : ℕ => x) 1 = 1 := rfl") == (
        "theorem aq_negation : _root_.Not ((fun x : ℕ => x) 1 = 1) := by sorry"
    )
    assert negation_statement("lemma u.{v} (α : Sort v) : α = α") == (
        "theorem aq_negation.{v} : _root_.Not (∀ (α : Sort v), α = α) := by sorry"
    )
    assert negation_statement("def f : Nat") is None
    assert negation_statement("theorem t (n : ℕ := 3) : n = n") is None


def test_one_lean_negation_for_the_prover_and_the_disproof_lemma() -> None:
    header = "theorem u.{v} {α : Sort v} ⦃a : α⦄ : a = a"
    assert lean_negation(header) == "_root_.Not (∀ {α : Sort v} ⦃a : α⦄, a = a)"
    assert lean_universes(header) == ".{v}"
    assert lean_negation("@[simp] lemma z : 0 = 0 := rfl") == "_root_.Not (0 = 0)"
    assert lean_negation("Lemma z : 0 = 0.") is None  # Coq is coq_negation's
    text = header + " := by sorry\n"
    (goal,) = locate(text, Path("T.lean"))
    name, lemma = disproof_lemma(goal, ("simp",)) or ("", "")
    assert name == "aq_disproof_u"
    assert lemma.startswith(
        "theorem aq_disproof_u.{v} : _root_.Not (∀ {α : Sort v} ⦃a : α⦄, a = a) := by")


# ---------------------------------------------------------------------------------------------
# The prover over replayed transcripts

BRANCHING = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry"
BRANCHING_PROOF = ("apply And.intro", "exact h1.left", "apply h2", "exact h1.right")


def _walk(prover: LeanProver, state: ProofState, tactics: tuple[str, ...]) -> object:
    outcome: object = Progress(state)
    for tactic in tactics:
        assert isinstance(outcome, Progress), outcome
        outcome = prover.apply(outcome.state, tactic, timeout=10)
    return outcome


def test_prover_solves_proof_branching() -> None:
    prover = replay_prover("proof_branching")
    assert isinstance(prover, Prover)
    try:
        root = prover.open(site(BRANCHING), BRANCHING)
        assert root.goals == (Subgoal(("p q r : Prop", "h1 : p ∧ q", "h2 : q → r"), "p ∧ r"),)
        split = prover.apply(root, "apply And.intro", timeout=10)
        assert isinstance(split, Progress) and len(split.state.goals) == 2
        assert split.state.path == ("apply And.intro",)
        assert prover.apply(root, "simp", 10) == TacticError("replay: no recorded response")
        assert _walk(prover, root, BRANCHING_PROOF) == Solved(BRANCHING_PROOF)
    finally:
        prover.close()


def test_prover_solves_readme_def() -> None:
    text = "def f (x : Unit) : Nat := by sorry"
    with _closing(replay_prover("readme")) as prover:
        root = prover.open(site(text), text)
        assert root.goals == (Subgoal(("x : Unit",), "Nat"),)
        assert _walk(prover, root, ("apply Int.natAbs", "exact -37")) == Solved(
            ("apply Int.natAbs", "exact -37")
        )


@pytest.mark.parametrize(
    ("name", "text", "tactics", "expected"),
    [
        ("invalid_tactic", "theorem my_theorem (x : Nat) : x = x := by sorry",
         ("exact my_fake_premise",), "Unknown identifier `my_fake_premise`"),
        ("unknown_tactic", "def f : Nat := by sorry", ("exat 42",), "unknown tactic"),
        ("have_by_sorry", "theorem foo (x : Int) : x = x := by\n  have h : x = 1 := by sorry",
         ("have h : x = 1 := by sorry",), "leaves a `sorry`"),
        ("by_cases", "theorem foo (x : Int) : x = x := by sorry",
         ("by_cases h : x < 0", "all_goals sorry"), "leaves a `sorry`"),
        ("app_type_mismatch", "example : 1 = 0 := sorry",
         ("cases 1", "rfl", "apply ?succ"), "contains metavariable(s)"),
        ("mathlib/20240209", "example : False := by sorry",
         ("simpa using show False by done",), "unsolved goals"),
        ("mathlib/placeholder_synthesis", "import Mathlib\nexample : 1 = 0 := sorry",
         ("cases' exists_ne 2 with n h", "simpa [] using h _"), "contains metavariable(s)"),
        ("mathlib/on_goal",
         "import Mathlib\nopen Real\nexample {x : ℝ} (h0: |x| > 1) : (x < 0) ∨ (2 * x > 2) := "
         "by sorry", ("on_goal 1 =>\n  have h1 : x = x := by sorry\n  have h2 : x = x := by sorry"
                      "\n  by_cases h3 : x < 0",), "leaves a `sorry`"),
        ("mathlib/exact", "import Mathlib\ntheorem test : 3 = 7 := by sorry", ("exact?",),
         "could not close the goal"),
    ],
)  # fmt: skip
def test_prover_failures_are_tactic_errors(
    name: str, text: str, tactics: tuple[str, ...], expected: str
) -> None:
    with _closing(replay_prover(name)) as prover:
        root = prover.open(site(text), text)
        outcome = _walk(prover, root, tactics)
        assert isinstance(outcome, TacticError) and expected in outcome.message, outcome


def test_prover_branches_from_earlier_states() -> None:
    text = "import Mathlib\ntheorem foo (x : Nat) : x = x := by sorry"
    with _closing(replay_prover("mathlib/induction")) as prover:
        root = prover.open(site(text), text)
        assert root.goals == (Subgoal(("x : ℕ",), "x = x"),)
        cases = prover.apply(root, "induction x", 10)
        assert isinstance(cases, Progress)
        assert [g.hypotheses[0] for g in cases.state.goals] == ["case zero", "case succ"]
        assert isinstance(prover.apply(cases.state, "next => rfl", 10), Progress)
        again = prover.apply(root, "induction x with\n| zero => sorry\n| succ x => sorry", 10)
        assert again == TacticError("the tactic leaves a `sorry`")


def test_prover_solves_with_info_messages_and_mathlib_header() -> None:
    text = "import Mathlib\ntheorem test : 0 < 1 := by sorry\n"
    with _closing(replay_prover("mathlib/exact")) as prover:
        root = prover.open(site(text), text.rstrip("\n"))
        # The REPL's "Try this:" suggestion is the step written, not `exact?` itself.
        assert prover.apply(root, "exact?", 10) == Solved(("exact Nat.one_pos",))
        assert isinstance(prover.apply(root, "exact?", 10), Solved)  # the root stays usable


def test_check_file() -> None:
    header = replay_repl.load_transcript("mathlib/H20231020")[0][0]["cmd"]
    proof = "theorem mathd_numbertheory_188 : Nat.gcd 180 168 = 12 := by norm_num"
    with _closing(replay_prover("mathlib/H20231020")) as prover:
        assert prover.check_file(Path("A.lean"), f"{header}\n{proof}").ok
    broken = (
        "import Mathlib\nexample : 1 = 0 := by\n  cases' exists_ne 2 with n h\n  simpa [] using h _"
    )
    with _closing(replay_prover("mathlib/placeholder_synthesis")) as prover:
        check = prover.check_file(Path("B.lean"), broken)
        assert not check.ok and check.line == 4
        assert check.message.startswith("don't know how to synthesize placeholder")
    kernel = "example : 1 = 0 := by\n  cases 1\n  rfl\n  apply ?succ"
    with _closing(replay_prover("app_type_mismatch")) as prover:
        check = prover.check_file(Path("C.lean"), kernel)
        assert check == dataclasses.replace(
            check, ok=False, line=1, message="(kernel) declaration has metavariables '_example'"
        )


@contextlib.contextmanager
def _closing(prover: LeanProver) -> Iterator[LeanProver]:
    try:
        yield prover
    finally:
        prover.close()


def _synthetic(tmp_path: Path, name: str, pairs: list[tuple[object, object]]) -> None:
    replay_repl.write_transcript(tmp_path, name, pairs)


def _message(data: str, severity: str = "info") -> dict[str, object]:
    pos = {"line": 1, "column": 0}
    return {"severity": severity, "pos": pos, "endPos": pos, "data": data}


def test_negation_on_synthetic_answers(tmp_path: Path) -> None:
    text = "theorem t (x : Nat) : x + 0 = x := by sorry"
    negation = "theorem aq_negation : _root_.Not (∀ (x : Nat), x + 0 = x) := by sorry"
    sorry = {"proofState": 0, "goal": "⊢ ¬∀ (x : Nat), x + 0 = x"}
    pos = {"pos": {"line": 1, "column": 65}, "endPos": {"line": 1, "column": 70}}
    answer = {"env": 0, "sorries": [{**sorry, **pos}]}
    _synthetic(tmp_path, "synthetic", [({"cmd": negation}, answer)])
    prover = replay_prover("synthetic", flags=("--fixtures", str(tmp_path)))
    try:
        state = prover.open_negation(site(text), text)
        assert state is not None and state.goals == (Subgoal((), "¬∀ (x : Nat), x + 0 = x"),)
        assert (
            prover.open_negation(dataclasses.replace(site(text), statement="def t"), text) is None
        )
    finally:
        prover.close()


def test_absolute_value_header_is_negated_whole_on_the_replay(tmp_path: Path) -> None:
    text = "theorem t (x : Int) :\n    |x| ≥ 0 := by sorry"
    negation = "theorem aq_negation : _root_.Not (∀ (x : Int), |x| ≥ 0) := by sorry"
    sorry = {"proofState": 0, "goal": "⊢ ¬∀ (x : ℤ), |x| ≥ 0",
             "pos": {"line": 1, "column": 62}, "endPos": {"line": 1, "column": 67}}
    _synthetic(tmp_path, "abs", [({"cmd": negation}, {"env": 0, "sorries": [sorry]})])
    prover = replay_prover("abs", flags=("--fixtures", str(tmp_path)))
    (located,) = locate(text, Path("T.lean"))
    try:
        state = prover.open_negation(located, text)
        assert state is not None and state.goals == (Subgoal((), "¬∀ (x : ℤ), |x| ≥ 0"),)
    finally:
        prover.close()


# ---------------------------------------------------------------------------------------------
# Faults: crash, hang, garbage, start-up failures, memory recycling


def _branching(flags: tuple[str, ...], **options: object) -> tuple[LeanProver, ProofState]:
    config = dataclasses.replace(REPLAY_CONFIG, **options)  # type: ignore[arg-type]
    prover = replay_prover("proof_branching", flags=flags, config=config)
    return prover, prover.open(site(BRANCHING), BRANCHING)


def _pid(prover: LeanProver) -> int | None:
    return prover.session._pid()


@pytest.mark.parametrize("fault", ["--crash-at", "--garbage-at"])
def test_death_once_is_survived_by_restart_and_rebuild(fault: str, tmp_path: Path) -> None:
    prover, root = _branching((fault, "4", "--fault-once", str(tmp_path / "fired")))
    try:
        first_pid = _pid(prover)
        assert _walk(prover, root, BRANCHING_PROOF) == Solved(BRANCHING_PROOF)
        assert (tmp_path / "fired").exists()
        assert _pid(prover) != first_pid
        assert first_pid is not None and not group_alive(first_pid)
    finally:
        prover.close()


def test_repeated_death_is_reported_as_a_tactic_error() -> None:
    prover, root = _branching(("--crash-at", "4"))
    try:
        outcome = _walk(prover, root, BRANCHING_PROOF[:3])
        assert isinstance(outcome, TacticError) and "died twice" in outcome.message
        assert isinstance(prover.apply(root, "apply And.intro", 10), Progress)  # still usable
    finally:
        prover.close()


def test_hang_is_a_timeout_that_kills_the_process_tree_and_recovers(tmp_path: Path) -> None:
    prover, root = _branching(("--hang-at", "3", "--fault-once", str(tmp_path / "fired")))
    try:
        split = prover.apply(root, "apply And.intro", 10)
        assert isinstance(split, Progress)
        pid = _pid(prover)
        assert pid is not None
        assert prover.apply(split.state, "exact h1.left", timeout=1.0) == TacticTimeout(1.0)
        assert _pid(prover) is None
        assert not group_alive(pid)  # the replay's sleeping child went with it
        assert _walk(prover, split.state, BRANCHING_PROOF[1:]) == Solved(BRANCHING_PROOF)
    finally:
        prover.close()


def test_timeout_is_raised_by_the_session() -> None:
    session = replay_session("readme", flags=("--hang-at", "1"))
    try:
        with pytest.raises(ReplTimeout, match="no answer within 0.5 s"):
            session.command("def f (x : Unit) : Nat := by sorry", None, timeout=0.5)
    finally:
        session.close()


def test_states_are_rebuilt_in_a_fresh_repl_that_numbers_from_zero() -> None:
    """After a restart the replay numbers ids 0, 1, 2 … as a fresh REPL does: the header's
    environment comes back through lean-interact's session cache, the proof states through
    their recipes (command and sorry, then each tactic), and the step runs on the right one."""
    text = "theorem foo (x : Int) : x = x := by sorry"
    prover = replay_prover("by_cases", flags=("--renumber",))
    try:
        root = prover.open(site(text), text)
        split = prover.apply(root, "by_cases h : x < 0", 10)
        assert isinstance(split, Progress)
        old = _pid(prover)
        prover.session.server.kill()
        pos = prover.apply(split.state, "case pos => rfl", 10)
        assert isinstance(pos, Progress) and _pid(prover) not in (None, old)
        assert pos.state.path == ("by_cases h : x < 0", "case pos => rfl")
    finally:
        prover.close()


def test_failed_rebuild_raises_prover_crashed(tmp_path: Path) -> None:
    """A process that answers the recipe differently (here: dies on it, every time) is a
    crash the session gives up on, not a wrong state."""
    prover, root = _branching(("--crash-at", "2"))
    try:
        prover.session.server.kill()
        outcome = prover.apply(root, "apply And.intro", 10)
        assert isinstance(outcome, TacticError) and "died" in outcome.message
    finally:
        prover.close()


def test_repl_dying_at_start_up_is_a_start_error() -> None:
    text = "def f (x : Unit) : Nat := by sorry"
    with pytest.raises(ProverStartError, match="exited before its first answer"):
        prover = replay_prover("readme", flags=("--exit-at-start", "3"))
        prover.open(site(text), text)


def test_bad_header_is_a_start_error(tmp_path: Path) -> None:
    bad = {"severity": "error", "pos": {"line": 1, "column": 0}, "endPos": None}
    answer = {"env": 0, "messages": [{**bad, "data": "unknown module prefix 'Nope'"}]}
    _synthetic(tmp_path, "header", [({"cmd": "import Nope"}, answer)])
    prover = replay_prover("header", flags=("--fixtures", str(tmp_path)))
    text = "import Nope\ntheorem t : True := by sorry"
    try:
        with pytest.raises(ProverStartError, match="do not load in Lean: unknown module prefix"):
            prover.open(site(text), text)
        check = prover.check_file(Path("T.lean"), text)
        assert not check.ok and check.line == 1
    finally:
        prover.close()


def test_missing_lake_and_repl_are_not_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lakefile.toml").write_text('name = "T"\n')
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.34.0\n")
    (tmp_path / "T.lean").write_text("theorem t : True := by sorry\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProverNotInstalled, match=r"lake not on PATH\): run `make lean`"):
        LeanProver.for_file(tmp_path / "T.lean", repl_dir=tmp_path)
    fake_lake = tmp_path / "lake"
    fake_lake.write_text("#!/bin/sh\nexit 1\n")
    fake_lake.chmod(0o755)
    with pytest.raises(ProverNotInstalled, match="REPL is not built"):
        LeanProver.for_file(tmp_path / "T.lean", repl_dir=tmp_path / "no-repl")


# ---------------------------------------------------------------------------------------------
# A real Lean, where there is one


def _real_repl() -> Path | None:
    """The REPL `make lean` built (or the one $ALPHAQUANT_LEAN_REPL names), if any."""
    folder = lean_setup.repl_dir(lean_setup.read_toolchain(REPO / "lean_project"))
    return folder if lean_setup.repl_binary(folder).exists() else None


@pytest.mark.lean
@pytest.mark.skipif(shutil.which("lake") is None, reason="needs lake on PATH (run `make lean`)")
def test_real_lean_on_a_tiny_project(tmp_path: Path) -> None:
    repl_dir = _real_repl()
    if repl_dir is None:
        pytest.skip("no built REPL: set ALPHAQUANT_LEAN_REPL to a built leanprover-community/repl")
    (tmp_path / "lakefile.toml").write_text('name = "tiny"\n')
    shutil.copy(repl_dir / "lean-toolchain", tmp_path / "lean-toolchain")
    text = BRANCHING + "\n"
    (tmp_path / "Tiny.lean").write_text(text)
    prover = LeanProver.for_file(tmp_path / "Tiny.lean", repl_dir=repl_dir)
    try:
        root = prover.open(site(text, path=str(tmp_path / "Tiny.lean")), text)
        assert root.goals[0].conclusion == "p ∧ r"
        assert _walk(prover, root, BRANCHING_PROOF) == Solved(BRANCHING_PROOF)
        assert isinstance(prover.apply(root, "exact nonsense", 60), TacticError)
        proved = text.replace("by sorry", "⟨h1.1, h2 h1.2⟩")
        assert prover.check_file(tmp_path / "Tiny.lean", proved).ok
        assert prover.untrusted(tmp_path / "Tiny.lean", text, proved, 0) == ()
        assert prover.open_negation(site(text), text) is not None
    finally:
        prover.close()
