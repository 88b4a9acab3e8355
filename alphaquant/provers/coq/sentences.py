"""Coq sentences as coqtop reads them, and the one-tactic-sentence rule the prover enforces.

A sentence ends at a ``.`` followed by a blank or the end (outside comments and strings);
bullets, ``{``, ``}`` and ``N: {`` are sentences of their own. ``one_tactic_sentence`` refuses
anything but exactly one tactic sentence: coqtop runs every sentence of a line it is given.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_MARKUP = re.compile(r"</?\s*(?:infomsg|warning|prompt)", re.IGNORECASE)

# One Coq sentence of a text: a command or tactic ending with ``.``, a bullet, ``{`` or ``}``.
@dataclass(frozen=True)
class Sentence:
    start: int  # offset of its first character that is neither blank nor comment
    end: int  # offset just past its terminator
    text: str


# A text cut into sentences, and what follows the last one.
@dataclass(frozen=True)
class Sentences:
    sentences: tuple[Sentence, ...]
    rest: str  # text after the last sentence, comments removed, stripped ("" when clean)
    unterminated: bool  # a comment or string is still open at the end


_SELECTOR_BRACE = re.compile(r"(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{")


def _skip_string(text: str, i: int) -> int | None:
    """Offset past the string literal opening at ``i`` (``""`` escapes a quote); None if open."""
    j = i + 1
    while True:
        k = text.find('"', j)
        if k < 0:
            return None
        if text.startswith('""', k):
            j = k + 2
            continue
        return k + 1


def _skip_comment(text: str, i: int) -> int | None:
    """Offset past the (nested) comment opening at ``i``; None if it never closes."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        if text.startswith("(*", j):
            depth += 1
            j += 2
        elif text.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        elif text[j] == '"':
            end = _skip_string(text, j)
            if end is None:
                return None
            j = end
        else:
            j += 1
    return None


def split_sentences(text: str) -> Sentences:
    """Cut Coq text into sentences the way coqtop reads them.

    A sentence ends at a ``.`` followed by a blank or the end (not inside a comment or string,
    not part of ``..``); bullets (``-``, ``+``, ``*`` runs), ``{``, ``}`` and ``N: {`` are
    sentences of their own where a sentence starts.
    """
    out: list[Sentence] = []
    n = len(text)
    i = 0
    start: int | None = None
    last_end = 0
    rest_parts: list[str] = []

    def emit(s: int, e: int) -> None:
        nonlocal start, last_end
        out.append(Sentence(s, e, text[s:e]))
        start = None
        last_end = e
        rest_parts.clear()

    while i < n:
        c = text[i]
        if text.startswith("(*", i):
            j = _skip_comment(text, i)
            if j is None:
                return Sentences(tuple(out), text[last_end:].strip(), True)
            i = j
            continue
        if c.isspace():
            i += 1
            continue
        if start is None:
            start = i
            if c in "-+*":
                j = i
                while j < n and text[j] == c:
                    j += 1
                emit(i, j)
                i = j
                continue
            if c in "{}":
                emit(i, i + 1)
                i += 1
                continue
            m = _SELECTOR_BRACE.match(text, i)
            if m is not None:
                emit(i, m.end())
                i = m.end()
                continue
        if c == '"':
            j2 = _skip_string(text, i)
            if j2 is None:
                return Sentences(tuple(out), text[last_end:].strip(), True)
            i = j2
            continue
        if c == ".":
            j = i
            while j < n and text[j] == ".":
                j += 1
            dots = j - i
            if (dots == 1 or dots == 3) and (j == n or text[j].isspace()):
                emit(start, j)
            i = j
            continue
        i += 1
    rest = "" if start is None else text[start:].strip()
    return Sentences(tuple(out), rest, False)


# Vernacular commands a tactic sentence must not start with (Timeout would run them, too).
_COMMANDS = frozenset("""
    Abort About Add Admit Admitted Arguments Axiom Axioms Back BackTo Bind Canonical Check Class
    Close CoFixpoint CoInductive Coercion Collection Combined Compute Conjecture Constraint Context
    Corollary Create Cumulative Declare Defined Definition Delimit Derive Drop Enable Disable End
    Eval Example Existing Export Extract Extraction Fact Fail Fixpoint Focus From Function
    Functional Generalizable Global Goal Guarded Hint Hypotheses Hypothesis Identity Implicit
    Import Include
    Inductive Infix Info Inline Instance Instructions Lemma Let Load Local Locate Ltac Ltac2 Module
    Monomorphic NonCumulative Next Notation Obligation Obligations Opaque Open Optimize Parameter
    Parameters Polymorphic Preterm Primitive Print Private Program Proof Proposition Qed Quit Record
    Redirect Register Remark Remove Require Reserved Reset Restart Save Scheme Search SearchPattern
    SearchRewrite Section Separate Set Show Solve Strategy String Structure SubClass Succeed Tactic
    Test Theorem Time Timeout Transparent Typeclasses Undelimit Undo Unfocus Unfocused Universe
    Universes Unset Variable Variables Variant
""".split())


def one_tactic_sentence(tactic: str) -> str | None:
    """None when ``tactic`` is exactly one Coq tactic sentence, else why it is refused.

    This is the prover's own last line of defence: coqtop runs every sentence of a line it is
    given, and accepts ``Axiom`` inside an open proof, so ``reflexivity. Qed. Axiom cheat :
    False.`` must never reach it.
    """
    if _MARKUP.search(tactic):
        return "contains coqtop's output markup (<prompt>, <infomsg>, <warning>)"
    split = split_sentences(tactic)
    if split.unterminated:
        return "an unterminated comment or string"
    if split.rest:
        return "not a complete Coq sentence (a tactic ends with a period)"
    if len(split.sentences) != 1:
        return f"{len(split.sentences)} Coq sentences, not exactly one"
    text = split.sentences[0].text
    if not text.endswith("."):
        return "a bullet or brace, not a tactic"
    if text.endswith(".."):
        return "an ellipsis sentence, not a plain tactic"
    word = re.match(r"#\[|[A-Za-z_][\w']*", text)
    if word is not None and (word.group(0) == "#[" or word.group(0) in _COMMANDS):
        return f"a Coq command ({word.group(0)}), not a tactic"
    return None


@functools.lru_cache(maxsize=1 << 12)
def tactic_body(tactic: str) -> str:
    """The tactic's one sentence without its final period."""
    return split_sentences(tactic).sentences[0].text[:-1]


_SECTION_VARS = {"Variable", "Variables", "Hypothesis", "Hypotheses", "Context"}
_MODIFIERS = {"Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative",
              "Private", "Program", "Export", "Import"}


def in_section_with_variables(sentences: tuple[Sentence, ...]) -> bool:
    """Whether the end of these sentences lies inside a Section that declared variables."""
    stack: list[list[object]] = []  # [kind, name, has_variables]
    for s in sentences:
        words = re.sub(r"^#\[[^\]]*\]\s*", "", s.text).split()
        while words and words[0] in _MODIFIERS:
            words = words[1:]
        if not words:
            continue
        head = words[0]
        name = words[1].rstrip(".") if len(words) > 1 else ""
        if head == "Section":
            stack.append(["section", name, False])
        elif head == "Module" and ":=" not in s.text:
            if name == "Type":
                name = words[2].rstrip(".") if len(words) > 2 else ""
            stack.append(["module", name, False])
        elif head == "End":
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][1] == name:
                    del stack[k:]
                    break
        elif head in _SECTION_VARS and stack and stack[-1][0] == "section":
            stack[-1][2] = True
    return any(kind == "section" and has for kind, _, has in stack)
