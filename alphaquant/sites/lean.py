"""The Lean locator: the open goals and the declarations of Lean 4 text.

Kinds, and the text each hole token [start, end) covers:

- "term sorry": ``sorry`` in term position (``:= sorry``, ``exact sorry``, ``⟨sorry, h⟩``,
  ``have h : P := sorry``, ``fun x => sorry``); covers ``sorry``.
- "by sorry": a tactic block that is only ``sorry`` (``:= by sorry``, ``(by sorry)``,
  ``by`` then ``sorry`` alone on the next line); covers ``by`` through ``sorry``.
- "sorry": ``sorry`` in tactic position inside a longer block (its own line, after ``·``,
  ``;``, ``<;>``, ``case _ =>``, ``all_goals``, ``try``, ``decreasing_by``); covers ``sorry``.
- "admit": the ``admit`` tactic; covers ``admit``.

A declaration's extent runs to the next command (found by keyword, bracket depth and
indentation); its ``statement`` from the keyword up to the body's ``:=``, ``where`` or first
``| pat =>`` alternative. Holes are told apart by tracking the tactic blocks (``by``, ``·``,
``=>`` of an arm inside tactics) and brackets open at each token.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path

from alphaquant.lexing import LineIndex, Token, code_tokens, lex
from alphaquant.sites.site import Decl, GoalSite, hole_site
from alphaquant.sites.tokens import (
    CLOSERS,
    OPENERS,
    matching_close,
    matching_open,
    without_comments,
)

_HOLED = frozenset({"theorem", "lemma", "def", "example", "instance", "abbrev", "opaque"})
_NAMED = _HOLED | {"axiom", "structure", "class", "inductive"}
# Keywords that only ever start a command: they end the declaration before them.
_STRONG = _NAMED | {
    "namespace", "section", "end", "universe", "variable", "mutual", "import",
}
# Tokens that start a command when they open a line no deeper than the declaration.
_WEAK = frozenset({
    "open", "set_option", "local", "scoped", "private", "protected", "noncomputable", "unsafe",
    "partial", "nonrec", "@[", "#", "attribute", "deriving", "notation", "infix", "infixl",
    "infixr", "prefix", "postfix", "macro", "macro_rules", "syntax", "elab", "elab_rules",
    "initialize", "export", "omit", "include",
})
_MODIFIERS = frozenset({
    "private", "protected", "noncomputable", "unsafe", "partial", "nonrec", "local", "scoped",
})
# Tokens after which `sorry` is a tactic whatever the block around it.
_TACTIC_LEADERS = frozenset({
    "·", ";", "<;>", "decreasing_by", "all_goals", "any_goals", "try", "repeat", "repeat'",
    "focus", "first",
})


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
    decl: Decl


def locate(text: str, path: Path) -> list[GoalSite]:
    """The holes of a Lean text: sorry and admit tokens inside theorem-like declarations."""
    lean = _LeanText.of(text)
    lines = LineIndex.of(text)
    sites: list[GoalSite] = []
    for d in _lean_decls(lean):
        if d.decl.keyword in _HOLED:
            holes = _lean_holes(lean, d.kw, d.stop)
            sites.extend(hole_site(path, lines, d.decl, h, k) for k, h in enumerate(holes))
    return sites


def declarations(text: str) -> list[Decl]:
    """Every named-kind declaration of a Lean text (theorem, def, instance, structure, …)."""
    return [d.decl for d in _lean_decls(_LeanText.of(text))]


def declaration_end(text: str, decl_start: int) -> int:
    """The offset just past the last code token of the declaration at ``decl_start`` (its
    proof, ``termination_by`` and ``where`` clauses included); ``len(text)`` when none is
    there."""
    lean = _LeanText.of(text)
    for d in _lean_decls(lean):
        if d.decl.decl_start == decl_start:
            return lean.code[d.stop - 1].end
    return len(text)


def _lean_decls(lean: _LeanText) -> list[_LeanDecl]:
    """Every named-kind declaration (theorem, def, instance, structure, …) with its extent."""
    starts = _lean_command_starts(lean)
    decls = []
    for k, kw in enumerate(starts):
        token = lean.code[kw]
        if token.kind != "ident" or token.text not in _NAMED:
            continue
        stop = starts[k + 1] if k + 1 < len(starts) else len(lean.code)
        name = _lean_name(lean.code, kw, stop)
        statement = without_comments(lean.text, lean.tokens, token.start,
                                     _lean_statement_end(lean, kw, stop))
        decl = Decl(token.text, name, _lean_decl_start(lean, kw), statement)
        decls.append(_LeanDecl(kw, stop, decl))
    return decls


def _lean_command_starts(lean: _LeanText) -> list[int]:
    """Indices of the code tokens that start a command (a declaration, `open`, `@[`, `#check`)."""
    starts: list[int] = []
    depth, indent = 0, 0
    for i, t in enumerate(lean.code):
        first = lean.firsts[i]
        after_deriving = i > 0 and lean.code[i - 1].text == "deriving"
        if (t.kind == "ident" and t.text in _STRONG and not after_deriving
                and (depth == 0 or (first and lean.cols[i] == 0))):
            starts.append(i)
            depth, indent = 0, lean.indent(i)
        elif first and t.text in _WEAK and lean.cols[i] <= indent:
            starts.append(i)
        depth = _depth_after(depth, t)
    return starts


def _depth_after(depth: int, t: Token) -> int:
    """Bracket depth after token ``t`` (never below zero)."""
    if t.kind == "symbol" and t.text in OPENERS:
        return depth + 1
    if t.kind == "symbol" and t.text in CLOSERS:
        return max(depth - 1, 0)
    return depth


def _lean_name(code: list[Token], kw: int, stop: int) -> str:
    """The declared name after keyword ``kw``, as written ("" for example / anonymous instance)."""
    if code[kw].text == "example":
        return ""
    j = kw + 1
    if code[kw].text == "instance" and j + 1 < stop and code[j].text == "(" \
            and code[j + 1].text == "priority":
        j = matching_close(code, j) + 1
    if j < stop and code[j].kind == "ident" and code[j].text not in _STRONG:
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
        if code[j].kind == "ident" and code[j].text in _MODIFIERS:
            first, j = j, j - 1
        elif code[j].text == "]" and (opener := matching_open(code, j)) is not None \
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
    elif t.text in OPENERS:
        blocks.append([])
    elif t.text in CLOSERS:
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
