"""Open goals located in Lean and Coq text.

Contract (implemented below): ``locate(text, path)`` lists every open goal of a file in source
order; ``find_goals(path)`` reads the file and does the same. Comments, strings and identifiers
that merely contain ``sorry``/``admit`` are ignored.

Kinds, and the text each hole token [start, end) covers:

- Coq "Admitted": the ``Admitted.`` sentence that closes a proof (``A`` through the ``.``).
- Coq "admit": a tactic sentence of an open proof holding the word ``admit`` — ``admit.`` itself,
  after any bullet or brace (the bullet is a sentence of its own and is not covered), or a
  compound such as ``split; admit.`` or ``all: admit.`` (the whole sentence is covered).
  Holes of a proof that ends in ``Abort.`` are dropped: the declaration does not exist.
- Lean "term sorry": ``sorry`` in term position (``:= sorry``, ``exact sorry``, ``⟨sorry, h⟩``,
  ``have h : P := sorry``, ``fun x => sorry``); covers ``sorry``.
- Lean "by sorry": a tactic block that is only ``sorry`` (``:= by sorry``, ``(by sorry)``,
  ``by`` then ``sorry`` alone on the next line); covers ``by`` through ``sorry``.
- Lean "sorry": ``sorry`` in tactic position inside a longer block (its own line, after ``·``,
  ``;``, ``<;>``, ``case _ =>``, ``all_goals``, ``try``, ``decreasing_by``); covers ``sorry``.
- Lean "admit": the ``admit`` tactic; covers ``admit``.

Names are reported as written: ``theorem Foo.bar`` inside ``namespace X`` is "Foo.bar", not
"X.Foo.bar" (the CLI's ``--theorem`` matches what the user reads in the file); guillemets are
kept. Anonymous declarations (Lean ``example``, anonymous ``instance``, Coq ``Goal``, anonymous
``Instance``) have the name "". Coq obligations (``Next Obligation.``) take the name of the
declaration before them.

``decl_start`` is where the declaration begins *including* its attributes, modifiers and (Lean)
doc comment — ``@[simp] private theorem``, ``#[local] Program Instance`` — so that text inserted
there goes before all of them; ``statement`` starts at the keyword itself (``theorem``, ``Lemma``)
and has comments removed: Coq through the header's final ``.``, Lean up to (excluding) the body's
``:=`` (or ``where`` / the first ``| pat =>`` alternative of a pattern-matching definition; a
line-leading ``|x|`` of the type stays in), trailing blanks dropped.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import InputError
from alphaquant.lexing import (
    COMMENT_KINDS,
    Sentence,
    Token,
    code_tokens,
    coq_sentences,
    lex,
    line_col,
)


# One open goal in a source file. Offsets are character offsets into the file's text.
@dataclass(frozen=True)
class GoalSite:
    file: Path
    theorem: str  # declaration name ("" for an anonymous Lean `example`)
    line: int  # 1-based line of the hole token
    col: int  # 0-based column (Unicode code points) of the hole token
    kind: str  # coq: "Admitted" | "admit"; lean: "sorry" | "by sorry" | "term sorry" | "admit"
    start: int  # offset of the hole token (for "by sorry": of `by`)
    end: int  # offset just past the hole token (past the `.` for Coq sentences)
    decl_start: int  # offset of the declaration keyword (Lemma, theorem, ...)
    statement: str  # the declaration header text, keyword through the statement's end
    index: int = 0  # 0-based position of this hole among the holes of the same declaration

    @property
    def language(self) -> str:
        return "lean" if self.file.suffix == ".lean" else "coq"


SUFFIXES = {".v": "coq", ".lean": "lean"}


def language_of(path: Path) -> str:
    """"coq" for ``.v``, "lean" for ``.lean``; any other suffix is an InputError."""
    language = SUFFIXES.get(path.suffix)
    if language is None:
        raise InputError(
            f"unknown file type {path.suffix or '(none)'!r} for {path}: expected .v (Coq) or "
            ".lean (Lean 4)"
        )
    return language


def find_goals(path: Path) -> list[GoalSite]:
    """The open goals of the file at ``path``; a missing or unreadable file is an InputError."""
    language_of(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a proof file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    return locate(text, path)


def locate(text: str, path: Path) -> list[GoalSite]:
    """Every open goal of ``text`` (the contents of ``path``) in source order."""
    if language_of(path) == "coq":
        return _coq_sites(text, path)
    return _lean_sites(text, path)


def declaration_names(text: str, path: Path) -> list[str]:
    """The names of the file's named declarations, in order, each once."""
    if language_of(path) == "coq":
        names = [h.name for h in _coq_headers(text)]
    else:
        names = [d.name for d in _lean_decls(_LeanText.of(text))]
    return list(dict.fromkeys(n for n in names if n))


# A declaration a hole belongs to.
@dataclass(frozen=True)
class _Decl:
    keyword: str
    name: str
    decl_start: int
    statement: str
    opens_proof: bool = True


def _site(path: Path, text: str, decl: _Decl, hole: tuple[str, int, int], index: int) -> GoalSite:
    """A GoalSite for ``hole`` = (kind, start, end) of ``decl``."""
    kind, start, end = hole
    line, col = line_col(text, start)
    return GoalSite(path, decl.name, line, col, kind, start, end, decl.decl_start,
                    decl.statement, index)


def _without_comments(text: str, tokens: list[Token], start: int, end: int) -> str:
    """``text[start:end]`` with its comments replaced by one space each, trailing blanks dropped."""
    parts, last = [], start
    for t in tokens:
        if t.kind in COMMENT_KINDS and start <= t.start < end:
            parts.append(text[last : t.start] + " ")
            last = min(t.end, end)
    parts.append(text[last:end])
    return "".join(parts).rstrip()


# --- Coq ----------------------------------------------------------------------------------

_COQ_THEOREMS = frozenset({
    "Theorem", "Lemma", "Fact", "Remark", "Corollary", "Proposition", "Property", "Example",
    "Definition", "Fixpoint", "CoFixpoint", "Instance", "Let", "Function", "Goal",
})
_COQ_OTHER_DECLS = frozenset({
    "Inductive", "CoInductive", "Variant", "Record", "Structure", "Class", "Axiom", "Conjecture",
    "Parameter", "Hypothesis", "Variable",
})
_COQ_MODIFIERS = frozenset({
    "Local", "Global", "Polymorphic", "Monomorphic", "Cumulative", "NonCumulative", "Program",
    "Private",
})
_COQ_PROOF_ENDS = frozenset({"Qed", "Defined", "Save"})


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


def _coq_headers(text: str) -> list[_Decl]:
    """Every declaration header sentence of a Coq text."""
    coq = _CoqText.of(text)
    headers: list[_Decl] = []
    for sentence, toks in zip(coq.sentences, coq.by_sentence, strict=True):
        last = headers[-1].name if headers else ""
        header = None if sentence.bullet else _coq_header(coq, sentence, toks, last)
        if header is not None:
            headers.append(header)
    return headers


def _coq_header(coq: _CoqText, sentence: Sentence, toks: list[Token], last: str) -> _Decl | None:
    """The declaration a sentence opens (``Lemma foo : P.``, ``Next Obligation.``), else None."""
    i = _skip_coq_modifiers(toks)
    if i >= len(toks) or toks[i].kind != "ident":
        return None
    keyword, rest = toks[i].text, toks[i + 1 :]
    words = [t.text for t in rest]
    if keyword in _COQ_THEOREMS:
        named = keyword != "Goal" and bool(rest) and rest[0].kind == "ident"
        name, opens = (rest[0].text if named else ""), keyword == "Goal" or not _coq_body(rest)
    elif keyword in _COQ_OTHER_DECLS:
        name, opens = (rest[0].text if rest and rest[0].kind == "ident" else ""), False
    elif (keyword == "Next" and words[:1] == ["Obligation"]) or keyword == "Obligation":
        name, opens = _word_after(words, "of") or last, True
    elif keyword == "Add" and "Morphism" in words:
        name, opens = _word_after(words, "as"), True
    else:
        return None
    statement = _without_comments(coq.text, coq.tokens, toks[i].start, sentence.end)
    return _Decl(keyword, name, sentence.start, statement, opens)


def _skip_coq_modifiers(toks: list[Token]) -> int:
    """Index of the first token after leading ``#[…]`` attributes and modifiers (Local, …)."""
    i = 0
    while i < len(toks):
        if toks[i].text == "#[":
            i = _matching_close(toks, i) + 1
        elif toks[i].kind == "ident" and toks[i].text in _COQ_MODIFIERS:
            i += 1
        else:
            break
    return i


def _coq_body(rest: list[Token]) -> bool:
    """Whether a header gives its body with a top-level ``:=`` (then no proof follows)."""
    depth, lets = 0, 0
    for t in rest:
        if t.text in _OPENERS:
            depth += 1
        elif t.text in _CLOSERS:
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


def _coq_sites(text: str, path: Path) -> list[GoalSite]:
    """The holes of a Coq text: ``Admitted.`` sentences and admit sentences of open proofs."""
    coq = _CoqText.of(text)
    sites: list[GoalSite] = []
    decl: _Decl | None = None
    in_proof, pending = False, list[tuple[str, int, int]]()
    counts: dict[int, int] = {}

    def commit() -> None:
        for hole in pending:
            assert decl is not None
            index = counts.get(decl.decl_start, 0)
            sites.append(_site(path, text, decl, hole, index))
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
        elif first in _COQ_PROOF_ENDS:
            commit()
            in_proof = False
        elif first == "Abort":
            pending.clear()
            in_proof = False
        elif in_proof and any(t.kind == "ident" and t.text == "admit" for t in toks):
            pending.append(("admit", sentence.start, sentence.end))
    commit()
    return sites


# --- Lean ---------------------------------------------------------------------------------

_LEAN_HOLED = frozenset({"theorem", "lemma", "def", "example", "instance", "abbrev", "opaque"})
_LEAN_NAMED = _LEAN_HOLED | {"axiom", "structure", "class", "inductive"}
# Keywords that only ever start a command: they end the declaration before them.
_LEAN_STRONG = _LEAN_NAMED | {
    "namespace", "section", "end", "universe", "variable", "mutual", "import",
}
# Tokens that start a command when they open a line no deeper than the declaration.
_LEAN_WEAK = frozenset({
    "open", "set_option", "local", "scoped", "private", "protected", "noncomputable", "unsafe",
    "partial", "nonrec", "@[", "#", "attribute", "deriving", "notation", "infix", "infixl",
    "infixr", "prefix", "postfix", "macro", "macro_rules", "syntax", "elab", "elab_rules",
    "initialize", "export", "omit", "include",
})
_LEAN_MODIFIERS = frozenset({
    "private", "protected", "noncomputable", "unsafe", "partial", "nonrec", "local", "scoped",
})
# Tokens after which `sorry` is a tactic whatever the block around it.
_TACTIC_LEADERS = frozenset({
    "·", ";", "<;>", "decreasing_by", "all_goals", "any_goals", "try", "repeat", "repeat'",
    "focus", "first",
})
_OPENERS = frozenset({"(", "[", "{", "⟨", "⦃", "@[", "#[", "‹", "⁅"})
_CLOSERS = frozenset({")", "]", "}", "⟩", "⦄", "›", "⁆"})


# A Lean file's tokens with, for each code token, its column and whether it opens its line.
@dataclass(frozen=True)
class _LeanText:
    text: str
    tokens: list[Token]
    code: list[Token]
    cols: list[int]
    firsts: list[bool]
    starts: list[int]  # start offsets of all tokens (comments included)

    @classmethod
    def of(cls, text: str) -> _LeanText:
        """Lex ``text`` once and lay out its code tokens on lines."""
        tokens = lex(text, "lean")
        code = code_tokens(tokens)
        newlines = [i for i, c in enumerate(text) if c == "\n"]
        lines = [bisect.bisect_left(newlines, t.start) for t in code]
        ends = [bisect.bisect_left(newlines, t.end - 1) for t in code]
        cols = [t.start - (text.rfind("\n", 0, t.start) + 1) for t in code]
        firsts = [i == 0 or ends[i - 1] < lines[i] for i in range(len(code))]
        return cls(text, tokens, code, cols, firsts, [t.start for t in tokens])

    def indent(self, i: int) -> int:
        """The indentation of the line that holds code token ``i``."""
        start = self.text.rfind("\n", 0, self.code[i].start) + 1
        line = self.text[start : self.code[i].start]
        return len(line) - len(line.lstrip(" \t"))


# One Lean declaration: keyword token index, end (exclusive) token index, and what to report.
@dataclass(frozen=True)
class _LeanDecl:
    kw: int
    stop: int
    name: str
    decl: _Decl


def _lean_sites(text: str, path: Path) -> list[GoalSite]:
    """The holes of a Lean text: sorry and admit tokens inside theorem-like declarations."""
    lean = _LeanText.of(text)
    sites: list[GoalSite] = []
    for d in _lean_decls(lean):
        if d.decl.keyword in _LEAN_HOLED:
            holes = _lean_holes(lean, d.kw, d.stop)
            sites.extend(_site(path, text, d.decl, h, k) for k, h in enumerate(holes))
    return sites


def _lean_decls(lean: _LeanText) -> list[_LeanDecl]:
    """Every named-kind declaration (theorem, def, instance, structure, …) with its extent."""
    starts = _lean_command_starts(lean)
    decls = []
    for k, kw in enumerate(starts):
        token = lean.code[kw]
        if token.kind != "ident" or token.text not in _LEAN_NAMED:
            continue
        stop = starts[k + 1] if k + 1 < len(starts) else len(lean.code)
        name = _lean_name(lean.code, kw, stop)
        statement = _without_comments(lean.text, lean.tokens, token.start,
                                      _lean_statement_end(lean, kw, stop))
        decl = _Decl(token.text, name, _lean_decl_start(lean, kw), statement)
        decls.append(_LeanDecl(kw, stop, name, decl))
    return decls


def _lean_command_starts(lean: _LeanText) -> list[int]:
    """Indices of the code tokens that start a command (a declaration, `open`, `@[`, `#check`)."""
    starts: list[int] = []
    depth, indent = 0, 0
    for i, t in enumerate(lean.code):
        first = lean.firsts[i]
        after_deriving = i > 0 and lean.code[i - 1].text == "deriving"
        if (t.kind == "ident" and t.text in _LEAN_STRONG and not after_deriving
                and (depth == 0 or (first and lean.cols[i] == 0))):
            starts.append(i)
            depth, indent = 0, lean.indent(i)
        elif first and t.text in _LEAN_WEAK and lean.cols[i] <= indent:
            starts.append(i)
        depth = _depth_after(depth, t)
    return starts


def _depth_after(depth: int, t: Token) -> int:
    """Bracket depth after token ``t`` (never below zero)."""
    if t.kind == "symbol" and t.text in _OPENERS:
        return depth + 1
    if t.kind == "symbol" and t.text in _CLOSERS:
        return max(depth - 1, 0)
    return depth


def _lean_name(code: list[Token], kw: int, stop: int) -> str:
    """The declared name after keyword ``kw``, as written ("" for example / anonymous instance)."""
    if code[kw].text == "example":
        return ""
    j = kw + 1
    if code[kw].text == "instance" and j + 1 < stop and code[j].text == "(" \
            and code[j + 1].text == "priority":
        j = _matching_close(code, j) + 1
    if j < stop and code[j].kind == "ident" and code[j].text not in _LEAN_STRONG:
        return code[j].text
    return ""


def _lean_statement_end(lean: _LeanText, kw: int, stop: int) -> int:
    """Offset where the header ends: the body's `:=`, a `where`, or the first alternative of a
    pattern-matching definition.

    A `:=` that belongs to a `let` of the type does not end it. A line-leading `|` ends it only
    when it opens an alternative (`| pat => rhs`: a `=>` before any `:=`) and no `match` of the
    type is open; any other `|` after the colon is the type's own (`|x - y| ≤ e`, an absolute
    value or a norm at the start of a line).
    """
    depth, lets, matches = 0, 0, 0
    for j in range(kw + 1, stop):
        t = lean.code[j]
        if depth == 0 and t.kind == "ident" and t.text == "let":
            lets += 1
        elif depth == 0 and t.kind == "ident" and t.text == "match":
            matches += 1
        elif depth == 0 and t.text == ":=" and lets:
            lets -= 1
        elif depth == 0 and t.text in (":=", "where"):
            return t.start
        elif (depth == 0 and t.text == "|" and lean.firsts[j] and not matches
              and _opens_alternative(lean, j, stop)):
            return t.start
        depth = _depth_after(depth, t)
    return lean.code[stop - 1].end


def _opens_alternative(lean: _LeanText, bar: int, stop: int) -> bool:
    """Whether the `|` at ``bar`` starts a match alternative: a `=>` that closes no `fun` follows
    (outside brackets) before any `:=`, `where` or line-leading `|`."""
    depth, funs = 0, 0
    for j in range(bar + 1, stop):
        t = lean.code[j]
        if depth == 0 and t.kind == "ident" and t.text in ("fun", "λ"):
            funs += 1
        elif depth == 0 and t.text == "=>" and funs:
            funs -= 1  # a `fun x =>` of the type
        elif depth == 0 and t.text == "=>":
            return True
        if depth == 0 and (t.text in (":=", "where") or (t.text == "|" and lean.firsts[j])):
            return False
        depth = _depth_after(depth, t)
    return False


def _lean_decl_start(lean: _LeanText, kw: int) -> int:
    """Offset of the declaration's first modifier, attribute or doc comment (else its keyword)."""
    code, first = lean.code, kw
    j = kw - 1
    while j >= 0:
        if code[j].kind == "ident" and code[j].text in _LEAN_MODIFIERS:
            first, j = j, j - 1
        elif code[j].text == "]" and (opener := _matching_open(code, j)) is not None \
                and code[opener].text == "@[":
            first, j = opener, opener - 1
        else:
            break
    start = code[first].start
    before = bisect.bisect_left(lean.starts, start) - 1
    if before >= 0 and lean.tokens[before].kind == "doc" and lean.tokens[before].text[:3] == "/--":
        return lean.tokens[before].start
    return start


def _lean_holes(lean: _LeanText, kw: int, stop: int) -> list[tuple[str, int, int]]:
    """(kind, start, end) of each sorry/admit of the declaration at ``kw``, in order."""
    blocks: list[list[int | None]] = []  # [col] of an open tactic block, [] for a bracket
    holes = []
    for i in range(kw, stop):
        t = lean.code[i]
        if lean.firsts[i]:
            _close_blocks_left_of(blocks, lean.cols[i])
        if blocks and blocks[-1] == [None]:
            blocks[-1] = [lean.cols[i]]
        if t.kind == "ident" and t.text in ("sorry", "admit"):
            holes.append(_lean_hole(lean, i, stop, blocks))
        _track_blocks(lean, i, blocks)
    return holes


def _close_blocks_left_of(blocks: list[list[int | None]], col: int) -> None:
    """End the tactic blocks a line starting at ``col`` falls out of (brackets stay)."""
    while blocks and blocks[-1] and blocks[-1][0] is not None and col < blocks[-1][0]:
        blocks.pop()


def _in_tactic_block(blocks: list[list[int | None]]) -> bool:
    """Whether the innermost open construct is a tactic block (not a bracket)."""
    return bool(blocks) and bool(blocks[-1])


def _track_blocks(lean: _LeanText, i: int, blocks: list[list[int | None]]) -> None:
    """Open or close tactic blocks and brackets for code token ``i``."""
    t = lean.code[i]
    if t.kind == "ident" and t.text in ("by", "decreasing_by"):
        blocks.append([None])
    elif t.kind != "symbol":
        return
    elif t.text == "·" or (t.text == "." and lean.firsts[i]):
        blocks.append([None])
    elif t.text == "=>" and _in_tactic_block(blocks) and not _fun_arrow(lean, i):
        blocks.append([None])
    elif t.text in _OPENERS:
        blocks.append([])
    elif t.text in _CLOSERS:
        while blocks and blocks.pop():
            pass


def _lean_hole(
    lean: _LeanText, i: int, stop: int, blocks: list[list[int | None]]
) -> tuple[str, int, int]:
    """Kind and extent of the sorry/admit at code token ``i`` (see the module docstring)."""
    t, prev = lean.code[i], lean.code[i - 1]
    if t.text == "admit":
        return "admit", t.start, t.end
    if prev.text == "by" and prev.kind == "ident":
        if _alone_in_block(lean, i, stop):
            return "by sorry", prev.start, t.end
        return "sorry", t.start, t.end
    tactic = _in_tactic_block(blocks)
    if prev.text in _TACTIC_LEADERS or (prev.text == "." and lean.firsts[i - 1]):
        return "sorry", t.start, t.end
    if prev.text in ("=>", "|"):
        fun = prev.text == "=>" and _fun_arrow(lean, i - 1)
        return ("sorry" if tactic and not fun else "term sorry"), t.start, t.end
    if lean.firsts[i] and tactic and lean.cols[i] == blocks[-1][0]:
        return "sorry", t.start, t.end
    return "term sorry", t.start, t.end


def _alone_in_block(lean: _LeanText, i: int, stop: int) -> bool:
    """Whether the sorry at ``i`` (right after `by`) is the whole tactic block."""
    if i + 1 >= stop:
        return True
    nxt = lean.code[i + 1]
    if nxt.text in (";", "<;>"):
        return False
    return not (lean.firsts[i] and lean.firsts[i + 1] and lean.cols[i + 1] >= lean.cols[i])


def _fun_arrow(lean: _LeanText, i: int) -> bool:
    """Whether the `=>` at ``i`` belongs to a `fun` on its line (not a case or match arm)."""
    j = i - 1
    while j >= 0:
        text = lean.code[j].text
        if text in ("fun", "λ"):
            return True
        if text in ("|", "case", "case'", "next", "·", "by") or lean.firsts[j]:
            return False
        j -= 1
    return False


# --- brackets -----------------------------------------------------------------------------


def _matching_close(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``i`` (the last index if unclosed)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth = depth + (tokens[j].text in _OPENERS) - (tokens[j].text in _CLOSERS)
        if depth == 0:
            return j
    return len(tokens) - 1


def _matching_open(tokens: list[Token], i: int) -> int | None:
    """Index of the bracket opening the one closing at ``i`` (None if unopened)."""
    depth = 0
    for j in range(i, -1, -1):
        depth = depth + (tokens[j].text in _CLOSERS) - (tokens[j].text in _OPENERS)
        if depth == 0:
            return j
    return None
