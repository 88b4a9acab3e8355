"""The acceptance rule for Coq: one compile of a probe copy, read through structured answers.

A proof (or a disproof) counts when a probe copy of the file compiles and the declaration rests
on nothing the rule refuses. The probe is the whole file, so its compile is the whole-file check
as well; it differs from the file only by what cannot make a failing file pass:

- its first line begins by loading dpdgraph and declaring two marker axioms (``aq_hole_<t>``,
  ``aq_adm_<t>``; ``<t>`` is a fresh random token the file cannot know);
- the declaration's other ``admit`` holes become ``exact (aq_hole_<t> _)`` and its ``Admitted``
  becomes ``Qed``, so the kernel checks the partial proof and a hole adds nothing but one hole
  fewer; every *other* ``Admitted`` (and ``admit``) of the file becomes a proof by
  ``aq_adm_<t>``, so an admitted lemma is never bodiless and can never pass for an axiom;
- after the declaration, and after every section around it has closed (``Module aq_out_<t>.
  End aq_out_<t>.`` compiles only outside sections: the kernel says so, not a text scan), the
  queries: for a disproof, the negation ``Coq.Init.Logic.not`` (``Corelib.…`` on Rocq 9) of the
  target's own kernel type (section variables are premises there), with two checks that it is
  the target's type and that ``not`` ends in an empty type; then ``Print DependGraph``
  (dpdgraph) of the declaration.

Beside that compile runs a second one, of the probe's twin: the same text without the graph's two
query sentences (which add nothing to the environment), so that ``coqchk`` can start on its ``.vo``
while the graph is still being written; on two free cores the rule costs one compile and one check,
not two in a row. ``coqchk -o -norec`` on the compiled twin names, by fully qualified kernel name,
every bodiless constant of the environment and every constant relying on unsafe fixpoints, assumed
positivity or type-in-type. Each bodiless node of the dependency graph is matched to those names; a
name's library is found by where its ``.vo`` lives: under ``coqc -where``'s ``theories`` (and
``user-contrib/Stdlib`` on Rocq 9) and nowhere in the project means the standard library. Nothing
the file prints is read: the graph is a file of identifiers, and coqchk prints names only. Section
hypotheses the proof used are read as the binders the declaration gained when its section closed
(``intros`` in a probe goal, printed with the token).

Allowed: the standard library's axioms; the file's own axioms (bodiless constants of its own
library after every admitted lemma got a body), reported as assumptions; fully qualified names
the user allows, reported. Refused: the markers of admitted lemmas, anything of another library,
anything unsafe, and anything ``--avoid`` names.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alphaquant.lexing import coq_sentences, lex, mask
from alphaquant.provers.base import Acceptance
from alphaquant.provers.coq.coqc import Coqc
from alphaquant.provers.coq.project import (
    Command,
    CoqProject,
    command_argv,
    find_project,
    first_error,
    run_tool,
)
from alphaquant.provers.coq.toolchain import prelude_root, toolchain

# The standard library's logical roots: ``Coq`` up to Coq 8, ``Corelib`` and ``Stdlib`` from
# Rocq 9 (which also maps ``Coq`` to them). A name counts as the library's only by where its
# ``.vo`` lives (``in_standard_library``), never by its root alone.
STDLIB_ROOTS = frozenset({"Coq", "Corelib", "Stdlib"})
_ENDS = frozenset({"Qed", "Defined", "Admitted", "Save", "Abort"})
_MODIFIERS = frozenset({"Local", "Global", "Polymorphic", "Monomorphic", "Cumulative",
                        "NonCumulative", "Private", "Program", "Export", "Import"})
_CONTROL = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Time|Instructions|Timeout\s+\d+)\s+)*")
_ADMITTED = re.compile(r"^(?:#\[[^\]]*\]\s*|(?:Time|Instructions|Timeout\s+\d+)\s+)*Admitted\s*\.$")
_UNSAFE_HEADERS = ("type-in-type", "unsafe (co)fixpoints", "positivity is assumed")


# One sentence of a Coq text: its offsets, its masked text and its first words.
@dataclass(frozen=True)
class _Words:
    start: int
    end: int
    masked: str
    words: tuple[str, ...]

    @property
    def head(self) -> str:
        return self.words[0] if self.words else ""


def _sentences(text: str) -> list[_Words]:
    masked = mask(text, lex(text, "coq"))
    out = []
    for s in coq_sentences(text):
        body = masked[s.start : s.end].strip()
        words = re.findall(r"[^\s.():]+|:=|:|\(", _CONTROL.sub("", body))
        while words and words[0] in _MODIFIERS:
            words = words[1:]
        out.append(_Words(s.start, s.end, body, tuple(words)))
    return out


# The declaration a verdict is about.
@dataclass(frozen=True)
class _Declaration:
    start: int  # the header sentence's start
    keyword_at: int
    keyword: str
    name: str  # "" for Goal
    end: int  # just past the closing sentence
    closing: _Words
    sections_end: int  # just past the End of the outermost section around it (= end if none)
    in_section: bool


def _declaration(sentences: list[_Words], text: str, decl_start: int) -> _Declaration | None:
    stack: list[tuple[str, str]] = []
    for i, w in enumerate(sentences):
        if w.start < decl_start:
            _track(stack, w)
            continue
        if not w.words:
            return None
        keyword = w.head
        name = w.words[1] if keyword != "Goal" and len(w.words) > 1 else ""
        at = w.start + text[w.start : w.end].find(keyword)
        for j in range(i + 1, len(sentences)):
            later = sentences[j]
            if later.head in _ENDS:
                opened = [n for kind, n in stack if kind == "section"]
                end, sections_end = later.end, later.end
                if opened:  # after the End of the outermost section around the declaration
                    depth = list(stack)
                    for after in sentences[j + 1 :]:
                        _track(depth, after)
                        if not any(kind == "section" for kind, _ in depth):
                            sections_end = after.end
                            break
                    else:
                        return None
                return _Declaration(w.start, at, keyword, name, end, later, sections_end,
                                    bool(opened))
        return None
    return None


def _track(stack: list[tuple[str, str]], w: _Words) -> None:
    """Sections and modules opened and closed by one sentence (where to place the queries; a
    mistake here makes the probe fail to compile, never pass)."""
    words = w.words
    if w.head == "Section" and len(words) > 1:
        stack.append(("section", words[1]))
    elif w.head == "Module" and ":=" not in words and len(words) > 1:
        stack.append(("module", words[2] if words[1] == "Type" and len(words) > 2 else words[1]))
    elif w.head == "End" and len(words) > 1:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][1] == words[1]:
                del stack[k:]
                break


# The probe: its text, its token, the names it reads back.
@dataclass(frozen=True)
class _Probe:
    text: str
    twin: str  # the same text without the graph's two query sentences: coqchk checks its .vo
    token: str
    name: str  # the declaration the graph is asked about
    graph: str  # the .dpd file's name (inside the scratch folder)
    vouched: bool  # every Admitted of the file was given a body (own axioms may count)


def _probe(text: str, decl_start: int, admits: Iterable[tuple[int, int]],
           negation: tuple[str, ...] | None, imports: tuple[str, ...] = ()) -> _Probe | None:
    sentences = _sentences(text)
    decl = _declaration(sentences, text, decl_start)
    if decl is None:
        return None
    t = secrets.token_hex(5)
    hole, adm = f"aq_hole_{t}", f"aq_adm_{t}"
    name = decl.name
    edits: list[tuple[int, int, str]] = []
    if not name:
        name = f"aq_goal_{t}"
        edits.append((decl.keyword_at, decl.keyword_at + len(decl.keyword), f"Lemma {name} :"))
    target_open = negation is not None  # a disproof: the target keeps its hole
    for start, end in admits:
        inside = decl.start < start < decl.end and not target_open
        marker = hole if inside else adm
        edits.append((start, end, re.sub(r"\badmit\b", f"exact ({marker} _)", text[start:end])))
    vouched = True
    for w in sentences:
        if _ADMITTED.match(w.masked):
            if w is decl.closing and not target_open:
                edits.append((w.start, w.end, "Qed."))
            else:
                edits.append((w.start, w.end, f"all: exact ({adm} _). Qed."))
        elif re.search(r"\bAdmit(?:ted)?\b", w.masked):
            vouched = False  # an Admitted this rule cannot rewrite: no own axiom is vouched for
    graph = f"aq_graph_{t}.dpd"
    ask = name
    queries: list[tuple[int, str]] = []
    if decl.in_section and negation is None:
        queries.append((decl.end, _binders(name, t, "pre", "post")))
    after = [f"\nModule aq_out_{t}. End aq_out_{t}."]
    if negation is not None:
        ask = f"aq_negation_{t}"
        target = name
        if imports:
            # The import the disproof's tactics need goes after the claim (it cannot change
            # how the claim reads), and the claim is named first by an alias no import can
            # shadow.
            target = f"aq_target_{t}"
            after += [f"Definition {target} := {name}.", *imports]
        stmt = f"(ltac:(let t := type of {target} in exact t))"
        body = " ".join(negation)
        kernel = f"((fun (P : Prop) (_ : P) => P) _ {target})"
        core = prelude_root()  # Coq; Corelib on Rocq 9 (where Coq.Init.… is deprecated)
        after += [
            f"Lemma {ask} : {core}.Init.Logic.not {stmt}.\nProof. {body} Qed.",
            f"Check ({ask} : {core}.Init.Logic.not {kernel}).",
            f"Check (fun (f : {core}.Init.Logic.not {kernel}) (x : {kernel}) => "
            f"match f x return {core}.Init.Datatypes.unit with end).",
        ]
    elif decl.in_section:
        after.append(_binders(name, t, "out"))
    asked = [f'Set DependGraph File "{graph}".', f"Print DependGraph {ask}.\n"]
    head = (f"From dpdgraph Require dpdgraph. Polymorphic Axiom {hole} : forall T : Type, T. "
            f"Polymorphic Axiom {adm} : forall T : Type, T. ")
    texts = []
    for graph_queries in (asked, ["\n"]):
        placed = [*queries, (decl.sections_end, "\n".join(after + graph_queries))]
        out, last = [], 0
        for start, end, new in sorted([*edits, *((at, at, q) for at, q in placed)],
                                      key=lambda e: (e[0], e[1])):
            out.append(text[last:start] + new)
            last = end
        out.append(text[last:])
        texts.append(head + "".join(out))
    return _Probe(texts[0], texts[1], t, ask, graph, vouched)


def _binders(name: str, token: str, *labels: str) -> str:
    """A probe goal of the declaration's type that prints its hypotheses' names, tagged: with one
    label, those ``intros`` introduces; with two, the context before and after ``intros``."""
    show = ("try (match goal with H : _ |- _ => idtac \"AQ" + token + " {0}\" H; fail end)")
    steps = [show.format(labels[0])] if len(labels) == 2 else []
    steps += ["intros", show.format(labels[-1])]
    return (f"\nGoal ltac:(let t := type of {name} in exact t). " + "; ".join(steps)
            + ". Abort.\n")


# -- reading the answers ----------------------------------------------------------------------


# One node of dpdgraph's file: a global reference as a qualid that names it where it was asked.
@dataclass(frozen=True)
class _Node:
    qualid: str
    kind: str
    body: bool


def parse_graph(text: str) -> tuple[dict[int, _Node], list[tuple[int, int]]]:
    """Nodes and edges of a dpdgraph ``.dpd`` file (labels and paths are identifiers)."""
    nodes: dict[int, _Node] = {}
    edges: list[tuple[int, int]] = []
    for line in text.splitlines():
        m = re.match(r'N: (\d+) "([^"]*)" \[(.*)\];$', line)
        if m:
            attrs = dict(re.findall(r'(\w+)=("[^"]*"|[^,]*),', m.group(3)))
            path = attrs.get("path", "").strip('"')
            qualid = f"{path}.{m.group(2)}" if path else m.group(2)
            nodes[int(m.group(1))] = _Node(qualid, attrs.get("kind", ""),
                                           attrs.get("body", "yes") != "no")
            continue
        m = re.match(r"E: (\d+) (\d+) ", line)
        if m:
            edges.append((int(m.group(1)), int(m.group(2))))
    return nodes, edges


def parse_checker(output: str) -> tuple[frozenset[str], frozenset[str]]:
    """(axioms, unsafe) of ``coqchk -o``'s context summary: fully qualified kernel names."""
    axioms: set[str] = set()
    unsafe: set[str] = set()
    section: str | None = None
    summary = output.split("CONTEXT SUMMARY", 1)
    if len(summary) != 2:
        raise ValueError("coqchk printed no context summary")
    for line in summary[1].splitlines():
        if line.startswith("* "):
            header = line[2:]
            section = ("axioms" if header.startswith("Axioms")
                       else "unsafe" if any(h in header for h in _UNSAFE_HEADERS) else None)
            continue
        name = line.strip()
        if not name or name == "<none>" or section is None:
            continue
        (axioms if section == "axioms" else unsafe).add(name)
    return frozenset(axioms), frozenset(unsafe)


def _suffix(full: str, qualid: str) -> bool:
    return full == qualid or full.endswith("." + qualid)


def in_standard_library(name: str, project: CoqProject,
                        scratch: tuple[Path, str] | None = None) -> bool:
    """Whether the library ``name`` lives in lies in the standard library's folders under
    ``coqc -where`` (``theories``; ``user-contrib/Stdlib`` on Rocq 9), and no
    folder of the project (nor the probe's scratch folder) could provide a library of that name.

    Every split of the name into library and module path is tried against every load-path
    mapping; one candidate outside the standard library is enough to say no.
    """
    tools = toolchain()
    folders = tools.stdlib_folders() if tools is not None else ()
    parts = name.split(".")
    std = [(f, root) for f in folders for root in sorted(STDLIB_ROOTS)]
    maps = std + [(p.resolve(), lg) for p, lg in project.mappings]
    if scratch is not None:
        maps.append(scratch)
    found_std = False
    for k in range(1, len(parts)):
        lib = parts[:k]
        for phys, logical in maps:
            root = [p for p in logical.split(".") if p]
            if lib[: len(root)] != root or len(lib) == len(root):
                continue
            rest = lib[len(root) :]
            base = phys.joinpath(*rest)
            if not any(base.with_suffix(s).exists() for s in (".vo", ".v")):
                continue
            if phys in folders:
                found_std = True
            else:
                return False
    return found_std


def dpdgraph_installed() -> Path | None:
    """The dpdgraph plugin's ``dpdgraph.vo`` under ``coqc -where``'s user-contrib, or None."""
    tools = toolchain()
    if tools is None or tools.where is None:
        return None
    found = tools.where / "user-contrib" / "dpdgraph" / "dpdgraph.vo"
    return found if found.is_file() else None


def library_name(project: CoqProject, path: Path) -> str:
    """The kernel name prefix of ``path``'s own declarations (``Quant.Basic``)."""
    logical = project.logical_dir(path)
    return ".".join(p for p in (logical or "", path.stem) if p)


def _avoided(qualid: str, avoid: Iterable[str]) -> str | None:
    for a in avoid:
        if _suffix(qualid, a) or _suffix(a, qualid):
            return a
    return None


class CoqTrust:
    """The acceptance rule: one ``coqc`` of a probe copy, then ``coqchk`` on what it compiled.

    Args:
      coqc: the compilers and their time limit.
    """

    def __init__(self, coqc: Coqc) -> None:
        self.coqc = coqc
        tools = toolchain()
        self.coqchk: Command = tools.coqchk if tools is not None else "coqchk"

    def judge(self, path: Path, text: str, decl_start: int, *,
              admits: Iterable[tuple[int, int]] = (), negation: tuple[str, ...] | None = None,
              allowed: frozenset[str] = frozenset(),
              avoid: frozenset[str] = frozenset(),
              imports: tuple[str, ...] = ()) -> Acceptance:
        """The verdict on the declaration at ``decl_start`` of ``text`` (a proof spliced in), or,
        with ``negation`` (the tactics of a disproof), on the negation of that declaration.

        Args:
          path: the file ``text`` is the contents of (for its project and library name).
          text: the whole file.
          decl_start: offset of the declaration's header sentence.
          admits: (start, end) of every ``admit`` hole sentence of ``text``.
          negation: the disproof's tactics, or None for a proof.
          allowed: fully qualified axiom names the user allows (reported as assumptions).
          avoid: names no dependency may have (a qualid suffix in either direction matches).
          imports: import lines a disproof's tactics need, placed after the claim, just before
            its negation is stated (never above the claim: the file keeps no such line).
        """
        probe = _probe(text, decl_start, admits, negation, imports if negation else ())
        if probe is None:
            return Acceptance(False, "the declaration's extent could not be read")
        project = find_project(path)
        own = library_name(project, path)
        with (self.coqc.copy_of(path, probe.text) as (_, copy, _built),
              self.coqc.copy_of(path, probe.twin) as (_, twin, _),
              ThreadPoolExecutor(max_workers=1) as pool):
            # The graph's compile and the twin's compile then coqchk run side by side: the
            # twin differs only by the two query sentences, which add nothing to the
            # environment, so coqchk checks what the graph was read from.
            checked = pool.submit(self._compile_and_check, project, path, twin, own)
            run = self.coqc.compile_copy(project, path, copy)
            if run.returncode != 0:
                return self._failed(path, text, negation, run.stderr + "\n" + run.stdout, copy)
            graph_file = copy.parent / probe.graph
            if not graph_file.is_file():
                return Acceptance(False, "the dependency graph was not written")
            nodes, edges = parse_graph(graph_file.read_text(encoding="utf-8", errors="replace"))
            chk = checked.result()
            if isinstance(chk, str):
                return Acceptance(False, chk)
            axioms, unsafe = chk
            hyps = _section_hypotheses(run.stdout, probe.token) if negation is None else ()
            logical = project.logical_dir(path) or ""
            return _verdict(nodes, edges, axioms, unsafe, probe, own, project,
                            (copy.parent.resolve(), logical), allowed, avoid, hyps)

    def _compile_and_check(self, project: CoqProject, path: Path, twin: Path,
                           own: str) -> tuple[frozenset[str], frozenset[str]] | str:
        """coqc on the twin (the probe without the graph's queries), then coqchk on it."""
        run = self.coqc.compile_copy(project, path, twin)
        if run.returncode != 0:
            said = " ".join((run.stderr or run.stdout).split())[-300:]
            return f"the probe without its graph queries does not compile: {said}"
        return self._check(project, path, twin, own)

    def _check(self, project: CoqProject, path: Path, copy: Path,
               own: str) -> tuple[frozenset[str], frozenset[str]] | str:
        logical = project.logical_dir(path)
        mapping = ["-Q", str(copy.parent), logical] if logical is not None else []
        argv = [*command_argv(self.coqchk), "-silent", "-o", *project.flags, *mapping,
                "-norec", own]
        run = run_tool(argv, copy.parent, self.coqc.timeout)
        if run.returncode != 0:
            said = " ".join((run.stderr or run.stdout).split())[-300:]
            return f"coqchk refused the compiled probe: {said}"
        try:
            return parse_checker(run.stdout + "\n" + run.stderr)
        except ValueError as e:
            return str(e)

    def _failed(self, path: Path, text: str, negation: tuple[str, ...] | None, output: str,
                copy: Path) -> Acceptance:
        message, line = first_error(output, copy)
        message = " ".join(message.split())
        if negation is not None:
            return Acceptance(False, f"the negation does not check: {message}",
                              negation_fails=True)
        plain = self.coqc.check(path, text)
        if not plain.ok:
            return Acceptance(False, plain.message, check=plain)
        return Acceptance(False, f"its assumptions could not be checked: {message}")


def _section_hypotheses(stdout: str, token: str) -> tuple[str, ...]:
    """The section variables the declaration gained as binders when its section closed."""
    tagged: dict[str, list[str]] = {"pre": [], "post": [], "out": []}
    for line in stdout.splitlines():
        m = re.fullmatch(rf"AQ{token} (pre|post|out) (\S+)", line.strip())
        if m:
            tagged[m.group(1)].append(m.group(2))
    own_binders = len(tagged["post"]) - len(tagged["pre"])
    out = list(reversed(tagged["out"]))  # printed last hypothesis first
    return tuple(out[: max(len(out) - own_binders, 0)])


def _verdict(nodes: dict[int, _Node], edges: list[tuple[int, int]], axioms: frozenset[str],
             unsafe: frozenset[str], probe: _Probe, own: str, project: CoqProject,
             scratch: tuple[Path, str], allowed: frozenset[str], avoid: frozenset[str],
             hyps: tuple[str, ...]) -> Acceptance:
    hole = f"{own}.aq_hole_{probe.token}" if own else f"aq_hole_{probe.token}"
    adm = f"{own}.aq_adm_{probe.token}" if own else f"aq_adm_{probe.token}"
    refused: list[str] = []
    assumes: list[str] = []
    for node_id, node in nodes.items():
        if any(_suffix(u, node.qualid) for u in unsafe):
            refused.append(f"{node.qualid} (unsafe: unchecked guard, positivity or universes)")
        avoided = _avoided(node.qualid, avoid)
        if avoided is not None and not node.qualid.startswith(("aq_", f"{own}.aq_")):
            refused.append(f"{node.qualid} (avoided: {avoided})")
        if node.kind != "cnst" or node.body:
            continue
        names = [a for a in axioms if _suffix(a, node.qualid)]
        if not names:
            refused.append(f"{node.qualid} (no body, unknown to the checker)")
            continue
        if names == [hole]:
            continue
        if adm in names:
            users = sorted(nodes[a].qualid for a, b in edges if b == node_id and a in nodes)
            refused += [f"{u} (admitted)" for u in users or [node.qualid]]
            continue
        for name in names:
            if name in allowed:
                assumes.append(name)
            elif in_standard_library(name, project, scratch):
                continue
            elif own and name.startswith(own + ".") and probe.vouched:
                assumes.append(name)
            else:
                refused.append(name)
    assumes = sorted(set(assumes)) + [h for h in hyps if h not in assumes]
    if refused:
        return Acceptance(False, "rests on what the acceptance rule refuses: "
                         + ", ".join(sorted(set(refused))), refused=tuple(sorted(set(refused))),
                         assumes=tuple(assumes))
    return Acceptance(True, assumes=tuple(assumes))
