"""What a language model is asked, and how its answer becomes tactic texts.

``build_prompt`` turns a ProposalRequest into a system and a user message: the goal state, the
file's imports and the definitions the goal mentions (found by plain text means, for Coq and
Lean), the tactics already tried at this state with the prover's errors, and a request for ``k``
tactics as a JSON list of strings.

``parse_tactics`` reads the answer. Preferred: a JSON list of strings, bare or in a fenced block,
or an object with a "tactics" key. Then: the lines of fenced code blocks. Last: plain lines. List
markers ("1.", "-", "*") and proof bullets (Coq "-", "+", "*"; Lean "·") are dropped, because the
engine focuses goals itself. Line-wise answers keep only lines that look like tactics (a
lower-case word or an opening bracket first), so prose yields nothing. The parser never raises;
safety is not its business (sanitize.py refuses unsafe text for every source).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from alphaquant.tactics.base import ProposalRequest

MAX_CONTEXT_CHARS = 6000  # imports + definitions shown to the model
MAX_DEFINITION_CHARS = 1200  # one definition, at most
MAX_FAILURES = 12  # most recent failed tactics shown
MAX_ERROR_CHARS = 300  # one prover message, at most
MAX_TACTIC_CHARS = 400  # longer "tactics" are dropped

LANGUAGE_NAMES = {"coq": "Coq (Rocq)", "lean": "Lean 4 (with Mathlib)"}


# The two messages sent to a chat model.
@dataclass(frozen=True)
class Prompt:
    system: str
    user: str

    def key_text(self) -> str:
        """Both messages in one string, for the cache key."""
        return f"{self.system}\n\x00\n{self.user}"


# ---------------------------------------------------------------------------------------------
# Context from the file, by text means


IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*")

COQ_IMPORT = re.compile(
    r"^[ \t]*(?:From\s+\S+\s+)?(?:Require\s+(?:Import\s+|Export\s+)?|Import\s+|Export\s+)"
    r"[^.]*(?:\.[A-Za-z_][^.]*)*\.|^[ \t]*(?:Local\s+|Global\s+)?Open\s+Scope\s+[^.]+\.",
    flags=re.MULTILINE,
)
COQ_DEF = re.compile(
    r"^[ \t]*(?:Local\s+|Global\s+|#\[[^\]]*\]\s*)*"
    r"(Definition|Fixpoint|CoFixpoint|Inductive|CoInductive|Record|Structure|Class|Let|Function|"
    r"Notation|Infix|Parameter|Variable|Hypothesis|Axiom|Lemma|Theorem|Fact|Remark|Corollary|"
    r"Proposition)\s+\"?([A-Za-z_][\w']*)",
    flags=re.MULTILINE,
)
COQ_STATEMENTS = {"Lemma", "Theorem", "Fact", "Remark", "Corollary", "Proposition"}
COQ_SENTENCE_END = re.compile(r"\.(?=\s|$)")

LEAN_IMPORT = re.compile(r"^(?:import|open)\s[^\n]*", flags=re.MULTILINE)
LEAN_DEF = re.compile(
    r"^(?:@\[[^\]]*\]\s*)?(?:(?:noncomputable|private|protected|partial|unsafe)\s+)*"
    r"(def|abbrev|structure|inductive|class|instance|theorem|lemma|axiom|notation)\s+"
    r"([A-Za-z_][\w'.]*)",
    flags=re.MULTILINE,
)
LEAN_STATEMENTS = {"theorem", "lemma"}
LEAN_COMMAND_START = re.compile(r"^\S", flags=re.MULTILINE)


def _strip_coq_comments(text: str) -> str:
    """``text`` without (* … *) comments (nested), so definitions are found in code only."""
    out, depth, i = [], 0, 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair == "(*":
            depth, i = depth + 1, i + 2
        elif pair == "*)" and depth:
            depth, i = depth - 1, i + 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def _strip_lean_comments(text: str) -> str:
    """``text`` without /- … -/ blocks and -- line comments."""
    text = re.sub(r"/-.*?-/", "", text, flags=re.DOTALL)
    return re.sub(r"--[^\n]*", "", text)


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 4].rstrip() + " …"


def _coq_blocks(code: str) -> list[tuple[str, str, str]]:
    """(kind, name, text) of each Coq declaration; statements stop before their proof."""
    blocks = []
    for m in COQ_DEF.finditer(code):
        end = COQ_SENTENCE_END.search(code, m.end())
        stop = end.end() if end else len(code)
        blocks.append((m.group(1), m.group(2), code[m.start() : stop]))
    return blocks


def _lean_blocks(code: str) -> list[tuple[str, str, str]]:
    """(kind, name, text) of each Lean declaration: up to the next top-level line."""
    blocks = []
    for m in LEAN_DEF.finditer(code):
        line_end = code.find("\n", m.end())
        nxt = LEAN_COMMAND_START.search(code, line_end + 1) if line_end >= 0 else None
        text = code[m.start() : nxt.start() if nxt else len(code)]
        if m.group(1) in LEAN_STATEMENTS:  # the statement, not the proof
            text = re.split(r":=\s*by\b|:=", text, maxsplit=1)[0] + ":= …"
        blocks.append((m.group(1), m.group(2), text))
    return blocks


def file_context(file_text: str, language: str, mentioned: str, theorem: str = "") -> str:
    """Imports, the definitions ``mentioned`` names (and the ones those name), then statements.

    Args:
      file_text: the file (and, before it, any project files it imports).
      language: "coq" or "lean".
      mentioned: text whose identifiers select definitions (the goal state).
      theorem: the theorem being proved; its own statement is left out (the goal shows it).

    Returns:
      At most MAX_CONTEXT_CHARS of context; "" when nothing was found.
    """
    if language == "coq":
        code = _strip_coq_comments(file_text)
        imports = [m.group(0).strip() for m in COQ_IMPORT.finditer(code)]
        blocks = _coq_blocks(code)
        statements = COQ_STATEMENTS
    else:
        code = _strip_lean_comments(file_text)
        imports = [m.group(0).strip() for m in LEAN_IMPORT.finditer(code)]
        blocks = _lean_blocks(code)
        statements = LEAN_STATEMENTS
    imports = list(dict.fromkeys(imports))[:40]
    by_name: dict[str, str] = {}
    for kind, name, text in blocks:
        if kind not in statements:
            by_name[name] = _clip(text, MAX_DEFINITION_CHARS)
            by_name.setdefault(name.rsplit(".", 1)[-1], by_name[name])

    # Definitions the goal names, then those their bodies name (breadth first, within budget).
    chosen: list[str] = []
    budget = MAX_CONTEXT_CHARS - sum(len(i) + 1 for i in imports)
    queue = _names(mentioned)
    seen: set[str] = set()
    while queue and budget > 0:
        name = queue.pop(0)
        text = by_name.get(name) or by_name.get(name.rsplit(".", 1)[-1], "")
        if not text or text in seen:
            continue
        seen.add(text)
        if len(text) + 1 > budget:
            continue
        chosen.append(text)
        budget -= len(text) + 1
        queue.extend(_names(text))

    # Statements before the theorem's own: lemmas the model may apply (the nearest first).
    names = [name for _, name, _ in blocks]
    before = blocks[: len(names) - 1 - names[::-1].index(theorem)] if theorem in names else blocks
    lemmas: list[str] = []
    for kind, _name, text in reversed(before):
        if kind in statements and budget > 0:
            clipped = _clip(text, MAX_DEFINITION_CHARS)
            if len(clipped) + 1 <= budget:
                lemmas.append(clipped)
                budget -= len(clipped) + 1
    parts = []
    if imports:
        parts.append("\n".join(imports))
    if chosen:
        parts.append("\n\n".join(chosen))
    if lemmas:
        parts.append("\n".join(reversed(lemmas)))
    return "\n\n".join(parts)


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(IDENT.findall(text)))


# ---------------------------------------------------------------------------------------------
# The prompt


def _rules(language: str) -> str:
    if language == "coq":
        return (
            "Each tactic is one Coq tactic sentence ending with a period, such as \"lra.\" or "
            "\"intros x y; nia.\"; combine steps with \";\" if needed. No bullets, no "
            "\"Proof.\"/\"Qed.\", no vernacular commands."
        )
    return (
        "Each tactic is one Lean 4 tactic, such as \"norm_num\" or \"intro x; linarith\"; "
        "combine steps with \";\" or \"<;>\" if needed. No \"by\", no focusing dots, no "
        "commands such as #eval or run_cmd."
    )


def build_prompt(request: ProposalRequest, k: int) -> Prompt:
    """The messages asking for ``k`` candidate next tactics for ``request``."""
    language = request.language
    name = LANGUAGE_NAMES.get(language, language)
    system = (
        f"You are an expert {name} proof engineer. You propose the next tactic for a proof "
        "state. Never use sorry, admit, Admitted, axioms, or anything that cheats or runs "
        "commands; a proof checker verifies every tactic. "
        f"Answer with a JSON list of {k} distinct tactic strings, most promising first, and "
        "nothing else."
    )
    sections = [f"Language: {name}."]
    if request.theorem:
        sections.append(f"Theorem being proved: {request.theorem}")
    context = file_context(request.file_text, language, request.state.text, request.theorem)
    if context:
        sections.append(f"Context from the file (imports, definitions, earlier lemmas):\n{context}")
    sections.append(f"Current proof state (the first goal is the one to work on):\n"
                    f"{request.state.text or '(no goals)'}")
    if request.failures:
        tried = [
            f"- {' '.join(t.split())}\n  error: {_clip(' '.join(m.split()), MAX_ERROR_CHARS)}"
            for t, m in request.failures[-MAX_FAILURES:]
        ]
        sections.append(
            "Already tried at this state, and failed (do not propose these again):\n"
            + "\n".join(tried)
        )
    sections.append(
        f"{_rules(language)}\nReply with exactly a JSON list of {k} strings, for example "
        + (
            '["intros x.", "lra.", "unfold f; lia."]'
            if language == "coq"
            else '["intro x", "linarith", "simp [f]"]'
        )
        + "."
    )
    return Prompt(system=system, user="\n\n".join(sections))


# ---------------------------------------------------------------------------------------------
# Parsing the answer

FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", flags=re.DOTALL)
# A list marker ("1.", "2)", "-", "*", "•") or proof bullets ("--", "+++", "·"), then space.
MARKER = re.compile(r"^(?:\d{1,3}[.)]|[-+*•·]+|\.)(?:\s+|$)")
LEAN_MARKER = re.compile(r"^(?:\d{1,3}[.)]|[*•·]|-(?!-)|\.)(?:\s+|$)")
# Lines that are not tactics in a line-wise answer.
SKIP_LINE = re.compile(
    r"^(?:Proof\.?|Qed\.|Defined\.|by|```.*|\[|\]|\{|\}|,)$|"
    r"^(?:Lemma|Theorem|Definition|Require|From|theorem|lemma|example|def|import|open|"
    r"namespace|section|end)\b"
)
# A line-wise tactic starts with a lower-case word or a bracket (Lean: also anonymous ⟨…⟩).
TACTIC_START = re.compile(r"^(?:[a-z_]|[(\[⟨])")


def clean(text: str, language: str) -> str:
    """One candidate: whitespace normalised, leading list markers and bullets dropped."""
    text = " ".join(text.split())
    marker = MARKER if language == "coq" else LEAN_MARKER
    for _ in range(3):  # "1. - lia." → "lia."
        m = marker.match(text)
        if not m or m.end() == 0:
            break
        text = text[m.end() :]
    if text.startswith("`") and text.endswith("`") and len(text) > 1:
        text = text.strip("`").strip()
    return text


def _json_candidates(value: Any) -> list[str] | None:
    """Tactic strings from a decoded JSON value, or None if it has no such shape."""
    if isinstance(value, dict):
        for key in ("tactics", "candidates", "tactic"):
            if key in value:
                return _json_candidates(value[key])
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, dict) and isinstance(item.get("tactic"), str):
                out.append(item["tactic"])
        return out
    return None


def _try_json(text: str) -> list[str] | None:
    text = text.strip()
    candidates = [text]
    for open_, close in (("[", "]"), ("{", "}")):
        start, stop = text.find(open_), text.rfind(close)
        if 0 <= start < stop:
            candidates.append(text[start : stop + 1])
    for chunk in candidates:
        try:
            value = json.loads(chunk)
        except ValueError:
            continue
        found = _json_candidates(value)
        if found is not None:
            return found
    return None


def _line_candidates(lines: list[str], language: str) -> list[str]:
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or (language == "lean" and line.startswith("--")):
            continue
        if language == "coq" and line.startswith("(*") and line.endswith("*)"):
            continue
        line = clean(line, language)
        if not line or SKIP_LINE.match(line) or not TACTIC_START.match(line):
            continue
        if line.endswith(":") or len(line) > MAX_TACTIC_CHARS:
            continue
        out.append(line)
    return out


def parse_tactics(answer: str | None, language: str) -> list[str]:
    """Tactic texts from a model's answer, deduplicated, in order; [] for anything unusable."""
    if not answer or not isinstance(answer, str):
        return []
    found = _try_json(answer)
    if found is None:
        for m in FENCE.finditer(answer):
            found = _try_json(m.group(2))
            if found is not None:
                break
    if found is not None:
        texts = [clean(t, language) for t in found]
        texts = [t for t in texts if t and len(t) <= MAX_TACTIC_CHARS]
    else:
        blocks = [m.group(2) for m in FENCE.finditer(answer)]
        lines = "\n".join(blocks).splitlines() if blocks else answer.splitlines()
        texts = _line_candidates(lines, language)
    return list(dict.fromkeys(texts))
