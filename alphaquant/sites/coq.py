"""The Coq locator: the open goals and the declaration headers of Coq text.

Kinds, and the text each hole token [start, end) covers:

- "Admitted": the ``Admitted.`` sentence that closes a proof (``A`` through the ``.``).
- "admit": a tactic sentence of an open proof holding the word ``admit`` — ``admit.`` itself,
  after any bullet or brace (the bullet is a sentence of its own and is not covered), or a
  compound such as ``split; admit.`` or ``all: admit.`` (the whole sentence is covered).
  Holes of a proof that ends in ``Abort.`` are dropped: the declaration does not exist.

A declaration's ``statement`` runs from its keyword through the header's final ``.``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from alphaquant.lexing import LineIndex, Sentence, Token, code_tokens, coq_sentences, lex
from alphaquant.sites.site import Decl, GoalSite, hole_site
from alphaquant.sites.tokens import CLOSERS, OPENERS, matching_close, without_comments

_THEOREMS = frozenset({
    "Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example",
    "Definition", "Fixpoint", "CoFixpoint", "Instance", "Let", "Function", "Goal",
})
_OTHER_DECLS = frozenset({
    "Inductive", "CoInductive", "Variant", "Record", "Structure", "Class", "Axiom", "Conjecture",
    "Parameter", "Hypothesis", "Variable",
})
_MODIFIERS = frozenset({
    "Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative", "Program",
    "Private",
})
_PROOF_ENDS = frozenset({"Qed", "Defined", "Save"})


# A Coq file's code tokens, sentences, and the tokens of each sentence.
@dataclass(frozen=True)
class _CoqText:
    text: str
    tokens: list[Token]
    sentences: list[Sentence]
    by_sentence: list[list[Token]]

    @classmethod
    def of(cls, text: str) -> _CoqText:
        """Lex ``text`` once and group its code tokens by sentence."""
        tokens = lex(text, "coq")
        sentences = coq_sentences(text, tokens)
        code = code_tokens(tokens)
        starts = [t.start for t in code]
        groups = [
            code[bisect.bisect_left(starts, s.start) : bisect.bisect_left(starts, s.end)]
            for s in sentences
        ]
        return cls(text, tokens, sentences, groups)


def locate(text: str, path: Path) -> list[GoalSite]:
    """The holes of a Coq text: ``Admitted.`` sentences and admit sentences of open proofs."""
    coq = _CoqText.of(text)
    lines = LineIndex.of(text)
    sites: list[GoalSite] = []
    decl: Decl | None = None
    in_proof, pending = False, list[tuple[str, int, int]]()
    counts: dict[int, int] = {}

    def commit() -> None:
        for hole in pending:
            assert decl is not None
            index = counts.get(decl.decl_start, 0)
            sites.append(hole_site(path, lines, decl, hole, index))
            counts[decl.decl_start] = index + 1
        pending.clear()

    for sentence, toks in zip(coq.sentences, coq.by_sentence, strict=True):
        if sentence.bullet or not toks:
            continue
        header = _coq_header(coq, sentence, toks, decl.name if decl else "")
        if header is not None:
            commit()
            decl, in_proof = header, header.opens_proof
            continue
        first = toks[0].text if toks[0].kind == "ident" else ""
        if first == "Admitted" and decl is not None:
            pending.append(("Admitted", toks[0].start, sentence.end))
            commit()
            in_proof = False
        elif first in _PROOF_ENDS:
            commit()
            in_proof = False
        elif first == "Abort":
            pending.clear()
            in_proof = False
        elif in_proof and any(t.kind == "ident" and t.text == "admit" for t in toks):
            pending.append(("admit", sentence.start, sentence.end))
    commit()
    return sites


def declarations(text: str) -> list[Decl]:
    """Every declaration header sentence of a Coq text."""
    coq = _CoqText.of(text)
    headers: list[Decl] = []
    for sentence, toks in zip(coq.sentences, coq.by_sentence, strict=True):
        last = headers[-1].name if headers else ""
        header = None if sentence.bullet else _coq_header(coq, sentence, toks, last)
        if header is not None:
            headers.append(header)
    return headers


def _coq_header(coq: _CoqText, sentence: Sentence, toks: list[Token], last: str) -> Decl | None:
    """The declaration a sentence opens (``Lemma foo : P.``, ``Next Obligation.``), else None."""
    i = _skip_coq_modifiers(toks)
    if i >= len(toks) or toks[i].kind != "ident":
        return None
    keyword, rest = toks[i].text, toks[i + 1 :]
    words = [t.text for t in rest]
    if keyword in _THEOREMS:
        named = keyword != "Goal" and bool(rest) and rest[0].kind == "ident"
        name, opens = (rest[0].text if named else ""), keyword == "Goal" or not _coq_body(rest)
    elif keyword in _OTHER_DECLS:
        name, opens = (rest[0].text if rest and rest[0].kind == "ident" else ""), False
    elif (keyword == "Next" and words[:1] == ["Obligation"]) or keyword == "Obligation":
        name, opens = _word_after(words, "of") or last, True
    elif keyword == "Add" and "Morphism" in words:
        name, opens = _word_after(words, "as"), True
    else:
        return None
    statement = without_comments(coq.text, coq.tokens, toks[i].start, sentence.end)
    return Decl(keyword, name, sentence.start, statement, opens)


def _skip_coq_modifiers(toks: list[Token]) -> int:
    """Index of the first token after leading ``#[…]`` attributes and modifiers (Local, …)."""
    i = 0
    while i < len(toks):
        if toks[i].text == "#[":
            i = matching_close(toks, i) + 1
        elif toks[i].kind == "ident" and toks[i].text in _MODIFIERS:
            i += 1
        else:
            break
    return i


def _coq_body(rest: list[Token]) -> bool:
    """Whether a header gives its body with a top-level ``:=`` (then no proof follows)."""
    depth, lets = 0, 0
    for t in rest:
        if t.text in OPENERS:
            depth += 1
        elif t.text in CLOSERS:
            depth = max(depth - 1, 0)
        elif depth == 0 and t.text == "let":
            lets += 1
        elif depth == 0 and t.text == ":=":
            if not lets:
                return True
            lets -= 1
    return False


def _word_after(words: list[str], word: str) -> str:
    """The word following ``word`` in ``words``, or ""."""
    if word in words[:-1]:
        return words[words.index(word) + 1]
    return ""
