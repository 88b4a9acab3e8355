#!/usr/bin/env python3
"""A stand-in for the Lean REPL that answers from its recorded transcripts.

Run it with ``sys.executable tests/replay_repl.py --transcript readme`` where a test would run
``lake env repl``. It speaks the REPL's framing (a request is JSON lines ended by a blank line; a
response is the recorded text, which ends with a blank line) and answers each request with the
response recorded for the semantically equal request (parsed JSON compared, ids as recorded),
byte for byte. Like the REPL it only knows the ids it has handed out in this process, so a client
that restarts it must restore its states before using them again. An unrecorded request gets
``{"message": "replay: no recorded response"}``.

Faults for tests, at the N-th request this process reads (1-based): ``--crash-at N`` writes half
the answer and exits, ``--hang-at N`` never answers (it waits on a child process, as ``lake env``
waits on the REPL), ``--garbage-at N`` answers with text that is not JSON. ``--fault-once PATH``
fires the fault only if PATH does not exist yet, and creates it. ``--exit-at-start CODE`` dies
before reading anything, as a REPL that cannot start does. ``--renumber`` numbers ids from 0 in
each process, as a fresh REPL does (answers are then re-serialised, not byte for byte).
``--log PATH`` appends every request it reads, with its pid, as a JSON line (what a test asserts
was, or was not, sent).

Transcripts live in ``$ALPHAQUANT_LEAN_FIXTURES`` (default ``<repo>/../shared/fixtures/lean-repl``,
else the copy in ``tests/fixtures/lean-repl``).
Only the standard library is used: this file is the REPL's double, not a client.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

NO_RECORD = '{"message": "replay: no recorded response"}\n\n'
GARBAGE = "replay: this answer is not JSON\n\n"


def fixtures_dir() -> Path:
    """The transcripts: $ALPHAQUANT_LEAN_FIXTURES, else the shared fixtures beside the checkout,
    else the byte-for-byte copy in tests/fixtures/lean-repl (Apache-2.0, LICENSE there)."""
    override = os.environ.get("ALPHAQUANT_LEAN_FIXTURES")
    if override:
        return Path(override).resolve()
    shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures" / "lean-repl"
    if shared.is_dir():
        return shared.resolve()
    return Path(__file__).resolve().parent / "fixtures" / "lean-repl"


def transcript_names(fixtures: Path | None = None) -> list[str]:
    """Every transcript, as ``name`` or ``mathlib/name``, sorted."""
    root = fixtures or fixtures_dir()
    return sorted(p.relative_to(root).as_posix()[: -len(".in")] for p in root.rglob("*.in"))


def read_requests(text: str) -> list[Any]:
    """The requests of a ``.in`` file. Like the REPL, the lines of a request are joined after
    trailing whitespace is cut, and a blank line (or the end) closes the request."""
    requests, lines = [], []
    for line in [*text.split("\n"), ""]:
        if line.strip():
            lines.append(line.rstrip())
        elif lines:
            requests.append(json.loads("".join(lines)))
            lines = []
    return requests


def read_responses(text: str) -> list[str]:
    """The responses of a ``.expected.out`` file, each exactly as printed, blank line included."""
    assert text.endswith("\n\n"), "every response ends with a blank line"
    return [block + "\n\n" for block in text[:-2].split("\n\n")]


def load_transcript(name: str, fixtures: Path | None = None) -> list[tuple[Any, str]]:
    """(request JSON, response text) pairs of the transcript ``name``, in order."""
    base = (fixtures or fixtures_dir()) / name
    requests = read_requests(Path(f"{base}.in").read_text(encoding="utf-8"))
    responses = read_responses(Path(f"{base}.expected.out").read_text(encoding="utf-8"))
    if len(requests) != len(responses):
        raise ValueError(f"{name}: {len(requests)} requests but {len(responses)} responses")
    return list(zip(requests, responses, strict=True))


def write_transcript(folder: Path, name: str, pairs: list[tuple[Any, Any]]) -> None:
    """A transcript written by hand (request JSON, response JSON) in the recorded framing, for
    answers no recording has; copy the REPL's real shapes, never invent fields."""
    requests = "\n\n".join(json.dumps(q, ensure_ascii=False) for q, _ in pairs)
    answers = "".join(json.dumps(a, ensure_ascii=False, indent=1) + "\n\n" for _, a in pairs)
    (folder / f"{name}.in").write_text(requests + "\n", encoding="utf-8")
    (folder / f"{name}.expected.out").write_text(answers, encoding="utf-8")


class Replay:
    """Answers requests from transcripts; knows only the ids it has handed out.

    By default the ids handed out are the recorded ones. With ``renumber`` they are numbered
    from 0 in this process, as a fresh REPL numbers them, and answers are re-serialised JSON.
    """

    def __init__(self, pairs: list[tuple[Any, str]], renumber: bool = False) -> None:
        self.pairs = pairs
        self.renumber = renumber
        self.live: dict[str, dict[int, int]] = {"env": {}, "proofState": {}}  # recorded → live
        self.recorded: dict[str, dict[int, int]] = {"env": {}, "proofState": {}}  # live → recorded

    def answer(self, request: Any) -> str:
        request, unknown = self._to_recorded(request)
        if unknown:
            return json.dumps({"message": unknown}, ensure_ascii=False) + "\n\n"
        for recorded, response in self.pairs:
            if recorded == request:
                answer = json.loads(response)
                self._issue(answer)
                if not self.renumber:
                    return response
                return json.dumps(self._to_live(answer), ensure_ascii=False, indent=1) + "\n\n"
        return NO_RECORD

    def _to_recorded(self, request: Any) -> tuple[Any, str | None]:
        if not isinstance(request, dict):
            return request, None
        request = dict(request)
        if "proofState" in request:
            if request["proofState"] not in self.recorded["proofState"]:
                pickle = "tactic" not in request
                return request, "Unknown proof State." if pickle else "Unknown proof state."
            request["proofState"] = self.recorded["proofState"][request["proofState"]]
        elif "env" in request:
            if request["env"] not in self.recorded["env"]:
                return request, "Unknown environment."
            request["env"] = self.recorded["env"][request["env"]]
        return request, None

    def _issue(self, response: Any) -> None:
        """Hand out live ids for the new recorded ids, in the order a REPL allocates them."""
        for kind, ids in _ids(response).items():
            for recorded in sorted(set(ids) - set(self.live[kind])):
                live = len(self.live[kind]) if self.renumber else recorded
                self.live[kind][recorded] = live
                self.recorded[kind][live] = recorded

    def _to_live(self, response: Any) -> Any:
        if "env" in response:
            response["env"] = self.live["env"][response["env"]]
        if "proofState" in response:
            response["proofState"] = self.live["proofState"][response["proofState"]]
        for item in response.get("sorries", []) + response.get("tactics", []):
            if item.get("proofState") is not None:
                item["proofState"] = self.live["proofState"][item["proofState"]]
        return response


def _ids(response: Any) -> dict[str, list[int]]:
    """The env and proof-state ids in an answer."""
    ids: dict[str, list[int]] = {"env": [], "proofState": []}
    if "env" in response:
        ids["env"].append(response["env"])
    if "proofState" in response:
        ids["proofState"].append(response["proofState"])
    for item in response.get("sorries", []) + response.get("tactics", []):
        if item.get("proofState") is not None:
            ids["proofState"].append(item["proofState"])
    return ids


def read_query(stdin: Any) -> str | None:
    """One request, as the REPL's ``getLines`` reads it; None at the end of input."""
    lines = []
    while True:
        line = stdin.readline()
        if line.strip():
            lines.append(line.rstrip())
            continue
        if lines or line:
            return "".join(lines)
        return None


def hang() -> None:
    """Never answer: wait on a sleeping child, as `lake env` waits on the REPL."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transcript", action="append", required=True, help="e.g. mathlib/exact")
    parser.add_argument("--fixtures", type=Path, default=None)
    parser.add_argument("--crash-at", type=int, default=0)
    parser.add_argument("--hang-at", type=int, default=0)
    parser.add_argument("--garbage-at", type=int, default=0)
    parser.add_argument("--fault-once", type=Path, default=None)
    parser.add_argument("--exit-at-start", type=int, default=None)
    parser.add_argument("--renumber", action="store_true", help="number ids as a fresh REPL")
    parser.add_argument("--log", type=Path, default=None, help="append each request (JSON line)")
    args = parser.parse_args(argv)
    if args.exit_at_start is not None:
        print("replay: error: the REPL could not start (asked to)", file=sys.stderr)
        return int(args.exit_at_start)
    pairs = [pair for name in args.transcript for pair in load_transcript(name, args.fixtures)]
    replay = Replay(pairs, renumber=args.renumber)
    stdin = sys.stdin
    stdout = sys.stdout.buffer
    count = 0
    while (query := read_query(stdin)) is not None:
        if query.startswith(("#", "--")):
            continue
        count += 1
        try:
            request = json.loads(query)  # a lone blank line fails here too, as in the REPL
        except json.JSONDecodeError as e:
            message = json.dumps({"message": f"Could not parse JSON:\n{e}"})
            print(f"uncaught exception: {message}", file=sys.stderr)
            return 1
        if args.log is not None:
            with args.log.open("a", encoding="utf-8") as log:
                log.write(json.dumps({"pid": os.getpid(), "request": request}) + "\n")
        answer = replay.answer(request).encode("utf-8")
        fault = _fault(args, count)
        if fault == "crash":
            stdout.write(answer[: len(answer) // 2])
            stdout.flush()
            os._exit(134)
        if fault == "hang":
            hang()
        if fault == "garbage":
            answer = GARBAGE.encode("utf-8")
        stdout.write(answer)
        stdout.flush()
    return 0


def _fault(args: argparse.Namespace, count: int) -> str | None:
    faults = {args.crash_at: "crash", args.hang_at: "hang", args.garbage_at: "garbage"}
    fault = faults.get(count) if count else None
    if fault is None or args.fault_once is None:
        return fault
    try:
        args.fault_once.open("x").close()
    except FileExistsError:
        return None
    return fault


if __name__ == "__main__":
    sys.exit(main())
