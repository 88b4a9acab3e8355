"""`alphaquant report` and `alphaquant tree`: what a run found, read back from its store.

Formats: md, html (with matplotlib charts embedded as base64 PNG: goals closed over time, time
per goal), json (a top-level ``goals`` list of GoalResult items) and latex (the theorem summary
table of a paper's "Formal verification" section). A goal never attempted (a run stopped by its
deadline, or killed before it finished) appears as ``open`` with the message "no result yet".
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaquant.errors import InputError
from alphaquant.runs.attempt import GoalResult
from alphaquant.runs.store import GoalRow, RunStore
from alphaquant.search.export import to_dot, to_graphml

FORMATS = ("md", "html", "json", "latex")
TREE_FORMATS = ("graphml", "dot", "json")
STATUSES = ("proved", "disproved", "open", "error")


# One goal of the report: where it is, its latest result, and what all its attempts cost.
@dataclass(frozen=True)
class GoalLine:
    goal: GoalRow
    item: dict[str, Any]  # GoalResult.to_json()
    attempts: int
    finished: float | None  # seconds after the run began when its result was stored


# A run, read back.
@dataclass(frozen=True)
class RunReport:
    run_dir: Path
    project: Path
    config_hash: str
    started: float
    goals: list[GoalLine]
    writes: list[tuple[str, str, str]]

    def totals(self) -> dict[str, Any]:
        counts = {s: sum(1 for g in self.goals if g.item["status"] == s) for s in STATUSES}
        return {
            "goals": len(self.goals), **counts,
            "unfinished": sum(1 for g in self.goals if g.finished is None),
            "search_seconds": round(sum(g.item["seconds"] for g in self.goals), 3),
            "expansions": sum(g.item["expansions"] for g in self.goals),
            "attempts": sum(g.attempts for g in self.goals),
        }

    def by_file(self) -> dict[str, list[GoalLine]]:
        files: dict[str, list[GoalLine]] = {}
        for g in self.goals:
            files.setdefault(g.goal.file, []).append(g)
        return files


def load_report(run_dir: Path) -> RunReport:
    """The run in ``run_dir`` as report data; an InputError if it is not a run directory."""
    store = RunStore.open(run_dir, readonly=True)
    try:
        info = store.info()
        latest = store.latest()
        attempts: dict[int, int] = {}
        for a in store.attempts():
            if a["worker"] != "driver":
                attempts[a["goal_id"]] = attempts.get(a["goal_id"], 0) + 1
        lines = []
        for g in store.goals():
            result = latest.get(g.id)
            item = result.item if result else GoalResult(
                g.file, g.theorem, g.line, g.kind, "open", message="no result yet").to_json()
            finished = result.finished - info.started if result else None
            lines.append(GoalLine(g, item, attempts.get(g.id, 0), finished))
        return RunReport(run_dir, info.project, info.config_hash, info.started, lines,
                         store.writes())
    finally:
        store.close()


def render_report(run_dir: Path, fmt: str) -> str:
    """The report of the run in ``run_dir`` in format ``fmt`` (md, html, json or latex)."""
    renderers = {"md": to_markdown, "html": to_html, "json": to_json, "latex": to_latex}
    if fmt not in renderers:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return renderers[fmt](load_report(run_dir))


def _name(g: GoalLine) -> str:
    return (g.goal.theorem or "(anonymous)") + (f" #{g.goal.index}" if g.goal.index else "")


def _proof_text(g: GoalLine) -> str:
    """The proof, or why the goal is open; for a disproof also what it disproves and the
    counterexample values."""
    i = g.item
    proof = " ".join(i["proof"]) if i.get("proof") else ""
    if i["status"] == "disproved":
        parts = [f"disproves {i['negation']}" if i.get("negation") else i.get("message", "")]
        if i.get("counterexample"):
            values = ", ".join(f"{k} = {v}" for k, v in i["counterexample"].items())
            parts.append(f"counterexample: {values}")
        return "; ".join([*parts, f"by: {proof}"])
    return proof or i.get("message", "")


def run_stats(run_dir: Path) -> dict[str, Any]:
    """What the run store in ``run_dir`` holds: goals by status, time, expansions, attempts,
    and the tactics of the proofs it found, most used first."""
    report = load_report(run_dir)
    used: dict[str, int] = {}
    for g in report.goals:
        if g.item["status"] in ("proved", "disproved"):
            for tactic in g.item.get("proof") or []:
                used[tactic] = used.get(tactic, 0) + 1
    totals = report.totals()
    totals["prover_seconds"] = round(sum(g.item.get("prover_seconds", 0.0)
                                         for g in report.goals), 3)
    return {"run": str(run_dir), "project": str(report.project), **totals,
            "proof_tactics": dict(sorted(used.items(), key=lambda kv: (-kv[1], kv[0])))}


# -- json --------------------------------------------------------------------------------------


def to_json(report: RunReport) -> str:
    payload = {
        "run": {"dir": str(report.run_dir), "project": str(report.project),
                "config_hash": report.config_hash, "started": report.started},
        "totals": report.totals(),
        "goals": [g.item for g in report.goals],
        "writes": [{"file": f, "status": s, "message": m} for f, s, m in report.writes],
    }
    return json.dumps(payload, indent=2) + "\n"


# -- markdown ----------------------------------------------------------------------------------


_MD_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # what Markdown would read as the start of HTML
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # ...or as a character reference


def _md_cell(text: str) -> str:
    """``text`` as one Markdown table cell, readable as plain text too: only what Markdown would
    take for HTML (``<`` opening a tag, ``&`` opening a reference) is escaped, so ``1 <= 2``
    reads as written; pipes escaped, on one line."""
    text = _MD_ENTITY.sub("&amp;", text)
    return _MD_TAG.sub("&lt;", text).replace("|", "\\|").replace("\n", " ")


def _totals_line(t: dict[str, Any]) -> str:
    return (f"{t['goals']} goals: {t['proved']} proved, {t['disproved']} disproved, "
            f"{t['open']} open, {t['error']} error ({t['unfinished']} without a result); "
            f"{t['search_seconds']:.1f}s of search, {t['expansions']} expansions, "
            f"{t['attempts']} attempts")


def to_markdown(report: RunReport) -> str:
    out = [f"# alphaquant run {_md_cell(report.run_dir.name)}", "",
           f"Project `{report.project}`, config `{report.config_hash}`.", "",
           _totals_line(report.totals()), ""]
    for file, lines in report.by_file().items():
        out += [f"## {_md_cell(file)}", "",
                "| goal | line | status | proof / reason | time | expansions | distinct tactics |",
                "| --- | ---: | --- | --- | ---: | ---: | ---: |"]
        for g in lines:
            i = g.item
            line = i.get("decl_line") or i["line"]
            out.append(f"| {_md_cell(_name(g))} | {line} | {i['status']} | "
                       f"{_md_cell(_proof_text(g))} | {i['seconds']:.1f}s | {i['expansions']} | "
                       f"{i['tactics_tried']} |")
        out.append("")
    if report.writes:
        out += ["## Write-back", ""] + [f"- `{f}`: {_md_cell(f'{s} {m}')}"
                                        for f, s, m in report.writes] + [""]
    return "\n".join(out)


# -- html --------------------------------------------------------------------------------------

CSS = """body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;
margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;
vertical-align:top}code{font-size:90%}.proved{color:#16803c}.disproved{color:#9333ea}
.open{color:#a16207}.error{color:#b91c1c}"""


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def charts(report: RunReport) -> list[tuple[str, str]]:
    """(title, base64 PNG) of: goals closed over time, time per goal. [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = []
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for status, colour in (("proved", "#16803c"), ("disproved", "#9333ea")):
        times = sorted(g.finished / 60 for g in report.goals
                       if g.item["status"] == status and g.finished is not None)
        ax.step([0, *times], range(len(times) + 1), where="post", label=status, color=colour)
    ax.set_xlabel("minutes since the run began")
    ax.set_ylabel("goals")
    ax.legend(loc="upper left")
    out.append(("Goals closed over time", _png(fig)))
    plt.close(fig)
    attempted = [g for g in report.goals if g.attempts]
    fig, ax = plt.subplots(figsize=(7, 0.3 * max(len(attempted), 4) + 1))
    colours = {"proved": "#16803c", "disproved": "#9333ea", "open": "#ca8a04", "error": "#b91c1c"}
    ax.barh([f"{Path(g.goal.file).stem}.{_name(g)}" for g in attempted],
            [g.item["seconds"] for g in attempted],
            color=[colours[g.item["status"]] for g in attempted])
    ax.invert_yaxis()
    ax.set_xlabel("seconds (latest attempt)")
    out.append(("Time per goal", _png(fig)))
    plt.close(fig)
    return out


def to_html(report: RunReport) -> str:
    e = html.escape
    out = ["<!doctype html><html><head><meta charset='utf-8'>",
           f"<title>alphaquant run {e(report.run_dir.name)}</title><style>{CSS}</style>",
           "</head><body>", f"<h1>alphaquant run {e(report.run_dir.name)}</h1>",
           f"<p>Project <code>{e(str(report.project))}</code>, config "
           f"<code>{e(report.config_hash)}</code>.</p>",
           f"<p>{e(_totals_line(report.totals()))}</p>"]
    images = charts(report)
    if not images:
        out.append("<p>(charts need matplotlib: pip install 'alphaquant[report]')</p>")
    for title, png in images:
        out.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='data:image/png;base64,{png}'>")
    for file, lines in report.by_file().items():
        out += [f"<h2>{e(file)}</h2><table><tr><th>goal</th><th>line</th><th>status</th>"
                "<th>proof / reason</th><th>time</th><th>expansions</th><th>distinct tactics</th>"
                "</tr>"]
        for g in lines:
            i = g.item
            out.append(
                f"<tr><td>{e(_name(g))}</td><td>{i.get('decl_line') or i['line']}</td>"
                f"<td class='{i['status']}'>{i['status']}</td><td><code>"
                f"{e(_proof_text(g))}</code></td><td>{i['seconds']:.1f}s</td>"
                f"<td>{i['expansions']}</td><td>{i['tactics_tried']}</td></tr>")
        out.append("</table>")
    if report.writes:
        out.append("<h2>Write-back</h2><ul>")
        out += [f"<li><code>{e(f)}</code>: {e(s)} {e(m)}</li>" for f, s, m in report.writes]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- latex -------------------------------------------------------------------------------------

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(LATEX_SPECIALS.get(c, c) for c in text)


def to_latex(report: RunReport) -> str:
    """The theorem summary table of a "Formal verification" section (needs booktabs)."""
    t = report.totals()
    closed = t["proved"] + t["disproved"]
    out = [
        f"% alphaquant run {latex_escape(report.run_dir.name)}: theorem summary. "
        "Needs \\usepackage{booktabs}.",
        "\\begin{table}[t]", "\\centering",
        "\\caption{Formal verification: status of each theorem (" + f"{closed} of {t['goals']} "
        "goals closed by machine-checked proof search).}",
        "\\label{tab:formal-verification}", "\\begin{tabular}{llrr}", "\\toprule",
        "Theorem & Status & Tactics & Time (s) \\\\", "\\midrule",
    ]
    for file, lines in report.by_file().items():
        out.append(f"\\multicolumn{{4}}{{l}}{{\\emph{{{latex_escape(file)}}}}} \\\\")
        for g in lines:
            i = g.item
            status = i["status"] if i["status"] in ("proved", "disproved") else "open"
            tactics = str(len(i["proof"])) if i.get("proof") else "--"
            out.append(f"\\texttt{{{latex_escape(_name(g))}}} & {status} & {tactics} & "
                       f"{i['seconds']:.1f} \\\\")
    out += ["\\midrule",
            f"Total & {closed}/{t['goals']} closed & & {t['search_seconds']:.1f} \\\\",
            "\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(out) + "\n"


# -- trees -------------------------------------------------------------------------------------


def find_goal(goals: list[GoalRow], name: str) -> GoalRow:
    """The goal ``name`` names: THEOREM or FILE:THEOREM (FILE a relative path or a file name),
    with an optional #INDEX; an InputError when none or several match."""
    file, _, theorem = name.rpartition(":")
    theorem, _, index = theorem.partition("#")
    matches = [
        g for g in goals
        if g.theorem == theorem and (not file or file in (g.file, Path(g.file).name))
        and (not index or str(g.index) == index)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        names = ", ".join(sorted({g.theorem for g in goals if g.theorem})) or "(none)"
        raise InputError(f"no goal {name} in this run; its theorems: {names}")
    raise InputError(f"{name} matches {len(matches)} goals: "
                     f"{', '.join(g.label for g in matches)}; give FILE:THEOREM#INDEX")


PHASE_ORDER = ("probe", "prove", "disprove")


def deciding_phase(trees: dict[str, Any]) -> str:
    """The phase whose search decided the goal: the one whose root is proved (a proof, or the
    disproof's negation); else the proof search; else the last phase that ran."""
    for phase in PHASE_ORDER:
        tree = trees.get(phase)
        if tree and any(n.get("root") and n.get("status") == "proved" for n in tree["nodes"]):
            return phase
    if "prove" in trees:
        return "prove"
    ran = [p for p in PHASE_ORDER if p in trees] or sorted(trees)
    return ran[-1]


def export_tree(run_dir: Path, name: str, fmt: str, phase: str | None = None) -> str:
    """The stored search tree of goal ``name`` (phase probe, prove or disprove; by default the
    phase that decided the goal) as graphml, dot or json."""
    if fmt not in TREE_FORMATS:
        raise InputError(f"--format must be one of {', '.join(TREE_FORMATS)}, got {fmt!r}")
    if phase is not None and phase not in PHASE_ORDER:
        raise InputError(f"--phase must be one of {', '.join(PHASE_ORDER)}, got {phase!r}")
    store = RunStore.open(run_dir, readonly=True)
    try:
        goal = find_goal(store.goals(), name)
        trees = store.trees(goal.id)
    finally:
        store.close()
    if not trees:
        raise InputError(f"{goal.label} has no stored search tree (not attempted yet, or its "
                         "file did not compile)")
    phase = phase or deciding_phase(trees)
    tree = trees.get(phase)
    if tree is None:
        raise InputError(f"{goal.label} has no {phase} tree; it has: {', '.join(sorted(trees))}")
    if fmt == "graphml":
        return to_graphml(tree) + "\n"
    if fmt == "dot":
        return to_dot(tree)
    return json.dumps(tree, indent=2) + "\n"
