"""What the Coq and Lean locators both read of a token list: brackets and their matching, and a
span of text with its comments removed."""

from __future__ import annotations

import bisect

from alphaquant.lexing import COMMENT_KINDS, Token

OPENERS = frozenset({"(", "[", "{", "⟨", "⦃", "@[", "#[", "‹", "⁅"})
CLOSERS = frozenset({")", "]", "}", "⟩", "⦄", "›", "⁆"})


def matching_close(tokens: list[Token], i: int) -> int:
    """Index of the bracket closing the one at ``i`` (the last index if unclosed)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth = depth + (tokens[j].text in OPENERS) - (tokens[j].text in CLOSERS)
        if depth == 0:
            return j
    return len(tokens) - 1


def matching_open(tokens: list[Token], i: int) -> int | None:
    """Index of the bracket opening the one closing at ``i`` (None if unopened)."""
    depth = 0
    for j in range(i, -1, -1):
        depth = depth + (tokens[j].text in CLOSERS) - (tokens[j].text in OPENERS)
        if depth == 0:
            return j
    return None


def without_comments(text: str, tokens: list[Token], start: int, end: int) -> str:
    """``text[start:end]`` with its comments replaced by one space each, trailing blanks dropped.

    ``tokens`` are in text order: only those starting in the span are looked at (a file's
    thousands of headers each cost their own length, not the file's).
    """
    parts, last = [], start
    for k in range(bisect.bisect_left(tokens, start, key=lambda t: t.start), len(tokens)):
        t = tokens[k]
        if t.start >= end:
            break
        if t.kind in COMMENT_KINDS:
            parts.append(text[last : t.start] + " ")
            last = min(t.end, end)
    parts.append(text[last:end])
    return "".join(parts).rstrip()
