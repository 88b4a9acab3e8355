"""Language-model tactic sources against a real local HTTP server (no mocks of the SDKs).

``ModelServer`` speaks the Gemini REST API (POST /v1beta/models/{model}:generateContent,
GET /v1beta/models/{model}) and the OpenAI API (POST /v1/chat/completions with logprobs,
GET /v1/models) on 127.0.0.1, answers from a per-test queue of ``Reply`` values (then from
``default``, a Reply or a callable of the request), and records every request it sees.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from alphaquant.provers.base import ProofState, Subgoal
from alphaquant.tactics.base import Candidate, ProposalRequest
from alphaquant.tactics.mixed import MixedSource
from alphaquant.tactics.model.cache import Answer, AnswerCache
from alphaquant.tactics.model.config import LLMConfig, llm_config, openai_base_url, sdk_available
from alphaquant.tactics.model.gemini_source import GeminiSource
from alphaquant.tactics.model.openai_source import OpenAISource
from alphaquant.tactics.model.priors import logprob_priors
from alphaquant.tactics.model.prompt import build_prompt, file_context, parse_tactics
from alphaquant.tactics.model.status import status

_without_sdks = pytest.mark.skipif(
    not (sdk_available("gemini") and sdk_available("openai")),
    reason="needs the llm extra: pip install google-genai openai",
)


def needs_sdks(test: Callable[..., Any]) -> Any:
    """Marker ``llm``, skipped with a reason where the SDKs are not installed."""
    return pytest.mark.llm(_without_sdks(test))
LOGGER = "alphaquant.tactics.model.source"

# ---------------------------------------------------------------------------------------------
# The scripted model server


# One scripted answer: text (or an error status), optional per-tactic token logprobs, a delay.
@dataclass
class Reply:
    text: str = "[]"
    status: int = 200
    logprobs: dict[str, float] | None = None  # tactic → logprob of each of its tokens (OpenAI)
    delay: float = 0.0
    tokens: int = 30


# One request the server saw.
@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def prompt(self) -> str:
        """The user text of a generation request."""
        if not isinstance(self.body, dict):
            return ""
        if "messages" in self.body:
            return str(self.body["messages"][-1]["content"])
        if "contents" in self.body:
            return str(self.body["contents"][-1]["parts"][0]["text"])
        return ""


TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
GEMINI_GENERATE = re.compile(r"^/v1beta/models/([^/:?]+):generateContent$")
GEMINI_MODEL = re.compile(r"^/v1beta/models/([^/:?]+)$")


@dataclass
class ModelServer:
    """Gemini and OpenAI-compatible endpoints on 127.0.0.1:port, scripted per test."""

    model_ids: tuple[str, ...] = ("test-model",)
    queue: deque[Reply] = field(default_factory=deque)
    default: Reply | Callable[[Seen], Reply] = field(default_factory=Reply)
    refuse_logprobs: bool = False  # answer 400 to chat requests asking for logprobs
    requests: list[Seen] = field(default_factory=list)

    def start(self) -> ModelServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = None
                server._handle(self, "POST", body)

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self, "GET", None)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self._lock = threading.Lock()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def push(self, *replies: Reply | str) -> None:
        """Queue answers (a str is a 200 answer with that text)."""
        self.queue.extend(Reply(r) if isinstance(r, str) else r for r in replies)

    def generations(self) -> list[Seen]:
        """The generation requests seen (not model listings)."""
        return [s for s in self.requests if s.method == "POST"]

    # -- handling --

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            if self.queue:
                return self.queue.popleft()
        return self.default(seen) if callable(self.default) else self.default

    def _handle(self, h: BaseHTTPRequestHandler, method: str, body: Any) -> None:
        path = h.path.split("?", 1)[0]
        seen = Seen(method, path, {k.lower(): v for k, v in h.headers.items()}, body)
        with self._lock:
            self.requests.append(seen)
        if method == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "test"}
                    for m in self.model_ids]
            return self._send(h, 200, {"object": "list", "data": data})
        if method == "GET" and (m := GEMINI_MODEL.match(path)):
            return self._send(h, 200, {"name": f"models/{m.group(1)}", "displayName": "test"})
        if method == "POST" and GEMINI_GENERATE.match(path):
            reply = self._next(seen)
            time.sleep(reply.delay)
            if reply.status != 200:
                return self._send(h, reply.status, {"error": {
                    "code": reply.status, "message": f"scripted {reply.status}",
                    "status": "RESOURCE_EXHAUSTED" if reply.status == 429 else "INTERNAL"}})
            return self._send(h, 200, {
                "candidates": [{"content": {"role": "model", "parts": [{"text": reply.text}]},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": reply.tokens // 2,
                                  "candidatesTokenCount": reply.tokens - reply.tokens // 2,
                                  "totalTokenCount": reply.tokens},
                "modelVersion": "test",
            })
        if method == "POST" and path == "/v1/chat/completions":
            asked = isinstance(body, dict) and bool(body.get("logprobs"))
            if asked and self.refuse_logprobs:
                return self._send(h, 400, {"error": {"message": "logprobs not supported",
                                                      "type": "invalid_request_error"}})
            reply = self._next(seen)
            time.sleep(reply.delay)
            if reply.status != 200:
                return self._send(h, reply.status, {"error": {
                    "message": f"scripted {reply.status}", "type": "server_error",
                    "code": reply.status}})
            choice: dict[str, Any] = {
                "index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply.text},
                "logprobs": {"content": self._token_logprobs(reply)} if asked else None,
            }
            return self._send(h, 200, {
                "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                "model": (body or {}).get("model", ""), "choices": [choice],
                "usage": {"prompt_tokens": reply.tokens // 2,
                          "completion_tokens": reply.tokens - reply.tokens // 2,
                          "total_tokens": reply.tokens},
            })
        return self._send(h, 404, {"error": {"message": f"no route {method} {path}"}})

    @staticmethod
    def _token_logprobs(reply: Reply) -> list[dict[str, Any]]:
        spans = []
        for tactic, lp in (reply.logprobs or {}).items():
            at = reply.text.find(tactic)
            if at >= 0:
                spans.append((at, at + len(tactic), lp))
        out, pos = [], 0
        for token in TOKEN.findall(reply.text):
            lp = next((v for s, e, v in spans if s <= pos < e), -0.01)
            out.append({"token": token, "logprob": lp, "bytes": list(token.encode()),
                        "top_logprobs": []})
            pos += len(token)
        return out

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, code: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        h.send_response(code)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


@pytest.fixture
def server():
    s = ModelServer().start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch):
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


COQ_FILE = """From Coq Require Import Reals Lra.
Open Scope R_scope.
Definition step (b : R) : R := b / 8.
Definition unused_def := 3.
Lemma step_pos : forall b, 0 < b -> 0 < step b.
Proof. intros. unfold step. lra. Qed.
Theorem step_le : forall b, 0 < b -> step b <= b.
Proof. admit. Admitted.
"""
LEAN_FILE = """import Mathlib
open Real

noncomputable def step (b : ℝ) : ℝ :=
  b / 8

theorem step_le (b : ℝ) (h : 0 < b) : step b ≤ b := by
  sorry
"""
COQ_STATE = ProofState((Subgoal(("b : R", "H : 0 < b"), "step b <= b"),))
LEAN_STATE = ProofState((Subgoal(("b : ℝ", "h : 0 < b"), "step b ≤ b"),))


def request(language: str = "coq", failures: tuple[tuple[str, str], ...] = (),
            k: int = 8) -> ProposalRequest:
    coq = language == "coq"
    return ProposalRequest(
        state=COQ_STATE if coq else LEAN_STATE, k=k, language=language,
        file_text=COQ_FILE if coq else LEAN_FILE, theorem="step_le", failures=failures,
    )


def config(server: ModelServer, provider: str, tmp_path: Path, **changes: Any) -> LLMConfig:
    base = {"provider": provider, "base_url": server.url, "backoff_base": 0.001,
            "retries": 2, "timeout": 3.0, "cache_path": tmp_path / "cache.sqlite"}
    if provider == "openai":
        base["model"] = "test-model"
    return LLMConfig(**{**base, **changes})


def source(server, provider, tmp_path, **changes) -> GeminiSource | OpenAISource:
    cfg = config(server, provider, tmp_path, **changes)
    return GeminiSource(cfg) if provider == "gemini" else OpenAISource(cfg)


def warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name.startswith(LOGGER) and r.levelno >= logging.WARNING]


# ---------------------------------------------------------------------------------------------
# Parsing and prompts (no SDK needed)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ('["intros x.", "lra.", "lra.", "  unfold   step. "]',
         ["intros x.", "lra.", "unfold step."]),
        ('Here you go:\n```json\n["intros.", "- nra."]\n```\nGood luck!', ["intros.", "nra."]),
        ('{"tactics": ["field.", "lra."]}', ["field.", "lra."]),
        ('[{"tactic": "lra."}, 3, null, "nra."]', ["lra.", "nra."]),
        ("```coq\n(* a try *)\nProof.\n- intros b H.\n* unfold step.\n+ lra.\nQed.\n```",
         ["intros b H.", "unfold step.", "lra."]),
        ("1. intros b H.\n2) unfold step.\n- lra.\n* `nra.`\nThese should work:",
         ["intros b H.", "unfold step.", "lra.", "nra."]),
    ],
)
def test_parse_good_answers(answer, expected):
    assert parse_tactics(answer, "coq") == expected


def test_parse_lean_lines_drop_comments_and_focus_dots():
    answer = "```lean\n-- first unfold\n· unfold step\n- norm_num [step]\nlinarith\n```"
    assert parse_tactics(answer, "lean") == ["unfold step", "norm_num [step]", "linarith"]


@pytest.mark.parametrize(
    "answer",
    [
        "", None, "I am sorry, I cannot help with that.",
        "<html><body>502 Bad Gateway</body></html>",
        "\x00\x01\x02 ]]]{{{ \ufffd", "[1, 2, 3]", '{"answer": 42}', "```\n```", "Proof.\nQed.",
        "Here are some ideas:\nTry induction on n.",
    ],
)
def test_parse_garbage_gives_nothing(answer):
    assert parse_tactics(answer, "coq") == []
    assert parse_tactics(answer, "lean") == []


def test_prompt_carries_goal_context_failures_and_format():
    failures = (("lra.", "Error: lra failed to prove the goal."), ("nia.", "Error:\n  nope"))
    prompt = build_prompt(request("coq", failures), 5)
    text = prompt.system + prompt.user
    assert "step b <= b" in text and "H : 0 < b" in text
    assert "From Coq Require Import Reals Lra." in text and "Open Scope R_scope." in text
    assert "Definition step (b : R) : R := b / 8." in text
    assert "unused_def" not in text  # not mentioned by the goal
    assert "Lemma step_pos" in text  # an earlier lemma the model may apply
    assert "- lra.\n  error: Error: lra failed to prove the goal." in text
    assert "Error: nope" in text
    assert "Coq" in text and "JSON list of 5" in text

    lean = build_prompt(request("lean"), 3)
    text = lean.system + lean.user
    assert "import Mathlib" in text and "noncomputable def step (b : ℝ) : ℝ :=" in text
    assert "step b ≤ b" in text and "Lean 4" in text and "JSON list of 3" in text


def test_file_context_follows_definitions_and_skips_comments():
    text = (
        "Require Import Reals.\n(* Definition ghost := 1. *)\n"
        "Definition inner (x : R) := x + 1.\nDefinition outer (x : R) := inner x * 2.\n"
    )
    context = file_context(text, "coq", "outer y <= 3")
    assert "Definition outer" in context and "Definition inner" in context
    assert "ghost" not in context


def test_logprob_priors_find_spans():
    text = '["a.", "b."]'
    tokens = [('["', 0.0), ("a", -2.0), (".", -2.0), ('", "', 0.0), ("b", -0.5), (".", -0.5),
              ('"]', 0.0)]
    priors = logprob_priors(text, tokens, ["a.", "b."])
    assert priors == pytest.approx([2.718281828 ** -2, 2.718281828 ** -0.5])
    assert logprob_priors(text, tokens[:-1], ["a."]) is None  # tokens must spell the text


def test_openai_base_url_adds_v1_to_a_bare_server():
    assert openai_base_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert openai_base_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000/v1"
    assert openai_base_url("http://h:1/v1/") == "http://h:1/v1"
    assert openai_base_url("http://h/api/v1") == "http://h/api/v1"
    assert openai_base_url(None) is None


def test_importing_llm_does_not_import_the_sdks():
    code = (
        "import sys, alphaquant.tactics.model.source, alphaquant.tactics.model.gemini_source, "
        "alphaquant.tactics.model.openai_source, alphaquant.tactics.factory\n"
        "print(sorted(m for m in sys.modules if m.startswith(('openai', 'google.genai'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == "[]"


def test_config_from_table_and_choice():
    from alphaquant.errors import InputError
    from alphaquant.tactics.model.config import ModelChoice

    table = {"provider": "gemini", "model": "gemini-2.5-flash", "k": 4}
    cfg = llm_config(table, ModelChoice(provider="openai", base_url="http://x:1", use_cache=False))
    assert (cfg.provider, cfg.model, cfg.base_url, cfg.k, cfg.use_cache) == (
        "openai", None, "http://x:1", 4, False)
    assert llm_config(table).model_name == "gemini-2.5-flash"
    with pytest.raises(InputError, match="unknown key"):
        LLMConfig.from_table({"modle": "x"})
    with pytest.raises(InputError, match="provider"):
        LLMConfig(provider="claude")


# ---------------------------------------------------------------------------------------------
# Mixing


@dataclass
class FixedSource:
    candidates: list[Candidate]
    calls: int = 0

    def propose(self, request: ProposalRequest) -> list[Candidate]:
        self.calls += 1
        return list(self.candidates)


def test_mixed_source_weights_normalised_priors():
    model = FixedSource([Candidate("lra.", 3.0, "openai"), Candidate("nra.", 1.0, "openai")])
    heur = FixedSource([Candidate("lra.", 1.0), Candidate("auto.", 1.0)])
    mixed = MixedSource([(model, 0.6), (heur, 0.4)]).propose(request())
    got = {c.tactic: c.prior for c in mixed}
    assert got == pytest.approx({"lra.": 0.6 * 0.75 + 0.4 * 0.5, "nra.": 0.6 * 0.25,
                                 "auto.": 0.4 * 0.5})
    assert sum(got.values()) == pytest.approx(1.0)
    assert [c.tactic for c in mixed] == ["lra.", "auto.", "nra."]  # 0.65, 0.2, 0.15
    assert mixed[0].source == "openai"


def test_mixed_source_model_down_or_weight_zero_leaves_heuristics():
    down = FixedSource([])
    heur = FixedSource([Candidate("lra.", 2.0), Candidate("auto.", 2.0)])
    mixed = MixedSource([(down, 0.9), (heur, 0.1)]).propose(request())
    assert {c.tactic: c.prior for c in mixed} == pytest.approx({"lra.": 0.5, "auto.": 0.5})
    never = FixedSource([Candidate("x.", 1.0)])
    MixedSource([(never, 0.0), (heur, 1.0)]).propose(request())
    assert never.calls == 0


def test_cache_round_trip(tmp_path):
    cache = AnswerCache(tmp_path / "sub" / "c.sqlite")
    answer = Answer('["lra."]', (('["', -0.1), ("lra.", -0.2), ('"]', 0.0)), 12)
    cache.put("k", "openai", "m", answer)
    assert AnswerCache(tmp_path / "sub" / "c.sqlite").get("k") == answer
    assert cache.get("other") is None
    broken = AnswerCache(tmp_path / "c.sqlite" / "x" / "y")  # parent is not a directory
    (tmp_path / "c.sqlite").write_text("not a directory")
    assert broken.get("k") is None  # logged, never raised


# ---------------------------------------------------------------------------------------------
# The real SDKs against the scripted server


@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
@pytest.mark.parametrize(
    "answer",
    ['["intros b H.", "unfold step.", "lra."]',
     "Sure:\n```coq\nintros b H.\nunfold step.\nlra.\n```",
     "1. intros b H.\n2. unfold step.\n3. lra."],
)
def test_good_answers(server, tmp_path, provider, answer, caplog):
    server.push(answer)
    got = source(server, provider, tmp_path).propose(request())
    assert [c.tactic for c in got] == ["intros b H.", "unfold step.", "lra."]
    assert {c.source for c in got} == {provider}
    assert all(c.prior > 0 for c in got)
    (seen,) = server.generations()
    assert "step b <= b" in seen.prompt and "Definition step" in seen.prompt
    assert not warnings(caplog)



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_request_shape(server, tmp_path, provider, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY" if provider == "gemini" else "OPENAI_API_KEY", "sk-test")
    server.push('["lra."]')
    source(server, provider, tmp_path, temperature=0.3, k=5).propose(request(k=24))
    (seen,) = server.generations()
    if provider == "gemini":
        assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert seen.headers["x-goog-api-key"] == "sk-test"
        assert seen.body["generationConfig"]["temperature"] == 0.3
        assert seen.body["generationConfig"]["responseMimeType"] == "application/json"
        assert "JSON list of 5" in seen.body["systemInstruction"]["parts"][0]["text"]
    else:
        assert seen.path == "/v1/chat/completions"
        assert seen.headers["authorization"] == "Bearer sk-test"
        assert seen.body["model"] == "test-model" and seen.body["logprobs"] is True
        assert seen.body["temperature"] == 0.3
        assert "JSON list of 5" in seen.body["messages"][0]["content"]



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_malformed_answer_gives_no_candidates_and_no_alarm(server, tmp_path, provider, caplog):
    server.push("I'm afraid I can't do that.", "\x00\x01 }{ ][", '{"answer": 42}')
    s = source(server, provider, tmp_path)
    for i in range(3):
        assert s.propose(request(failures=(("t", str(i)),))) == []
    assert not s.circuit_open and not warnings(caplog)
    server.push('["lra."]')  # an unusable answer was not cached: the question is asked again
    assert [c.tactic for c in s.propose(request(failures=(("t", "0"),)))] == ["lra."]
    assert len(server.generations()) == 4



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_429_then_success(server, tmp_path, provider, caplog):
    server.push(Reply(status=429), Reply(status=503), '["lra."]')
    s = source(server, provider, tmp_path)
    assert [c.tactic for c in s.propose(request())] == ["lra."]
    assert len(server.generations()) == 3 and s.calls == 1 and s.requests == 3
    assert not warnings(caplog) and not s.circuit_open



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_500_forever_opens_the_circuit_with_one_warning(server, tmp_path, provider, caplog):
    server.default = Reply(status=500)
    s = source(server, provider, tmp_path, retries=2)
    assert s.propose(request()) == []
    # Exactly retries + 1 requests: the SDK's own retries are off, so they don't multiply.
    assert len(server.generations()) == 3
    assert s.propose(request(failures=(("lra.", "no"),))) == []
    assert s.propose(request(k=3)) == []
    assert len(server.generations()) == 3  # circuit open: no more requests
    (warning,) = warnings(caplog)
    assert "HTTP 500" in warning.getMessage() and "heuristic tactics only" in warning.getMessage()
    assert s.circuit_open



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_unauthorised_opens_the_circuit_at_once(server, tmp_path, provider, caplog):
    server.default = Reply(status=401)
    s = source(server, provider, tmp_path, retries=3)
    assert s.propose(request()) == [] and s.propose(request(k=2)) == []
    assert len(server.generations()) == 1
    assert len(warnings(caplog)) == 1



@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_timeouts_are_retried_then_open_the_circuit(server, tmp_path, provider, caplog):
    server.default = Reply('["lra."]', delay=15.0)
    s = source(server, provider, tmp_path, retries=1, timeout=0.25)
    started = time.monotonic()
    assert s.propose(request()) == []
    # Two attempts that waited for the answer would take 30 s: each was cut at its timeout.
    assert time.monotonic() - started < 15.0
    assert s.requests == 2 and s.circuit_open and len(warnings(caplog)) == 1



@needs_sdks
def test_unreachable_endpoint_opens_the_circuit(tmp_path, caplog):
    s = ModelServer().start()
    url = s.url
    s.stop()  # nothing listens on the port now
    src = OpenAISource(LLMConfig(provider="openai", model="m", base_url=url, retries=1,
                                 backoff_base=0.001, timeout=1, cache_path=tmp_path / "c"))
    assert src.propose(request()) == [] and src.propose(request(k=2)) == []
    assert src.requests == 2 and len(warnings(caplog)) == 1


ADVERSARIAL_COQ = ["admit.", "admit. Qed.", "Admitted.", "Axiom cheat : False.",
                   "lia. Qed.", "intros. Axiom cheat : False."]
ADVERSARIAL_LEAN = ["sorry", "run_cmd", 'run_cmd IO.println "x"',
                    '#eval IO.Process.run { cmd := "rm", args := #["-rf", "/"] }',
                    "norm_num\n#eval IO.Process.run { cmd := \"sh\" }",
                    "simp\naxiom cheat : False", "exact sorry"]


@needs_sdks
@pytest.mark.parametrize(
    ("provider", "language", "adversarial"),
    [("gemini", "coq", ADVERSARIAL_COQ), ("openai", "lean", ADVERSARIAL_LEAN),
     ("openai", "coq", ADVERSARIAL_COQ), ("gemini", "lean", ADVERSARIAL_LEAN)],
)
def test_adversarial_candidates_are_returned_for_the_sanitizer(
    server, tmp_path, provider, language, adversarial
):
    server.push(json.dumps(adversarial))
    got = source(server, provider, tmp_path).propose(request(language))
    expected = [" ".join(t.split()) for t in adversarial]
    assert [c.tactic for c in got] == expected  # the source passes them on: not its job



@pytest.mark.parametrize(
    ("language", "adversarial"), [("coq", ADVERSARIAL_COQ), ("lean", ADVERSARIAL_LEAN)]
)
def test_sanitizer_refuses_every_adversarial_candidate(language, adversarial):
    # FOR THE LEAD: skipped until alphaquant/sanitize.py exists (written separately).
    sanitize = pytest.importorskip(
        "alphaquant.sanitize", reason="alphaquant.sanitize not written yet"
    )
    for text in adversarial:
        for form in (text, " ".join(text.split())):  # raw, and as the sources normalise it
            assert sanitize.check_tactic(form, language) is not None, form


@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_cache_hit_makes_no_request(server, tmp_path, provider):
    server.push('["lra.", "nra."]', '["field."]', '["auto."]')
    first = source(server, provider, tmp_path).propose(request())
    again = source(server, provider, tmp_path)  # a new run, the same cache file
    assert again.propose(request()) == first
    assert len(server.generations()) == 1 and again.cache_hits == 1 and again.calls == 0
    # Anything that changes the prompt or the sampling is a new question.
    assert [c.tactic for c in again.propose(request(failures=(("lra.", "x"),)))] == ["field."]
    # use_cache=False (--no-cache) bypasses the cache.
    fresh = source(server, provider, tmp_path, use_cache=False)
    assert [c.tactic for c in fresh.propose(request())] == ["auto."]
    assert len(server.generations()) == 3



@needs_sdks
def test_cache_serves_answers_even_with_the_circuit_open(server, tmp_path, caplog):
    server.push('["lra."]')
    server.default = Reply(status=500)
    s = source(server, "openai", tmp_path, retries=0)
    assert [c.tactic for c in s.propose(request())] == ["lra."]
    assert s.propose(request(k=3)) == [] and s.circuit_open
    assert [c.tactic for c in s.propose(request())] == ["lra."]
    assert len(server.generations()) == 2


@needs_sdks
def test_logprob_priors_order_candidates(server, tmp_path):
    text = '["lra.", "nra.", "field."]'
    server.push(Reply(text, logprobs={"lra.": -2.0, "nra.": -0.1, "field.": -1.0}))
    got = source(server, "openai", tmp_path).propose(request())
    priors = {c.tactic: c.prior for c in got}
    assert priors["nra."] > priors["field."] > priors["lra."]
    assert priors["nra."] == pytest.approx(2.718281828 ** -0.1, rel=1e-6)
    ranked = MixedSource([(source(server, "openai", tmp_path), 1.0)]).propose(request())
    assert [c.tactic for c in ranked] == ["nra.", "field.", "lra."]  # from the cache


@needs_sdks
def test_rank_priors_without_logprobs(server, tmp_path):
    server.refuse_logprobs = True  # the server rejects logprobs: asked again without
    server.push('["lra.", "nra.", "field."]', '["auto."]')
    s = source(server, "openai", tmp_path)
    got = s.propose(request())
    assert [(c.tactic, c.prior) for c in got] == [("lra.", 1.0), ("nra.", 0.5),
                                                  ("field.", pytest.approx(1 / 3))]
    assert [s.body.get("logprobs") for s in server.generations()] == [True, None]
    s.propose(request(k=2))
    assert server.generations()[-1].body.get("logprobs") is False  # remembered


@needs_sdks
def test_openai_model_from_the_server_list(server, tmp_path):
    server.push('["lra."]')
    cfg = LLMConfig(provider="openai", base_url=server.url, cache_path=tmp_path / "c")
    assert [c.tactic for c in OpenAISource(cfg).propose(request())] == ["lra."]
    assert [s.path for s in server.requests] == ["/v1/models", "/v1/chat/completions"]
    assert server.generations()[0].body["model"] == "test-model"


@needs_sdks
@pytest.mark.parametrize("provider", ["gemini", "openai"])
def test_budget_of_calls_and_tokens(server, tmp_path, provider, caplog):
    server.default = Reply('["lra."]', tokens=40)
    calls = source(server, provider, tmp_path, max_calls=2)
    for k in (1, 2, 3, 4):
        calls.propose(request(k=k))
    assert len(server.generations()) == 2 and len(warnings(caplog)) == 1
    assert calls.propose(request(k=1)) != []  # a cached answer is still served

    tokens = source(server, provider, tmp_path, max_tokens=50, use_cache=False)
    for k in (1, 2, 3):
        tokens.propose(request(k=k))
    assert len(server.generations()) == 4 and tokens.tokens == 80



@needs_sdks
def test_gemini_without_a_key_warns_once_and_sends_nothing(tmp_path, caplog):
    s = GeminiSource(LLMConfig(cache_path=tmp_path / "c"))
    assert s.propose(request()) == [] and s.propose(request(k=2)) == []
    (warning,) = warnings(caplog)
    assert "GEMINI_API_KEY" in warning.getMessage()


@needs_sdks
def test_status(server, tmp_path, monkeypatch):
    good = status(LLMConfig(provider="openai", base_url=server.url))
    assert (good.reachable, good.ok, good.model, good.key_set) == (True, True, "test-model", False)
    assert [s.path for s in server.requests] == ["/v1/models"]

    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    gem = status(LLMConfig(base_url=server.url))
    assert gem.ok and gem.key_set and gem.key_variable == "GOOGLE_API_KEY"
    assert server.requests[-1].path == "/v1beta/models/gemini-2.5-flash"
    assert not server.generations()  # no tokens spent

    monkeypatch.delenv("GOOGLE_API_KEY")
    nokey = status(LLMConfig())
    assert not nokey.key_set and nokey.reachable is None and "GEMINI_API_KEY" in nokey.detail

    dead = ModelServer().start()
    url = dead.url
    dead.stop()
    started = time.monotonic()
    down = status(LLMConfig(provider="openai", base_url=url), timeout=1.0)
    assert down.reachable is False and down.ok is False and time.monotonic() - started < 3
    assert "openai" in down.summary()


@needs_sdks
def test_build_llm_source_mixes_model_and_heuristics(server, tmp_path):
    from alphaquant.config import Settings
    from alphaquant.tactics.factory import build_llm_source
    from alphaquant.tactics.model.config import ModelChoice

    server.push('["lra.", "field."]')
    settings = Settings(llm={"provider": "gemini", "model": "gemini-2.5-flash",
                             "cache_path": str(tmp_path / "c"), "weight_llm": 0.5,
                             "weight_heuristic": 0.5})
    heur = FixedSource([Candidate("lra.", 1.0), Candidate("auto.", 1.0)])
    mixed, notice = build_llm_source(settings, "coq", ModelChoice("openai", server.url), heur)
    assert notice is None and isinstance(mixed, MixedSource)
    got = {c.tactic: c.prior for c in mixed.propose(request())}
    # the server gives every token the same logprob: the two model tactics weigh the same
    assert got == pytest.approx({"lra.": 0.25 + 0.25, "field.": 0.25, "auto.": 0.25})
    assert server.generations()[0].body["model"] == "test-model"
