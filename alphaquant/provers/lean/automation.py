"""Lean's own automation as search actions, gated by what the project has (pure: no process).

Each tactic here is offered by configs/tactics/lean.toml with its own time limit; before one is
sent, ``refused`` checks that the project's Lean release ships it (core tactics) or that the
project requires the package that defines it (Mathlib's, Aesop's), so a project too old or
without the package answers at once, with the reason, instead of the REPL's "unknown tactic".
The ``?`` forms answer "Try this:" suggestions, which are what the proof records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alphaquant.provers.lean.setup import version_key


# Where a tactic comes from: the first Lean release with it in core, or the package defining it.
@dataclass(frozen=True)
class Gate:
    since: str | None = None  # a Lean release ("v4.22.0"); None: every Lean 4 release here
    package: str | None = None  # a Lake package the project must require ("mathlib")


# The floors are the releases these tactics are documented in Lean core from, as read in the
# release notes; docs/lean.md says which were checked and which were not.
GATES = {
    "grind": Gate(since="v4.22.0"),
    "try?": Gate(since="v4.16.0"),
    "exact?": Gate(since="v4.8.0"),
    "apply?": Gate(since="v4.8.0"),
    "rw?": Gate(since="v4.8.0"),
    "simp?": Gate(),
    "omega": Gate(since="v4.7.0"),
    "aesop": Gate(package="aesop"),
    "aesop?": Gate(package="aesop"),
    "positivity": Gate(package="mathlib"),
    "linarith": Gate(package="mathlib"),
    "nlinarith": Gate(package="mathlib"),
}
# What a package brings with it (Mathlib requires Aesop).
IMPLIED = {"mathlib": frozenset({"mathlib", "aesop", "batteries", "plausible"})}
_HEAD = re.compile(r"\s*([A-Za-z_][\w]*\??)")


def refused(tactic: str, version: str | None, packages: frozenset[str]) -> str | None:
    """Why ``tactic`` cannot run in a project on Lean ``version`` requiring ``packages``; None
    when it can (or when it is not one of ``GATES``)."""
    head = _HEAD.match(tactic)
    gate = GATES.get(head.group(1)) if head else None
    if gate is None:
        return None
    name = head.group(1) if head else tactic
    have = frozenset().union(*(IMPLIED.get(p, {p}) for p in packages)) if packages else packages
    if gate.package is not None and gate.package not in have:
        return f"`{name}` needs the {gate.package} package, which the project does not require"
    key, floor = version_key(version or ""), version_key(gate.since or "")
    if key is not None and floor is not None and key < floor:
        return f"`{name}` is in Lean from {gate.since}; the project is on {version}"
    return None
