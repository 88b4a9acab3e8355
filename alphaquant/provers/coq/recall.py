"""Failures recalled across states: a step that uses a global lemma on the focused goal
(``apply L``, ``eapply L``, ``exact L``, ``rewrite [<-] L``) fails or not by that goal's
conclusion and the declarations of the variables it names, whatever else the context holds.
Such a step that Coq rejected at one state is rejected at once at any other state of the same
environment whose key is the same, without reaching the state.

Decision: a search meets one conclusion under many contexts (a hypothesis more or less from a
step beside it); in one search of 4,000 steps a quarter of the tactics were a step already
rejected on the same conclusion, and none of those ever went the other way. The key leaves out
hypotheses the conclusion does not name, so a typeclass instance among them (which `apply` may
use) is not seen: that can only hide a step, never admit one (every proof is re-checked whole).
"""

from __future__ import annotations

import re

from alphaquant.provers.base import ProofState

_STEP = re.compile(
    r"\s*(e?apply|exact|rewrite(?:\s*<-)?)\s+([A-Za-z_][\w']*(?:\.[A-Za-z_][\w']*)*)\s*\.?\s*")
_WORD = re.compile(r"[A-Za-z_][\w']*")

Key = tuple[object, str, str, tuple[str, ...]]


def declared(hypothesis: str) -> list[str]:
    """The names a context line declares: ``A, W : T`` -> A, W; ``z := b : T`` -> z."""
    head = re.split(r"\s:=\s|\s:\s", hypothesis, maxsplit=1)[0]
    return [n.strip() for n in head.split(",")]


def key(environment: object, state: ProofState, tactic: str) -> Key | None:
    """What decides whether ``tactic`` fails at ``state`` (its first goal), or None when the
    tactic is not one that reads the conclusion alone, names a hypothesis, or the conclusion
    holds an existential variable."""
    step = _STEP.fullmatch(tactic)
    if step is None or not state.goals:
        return None
    goal = state.goals[0]
    if "?" in goal.conclusion:
        return None
    lines = {name: line for line in goal.hypotheses for name in declared(line)}
    if step.group(2).split(".")[0] in lines:
        return None  # a hypothesis (or a local's field), not a global lemma
    named: list[str] = []
    words, seen = set(_WORD.findall(goal.conclusion)), set()
    while words:
        word = words.pop()
        line = lines.get(word)
        if line is None or word in seen:
            continue
        seen.update(declared(line))
        named.append(line)
        words |= set(_WORD.findall(line))
    verb = " ".join(step.group(1).replace("<-", " <-").split())
    return environment, f"{verb} {step.group(2)}", goal.conclusion, tuple(sorted(named))


class Recall:
    """The errors Coq gave to steps that read the conclusion alone, by key."""

    def __init__(self) -> None:
        self._errors: dict[Key, str] = {}
        self.recalled = 0  # steps answered from here without reaching their state

    def error(self, key: Key | None) -> str | None:
        """The error recorded under ``key``, if any."""
        if key is None:
            return None
        message = self._errors.get(key)
        if message is not None:
            self.recalled += 1
        return message

    def remember(self, key: Key | None, message: str) -> None:
        if key is not None:
            self._errors[key] = message
