"""Pictures: the course's figure style, a Value's computational graph, and the plots of
lessons 01-03, drawn with matplotlib alone.

`draw_graph` draws each node as a box showing its name or operation, its value in red and
its gradient d(output)/d(node) in blue, the colours of the CS348K backprop slides; inputs
are on the left, the output on the right. Every function returns its Figure closed, so a
notebook shows it once as a cell's value and `save_figure` writes it; figures are at most
FIGURE_WIDTH inches wide so that their text stays readable in a notebook.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.textpath import TextPath

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


_OP_SYMBOLS = {"sigmoid": "\u03c3"}  # short names keep boxes narrow: sigmoid -> sigma
MIN_GRAPH_FONT = 7.5
"""Points: the smallest font draw_graph accepts; a graph that needs less is refused."""


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of `text` in inches at `size` points, measured from the font's glyphs (no renderer)."""
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    return TextPath((0, 0), text, prop=prop).get_extents().width / 72.0 if text else 0.0


def _node_lines(node: Value, show_grad: bool, digits: int) -> list[tuple[str, str, bool]]:
    """The lines of a node's box: (text, colour, bold): name and operation, value, gradient."""
    name = node.label or ("leaf" if not node._prev else "")
    op = _OP_SYMBOLS.get(node._op, node._op)
    head = f"{name} = {op}" if name and op else (name or op)
    lines = [(head, "black", True), (f"{node.data:.{digits}g}", VALUE_COLOR, False)]
    if show_grad:
        lines.append((f"{node.grad:.{digits}g}", GRAD_COLOR, False))
    return lines


def draw_graph(root: Value, title: str = "", show_grad: bool = True, digits: int = 4,
               width: float = FIGURE_WIDTH) -> Figure:
    """Draws the graph that computed `root`, inputs on the left, the output on the right.

    Each node is a box with its name and operation (bold), its value (red) and, with
    `show_grad`, its gradient d(output)/d(node) (blue), `digits` significant digits each;
    leaves (inputs, weights, constants) are shaded.
    Arrows run from each input's box to the box it feeds and end on the box's edge; a gate
    with several inputs has one entry point per input, so `x * x` shows two arrows. The
    figure is `width` inches wide (the course's width); columns share it, and the font is
    the largest, up to FONT_SIZE + 1, at which every box's text fits inside its box.

    Returns:
        The matplotlib Figure (closed, so a notebook shows it once as the cell's value).

    Raises:
        ValueError: when the graph has more than 80 nodes, or its boxes would need a font
            below MIN_GRAPH_FONT points to fit the width: draw a smaller piece of the graph.
    """
    pos = graph_layout(root)
    if len(pos) > 80:
        raise ValueError(f"draw_graph: the graph has {len(pos)} nodes; pictures stay readable "
                         "up to about 50, so draw a smaller piece of it")
    ncols = 1 + max(c for c, _ in pos.values())
    nrows = max(1, int(round(1 + max(r for _, r in pos.values()))))
    lines = {n: _node_lines(n, show_grad, digits) for n in pos}
    pitch = width / ncols                    # inches per column
    box_w = min(0.75 * pitch, 1.6)
    widest = max(_text_width(t, 10.0, bold) for ls in lines.values() for t, _, bold in ls) / 10.0
    # widest: inches per point of font size; quarter points, so that a font's tiny changes in
    # glyph widths between matplotlib versions rarely change the figure's size
    font = min(FONT_SIZE + 1.0, math.floor(4 * (box_w - 0.12) / widest) / 4)
    if font < MIN_GRAPH_FONT:
        raise ValueError(f"draw_graph: {len(pos)} nodes in {ncols} columns need a {font:.1f}-point font "
                         f"to fit {width:g} inches; draw a smaller piece of the graph, shorten the "
                         "labels, or pass fewer digits")
    line_h = 1.3 * font / 72.0
    box_h = len(lines[root]) * line_h + 0.1
    row_pitch = box_h + 0.3
    top = 0.35 + 0.22 * (title.count("\n") + 1 if title else 0)  # inches above the boxes
    bottom = 0.4                                                    # the legend
    height = round(nrows * row_pitch + top + bottom, 1)
    fig = plt.figure(figsize=(width, height))
    plt.close(fig)  # returned, not shown twice
    ax = fig.add_axes((0.0, bottom / height, 1.0, nrows * row_pitch / height))
    ax.set_xlim(0.0, width)                  # one data unit is one inch
    ax.set_ylim(-nrows * row_pitch, 0.0)
    ax.axis("off")
    centre = {n: ((c + 0.5) * pitch, -(r + 0.5) * row_pitch) for n, (c, r) in pos.items()}
    for node, (x, y) in centre.items():
        inputs = sorted(node._prev, key=lambda c: -centre[c][1])  # top input enters at the top
        ports = np.linspace(0.22, -0.22, len(inputs)) * box_h if len(inputs) > 1 else [0.0]
        for child, dy in zip(inputs, ports):
            cx, cy = centre[child]
            ax.add_patch(FancyArrowPatch((cx + box_w / 2, cy), (x - box_w / 2, y + dy),
                                         arrowstyle="-|>", mutation_scale=11, color="0.4", lw=1.0,
                                         shrinkA=0, shrinkB=0, zorder=1))
    for node, (x, y) in centre.items():
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0,rounding_size=0.06", zorder=2,
                                    fc="0.97" if node._prev else "#fff8e1", ec="0.45", lw=0.9))
        ls = lines[node]
        for i, (text, color, bold) in enumerate(ls):
            ax.text(x, y + ((len(ls) - 1) / 2 - i) * line_h, text, ha="center", va="center",
                    fontsize=font, color=color, fontweight="bold" if bold else "normal", zorder=3)
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE + 1, y=1 - 0.1 / height, va="top")
    handles = [Line2D([], [], ls="", marker="s", color=VALUE_COLOR, label="value of the node")]
    if show_grad:
        handles.append(Line2D([], [], ls="", marker="s", color=GRAD_COLOR, label="d(output)/d(node)"))
    fig.legend(handles=handles, loc="lower center", ncol=2, frameon=False, fontsize=FONT_SIZE)
    return fig


def plot_decision_boundary(ax, predict, X: np.ndarray, y: np.ndarray, steps: int = 60,
                           title: str = "") -> None:
    """Shades the plane by the sign of `predict(points) -> scores` on a steps x steps grid
    and scatters the labelled points X (n, 2) with labels y in {-1, +1} or {0, 1}."""
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
    ax.legend(loc="best", fontsize=FONT_SIZE - 1)  # where it covers the fewest points
    if title:
        ax.set_title(title)


def decision_boundary_figure(predict, X: np.ndarray, y: np.ndarray, steps: int = 60,
                             title: str = "") -> Figure:
    """`plot_decision_boundary` on a figure of its own, with the boundary drawn to scale."""
    span = np.ptp(X, axis=0) + 1.0  # the plotted box: the data and a margin of 0.5 on each side
    width = 0.75 * FIGURE_WIDTH
    height = min(max((width - 1.0) * span[1] / span[0] + 1.1, 0.3 * FIGURE_WIDTH), FIGURE_WIDTH)
    fig, ax = plt.subplots(figsize=(width, height))
    plt.close(fig)
    plot_decision_boundary(ax, predict, X, y, steps=steps, title=title)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$ (input units)")
    ax.set_ylabel("$x_2$ (input units)")
    fig.tight_layout()
    return fig


def training_curves_figure(losses, accuracies, target: float | None = None, title: str = "",
                           step_label: str = "step") -> Figure:
    """Loss (left) and training accuracy (right) against the step, with an optional target
    accuracy as a dashed line. `losses` and `accuracies` hold one number per step."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 0.42 * FIGURE_WIDTH))
    plt.close(fig)
    steps = np.arange(len(losses))
    ax_loss.plot(steps, losses, color=GRAD_COLOR, marker="o", ms=2.5)
    ax_loss.set_ylabel("loss (dimensionless)")
    ax_loss.set_title("training loss")
    ax_acc.plot(steps, accuracies, color=VALUE_COLOR, marker="o", ms=2.5, label="training accuracy")
    if target is not None:
        ax_acc.axhline(target, color="0.5", ls="--", lw=1, label=f"target {target:.0%}")
    ax_acc.set_ylim(0, 1.05)
    ax_acc.set_ylabel("fraction classified right")
    ax_acc.set_title("training accuracy")
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel(step_label)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gradcheck_eps_figure(eps: np.ndarray, errors: np.ndarray, truncation: float, rounding: float,
                         title: str = "") -> Figure:
    """The error of central differences against the step eps (log-log), with the two models
    `truncation * eps**2` and `rounding / eps` as dashed lines and the best eps marked."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 0.55 * FIGURE_WIDTH))
    plt.close(fig)
    best = eps[np.argmin(errors)]
    ax.loglog(eps, errors, "o-", ms=3, color="0.2", label="measured: max |backprop - central difference|")
    ax.loglog(eps, truncation * eps ** 2, "--", color=GRAD_COLOR, label="truncation error ~ eps$^2$")
    ax.loglog(eps, rounding / eps, "--", color=VALUE_COLOR, label="rounding error ~ 1/eps")
    ax.axvline(best, color="0.6", lw=0.8, label="smallest measured error")
    ax.set_ylim(errors.min() / 10, errors.max() * 10)
    ax.set_xlabel("step eps of the central difference (units of the input)")
    ax.set_ylabel("max absolute error of the gradient")
    ax.legend(loc="upper center")  # above the bottom of the V, where the curve is lowest
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
