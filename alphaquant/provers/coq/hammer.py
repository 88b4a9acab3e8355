"""CoqHammer inside the session: where its helpers live, and what `hammer` says to write instead.

Debian's libcoq-hammer keeps ``htimeout``, under which ``hammer`` runs the external provers, off
PATH; coqtop gets it on its PATH (only coqtop: a written proof never runs ``hammer``, it holds
the reconstruction tactic hammer printed).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

HAMMER_LIBEXEC = Path("/usr/libexec/coq-hammer")
HAMMER_IMPORT = re.compile(r"\bFrom\s+Hammer\s+Require\s+(?:Import|Export)\s+([^.]*)\.")

# A tactic that tells what to write instead (CoqHammer's ``hammer``).
_RESTATED = re.compile(r"Replace the hammer tactic with:\s*([^<]*?)\s*</infomsg>", re.DOTALL)


def coqtop_environment() -> dict[str, str] | None:
    """coqtop's environment: ours, with CoqHammer's helper directory on PATH if it exists."""
    if not HAMMER_LIBEXEC.is_dir():
        return None
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH", ""), str(HAMMER_LIBEXEC)]))
    return env


def restated(output: str) -> str | None:
    """The tactic a reply says to write instead of the one that ran (hammer's reconstruction)."""
    found = _RESTATED.search(output)
    return None if found is None else found.group(1)


def reconstruction_tries(printed: str) -> list[str]:
    """What to run for hammer's printed reconstruction: the printed tactic, else the same lemmas
    under ``hauto``/``sauto`` (CoqHammer prints some forms, ``srun …``, that its own parser
    refuses). The first that works is the step."""
    printed = " ".join(printed.split()).rstrip(".")
    hints = re.search(r"\b(?:use|unfold|inv):.*", printed)
    tries = [printed + "."]
    if hints is not None:
        tries += [f"hauto {hints.group(0)}.", f"sauto {hints.group(0)}."]
    return tries


def _hint_list(printed: str, key: str) -> list[str]:
    """The names after ``key:`` in a reconstruction (``use: A, B unfold: f`` → A, B)."""
    found = re.search(rf"\b{key}:\s*(.*?)(?=\s+\w+:|\.?$)", printed)
    if found is None:
        return []
    return [n for n in (x.strip() for x in found.group(1).split(",")) if re.fullmatch(
        r"[A-Za-z_][\w'.]*", n)]


def import_free_tries(printed: str) -> list[str]:
    """Steps built from what ``hammer`` found that need no library beyond the file's own:
    its premises (``use:``) and the definitions it unfolds (``unfold:``) handed to the standard
    library's automation (``eauto using``, rewriting then a decision procedure, ``ring`` or
    ``auto with arith`` (what a file that imports Arith but not Lia has), ``firstorder
    using``). Tried before the reconstruction itself, which needs CoqHammer's tactics imported
    in the written file."""
    printed = " ".join(printed.split())
    use, unfold = _hint_list(printed, "use"), _hint_list(printed, "unfold")
    if not use and not unfold:
        return []
    intro = "intros; " + (f"unfold {', '.join(unfold)} in *; " if unfold else "")
    tries: list[str] = []
    if use:
        names = ", ".join(use)
        tries.append(f"{intro}eauto using {names}.")
        rewrites = "".join(f"try rewrite {n}; " for n in use)
        tries += [f"{intro}{rewrites}{closer}." for closer in ("lia", "lra", "ring", "congruence",
                                                               "auto with arith")]
        tries.append(f"{intro}firstorder using {names}.")
        tries.append(f"{intro}intuition eauto using {names}.")
    else:
        tries += [f"{intro}{closer}." for closer in ("lia", "lra", "firstorder", "congruence")]
    return tries


@functools.lru_cache(maxsize=16)
def loaded_modules(text: str) -> frozenset[str]:
    """The CoqHammer modules ``text`` imports (``Hammer``, ``Tactics``, …)."""
    return frozenset({n for m in HAMMER_IMPORT.finditer(text) for n in m.group(1).split()})
