"""The negation of a declaration's whole statement, for disproof: ¬ (∀ binders, statement).

One builder per language, shared by the provers (which open the negation as a goal) and by
``proof.py`` (which writes the disproof lemma): ``coq_negation`` and ``lean_negation``.
"""

from __future__ import annotations

import re

from alphaquant.provers.coq.toolchain import prelude_root

# ---------------------------------------------------------------------------------------------
# Coq

_COQ_OPEN = "([{⟨"
_COQ_CLOSE = ")]}⟩"


def split_header(header: str) -> tuple[str, str, str] | None:
    """Split ``Lemma name binders : type`` into (name, binders, type); None if it has no type."""
    m = re.match(r"\s*(?:@\[[^\]]*\]\s*)?(?:\w+\s+)*?(?:Lemma|Theorem|Fact|Remark|Corollary|"
                 r"Proposition|Example|theorem|lemma)\s+([^\s(\[{:]+)(.*)", header, re.DOTALL)
    if not m:
        return None
    name, rest = m.group(1), m.group(2)
    colon = _top_level(rest, ":", _COQ_OPEN, _COQ_CLOSE)
    if colon is None:
        return None
    return name, rest[:colon].strip(), rest[colon + 1 :].strip()


def coq_negation(header: str, *, display: bool = False) -> str | None:
    """``Coq.Init.Logic.not (forall binders, type)`` (``Corelib.Init.Logic.not`` on Rocq 9) for
    a Coq header ending in ``.``; None if it cannot be built. Never ``~``: a file may give ``~``
    another meaning. ``display`` gives the form shown to people, ``~ (forall binders, type)``."""
    parts = split_header(header.strip().removesuffix("."))
    if parts is None:
        return None
    _, binders, typ = parts
    body = f"forall {binders}, {typ}" if binders else typ
    return f"~ ({body})" if display else f"{prelude_root()}.Init.Logic.not ({body})"


# ---------------------------------------------------------------------------------------------
# Lean 4

_DECL = re.compile(
    r"\s*(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|nonrec|noncomputable)\s+)*"
    r"(?P<keyword>theorem|lemma|example)(?=[\s({\[⦃:])"
)
_NAME = re.compile(r"\s*(?P<name>[^\s({\[⦃:.]+(?:\.[^\s({\[⦃:.]+)*)(?P<univ>\.\{[^}]*\})?")
_OPEN, _CLOSE = "([{⦃⟨", ")]}⦄⟩"


def lean_negation(header: str, *, display: bool = False) -> str | None:
    """``_root_.Not (∀ binders, type)`` for a Lean header, or None when it is not of that shape
    (never ``¬``: a file may give it another meaning; ``display`` gives ``¬ (∀ binders, type)``).

    ``header`` runs from the keyword (``theorem``, ``lemma``, ``example``) to the end of the
    type; a trailing ``:=`` and what follows are ignored. The binders must be bracketed groups
    (``(x : ℕ) {α} [Group α] ⦃y : α⦄``) without default values. Universe parameters of the name
    (``foo.{u}``) are not part of the result: see ``lean_universes``.
    """
    parts = _lean_parts(header)
    if parts is None:
        return None
    _, binders, prop = parts
    body = f"∀ {binders}, {prop}" if binders else prop
    return f"¬ ({body})" if display else f"_root_.Not ({body})"


def lean_universes(header: str) -> str:
    """The universe parameters of the declaration's name (``.{u, v}``), or ""."""
    parts = _lean_parts(header)
    return "" if parts is None else parts[0]


def _lean_parts(header: str) -> tuple[str, str, str] | None:
    """(universes, binders, type) of a Lean theorem header; None if it is not of that shape."""
    decl = _DECL.match(header)
    if decl is None:
        return None
    rest, univ = header[decl.end() :], ""
    if decl["keyword"] != "example":
        m = _NAME.match(rest)
        if m is None:
            return None
        rest, univ = rest[m.end() :], m["univ"] or ""
    colon = _top_level(rest, ":")
    if colon is None:
        return None
    binders, prop = rest[:colon].strip(), rest[colon + 1 :]
    if (assign := _top_level(prop, ":=")) is not None:
        prop = prop[:assign]
    prop = prop.strip()
    if not prop or not _only_groups(binders) or ":=" in binders:
        return None
    return univ, binders, prop


def _top_level(
    text: str, token: str, opening: str | None = None, closing: str | None = None
) -> int | None:
    """Index of the first ``token`` outside brackets (a ``:`` that starts ``:=`` or ``:>`` is
    not one); the brackets default to Lean's."""
    opening, closing = opening or _OPEN, closing or _CLOSE
    depth = 0
    for i, ch in enumerate(text):
        if ch in opening:
            depth += 1
        elif ch in closing:
            depth -= 1
        elif depth == 0 and text.startswith(token, i):
            if token == ":" and text.startswith((":=", ":>"), i):
                continue
            return i
    return None


def _only_groups(binders: str) -> bool:
    """True if ``binders`` is a sequence of bracketed groups, like ``(x : ℕ) {α} [Group α]``."""
    depth = 0
    for ch in binders:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
            if depth < 0:
                return False
        elif depth == 0 and not ch.isspace():
            return False
    return depth == 0


# ---------------------------------------------------------------------------------------------
# Evidence that a statement may be false

_NUMERAL = re.compile(r"(?<![\w.'])(\d+(?:\.\d+)?(?:[eE]-?\d+)?)(?![\w'])")


def has_constants(header: str) -> bool:
    """Whether a declaration states numeric constants other than 0 and 1 (``<= 220 * 1024``,
    ``/ 2``, ``2 ^ 31``): the shape of claims about sizes, bounds and precision, which are
    false when a constant is off. A statement of laws alone (``n + m = m + n``) has nothing a
    counterexample would instantiate against (Coq and Lean alike)."""
    for m in _NUMERAL.finditer(header):
        try:
            if float(m.group(1)) not in (0.0, 1.0):
                return True
        except ValueError:
            continue
    return False
