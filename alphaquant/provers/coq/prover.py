"""Coq as a prover: ``CoqProver`` speaks ``Prover`` over the line of one coqtop (line.py).

A proof state is its root (the file's sentences before the hole, then ``Show.``) and its tactic
path; the line reaches it again whenever asked, across restarts, so the search never sees state
numbers, only a slower step. A tactic runs as ``Timeout <s> tac.``; when no prompt comes within
``s + grace`` seconds the process group is killed and coqtop restarted. Whole files are checked
with ``coqc`` on a copy in a temporary directory; what a proved declaration rests on, by
trust.py.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from alphaquant.errors import (
    AlphaquantError,
    FileDoesNotCompile,
    InputError,
    ProverNotInstalled,
)
from alphaquant.goals import locate
from alphaquant.provers.base import (
    Acceptance,
    FileCheck,
    Outcome,
    Premise,
    Progress,
    ProofState,
    Solved,
    Subgoal,
    TacticError,
    TacticTimeout,
)
from alphaquant.provers.coq.coqc import COQ_MISSING, Coqc
from alphaquant.provers.coq.coqtop import CoqTop, CoqtopDied, CoqtopHung, Desync, Reply
from alphaquant.provers.coq.hammer import (
    coqtop_environment,
    import_free_tries,
    reconstruction_tries,
    restated,
)
from alphaquant.provers.coq.line import CoqLine, FeedError, ReplayError, Root, does_not_compile
from alphaquant.provers.coq.premises import Retriever, environment, own_lemmas
from alphaquant.provers.coq.project import CoqProject, find_project
from alphaquant.provers.coq.protocol import (
    EVAR,
    FOCUS,
    error_message,
    read_reply,
    without_messages,
)
from alphaquant.provers.coq.recall import Recall
from alphaquant.provers.coq.recall import key as recall_key
from alphaquant.provers.coq.requires import HAMMER, provides, session_loads
from alphaquant.provers.coq.sentences import (
    in_section_with_variables,
    one_tactic_sentence,
    split_sentences,
    tactic_body,
)
from alphaquant.provers.coq.toolchain import toolchain
from alphaquant.provers.coq.trust import CoqTrust
from alphaquant.provers.negation import coq_negation
from alphaquant.sanitize import check_tactic
from alphaquant.sites.site import GoalSite

log = logging.getLogger(__name__)

# The libraries a session's loads add beyond a file's header: (flags, header, loads) -> names.
class _Listing:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.names: tuple[str, ...] = ()


_BEYOND: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], _Listing] = {}
_BEYOND_LOCK = threading.Lock()
BEYOND_SECONDS = 30.0  # retrieval waits this long at most for the listing

# Coq's answer to `apply L` when L's conclusion leaves one of its variables unfixed.
UNINFERRED = "Unable to find an instance for the variable"
TRANSLATION_SECONDS = 4.0  # each import-free step built from hammer's premises (2 s lost them
# to the reconstruction on a loaded machine: a found proof is worth a few seconds more)


class CoqProver:
    """A Coq session for the search: one coqtop process, restarted and replayed when it breaks.

    Args:
      path: the file the session is for (optional; each ``open`` names its own file).
      grace: seconds past a tactic's own ``Timeout`` before coqtop is killed as hung.
      start_timeout: seconds for coqtop to print its first prompt.
      prefix_timeout: seconds for the file's text before a hole (Require, earlier proofs).
      command_timeout: seconds for ``BackTo`` and other bookkeeping commands.
      replay_timeout: the ``Timeout`` of a tactic replayed after a jump or a restart.
      check_timeout: seconds for each coqc / coqdep run.
      max_restarts: restarts in a row (with exponential backoff) before ProverCrashed.
      backoff: first backoff delay in seconds (the first restart is immediate).
      allowed_axioms: fully qualified axiom names a proof may rest on besides the standard
        library's and the file's own declared axioms.
      session_loads: load Interval and Gappa where the goal fits in the session after the
        file's imports (requires.py); the written file gains an import only where a proof
        needs one.
      hammer_session: load CoqHammer too (the session beside the search: ``companion``).
    """

    name = "coq"

    def __init__(
        self,
        path: Path | None = None,
        *,
        grace: float = 3.0,
        start_timeout: float = 60.0,
        prefix_timeout: float = 600.0,
        command_timeout: float = 60.0,
        replay_timeout: float = 60.0,
        check_timeout: float = 900.0,
        max_restarts: int = 3,
        backoff: float = 0.5,
        allowed_axioms: frozenset[str] = frozenset(),
        session_loads: bool = True,
        hammer_session: bool = False,
    ) -> None:
        tools = toolchain()
        if tools is None:
            raise ProverNotInstalled(COQ_MISSING)
        coqtop = tools.coqtop
        self.path = path
        self.grace = grace
        self.check_timeout = check_timeout
        self._coqtop = coqtop
        self._coqc = Coqc.on_path(check_timeout)
        self.allowed_axioms = allowed_axioms
        self.session_loads = session_loads
        self.hammer_session = hammer_session
        self._failed_loads: set[Path] = set()
        self._trust = CoqTrust(self._coqc)
        self._lock = threading.RLock()
        self._coq = CoqLine(coqtop, grace=grace, start_timeout=start_timeout,
                            prefix_timeout=prefix_timeout, command_timeout=command_timeout,
                            replay_timeout=replay_timeout, max_restarts=max_restarts,
                            backoff=backoff)
        self._root: Root | None = None
        self._owner: dict[int, Root] = {}
        self._next_handle = 1
        self._retriever = Retriever(self._query)
        self.recall = Recall()  # errors of steps that read the conclusion alone (recall.py)

    # -- counters and lifetime

    @property
    def pid(self) -> int | None:
        """The pid of the current coqtop process (None when none runs)."""
        proc = self._coq.proc
        return proc.pid if proc is not None and proc.alive() else None

    @property
    def restarts(self) -> int:
        """coqtop restarts after a crash or a hang."""
        return self._coq.restarts

    @property
    def replayed(self) -> int:
        """Tactics replayed to reach a state again."""
        return self._coq.replayed

    @property
    def wait_seconds(self) -> float:
        """Seconds spent waiting for coqtop's replies, over all its processes."""
        return self._coq.wait_seconds

    def stats(self) -> dict[str, float]:
        """Counters for benchmarks."""
        return {
            "restarts": self._coq.restarts,
            "replayed": self._coq.replayed,
            "processes": self._coq.generation,
            "wait_seconds": round(self.wait_seconds, 3),
        }

    def close(self) -> None:
        """Kill coqtop (and anything it started)."""
        with self._lock:
            self._coq.kill()

    def companion(self) -> CoqProver:
        """A second session like this one (its own coqtop), for automation run beside the
        search; ``abort`` ends it from another thread."""
        return CoqProver(self.path, grace=self.grace, check_timeout=self.check_timeout,
                         allowed_axioms=self.allowed_axioms, session_loads=self.session_loads,
                         hammer_session=True)

    def abort(self) -> None:
        """End this session now, from any thread: coqtop is killed, not restarted; a step
        under way ends with ProverCrashed."""
        self._coq.aborted = True
        proc = self._coq.proc
        if proc is not None:
            proc.kill()

    def __enter__(self) -> CoqProver:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Prover protocol

    def open(self, site: GoalSite, text: str) -> ProofState:
        """Feed the file up to the hole at ``site``; the root state of the search.

        Raises:
          FileDoesNotCompile: the text before the hole fails; the message has Coq's first
            error and its line.
          InputError: there is no open proof at the hole.
        """
        self._require_installed()
        project = find_project(site.file)
        prefix = text[: site.start]
        split = split_sentences(prefix)
        if split.unterminated:
            raise InputError(f"{site.file.name}: the text before line {site.line} leaves a "
                             "comment or string open")
        added: list[str] = []
        if site.kind == "admit":
            added.append(f"{split.rest} {{" if split.rest else "{")
        elif split.rest:
            raise InputError(f"{site.file.name}, line {site.line}: the hole does not start a "
                             f"sentence (it follows {split.rest[-40:]!r})")
        root = Root.of(project, site.file, text, split, added, site.kind == "admit",
                       f"the goal at line {site.line}",
                       self._loads(site.file, text, site.statement))
        try:
            return self._open_root(root, text)
        except FeedError as e:
            raise InputError(
                f"{site.file.name}, line {site.line}: no open proof at the hole "
                f"({' '.join(e.message.split())})"
            ) from None

    def open_negation(self, site: GoalSite, text: str) -> ProofState | None:
        """Start ``Lemma aq_negation_of_<name> : ~ (forall binders, statement)`` before the
        declaration; None inside a section with variables or if the negation does not state."""
        self._require_installed()
        negation = coq_negation(site.statement)
        if negation is None:
            return None
        split = split_sentences(text[: site.decl_start])
        if split.unterminated or in_section_with_variables(split.sentences):
            return None
        name = f"aq_negation_of_{site.theorem or 'goal'}"
        project = find_project(site.file)
        root = Root.of(project, site.file, text, split, [f"Lemma {name} : {negation}."], False,
                       f"the negation of {name}", self._loads(site.file, text, site.statement))
        try:
            return self._open_root(root, text)
        except FeedError as e:
            log.info("the negation of %s does not state: %s", site.theorem, e.message)
            return None

    def apply(self, state: ProofState, tactic: str, timeout: float) -> Outcome:
        """Run ``tactic`` on ``state`` (any state this session returned) within ``timeout``."""
        refusal = self.refusal(tactic)
        if refusal is not None:
            return TacticError(f"tactic refused: {refusal}")
        seconds = max(1, math.ceil(timeout))
        command = f"Timeout {seconds} {tactic_body(tactic)}."
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                raise InputError("apply() before open(): no proof is open in this Coq session")
            known = recall_key(root.sentences, state, tactic)
            recalled = self.recall.error(known)
            if recalled is not None:
                return TacticError(recalled)
            reply = self._coq.run_tactic(root, state.path, command, timeout)
            if not isinstance(reply, Reply):
                return reply
            self._coq.current = reply.state
            printed = restated(reply.output)
            if printed is not None and error_message(reply.output) is None:
                return self._restated(state, printed, timeout)
            outcome = self._outcome(root, state, tactic, reply, timeout)
            rejected = isinstance(outcome, TacticError) and error_message(reply.output) is not None
        if (isinstance(outcome, TacticError) and UNINFERRED in outcome.message
                and re.match(r"apply\s(?!.*\sin\s)", tactic.strip())):
            # Coq says what to write instead: the lemma's variable that its conclusion does not
            # fix becomes an existential variable (a later step fixes it). The step is restated.
            again = self.apply(state, "e" + tactic.strip(), timeout)
            if isinstance(again, (Solved, Progress)):
                return again
            rejected = rejected and isinstance(again, TacticError)
        if rejected:
            assert isinstance(outcome, TacticError)
            self.recall.remember(known, outcome.message)
        return outcome

    def check_file(self, path: Path, text: str) -> FileCheck:
        """Compile ``text`` as ``path`` with coqc (stale project dependencies built first)."""
        self._require_installed()
        return self._coqc.check(path, text)

    def check_file_opening(self, path: Path, text: str, site: GoalSite) -> FileCheck:
        """``check_file`` (coqc) while this session's coqtop opens ``site``: two processes, the
        prefix loaded once for the check and once for the search, side by side."""
        self._require_installed()
        with ThreadPoolExecutor(max_workers=1) as pool:
            check = pool.submit(self._coqc.check, path, text)
            try:
                self.open(site, text)
            except AlphaquantError as e:  # the search's own open says it again, after the check
                log.info("opening %s beside the check: %s", site.theorem, e)
            return check.result()

    def untrusted(self, path: Path, original: str, text: str, decl_start: int) -> tuple[str, ...]:
        """The assumptions of the declaration at ``decl_start`` the acceptance rule refuses,
        by fully qualified kernel name (see trust.py)."""
        verdict = self.judge(path, text, decl_start)
        if verdict.check is not None:
            raise FileDoesNotCompile(verdict.check.message)
        if not verdict.ok and not verdict.refused:
            raise FileDoesNotCompile(verdict.reason)
        return verdict.refused

    def judge(self, path: Path, text: str, decl_start: int, *,
              negation: tuple[str, ...] | None = None,
              avoid: frozenset[str] = frozenset(),
              imports: tuple[str, ...] = ()) -> Acceptance:
        """The acceptance rule in one compile (see trust.py): the whole file, the declaration's
        dependencies and assumptions; with ``negation``, the disproof of the declaration (and
        ``imports``, the lines its tactics need, after the claim)."""
        self._require_installed()
        admits = [(s.start, s.end) for s in locate(text, path) if s.kind == "admit"]
        return self._trust.judge(path, text, decl_start, admits=admits, negation=negation,
                                 allowed=self.allowed_axioms, avoid=avoid, imports=imports)

    # -- helpers for open / apply

    def focus(self, state: ProofState, index: int) -> ProofState | None:
        """Goal ``index`` of ``state`` alone, under ``index+1: {`` in the session (a product
        node's subproblem); None when the state has existential variables (goals may share
        them) or Coq refuses. coqtop prints only the first goal's hypotheses, so a later goal
        is read from the focused session."""
        if len(state.goals) < 2 or any(EVAR.search(g.render()) for g in state.goals):
            return None
        marker = f"{index + 1}: {{"
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return None
            if index == 0:
                return self._state(root, state.goals[:1], (*state.path, marker))
            try:
                self._coq.reach(root, state.path)
                self._coq.replay(marker)
            except (ReplayError, FeedError, CoqtopDied, CoqtopHung, Desync) as e:
                log.info("could not focus goal %d: %s", index + 1, e)
                self._coq.kill()
                return None
            reading = self._coq.show()
            goals = reading.goals if reading.kind == "goals" else None
        if goals is None or len(goals) != 1:
            return None
        return self._state(root, goals, (*state.path, marker))

    def premises(self, state: ProofState, limit: int) -> tuple[Premise, ...]:
        """Lemmas of the loaded libraries that may serve ``state`` (premises.py)."""
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return ()
            sentences = environment(root.sentences[: root.from_file])
            own = own_lemmas(sentences)
            outside = self._beyond_file(root)
        return self._retriever.premises(state, limit, sentences, own, outside)

    def _beyond_file(self, root: Root, wait: bool = True) -> tuple[str, ...]:
        """The libraries the session's loads bring that the file's imports do not, asked once
        per project, header and loads (a short coqtop of its own: ``Print Libraries.`` after
        the header, then after the loads)."""
        if not root.loads:
            return ()
        header = root.sentences[: root.loads_at]
        key = (root.project.flags, header, root.loads)
        with _BEYOND_LOCK:
            listing = _BEYOND.get(key)
            if listing is None:
                # Listed in a thread started at the first open (the first pass runs meanwhile);
                # retrieval waits for it: a lemma of a library the file lacks would not compile.
                listing = _BEYOND[key] = _Listing()
                threading.Thread(target=self._list_beyond, args=(key, listing), daemon=True,
                                 name="libraries-added").start()
        if not wait:
            return ()
        if not listing.done.wait(BEYOND_SECONDS):
            log.info("the libraries the session adds are not listed yet: retrieval leaves out "
                     "CoqHammer's own modules only")
            return ("Hammer",) if HAMMER.session in root.loads else ()
        return listing.names

    def _list_beyond(self, key: tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]],
                     listing: _Listing) -> None:
        try:
            listing.names = self._libraries_added(*key)
        finally:
            listing.done.set()

    def _libraries_added(self, flags: tuple[str, ...], header: tuple[str, ...],
                         loads: tuple[str, ...]) -> tuple[str, ...]:
        with tempfile.TemporaryDirectory(prefix="alphaquant-libraries-") as scratch:
            try:
                proc = CoqTop([*self._coqtop, "-emacs", *flags], Path(scratch),
                              coqtop_environment())
            except OSError:
                return ()
            try:
                proc.read_reply(time.monotonic() + self._coq.start_timeout)
                seen: list[set[str]] = []
                for part in (header, loads):
                    for sentence in part:
                        proc.command(sentence, self._coq.prefix_timeout)
                    listed = proc.command("Print Libraries.", self._coq.command_timeout)
                    seen.append(set(re.findall(r"^\s+([\w.']+)\s*$", listed.output, re.M)))
            except (CoqtopDied, CoqtopHung, Desync) as e:
                log.info("could not list the libraries the session adds: %s", e)
                return ()
            finally:
                proc.kill()
        return tuple(sorted(seen[1] - seen[0]))

    def _query(self, state: ProofState, command: str) -> str | None:
        """Run a query command (``Search``) at ``state``; its output, None on a Coq error."""
        with self._lock:
            root = self._owner.get(state.handle, self._root)
            if root is None:
                return None
            try:
                self._coq.reach(root, state.path)
                proc = self._coq.proc
                assert proc is not None
                reply = proc.command(command, self._coq.command_timeout)
            except (ReplayError, FeedError, CoqtopDied, CoqtopHung, Desync) as e:
                log.info("query %r failed: %s", command, e)
                self._coq.kill()
                return None
            self._coq.current = reply.state
            if error_message(reply.output) is not None:
                return None
            return without_messages(reply.output)

    def _restated(self, state: ProofState, printed: str, timeout: float) -> Outcome:
        """Run what ``hammer`` said to write instead, at ``state`` (hammer.py): the first of its
        reconstructions that works is the step, and the path records it."""
        last: Outcome = TacticError(f"hammer's reconstruction does not replay: {printed}")
        with self._lock:
            root = self._owner.get(state.handle, self._root)
        file_text = "\n".join(root.file_sentences) if root is not None else ""
        if not provides(file_text, HAMMER):
            # What hammer found, as steps the file's own imports compile: tried first, each
            # briefly; only where none closes the goal does the proof need CoqHammer's tactics.
            for tactic in import_free_tries(printed):
                if self.refusal(tactic) is not None:
                    continue
                outcome = self.apply(state, tactic, min(timeout, TRANSLATION_SECONDS))
                if isinstance(outcome, Solved):
                    return outcome
        for tactic in reconstruction_tries(printed):
            if self.refusal(tactic) is not None:
                continue
            outcome = self.apply(state, tactic, timeout)
            if isinstance(outcome, (Solved, Progress)):
                return outcome
            last = TacticError(f"hammer's reconstruction {tactic} fails: {outcome}")
        return last

    def refusal(self, tactic: str) -> str | None:
        """Why ``tactic`` is refused (not one tactic sentence, or the sanitizer says no)."""
        return one_tactic_sentence(tactic) or check_tactic(tactic, "coq")

    def _open_root(self, root: Root, text: str) -> ProofState:
        """Reach ``root`` and return its state. The file's own sentences failing raise
        FileDoesNotCompile; the sentences added after them failing raise FeedError."""
        with self._lock:
            self._prepare(root.project, root.file, text)
            try:
                goals = self._coq.recovering(lambda: self._coq.reach_root(root))
            except FeedError as e:
                if root.loads and e.index >= root.loads_at:
                    # The session's own loads may be what broke the file (a notation, a name):
                    # the search goes on without them, as the file stands.
                    log.info("%s: the search session goes on without %s (%s)", root.file.name,
                             " ".join(root.loads), " ".join(e.message.split())[:200])
                    self._failed_loads.add(root.file)
                    return self._open_root(root.without_loads(), text)
                if e.index < root.from_file:
                    raise does_not_compile(root, e) from None
                raise
            self._root = root
            self._beyond_file(root, wait=False)  # starts listing what the loads add
            return self._state(root, goals, ())

    def _loads(self, file: Path, text: str, statement: str) -> tuple[str, ...]:
        """What the session loads beyond the file's imports (requires.session_loads), unless
        that broke this file before or the session was made without."""
        if not self.session_loads or file in self._failed_loads:
            return ()
        return session_loads(text, statement, hammer=self.hammer_session)

    def _require_installed(self) -> None:
        if toolchain() is None and not os.path.exists(self._coqtop[0]):
            raise ProverNotInstalled(COQ_MISSING)

    def _state(self, root: Root, goals: tuple[Subgoal, ...], path: tuple[str, ...]) -> ProofState:
        handle = self._next_handle
        self._next_handle += 1
        self._owner[handle] = root
        return ProofState(goals, handle, path)

    def _prepare(self, project: CoqProject, file: Path, text: str) -> None:
        """Build the project files ``text`` needs; restart coqtop if any changed or the project
        differs from the running process's."""
        compiled = self._coqc.build_for(file, text)
        if compiled:
            log.info("built %s", ", ".join(p.name for p in compiled))
        if compiled or (self._coq.project is not None and self._coq.project != project):
            self._coq.kill()  # loaded libraries may be stale: start afresh
            self._coq.root_goals.clear()

    def _outcome(
        self, root: Root, state: ProofState, tactic: str, reply: Reply, timeout: float
    ) -> Outcome:
        error = error_message(reply.output)
        if error is not None:
            if error.startswith("Timeout!") or error.endswith("Control.Timeout"):
                return TacticTimeout(timeout)
            return TacticError(error)
        path = (*state.path, tactic)
        self._coq.ran(tactic, reply.state)
        reading = read_reply(reply.output)
        if reading.kind == "unknown":
            reading = self._coq.show()
        focused = any(FOCUS.fullmatch(t) for t in state.path)
        if reading.kind == "done" or (reading.kind == "subproof" and (root.subproof or focused)):
            return Solved(path)
        if reading.kind == "goals":
            return Progress(self._state(root, reading.goals, path))
        why = {
            "gave_up": "no goals remain, but some were given up (admit / give_up)",
            "shelf": "all the remaining goals are on the shelf",
            "subproof": "the focused goal is closed but unfocused goals remain (a bullet or "
                        "brace would be needed)",
        }.get(reading.kind, "coqtop printed no goals: " + " ".join(reply.output.split())[:200])
        return TacticError(why)
