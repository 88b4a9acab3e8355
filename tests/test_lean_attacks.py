"""The Lean attack corpus (tests/attacks/lean.txt): no cheating tactic text is ever accepted.

Each entry is tried on two goals, a named theorem and an `example` (checked through the probe's
named copy). It goes through the sanitizer first. What passes is run on the replay REPL, over a
transcript this test writes in the REPL's JSON shapes with a small double of Lean's answers: a
tactic that mentions a lemma still proved by `sorry` (or an axiom of another module) is
"Completed", as the real REPL says of a term that holds no `sorry` itself, and `#print axioms`
then lists what that constant depends on; any other tactic is a Lean error. A "Completed" path
must then be refused by the acceptance rule (``LeanProver.untrusted``). The counts are printed
and recorded (tried / refused by the sanitizer / by Lean / by the acceptance rule / accepted).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from alphaquant.goals import locate
from alphaquant.proof import splice
from alphaquant.provers.base import Solved, TacticError
from alphaquant.provers.lean import probe as lean_probe
from alphaquant.provers.lean.prover import _chunk, _chunks
from alphaquant.provers.lean.source import split_source
from alphaquant.sanitize import check_tactic, clean_tactic
from tests.conftest import SUMMARY

sys.path.insert(0, str(Path(__file__).parent))
import replay_repl  # noqa: E402
from lean_replay import replay_prover  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).with_name("attacks") / "lean.txt"

HEADER = "import Other"
TARGET = f"""{HEADER}

theorem helper : False := sorry

namespace Bad
theorem helper : False := sorry
end Bad

theorem target : 1 = 2 := by sorry

example : 1 = 2 := by sorry
"""
# What `#print axioms` would list for each constant the double knows (its own axioms).
KNOWN = {"helper": "sorryAx", "Bad.helper": "sorryAx", "Other.cheat": "Other.cheat"}


def corpus() -> list[str]:
    """The entries of tests/attacks/lean.txt (see its header for the format)."""
    entries, block = [], None
    for line in CORPUS.read_text(encoding="utf-8").split("\n"):
        if line.startswith("%%"):
            continue
        if line == "<<<":
            block = []
        elif line == ">>>":
            assert block is not None
            entries.append("\n".join(block))
            block = None
        elif block is not None:
            block.append(line)
        elif line.strip():
            entries.append(line)
    return entries


def mentioned(tactic: str) -> set[str]:
    """The known constants a tactic names (``Bad.helper.elim`` names ``Bad.helper``)."""
    names = set()
    for ident in re.findall(r"[\w.]+", tactic):
        ident = ident.removeprefix("_root_.")
        names |= {k for k in KNOWN if ident == k or ident.startswith(k + ".")}
    return names


def info(data: str, line: int) -> dict[str, object]:
    return {"severity": "info", "pos": {"line": line, "column": 0},
            "endPos": {"line": line, "column": 6}, "data": data}


def double(sites, tactics: list[str]) -> list[tuple[object, object]]:
    """The transcript: the header, each declaration as its own command (in the environment of
    the one before, as the prover sends them), then each tactic's answer on each goal and, for
    a "Completed" one, the probe's `#print axioms` answer."""
    warning = {"severity": "warning", "pos": {"line": 1, "column": 8},
               "endPos": {"line": 1, "column": 14}, "data": "declaration uses `sorry`"}
    pairs: list[tuple[object, object]] = [({"cmd": HEADER}, {"env": 0})]
    env, states = 0, {}
    for start, end in _chunks(TARGET, split_source(TARGET)):
        command, offset = _chunk(TARGET, start, end)
        if not command.strip():
            continue
        sorries = []
        for site in sites:
            if start <= site.start < end:
                line = TARGET.count("\n", 0, site.start) + 1 - offset
                col = site.start - (TARGET.rfind("\n", 0, site.start) + 1) + len("by ")
                states[site.start] = len(states)
                sorries.append({"proofState": states[site.start], "goal": "⊢ 1 = 2",
                                "pos": {"line": line, "column": col},
                                "endPos": {"line": line, "column": col + 5}})
        pairs.append(({"cmd": command, "env": env},
                      {"env": env + 1, "sorries": sorries, "messages": [warning]}))
        env += 1
    fresh = len(states)
    for site in sites:
        state = states[site.start]
        for tactic in tactics:
            names = mentioned(tactic)
            request = {"tactic": tactic, "proofState": state}
            if not names:
                pairs.append((request, {"message": "Lean error:\n<input>:1:1: unknown tactic"}))
                continue
            pairs.append((request, {"proofState": fresh, "goals": [], "proofStatus": "Completed"}))
            fresh += 1
            probe = lean_probe.build(TARGET, splice(TARGET, site, (tactic,)), site.decl_start)
            cut = split_source(probe.text)
            axioms = ", ".join(sorted({KNOWN[k] for k in names}))
            answer = info(f"'{probe.name}' depends on axioms: [{axioms}]",
                          probe.print_line - cut.line_offset)
            pairs.append(({"cmd": cut.body, "env": 0}, {"env": 100 + fresh,
                                                         "messages": [answer]}))
    return pairs


def test_no_attack_is_accepted(tmp_path: Path, record_property) -> None:
    entries = corpus()
    assert len(entries) >= 100
    passed = [clean_tactic(e, "lean") for e in entries if check_tactic(e, "lean") is None]
    sites = locate(TARGET, Path("T.lean"))[-2:]  # the theorem `target` and the `example`
    assert [s.theorem for s in sites] == ["target", ""]
    replay_repl.write_transcript(tmp_path, "attacks", double(sites, passed))
    prover = replay_prover("attacks", flags=("--fixtures", str(tmp_path)))
    by_lean, by_rule, accepted = [], [], []
    try:
        for site in sites:
            root = prover.open(site, TARGET)
            for tactic in passed:
                outcome = prover.apply(root, tactic, timeout=10)
                if isinstance(outcome, TacticError):
                    by_lean.append((site.theorem, tactic))
                    continue
                assert isinstance(outcome, Solved), (tactic, outcome)
                spliced = splice(TARGET, site, outcome.path)
                refused = prover.untrusted(Path("T.lean"), TARGET, spliced, site.decl_start)
                (by_rule if refused else accepted).append((site.theorem, tactic))
    finally:
        prover.close()
    tried = len(entries) * len(sites)
    counts = {"tried": tried, "refused by the sanitizer": (len(entries) - len(passed)) * len(sites),
              "refused by Lean": len(by_lean), "refused by the acceptance rule": len(by_rule),
              "accepted": len(accepted)}
    SUMMARY.append("lean attack corpus (a theorem and an example goal): "
                   + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for key, value in counts.items():
        record_property(key, value)
    assert accepted == []
    assert {theorem for theorem, _ in by_rule} == {"target", ""}  # both goals reach the rule
    assert sum(counts.values()) - tried == tried
