"""Files that try to make the acceptance rule misread what a proof rests on, through the CLI.

Each case of tests/attacks/coq_files.txt is a small project (Main.v and, for some, more files)
whose goal `target` a model served by the local server (the real openai SDK) answers with the
cheat. A false target must never end `proved`, a true one never `disproved`, the file must not
change, and the model's answers must have reached the search: the counts the server sent equal
the counts the search received (otherwise the case tested nothing).
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from alphaquant.provers.coq.toolchain import prelude_root, stdlib_root
from alphaquant.tactics.model.prompt import parse_tactics
from tests.conftest import SUMMARY, needs_coq, run_cli, write_config

pytest.importorskip("openai", reason="the llm extra is not installed (pip install '.[llm]')")
from tests.test_llm import ModelServer, Reply, Seen  # noqa: E402

pytestmark = [pytest.mark.coq, pytest.mark.llm, needs_coq]

CORPUS = Path(__file__).parent / "attacks" / "coq_files.txt"


@dataclass(frozen=True)
class Case:
    name: str
    truth: bool
    text: str
    layout: tuple[tuple[str, str], ...]
    answers: tuple[str, ...]


def roots(text: str) -> str:
    """The corpus's ``@Std@``/``@Core@`` as the Coq under test names its standard library and
    its prelude (``Coq``/``Coq`` up to 8.x, ``Stdlib``/``Corelib`` from Rocq 9)."""
    return text.replace("@Std@", stdlib_root()).replace("@Core@", prelude_root())


def cases() -> list[Case]:
    out: list[Case] = []
    corpus = roots(CORPUS.read_text(encoding="utf-8"))
    blocks = re.split(r"^# case: ", corpus, flags=re.MULTILINE)[1:]
    for block in blocks:
        lines = block.splitlines()
        name, truth = lines[0].strip(), None
        layout: list[tuple[str, str]] = []
        body: list[str] = []
        answers: list[str] = []
        part = "file"
        for line in lines[1:]:
            if line.startswith("# truth:"):
                truth = line.split(":", 1)[1].strip() == "true"
            elif line.startswith("# layout "):
                where, content = line[len("# layout "):].split(": ", 1)
                layout.append((where, content + "\n"))
            elif line.startswith("# answers"):
                part = "answers"
            elif line.startswith("# =="):
                break
            elif part == "file":
                body.append(line)
            elif line.strip():
                answers.append(line)
        assert truth is not None, name
        out.append(Case(name, truth, "\n".join(body).strip() + "\n", tuple(layout),
                        tuple(answers)))
    return out


class CountingServer:
    """The model server, counting the answers and tactic texts it sent."""

    def __init__(self, answers: tuple[str, ...]) -> None:
        self.replies = 0
        self.texts = 0
        self.server = ModelServer().start()
        self.server.default = self.reply
        self.answers = answers

    def reply(self, seen: Seen) -> Reply:
        answer = json.dumps(list(self.answers))
        self.replies += 1
        self.texts += len(parse_tactics(answer, "coq"))  # the texts it holds, once each
        return Reply(text=answer)


def project(tmp_path: Path, case: Case) -> Path:
    root = tmp_path / case.name
    root.mkdir()
    for where, content in case.layout:
        (root / where).parent.mkdir(parents=True, exist_ok=True)
        (root / where).write_text(content, encoding="utf-8")
    (root / "Main.v").write_text(case.text, encoding="utf-8")
    write_config(root, [("idtac.", 1.0)], budget_seconds=8, candidates=20, max_children=20,
                 widening_alpha=1.0)
    config = root / "config.toml"
    config.write_text(config.read_text() + "[llm]\nweight_heuristic = 0.05\n", encoding="utf-8")
    return root


def build_layout(root: Path, case: Case) -> None:
    """The extra files compiled as the project maps them (the attack needs their .vo)."""
    flags = ["-R", ".", ""] if (root / "_CoqProject").exists() else ["-Q", ".", ""]
    for where, _ in case.layout:
        if where.endswith(".v"):
            done = subprocess.run(["coqc", *flags, where], cwd=root, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr


ALL = cases()


def test_the_corpus_holds_every_class_with_variants():
    assert len(ALL) >= 20
    assert sum(not c.truth for c in ALL) >= 10 and sum(c.truth for c in ALL) >= 6


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_a_cheating_file_gets_nothing_accepted(tmp_path, case):
    root = project(tmp_path, case)
    build_layout(root, case)
    compiled = subprocess.run(["coqc", *(["-R", ".", ""] if (root / "_CoqProject").exists()
                                         else ["-Q", ".", ""]), "Main.v"],
                              cwd=root, capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, f"the case's file must compile: {compiled.stderr}"
    for leftover in root.glob("Main.vo*"):
        leftover.unlink()
    before = (root / "Main.v").read_bytes()
    model = CountingServer(case.answers)
    try:
        done = run_cli("search", "Main.v", "--config", "config.toml", "--llm", "openai",
                       "--base-url", model.server.url, "--json", "--write", cwd=root)
    finally:
        model.server.stop()
    assert done.returncode in (0, 1), done.stderr
    document = json.loads(done.stdout)
    (item,) = [g for g in document["goals"] if g["theorem"] == "target"]
    forbidden = "disproved" if case.truth else "proved"
    assert item["status"] != forbidden, item
    assert item["status"] != "proved", item  # no answer served here is an honest proof
    assert (root / "Main.v").read_bytes() == before
    assert not list(root.glob("*.orig.bak*"))
    counts = document["model"]
    assert counts is not None, "no model source ran: the answers never reached the search"
    assert model.replies >= 1 and counts["answers"] == model.replies, (counts, model.replies)
    assert counts["received"] == model.texts, (counts, model.texts)
    SUMMARY.append(f"coq cheating file {case.name}: {item['status']}, "
                   f"{item['rejected']} refused by the acceptance rule")


# -- honest proofs still count, and say what they assume ---------------------------------------


def honest(tmp_path: Path, text: str, answers: list[str], *extra: str):
    root = tmp_path / "honest"
    root.mkdir()
    (root / "Main.v").write_text(text, encoding="utf-8")
    write_config(root, [("idtac.", 1.0)], budget_seconds=8, candidates=20, max_children=20,
                 widening_alpha=1.0)
    config = root / "config.toml"
    config.write_text(config.read_text() + "[llm]\nweight_heuristic = 0.05\n", encoding="utf-8")
    model = CountingServer(tuple(answers))
    try:
        done = run_cli("search", "Main.v", "--config", "config.toml", "--llm", "openai",
                       "--base-url", model.server.url, "--json", "--write", "--no-disproof",
                       *extra, cwd=root)
    finally:
        model.server.stop()
    document = json.loads(done.stdout)
    (item,) = [g for g in document["goals"] if g["theorem"] == "target"]
    return root, item, done


def test_a_proof_through_the_files_own_axiom_is_proved_assuming_it(tmp_path):
    text = "Axiom ax : 1 = 2.\nLemma target : 2 = 1.\nProof. Admitted.\n"
    root, item, done = honest(tmp_path, text, ["exact (eq_sym ax)."])
    assert item["status"] == "proved" and item["assumes"] == ["Main.ax"], item
    assert "Qed." in (root / "Main.v").read_text(encoding="utf-8")


def test_a_proof_through_a_section_hypothesis_is_proved_assuming_it(tmp_path):
    text = ("Section S.\nHypothesis(*c*)h2 : 3 = 4.\nLemma target : 4 = 3.\nProof. Admitted.\n"
            "End S.\n")
    _, item, _ = honest(tmp_path, text, ["exact (eq_sym h2)."])
    assert item["status"] == "proved" and item["assumes"] == ["h2"], item


def test_a_proof_through_an_earlier_lemma_assumes_nothing(tmp_path):
    text = ("Lemma helper : 2 + 2 = 4.\nProof. reflexivity. Qed.\n"
            "Lemma target : 4 = 2 + 2.\nProof. Admitted.\n")
    _, item, _ = honest(tmp_path, text, ["exact (eq_sym helper)."])
    assert item["status"] == "proved" and item["assumes"] == [], item


def test_avoid_refuses_a_proof_through_the_avoided_lemma(tmp_path):
    text = ("Lemma helper : 2 + 2 = 4.\nProof. reflexivity. Qed.\n"
            "Lemma target : 4 = 2 + 2.\nProof. Admitted.\n")
    root, item, done = honest(tmp_path, text, ["exact (eq_sym helper)."], "--avoid", "helper")
    assert item["status"] == "open" and "avoided: helper" in item["message"], item
    assert "Qed." not in (root / "Main.v").read_text(encoding="utf-8").split("target")[1]
    _, item, _ = honest(tmp_path / "again", text, ["exact (eq_sym helper).", "reflexivity."],
                        "--avoid", "Main.helper") if (tmp_path / "again").mkdir() is None else ()
    assert item["status"] == "proved" and item["proof"] == ["reflexivity."], item
