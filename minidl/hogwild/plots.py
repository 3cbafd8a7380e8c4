"""Pictures for lesson 12: lost updates against sparsity, gossip's spread, loss curves of
allreduce, gossip and local SGD, and what averaging two models gives.

Every function draws one figure from numbers the lesson has already computed and returns it
closed (a notebook shows it once as the cell's value; `minidl.viz.save_figure` writes it), at
most `minidl.viz.FIGURE_WIDTH` wide. Synchronous schemes (a lock, the allreduce) take BSP's
colour and lock-free or asynchronous ones ASP's, as in lessons 09-11.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from minidl.viz import FIGURE_WIDTH, policy_color

__all__ = ["sparsity_figure", "spread_figure", "loss_curves_figure", "local_sgd_figure",
           "averaging_figure", "COLORS"]

COLORS = {"global lock": policy_color("BSP"), "allreduce": policy_color("BSP"),
          "per-block locks": policy_color("SSP"), "no lock": policy_color("ASP"),
          "gossip, ring": "#8172b3", "gossip, random pairs": "#dd8452", "model": "#4c72b0"}
SERIES = ["#4c72b0", "#dd8452", "#8172b3", "#937860", "#17becf", "#2e8b57"]


def _new(ncols: int = 1, height: float = 3.4):
    fig, axes = plt.subplots(1, ncols, figsize=(FIGURE_WIDTH, height))
    plt.close(fig)
    return fig, axes


def _finish(fig: Figure, title: str) -> Figure:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sparsity_figure(sparsity: Sequence[float], lost_per_million: Sequence[float],
                    predicted_per_million: Sequence[float], loss_none: Sequence[float],
                    loss_locked: Sequence[float], workers: int, title: str = "") -> Figure:
    """Left: lost updates per million writes against k / d, simulated and predicted.
    Right: final loss with no lock and with a lock against k / d."""
    fig, (a, b) = _new(2)
    s = np.asarray(sparsity)
    a.loglog(s, np.maximum(lost_per_million, 1e-1), "o-", color=COLORS["no lock"], label="no lock, simulated")
    a.loglog(s, predicted_per_million, "--", color="0.3", label="x / (1 + x), x = (P-1) k/d")
    a.set(xlabel="k / d (share of the weights one step touches)", ylabel="lost updates per million",
          title=f"{workers} workers, no lock")
    a.legend(frameon=False, loc="upper left")
    b.semilogx(s, loss_locked, "s-", color=COLORS["global lock"], label="global lock")
    b.semilogx(s, loss_none, "o-", color=COLORS["no lock"], label="no lock")
    b.set(xlabel="k / d", ylabel="final training loss", title="same steps, same data, same seed")
    b.legend(frameon=False)
    return _finish(fig, title)


def spread_figure(spreads: Mapping[str, Sequence[float]], rates: Mapping[str, float], title: str = "") -> Figure:
    """Spread around the mean against steps (log scale, dots), each with its predicted rate^t as a line."""
    fig, ax = _new(1, 3.6)
    lowest = 1.0
    for color, (label, s) in zip(SERIES, spreads.items()):
        s = np.asarray(s, dtype=float) / s[0]
        t = np.arange(len(s))
        ax.semilogy(t, np.maximum(s, 1e-17), "o", ms=3, color=color, label=label)
        if label in rates and rates[label] > 0:
            ax.semilogy(t, rates[label] ** t, "-", color=color, lw=1, alpha=0.7)
        lowest = min(lowest, s[s > 0].min())
    ax.set(xlabel="gossip step", ylabel="spread / spread at step 0", ylim=(lowest / 10, 2))
    ax.legend(frameon=False, fontsize=8, loc="lower left", ncol=2)
    return _finish(fig, title or "dots: measured; lines: the rate the mixing matrix predicts")


def loss_curves_figure(curves: Mapping[str, tuple], title: str = "", xlabel: str = "step") -> Figure:
    """Loss against steps: curves maps a label to (steps, losses)."""
    fig, ax = _new(1, 3.4)
    for i, (label, (steps, losses)) in enumerate(curves.items()):
        ax.plot(steps, losses, "o-", ms=3, color=COLORS.get(label, SERIES[i % len(SERIES)]), label=label)
    ax.set(xlabel=xlabel, ylabel="training loss (mean over ranks)")
    ax.legend(frameon=False)
    return _finish(fig, title)


def local_sgd_figure(H: Sequence[int], final_loss: Sequence[float], rounds: Sequence[int],
                     title: str = "") -> Figure:
    """Final loss against H (log scale), the number of averaging rounds on a second axis."""
    fig, ax = _new(1, 3.4)
    ax.set_xscale("log", base=2)
    ax.plot(H, final_loss, "o-", color=COLORS["allreduce"], label="final loss")
    ax.set(xlabel="H (local steps between averages)", ylabel="final training loss")
    ax2 = ax.twinx()
    ax2.plot(H, rounds, "s--", color="0.5", label="averaging rounds")
    ax2.set_ylabel("allreduce rounds")
    ax.set_xticks(list(H), [str(h) for h in H])
    ax.minorticks_off()
    ax.legend(handles=ax.get_lines() + ax2.get_lines(), frameon=False, loc="upper center")
    return _finish(fig, title)


def averaging_figure(results: Mapping[str, Mapping[str, float]], title: str = "") -> Figure:
    """Grouped bars: for each case, the loss of model 1, model 2 and their average."""
    fig, ax = _new(1, 3.4)
    cases = list(results)
    kinds = list(next(iter(results.values())))
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        ax.bar(np.arange(len(cases)) + (j - (len(kinds) - 1) / 2) * width,
               [results[c][kind] for c in cases], width, color=SERIES[j], label=kind)
    ax.set_xticks(np.arange(len(cases)), cases, fontsize=8)
    ax.set_ylabel("loss on all the data")
    ax.legend(frameon=False, fontsize=8)
    return _finish(fig, title)
