"""`alphaquant search --llm openai` end to end: the real openai SDK against a local server that
speaks the chat-completions API, real coqtop/coqc judging the candidates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from alphaquant.tactics.model.prompt import parse_tactics
from tests.conftest import REPO, needs_coq, run_cli, write_config

pytest.importorskip("openai", reason="the llm extra is not installed (pip install '.[llm]')")
from tests.test_llm import ModelServer, Reply  # noqa: E402

pytestmark = [pytest.mark.coq, pytest.mark.llm, needs_coq]

THEOREM = "matmul_fits_groq_sram_tile128"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of coq_project whose offline tactic list cannot prove anything by itself."""
    copy = tmp_path / "coq_project"
    shutil.copytree(REPO / "coq_project", copy,
                    ignore=shutil.ignore_patterns("*.vo", "*.vok", "*.vos", "*.glob", ".*.aux"))
    config = write_config(copy, [("idtac.", 1.0), ("exfalso.", 1.0)], budget_seconds=20)
    config.write_text(config.read_text() + "[llm]\nweight_heuristic = 0.1\n", encoding="utf-8")
    return copy


def serve(answer: str) -> ModelServer:
    server = ModelServer().start()
    server.default = Reply(text=answer)
    return server


def search(project: Path, server: ModelServer, *extra: str, env: dict[str, str] | None = None):
    return run_cli(
        "search", "Groq.v", "--config", "config.toml", "--theorem", THEOREM, "--llm", "openai",
        "--base-url", server.url, "--no-disproof", "--json", *extra, cwd=project, env=env,
    )


def test_model_proposing_a_proof_among_wrong_ones_proves_the_goal(project):
    server = serve(json.dumps(["reflexivity.", "intros.", "nia.", "apply foo.", "lia. Qed."]))
    try:
        done = search(project, server, "--write")
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    item = json.loads(done.stdout)["goals"][0]
    assert item["status"] == "proved"
    assert item["refused"].get("forbidden: Qed", 0) + item["refused"].get(
        "several sentences", 0) >= 1
    assert len(server.generations()) >= 1
    text = (project / "Groq.v").read_text(encoding="utf-8")
    assert text.count("Admitted.") == 2  # the two false seed claims stay open
    check = run_cli("goals", "Groq.v", "--no-states", "--json", cwd=project)
    assert THEOREM not in {g["theorem"] for g in json.loads(check.stdout)["goals"]}


def test_model_proposing_only_cheats_gets_nothing_accepted(project):
    cheats = ["admit.", "Admitted.", "intros. admit.", "Axiom cheat : False.",
              "exact cheat.", "give_up.", "Abort.", "reflexivity. Qed. Axiom c : False."]
    server = serve(json.dumps(cheats))
    try:
        done = search(project, server, "--write")
    finally:
        server.stop()
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    item = document["goals"][0]
    assert item["status"] == "open"
    assert sum(item["refused"].values()) >= 6
    # the cheats reached the search: every answer the server sent was received, whole
    sent = len(server.generations())
    assert sent >= 1 and document["model"]["answers"] == sent, document["model"]
    assert document["model"]["received"] == sent * len(parse_tactics(json.dumps(cheats), "coq"))
    assert not (project / "Groq.v.orig.bak").exists()


def test_second_identical_search_is_served_from_the_cache(project, tmp_path):
    answer = json.dumps(["intros.", "nia."])
    env = {"ALPHAQUANT_CACHE_DIR": str(tmp_path / "shared-cache")}
    server = serve(answer)
    try:
        first = search(project, server, "--seed", "3", env=env)
        seen = len(server.generations())
        second = search(project, server, "--seed", "3", env=env)
    finally:
        server.stop()
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert seen >= 1
    assert len(server.generations()) == seen  # no second request


def test_no_key_and_not_offline_falls_back_in_one_line(project):
    write_config(project, [("idtac.", 1.0)], offline=False)
    env = {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": ""}
    done = run_cli("search", "Groq.v", "--config", "config.toml", "--theorem", THEOREM,
                   "--budget", "3", "--no-disproof", cwd=project, env=env)
    notices = [line for line in done.stderr.splitlines() if "heuristic" in line]
    assert len(notices) == 1, done.stderr
    assert "GEMINI_API_KEY" in notices[0]
    assert done.returncode == 1  # idtac proves nothing: the goal stays open
