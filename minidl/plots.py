"""Pictures of lessons 04 and 05: tensors, training memory, MNIST training.

Each function draws one figure from numbers the lesson has computed and returns the
matplotlib Figure, closed in pyplot so that a notebook shows it once (as the value of a
cell) and `minidl.viz.save_figure(fig, name)` can write it. The lesson keeps the
computation a student reads; the drawing lives here. Every figure is at most
`minidl.viz.FIGURE_WIDTH` wide.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minidl.viz import FIGURE_WIDTH

__all__ = ["MEMORY_COLORS", "RUN_COLORS", "broadcast_gradient", "confusion", "digit_grid",
           "gradient_noise", "learning_curves", "memory_vs_batch"]

MiB = 2**20

MEMORY_COLORS = {"weights": "#1f5fbf", "gradients": "#7fa7e0", "velocity (momentum)": "#b9cdea",
                 "activations": "#c0392b"}
"""Per-weight arrays in blues, what grows with the batch in red."""

RUN_COLORS = ("#1f5fbf", "#c0392b", "#e69f00", "#2e8b57", "0.35")
"""The colours of the runs of a learning-curve figure, in the order they are given."""


def _figure(width: float, height: float, *args, **kwargs):
    fig, axes = plt.subplots(*args, figsize=(min(width, FIGURE_WIDTH), height), **kwargs)
    plt.close(fig)  # returned, not shown twice
    return fig, axes


def broadcast_gradient(b: np.ndarray, g: np.ndarray, grad_b: np.ndarray, title: str = "") -> Figure:
    """Three heat maps: the bias b (out,) copied to every row of g, the upstream gradient
    g = dL/d(a + b) (batch, out), and dL/db (out,), the column sums of g."""
    b, g, grad_b = np.asarray(b), np.asarray(g), np.asarray(grad_b)
    if b.shape != grad_b.shape or g.ndim != 2 or g.shape[1:] != b.shape:
        raise ValueError(f"broadcast_gradient: b {b.shape}, g {g.shape} and dL/db {grad_b.shape} "
                         "must be (out,), (batch, out) and (out,)")
    rows, cols = g.shape
    fig, axes = _figure(FIGURE_WIDTH, 3.0, 1, 3)
    panels = [(np.broadcast_to(b, g.shape), f"forward: b {b.shape}\ncopied to {rows} rows"),
              (g, f"backward: upstream g\n= dL/d(a + b), {g.shape}"),
              (grad_b.reshape(1, -1), f"dL/db {b.shape}:\neach column of g summed")]
    limit = max(float(np.abs(a).max()) for a, _ in panels) or 1.0
    for ax, (data, name) in zip(axes, panels):
        ax.imshow(data, cmap="coolwarm", vmin=-limit, vmax=limit)
        for (r, c), value in np.ndenumerate(data):
            ax.text(c, r, f"{value:g}", ha="center", va="center", fontsize=10,
                    color="white" if abs(value) > 0.7 * limit else "black")
        ax.set_title(name, fontsize=9)
        ax.set_xticks(range(cols), [f"j={j}" for j in range(cols)])
        ax.set_xlabel("column j (output unit)", fontsize=9)
        if data.shape[0] == rows:
            ax.set_yticks(range(rows), [f"n={r}" for r in range(rows)])
        else:
            ax.set_yticks([0], ["sum\nover n"])
    axes[0].set_ylabel("row n (example)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def memory_vs_batch(batches: Sequence[int], fixed: Mapping[str, float], activations: Sequence[float],
                    kept: Sequence[float] | None = None, crossover: int | None = None,
                    title: str = "") -> Figure:
    """Training memory against the batch size: stacked bars (left) and log-log lines (right).

    Args:
        batches: the batch sizes, increasing.
        fixed: bytes that do not depend on the batch, by name (weights, gradients, velocity).
        activations: bytes backward must keep, one per batch size.
        kept: bytes an engine actually keeps alive, one per batch size (dashed), or None.
        crossover: the first batch at which the activations exceed the weights, marked.
    """
    batches = np.asarray(batches)
    acts = np.asarray(activations, dtype=float) / MiB
    if acts.shape != batches.shape or (kept is not None and len(kept) != len(batches)):
        raise ValueError(f"memory_vs_batch: {len(batches)} batch sizes but {len(acts)} activation "
                         f"values{'' if kept is None else f' and {len(kept)} kept values'}")
    fig, (ax_bar, ax_log) = _figure(FIGURE_WIDTH, 4.4, 1, 2)
    pos, bottom = np.arange(len(batches)), np.zeros(len(batches))
    for name, nbytes in fixed.items():
        ax_bar.bar(pos, nbytes / MiB, bottom=bottom, color=MEMORY_COLORS.get(name, "0.6"), label=name)
        bottom += nbytes / MiB
    ax_bar.bar(pos, acts, bottom=bottom, color=MEMORY_COLORS["activations"],
               label="activations kept for backward")
    ax_bar.set_xticks(pos, [str(b) for b in batches], rotation=90, fontsize=8)
    ax_bar.set_xlabel("batch size (images)")
    ax_bar.set_ylabel("memory (MiB)")
    ax_bar.set_title("stacked")
    weights = next(iter(fixed.values())) / MiB
    ax_log.loglog(batches, acts, "o-", ms=4, color=MEMORY_COLORS["activations"])
    if kept is not None:
        ax_log.loglog(batches, np.asarray(kept, dtype=float) / MiB, "--",
                      color=MEMORY_COLORS["activations"], alpha=0.6, label="all the graph keeps beyond the weights")
    ax_log.axhline(weights, color=MEMORY_COLORS["weights"])
    ax_log.text(batches[0], weights * 1.3, "weights = gradients = velocity", fontsize=8,
                color=MEMORY_COLORS["weights"])
    if crossover is not None:
        ax_log.axvline(crossover, color="0.4", ls=":", label=f"crossover: batch {crossover}")
    ticks = [int(b) for b in batches if np.log2(b) % 2 == 0]
    ax_log.set_xticks(ticks, [str(t) for t in ticks], fontsize=8)
    ax_log.set_xlabel("batch size (images, log scale)")
    ax_log.set_ylabel("memory (MiB, log scale)")
    ax_log.set_title("activations grow, weights do not")
    handles, labels = ax_bar.get_legend_handles_labels()
    more, more_labels = ax_log.get_legend_handles_labels()
    fig.legend(handles + more, labels + more_labels, loc="lower center", ncol=3, fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def digit_grid(images: np.ndarray, labels: Sequence[int], ncols: int = 4, title: str = "") -> Figure:
    """The images (n, 28, 28), uint8 with 0 = background, in a grid with their labels."""
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"digit_grid: images {images.shape} and {len(labels)} labels; "
                         "expected (n, height, width) images and n labels, n >= 1")
    nrows = -(-len(images) // ncols)
    fig, axes = _figure(1.3 * ncols, 1.45 * nrows + 0.6, nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(images):
            ax.imshow(images[k], cmap="gray_r", vmin=0, vmax=255)
            ax.set_title(f"label {labels[k]}", fontsize=9)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _running_mean(x: np.ndarray, k: int) -> np.ndarray:
    return np.convolve(x, np.ones(k) / k, mode="valid")


def learning_curves(runs: Mapping[str, tuple[Sequence[float], Sequence[float]]],
                    steps_per_epoch: int, batch_size: int, window: int = 20,
                    title: str = "") -> Figure:
    """Training loss per step (faint, with a running mean of `window`) and test accuracy
    after each epoch, one colour per run.

    Args:
        runs: name -> (loss of every step, test accuracy before training and after each epoch).
    """
    if len(runs) > len(RUN_COLORS):
        raise ValueError(f"learning_curves: {len(runs)} runs; at most {len(RUN_COLORS)} colours")
    fig, (ax_loss, ax_acc) = _figure(FIGURE_WIDTH, 3.9, 1, 2)
    for color, (name, (loss, acc)) in zip(RUN_COLORS, runs.items()):
        loss = np.asarray(loss, dtype=float)
        steps = np.arange(1, len(loss) + 1)
        ax_loss.plot(steps, loss, color=color, alpha=0.15, lw=0.8)
        if len(loss) >= window:
            ax_loss.plot(steps[window - 1:], _running_mean(loss, window), color=color, lw=1.6,
                         label=name)
        ax_acc.plot(np.arange(1, len(acc)), acc[1:], "o-", ms=4, color=color, label=name)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel(f"SGD step (batches of {batch_size};\n{steps_per_epoch} steps = 1 epoch)")
    ax_loss.set_ylabel("training loss (nats, log scale)")
    ax_loss.set_title(f"loss per step (faint), mean of {window}", fontsize=10)
    ax_loss.legend(loc="upper right", fontsize=8)
    n_epochs = max(len(acc) for _, acc in runs.values()) - 1
    ax_acc.set_xticks(range(1, n_epochs + 1))
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy (fraction)")
    ax_acc.set_title("test accuracy after each epoch", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def gradient_noise(batch_sizes: Sequence[int], noise: Sequence[float], tr_sigma: float,
                   signal: float, title: str = "") -> Figure:
    """Measured mean |g_B - g|^2 against B on log-log axes, the reference tr(Sigma)/B, the
    signal |g|^2 and B_noise = tr(Sigma)/|g|^2 where the two cross."""
    batch_sizes, noise = np.asarray(batch_sizes, dtype=float), np.asarray(noise, dtype=float)
    if batch_sizes.shape != noise.shape:
        raise ValueError(f"gradient_noise: {len(batch_sizes)} batch sizes, {len(noise)} values")
    b_noise = tr_sigma / signal
    fig, ax = _figure(6.4, 4.2)
    ax.loglog(batch_sizes, noise, "o", color="#c0392b", ms=7, label=r"measured mean $\|g_B - g\|^2$")
    line = np.logspace(0, np.log10(batch_sizes.max()), 50)
    ax.loglog(line, tr_sigma / line, "--", color="0.3", label=r"$\mathrm{tr}\,\Sigma / B$ (slope $-1$)")
    ax.axhline(signal, color="#1f5fbf", lw=1.2, label=r"signal $\|g\|^2$")
    ax.axvline(b_noise, color="#1f5fbf", ls=":", lw=1.2,
               label=rf"$B_{{noise}} = \mathrm{{tr}}\,\Sigma / \|g\|^2 \approx {b_noise:.0f}$")
    ax.set_xticks(batch_sizes, [f"{b:g}" for b in batch_sizes])
    ax.minorticks_off()
    ax.set_xlabel("batch size B (images, log scale)")
    ax.set_ylabel(r"$\|g_B - g\|^2$ (log scale)")
    ax.legend(fontsize=8, loc="lower left")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def confusion(counts: np.ndarray, boxed: Sequence[tuple[int, int]] = (), title: str = "") -> Figure:
    """The confusion matrix counts[true, predicted] with every non-zero count written in,
    and the (true, predicted) cells of `boxed` outlined in red."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"confusion: counts has shape {counts.shape}; expected (classes, classes)")
    n = len(counts)
    fig, ax = _figure(6.0, 5.4)
    im = ax.imshow(counts, cmap="Blues")
    dark = 0.5 * counts.max()
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize=8,
                    color="white" if c > dark else "black")
    for t, p in boxed:
        ax.add_patch(Rectangle((p - 0.5, t - 0.5), 1, 1, fill=False, ec="#c0392b", lw=2))
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.colorbar(im, ax=ax, shrink=0.8, label="test images")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
