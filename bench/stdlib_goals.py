"""`make bench-stdlib`: goals nobody tuned for, generated from Coq's installed standard library.

Generation (at bench time; nothing generated is committed): the lemmas of each source file below
are named by scanning its sentences (``Lemma|Theorem|… name``, qualified by the ``Module`` they
sit in); each one's type is printed by Coq itself (``Check @Original``) in a session that imports
the whole library, and restated under a fresh name. A goal is kept only if its statement
elaborates and ``exact @Original`` proves it. Selection is deterministic: per file, the lemmas
ordered by a hash of their names, the first ``--per-file``.

Each goal file's header imports the standard library only (no CoqHammer: most users' files do
not import it). Each goal is tried, at the same per-goal time, by:

- ``alphaquant``: exactly as a user runs it, ``alphaquant search FILE --offline --budget B``
  (plan_search / run_plan: the first pass, the probe and the negation as configured, CoqHammer
  loaded in the search session and beside the search, the import line a proof needs added);
- ``aq-avoid``: the same with ``--avoid`` of the original lemma (search.avoid);
- ``learning``: the same with the suggestions of the corpus ``alphaquant learn`` recorded,
  each goal's own source file left out of it (no goal sees its original proof);
- ``learn-avoid``: learning and ``--avoid`` of the original together, the row to set beside
  ``aq-avoid`` (learned steps elsewhere name the original too: without ``--avoid`` the search
  spends its time on proofs that do not count);
- ``hammer``, ``sauto``: one call each, in the same search session (CoqHammer loaded there);
- ``single``: the best of single closing tactics (each tried once, in a fixed order).

Every found proof is scored the same way: ``coqc`` on the written file (with the import line the
proof needs), and "without the original" when the ``Print``ed proof term does not name the
original lemma. Time to proof: the median seconds of ``alphaquant`` on the goals a single
closing tactic closes.

    PYTHONPATH=. python3 bench/stdlib_goals.py --budget 30            # the full set
    PYTHONPATH=. python3 bench/stdlib_goals.py --budget 30 --limit 24  # a deterministic sample
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from alphaquant.config import load_settings
from alphaquant.goals import locate
from alphaquant.proof import add_imports, needed_imports, splice
from alphaquant.provers.base import Progress, Solved
from alphaquant.provers.coq.coqtop import CoqTop
from alphaquant.provers.coq.protocol import error_message
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.provers.coq.sentences import split_sentences
from alphaquant.provers.coq.toolchain import Toolchain, stdlib_root, toolchain
from alphaquant.runs.single import SearchOptions, plan_search, run_plan
from alphaquant.tactics.factory import build_source, learned_source
from alphaquant.tactics.rules.automation import hammer_library

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / ".stdlib_goals"  # generated; in .gitignore
SOURCES = (
    "NArith/BinNat.v", "PArith/BinPos.v", "QArith/Qabs.v", "QArith/QArith_base.v",
    "ZArith/Zeven.v", "ZArith/Zpow_facts.v", "ZArith/Zquot.v", "ZArith/Znumtheory.v",
    "Sorting/Permutation.v", "Reals/R_sqrt.v", "Reals/Rpower.v", "Lists/SetoidList.v",
)
LIBRARY = ("NArith.NArith PArith.PArith QArith.QArith QArith.Qabs ZArith.ZArith ZArith.Zquot "
           "ZArith.Znumtheory ZArith.Zpow_facts Sorting.Permutation Reals.Reals Reals.R_sqrt "
           "Reals.Rpower Lists.SetoidList micromega.Lia micromega.Lra micromega.Psatz")
SINGLE = ("lia.", "nia.", "lra.", "nra.", "intuition.", "tauto.", "firstorder.", "congruence.",
          "auto with *.", "eauto.", "easy.", "reflexivity.", "intros; lia.", "intros; lra.",
          "intros; nia.", "intros; ring.")
SINGLE_SECONDS = 5.0
OURS = ("alphaquant", "aq-avoid", "learning", "learn-avoid")  # alphaquant as users run it
DECL = re.compile(r"^(?:#\[[^\]]*\]\s*)?(?:Local\s+|Global\s+)?"
                  r"(?:Lemma|Theorem|Corollary|Fact|Remark|Proposition)\s+([A-Za-z_][\w']*)")


# One generated goal.
@dataclass(frozen=True)
class Goal:
    source: str  # the library file, e.g. "ZArith/Zeven.v"
    original: str  # the original's name as `exact @…` reached it
    statement: str  # as Coq printed its type
    name: str  # the fresh name

    def text(self, header: str) -> str:
        return f"{header}\n\nLemma {self.name} : {self.statement}.\nProof.\nAdmitted.\n"


def tools() -> Toolchain:
    found = toolchain()
    if found is None:
        sys.exit("Coq is not installed (apt-get install -y coq)")
    return found


def header() -> str:
    """The imports of every goal file: the standard library only, as users' files have,
    under its root (``Coq`` before Rocq 9, ``Stdlib`` from 9)."""
    return f"From {tools().stdlib_root} Require Import {LIBRARY}."


def stdlib() -> Path:
    """The folder of the standard library's sources: theories/ under ``coqc -where`` up to Coq 8,
    user-contrib/Stdlib from Rocq 9."""
    where = tools().where
    if where is None:
        sys.exit("`coqc -where` names no folder")
    rocq = where / "user-contrib" / "Stdlib"
    return rocq if rocq.is_dir() else where / "theories"


def lemma_names(path: Path) -> list[str]:
    """Names of a library file's lemmas, qualified by the modules they are declared in."""
    names, modules = [], []
    for sentence in split_sentences(path.read_text(encoding="utf-8")).sentences:
        text = sentence.text.strip()
        opened = re.match(r"^Module\s+(?!Type\b)(?:Import\s+|Export\s+)?([A-Za-z_][\w']*)",
                          text)
        if opened and ":=" not in text:
            modules.append(opened.group(1))
            continue
        if re.match(r"^(?:Module\s+Type|Declare\s+Module)\b", text):
            modules.append("")  # a signature: its lemmas are no constants
            continue
        if re.match(r"^Section\b", text):
            modules.append("§")  # a section: generalised at its end, no name part
            continue
        closed = re.match(r"^End\s+([A-Za-z_][\w']*)\.$", text)
        if closed and modules:
            modules.pop()
            continue
        m = DECL.match(text)
        if m and "" not in modules:
            names.append(".".join([*(p for p in modules if p != "§"), m.group(1)]))
    return names


def _session(folder: Path) -> CoqTop:
    proc = CoqTop([*tools().coqtop, "-emacs"], folder)
    proc.read_reply(time.monotonic() + 60)
    return proc


def _plain(output: str) -> str:
    return re.sub(r"</?(?:infomsg|warning|prompt)>", "", output)


def generate(per_file: int) -> list[Goal]:
    """Goals from every source file, checked (statement elaborates, ``exact @Original``)."""
    theories = stdlib()
    goals: list[Goal] = []
    with tempfile.TemporaryDirectory() as tmp:
        proc = _session(Path(tmp))
        try:
            for sentence in split_sentences(header()).sentences:
                reply = proc.command(sentence.text, 300)
                if error_message(reply.output):
                    sys.exit(f"the library header does not load: {error_message(reply.output)}")
            for source in SOURCES:
                names = lemma_names(theories / source)
                names.sort(key=lambda n: hashlib.sha1(f"{source}:{n}".encode()).hexdigest())
                stem = re.sub(r"\W", "_", Path(source).stem)
                kept = 0
                for original in names:
                    if kept >= per_file:
                        break
                    shown = proc.command(f"Check @{original}.", 30)
                    if error_message(shown.output):
                        continue
                    body = _plain(shown.output).split("\n     : ", 1)
                    if len(body) != 2:
                        continue
                    statement = " ".join(body[1].split())
                    name = f"aq_{stem}_{kept}"
                    failed = False
                    for step in (f"Lemma {name} : {statement}.",
                                 f"Timeout 10 exact @{original}.", "Qed."):
                        if error_message(proc.command(step, 60).output):
                            failed = True
                            break
                    if failed:
                        proc.command("Abort All.", 30)  # whatever is still open
                        continue
                    proc.command(f"Reset {name}.", 30)
                    goals.append(Goal(source, original, statement, name))
                    kept += 1
        finally:
            proc.kill()
    return goals


def sample(goals: list[Goal], limit: int | None) -> list[Goal]:
    """Round robin over the source files, in their order: a deterministic, spread sample."""
    if limit is None:
        return goals
    by_file: dict[str, list[Goal]] = {}
    for g in goals:
        by_file.setdefault(g.source, []).append(g)
    picked: list[Goal] = []
    while len(picked) < limit and any(by_file.values()):
        for source in SOURCES:
            if by_file.get(source) and len(picked) < limit:
                picked.append(by_file[source].pop(0))
    return picked


def names_original(text: str, original: str) -> bool:
    """Whether ``text`` mentions the original lemma (its name, possibly further qualified)."""
    return re.search(rf"(?<![\w'])(?:[\w']+\.)*{re.escape(original)}(?![\w'])", text) is not None


def score(path: Path, written: str, goal: Goal) -> str:
    """"ok", "names the original", or why the written file does not count: coqc on ``written``
    (the file with the proof and any import line it needs), then ``Print`` of the goal."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / path.name
        copy.write_text(written + f"\nPrint {goal.name}.\n", encoding="utf-8")
        done = subprocess.run([*tools().coqc, copy.name], cwd=tmp, capture_output=True,
                              text=True, timeout=300)
    if done.returncode != 0:
        return "coqc rejects it: " + " ".join((done.stderr or done.stdout).split())[:200]
    printed = done.stdout.split(f"{goal.name} =", 1)[-1]
    if names_original(printed, goal.original):
        return f"its proof term names {goal.original}"
    return "ok"


def written_file(path: Path, text: str, proof: tuple[str, ...]) -> str:
    """The goal file as a user would get it: the proof spliced in, the import line it needs."""
    site = locate(text, path)[0]
    spliced = splice(text, site, proof)
    return add_imports(spliced, needed_imports(text, proof, "coq"))[0]


# What one method did on one goal.
@dataclass
class Row:
    proved: bool = False
    proof: tuple[str, ...] = ()
    seconds: float = 0.0
    written: str = ""
    adds_import: str = ""
    verdict: str = ""


def own_file(goal: Goal) -> str:
    """The corpus key of the goal's own source file (tactics/learned/corpus.py file_key)."""
    return f"{stdlib_root()}/{goal.source}"


def run_alphaquant(path: Path, goal: Goal, budget: float, *, avoid: bool = False,
                   learning: bool = False) -> Row:
    """``alphaquant search FILE --offline --budget B``, the user's path (plan_search/run_plan);
    with ``avoid``, ``--avoid`` of the original; with ``learning``, the learned suggestions
    (the goal's own source file left out)."""
    # The user's path learns by default where a corpus exists: the row without learning turns
    # it off, the row with it leaves the goal's own source file out (learn.exclude).
    plan = plan_search(SearchOptions(str(path), budget=budget, offline=True,
                                     learn_exclude=(own_file(goal),) if learning else ()))
    if not learning:
        settings = dataclasses.replace(plan.settings, learn=dataclasses.replace(
            plan.settings.learn, enabled=False))
        source, _ = build_source(settings, "coq", memory=plan.memory)
        plan = dataclasses.replace(plan, settings=settings, source=source)
    if avoid:
        search = dataclasses.replace(plan.settings.search, avoid=(goal.original,))
        plan = dataclasses.replace(plan, settings=dataclasses.replace(plan.settings,
                                                                      search=search))
    started = time.monotonic()
    result = run_plan(plan)
    seconds = time.monotonic() - started
    item = result.goals[0] if result.goals else None
    if item is None or item.status != "proved":
        return Row(False, (), seconds)
    return Row(True, tuple(item.proof or ()), item.seconds, result.final, item.adds_import)


def run_tactics(prover: CoqProver, path: Path, text: str, tactics: tuple[str, ...],
                budget: float, each: float | None) -> Row:
    site = locate(text, path)[0]
    root = prover.open(site, text)
    started = time.monotonic()
    for tactic in tactics:
        left = budget - (time.monotonic() - started)
        if left < 0.5:
            break
        outcome = prover.apply(root, tactic, min(each or left, left))
        if isinstance(outcome, Solved):
            proof = (outcome.path[-1],)
            adds = "\n".join(needed_imports(text, proof, "coq"))
            return Row(True, proof, time.monotonic() - started,
                       written_file(path, text, proof), adds)
        if isinstance(outcome, Progress):
            continue
    return Row(False, (), time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per goal and method")
    parser.add_argument("--per-file", type=int, default=25, help="goals generated per file")
    parser.add_argument("--limit", type=int, default=None, help="goals tried (round robin)")
    parser.add_argument("--start", type=int, default=1,
                        help="the first of those goals to try (1-based; to share a run)")
    parser.add_argument("--methods",
                        default="alphaquant,aq-avoid,learn-avoid,single,hammer,sauto",
                        help="alphaquant: as users run it; aq-avoid: with --avoid of the "
                             "original; learning: with learning (own source file excluded); "
                             "learn-avoid: both; "
                             "single; hammer; sauto")
    parser.add_argument("--proofs", action="store_true", help="print every counted proof")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    first = max(args.start, 1) - 1
    goals = sample(generate(args.per_file), args.limit)[first:]
    head = header()
    methods = args.methods.split(",")
    if hammer_library() is None:
        methods = [m for m in methods if m not in ("hammer", "sauto")]
        print("CoqHammer is not installed (make install): no hammer / sauto rows")
    learns = {"learning", "learn-avoid"} & set(methods)
    if learns and learned_source(load_settings(offline=True), "coq") is None:
        methods = [m for m in methods if m not in ("learning", "learn-avoid")]
        print("no corpus recorded, or scipy missing (alphaquant learn Reals ZArith Arith NArith "
              "PArith QArith Lists Bool Sorting; pip install '.[learn]'): no learning row")
    if {"learning", "learn-avoid"} & set(methods):
        print("learning = alphaquant with learning (own source file excluded); "
              "alphaquant = without; learn-avoid = learning with --avoid, beside aq-avoid")
    print(f"{len(goals)} goals from {len({g.source for g in goals})} files, "
          f"{args.budget:g}s per goal and method; methods: {', '.join(methods)}; "
          "headers import the standard library only")
    closed: dict[str, Counter[str]] = {m: Counter() for m in methods}
    clean: dict[str, Counter[str]] = {m: Counter() for m in methods}
    imports: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    easy_times: list[float] = []
    proofs: list[str] = []
    with CoqProver(hammer_session=True) as prover:  # the peers' session loads CoqHammer
        for i, goal in enumerate(goals, start=first):
            path = OUT / f"{goal.name}.v"
            text = goal.text(head)
            path.write_text(text, encoding="utf-8")
            line = [f"{i + 1:3d} {goal.source:24s} {goal.original[:28]:28s}"]
            rows: dict[str, Row] = {}
            for method in methods:
                if method in OURS:
                    row = run_alphaquant(path, goal, args.budget,
                                         avoid=method in ("aq-avoid", "learn-avoid"),
                                         learning=method in ("learning", "learn-avoid"))
                elif method == "single":
                    row = run_tactics(prover, path, text, SINGLE, args.budget, SINGLE_SECONDS)
                else:
                    row = run_tactics(prover, path, text, (f"{method}.",), args.budget, None)
                rows[method] = row
                if row.proved:
                    row.verdict = score(path, row.written, goal)
                    if row.verdict == "ok" or "names" in row.verdict:
                        closed[method][goal.source] += 1
                        imports[method] += bool(row.adds_import)
                    else:
                        failed[method] += 1
                    if row.verdict == "ok":
                        clean[method][goal.source] += 1
                mark = {"ok": "+", "": "-"}.get(row.verdict, "o" if "names" in row.verdict
                                                 else "x")
                line.append(f"{method}:{mark}{row.seconds:.1f}s")
                if args.proofs and row.proved:
                    extra = f" [adds {row.adds_import}]" if row.adds_import else ""
                    proofs.append(f"    {method} ({row.verdict}){extra}: {' '.join(row.proof)}")
            if "single" in rows and rows["single"].verdict in ("ok",) or (
                    "single" in rows and "names" in rows["single"].verdict):
                if "alphaquant" in rows:
                    easy_times.append(rows["alphaquant"].seconds if rows["alphaquant"].proved
                                      else args.budget)
            print(" ".join(line), flush=True)
            for p in proofs:
                print(p[:300], flush=True)
            proofs.clear()
    report(goals, methods, closed, clean, imports, failed, easy_times)


def report(goals: list[Goal], methods: list[str], closed: dict[str, Counter[str]],
           clean: dict[str, Counter[str]], imports: Counter[str], failed: Counter[str],
           easy_times: list[float]) -> None:
    """Per file: closed / closed without naming the original, each method; totals; ratios."""
    print()
    print("closed / closed without naming the original ('+' above), per source file")
    print(f"{'file':24s} " + " ".join(f"{m:>11s}" for m in methods) + "   goals")
    for source in SOURCES:
        n = sum(1 for g in goals if g.source == source)
        if n:
            print(f"{source:24s} " + " ".join(
                f"{closed[m][source]:5d}/{clean[m][source]:<5d}" for m in methods)
                + f"   {n:5d}")
    total = {m: sum(closed[m].values()) for m in methods}
    total_clean = {m: sum(clean[m].values()) for m in methods}
    print(f"{'total':24s} " + " ".join(f"{total[m]:5d}/{total_clean[m]:<5d}" for m in methods)
          + f"   {len(goals):5d}")
    print("proofs that add an import line: " + ", ".join(f"{m} {imports[m]}" for m in methods))
    print("found but rejected by coqc on the written file: "
          + ", ".join(f"{m} {failed[m]}" for m in methods))
    ours = OURS
    for mine in ours:
        if mine not in methods:
            continue
        for m in methods:
            if m in ours:
                continue
            closed_ratio = f"{total[mine] / total[m]:.2f}" if total[m] else "n/a (0)"
            clean_ratio = (f"{total_clean[mine] / total_clean[m]:.2f}" if total_clean[m]
                           else "n/a (0)")
            print(f"{mine} / {m}: closed {closed_ratio}, without the original {clean_ratio}")
    if easy_times:
        print(f"time to proof (alphaquant, median over the {len(easy_times)} goals a single "
              f"tactic closes; an open one counts as the budget): "
              f"{statistics.median(easy_times):.2f} s")


if __name__ == "__main__":
    main()
