"""The drawing helpers of lessons 09-11: each one runs on real results and returns a Figure
no wider than the course's width, with the consistency models in their course colours."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.figure import Figure

from minidl.distributed import parameter_server_time, ring_time
from minidl.ps import (
    ASP,
    BSP,
    SSP,
    ComputeTime,
    ConSGD,
    DynSGD,
    KeyLayout,
    ParameterServer,
    moons_task,
    plots,
    simulate,
)
from minidl.reference import LINKS
from minidl.viz import FIGURE_WIDTH, policy_color


@pytest.fixture(scope="module")
def runs():
    task = moons_task(n=64, hidden=(4,), batch=8)
    return {name: simulate(task, p, n_workers=3, updates=30, compute=ComputeTime(0.01, (1, 1, 2), jitter=0.5))
            for name, p in (("BSP", BSP()), ("SSP(3)", SSP(3)), ("ASP", ASP()))}


def _ok(fig):
    assert isinstance(fig, Figure)
    assert fig.get_figwidth() <= FIGURE_WIDTH + 1e-9
    return fig


def _line_colors(fig):
    return {mcolors.to_hex(line.get_color()) for ax in fig.axes for line in ax.get_lines()}


def test_lesson09_figures_run():
    layout = KeyLayout([3, 3, 5, 5])
    servers = {S: ParameterServer(layout, n_shards=S) for S in (1, 2)}
    _ok(plots.key_layout_figure(layout, servers, title="keys"))
    load = {1: np.array([100.0]), 2: np.array([52.0, 48.0])}
    fig = _ok(plots.shard_load_figure(load, 4, 1e6, LINKS["10 GbE"], parameter_server_time, ring_time))
    assert len(fig.axes) == 2
    gbps = {(op, w, s): 1.0 + w / s for op in ("push", "pull") for w in (1, 2) for s in (1, 2)}
    _ok(plots.throughput_figure(gbps, (1, 2), (1, 2), 8))


def test_range_push_pull_figure_runs(runs):
    byb = {1: runs["BSP"], 2: runs["SSP(3)"]}
    _ok(plots.range_push_pull_figure(byb, {1: "full", 2: "half"}, 1.0, {1: 10.0, 2: 5.0}, {1: 1e6, 2: 1e6}))


def test_lesson10_figures_use_the_policy_colours(runs):
    _ok(plots.policy_rule_figure([BSP(), SSP(2), ASP()]))
    _ok(plots.timelines_figure(runs, window=0.05, title="t"))
    fig = _ok(plots.loss_curves_figure(runs, target=1.0))
    assert {policy_color(n) for n in runs} <= _line_colors(fig)
    _ok(plots.updates_over_time_figure({"a": runs, "b": {"BSP": runs["BSP"]}}, target=1.0, xmax=1.0))
    _ok(plots.sweep_figure(["0", "1", "inf"], [1.0, 0.8, 0.5], [30, 32, 35], 1.0))
    gaps = {n: np.array([0, 1, 2, 2]) for n in runs}
    _ok(plots.staleness_figure(runs, gaps, bound=("bound", 4)))


def test_lesson11_figures_run(runs):
    gaps = [1, 2, 4]
    stale = {4: np.array([0, 1, 3, 5, 2]), 8: np.array([3, 7, 9, 12])}
    _ok(plots.staleness_distribution_figure(stale, gaps, [6.9, 6.5, 6.2], [7, 14, 28], [7, 7, 7], K=8))
    per_seed = {w: {n: [[1, 2, 3], [2, 3, 4]] for n in runs} for w in ("updates_to", "time_to")}
    mean = {w: {n: [1.5, 2.5, 3.5] for n in runs} for w in ("updates_to", "time_to")}
    fig = _ok(plots.heterogeneity_figure(gaps, per_seed, mean, 1.0))
    assert {policy_color(n) for n in runs} <= _line_colors(fig)
    shares = {"gap 1": np.full(10, 0.1), "gap 8": np.linspace(0.05, 0.15, 10)}
    _ok(plots.skew_figure(shares, gaps, {"iid": [[1, 2, 3]]}, {"iid": [1, 2, 3]}, 1.0))
    _ok(plots.schemes_figure({"ConSGD(0.1)": runs["ASP"], "DynSGD(0.1)": runs["SSP(3)"]}, 1.0))
    _ok(plots.rate_range_figure([0.1, 0.2, 0.4], {"ConSGD": [10, 20, np.inf], "DynSGD": [30, 20, 10]}, 50, 1.0))
    assert ConSGD(0.1)(3) == 0.1 and DynSGD(0.4)(3) == 0.1
