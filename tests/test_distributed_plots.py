"""Each drawing of lessons 06-08 runs on small inputs and returns a closed Figure."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minidl import distributed as dist  # noqa: E402
from minidl.distributed import plots  # noqa: E402
from minidl.reference import LINKS  # noqa: E402
from minidl.timeline import Span, Timeline  # noqa: E402
from minidl.viz import FIGURE_WIDTH  # noqa: E402


def _is_course_figure(fig):
    assert isinstance(fig, Figure)
    assert fig.get_size_inches()[0] <= FIGURE_WIDTH + 1e-9
    return True


def test_pipeline_draws_each_schedule():
    tl = Timeline()
    tl.record(0, "forward", 0, 1)
    tl.record(1, "forward", 1, 2)
    tl.record(0, "idle (bubble)", 1, 2)
    labels = [(0, 0, 1, "forward", "0"), (1, 1, 2, "forward", "0")]
    fig = plots.plot_pipeline([(1, tl, labels, 2.0), (2, tl, labels, 2.0)], S=2, work_per_stage=lambda m: 3 * m)
    assert _is_course_figure(fig) and len(fig.axes) == 2
    assert fig.legends, "the legend goes under the plots"


def test_allreduce_costs_and_domain_bars():
    link = LINKS["100 Gb InfiniBand"]
    algorithms = {"ring": dist.ring_time, "recursive doubling": dist.recursive_doubling_time,
                  "naive": dist.naive_time, "param. server": dist.parameter_server_time}
    fig = plots.plot_allreduce_costs(algorithms, (4, 16), link.alpha, link.beta, {4: 1.5e5, 16: 2.3e5},
                                     3.7e6, link.name)
    assert _is_course_figure(fig) and len(fig.axes) == 2
    fig = plots.plot_domain_vs_batch([2e-5, 3e-5], [1e-5, 4e-5], ["layer 1", "layer 2"], "title")
    assert _is_course_figure(fig)


def test_strong_scaling_draws_fit_and_predictions():
    n = np.array([8, 512, 32768, 2097152], dtype=float)
    fit = dist.fit_alpha_beta(n, 2e-6 + n * 2e-10)
    link = LINKS["100 Gb InfiniBand"]
    Ps = np.arange(1, 9)
    ref = dist.strong_scaling(0.1, 3.7e6, Ps, link.alpha, link.beta)
    meas = dist.strong_scaling(0.1, 3.7e6, Ps, fit.alpha, fit.beta)
    fig = plots.plot_strong_scaling(n, 2e-6 + n * 2e-10, fit, link, Ps, ref, meas, "title")
    assert _is_course_figure(fig) and len(fig.axes) == 3


def test_lesson07_drawings():
    losses = {P: np.linspace(2.3, 0.4, 10) for P in (1, 2, 4)}
    assert _is_course_figure(plots.plot_same_steps(losses, batch=128))
    rows = [(1000, 8000, 2e-4, 2e-5, True), (10_000, 80_000, 4e-4, 8e-5, True)]
    assert _is_course_figure(plots.plot_pickle_vs_buffer(rows, 407_120, predicted=[1e-6, 9e-6]))
    spans = []
    for lane in (0, 1):
        t = 0.0
        for _ in range(6):
            for kind, d in (("compute", 1e-3), ("allreduce", 2e-3), ("step", 5e-4)):
                spans.append(Span(lane, kind, t, t + d))
                t += d
    fig = plots.plot_step_timeline(spans, zoom_steps=(2, 4))
    assert _is_course_figure(fig) and fig.legends


def test_ring_steps_traffic_and_measured_allreduce():
    P, n = 4, 10
    bounds = dist.chunk_bounds(n, P)
    _, snapshots = dist.simulate_ring([np.full(n, 2.0 ** r) for r in range(P)])
    assert _is_course_figure(plots.plot_ring_steps(snapshots, dist.ring_schedule(P), bounds))
    Ps = np.arange(2, 9)
    fig = plots.plot_traffic_vs_P({"ring": (Ps, 2 * (Ps - 1) / Ps), "naive": (Ps, Ps - 1.0)},
                                  {"ring": (Ps, Ps * 1e-3)}, Ps, "title", "time")
    assert _is_course_figure(fig)
    nbytes = np.array([8e3, 8e5])
    fig = plots.plot_measured_allreduce(nbytes, {"ring": [1e-5, 1e-3]}, {"ring": [5e-6, 5e-4]})
    assert _is_course_figure(fig)


def test_overlap_drawings_and_last_steps():
    tl_plain, step_one, plain = dist.simulate_overlap([1e-3, 2e-3], [800, 8000], 1 << 30, 1e-5, 1e-9, 4,
                                                      forward_time=1e-3)
    tl_over, step_over, _ = dist.simulate_overlap([1e-3, 2e-3], [800, 8000], 1, 1e-5, 1e-9, 4,
                                                  forward_time=1e-3)
    fig = plots.plot_overlap_predicted(tl_plain, tl_over, plain, step_over, 4e-3, "title")
    assert _is_course_figure(fig) and fig.legends
    rows = [(1, 2, step_over, plain), (1 << 30, 1, plain, plain)]
    assert _is_course_figure(plots.plot_bucket_sweep(rows, 3e-3, "title"))

    spans = []
    for k in range(4):                          # 4 steps of forward, backward, 2 buckets, wait on 2 ranks
        t = 10.0 * k
        for r in (0, 1):
            spans += [Span(f"rank {r}", "forward", t, t + 1), Span(f"rank {r}", "backward", t + 1, t + 3),
                      Span(f"rank {r} comm", "allreduce", t + 2, t + 4),
                      Span(f"rank {r} comm", "allreduce", t + 3, t + 5), Span(f"rank {r}", "wait", t + 3, t + 5)]
    last = plots.last_steps(spans, k=3, per_bucket=True, n_buckets=2)
    assert {s.lane for s in last} >= {"rank 0 bucket 0", "rank 0 bucket 1", "rank 1 bucket 1"}
    assert min(s.start for s in last) == pytest.approx(0.0)          # ms from the third-last forward
    plain_spans = plots.last_steps(spans, k=3)
    fig = plots.plot_overlap_measured({"plain": plain_spans, "overlap": last}, "title")
    assert _is_course_figure(fig) and fig.legends
