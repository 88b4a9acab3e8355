"""The Lean REPL under load: heartbeat limits inside Lean, restarts from pickles, a pool keyed by
header, the address-space limit of the child, recycling. Real child processes (the replay REPL
over hand-written transcripts in the REPL's JSON shapes), no mocks."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from alphaquant.goals import locate
from alphaquant.provers.base import Progress, Solved, TacticError
from alphaquant.provers.lean.options import LeanConfig, ReplOptions, default_memory_limit_mb
from alphaquant.provers.lean.pool import ReplPool
from alphaquant.provers.lean.prover import LeanProver
from alphaquant.provers.lean.repl import LeanRepl

sys.path.insert(0, str(Path(__file__).parent))
import replay_repl  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPLAY = Path(__file__).with_name("replay_repl.py")

HEADER = "import Mathlib"
BODY = "theorem t (x : Nat) : x + 0 = x := by sorry"
TEXT = f"{HEADER}\n{BODY}\n"
GOAL = "x : ℕ\n⊢ x + 0 = x"
SORRY = {"proofState": 0, "pos": {"line": 1, "column": 38}, "endPos": {"line": 1, "column": 43},
         "goal": GOAL}  # positions are the command's own: line 1 of the body
WARNING = {"severity": "warning", "pos": {"line": 1, "column": 8},
           "endPos": {"line": 1, "column": 9}, "data": "declaration uses `sorry`"}
HEARTBEATS = ("Lean error:\n(deterministic) timeout at `whnf`, maximum number of heartbeats "
              "(20000) has been reached\nUse `set_option maxHeartbeats <num>` to set the limit.\n"
              "Additional diagnostic information may be available using the "
              "`set_option diagnostics true` command.")


def options(tmp_path: Path, pairs: list[tuple[object, object]], **extra: object) -> ReplOptions:
    replay_repl.write_transcript(tmp_path, "t", pairs)
    command = (sys.executable, str(REPLAY), "--transcript", "t", "--fixtures", str(tmp_path),
               "--log", str(tmp_path / "requests.jsonl"))
    return ReplOptions(command=command, cwd=REPO, backoff=0.01, **extra)  # type: ignore[arg-type]


def requests(tmp_path: Path) -> list[tuple[int, dict[str, object]]]:
    lines = (tmp_path / "requests.jsonl").read_text(encoding="utf-8").splitlines()
    return [(entry["pid"], entry["request"]) for entry in map(json.loads, lines)]


def site(text: str = TEXT):
    (found,) = locate(text, Path("T.lean"))
    return found


def test_tactic_that_exhausts_its_heartbeats_is_an_error_without_a_restart(tmp_path: Path) -> None:
    limited = "set_option maxHeartbeats 20000 in\n  simp"
    pairs = [
        ({"cmd": BODY}, {"env": 0, "sorries": [SORRY], "messages": [WARNING]}),
        ({"tactic": limited, "proofState": 0}, {"message": HEARTBEATS}),
        ({"tactic": "set_option maxHeartbeats 20000 in\n  rfl", "proofState": 0},
         {"proofState": 1, "goals": [], "proofStatus": "Completed"}),
    ]
    prover = LeanProver(LeanRepl(options(tmp_path, pairs)), heartbeats_per_second=4000.0)
    try:
        root = prover.open(site(BODY), BODY)
        pid = prover.repl.pid
        outcome = prover.apply(root, "simp", timeout=5.0)
        assert isinstance(outcome, TacticError)
        assert "maximum number of heartbeats (20000)" in outcome.message
        assert prover.repl.pid == pid and prover.repl.generation == 0
        assert prover.apply(root, "rfl", timeout=5.0) == Solved(("rfl",))  # path: the tactic
    finally:
        prover.close()


def pickled_pairs(folder: Path) -> list[tuple[object, object]]:
    env, state = str(folder / "env-0.olean"), str(folder / "proofState-0.olean")
    return [
        ({"cmd": HEADER}, {"env": 0}),
        ({"pickleTo": env, "env": 0}, {"env": 0}),
        ({"cmd": BODY + "\n", "env": 0}, {"env": 1, "sorries": [SORRY], "messages": [WARNING]}),
        ({"pickleTo": state, "proofState": 0},
         {"proofStatus": "Incomplete: open goals remain", "proofState": 1, "goals": [GOAL]}),
        ({"unpickleEnvFrom": env}, {"env": 0}),
        ({"unpickleProofStateFrom": state, "env": 0},
         {"proofStatus": "Incomplete: open goals remain", "proofState": 0, "goals": [GOAL]}),
        ({"tactic": "induction x", "proofState": 0},
         {"proofStatus": "Incomplete: open goals remain", "proofState": 2,
          "goals": ["case zero\n⊢ 0 + 0 = 0",
                    "case succ\nn : ℕ\nih : n + 0 = n\n⊢ n + 1 + 0 = n + 1"]}),
    ]


def test_restart_restores_from_pickles_without_sending_the_imports_again(tmp_path: Path) -> None:
    pickles = tmp_path / "pickles"
    repl = LeanRepl(options(tmp_path, pickled_pairs(pickles), pickle_dir=pickles))
    prover = LeanProver(repl, pickles=True)
    try:
        root = prover.open(site(), TEXT)
        first = repl.pid
        repl.restart()
        outcome = prover.apply(root, "induction x", timeout=10)
        assert isinstance(outcome, Progress) and len(outcome.state.goals) == 2
        assert repl.generation == 1
    finally:
        prover.close()
    sent = requests(tmp_path)
    before = [r for pid, r in sent if pid == first]
    after = [r for pid, r in sent if pid != first]
    assert {"cmd": HEADER} in before
    assert after == [{"unpickleEnvFrom": str(pickles / "env-0.olean")},
                     {"unpickleProofStateFrom": str(pickles / "proofState-0.olean"), "env": 0},
                     {"tactic": "induction x", "proofState": 0}]


def test_two_files_with_the_same_header_are_served_by_one_repl(tmp_path: Path) -> None:
    other = "theorem u (x : Nat) : x + 0 = x := by sorry"
    pairs = [
        ({"cmd": HEADER}, {"env": 0}),
        ({"cmd": BODY + "\n", "env": 0}, {"env": 1, "sorries": [SORRY], "messages": [WARNING]}),
        ({"cmd": other + "\n", "env": 0}, {"env": 2, "sorries": [{**SORRY, "proofState": 1}],
                                    "messages": [WARNING]}),
    ]
    config = LeanConfig(heartbeats_per_second=None, pickles=False, memory_limit_mb=4096.0)
    pool = ReplPool(config)
    replay = options(tmp_path, pairs)
    try:
        a = pool.prover(replay, TEXT)
        root_a = a.open(site(), TEXT)
        a.close()  # back to the pool, alive
        text_b = f"{HEADER}\n{other}\n"
        b = pool.prover(replay, text_b)
        root_b = b.open(site(text_b), text_b)
        assert a.repl is b.repl and len(pool.repls) == 1
        assert (root_a.handle, root_b.handle) == (0, 1)
        c = pool.prover(dataclass_with(replay, cwd=tmp_path), TEXT)  # another project: its own
        assert c.repl is not a.repl and len(pool.repls) == 2
    finally:
        pool.close()
    sent = [r for _, r in requests(tmp_path)]
    assert sent.count({"cmd": HEADER}) == 1
    assert len({pid for pid, _ in requests(tmp_path)}) == 1


def dataclass_with(options_: ReplOptions, **changes: object) -> ReplOptions:
    import dataclasses

    return dataclasses.replace(options_, **changes)  # type: ignore[arg-type]


def test_address_space_limit_reaches_the_child_process(tmp_path: Path) -> None:
    pairs = [({"cmd": BODY}, {"env": 0, "sorries": [], "messages": []})]
    repl = LeanRepl(options(tmp_path, pairs, memory_limit_mb=3072.0))
    try:
        repl.send(replay_command(BODY))
        assert repl.pid is not None
        limits = Path(f"/proc/{repl.pid}/limits").read_text()
    finally:
        repl.close()
    line = next(ln for ln in limits.splitlines() if ln.startswith("Max address space"))
    soft, hard = line.split()[3:5]
    assert soft == hard == str(3072 * 2**20)


def replay_command(text: str):
    from alphaquant.provers.lean.requests import Command

    return Command(text)


def test_default_memory_limit_shares_the_machine_between_repls() -> None:
    one, four = default_memory_limit_mb(1), default_memory_limit_mb(4)
    assert one >= four >= 8192.0
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    assert one == max(8192.0, 0.8 * total)


def test_repl_is_recycled_after_max_commands(tmp_path: Path) -> None:
    pairs = [({"cmd": BODY}, {"env": 0, "sorries": [SORRY], "messages": []})]
    repl = LeanRepl(options(tmp_path, pairs, max_commands=2))
    try:
        repl.send(replay_command(BODY))
        assert repl.pid is not None and repl.generation == 0
        repl.send(replay_command(BODY))
        assert repl.pid is None  # recycled after its second answer
        repl.send(replay_command(BODY))
        assert repl.generation == 1
    finally:
        repl.close()


def test_pool_keeps_at_most_pool_size_repls_closing_the_least_recently_used(
    tmp_path: Path,
) -> None:
    pairs = [({"cmd": HEADER}, {"env": 0})]
    pool = ReplPool(LeanConfig(pool_size=1, heartbeats_per_second=None, pickles=False,
                               memory_limit_mb=4096.0))
    replay = options(tmp_path, pairs)
    try:
        first = pool.prover(replay, TEXT)
        first.repl.send(replay_command(HEADER))
        assert first.repl.pid is not None
        other = pool.prover(dataclass_with(replay, cwd=tmp_path), TEXT)
        assert pool.repls == [other.repl]
        assert first.repl.pid is None  # closed when it fell out of the pool
    finally:
        pool.close()
    assert other.repl.pid is None


def test_a_pickle_the_repl_refuses_changes_nothing(tmp_path: Path) -> None:
    pairs = [({"cmd": HEADER}, {"env": 0}),
             ({"cmd": BODY + "\n", "env": 0},
              {"env": 1, "sorries": [SORRY], "messages": [WARNING]}),
             ({"tactic": "induction x", "proofState": 0},
              {"proofStatus": "Incomplete: open goals remain", "proofState": 1, "goals": [GOAL]})]
    repl = LeanRepl(options(tmp_path, pairs, pickle_dir=tmp_path / "p"))  # no pickle answers
    prover = LeanProver(repl, pickles=True)
    try:
        root = prover.open(site(), TEXT)
        repl.restart()
        assert isinstance(prover.apply(root, "induction x", timeout=10), Progress)
    finally:
        prover.close()
    after = [r for pid, r in requests(tmp_path) if pid != requests(tmp_path)[0][0]]
    assert after[0] == {"cmd": HEADER}  # restored by re-running what made it
