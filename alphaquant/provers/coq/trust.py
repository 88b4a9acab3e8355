"""The acceptance rule for Coq: a declaration's assumptions, by kernel name, against an allow-list.

A probe copy of the file is compiled with ``coqc``: right after the declaration's closing sentence
(where its short name can only mean the declaration just made) it asks ``About`` for the
declaration's kernel name and ``Print Assumptions`` for what it rests on; a second probe asks
``About`` of every assumption at the same point, so each is known by its fully qualified kernel
name (``Quant.Basic.M.bad``), whatever modules, sections and shadowing the file holds. Before
compiling, the probe

- names an anonymous ``Goal`` (``Lemma aq_goal_<token> :``), so that it can be asked about;
- stands in for the declaration's other holes (``admit``) with a marker axiom and closes it with
  ``Qed`` in place of ``Admitted``, so that the kernel checks the partial proof (a ``fix`` in a
  hole meets the guard checker) and a hole can only count when it adds nothing but fewer holes.

Allowed are the axioms of Coq's standard library (``Coq.*``; ``Corelib.*``, ``Stdlib.*`` on
Rocq 9; unless the project itself maps a logical root there), the ``Axiom``/``Parameter``
declarations of the file's own text before the search, and fully qualified names the user lists
in the configuration. Everything else is refused: an ``Admitted`` lemma of the file, of any
project file or of any other library, and reliance on unsafe fixpoints, type-in-type or assumed
positivity.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alphaquant.errors import FileDoesNotCompile
from alphaquant.lexing import Sentence, coq_sentences, lex, mask
from alphaquant.provers.coq.coqc import Coqc
from alphaquant.provers.coq.project import CoqProject, find_project, first_error

# The standard library's logical roots: ``Coq`` up to Coq 8, ``Corelib`` and ``Stdlib`` from
# Rocq 9 (which also maps ``Coq`` to them).
STDLIB_ROOTS = frozenset({"Coq", "Corelib", "Stdlib"})
_ENDS = frozenset({"Qed", "Defined", "Admitted", "Save", "Abort"})
_MODIFIERS = frozenset({"Local", "Global", "Polymorphic", "Monomorphic", "Cumulative",
                        "NonCumulative", "Private", "Program", "Export", "Import"})
_AXIOM_KEYWORDS = frozenset({"Axiom", "Axioms", "Parameter", "Parameters"})
_IDENT = r"[A-Za-z_\u00C0-\uFFFF][\w'\u00C0-\uFFFF]*"
_EXPANDS = re.compile(r"^Expands to:\s+\w+\s+(\S+)", re.MULTILINE)


# One sentence of a Coq text: its offsets and its first words (attributes, modifiers dropped).
@dataclass(frozen=True)
class _Words:
    sentence: Sentence
    words: tuple[str, ...]

    @property
    def head(self) -> str:
        return self.words[0] if self.words else ""


def _sentences(text: str) -> list[_Words]:
    masked = mask(text, lex(text, "coq"))
    out = []
    for s in coq_sentences(text):
        body = re.sub(r"^#\[[^\]]*\]\s*", "", masked[s.start : s.end].strip())
        words = re.findall(r"[^\s.():]+|:=|:|\(", body)
        while words and words[0] in _MODIFIERS:
            words = words[1:]
        out.append(_Words(s, tuple(words)))
    return out


def _module_paths(sentences: list[_Words]) -> list[tuple[str, ...]]:
    """The module path in force at each sentence (sections add nothing to kernel names)."""
    stack: list[tuple[str, str]] = []  # (kind, name)
    paths: list[tuple[str, ...]] = []
    for w in sentences:
        paths.append(tuple(name for kind, name in stack if kind == "module"))
        words = w.words
        if w.head == "Section" and len(words) > 1:
            stack.append(("section", words[1]))
        elif w.head == "Module" and ":=" not in words:
            rest = [x for x in words[1:] if x not in ("Import", "Export")]
            if rest[:1] == ["Type"]:
                stack.append(("type", rest[1] if len(rest) > 1 else ""))
            elif rest:
                stack.append(("module" if "(" not in words else "functor", rest[0]))
        elif w.head == "End" and len(words) > 1:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][1] == words[1]:
                    del stack[k:]
                    break
    return paths


def declared_axioms(text: str) -> frozenset[tuple[tuple[str, ...], str]]:
    """(module path, name) of every ``Axiom``/``Parameter`` the Coq text declares itself."""
    sentences = _sentences(text)
    masked = mask(text, lex(text, "coq"))
    found: set[tuple[tuple[str, ...], str]] = set()
    for w, path in zip(sentences, _module_paths(sentences), strict=True):
        if w.head not in _AXIOM_KEYWORDS:
            continue
        body = masked[w.sentence.start : w.sentence.end]
        body = body.split(w.head, 1)[1]
        if body.lstrip().startswith("("):
            names = re.findall(rf"\(\s*((?:{_IDENT}\s+)*{_IDENT})\s*:", body)
        else:
            names = [body.split(":", 1)[0]]
        for group in names:
            found.update((path, n) for n in group.split())
    return frozenset(found)


# The declaration a verdict is about: where it starts and ends, and what it is called.
@dataclass(frozen=True)
class _Declaration:
    start: int  # the header sentence's start
    keyword_at: int  # offset of the keyword (after attributes and modifiers)
    keyword: str
    name: str  # "" for Goal
    end: int  # just past the closing sentence (Qed., Admitted., ...)
    closing: Sentence


def _declaration(text: str, decl_start: int) -> _Declaration:
    sentences = _sentences(text)
    for i, w in enumerate(sentences):
        if w.sentence.start < decl_start:
            continue
        if not w.words:
            break
        keyword = w.head
        named = keyword != "Goal" and len(w.words) > 1
        name = w.words[1] if named else ""
        segment = text[w.sentence.start : w.sentence.end]
        at = w.sentence.start + segment.find(keyword)
        for later in sentences[i + 1 :]:
            if later.head in _ENDS:
                return _Declaration(w.sentence.start, at, keyword, name,
                                    later.sentence.end, later.sentence)
        break
    raise FileDoesNotCompile(f"no closed declaration starts at offset {decl_start}")


# The pieces of one probe copy, and how to read its answer.
@dataclass(frozen=True)
class _Probe:
    text: str
    name: str  # the declaration's short name in the probe
    token: str  # unique suffix of the probe's markers
    hole: str  # the marker axiom's name


def _probe(text: str, decl_start: int, holes: Iterable[tuple[int, int]]) -> tuple[_Probe, int]:
    """The probe text (without queries) and the offset just past the declaration in it."""
    token = secrets.token_hex(4)
    decl = _declaration(text, decl_start)
    name, hole = decl.name, f"aq_hole_{token}"
    edits: list[tuple[int, int, str]] = []
    if not name:
        name = f"aq_goal_{token}"
        edits.append((decl.keyword_at, decl.keyword_at + len(decl.keyword), f"Lemma {name} :"))
    inner = sorted(h for h in holes if decl.start < h[0] < decl.end)
    for start, end in inner:
        edits.append((start, end, re.sub(r"\badmit\b", f"exact ({hole} _)", text[start:end])))
    closing = text[decl.closing.start : decl.closing.end]
    if closing.strip().startswith("Admitted"):  # a hole's proof: the rest must hold as well
        edits.append((decl.closing.start, decl.closing.end, "Qed."))
    if inner:
        marker = f"Polymorphic Axiom {hole} : forall T : Type, T.\n"
        edits.append((decl.start, decl.start, marker))
    out, last, after = [], 0, decl.end
    for start, end, new in sorted(edits):
        out.append(text[last:start] + new)
        last = end
    out.append(text[last:])
    shift = sum(len(new) - (end - start) for start, end, new in edits if end <= decl.end)
    after = decl.end + shift
    return _Probe("".join(out), name, token, hole), after


def _between(output: str, begin: str, end: str) -> str:
    start = output.find(f"No object of basename {begin}")
    stop = output.find(f"No object of basename {end}", start)
    if start < 0 or stop < 0:
        raise FileDoesNotCompile("the assumption probe printed no answer")
    return output[output.index("\n", start) + 1 : stop] if "\n" in output[start:stop] else ""


def parse_assumptions(output: str) -> tuple[list[str], list[str]]:
    """(axiom names, unsafe entries as ``name [section]``) of ``Print Assumptions`` output.

    An entry whose type does not fit on its line is ``name`` then ``  : type`` up to Coq 8,
    ``name :`` then ``  type`` from Rocq 9; a section's title (``Axioms:``) has no space
    before its colon."""
    axioms: list[str] = []
    unsafe: list[str] = []
    section: str | None = None
    for line in output.splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(":"):
            continue  # a continuation of the previous entry's type
        if "Closed under the global context" in line:
            continue
        line = line.rstrip()
        if line.endswith(":") and not line.endswith(" :") and " : " not in line:
            section = line[:-1]
            continue
        if section is None or section == "Section Variables":
            continue
        name = line.removesuffix(" :").split(" : ", 1)[0].strip()
        if name:
            (axioms if section == "Axioms" else unsafe).append(
                name if section == "Axioms" else f"{name} [{section}]")
    return axioms, unsafe


# The kernel's answer for one declaration.
@dataclass(frozen=True)
class Assumptions:
    declaration: str  # its fully qualified kernel name
    axioms: tuple[str, ...]  # fully qualified names of the axioms it rests on (markers removed)
    unsafe: tuple[str, ...]  # unsafe fixpoints, type-in-type, assumed positivity


class CoqTrust:
    """Compiles probe copies of a file to learn what one declaration rests on.

    Args:
      coqc: the compilers and their time limit.
    """

    def __init__(self, coqc: Coqc) -> None:
        self.coqc = coqc

    def assumptions(self, path: Path, text: str, decl_start: int,
                    holes: Iterable[tuple[int, int]] = ()) -> Assumptions:
        """What the declaration at ``decl_start`` of ``text`` rests on, by kernel name.

        Args:
          path: the file ``text`` is the contents of (for its project and logical name).
          text: the whole file.
          decl_start: offset of the declaration's header sentence.
          holes: (start, end) of the file's remaining ``admit`` hole sentences; those inside
            the declaration are stood in for by a marker.

        Raises:
          FileDoesNotCompile: a probe does not compile (the message says why).
        """
        probe, after = _probe(text, decl_start, holes)
        t = probe.token
        queries = (f"\nLocate aq_begin_{t}.\nAbout {probe.name}.\nLocate aq_sep_{t}.\n"
                   f"Print Assumptions {probe.name}.\nLocate aq_end_{t}.\n")
        out = self._compile(path, probe.text[:after] + queries + probe.text[after:])
        about = _between(out, f"aq_begin_{t}", f"aq_sep_{t}")
        found = _EXPANDS.search(about)
        if found is None:
            raise FileDoesNotCompile(f"About {probe.name} gave no kernel name")
        axioms, unsafe = parse_assumptions(_between(out, f"aq_sep_{t}", f"aq_end_{t}"))
        qualified: list[str] = []
        if axioms:
            asks = "".join(f"\nAbout {a}.\nLocate aq_sep{k}_{t}." for k, a in enumerate(axioms))
            out = self._compile(path, probe.text[:after] + f"\nLocate aq_begin_{t}."
                                + asks + probe.text[after:])
            begin = f"aq_begin_{t}"
            for k, name in enumerate(axioms):
                answer = _EXPANDS.search(_between(out, begin, f"aq_sep{k}_{t}"))
                begin = f"aq_sep{k}_{t}"
                qualified.append(answer.group(1) if answer else name)
        marker = f".{probe.hole}"
        kept = tuple(a for a in qualified if not a.endswith(marker) and a != probe.hole)
        return Assumptions(found.group(1), kept, tuple(unsafe))

    def _compile(self, path: Path, text: str) -> str:
        run, copy = self.coqc.compile(path, text)
        if run.returncode != 0:
            message, _ = first_error(run.stderr + "\n" + run.stdout, copy)
            raise FileDoesNotCompile(f"the assumption probe does not compile: "
                                     f"{' '.join(message.split())}")
        return run.stdout


def library_name(project: CoqProject, path: Path) -> str:
    """The kernel name prefix of ``path``'s own declarations (``Quant.Basic``)."""
    logical = project.logical_dir(path)
    return ".".join(p for p in (logical or "", path.stem) if p)


def project_roots(path: Path) -> frozenset[str]:
    """Every logical root named by a ``_CoqProject`` at or above the file's folder."""
    roots: set[str] = set()
    for d in (path.resolve().parent, *path.resolve().parent.parents):
        project = d / "_CoqProject"
        if project.is_file():
            text = project.read_text(encoding="utf-8", errors="replace")
            roots.update(re.findall(r"-[QR]\s+\S+\s+(\S+)", text))
    return frozenset(r.strip("\"'") for r in roots)


def refused(found: Assumptions, *, path: Path, original: str,
            allowed: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The assumptions of ``found`` that the acceptance rule refuses.

    Args:
      found: the kernel's answer.
      path: the file the declaration lives in.
      original: the file's text before the search (its own Axiom/Parameter declarations count).
      allowed: fully qualified names the user allows besides.
    """
    project = find_project(path)
    own = library_name(project, path)
    declared = {".".join((own, *mods, name)) for mods, name in declared_axioms(original)}
    def root(name: str) -> str:
        return name.split(".", 1)[0]

    taken = {root(r) for r in project_roots(path)} | {root(own)}
    bad = list(found.unsafe)
    for axiom in found.axioms:
        if axiom in allowed or axiom in declared:
            continue
        if root(axiom) in STDLIB_ROOTS and root(axiom) not in taken:
            continue
        bad.append(axiom)
    return tuple(bad)
