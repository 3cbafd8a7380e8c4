"""Drawings for lesson 14 (gradient compression): one entry waiting in the residual, training
curves at three sparsities, accuracy against bytes sent, and the alpha-beta time of the sparse
allgather against the dense ring.

Every function takes numbers the lesson computed and returns a closed matplotlib Figure at most
`minidl.viz.FIGURE_WIDTH` wide; `minidl.viz.save_figure(fig, name)` saves it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from minidl.viz import FIGURE_WIDTH

MODE_COLORS = {"dense": "0.25", "naive": "#d9822b", "corrected": "#1f5fbf"}
"""One colour per update rule: dense momentum, naive sparse momentum, momentum correction."""


def _done(fig: Figure) -> Figure:
    fig.tight_layout()
    plt.close(fig)
    return fig


def one_entry_figure(ws: dict, title: str) -> Figure:
    """ws: {rule name: positions w_t (T + 1,)} of one weight; a line per rule against the step."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH * 0.75, 3.2))
    for name, w in ws.items():
        ax.step(np.arange(len(w)), w, where="post", color=MODE_COLORS.get(name, None), label=name)
    ax.set_xlabel("step t")
    ax.set_ylabel("weight w_t")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    return _done(fig)


def training_figure(runs: dict, sparsities, title: str) -> Figure:
    """runs: {(mode, sparsity or None): train_compressed's result}; test loss (top) and test
    accuracy (bottom) against the step, one column per sparsity, dense in every column."""
    fig, axes = plt.subplots(2, len(sparsities), figsize=(FIGURE_WIDTH, 5.2), sharex=True, sharey="row",
                             squeeze=False)
    for col, s in enumerate(sparsities):
        for (mode, sparsity), run in runs.items():
            if sparsity not in (None, s):
                continue
            steps, loss, acc = zip(*run["evals"])
            kw = dict(color=MODE_COLORS[mode], label=mode)
            axes[0, col].plot(steps, loss, **kw)
            axes[1, col].plot(steps, 100 * np.array(acc), **kw)
        axes[0, col].set_title(f"sparsity {100 * s:g} %", fontsize="medium")
        axes[1, col].set_xlabel("step")
    axes[0, 0].set_ylabel("test loss")
    axes[1, 0].set_ylabel("test accuracy (%)")
    axes[0, 0].legend(fontsize="small")
    fig.suptitle(title, fontsize="medium")
    return _done(fig)


def accuracy_bytes_figure(runs: dict, title: str) -> Figure:
    """Final test accuracy against total bytes one rank sent (log scale), a point per run,
    labelled with its sparsity."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH * 0.75, 3.6))
    for (mode, sparsity), run in runs.items():
        ax.scatter(sum(run["sent_bytes"]), 100 * run["evals"][-1][2], color=MODE_COLORS[mode],
                   label=mode, zorder=3)
        if sparsity is not None and mode == "corrected":
            ax.annotate(f"{100 * sparsity:g} %", (sum(run["sent_bytes"]), 100 * run["evals"][-1][2]),
                        textcoords="offset points", xytext=(6, -12), fontsize="small")
    handles = dict(zip(*reversed(ax.get_legend_handles_labels())))
    ax.legend(list(handles.values()), list(handles.keys()), fontsize="small", loc="lower right")
    ax.set_xscale("log")
    ax.set_xlabel("bytes one rank sent in the whole run")
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title(title, fontsize="medium")
    return _done(fig)


def cost_figure(density: np.ndarray, sparse: dict, dense: dict, title: str) -> Figure:
    """sparse: {P: sparse allgather time at each density (s)}, dense: {P: ring time (s)};
    log-log, a colour per P, the dense ring dashed."""
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH * 0.75, 3.6))
    for i, P in enumerate(sparse):
        c = f"C{i}"
        ax.loglog(density, 1e3 * np.asarray(sparse[P]), color=c, label=f"sparse allgather, P = {P}")
        ax.axhline(1e3 * dense[P], color=c, ls="--", lw=1, label=f"dense ring, P = {P}")
    ax.set_xlabel("fraction of entries sent, k / n")
    ax.set_ylabel("time per step (ms)")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="x-small", ncol=2)
    return _done(fig)
