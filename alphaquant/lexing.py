"""Lexing shared by goal location and the tactic sanitizer: comments, strings, words, sentences.

``lex(text, language)`` splits Coq or Lean text into tokens with their offsets, comments and
strings included as tokens of their own, so callers can skip them and still point into the
original text; ``mask`` blanks chosen tokens out (spaces, newlines kept) for regex work on code.

Coq: nested ``(* *)`` comments (strings inside them are lexed, as coqc does), strings with ``""``
for a quote. Lean 4: ``--`` line comments, nested ``/- -/`` block comments (``/--`` and ``/-!``
are kind "doc"), strings with backslash escapes, raw strings ``r#"…"#``, char literals ``'a'``.
Identifiers keep their dotted parts together (``Nat.add_0_r``, ``h.1``, ``Foo.«bar baz»``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

COMMENT_KINDS = frozenset({"comment", "doc"})
OPAQUE_KINDS = frozenset({"comment", "doc", "string", "char"})


# One lexeme: kind is "ident" | "number" | "string" | "char" | "symbol" | "comment" | "doc";
# closed is False for a comment, string or «name» the text ends inside. Slots: a file of 60,000
# goals has over a million of them.
@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int
    end: int
    closed: bool = True


# One Coq sentence: [start, end) runs from its first character through its terminator;
# a bullet or brace (`-`, `++`, `*`, `{`, `}`) is a sentence of its own.
@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    bullet: bool = False
    terminated: bool = True


_LEAN_SYMBOLS = ("<;>", ":=", "=>", "@[", "..", "<|>", "<|", "|>.", "|>", "->", "<-", "::")
_COQ_SYMBOLS = ("...", "..", ":=", "=>", "->", "<-", "#[", "::", "|-")
_LEAN_CHAR = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
_LEAN_RAW = re.compile(r'r(#*)"')
_NUMBER = re.compile(r"0[xXbBoO][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9][0-9_]*)?(?:[eE][+-]?[0-9]+)?")
_COQ_BULLET = re.compile(r"-+|\++|\*+|\{|\}")
_COQ_TERMINATOR = re.compile(r"\.+(?=\s|$)")
# The fast path of ``lex``: blanks, then an ASCII token whose end no non-ASCII character could
# move (an identifier is never followed by one, nor by a `.` before one; a number is `_NUMBER`).
_ASCII_ID = r"[A-Za-z_][A-Za-z0-9_{rest}]*+"
_COQ_FAST = re.compile(
    r"\s*+(?:"
    rf"(?P<ident>(?>{_ASCII_ID.format(rest=chr(39))}(?:\.{_ASCII_ID.format(rest=chr(39))})*+)"
    r"(?![^\x00-\x7f]|\.[^\x00-\x7f]))"
    rf"|(?P<number>{_NUMBER.pattern})"
    r"|(?P<symbol>\.\.\.|\.\.|:=|=>|->|<-|\#\[|::|\|-|\((?!\*)|[!\#$%&)*+,\-./:;<=>?@\[\\\]^`{|}~])"
    r")?"
)
_LEAN_FAST = re.compile(
    r"\s*+(?:"
    rf"(?P<ident>(?!r\#*\")(?>{_ASCII_ID.format(rest=chr(39) + '!?')}"
    rf"(?:\.{_ASCII_ID.format(rest=chr(39) + '!?')})*+)"
    r"(?![^\x00-\x7f]|\.[^\x00-\x7f]|\.[0-9]))"
    rf"|(?P<number>{_NUMBER.pattern})"
    r"|(?P<symbol><;>|:=|=>|@\[|\.\.|<\|>|<\||\|>\.|\|>|->|<-|::"
    r"|-(?!-)|/(?!-)|[!\#$%&()*+,.:;<=>?@\[\\\]^`{|}~])"
    r")?"
)


def lex(text: str, language: str) -> list[Token]:
    """Every token of ``text`` in order, comments and strings included, whitespace left out.

    The common tokens (ASCII identifiers, numbers and punctuation, after any blanks) are read
    by one regular expression; wherever it does not apply (comments, strings, any non-ASCII
    character at or right after a token) the language's lexeme functions decide, so the
    tokens are those ``lex_by_lexeme`` gives, in less time.
    """
    fast, lexeme = (_LEAN_FAST, _lean_lexeme) if language == "lean" else (_COQ_FAST, _coq_lexeme)
    tokens: list[Token] = []
    append, match = tokens.append, fast.match
    i, n = 0, len(text)
    while i < n:
        m = match(text, i)
        assert m is not None  # every part of the pattern is optional
        kind = m.lastgroup
        if kind is not None:
            start, end = m.span(kind)
            append(Token(kind, text[start:end], start, end))
            i = end
            continue
        i = m.end()
        if i >= n:
            break
        end, kind = lexeme(text, i)
        closed = end >= 0
        end = end if closed else n
        append(Token(kind, text[i:end], i, end, closed))
        i = end
    return tokens


def lex_by_lexeme(text: str, language: str) -> list[Token]:
    """``lex`` one lexeme function call at a time (the reference ``lex`` is tested against)."""
    lexeme = _lean_lexeme if language == "lean" else _coq_lexeme
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        end, kind = lexeme(text, i)
        closed = end >= 0
        end = end if closed else n
        tokens.append(Token(kind, text[i:end], i, end, closed))
        i = end
    return tokens


def code_tokens(tokens: list[Token]) -> list[Token]:
    """The tokens that are code: comments and doc comments left out (strings kept)."""
    return [t for t in tokens if t.kind not in COMMENT_KINDS]


def mask(text: str, tokens: list[Token], kinds: frozenset[str] = OPAQUE_KINDS) -> str:
    """``text`` with the tokens of ``kinds`` blanked to spaces, newlines kept: offsets unchanged."""
    parts, last = [], 0
    for t in tokens:
        if t.kind in kinds:
            parts.append(text[last : t.start])
            parts.append(re.sub(r"[^\n]", " ", t.text))
            last = t.end
    parts.append(text[last:])
    return "".join(parts)


def coq_sentences(text: str, tokens: list[Token] | None = None) -> list[Sentence]:
    """Coq's sentences: a `.` or `...` before a blank or the end closes one; bullets alone."""
    masked = mask(text, lex(text, "coq") if tokens is None else tokens)
    sentences: list[Sentence] = []
    pos, n = 0, len(masked)
    while True:
        while pos < n and masked[pos].isspace():
            pos += 1
        if pos >= n:
            return sentences
        bullet = _COQ_BULLET.match(masked, pos)
        if bullet:
            sentences.append(Sentence(pos, bullet.end(), bullet=True))
            pos = bullet.end()
            continue
        end = _coq_terminator_end(masked, pos)
        sentences.append(Sentence(pos, end or n, terminated=end is not None))
        if end is None:
            return sentences
        pos = end


def _coq_terminator_end(masked: str, pos: int) -> int | None:
    """Offset just past the first sentence terminator at or after ``pos`` (``..`` is not one)."""
    for m in _COQ_TERMINATOR.finditer(masked, pos):
        if len(m.group()) != 2:
            return m.end()
    return None


def line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and 0-based column (code points) of ``offset``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start


# Where each line of a text starts: the line and column of many offsets, each by bisection
# (``line_col`` counts the newlines before its offset, a pass over the prefix each time).
@dataclass(frozen=True)
class LineIndex:
    starts: tuple[int, ...]  # offset of each line's first character; 0 first

    @classmethod
    def of(cls, text: str) -> LineIndex:
        return cls((0, *(m.end() for m in re.finditer("\n", text))))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and 0-based column (code points) of ``offset``, as ``line_col``."""
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line]


# --- Lean ---------------------------------------------------------------------------------


def lean_id_start(c: str) -> bool:
    """Whether ``c`` may start a Lean identifier: ASCII letter, `_`, or Lean's letter-like set."""
    return ("a" <= c <= "z") or ("A" <= c <= "Z") or c == "_" or _lean_letter_like(c)


def lean_id_rest(c: str) -> bool:
    """Whether ``c`` may continue a Lean identifier (digits, `'`, `!`, `?`, subscripts too)."""
    return lean_id_start(c) or c.isdigit() or c in "'!?" or _lean_subscript(c)


def _lean_letter_like(c: str) -> bool:
    """Lean's ``isLetterLike``: Greek (but λ Π Σ), Coptic, polytonic, letter-like, math script."""
    o = ord(c)
    return (
        (0x3B1 <= o <= 0x3C9 and o != 0x3BB)
        or (0x391 <= o <= 0x3A9 and o not in (0x3A0, 0x3A3))
        or 0x3CA <= o <= 0x3FB
        or 0x1F00 <= o <= 0x1FFE
        or 0x2100 <= o <= 0x214F
        or 0x1D49C <= o <= 0x1D59F
    )


def _lean_subscript(c: str) -> bool:
    """Lean's ``isSubScriptAlnum``: ₀-₉, ₐ-ₜ, ᵢ-ᵪ, ⱼ."""
    o = ord(c)
    return 0x2080 <= o <= 0x2089 or 0x2090 <= o <= 0x209C or 0x1D62 <= o <= 0x1D6A or o == 0x2C7C


def _lean_lexeme(text: str, i: int) -> tuple[int, str]:
    """(end, kind) of the Lean lexeme starting at ``i``; end is -1 if it never closes."""
    c = text[i]
    if text.startswith("--", i):
        return _line_end(text, i), "comment"
    if text.startswith("/-", i):
        kind = "doc" if text.startswith(("/--", "/-!"), i) else "comment"
        return _nested_end(text, i, "/-", "-/"), kind
    if c == '"':
        return _escaped_string_end(text, i), "string"
    raw = _LEAN_RAW.match(text, i)
    if raw:
        close = text.find('"' + raw.group(1), raw.end())
        return (-1 if close < 0 else close + 1 + len(raw.group(1))), "string"
    if c == "'" and (char := _LEAN_CHAR.match(text, i)):
        return char.end(), "char"
    if lean_id_start(c) or c == "«":
        return _lean_ident_end(text, i), "ident"
    if c.isdigit():
        return _number_end(text, i), "number"
    return _symbol_end(text, i, _LEAN_SYMBOLS), "symbol"


def _lean_ident_end(text: str, i: int) -> int:
    """End of the dotted Lean identifier at ``i`` (letters, «quoted», field digits); -1: no `»`."""
    n, j = len(text), i
    while True:
        if text[j] == "«":
            close = text.find("»", j + 1)
            if close < 0:
                return -1
            j = close + 1
        elif text[j].isdigit():
            while j < n and text[j].isdigit():
                j += 1
        else:
            j += 1
            while j < n and lean_id_rest(text[j]):
                j += 1
        nxt = text[j + 1] if j + 1 < n else ""
        if j < n and text[j] == "." and nxt and (lean_id_start(nxt) or nxt == "«" or nxt.isdigit()):
            j += 1
            continue
        return j


def _escaped_string_end(text: str, i: int) -> int:
    """End of the backslash-escaped string literal opening at ``i`` (-1 if unclosed)."""
    j, n = i + 1, len(text)
    while j < n:
        if text[j] == "\\":
            j += 2
        elif text[j] == '"':
            return j + 1
        else:
            j += 1
    return -1


# --- Coq ----------------------------------------------------------------------------------


def coq_id_start(c: str) -> bool:
    """Whether ``c`` may start a Coq identifier (a Unicode letter or `_`)."""
    return c.isalpha() or c == "_"


def coq_id_rest(c: str) -> bool:
    """Whether ``c`` may continue a Coq identifier (letters, digits, `_`, `'`)."""
    return c.isalnum() or c in "_'"


def _coq_lexeme(text: str, i: int) -> tuple[int, str]:
    """(end, kind) of the Coq lexeme starting at ``i``; end is -1 if it never closes."""
    c = text[i]
    if text.startswith("(*", i):
        return _coq_comment_end(text, i), "comment"
    if c == '"':
        return _coq_string_end(text, i), "string"
    if coq_id_start(c):
        return _coq_ident_end(text, i), "ident"
    if c.isdigit():
        return _number_end(text, i), "number"
    return _symbol_end(text, i, _COQ_SYMBOLS), "symbol"


def _coq_ident_end(text: str, i: int) -> int:
    """End of the (possibly qualified) Coq identifier at ``i``."""
    n, j = len(text), i + 1
    while True:
        while j < n and coq_id_rest(text[j]):
            j += 1
        if j + 1 < n and text[j] == "." and coq_id_start(text[j + 1]):
            j += 2
            continue
        return j


def _coq_comment_end(text: str, i: int) -> int:
    """End of the nested comment opening at ``i`` (-1 if unclosed); strings inside are skipped."""
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("(*", j):
            depth, j = depth + 1, j + 2
        elif text.startswith("*)", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        elif text[j] == '"':
            j = _coq_string_end(text, j)
            if j < 0:
                return -1
        else:
            j += 1
    return -1


def _coq_string_end(text: str, i: int) -> int:
    """End of the Coq string opening at ``i`` (-1 if unclosed); ``""`` inside is one quote."""
    j, n = i + 1, len(text)
    while j < n:
        if text[j] == '"':
            if text.startswith('""', j):
                j += 2
                continue
            return j + 1
        j += 1
    return -1


# --- shared helpers -----------------------------------------------------------------------


def _line_end(text: str, i: int) -> int:
    """Offset of the newline ending the line that holds ``i`` (or the text's end)."""
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _nested_end(text: str, i: int, opener: str, closer: str) -> int:
    """End of the nested block opening at ``i`` (-1 if unclosed)."""
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith(opener, j):
            depth, j = depth + 1, j + len(opener)
        elif text.startswith(closer, j):
            depth, j = depth - 1, j + len(closer)
            if depth == 0:
                return j
        else:
            j += 1
    return -1


def _number_end(text: str, i: int) -> int:
    """End of the numeral at ``i`` (decimal, hexadecimal, binary, octal; `0.5`, `1e3`)."""
    m = _NUMBER.match(text, i)
    return m.end() if m else i + 1


def _symbol_end(text: str, i: int, symbols: tuple[str, ...]) -> int:
    """End of the longest listed symbol at ``i``, else of the single character there."""
    for symbol in symbols:
        if text.startswith(symbol, i):
            return i + len(symbol)
    return i + 1
