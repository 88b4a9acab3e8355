"""Which axioms a Lean declaration uses: the probe text that asks Lean, and the allow-list.

Pure text, no process: both Lean backends (the REPL and LeanDojo's ``lake env lean``) send the
probe that ``build`` makes and judge the printed answer with ``Probe.refused``.

The probe is the file with the proof spliced in, changed so that one ``#print axioms`` at its end
answers for exactly the declaration just proved:

- the name is the declaration's fully qualified kernel name: the namespaces open where it stands
  (``namespace A.B`` … ``end``; sections and ``mutual`` blocks add nothing), ``theorem Foo.bar``
  inside ``namespace X`` is ``X.Foo.bar``, ``_root_.`` drops the namespaces;
- an ``example`` (no name to ask about) becomes ``theorem aq_example_<n>``, an anonymous
  ``instance`` gets the name ``aq_example_<n>``;
- every other ``sorry``/``admit`` of the same declaration becomes a marker axiom declared at the
  top of the probe, so that the holes still open are not held against the proof while a new
  ``sorryAx`` (a sorry'd lemma the proof used, say) still is.

Allowed are Lean's own ``propext``, ``Classical.choice`` and ``Quot.sound`` and the axioms the file
itself declared with ``axiom`` before the search; never ``sorryAx``, the compiler's
``Lean.ofReduceBool``/``Lean.trustCompiler``, or anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from alphaquant.goals import locate
from alphaquant.lexing import Token, code_tokens, lex
from alphaquant.provers.lean.source import split_source

LEAN_LIBRARY_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
NEVER_ALLOWED = frozenset({"sorryAx"})

_DECL_KEYWORDS = frozenset({
    "theorem", "lemma", "def", "example", "instance", "abbrev", "opaque", "axiom",
})
_NAMED = re.compile(r"[^\W\d]|«")


# The probe for one declaration and how to judge Lean's answer to it.
@dataclass(frozen=True)
class Probe:
    text: str  # the whole probe file, ending in `#print axioms <name>`
    name: str  # the fully qualified name asked about
    print_line: int  # 1-based line of the `#print axioms` command in ``text``
    marker: str  # the axiom standing in for the declaration's other holes ("" if none)
    allowed: frozenset[str]  # axioms a proof may use

    def refused(self, axioms: frozenset[str]) -> tuple[str, ...]:
        """The axioms outside the allow-list (the marker aside), sorted; () means accepted."""
        return tuple(sorted(a for a in axioms if a not in self.allowed and a != self.marker))


def build(original: str, text: str, decl_start: int) -> Probe:
    """The probe for the declaration at ``decl_start`` of ``text`` (``original`` with a proof in).

    Args:
      original: the file before the search (its ``axiom`` declarations are allowed).
      text: the file with the proof spliced in.
      decl_start: offset in ``text`` where the declaration starts (attributes included), as
        ``goals.locate`` reports it.

    Raises:
      ValueError: no declaration keyword at ``decl_start``, or one that has no name to ask about.
    """
    code = code_tokens(lex(text, "lean"))
    kw = _keyword_at(code, decl_start)
    if kw is None:
        raise ValueError(f"no Lean declaration at offset {decl_start}")
    keyword = code[kw]
    holes = [(s.kind, s.start, s.end) for s in locate(text, Path("Probe.lean"))
             if _keyword_at(code, s.decl_start) == kw]
    marker = _fresh(text, "aq_hole") if holes else ""
    probe = text
    for kind, start, end in sorted(holes, key=lambda h: h[1], reverse=True):
        probe = probe[:start] + _stand_in(kind, marker) + probe[end:]
    name = _declared_name(code, kw)
    if keyword.text == "example" or (keyword.text == "instance" and not name):
        name = _fresh(text, "aq_example")
        renamed = f"theorem {name}" if keyword.text == "example" else f"instance {name}"
        if keyword.text == "instance" and kw + 1 < len(code) and code[kw + 1].text == "(":
            raise ValueError("an anonymous instance with a priority has no name to ask about")
        probe = probe[: keyword.start] + renamed + probe[keyword.end :]
    elif not name:
        raise ValueError(f"the {keyword.text} at offset {decl_start} has no name to ask about")
    qualified = qualify(text, keyword.start, name)
    if marker:
        at = split_source(probe).body_start
        axiom = f"axiom {marker}.{{u}} {{α : Sort u}} : α\n"
        if at and probe[at - 1] != "\n":
            axiom = "\n" + axiom
        probe = probe[:at] + axiom + probe[at:]
    probe = probe.rstrip("\n") + f"\n\n#print axioms {qualified}\n"
    print_line = probe.count("\n", 0, len(probe) - 1) + 1
    allowed = (LEAN_LIBRARY_AXIOMS | declared_axioms(original)) - NEVER_ALLOWED
    return Probe(probe, qualified, print_line, marker, allowed)


def qualify(text: str, offset: int, name: str) -> str:
    """``name``, declared at ``offset`` of ``text``, qualified by the namespaces open there."""
    if name.startswith("_root_."):
        return name.removeprefix("_root_.")
    prefix = ".".join(namespaces_at(text, offset))
    return f"{prefix}.{name}" if prefix else name


def namespaces_at(text: str, offset: int) -> list[str]:
    """The namespace parts open at ``offset`` (``namespace A.B`` opens A and B).

    ``section`` (named or not, ``noncomputable section`` too) and ``mutual`` open blocks that
    ``end`` closes but that add no namespace.
    """
    blocks: list[list[str] | None] = []  # name parts of a namespace; None for section / mutual
    tokens = [t for t in code_tokens(lex(text, "lean")) if t.start < offset]
    for i, t in enumerate(tokens):
        if t.kind != "ident" or t.text not in ("namespace", "section", "mutual", "end"):
            continue
        if not _command_start(text, tokens, i):
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        same_line = following is not None and "\n" not in text[t.start : following.start]
        name = following.text if following is not None and same_line else ""
        if name and not _NAMED.match(name):
            name = ""
        if t.text == "namespace" and name:
            blocks.append(name.split("."))
        elif t.text in ("section", "mutual"):
            blocks.append(None)
        elif t.text == "end" and blocks:
            blocks.pop()
    return [part for parts in blocks if parts is not None for part in parts]


_SCOPED = frozenset({"variable", "variables", "include"})


def declares_variables(text: str, end: int) -> bool:
    """Whether ``text`` before ``end`` has a ``variable`` or ``include`` command anywhere (any
    code token, at a command start or not, in any section): what a statement read there may
    silently depend on."""
    return any(t.kind == "ident" and t.text in _SCOPED and t.start < end
               for t in code_tokens(lex(text, "lean")))


def declared_axioms(text: str) -> frozenset[str]:
    """Fully qualified names of the axioms ``text`` declares with ``axiom``."""
    code = code_tokens(lex(text, "lean"))
    names = set()
    for i, t in enumerate(code):
        if t.kind == "ident" and t.text == "axiom" and _command_start(text, code, i):
            name = _declared_name(code, i)
            if name:
                names.add(qualify(text, t.start, name))
    return frozenset(names)


def _keyword_at(code: list[Token], offset: int) -> int | None:
    """Index of the first declaration keyword at or after ``offset``, outside attributes
    (``@[instance] theorem t`` is a theorem)."""
    depth = 0
    for i, t in enumerate(code):
        if t.start < offset:
            continue
        if t.text in ("@[", "#["):
            depth += 1
        elif t.text == "]" and depth:
            depth -= 1
        elif not depth and t.kind == "ident" and t.text in _DECL_KEYWORDS:
            return i
    return None


def _stand_in(kind: str, marker: str) -> str:
    """What replaces a hole of ``kind``: the marker as a term, or a tactic that uses it."""
    if kind == "term sorry":
        return marker
    if kind == "by sorry":
        return f"by exact {marker}"
    return f"exact {marker}"


def _declared_name(code: list[Token], kw: int) -> str:
    """The name after the declaration keyword at ``kw`` ("" for example / anonymous instance)."""
    if code[kw].text == "example" or kw + 1 >= len(code):
        return ""
    nxt = code[kw + 1]
    if nxt.kind == "ident" and _NAMED.match(nxt.text) and nxt.text not in _DECL_KEYWORDS:
        return nxt.text
    return ""


def _command_start(text: str, tokens: list[Token], i: int) -> bool:
    """Whether token ``i`` opens its line (after modifiers such as ``noncomputable``)."""
    j = i
    while j > 0 and tokens[j - 1].text in ("noncomputable", "private", "protected", "public"):
        j -= 1
    line_start = text.rfind("\n", 0, tokens[j].start) + 1
    return not text[line_start : tokens[j].start].strip()


def _fresh(text: str, stem: str) -> str:
    """``<stem>_<n>`` for the least n that ``text`` does not mention."""
    n = 0
    while f"{stem}_{n}" in text:
        n += 1
    return f"{stem}_{n}"
