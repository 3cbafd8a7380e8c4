"""Lessons 04-05's pictures: each function draws from plain numbers, returns a Figure no wider
than the course's width, and refuses inputs whose shapes do not fit together."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.figure import Figure

from minidl import plots
from minidl.viz import FIGURE_WIDTH


def _fits(fig):
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] <= FIGURE_WIDTH
    fig.canvas.draw()  # the whole figure renders


def _texts(fig):
    return {t.get_text() for ax in fig.axes for t in ax.texts}


def test_broadcast_gradient_writes_every_entry_and_the_column_sums():
    b = np.array([0.5, -1.0, 2.0])
    g = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0], [2.0, 0.0, 1.0], [-1.0, 1.0, 1.0]])
    fig = plots.broadcast_gradient(b, g, g.sum(axis=0), title="dL/db sums g over the batch")
    _fits(fig)
    assert len(fig.axes) == 3 and {"2", "5", "-1", "0.5"} <= _texts(fig)
    with pytest.raises(ValueError, match="broadcast_gradient"):
        plots.broadcast_gradient(b, g.T, b)


def test_memory_vs_batch_stacks_the_fixed_arrays_under_the_activations():
    batches = 2 ** np.arange(6)
    fixed = {"weights": 4e6, "gradients": 4e6, "velocity (momentum)": 4e6}
    acts = 15_424.0 * batches
    fig = plots.memory_vs_batch(batches, fixed, acts, kept=acts * 1.4, crossover=16, title="t")
    _fits(fig)
    bars = fig.axes[0].patches
    assert len(bars) == 4 * len(batches)
    top = max(p.get_y() + p.get_height() for p in bars)
    assert top == pytest.approx((3 * 4e6 + acts[-1]) / 2**20)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "crossover: batch 16" in labels and "all the graph keeps beyond the weights" in labels
    with pytest.raises(ValueError, match="memory_vs_batch"):
        plots.memory_vs_batch(batches, fixed, acts[:-1])


def test_digit_grid_titles_each_image_with_its_label():
    images = np.zeros((6, 28, 28), dtype=np.uint8)
    fig = plots.digit_grid(images, [3, 1, 4, 1, 5, 9], ncols=4)
    _fits(fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:6] == ["label 3", "label 1", "label 4", "label 1", "label 5", "label 9"]
    assert len(fig.axes) == 8  # two empty cells complete the second row
    with pytest.raises(ValueError, match="digit_grid"):
        plots.digit_grid(images, [1, 2])


def test_learning_curves_draw_one_accuracy_line_per_run():
    rng = np.random.default_rng(0)
    runs = {f"run {k}": (rng.random(100) + 0.1, [0.1, 0.8, 0.85, 0.9]) for k in range(3)}
    fig = plots.learning_curves(runs, steps_per_epoch=34, batch_size=64, title="t")
    _fits(fig)
    ax_acc = fig.axes[1]
    assert [line.get_label() for line in ax_acc.lines] == list(runs)
    assert list(ax_acc.lines[0].get_xdata()) == [1, 2, 3]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == list(runs)
    with pytest.raises(ValueError, match="learning_curves"):
        plots.learning_curves({str(k): ([1.0], [0.1, 0.2]) for k in range(9)}, 1, 1)


def test_gradient_noise_marks_where_noise_meets_signal():
    B = np.array([1, 4, 16, 64])
    fig = plots.gradient_noise(B, 200.0 / B, tr_sigma=200.0, signal=2.0)
    _fits(fig)
    ax = fig.axes[0]
    vertical = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert vertical and vertical[0].get_xdata()[0] == pytest.approx(100.0)
    assert list(ax.get_xticks()) == [1, 4, 16, 64]
    with pytest.raises(ValueError, match="gradient_noise"):
        plots.gradient_noise(B, [1.0], 1.0, 1.0)


def test_confusion_writes_the_nonzero_counts_and_boxes_the_given_cells():
    counts = np.diag([9, 8, 7])
    counts[2, 1] = 3
    fig = plots.confusion(counts, boxed=[(2, 1)], title="t")
    _fits(fig)
    assert _texts(fig) == {"9", "8", "7", "3"}
    assert len(fig.axes[0].patches) == 1
    with pytest.raises(ValueError, match="confusion"):
        plots.confusion(np.zeros((2, 3)))
