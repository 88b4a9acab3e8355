"""Recording a finished Coq file: the proof state before each tactic sentence, and the tactic.

The file is replayed once in its own coqtop, one sentence at a time (sentences.py cuts it as
coqtop reads it), in a session that prints goals (not the searches' silent one). Inside a proof
(coqtop's prompt names it), a sentence that is one tactic (``one_tactic_sentence``) is recorded
with the focused goal coqtop showed last: its hypotheses and conclusion as printed. Bullets and
braces are structure: they are sent, and the goal they focus becomes the state of the next
tactic, but they are never recorded. ``Proof with``'s ``t...`` is run and not recorded (its text
means nothing alone). A sentence that fails inside a proof gives up that proof (the steps before
it are kept, they were real states) and ``Abort`` at its end; a failed command outside proofs is
counted and the replay goes on.

Where the library's files live is asked of Coq itself (toolchain.py): ``coqc -where`` is the
standard library's root (``Coq``), ``user-contrib`` holds the installed libraries;
``library_files`` maps logical module names (``Coq.Reals.Rbase``, or the short ``Rbase``
coqtop also accepts) to their ``.v``.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import ProverCrashed, ProverStartError
from alphaquant.provers.base import RecordedStep
from alphaquant.provers.coq.coqtop import TOPLEVEL, CoqTop
from alphaquant.provers.coq.protocol import (
    error_message,
    parse_goals,
    read_reply,
    without_messages,
)
from alphaquant.provers.coq.sentences import one_tactic_sentence, split_sentences
from alphaquant.provers.coq.toolchain import toolchain

log = logging.getLogger(__name__)

_PROOF_END = re.compile(r"(?:Qed|Defined|Admitted|Save|Abort)\b")
_REQUIRE = re.compile(
    r"(?:From\s+([\w.']+)\s+)?Require\s+(?:(?:Import|Export)\s+)?(.*)\.$", re.DOTALL)


# What one replay of a file gave.
@dataclass(frozen=True)
class FileRecording:
    steps: tuple[RecordedStep, ...]
    proofs: int  # proofs the replay went through
    failures: int  # sentences coqtop refused (a proof given up counts once)
    seconds: float


def coq_version() -> str:
    """The installed Coq's version as printed ("8.16.1"), "unknown" without one."""
    tools = toolchain()
    return (tools.version_text or "unknown") if tools is not None else "unknown"


def load_path(extra: tuple[tuple[Path, str], ...] = ()) -> tuple[tuple[Path, str], ...]:
    """(directory, logical prefix) pairs: ``extra`` (a project's -Q/-R), the standard library
    as ``Coq`` (Rocq 9: its prelude as ``Corelib``), and every installed library under
    ``user-contrib`` by its directory name (Rocq 9's ``Stdlib`` among them)."""
    tools = toolchain()
    where = tools.where if tools is not None else None
    roots = list(extra)
    if where is not None and tools is not None:
        roots.append((where / "theories", "Corelib" if tools.rocq else "Coq"))
        contrib = where / "user-contrib"
        if contrib.is_dir():
            roots += [(d, d.name) for d in sorted(contrib.iterdir()) if d.is_dir()]
    return tuple(roots)


def _modules_of(root: Path, prefix: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for v in root.rglob("*.v"):
        rel = v.relative_to(root).with_suffix("").parts
        out[".".join(p for p in (prefix, *rel) if p)] = v
    return out


def library_files(names: list[str], roots: tuple[tuple[Path, str], ...]) -> list[Path]:
    """The ``.v`` sources of the modules ``names`` (full or partial logical names, as
    ``Require`` takes them), and of every module they require, transitively. A name with no
    source installed is left out."""
    modules: dict[str, Path] = {}
    for root, prefix in roots:
        if root.is_dir():
            for name, path in _modules_of(root, prefix).items():
                modules.setdefault(name, path)
    by_suffix: dict[str, list[str]] = {}
    for name in modules:
        parts = name.split(".")
        for i in range(len(parts)):
            by_suffix.setdefault(".".join(parts[i:]), []).append(name)
    seen: dict[Path, None] = {}
    todo = list(names)
    while todo:
        wanted = todo.pop()
        prefix, _, short = wanted.rpartition("::")  # ``From prefix Require short``
        found = [n for n in by_suffix.get(short, [])
                 if not prefix or n.startswith(prefix + ".")]
        for name in found[:1]:
            path = modules[name]
            if path in seen:
                continue
            seen[path] = None
            todo += required_modules(path.read_text(encoding="utf-8", errors="replace"))
    return sorted(seen)


def required_modules(text: str) -> list[str]:
    """The module names a file's ``Require`` sentences name; ``From X Require Y`` as ``X::Y``
    (Y is then any module below X whose name ends with Y, as Coq reads it)."""
    out: list[str] = []
    for s in split_sentences(text).sentences:
        m = _REQUIRE.match(" ".join(s.text.split()))
        if m is None:
            continue
        prefix, body = m.group(1), m.group(2)
        for word in body.split():
            if word.startswith("(") or not re.fullmatch(r"[\w.']+", word):
                continue
            out.append(f"{prefix}::{word}" if prefix else word)
    return out


def _hypotheses(lines: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(" ".join(h.split()) for h in lines)


def record_file(path: Path, flags: tuple[str, ...] = (), *,
                sentence_timeout: float = 120.0, start_timeout: float = 60.0) -> FileRecording:
    """Replay ``path`` once in a fresh coqtop (with ``flags``) and record its tactic steps.

    Raises:
      ProverCrashed: coqtop died or hung (after ``sentence_timeout`` on one sentence).
    """
    tools = toolchain()
    if tools is None:
        raise ProverStartError("Coq is not installed (apt-get install -y coq)")
    text = path.read_text(encoding="utf-8", errors="replace")
    started = time.monotonic()
    scratch = tempfile.mkdtemp(prefix="alphaquant-record-")
    proc = CoqTop([*tools.coqtop, "-emacs", *flags], Path(scratch))
    steps: list[RecordedStep] = []
    proofs = failures = 0
    try:
        proc.read_reply(time.monotonic() + start_timeout)
        theorem = ""  # the proof coqtop is in ("" outside proofs)
        focused = None  # the focused goal coqtop showed last, if any
        index = 0
        broken = False  # the current proof failed: skip to its end, then Abort
        for sentence in split_sentences(text).sentences:
            body = sentence.text
            if broken:
                if _PROOF_END.match(body):
                    proc.command("Abort.", sentence_timeout)
                    broken, theorem, focused = False, "", None
                continue
            tactic = theorem and one_tactic_sentence(body) is None
            before = focused
            reply = proc.command(body, sentence_timeout)
            message = error_message(reply.output)
            if message is not None:
                failures += 1
                log.debug("%s: %s -> %s", path.name, body[:80], message[:200])
                if theorem:
                    broken = True
                continue
            if tactic and before is not None:
                steps.append(RecordedStep(theorem, index, before.hypotheses,
                                          before.conclusion, body))
                index += 1
            now = reply.name if reply.name not in TOPLEVEL else ""
            if now != theorem:
                if now:
                    proofs += 1
                theorem, index = now, 0
                focused = None
            goals = parse_goals(without_messages(reply.output))
            kind = read_reply(reply.output).kind
            if goals is None and kind == "unknown" and now:
                # Rocq 9's coqtop prints no goals after a command (Coq 8's does): ask for them
                shown = proc.command("Show.", sentence_timeout)
                if error_message(shown.output) is None:
                    goals = parse_goals(without_messages(shown.output))
                    kind = read_reply(shown.output).kind
            if goals is not None:
                focused = goals[0]
                focused = type(focused)(_hypotheses(focused.hypotheses), focused.conclusion)
            elif kind != "unknown":
                focused = None  # a finished subproof, or no goals left
            # an empty answer (``Proof.``, a command) leaves the state as it was
    except ProverCrashed:
        raise
    finally:
        proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    return FileRecording(tuple(steps), proofs, failures, time.monotonic() - started)
