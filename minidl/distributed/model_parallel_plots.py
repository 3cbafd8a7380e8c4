"""Drawings of lesson 15: pipeline schedules, memory and bytes per rank, and the model's dataflow
graph partitioned across devices. Each function returns a matplotlib Figure at most 8 in wide."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from minidl.distributed.model_parallel.pipeline import stage_bounds
from minidl.nn import Linear
from minidl.tensor import Tensor
from minidl.timeline import plot_timeline

STAGE_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
SPLIT_COLORS = {"data": "#4c72b0", "column": "#dd8452", "row": "#55a868", "pair": "#c44e52",
                "pipeline": "#8172b3"}


def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def schedules_figure(timelines: dict, title: str, unit: str | None = "time units") -> Figure:
    """One Gantt chart per named timeline ({name: Timeline}), stacked, lanes = stages."""
    fig, axes = plt.subplots(len(timelines), 1, figsize=(8, 1.6 + 1.1 * len(timelines)), squeeze=False)
    for ax, (name, tl) in zip(axes[:, 0], timelines.items()):
        plot_timeline(ax, tl, title=name, unit=unit, lane_label="stage", legend_loc=None)
    handles = {}
    for ax in axes[:, 0]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize="small")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    plt.close(fig)
    return fig


def lines_figure(x, ys: dict, xlabel: str, ylabel: str, title: str, logy: bool = True) -> Figure:
    """One line per split ({split: values over x}), in the split's colour."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for name, y in ys.items():
        ax.plot(x, y, "o-", color=SPLIT_COLORS.get(name.split()[0]), label=name)
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    return _done(fig)


def graph_partition_figure(model, x: np.ndarray, S: int, title: str) -> Figure:
    """The Tensor graph of `model` (a Sequential MLP) on input x, each node coloured by the pipeline
    stage of S that computes it (TensorFlow's view: one graph, partitioned across devices).
    Columns are the nodes' depth in the graph; leaves (weights, biases, input) sit above their op."""
    linear = [k for k, m in enumerate(model.layers) if isinstance(m, Linear)]
    stage_of_layer = {}
    for s, (i, j) in enumerate(stage_bounds(len(linear), S)):
        for k in range(linear[i], linear[j] if j < len(linear) else len(model.layers)):
            stage_of_layer[k] = s
    h, stage, names = Tensor(x, dtype=np.float64), {}, {}
    stage[id(h)], names[id(h)] = 0, "x"
    for k, layer in enumerate(model.layers):
        h = layer(h)
        for node in h.topological_order():
            if id(node) not in stage:
                stage[id(node)] = stage_of_layer[k]
                names[id(node)] = node._op or ("W" if node.ndim == 2 else "b")
    order = h.topological_order()
    depth = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node._prev), default=-1)
    fig, ax = plt.subplots(figsize=(8, 2.6))
    user = {id(p): depth[id(n)] for n in order for p in n._prev}  # a leaf sits below the op that reads it
    pos = {id(n): (depth[id(n)], 1.0) if n._prev else (user.get(id(n), 0), 0.0) for n in order}
    for node in order:
        for p in node._prev:
            (x0, y0), (x1, y1) = pos[id(p)], pos[id(node)]
            ax.plot([x0, x1], [y0, y1], color="#999999", lw=0.8, zorder=1)
    for node in order:
        px, py = pos[id(node)]
        ax.scatter([px], [py], s=260, color=STAGE_COLORS[stage[id(node)] % len(STAGE_COLORS)], zorder=2)
        ax.annotate(names[id(node)], (px, py), ha="center", va="center", fontsize=6, color="white", zorder=3)
    for s in range(S):
        ax.scatter([], [], color=STAGE_COLORS[s % len(STAGE_COLORS)], label=f"device {s}")
    ax.set_yticks([0, 1])
    ax.set_yticklabels(["leaves", "ops"])
    ax.set_xticks([])
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("depth in the graph (inputs left, loss right)")
    ax.legend(fontsize="small", ncol=S, loc="upper left")
    ax.set_title(title, fontsize="medium")
    return _done(fig)
