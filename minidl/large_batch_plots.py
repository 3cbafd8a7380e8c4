"""Pictures of lesson 13 (large batches) and of `python -m minidl.bench.large_batch`.

Each function draws one figure from numbers the lesson has computed and returns the
matplotlib Figure, closed in pyplot so that a notebook shows it once and
`minidl.viz.save_figure(fig, name)` can write it. At most `minidl.viz.FIGURE_WIDTH` wide.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from minidl.viz import FIGURE_WIDTH

__all__ = ["RECIPE_COLORS", "accuracy_vs_batch", "gemm_time_per_example", "gradient_cosine"]

RECIPE_COLORS = {"fixed rate": "0.35", "linear scaling": "#1f5fbf", "linear + warmup": "#e69f00",
                 "LARS": "#2e8b57"}
"""One colour per large-batch recipe."""


def _figure(width: float, height: float, *args, **kwargs):
    fig, axes = plt.subplots(*args, figsize=(min(width, FIGURE_WIDTH), height), **kwargs)
    plt.close(fig)
    return fig, axes


def _log_batch_axis(ax, batches: Sequence[int], label: str) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(batches), [f"{b:g}" for b in batches])
    ax.minorticks_off()
    ax.set_xlabel(label)


def gradient_cosine(lags: Sequence[int], curves: Mapping[str, Sequence[float]], title: str = "") -> Figure:
    """cos(g(w_t), g(w_{t+j})) against the lag j, one curve per starting step t (label -> values)."""
    fig, ax = _figure(6.4, 3.8)
    for (label, cos), color in zip(curves.items(), ("#c0392b", "#e69f00", "#1f5fbf", "#2e8b57")):
        ax.plot(lags, cos, "o-", ms=3, color=color, label=label)
    ax.set_xlabel("steps later, j")
    ax.set_ylabel(r"cosine of $\nabla L(w_t)$ and $\nabla L(w_{t+j})$")
    ax.set_ylim(top=1.02)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_vs_batch(batches: Sequence[int], accuracy: Mapping[str, Sequence[float]],
                      reference: float | None = None, spread: Mapping[str, tuple] | None = None,
                      title: str = "") -> Figure:
    """Test accuracy against the global batch (log axis), one line per recipe; the band
    `reference` minus one point when given; `spread` (low, high) per recipe as error bars."""
    fig, ax = _figure(7.2, 4.4)
    for name, acc in accuracy.items():
        acc = np.asarray(acc, dtype=float)
        color = RECIPE_COLORS.get(name, None)
        ax.plot(batches, acc, "o-", color=color, label=name)
        if spread and name in spread:
            low, high = (np.asarray(a, dtype=float) for a in spread[name])
            ax.fill_between(batches, low, high, color=color, alpha=0.15, lw=0)
    if reference is not None:
        ax.axhspan(reference - 0.01, reference, color="0.85", zorder=0,
                   label=f"within one point of {reference:.3f}")
    _log_batch_axis(ax, batches, "global batch (images per step, log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def gemm_time_per_example(batches: Sequence[int], microseconds: Sequence[float], title: str = "") -> Figure:
    """Measured time per example of one layer's forward and backward against the per-worker batch."""
    fig, ax = _figure(6.4, 3.8)
    ax.loglog(batches, microseconds, "o-", color="#c0392b")
    _log_batch_axis(ax, batches, "per-worker batch (log scale)")
    ax.set_ylabel("time per example (µs, log scale)")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
