"""What a proof state looks like to the nearest-state index: symbol n-grams of its goal.

A state's features are the symbols of its conclusion (``c:``) and of its hypotheses' types
(``h:``), single and in pairs and triples of neighbours (``c:Rabs (``, ``c:+ _ *``), with local
names (the hypotheses' and the binders') written ``_`` and scope keys (``%Z``) left out: two
states that differ only in what their variables are called, or in the scope they are printed
in, look the same. The index weighs them by TF-IDF, so rare constants
(``Z.div``, ``Rpower``) decide the neighbours and ``=`` or ``nat`` hardly count.

Decision (why n-grams of symbols, as text, and not a term's tree): the corpus and the search
see states only as the prover prints them, in either language; single symbols say which theory a
state is in, pairs and triples its shape (``_ + 0``, ``S _ <=``), which is what decides a
library's idiom (Tactician's features are the same idea over Coq's term trees).
"""

from __future__ import annotations

import functools
import re

_TOKEN = re.compile(r"[A-Za-z_\u0370-\u03ff][\w'.\u0370-\u03ff]*|\d+|[^\s\w(),]+|[(),]")
_BINDER = re.compile(r"\b(?:forall|exists|fun|∀|∃|λ)\s+([^,:=>]*)")
_NAMES = re.compile(r"[A-Za-z_][\w']*")
_SCOPE = re.compile(r"%[A-Za-z_]\w*")  # ``(0 <= a)%Z``: the same state inside Z_scope or not


def hypothesis_names(hypothesis: str) -> list[str]:
    """The names a hypothesis line declares (``x, y : R`` declares x and y)."""
    head = hypothesis.split(" : ", 1)[0] if " : " in hypothesis else ""
    head = head.split(" := ", 1)[0]
    return [n.strip() for n in head.split(",") if _NAMES.fullmatch(n.strip())]


def hypothesis_type(hypothesis: str) -> str:
    """What a hypothesis line says after its names."""
    return hypothesis.split(" : ", 1)[1] if " : " in hypothesis else hypothesis


def _bound(text: str) -> set[str]:
    names: set[str] = set()
    for m in _BINDER.finditer(text):
        names.update(_NAMES.findall(m.group(1).replace("(", " ")))
    return names


@functools.lru_cache(maxsize=1 << 14)
def _symbols(text: str, local: frozenset[str]) -> tuple[str, ...]:
    text = _SCOPE.sub("", text)
    hidden = local | _bound(text)
    out = []
    for tok in _TOKEN.findall(text):
        out.append("_" if tok in hidden else tok)
    return tuple(out)


_FILLER = frozenset(("(", ")", ",", "_"))


def _grams(prefix: str, symbols: tuple[str, ...]) -> list[str]:
    """Single symbols, then pairs and triples of neighbours that hold a constant or an
    operator (``_ ( _`` says nothing: every state has it)."""
    out = [prefix + s for s in symbols if s not in _FILLER]
    out += [f"{prefix}{a} {b}" for a, b in zip(symbols, symbols[1:], strict=False)
            if not (a in _FILLER and b in _FILLER)]
    out += [f"{prefix}{a} {b} {c}"
            for a, b, c in zip(symbols, symbols[1:], symbols[2:], strict=False)
            if not {a, b, c} <= _FILLER]
    return out


def features(hypotheses: tuple[str, ...], conclusion: str) -> list[str]:
    """The state's features (a bag: repeats count)."""
    local = frozenset(n for h in hypotheses for n in hypothesis_names(h))
    out = _grams("c:", _symbols(" ".join(conclusion.split()), local))
    for h in hypotheses:
        out += _grams("h:", _symbols(" ".join(hypothesis_type(h).split()), local))[:64]
    return out
