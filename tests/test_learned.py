"""Learning from finished proofs: recording (real coqtop; the Lean REPL's recorded output), the
corpus (resumable, incremental, exclusions), the nearest-state source, and searches on real Coq
that prove a goal only through a learned tactic, and never through an excluded file's proof."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lean_interact.interface import CommandResponse

from alphaquant.config import load_settings
from alphaquant.errors import InputError
from alphaquant.goals import locate
from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.provers.coq.prover import CoqProver
from alphaquant.provers.coq.record import record_file
from alphaquant.provers.lean.record import steps_from_response
from alphaquant.runs.learn import learn
from alphaquant.sanitize import check_tactic
from alphaquant.search.base import GoalContext, SearchParts
from alphaquant.search.mcts import run_search
from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.factory import learned_source, with_learning
from alphaquant.tactics.learned.corpus import Corpus, excluded
from alphaquant.tactics.learned.index import LearnedIndex
from alphaquant.tactics.learned.source import WithLearned, adapt
from alphaquant.tactics.rules.heuristic import HeuristicSource, WeightedTactic
from tests.conftest import REPO, needs_coq

FIXTURES = REPO / "tests" / "fixtures" / "lean-repl"

SMALL_LIBRARY = """Lemma add_zero_r : forall n : nat, n + 0 = n.
Proof.
  intros n.
  induction n as [|m IH].
  - reflexivity.
  - simpl. { rewrite IH. reflexivity. }
Qed.

Lemma with_ellipsis : forall P : Prop, P -> P.
Proof with auto.
  intros P HP...
Qed.

Lemma broken : 1 = 2.
Proof.
  simpl.
  reflexivity.
Qed.

Lemma after_broken : True.
Proof. exact I. Qed.
"""

# The original proof of a goal below: a witness no rule of the heuristics would guess.
WITNESS_LIBRARY = """Lemma square_root_1369 : exists n : nat, n * n = 1369 /\\ 1 < n.
Proof.
  exists 37.
  split.
  - reflexivity.
  - repeat constructor.
Qed.
"""

UNRELATED_LIBRARY = """Lemma andb_true_l : forall b : bool, andb true b = b.
Proof.
  intros b.
  destruct b; reflexivity.
Qed.

Lemma some_exists : exists n : nat, n = n.
Proof.
  exists 0.
  reflexivity.
Qed.
"""

GOAL = """Require Import Lia.

Lemma square_of_37 : exists m : nat, 2 < m /\\ m * m = 1369.
Proof.
Admitted.
"""


def _library(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# -- recording ------------------------------------------------------------------------------------


@pytest.mark.coq
@needs_coq
def test_recording_a_small_library_gives_states_and_tactics_as_coqtop_shows_them(tmp_path):
    path = _library(tmp_path, {"Small.v": SMALL_LIBRARY}) / "Small.v"
    rec = record_file(path)
    steps = [(s.theorem, s.hypotheses, s.conclusion, s.tactic) for s in rec.steps]
    assert steps[:6] == [
        ("add_zero_r", (), "forall n : nat, n + 0 = n", "intros n."),
        ("add_zero_r", ("n : nat",), "n + 0 = n", "induction n as [|m IH]."),
        ("add_zero_r", (), "0 + 0 = 0", "reflexivity."),  # after the bullet: its goal
        ("add_zero_r", ("m : nat", "IH : m + 0 = m"), "S m + 0 = S m", "simpl."),
        ("add_zero_r", ("m : nat", "IH : m + 0 = m"), "S (m + 0) = S m", "rewrite IH."),
        ("add_zero_r", ("m : nat", "IH : m + 0 = m"), "S m = S m", "reflexivity."),
    ]
    tactics = [s.tactic for s in rec.steps]
    assert not {"-", "{", "}"} & set(tactics)  # structure, never recorded
    assert not any(t.endswith("...") for t in tactics)  # Proof with's ellipsis: not alone
    # the broken proof: its first step ran at a real state, recorded; coqtop refused the
    # second (not recorded), the proof was given up and the file went on
    assert [s.tactic for s in rec.steps if s.theorem == "broken"] == ["simpl."]
    assert ("after_broken", "exact I.") in [(s.theorem, s.tactic) for s in rec.steps]
    assert rec.failures >= 1
    assert [s.index for s in rec.steps if s.theorem == "add_zero_r"] == list(range(6))


def test_lean_steps_from_the_repls_real_all_tactics_output():
    answers = (FIXTURES / "all_tactics-20250622.expected.out").read_text(encoding="utf-8")
    request = json.loads((FIXTURES / "all_tactics-20250622.in").read_text().split("\n\n")[0])
    response = CommandResponse.model_validate(json.loads(answers.split("\n\n")[0]))
    assert isinstance(response, CommandResponse)
    steps = steps_from_response(response, request["cmd"])
    assert [(s.theorem, s.hypotheses, s.conclusion, s.tactic) for s in steps] == [
        ("example@1", ("P : Prop", "hp : P"), "P", "exact hp")]
    # a `calc` whose steps end in `sorry`: nothing a search may write, nothing recorded
    calc = CommandResponse.model_validate(json.loads(
        (FIXTURES / "calc.expected.out").read_text(encoding="utf-8").split("\n\n")[0]))
    assert isinstance(calc, CommandResponse) and calc.tactics
    assert steps_from_response(calc, "example : 3 = 5 := by calc") == ()


# -- the corpus -----------------------------------------------------------------------------------


def test_exclusion_patterns():
    key = "Coq/Reals/Rpower.v"
    for pattern in ("Reals/Rpower.v", "Rpower.v", "Coq.Reals.Rpower", "Coq.Reals", "Coq/Reals/*",
                    "*Rpower*"):
        assert excluded(key, [pattern]), pattern
    for pattern in ("Rpow.v", "Coq.Real", "ZArith/*", ""):
        assert not excluded(key, [pattern]), pattern


def test_adapting_hypothesis_names_by_type_then_position():
    recorded = ("n : nat", "IH : n + 0 = n")
    current = ("k : nat", "IHk : k + 0 = k")
    assert adapt("rewrite IH.", recorded, current) == "rewrite IHk."
    assert adapt("induction n as [|m IH].", ("n : nat",), ("x : nat",)) == \
        "induction x as [|m IH]."  # a name the tactic introduces stays as written
    assert adapt("apply H0.", ("H : x < y", "H0 : y < z"), ("A : a <= b", "B : b <= c")) == \
        "apply B."  # no type matches: the proof at the same position
    assert adapt("apply H1.", ("H1 : P",), ()) is None  # nothing to name: dropped
    assert adapt("lia.", ("H : P",), ()) == "lia."


def test_adapting_never_gives_a_name_of_another_kind():
    # a variable of type R is never renamed to a Z, nor to a proof; a proof never to a variable
    recorded = ("x, y, z : R", "H : 0 <= x")
    current = ("a, b : Z", "H : 0 <= a", "H0 : 0 <= b")
    assert adapt("apply Rle_trans with z; auto.", recorded, current) is None
    assert adapt("exact Hn.", ("n : nat", "Hn : n < 3"), ("p : positive", "k : nat",
                                                         "Hk : k <= 2")) == "exact Hk."
    assert adapt("now exists (x :: l).", ("A : Type", "x : A", "l : list A"),
                 ("A : Type", "l : list A", "H : In 0 l")) is None
    # a name the current state declares with the same type stays, even where another comes first
    assert adapt("zero_or_not n.", ("a, n : Z",), ("p, q, n : Z", "H : 0 < n")) == \
        "zero_or_not n."


def test_no_suggestion_names_what_avoid_forbids(tmp_path):
    from alphaquant.provers.base import RecordedStep
    from alphaquant.tactics.learned.source import LearnedSource

    corpus = Corpus(tmp_path / "c.sqlite")
    concl = "forall n : nat, n + 0 = n"
    corpus.put("A.v", "d", [RecordedStep("foo", 0, (), concl, "apply M.plus_n_O_alt."),
                            RecordedStep("bar", 0, (), concl, "induction n.")], 2, 0, 0.0)
    source = LearnedSource(LearnedIndex(corpus))
    state = ProofState((Subgoal((), concl),))
    free = ProposalRequest(state, 24, "coq")
    assert {c.tactic for c in source.propose(free)} == {"apply M.plus_n_O_alt.", "induction n."}
    for avoided in ("plus_n_O_alt", "M.plus_n_O_alt", "Other.plus_n_O_alt"):
        avoiding = dataclasses.replace(free, avoid=frozenset({avoided}))
        assert [c.tactic for c in source.propose(avoiding)] == ["induction n."]


@pytest.mark.coq
@needs_coq
def test_a_changed_file_is_recorded_again_and_an_unchanged_one_is_not(tmp_path):
    lib = _library(tmp_path / "lib", {"A.v": UNRELATED_LIBRARY, "B.v": WITNESS_LIBRARY})
    corpus_file = tmp_path / "corpus.sqlite"
    first = learn([str(lib)], corpus_file=corpus_file)
    assert (first.recorded, first.skipped) == (2, 0)
    again = learn([str(lib)], corpus_file=corpus_file)
    assert (again.recorded, again.skipped) == (0, 2)
    (lib / "A.v").write_text(UNRELATED_LIBRARY.replace("exists 0.", "exists 0.\n  simpl."),
                             encoding="utf-8")
    changed = learn([str(lib)], corpus_file=corpus_file)
    assert (changed.recorded, changed.skipped) == (1, 1)
    rows = Corpus(corpus_file).files()
    assert sum(r.steps for r in rows.values()) == changed.corpus_steps
    assert len(rows) == 2  # the old recording was replaced, not added to


@pytest.mark.coq
@needs_coq
def test_learn_resumes_after_its_process_is_killed(tmp_path):
    files = {f"F{i}.v": "".join(
        f"Lemma l{i}_{j} : forall n : nat, {j} + n = n + {j} -> True.\n"
        f"Proof.\n  intros n H.\n  simpl in H.\n  exact I.\nQed.\n"
        for j in range(40)) for i in range(8)}
    lib = _library(tmp_path / "lib", files)
    env = {**os.environ, "PYTHONPATH": str(REPO), "ALPHAQUANT_CACHE_DIR": str(tmp_path / "c")}
    corpus_file = tmp_path / "c" / "learned" / "coq-test.sqlite"
    config = tmp_path / "learn.toml"
    config.write_text(f'[learn]\ncorpus = "{corpus_file}"\n', encoding="utf-8")
    argv = [sys.executable, "-m", "alphaquant", "learn", str(lib), "--workers", "1",
            "--config", str(config)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    recorded = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if corpus_file.exists():
            with sqlite3.connect(corpus_file) as db:
                try:
                    recorded = db.execute("SELECT count(*) FROM files").fetchone()[0]
                except sqlite3.OperationalError:
                    recorded = 0
            if recorded >= 1:
                break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 1 <= recorded < len(files), "the kill came too late to test a resume"
    with sqlite3.connect(corpus_file) as db:
        before = db.execute("SELECT count(*) FROM files").fetchone()[0]
    assert before < len(files)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{before} already recorded" in done.stderr
    assert f"{len(files) - before} files recorded" in " ".join(done.stdout.split())
    rows = Corpus(corpus_file).files()
    assert len(rows) == len(files)
    # whole files only, none half-written: 40 proofs of three steps each, no failure
    assert {(r.steps, r.proofs, r.failures) for r in rows.values()} == {(120, 40, 0)}


# -- searches on real Coq -------------------------------------------------------------------------


def _search(tmp_path: Path, source, budget: float):
    path = tmp_path / "goal" / "G.v"
    path.parent.mkdir(exist_ok=True)
    path.write_text(GOAL, encoding="utf-8")
    settings = load_settings(offline=True, budget_seconds=budget)
    site = locate(GOAL, path)[0]
    with CoqProver(path) as prover:
        root = prover.open(site, GOAL)
        parts = SearchParts(prover, source, gate=lambda t: check_tactic(t, "coq"))
        return run_search(parts, root, settings.search, GoalContext("coq", GOAL, site.theorem))


# A fixed offline source (the rules, CoqHammer and premises left out): what the learned source
# adds is then exactly what this test sees, however the hand-written rules grow.
BASIC = ("intros.", "split.", "reflexivity.", "lia.", "auto.", "eauto.", "constructor.",
         "eexists.", "repeat constructor.", "simpl.")


def _basic():
    return HeuristicSource(tuple(WeightedTactic(t, 1.0) for t in BASIC),
                           goal_aware_weight=0.0, premise_weight=0.0)


def _settings(corpus_file: Path, *exclude: str):
    settings = load_settings(offline=True)
    return dataclasses.replace(settings, learn=dataclasses.replace(
        settings.learn, corpus=corpus_file, exclude=tuple(exclude)))


@pytest.mark.coq
@needs_coq
def test_a_goal_proved_only_through_a_tactic_learned_from_a_similar_lemma(tmp_path):
    lib = _library(tmp_path / "lib", {"Witness.v": WITNESS_LIBRARY, "Other.v": UNRELATED_LIBRARY})
    corpus_file = tmp_path / "corpus.sqlite"
    learn([str(lib)], corpus_file=corpus_file)
    settings = _settings(corpus_file)
    alone = _basic()
    without = _search(tmp_path, alone, 12)
    assert not without.proved, without.proof
    learned = with_learning(settings, "coq", _basic())
    assert learned is not alone
    found = _search(tmp_path, learned, 30)
    assert found.proved, found.stop_reason
    assert "exists 37." in found.proof  # the witness of the recorded proof


class _Recording:
    """A source that keeps every candidate the learned source proposed."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seen: list[Candidate] = []

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        out = self.inner.propose(request)
        self.seen += out
        return out


@pytest.mark.coq
@needs_coq
def test_no_suggestion_comes_from_an_excluded_files_proof(tmp_path):
    lib = _library(tmp_path / "lib", {"Witness.v": WITNESS_LIBRARY, "Other.v": UNRELATED_LIBRARY})
    corpus_file = tmp_path / "corpus.sqlite"
    learn([str(lib)], corpus_file=corpus_file)
    state = ProofState((Subgoal((), "exists m : nat, 2 < m /\\ m * m = 1369"),))
    request = ProposalRequest(state, 24, "coq", GOAL)
    # with everything: the original's witness is suggested (the test can fail)
    open_source = learned_source(_settings(corpus_file), "coq")
    assert open_source is not None
    assert "exists 37." in [c.tactic for c in open_source.propose(request)]
    # with the original's file excluded: nothing of that proof, at the root or anywhere below
    shut = learned_source(_settings(corpus_file, "Witness.v"), "coq")
    assert shut is not None
    keys = {n.key for n in shut.index.nearest((), state.goals[0].conclusion, 1000)}
    assert keys and not any(k.endswith("Witness.v") for k in keys)
    recording = _Recording(shut)
    mixed = WithLearned(_basic(), recording, 0.5)
    result = _search(tmp_path, mixed, 10)
    assert recording.seen, "the learned source was asked and answered"
    assert "exists 37." not in {c.tactic for c in recording.seen}
    assert "exists 37." not in (result.proof or ())


@pytest.mark.coq
@needs_coq
def test_a_runs_proofs_are_recorded_from_its_store(tmp_path):
    from alphaquant.runs.store import RunStore

    project = tmp_path / "proj"
    project.mkdir()
    text = "Lemma two_steps : forall P : Prop, P -> P /\\ P.\nProof.\nAdmitted.\n"
    (project / "A.v").write_text(text, encoding="utf-8")
    site = locate(text, project / "A.v")[0]
    run_dir = tmp_path / "run"
    store = RunStore.create(run_dir, project, load_settings(offline=True), "", {},
                            [("A.v", text, [(0, "two_steps", 0, site.line, site.kind)])])
    goal = store.goals()[0]
    attempt = store.start_attempt(goal.id, 1, "w", None, 10.0)
    store.finish_attempt(attempt, {"status": "proved", "proof": ["intros P H.", "split.",
                                                                 "exact H.", "exact H."]}, {})
    store.close()
    corpus_file = tmp_path / "corpus.sqlite"
    summary = learn([str(run_dir)], corpus_file=corpus_file)
    assert summary.recorded == 1
    (key,) = Corpus(corpus_file).files()
    assert key.startswith("run:") and key.endswith("/A.v")
    found = LearnedIndex(Corpus(corpus_file)).nearest(("P : Prop", "H : P"), "P /\\ P", 4)
    assert [n.step.tactic for n in found][:1] == ["split."]
    assert learn([str(run_dir)], corpus_file=corpus_file).skipped == 1


def test_learn_exclude_adds_to_the_configs_list(tmp_path):
    from alphaquant.runs.options import BatchOptions, settings_for
    from alphaquant.runs.single import SearchOptions, plan_search

    config = tmp_path / "c.toml"
    config.write_text('offline = true\n[learn]\nexclude = ["vendor/*"]\n', encoding="utf-8")
    goal = tmp_path / "G.v"
    goal.write_text(GOAL, encoding="utf-8")
    plan = plan_search(SearchOptions(str(goal), config=config, learn_exclude=("Coq.Reals",)))
    assert plan.settings.learn.exclude == ("vendor/*", "Coq.Reals")
    settings, _ = settings_for(BatchOptions(tmp_path, config=config,
                                            learn_exclude=("Lib.v",)), None)
    assert settings.learn.exclude == ("vendor/*", "Lib.v")
    config.write_text('[learn]\nexclude = "vendor"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"\[learn\] exclude"):
        load_settings(config)


def test_no_suggestion_of_recursion_or_of_a_recorded_lemma_naming_itself(tmp_path):
    from alphaquant.provers.base import RecordedStep
    from alphaquant.tactics.learned.source import LearnedSource

    corpus = Corpus(tmp_path / "c.sqlite")
    concl = "forall n : nat, n + 0 = n"
    corpus.put("A.v", "d", [RecordedStep("foo", 0, (), concl, "fix foo 1."),
                            RecordedStep("foo", 1, (), concl, "apply foo."),
                            RecordedStep("bar", 0, (), concl, "induction n.")], 2, 0, 0.0)
    source = LearnedSource(LearnedIndex(corpus))
    request = ProposalRequest(ProofState((Subgoal((), concl),)), 24, "coq")
    assert [c.tactic for c in source.propose(request)] == ["induction n."]
    # a text a hand-written rule proposes too is one candidate, with both weights
    rules = HeuristicSource((WeightedTactic("induction n.", 1.0), WeightedTactic("lia.", 1.0)),
                            goal_aware_weight=0.0)
    both = WithLearned(rules, source, 0.5).propose(request)
    assert sorted(c.tactic for c in both) == ["induction n.", "lia."]
    assert both[0].tactic == "induction n." and both[0].prior > both[1].prior


def test_a_learned_intro_that_cannot_apply_here_is_not_suggested():
    from alphaquant.tactics.learned.source import fits

    hyps = ("x, y : Q",)
    # names only: the heuristics' `intros.` gives that state, up to names
    assert not fits("intros a b.", (), "forall a b : Q, a < b")
    # a relation at the top and no arrow: nothing to introduce (`<->` is no arrow)
    assert not fits("intros (a, b); simpl.", hyps, "(Qabs x < y)%Q <-> (- y < x < y)%Q")
    assert not fits("intro; ring.", hyps, "x * y == y * x")
    # a name this state declares already ("x is already used")
    assert not fits("intros x [z Hz].", hyps, "forall p, (exists z, p = z) -> True")
    # patterns that destructure are kept, where there is a product
    assert fits("intros (a1, a2) (b1, b2); simpl.", hyps, "forall a b : Q, a < b")
    assert fits("intros ? ? ->.", (), "forall a b : nat, a = b -> a = b")
    assert fits("intros [z Hz].", hyps, "(exists z, z = x) -> True")
    assert fits("apply Qabs_case; lra.", hyps, "(Qabs x < y)%Q <-> (- y < x < y)%Q")
