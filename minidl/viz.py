"""Pictures: a Value's computational graph, drawn with matplotlib alone.

Each node is a box showing its name or operation, its value in red and its
gradient d(output)/d(node) in blue, the colours of the CS348K backprop slides.
Inputs are on the left, the output on the right.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from minidl.engine import Value

VALUE_COLOR = "#c0392b"  # red: output of the node
GRAD_COLOR = "#1f5fbf"   # blue: d(output)/d(node)

POLICY_COLORS = {"BSP": "#c0392b", "SSP": "#1f5fbf", "ASP": "#2e8b57"}
"""One colour per consistency model, the same in every lesson and figure: `policy_color("SSP(3)")`."""

FIGURE_WIDTH = 8.0
"""Inches: the course's figure width. At the dpi below it fits a notebook's text column in
JupyterLab without shrinking, so that FONT_SIZE stays readable."""
FIGURE_DPI = 100
FONT_SIZE = 10
FIGURES_ENV = "MINIDL_FIGURES"
"""The folder `save_figure` writes into; unset (the default), it writes nothing."""


def policy_color(name: str) -> str:
    """The colour of a consistency model by its name or label: "BSP", "SSP(3)", "ASP"."""
    for key, color in POLICY_COLORS.items():
        if str(name).upper().startswith(key):
            return color
    raise ValueError(f"policy_color: {name!r} names no consistency model; "
                     f"give one starting with {', '.join(POLICY_COLORS)}")


def course_style() -> None:
    """Sets matplotlib's defaults to the course's: figures FIGURE_WIDTH inches wide at
    FIGURE_DPI, text FONT_SIZE points. Lessons call it once, in their first cell."""
    plt.rcParams.update({"figure.figsize": (FIGURE_WIDTH, FIGURE_WIDTH * 0.45),
                         "figure.dpi": FIGURE_DPI, "savefig.dpi": FIGURE_DPI,
                         "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1,
                         "legend.fontsize": FONT_SIZE - 1})


def save_figure(fig: Figure, name: str) -> Path | None:
    """Writes `fig` as NAME.png into the folder named by $MINIDL_FIGURES and returns the path;
    does nothing and returns None when the variable is unset.

    Lessons call it for every figure they draw. Running a lesson (a student, a test, a
    grader) therefore writes no file, wherever it runs; `minidl figures` sets the variable to
    the repository's figures/ and runs every lesson, which regenerates the committed figures.
    """
    folder = os.environ.get(FIGURES_ENV)
    if not folder:
        return None
    path = Path(folder) / (name if name.endswith(".png") else f"{name}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=FIGURE_DPI, bbox_inches="tight")
    return path


def graph_layout(root: Value) -> dict[Value, tuple[int, float]]:
    """Column and row of every node: an interior node sits one column right of
    its deepest input, a leaf one column left of its first consumer, and rows
    are ordered to keep edges short (a few barycenter sweeps)."""
    order = root.topological_order()
    consumers: dict[Value, list[Value]] = {n: [] for n in order}
    for n in order:
        for c in n._prev:
            consumers[c].append(n)
    col: dict[Value, int] = {}
    for n in order:
        if n._prev:
            col[n] = 1 + max(col.get(c, 0) for c in n._prev)
    for n in reversed(order):  # leaves and constants go just before their first use
        if not n._prev:
            col[n] = max(0, min((col[p] for p in consumers[n]), default=1) - 1)
    columns: dict[int, list[Value]] = {}
    for n in order:
        columns.setdefault(col[n], []).append(n)
    row = {n: float(i) for nodes in columns.values() for i, n in enumerate(nodes)}
    for _ in range(4):
        for k in sorted(columns):  # left to right: follow the inputs
            _sort_by(columns[k], row, lambda n: n._prev)
        for k in sorted(columns, reverse=True):  # right to left: follow the consumers
            _sort_by(columns[k], row, lambda n: consumers[n])
    height = max(len(v) for v in columns.values())
    return {n: (col[n], (height - len(nodes)) / 2 + i)
            for nodes in columns.values() for i, n in enumerate(nodes)}


def _sort_by(nodes: list[Value], row: dict, neighbours) -> None:
    def key(n):
        ys = [row[m] for m in neighbours(n)]
        return sum(ys) / len(ys) if ys else row[n]
    nodes.sort(key=key)
    for i, n in enumerate(nodes):
        row[n] = float(i)


def draw_graph(root: Value, title: str = "", show_grad: bool = True) -> Figure:
    """Draws the graph that computed `root`, readable up to about 50 nodes.

    Returns:
        The matplotlib Figure (not shown by pyplot; a notebook displays it when
        it is the value of a cell, and `fig.savefig(path)` saves it).
    """
    pos = graph_layout(root)
    ncols = 1 + max(c for c, _ in pos.values())
    nrows = 1 + max(r for _, r in pos.values())
    if len(pos) > 80:
        raise ValueError(f"draw_graph: the graph has {len(pos)} nodes; pictures stay readable "
                         "up to about 50, so draw a smaller piece of it")
    fig, ax = plt.subplots(figsize=(max(4.0, 1.9 * ncols), max(2.2, 1.0 * nrows)))
    plt.close(fig)  # returned, not shown twice
    sx, sy = 1.9, 1.0
    for node, (c, r) in pos.items():
        for child in node._prev:
            (cc, cr) = pos[child]
            ax.annotate("", xy=(c * sx - 0.4, -r * sy), xytext=(cc * sx + 0.4, -cr * sy),
                        arrowprops=dict(arrowstyle="->", color="0.45", lw=0.9,
                                        shrinkA=2, shrinkB=2))
    for node, (c, r) in pos.items():
        x, y = c * sx, -r * sy
        name = node.label or ("leaf" if not node._prev else "")
        head = f"{name} = {node._op}" if name and node._op else (name or node._op)
        ax.text(x, y + 0.22, head, ha="center", va="center", fontsize=8, fontweight="bold",
                bbox=dict(boxstyle="round,pad=0.35", fc="0.96", ec="0.55"))
        ax.text(x, y - 0.02, f"{node.data:.4g}", ha="center", va="center",
                fontsize=8, color=VALUE_COLOR)
        if show_grad:
            ax.text(x, y - 0.24, f"{node.grad:.4g}", ha="center", va="center",
                    fontsize=8, color=GRAD_COLOR)
    ax.set_xlim(-0.8, (ncols - 1) * sx + 0.8)
    ax.set_ylim(-(nrows - 1) * sy - 0.6, 0.6)
    ax.axis("off")
    legend = "red: value of the node" + ("    blue: d(output)/d(node)" if show_grad else "")
    ax.set_title((title + "\n" if title else "") + legend, fontsize=9)
    fig.tight_layout()
    return fig


def plot_decision_boundary(ax, predict, X: np.ndarray, y: np.ndarray, steps: int = 60,
                           title: str = "") -> None:
    """Shades the plane by the sign of `predict(points) -> scores` and scatters
    the labelled points X (n, 2) with labels y in {-1, +1} or {0, 1}."""
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, steps)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, steps)
    gx, gy = np.meshgrid(xs, ys)
    scores = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()]), dtype=float).reshape(gx.shape)
    ax.contourf(gx, gy, scores > 0, levels=[-0.5, 0.5, 1.5], colors=["#f4cccc", "#cfe2f3"])
    ax.contour(gx, gy, scores, levels=[0.0], colors="0.3", linewidths=1)
    positive = y > 0
    ax.scatter(X[positive, 0], X[positive, 1], s=14, c="#1f5fbf", label="class +1")
    ax.scatter(X[~positive, 0], X[~positive, 1], s=14, c="#c0392b", label="class -1")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title)
