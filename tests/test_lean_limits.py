"""The Lean backend's semantics and limits (issue 26), each on the replay REPL through
lean-interact: real child processes answering hand-written transcripts in the REPL's own JSON
shapes (an options command answers ``{"env": n}`` as the REPL's ``options`` test records; a
sorry, a warning and a "Try this" as its ``in_command_dependency`` test records). Every test reads
the replay's request log: what the client really sent is what is checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alphaquant.goals import locate
from alphaquant.proof import splice
from alphaquant.provers.base import Progress, Solved, TacticError
from alphaquant.provers.lean.lake import lean_options, set_options
from alphaquant.provers.lean.options import LeanConfig
from alphaquant.provers.lean.pool import SessionPool
from alphaquant.provers.lean.prover import LeanProver, negation_statement

sys.path.insert(0, str(Path(__file__).parent))
import replay_repl  # noqa: E402
from lean_replay import REPLAY_CONFIG, replay_project, replay_prover, replay_session  # noqa: E402

WARNING = {"severity": "warning", "pos": {"line": 1, "column": 8},
           "endPos": {"line": 1, "column": 9}, "data": "declaration uses `sorry`"}


def sorry(state: int, line: int, column: int, goal: str) -> dict[str, object]:
    return {"proofState": state, "pos": {"line": line, "column": column},
            "endPos": {"line": line, "column": column + 5}, "goal": goal}


def prover_over(tmp_path: Path, pairs: list[tuple[object, object]], *,
                config: LeanConfig = REPLAY_CONFIG, lakefile: str = "") -> LeanProver:
    replay_repl.write_transcript(tmp_path, "t", pairs)
    flags = ("--fixtures", str(tmp_path), "--log", str(tmp_path / "requests.jsonl"))
    return replay_prover("t", flags=flags, config=config, lakefile=lakefile)


def sent(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["request"] for line in lines]


# --- (1) a goal sees the declarations before it ---------------------------------------------

DEFS = """def double (n : Nat) : Nat := 2 * n

theorem double_two : double 2 = 4 := by sorry
"""


def test_a_goal_about_a_definition_of_the_same_file_is_proved(tmp_path: Path) -> None:
    """The definition goes first as a command of its own; the theorem then runs in the
    environment it left, so the sorry's proof state (recorded in the environment from before
    its command) knows `double`, and `rfl` unfolds it."""
    pairs = [
        ({"cmd": "def double (n : Nat) : Nat := 2 * n\n\n"}, {"env": 0}),
        ({"cmd": "theorem double_two : double 2 = 4 := by sorry\n", "env": 0},
         {"env": 1, "sorries": [sorry(0, 1, 40, "⊢ double 2 = 4")], "messages": [WARNING]}),
        ({"tactic": "rfl", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
    ]
    prover = prover_over(tmp_path, pairs)
    try:
        (site,) = locate(DEFS, Path("T.lean"))
        root = prover.open(site, DEFS)
        assert root.goals[0].conclusion == "double 2 = 4"
        assert prover.apply(root, "rfl", 10) == Solved(("rfl",))
    finally:
        prover.close()
    commands = [r for r in sent(tmp_path) if "cmd" in r]
    assert [c.get("env") for c in commands] == [None, 0]  # never the whole body at once
    assert "def double" not in str(commands[1]["cmd"])


def test_each_declaration_is_sent_once_for_all_goals_of_a_file(tmp_path: Path) -> None:
    text = "theorem a : True := by sorry\n\ntheorem b : True := by sorry\n"
    pairs = [
        ({"cmd": "theorem a : True := by sorry\n\n"},
         {"env": 0, "sorries": [sorry(0, 1, 23, "⊢ True")], "messages": [WARNING]}),
        ({"cmd": "theorem b : True := by sorry\n", "env": 0},
         {"env": 1, "sorries": [sorry(1, 1, 23, "⊢ True")], "messages": [WARNING]}),
    ]
    prover = prover_over(tmp_path, pairs)
    try:
        first, second = locate(text, Path("T.lean"))
        assert prover.open(second, text).goals[0].conclusion == "True"
        assert prover.open(first, text).goals[0].conclusion == "True"
    finally:
        prover.close()
    assert len(sent(tmp_path)) == 2  # the chunk of `a` served both as b's prefix and a's goal


# --- (2) heartbeats where Lean reads them; (6) the lakefile's options -------------------------

LAKEFILE = """name = "T"

[leanOptions]
autoImplicit = false
pp.unicode.fun = true
weak.linter.style = true
"""


def test_options_and_heartbeats_are_set_as_a_command_before_every_declaration(
    tmp_path: Path,
) -> None:
    """The lakefile's leanOptions (weak ones aside) and a configured maxHeartbeats go as one
    `set_option` command before the declarations, so they hold in every command after it, as
    `lake build`'s -D options do. A tactic step runs at Lean's default heartbeat limit (the REPL
    builds a proof state's Core context from empty options): its exhaustion is an answer in the
    shape repl issue #69 records, and the REPL is not restarted for it."""
    options = ("set_option autoImplicit false\nset_option pp.unicode.fun true\n"
               "set_option maxHeartbeats 20000")
    text = "import Mathlib\ntheorem t (x : Nat) : x + 0 = x := by sorry\n"
    exhausted = ("Lean error:\n(deterministic) timeout at `elaborator`, maximum number of "
                 "heartbeats (200000) has been reached\nUse `set_option maxHeartbeats <num>` to "
                 "set the limit.(invalid MessageData.lazy, missing context)")
    pairs = [
        ({"cmd": "import Mathlib"}, {"env": 0}),
        ({"cmd": options, "env": 0}, {"env": 1}),
        ({"cmd": "theorem t (x : Nat) : x + 0 = x := by sorry\n", "env": 1},
         {"env": 2, "sorries": [sorry(0, 1, 38, "x : ℕ\n⊢ x + 0 = x")], "messages": [WARNING]}),
        ({"tactic": "simp", "proofState": 0}, {"message": exhausted}),
        ({"tactic": "rfl", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
    ]
    config = LeanConfig(max_heartbeats=20000, command_timeout=20.0)
    prover = prover_over(tmp_path, pairs, config=config, lakefile=LAKEFILE)
    try:
        (site,) = locate(text, Path("T.lean"))
        root = prover.open(site, text)
        pid = prover.session._pid()
        outcome = prover.apply(root, "simp", 10)
        assert isinstance(outcome, TacticError)
        assert "maximum number of heartbeats" in outcome.message
        assert prover.session._pid() == pid  # exhaustion is an answer, not a restart
        assert prover.apply(root, "rfl", 10) == Solved(("rfl",))
    finally:
        prover.close()
    tactics = [r["tactic"] for r in sent(tmp_path) if "tactic" in r]
    assert tactics == ["simp", "rfl"]  # sent as written: no tactic-level set_option


def test_lakefile_options_are_read_from_both_lakefile_forms(tmp_path: Path) -> None:
    (tmp_path / "lakefile.toml").write_text(LAKEFILE)
    assert lean_options(tmp_path) == {"autoImplicit": False, "pp.unicode.fun": True}
    (tmp_path / "lakefile.toml").unlink()
    (tmp_path / "lakefile.lean").write_text(
        "package T where\n  leanOptions := #[⟨`autoImplicit, false⟩, ⟨`maxRecDepth, 2000⟩,"
        " ⟨`pp.proofs, true⟩]\n")
    found = lean_options(tmp_path)
    assert found == {"autoImplicit": False, "maxRecDepth": 2000, "pp.proofs": True}
    assert set_options(found).splitlines()[1] == "set_option maxRecDepth 2000"
    assert set_options({"trace.x": "a b"}) == 'set_option trace.x "a b"'


def test_lean_project_options_reach_the_repl() -> None:
    project = Path(__file__).resolve().parents[1] / "lean_project"
    assert lean_options(project)["autoImplicit"] is False


# --- (3) the pool never closes a REPL a prover uses ----------------------------------------


def test_pool_keeps_one_session_per_project_and_closes_none_early() -> None:
    pool = SessionPool(REPLAY_CONFIG)
    folders = [replay_project("readme") for _ in range(4)]
    try:
        first = pool.session(folders[0], folders[0], lake=str(folders[0] / "lake"))
        assert first.server.is_alive()  # started (on first use)
        pid = first._pid()
        for folder in folders[1:]:  # more projects than the old pool size
            pool.session(folder, folder, lake=str(folder / "lake"))
        again = pool.session(folders[0], folders[0], lake=str(folders[0] / "lake"))
        assert again is first and first._pid() == pid and first.server.is_alive()
        prover = LeanProver(first, project=folders[0], owned=False)
        prover.close()  # a pooled prover's close leaves the REPL to the pool
        assert first.server.is_alive()
        text = "def f (x : Unit) : Nat := by sorry"
        (site,) = locate(text, Path("T.lean"))
        root = LeanProver(first, project=folders[0], owned=False).open(site, text)
        assert isinstance(LeanProver(first, owned=False).apply(root, "apply Int.natAbs", 10),
                          Progress)
    finally:
        pool.close()
    assert not first.server.is_alive()


# --- (4) one memory limit, the hard cap and the restart threshold from it ---------------------


def test_memory_limit_is_the_childs_address_space_and_the_restart_threshold() -> None:
    config = LeanConfig(max_heartbeats=None, memory_limit_mb=3072, command_timeout=20.0)
    session = replay_session("readme", config=config)
    try:
        assert session.server.is_alive()
        pid = session._pid()
        assert pid is not None
        limits = Path(f"/proc/{pid}/limits").read_text()
        # lean-interact restarts the REPL between requests past this share of the same cap
        assert session.server._max_process_memory == 0.8
        assert session.server.config.memory_hard_limit_mb == 3072
    finally:
        session.close()
    line = next(ln for ln in limits.splitlines() if ln.startswith("Max address space"))
    soft, hard = line.split()[3:5]
    assert soft == hard == str(3072 * 2**20)


# --- (5) a multi-line suggestion is written back with its layout ----------------------------


def test_a_multi_line_try_this_is_recorded_whole_and_spliced_with_its_layout(
    tmp_path: Path,
) -> None:
    text = "theorem t (a b : Nat) (h : a = b) : a + 0 = b := by sorry\n"
    said = ("Try this:\n  [apply] calc a + 0 = a := by simp\n    _ = b := h")
    pairs = [
        ({"cmd": text},
         {"env": 0, "sorries": [sorry(0, 1, 53, "a b : ℕ\nh : a = b\n⊢ a + 0 = b")],
          "messages": [WARNING]}),
        ({"tactic": "exact?", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed",
          "messages": [{"severity": "info", "pos": {"line": 0, "column": 0},
                        "endPos": {"line": 0, "column": 0}, "data": said}]}),
    ]
    prover = prover_over(tmp_path, pairs)
    try:
        (site,) = locate(text, Path("T.lean"))
        outcome = prover.apply(prover.open(site, text), "exact?", 10)
    finally:
        prover.close()
    step = "calc a + 0 = a := by simp\n  _ = b := h"
    assert outcome == Solved((step,))
    assert splice(text, site, (step,)) == (
        "theorem t (a b : Nat) (h : a = b) : a + 0 = b := by\n"
        "  calc a + 0 = a := by simp\n    _ = b := h\n")


# --- automation as actions, gated by the project's Lean release and packages -----------------

MATHLIB = 'name = "T"\n\n[[require]]\nname = "mathlib"\nscope = "leanprover-community"\n'


def test_automation_is_gated_by_release_and_package_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    text = "theorem t (n : Nat) : n + 0 = n := by sorry\n"
    pairs = [
        ({"cmd": text},
         {"env": 0, "sorries": [sorry(0, 1, 40, "n : ℕ\n⊢ n + 0 = n")], "messages": [WARNING]}),
        ({"tactic": "omega", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
    ]
    replay_repl.write_transcript(tmp_path, "t", pairs)
    flags = ("--fixtures", str(tmp_path), "--log", str(tmp_path / "requests.jsonl"))
    (site,) = locate(text, Path("T.lean"))
    old = replay_prover("t", flags=flags, toolchain="v4.20.0")
    try:
        root = old.open(site, text)
        grind = old.apply(root, "grind", 10)
        assert isinstance(grind, TacticError) and "from v4.22.0" in grind.message
        assert "v4.20.0" in grind.message
        lin = old.apply(root, "nlinarith [sq_nonneg n]", 10)
        assert isinstance(lin, TacticError) and "needs the mathlib package" in lin.message
        assert old.apply(root, "omega", 10) == Solved(("omega",))  # core since v4.7.0
    finally:
        old.close()
    assert [r.get("tactic") for r in sent(tmp_path) if "tactic" in r] == ["omega"]


def test_a_mathlib_project_sends_mathlib_and_aesop_tactics(tmp_path: Path) -> None:
    text = "theorem t (x : Nat) : 0 ≤ x := by sorry\n"
    pairs = [
        ({"cmd": text},
         {"env": 0, "sorries": [sorry(0, 1, 35, "x : ℕ\n⊢ 0 ≤ x")], "messages": [WARNING]}),
        ({"tactic": "positivity", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
        ({"tactic": "aesop?", "proofState": 0},
         {"proofState": 2, "goals": [], "proofStatus": "Completed",
          "messages": [{"severity": "info", "pos": {"line": 0, "column": 0},
                        "endPos": {"line": 0, "column": 0},
                        "data": "Try this:\n  [apply] exact Nat.zero_le x"}]}),
    ]
    replay_repl.write_transcript(tmp_path, "t", pairs)
    prover = replay_prover("t", flags=("--fixtures", str(tmp_path)), lakefile=MATHLIB)
    (site,) = locate(text, Path("T.lean"))
    try:
        root = prover.open(site, text)
        assert prover.apply(root, "positivity", 10) == Solved(("positivity",))
        # aesop comes with Mathlib; its suggestion is the step recorded, as exact?'s is
        assert prover.apply(root, "aesop?", 10) == Solved(("exact Nat.zero_le x",))
    finally:
        prover.close()


def test_gates_of_every_configured_automation_tactic() -> None:
    from alphaquant.provers.lean.automation import GATES, refused
    from alphaquant.tactics.rules.heuristic import load_tactic_list

    listed = {t.text for t in load_tactic_list(
        Path(__file__).resolve().parents[1] / "configs" / "tactics" / "lean.toml")}
    for name in ("grind", "try?", "exact?", "apply?", "rw?", "simp?", "aesop?", "omega",
                 "positivity", "linarith", "nlinarith"):
        assert name in listed and name in GATES, name
        assert refused(name, "v4.34.0", frozenset({"mathlib"})) is None, name
    assert refused("try?", "v4.15.0", frozenset()) is not None
    assert refused("simp? [foo]", "v4.0.0", frozenset()) is None
    assert refused("exact foo", "v4.0.0", frozenset()) is None  # not automation: never gated


def test_a_negation_sees_the_definitions_above_its_claim(tmp_path: Path) -> None:
    """The disproof side of (1): the negated claim is elaborated alone in the environment the
    declarations above the claim left, not in a fresh one."""
    text = "def double (n : Nat) : Nat := 2 * n\n\ntheorem bad : double 2 = 5 := by sorry\n"
    (site,) = locate(text, Path("T.lean"))
    negation = negation_statement(site.statement)  # negation.py's, whatever its spelling
    assert negation is not None
    pairs = [
        ({"cmd": "def double (n : Nat) : Nat := 2 * n\n\n"}, {"env": 0}),
        ({"cmd": negation, "env": 0},
         {"env": 1, "sorries": [sorry(0, 1, 45, "⊢ ¬double 2 = 5")], "messages": [WARNING]}),
        ({"tactic": "decide", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
    ]
    prover = prover_over(tmp_path, pairs)
    try:
        state = prover.open_negation(site, text)
        assert state is not None and state.goals[0].conclusion == "¬double 2 = 5"
        assert prover.apply(state, "decide", 10) == Solved(("decide",))
    finally:
        prover.close()
    assert [r.get("env") for r in sent(tmp_path) if "cmd" in r] == [None, 0]
