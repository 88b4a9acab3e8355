"""Views of a search tree for people and tools: JSON (node-link), GraphML and Graphviz dot.

The search hands out its tree as `tree_json(tree)`, a plain dict that run stores keep; the other
formats are rendered from that dict, so a stored tree exports the same way as a live one.
"""

from __future__ import annotations

import textwrap
from typing import Any

import networkx as nx

from alphaquant.search.tree import SOLVED, SearchTree


def tree_json(tree: SearchTree) -> dict[str, Any]:
    """Nodes (goals, visits, value, status, failures) and edges (tactic, and the step's prior,
    visits and mean value) as plain data."""
    ids: dict[Any, str] = {}
    nodes = []
    for i, key in enumerate(tree.graph.nodes):
        ids[key] = "solved" if key == SOLVED else f"n{i}"
        if key == SOLVED:
            nodes.append({"id": "solved", "status": "proved", "goals": "", "visits": 0})
            continue
        node = tree.node(key)
        nodes.append({
            "id": ids[key],
            "goals": key.text,
            "depth": len(key.path),
            "visits": node.visits,
            "value": round(node.value, 4),
            "status": node.status.value,
            "root": key == tree.root,
            "product": node.product,
            "failures": [{"tactic": t, "message": m[:300]} for t, m in node.failures],
        })
    walked = {(key, a.child): a for key in tree.graph.nodes if key != SOLVED
              for a in tree.node(key).actions or () if a.child is not None}
    edges = []
    for u, v, data in tree.graph.edges(data=True):
        edge = {"source": ids[u], "target": ids[v], "tactic": data["tactic"]}
        action = walked.get((u, v))
        if action is not None:  # the step's own statistics: prior, visits, mean value
            edge.update(prior=round(action.prior, 4), visits=action.visits,
                        q=round(action.q(0.0), 4))
        edges.append(edge)
    return {"nodes": nodes, "edges": edges}


def to_graph(data: dict[str, Any]) -> nx.DiGraph:
    """A networkx graph from `tree_json` data (attributes flattened to strings and numbers)."""
    graph: nx.DiGraph = nx.DiGraph()
    for n in data["nodes"]:
        attrs = {k: v for k, v in n.items() if k not in ("id", "failures")}
        attrs["failures"] = len(n.get("failures", []))
        graph.add_node(n["id"], **attrs)
    for e in data["edges"]:
        graph.add_edge(e["source"], e["target"], tactic=e["tactic"])
    return graph


def to_graphml(data: dict[str, Any]) -> str:
    """GraphML text of a stored tree."""
    return "\n".join(nx.generate_graphml(to_graph(data)))


def _dot_label(text: str, limit: int = 80, width: int = 60) -> str:
    """``text`` as a dot label: cut at ``limit`` characters; each of its lines with whitespace
    runs folded and wrapped at ``width``, left-aligned."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    lines = [piece for line in text.split("\n")
             for piece in (textwrap.wrap(" ".join(line.split()), width, break_on_hyphens=False)
                           or [""])]
    escaped = [ln.replace("\\", "\\\\").replace('"', '\\"') for ln in lines]
    return "\\l".join(escaped) + ("\\l" if len(escaped) > 1 else "")


def goal_label(goals: str) -> str:
    """The conclusion of each of a node's goals, whole and one per line (a conclusion printed
    over several lines is one label, not its last line); the hypotheses are in the JSON and
    GraphML exports."""
    conclusions = [g.split("=" * 20)[-1] for g in goals.split("\n\n") if g.strip()]
    return "\n".join(" ".join(c.split()) for c in conclusions)


WIDE = 40  # a tree with more nodes than this is laid out left to right, ranks stacked


def to_dot(data: dict[str, Any]) -> str:
    """Graphviz dot text of a stored tree: nodes coloured by status, labelled by their goals'
    conclusions; edges labelled by tactic. A large tree is laid out left to right, so its width
    grows with its depth, not with the number of nodes at one depth."""
    colours = {"proved": "palegreen", "failed": "lightpink", "open": "lightyellow"}
    lines = ["digraph search {", "  node [shape=box, style=filled, fontname=monospace];"]
    if len(data["nodes"]) > WIDE:
        lines.append("  graph [rankdir=LR, ranksep=0.3, nodesep=0.05];")
    for n in data["nodes"]:
        label = "SOLVED" if n["id"] == "solved" else _dot_label(goal_label(n["goals"]), 600)
        lines.append(
            f'  {n["id"]} [label="{label}", fillcolor={colours.get(n["status"], "white")}];'
        )
    for e in data["edges"]:
        lines.append(f'  {e["source"]} -> {e["target"]} [label="{_dot_label(e["tactic"], 40)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
