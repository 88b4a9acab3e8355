"""`make bench`: the engine's figures from one run on coq_project.

Prints expansions per second, the share of search wall time spent waiting on the prover, and the
throughput of the very same tactics through a bare coqtop loop (no tree, no sanitizer, no
parsing beyond the prompt), as a ratio. Then learned priors: expansions to proof in a first run
with an empty record and in a second run with the record the first one left. First, when a
corpus was recorded (`alphaquant learn`), how long its nearest-state index takes to load and to
answer (the searches ask it at every state).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alphaquant.config import load_settings
from alphaquant.goals import locate
from alphaquant.provers.coq.project import find_project
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.provers.coq.sentences import split_sentences
from alphaquant.provers.coq.toolchain import toolchain
from alphaquant.runs.attempt import Goal, attempt_goal, evaluator
from alphaquant.search.base import GoalContext, SearchParts, Trial
from alphaquant.tactics.factory import heuristic_source
from alphaquant.tactics.learned.memory import open_memory

REPO = Path(__file__).resolve().parent.parent
FILES = ["Basic.v", "IntegerBounds.v", "Groq.v"]
PROMPT = re.compile(r"<prompt>\S+ < (\d+) \|")


def bare_loop(path: Path, text: str, start: int, trials: list[Trial]) -> float:
    """Tactics per second of the same trials through coqtop driven by hand: for each, back to
    the root, the state's tactic path, then the tactic (no tree, no parsing beyond prompts)."""
    project = find_project(path)
    tools = toolchain()
    assert tools is not None, "Coq is not installed"
    proc = subprocess.Popen(
        [*tools.coqtop, "-emacs", *project.flags], cwd=project.root, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    assert proc.stdin and proc.stdout

    def send(command: str) -> int:
        proc.stdin.write(command + "\n")
        proc.stdin.flush()
        buffer = ""
        while True:
            buffer += proc.stdout.read(1)
            if buffer.endswith("</prompt>"):
                return int(PROMPT.findall(buffer)[-1])

    buffer = ""
    while not buffer.endswith("</prompt>"):  # the first prompt
        buffer += proc.stdout.read(1)
    last = 0
    for sentence in split_sentences(text[:start]).sentences:
        last = send(sentence.text)
    root = last
    t0 = time.perf_counter()
    for t in trials:  # Coq forgets states past a BackTo target: replay the path each time
        send(f"BackTo {root}.")
        for step in t.state.path:
            send(f"Timeout 5 {step.rstrip('.')}.")
        send(f"Timeout 5 {t.tactic.rstrip('.')}.")
    seconds = time.perf_counter() - t0
    proc.kill()
    return len(trials) / seconds


def run_file(path: Path, settings, memory=None) -> tuple[list, list[Trial], float, float]:
    """Search every goal of ``path``; (results, trials of the first goal, wall, prover seconds)."""
    text = path.read_text(encoding="utf-8")
    source = heuristic_source(settings, "coq", memory)
    results, first_trials, wall, waited = [], [], 0.0, 0.0
    with CoqProver(path) as prover:
        for site in locate(text, path):
            before = prover.wait_seconds
            t0 = time.perf_counter()
            result, _ = attempt_goal(prover, source, Goal(path, text, site), settings,
                                     memory=memory)
            wall += time.perf_counter() - t0
            waited += prover.wait_seconds - before
            results.append(result)
    return results, first_trials, wall, waited


def learned_index_figures() -> None:
    """The learned index's load time and per-query time, when a corpus exists."""
    from alphaquant.provers.coq.record import coq_version
    from alphaquant.tactics.learned.corpus import Corpus, corpus_path
    from alphaquant.tactics.learned.index import LearnedIndex, available, index_current

    path = corpus_path("coq", coq_version())
    if available() is not None or not path.is_file():
        print("learned index: no corpus recorded (alphaquant learn …), or scipy missing")
        return
    corpus = Corpus(path)
    if not index_current(corpus):
        LearnedIndex(corpus)  # builds it; the load below is what a search pays
    started = time.monotonic()
    index = LearnedIndex(corpus)
    loaded = time.monotonic() - started
    states = [("n : nat",), ("x, y : R", "H : 0 < x"), ("l : list nat",)]
    conclusions = ["n + 0 = n", "Rabs (x * y) <= x * Rabs y", "rev (rev l) = l"]
    started = time.monotonic()
    for hyps, concl in zip(states, conclusions, strict=True):
        index.nearest(hyps, concl, 24)
    per_query = (time.monotonic() - started) / len(states)
    print(f"learned index: {index.size} steps, loaded in {loaded:.2f} s, "
          f"{per_query * 1000:.1f} ms per query (first asks)")


def main() -> None:
    learned_index_figures()
    settings = load_settings(REPO / "configs" / "offline.toml", budget_seconds=20.0)
    settings = dataclasses.replace(
        settings, tactics=dataclasses.replace(settings.tactics, learned_priors=False)
    )
    print("alphaquant engine benchmark (coq_project, offline heuristics, 20 s per goal)")
    expansions = wall = waited = 0.0
    for name in FILES:
        results, _, w, p = run_file(REPO / "coq_project" / name, settings)
        expansions += sum(r.expansions for r in results)
        wall += w
        waited += p
        done = sum(r.status in ("proved", "disproved") for r in results)
        print(f"  {name:18} {done}/{len(results)} closed, {sum(r.expansions for r in results)} "
              f"expansions, {w:.1f}s")
    engine_rate = expansions / wall
    print(f"expansions per second:            {engine_rate:.2f}")
    print(f"share of wall time on the prover: {waited / wall:.2f}")

    # The same tactics through a bare coqtop loop: record one goal's trials, replay them raw.
    from alphaquant.sanitize import check_tactic
    from alphaquant.search.mcts import run_search

    path = REPO / "coq_project" / "Basic.v"
    text = path.read_text(encoding="utf-8")
    site = locate(text, path)[0]
    with CoqProver(path) as prover:
        root = prover.open(site, text)
        config = dataclasses.replace(settings.search, budget_seconds=15.0, max_expansions=60)
        t0 = time.perf_counter()
        parts = SearchParts(prover, heuristic_source(settings, "coq"),
                            gate=lambda t: check_tactic(t, "coq"), evaluator=evaluator("coq", text))
        result = run_search(parts, root, config, GoalContext("coq", text))
        engine_goal_rate = result.expansions / (time.perf_counter() - t0)
    bare_rate = bare_loop(path, text, site.start, list(result.tried))
    print(f"same tactics, engine vs bare coqtop loop: {engine_goal_rate:.2f} vs {bare_rate:.2f} "
          f"tactics/s, ratio {engine_goal_rate / bare_rate:.2f}")

    # Learned priors: expansions to proof, first run (empty record) vs second run.
    with tempfile.TemporaryDirectory() as tmp:
        memory_settings = dataclasses.replace(
            settings, tactics=dataclasses.replace(settings.tactics, learned_priors=True)
        )
        runs: list[dict[tuple[str, str], int]] = []
        for _ in (1, 2):
            memory = open_memory(Path(tmp) / "memory.sqlite", "coq")
            closed: dict[tuple[str, str], int] = {}
            for name in FILES:
                results, *_ = run_file(REPO / "coq_project" / name, memory_settings, memory)
                closed.update({(name, r.theorem): r.expansions for r in results
                               if r.status in ("proved", "disproved")})
            runs.append(closed)
        both = sorted(set(runs[0]) & set(runs[1]))
        first, second = (sum(r[k] for k in both) for r in runs)
        print(f"learned priors: {len(both)} goals closed in both runs; expansions to proof "
              f"run 1: {first}, run 2: {second}, ratio {second / max(first, 1):.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
