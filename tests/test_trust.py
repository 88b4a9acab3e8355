"""No false claim is ever reported proved: the acceptance rule on real Coq.

Each reproduction of issue 8 (A–F) runs end to end through the real CLI, with the real openai SDK
talking to the local model server (tests/test_llm.py), real coqtop judging the steps and real
coqc re-checking the file; then the attack corpus (tests/attacks/coq.txt) runs through the same
path. None may end `proved` or `disproved`, and no file may change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alphaquant import proof
from alphaquant.goals import locate
from alphaquant.sanitize import check_tactic
from alphaquant.tactics.model.prompt import parse_tactics
from tests.conftest import SUMMARY, needs_coq, run_cli, write_config

pytest.importorskip("openai", reason="the llm extra is not installed (pip install '.[llm]')")
from tests.test_llm import ModelServer, Reply, Seen  # noqa: E402

pytestmark = [pytest.mark.coq, pytest.mark.llm, needs_coq]

CORPUS = Path(__file__).parent / "attacks" / "coq.txt"

HELPER = """\
Lemma lem : 1 = 2.
Proof.
Admitted.
Axiom cheat : False.
Module Inner.
Lemma bad2 : forall n : nat, n = S n.
Proof.
Admitted.
End Inner.
"""

MAIN = """\
Require MyLib.other.Helper.
Module M.
Lemma bad : 1 = 2.
Proof.
Admitted.
End M.
Lemma bad_top : 1 = 2.
Proof.
Admitted.
Lemma shadow : True.
Proof. exact I. Qed.
Module N.
Lemma shadow : 1 = 2.
Proof.
Admitted.
End N.
Goal 1 = 2.
Proof.
Admitted.
Lemma holes : 1 = 2 /\\ forall n : nat, n = S n.
Proof.
  split.
  - admit.
  - admit.
Admitted.
Lemma claim_true : 2 = 2.
Proof.
Admitted.
Notation bad_alias := M.bad.
Definition bad_def : 1 = 2 := M.bad.
Lemma target_a : 1 = 2.
Proof.
Admitted.
"""


def corpus() -> dict[str, list[str]]:
    """The attack texts by the arena goal they aim at ("" for the anonymous Goal)."""
    groups: dict[str, list[str]] = {}
    current = None
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        header = re.match(r"# goal: (\S+)", line)
        if header:
            current = "" if header.group(1) == "(anonymous)" else header.group(1)
            groups[current] = []
        elif line.strip() and not line.startswith("#") and current is not None:
            groups[current].append(line)
    return groups


@pytest.fixture
def arena(tmp_path: Path) -> Path:
    """A project as in reproduction D: `-R theories MyLib`, a helper in another folder."""
    root = tmp_path / "arena"
    (root / "theories" / "other").mkdir(parents=True)
    (root / "theories" / "sub").mkdir(parents=True)
    (root / "_CoqProject").write_text("-R theories MyLib\n", encoding="utf-8")
    (root / "theories" / "other" / "Helper.v").write_text(HELPER, encoding="utf-8")
    (root / "theories" / "sub" / "Main.v").write_text(MAIN, encoding="utf-8")
    write_config(root, [("idtac.", 1.0)], budget_seconds=25, candidates=40, max_children=40,
                 widening_alpha=1.0)
    config = root / "config.toml"
    config.write_text(config.read_text() + "[llm]\nweight_heuristic = 0.05\n", encoding="utf-8")
    return root


def answer_by_goal(groups: dict[str, list[str]], sent: list[int] | None = None):
    """A model that answers each goal's prompt with the texts aimed at that goal; ``sent``
    gets the count of distinct texts of each answer."""
    def reply(seen: Seen) -> Reply:
        named = re.search(r"Theorem being proved: (\S+)", seen.prompt)
        texts = groups.get(named.group(1) if named else "", [])
        answer = json.dumps(texts)
        if sent is not None:  # as many texts as the answer holds once read (same text once)
            sent.append(len(parse_tactics(answer, "coq")))
        return Reply(text=answer)
    return reply


def search(root: Path, server: ModelServer, *extra: str):
    return run_cli("search", "theories/sub/Main.v", "--config", "config.toml", "--llm", "openai",
                   "--base-url", server.url, "--json", "--write", *extra, cwd=root)


def test_attack_corpus_and_reproductions_are_never_accepted(arena):
    groups = corpus()
    server = ModelServer().start()
    sent: list[int] = []
    server.default = answer_by_goal(groups, sent)
    before = (arena / "theories" / "sub" / "Main.v").read_bytes()
    try:
        done = search(arena, server)
    finally:
        server.stop()
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    items = document["goals"]
    # the model's answers reached the search: what the server sent is what the search received
    counts = document["model"]
    assert counts is not None, "no model source ran: the answers never reached the search"
    assert counts["answers"] == len(sent) >= len([g for g in groups if g]), (counts, sent)
    assert counts["received"] == sum(sent), (counts, sent)
    verdicts = {(i["theorem"], i["line"]): i["status"] for i in items}
    assert set(verdicts.values()) <= {"open", "error"}, verdicts
    assert (arena / "theories" / "sub" / "Main.v").read_bytes() == before
    assert not list(arena.rglob("*.orig.bak"))
    texts = [t for group in groups.values() for t in group]
    by_sanitizer = sum(check_tactic(t, "coq") is not None for t in texts)
    by_rule = sum(i["rejected"] for i in items)
    assert len(texts) >= 100
    # the kernel-level cheats reached the acceptance rule and were refused there
    assert by_rule >= 10, items
    prompts = " ".join(s.prompt for s in server.generations())
    assert all(f"Theorem being proved: {g}" in prompts for g in groups if g)
    SUMMARY.append(f"coq attack corpus: {len(texts)} tried, {by_sanitizer} refused by the "
                   f"sanitizer, {by_rule} complete paths refused by the acceptance rule, "
                   f"0 accepted")


@pytest.mark.parametrize(("answers", "goal"), [
    (["exact M.bad."], "target_a"),  # A: an admitted lemma by a qualified name
    (["exact MyLib.other.Helper.lem."], "target_a"),  # D: another folder of the project
    (["exact bad."], "shadow"),  # C: no `bad` in scope, but N.shadow must not borrow Top.shadow
    (["exact M.bad."], "shadow"),  # C: the module's own shadow is checked, not the top one
])
def test_reproductions_end_open(arena, answers, goal):
    server = ModelServer().start()
    server.default = answer_by_goal({goal: answers})
    try:
        done = run_cli("search", "theories/sub/Main.v", "--config", "config.toml", "--theorem",
                       goal, "--llm", "openai", "--base-url", server.url, "--json", "--write",
                       cwd=arena)
    finally:
        server.stop()
    item = json.loads(done.stdout)["goals"][0]
    assert item["status"] == "open", item
    assert done.returncode == 1
    assert not list(arena.rglob("*.orig.bak"))


# -- the rule itself, on real coqc, without a search ------------------------------------------


@pytest.fixture
def prover():
    from alphaquant.provers.coq.prover import CoqProver

    with CoqProver() as p:
        yield p


def verdict(prover, path: Path, text: str, tactics: tuple[str, ...], pick) -> proof.Verdict:
    path.write_text(text, encoding="utf-8")
    site = next(s for s in locate(text, path) if pick(s))
    return proof.verify(prover, path, text, proof.splice(text, site, tactics), tactics,
                        site.decl_start)


def test_anonymous_goal_is_checked_through_a_named_copy(prover, tmp_path):
    text = "Lemma bad : 1 = 2.\nProof.\nAdmitted.\nGoal 1 = 2.\nProof.\nAdmitted.\n"
    cheat = verdict(prover, tmp_path / "B.v", text, ("exact bad.",), lambda s: not s.theorem)
    assert not cheat.ok and "bad (admitted)" in cheat.reason
    honest = "Goal 2 = 2.\nProof.\nAdmitted.\n"
    assert verdict(prover, tmp_path / "B2.v", honest, ("reflexivity.",), lambda s: True).ok


def test_fix_in_a_hole_meets_the_guard_checker(prover, tmp_path):
    text = ("Lemma holes : 1 = 1 /\\ forall n : nat, n = S n.\nProof.\n  split.\n"
            "  - admit.\n  - admit.\nAdmitted.\n")
    second = lambda s: s.kind == "admit" and s.index == 1  # noqa: E731
    fixed = verdict(prover, tmp_path / "F.v", text, ("fix f 1.", "exact f."), second)
    assert not fixed.ok and "assumptions could not be checked" in fixed.reason
    first = lambda s: s.kind == "admit" and s.index == 0  # noqa: E731
    assert verdict(prover, tmp_path / "G.v", text, ("reflexivity.",), first).ok


def test_hole_proof_may_add_nothing_but_fewer_holes(prover, tmp_path):
    text = ("Lemma bad : 1 = 2.\nProof.\nAdmitted.\nLemma holes : 1 = 2 /\\ 3 = 3.\nProof.\n"
            "  split.\n  - admit.\n  - admit.\nAdmitted.\n")
    first = lambda s: s.kind == "admit" and s.index == 0  # noqa: E731
    cheat = verdict(prover, tmp_path / "E.v", text, ("exact bad.",), first)
    assert not cheat.ok and "bad (admitted)" in cheat.reason


def test_declared_axioms_of_the_file_and_the_standard_library_are_allowed(prover, tmp_path):
    text = ("Require Import Reals.\nOpen Scope R_scope.\nModule P.\nAxiom w : R.\nEnd P.\n"
            "Lemma uses : P.w + 0 = P.w.\nProof.\nAdmitted.\n")
    assert verdict(prover, tmp_path / "Ax.v", text, ("ring.",), lambda s: True).ok
    other = tmp_path / "other"
    other.mkdir()
    (other / "Lib.v").write_text("Axiom cheat : False.\n", encoding="utf-8")
    (other / "Use.v").write_text("", encoding="utf-8")
    use = "Require Lib.\nLemma t : 1 = 2.\nProof.\nAdmitted.\n"
    refused = verdict(prover, other / "Use.v", use, ("destruct Lib.cheat.",), lambda s: True)
    assert not refused.ok and "Lib.cheat" in refused.reason


def test_a_proof_through_an_earlier_proved_project_lemma_is_accepted(prover, tmp_path):
    (tmp_path / "_CoqProject").write_text("-Q . Quant\n", encoding="utf-8")
    (tmp_path / "Base.v").write_text("Lemma three_pos : 0 < 3.\nProof. auto. Qed.\n",
                                     encoding="utf-8")
    use = "Require Import Quant.Base.\nLemma use : 0 < 3.\nProof.\nAdmitted.\n"
    assert verdict(prover, tmp_path / "Use.v", use, ("exact three_pos.",), lambda s: True).ok
    (tmp_path / "Base2.v").write_text("Lemma four : 0 < 4.\nProof.\nAdmitted.\n",
                                      encoding="utf-8")
    use2 = "Require Import Quant.Base2.\nLemma use2 : 0 < 4.\nProof.\nAdmitted.\n"
    refused = verdict(prover, tmp_path / "Use2.v", use2, ("exact four.",), lambda s: True)
    assert not refused.ok and "Quant.Base2.four" in refused.reason


def test_a_project_that_claims_the_coq_root_gets_no_stdlib_pass(prover, tmp_path):
    from alphaquant.provers.coq.toolchain import stdlib_root

    root = stdlib_root()  # Coq; Stdlib on Rocq 9, which reads Coq.X as Stdlib.X
    (tmp_path / "_CoqProject").write_text(f"-Q . {root}.Fake\n", encoding="utf-8")
    (tmp_path / "Lib.v").write_text("Lemma bad : 1 = 2.\nProof.\nAdmitted.\n", encoding="utf-8")
    use = f"Require {root}.Fake.Lib.\nLemma t : 1 = 2.\nProof.\nAdmitted.\n"
    refused = verdict(prover, tmp_path / "Use.v", use, (f"exact {root}.Fake.Lib.bad.",),
                      lambda s: True)
    assert not refused.ok and f"{root}.Fake.Lib.bad" in refused.reason


def test_an_admitted_lemma_with_a_long_statement_is_refused(prover, tmp_path):
    """A long statement once made the printed assumptions drop an Admitted lemma; the
    dependency graph has no layout to misread."""
    statement = ("forall (A : Type) (B : A -> Type) (f g : forall x : A, B x),\n"
                 "  (forall x : A, f x = g x) -> f = g.\nProof.\nAdmitted.\n")
    text = f"Lemma long_admitted : {statement}Lemma t : {statement}"
    refused = verdict(prover, tmp_path / "L.v", text, ("exact long_admitted.",),
                      lambda s: s.theorem == "t")
    assert not refused.ok and "long_admitted (admitted)" in refused.reason


def test_an_axiom_the_user_allows_by_its_kernel_name_is_accepted(tmp_path):
    from alphaquant.provers.coq.prover import CoqProver

    other = tmp_path / "lib"
    other.mkdir()
    (other / "Lib.v").write_text("Axiom excluded : forall P : Prop, P \\/ ~ P.\n",
                                 encoding="utf-8")
    use = "Require Lib.\nLemma t : forall P : Prop, P \\/ ~ P.\nProof.\nAdmitted.\n"
    tactics = ("exact Lib.excluded.",)
    with CoqProver() as strict:
        assert not verdict(strict, other / "Use.v", use, tactics, lambda s: True).ok
    with CoqProver(allowed_axioms=frozenset({"Lib.excluded"})) as allowing:
        assert verdict(allowing, other / "Use.v", use, tactics, lambda s: True).ok


def test_an_admitted_lemma_reached_through_a_module_alias_is_refused(prover, tmp_path):
    text = ("Module M.\nLemma bad : 1 = 2.\nProof.\nAdmitted.\nEnd M.\nModule A := M.\n"
            "Definition target : 1 = 2.\nProof.\nAdmitted.\n")
    refused = verdict(prover, tmp_path / "Z.v", text, ("exact A.bad.",),
                      lambda s: s.theorem == "target")
    assert not refused.ok and "M.bad (admitted)" in refused.reason


def test_an_admitted_instance_found_by_typeclass_resolution_is_refused(prover, tmp_path):
    # The proof never names the instance: resolution finds it. The kernel name still shows.
    text = ("Class Bad : Prop := bad_fact : 1 = 2.\nInstance bad_inst : Bad.\nAdmitted.\n"
            "Lemma target : 1 = 2.\nProof.\nAdmitted.\n")
    refused = verdict(prover, tmp_path / "I.v", text, ("exact (@bad_fact _).",),
                      lambda s: s.theorem == "target")
    assert not refused.ok and "bad_inst (admitted)" in refused.reason


# -- disproofs are stated from the kernel type, after the sections close ----------------------


def disproof(prover, path: Path, text: str, tactics: tuple[str, ...]) -> proof.Verdict:
    path.write_text(text, encoding="utf-8")
    site = next(s for s in locate(text, path) if s.theorem == "target")
    found = proof.verify_disproof(prover, path, text, site, tactics)
    assert found is not None
    return found


@pytest.mark.parametrize(("text", "tactics"), [
    ('Notation "~ x" := (x -> True) : type_scope.\nLemma target : 2 + 2 = 4.\nProof. Admitted.\n',
     ("intros.", "exact I.")),
    ("Module Coq. Module Init. Module Logic. Definition not (A : Prop) := True. End Logic. "
     "End Init. End Coq.\nLemma target : 2 + 2 = 4.\nProof. Admitted.\n", ("exact I.",)),
    ("Section S.\nVariables(h : False).\nLemma target : 2 + 2 = 4.\nProof. Admitted.\nEnd S.\n",
     ("intro H.", "destruct h.")),
    ("Section S.\nContext {h : False}.\nLemma target : 2 + 2 = 4.\nProof. Admitted.\nEnd S.\n",
     ("intros _.", "case h.")),
])
def test_a_cheating_disproof_of_a_true_target_is_refused_by_the_rule(prover, tmp_path, text,
                                                                      tactics):
    assert not disproof(prover, tmp_path / "N.v", text, tactics).ok


def test_an_honest_disproof_is_accepted_in_and_out_of_sections(prover, tmp_path):
    text = "Lemma target : forall n : nat, n + 1 = n.\nProof. Admitted.\n"
    tactics = ("intro H.", "specialize (H 0).", "discriminate.")
    assert disproof(prover, tmp_path / "D.v", text, tactics).ok
    inside = ("Section S.\nVariable k : nat.\nLemma target : forall n : nat, n + 1 = n.\n"
              "Proof. Admitted.\nEnd S.\n")
    assert disproof(prover, tmp_path / "D2.v", inside, tactics).ok
