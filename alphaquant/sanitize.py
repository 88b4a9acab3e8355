"""The one gate every tactic passes before a prover sees it, whatever source proposed it.

``check_tactic(text, language)`` returns None for an allowed tactic, else a short reason; the
reasons are stable strings, fit to be counter keys:

- "empty": nothing left once comments and blanks are gone.
- "too long": longer than ``max_length`` characters.
- "unterminated comment or string": a comment, string or «name» left open (spliced, it would
  swallow the rest of the file).
- "control character": a control or invisible format character (NUL, ESC, U+200B, U+202E, …);
  newlines and tabs are fine.
- "forbidden: <word>": a forbidden word outside comments and strings (the first one in the text),
  e.g. "forbidden: sorry", "forbidden: Admitted", "forbidden: #eval".
- Coq "bullet": starts with a bullet or brace (`-`, `+`, `*`, `{`, `}`); the engine focuses.
- Coq "several sentences": more than one sentence (`intros. lra.`).
- Coq "vernacular command": a sentence that starts with a capitalised command word (`Set …`,
  `Time …`, `Fail …`, `Show.`), not a tactic; `Unshelve` is the one allowed.
- Lean "several tactics": a line after the first is not indented past it, i.e. a second tactic
  or a new command at the block's column.
- Lean "bullet": starts with a focusing dot (`·`, or `.` and a blank); the search focuses, and
  only the proof's assembler (alphaquant/script.py) writes the dots.

Words match whole identifiers (``admit_lemma``, ``sorry_free``, ``IO_bound`` are fine); a few
that must never be reached under any namespace (``sorry``, ``IO``, ``ofReduceBool``, …) are also
refused as a part of a dotted name (``IO.Process.run``, ``Lean.ofReduceBool``).

Decisions: Coq ``Time``/``Fail``/``Timeout`` and every other command are refused (the engine adds
its own timeout; their output would only confuse the prover session); ``Unshelve`` is allowed
(it cheats nothing and closes goals ``eapply`` shelved); ``give_up`` is refused. ``Set`` is
refused only as a command, since inside a term it is the sort. Lean ``set_option`` is refused
in every form (``maxHeartbeats 0``, ``debug.skipKernelTC``, …: simplest and safe; the prover
adds its own heartbeat limit), as are
``native_decide``, ``decide +native`` and ``bv_decide`` (they trust the compiler) and ``stop``
(it closes the rest with sorry), ``termination_by``/``decreasing_by`` (declaration clauses, never
tactics), ``sleep`` and ``dbgSleep``; Lean names are compared as Lean reads them (``«sorryAx»`` is
``sorryAx``; Cyrillic or Greek lookalike letters count as Latin); ``open X in`` is allowed (it
changes nothing outside the tactic).
Callers should hand the prover ``clean_tactic``'s output: that is the text the checks saw.
"""

from __future__ import annotations

import functools
import textwrap
import unicodedata

from alphaquant.lexing import COMMENT_KINDS, Token, coq_sentences, lex, mask

COQ_FORBIDDEN = frozenset({
    "admit", "give_up", "Admitted", "Abort", "Qed", "Defined", "Save", "Axiom", "Axioms",
    "Parameter", "Parameters", "Conjecture", "Conjectures", "Hypothesis", "Hypotheses",
    "Variable", "Variables", "Context", "Redirect", "Load", "Drop", "Quit", "Declare", "Require",
    "Import", "Export", "Unset", "Local", "Global", "Module", "Section", "End", "Lemma",
    "Theorem", "Definition", "Fixpoint", "CoFixpoint", "Instance", "Example", "Fact", "Remark",
    "Corollary", "Proposition", "Goal", "Program", "Obligation", "Extract", "Extraction",
    "Timeout", "Proof", "BackTo", "Back", "Reset", "Undo", "Restart", "Ltac", "Ltac2",
    "Inductive", "Record", "Class", "Notation", "Hint", "Opaque", "Transparent", "Arguments",
    "Canonical", "Coercion", "exact_no_check", "vm_cast_no_check", "native_cast_no_check",
    "change_no_check",
})
COQ_ALLOWED_COMMANDS = frozenset({"Unshelve"})

LEAN_FORBIDDEN = frozenset({
    "sorry", "admit", "stop", "native_decide", "native", "bv_decide", "run_tac", "run_cmd",
    "run_elab", "run_meta", "by_elab", "unsafe", "set_option", "implemented_by", "extern",
    "axiom", "theorem", "lemma", "def", "abbrev", "instance", "example", "opaque", "structure",
    "class", "inductive", "mutual", "import", "elab", "elab_rules", "macro", "macro_rules",
    "syntax", "notation", "infix", "infixl", "infixr", "attribute", "namespace", "section",
    "end", "universe", "variable", "initialize", "builtin_initialize", "export", "deriving",
    "termination_by", "decreasing_by", "sleep",
})
# Refused also as one part of a dotted name.
COQ_FORBIDDEN_PARTS = frozenset({"admit", "Admitted", "exact_no_check", "vm_cast_no_check",
                                 "native_cast_no_check", "change_no_check"})
LEAN_FORBIDDEN_PARTS = frozenset({
    "sorry", "admit", "sorryAx", "IO", "native_decide", "ofReduceBool", "ofReduceNat",
    "reduceBool", "reduceNat", "trustCompiler", "skipKernelTC", "MetaM", "TacticM", "TermElabM",
    "CommandElabM", "CoreM", "addDecl", "unsafeCast", "unsafeBaseIO", "unsafeIO", "unsafeEIO",
    "mkSorry", "admitGoal", "dbgSleep",
})
# Letters of other scripts that look like Latin ones: a forbidden word spelt with them
# (Cyrillic "ѕorry") is refused as that word.
_LOOKALIKES = str.maketrans({
    "а": "a", "с": "c", "ԁ": "d", "е": "e", "һ": "h", "і": "i", "ј": "j", "ӏ": "l", "о": "o",
    "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ο": "o", "α": "a", "ε": "e",
    "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
})

_ALLOWED_CONTROLS = frozenset("\n\t\r")


@functools.lru_cache(maxsize=1 << 16)
def check_tactic(text: str, language: str, *, max_length: int = 2000) -> str | None:
    """None if ``text`` may go to the prover as one ``language`` tactic, else the reason why not.
    A pure function of its arguments, remembered: a search asks it about the same candidate
    texts at every state."""
    if any(_is_control(c) for c in text):
        return "control character"
    if len(text) > max_length:
        return "too long"
    if not all(t.closed for t in lex(text, language)):
        return "unterminated comment or string"
    cleaned = clean_tactic(text, language)
    if not cleaned.rstrip("."):
        return "empty"
    if language == "coq":
        return _check_coq(cleaned)
    return _check_lean(cleaned)


def clean_tactic(text: str, language: str) -> str:
    """Comments out, blanks normalised; a Coq tactic ends in exactly one `.` ("" stays "")."""
    if language == "coq":
        return _clean_coq(text)
    return _clean_lean(text)


def _is_control(c: str) -> bool:
    """A control, format (zero-width, bidi) or line/paragraph separator character."""
    return c not in _ALLOWED_CONTROLS and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")


def _forbidden(
    tokens: list[Token], words: frozenset[str], parts: frozenset[str], *, commands: bool = False,
    lean_names: bool = False,
) -> str | None:
    """The first forbidden word, forbidden dotted part or (if ``commands``) `#command`.

    With ``lean_names``, a name is compared as Lean reads it: each dotted part without its
    «guillemets» (``«sorryAx»`` is ``sorryAx``).
    """
    for prev, t in zip([None, *tokens], tokens, strict=False):
        if t.kind != "ident":
            continue
        if commands and prev is not None and prev.text == "#" and prev.end == t.start:
            return "#" + t.text.split(".")[0]
        name = _lean_reading(t.text) if lean_names else t.text
        if name in words:
            return name
        hit = next((p for p in name.split(".") if p in parts or p in words), None)
        if hit is not None:
            return hit
    return None


def _lean_reading(name: str) -> str:
    """A Lean name with its guillemets dropped."""
    return name.replace("«", "").replace("»", "")


# --- Coq ----------------------------------------------------------------------------------


def _clean_coq(text: str) -> str:
    """Tokens joined by single spaces where there was a gap; one final `.` ("..." kept)."""
    out: list[str] = []
    last = 0
    for t in lex(text, "coq"):
        if t.kind in COMMENT_KINDS:
            continue
        if out and t.start > last:
            out.append(" ")
        out.append(t.text)
        last = t.end
    joined = "".join(out)
    if joined.endswith("..."):
        return joined
    body = joined.rstrip(". ")
    return body + "." if body else ""


def _check_coq(cleaned: str) -> str | None:
    """The reason a cleaned Coq sentence is refused, or None."""
    tokens = lex(cleaned, "coq")
    word = _forbidden(tokens, COQ_FORBIDDEN, COQ_FORBIDDEN_PARTS)
    if word is not None:
        return f"forbidden: {word}"
    sentences = coq_sentences(cleaned, tokens)
    if sentences[0].bullet:
        return "bullet"
    if len(sentences) > 1:
        return "several sentences"
    first = tokens[0]
    if first.kind == "ident" and first.text[0].isupper() and first.text not in COQ_ALLOWED_COMMANDS:
        return "vernacular command"
    return None


# --- Lean ---------------------------------------------------------------------------------


def _clean_lean(text: str) -> str:
    """Comments out, blank lines and trailing blanks dropped, dedented, first line unindented."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = mask(text, lex(text, "lean"), COMMENT_KINDS)
    lines = [_expand_indent(line).rstrip() for line in text.split("\n")]
    block = textwrap.dedent("\n".join(line for line in lines if line))
    return block.lstrip(" ")


def _expand_indent(line: str) -> str:
    """The line with tabs in its indentation made two spaces each (Lean refuses tabs)."""
    body = line.lstrip(" \t")
    return line[: len(line) - len(body)].replace("\t", "  ") + body


def _check_lean(cleaned: str) -> str | None:
    """The reason a cleaned Lean tactic is refused, or None."""
    tokens = lex(cleaned, "lean")
    word = _forbidden(tokens, LEAN_FORBIDDEN, LEAN_FORBIDDEN_PARTS, commands=True,
                      lean_names=True)
    if word is not None:
        return f"forbidden: {word}"
    latin = cleaned.translate(_LOOKALIKES)
    if latin != cleaned:
        word = _forbidden(lex(latin, "lean"), LEAN_FORBIDDEN, LEAN_FORBIDDEN_PARTS, commands=True,
                          lean_names=True)
        if word is not None:
            return f"forbidden: {word} (in lookalike letters)"
    if cleaned.startswith("·") or cleaned[:2] in (". ", ".\n") or cleaned == ".":
        return "bullet"
    masked = mask(cleaned, tokens)
    if any(line[:1].strip() for line in masked.split("\n")[1:]):
        return "several tactics"
    return None
