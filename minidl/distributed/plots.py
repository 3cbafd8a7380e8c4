"""Drawings for lessons 06-08: the pipeline bubble, allreduce costs, halos against the
allreduce, strong scaling, data-parallel runs, the ring's steps and bucketed overlap.

Every function takes numbers the lesson computed and returns a matplotlib Figure, closed
so that pyplot does not show it twice: a notebook shows it as a cell's value, and
`minidl.viz.save_figure(fig, name)` saves it. Widths stay within `minidl.viz.FIGURE_WIDTH`.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from minidl.timeline import Span, Timeline, plot_timeline
from minidl.viz import FIGURE_WIDTH

W = FIGURE_WIDTH
ALGORITHM_COLORS = {"ring": "#1f5fbf", "recursive doubling": "#2ca02c", "naive": "#c0392b",
                    "param. server": "#8c564b", "MPI Allreduce": "0.25"}
"""One colour per allreduce algorithm, the same in lessons 06, 07 and 08."""


def _done(fig: Figure, legend_below=None) -> Figure:
    """Lays the figure out and closes it; with legend_below (a list of axes), one legend of
    all their labels goes under the plots, where it can hide no bar."""
    if legend_below is None:
        fig.tight_layout()
    else:
        handles = {}
        for ax in legend_below:
            for h, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, h)
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center", ncol=len(handles),
                   fontsize="small", frameon=False)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
    plt.close(fig)
    return fig


# ---------------------------------------------------------------- lesson 06

def plot_pipeline(runs, S: int, work_per_stage) -> Figure:
    """GPipe schedules as Gantt charts, one panel per run.

    Args:
        runs: (m, timeline, labels, makespan) per panel; labels are (stage, start, end,
            kind, text) for the busy spans, as `gpipe_schedule` returns them.
        S: the number of stages.
        work_per_stage: function m -> busy time of one stage (in t_f).
    """
    fig, axes = plt.subplots(len(runs), 1, figsize=(W, 2.3 * len(runs) + 0.6), sharex=True)
    axes = np.atleast_1d(axes)
    xmax = max(makespan for *_, makespan in runs)
    for ax, (m, tl, labels, makespan) in zip(axes, runs):
        plot_timeline(ax, tl, lane_label="stage", unit=None, colors={"idle (bubble)": "#e4e4e4"},
                      legend_loc=None)
        for lane, t0, t1, kind, text in labels:
            ax.text((t0 + t1) / 2, lane, text, ha="center", va="center", fontsize=7,
                    color="black" if kind == "forward" else "white")
        bubble = (S - 1) / (m + S - 1)
        ax.set_title(f"m = {m}: makespan {makespan:.0f} t_f for {work_per_stage(m):.0f} t_f of work "
                     f"per stage, bubble {bubble:.0%}")
        ax.set_xlim(0, xmax)
    axes[-1].set_xlabel("time (forward times t_f of one micro-batch on one stage)")
    fig.suptitle(f"GPipe, S = {S} stages, t_b = 2 t_f: the bubble (S-1)/(m+S-1) shrinks as m grows")
    return _done(fig, legend_below=axes)


def plot_allreduce_costs(algorithms: dict, Ps, alpha: float, beta: float, n_star: dict,
                         marker_bytes: float, link_name: str) -> Figure:
    """Predicted allreduce time against message size, one panel per P.

    Args:
        algorithms: name -> f(n, P, alpha, beta), the cost model's functions.
        n_star: P -> the ring / recursive-doubling crossover in bytes (a dashed line).
        marker_bytes: a size to mark (the MNIST gradient).
    """
    n_grid = np.logspace(0, 9, 200)
    fig, axes = plt.subplots(1, len(Ps), figsize=(W, 3.8), sharey=True)
    styles = {"naive": "--", "param. server": ":"}
    for ax, P in zip(np.atleast_1d(axes), Ps):
        for name, fn in algorithms.items():
            ax.loglog(n_grid, fn(n_grid, P, alpha, beta), color=ALGORITHM_COLORS.get(name, "0.5"),
                      ls=styles.get(name, "-"), lw=2, label=name)
        ax.axvline(n_star[P], color="black", lw=0.8, ls="--")
        ax.text(n_star[P] / 1.2, 2e-1, f"n* = {n_star[P] / 1e3:.0f} kB", fontsize=8, ha="right")
        ax.axvline(marker_bytes, color="#8172b3", lw=0.8)
        ax.text(marker_bytes * 1.2, 2e-5, "MNIST\ngradient", fontsize=8, color="#8172b3")
        ax.set_xlabel("message size n per rank (bytes)")
        ax.set_title(f"P = {P} ranks")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("allreduce time (s)")
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"{link_name}: recursive doubling wins below n*, the ring above;\n"
                 "naive and one-shard parameter server grow linearly with P")
    return _done(fig)


def plot_domain_vs_batch(halos, allreduces, layer_labels, title: str) -> Figure:
    """Bars of each layer's halo exchange time against its weight-gradient allreduce (seconds)."""
    idx = np.arange(1, len(halos) + 1)
    fig, ax = plt.subplots(figsize=(W, 3.8))
    ax.bar(idx - 0.2, np.array(halos) * 1e6, width=0.4, color="#55a868",
           label="halos, forward + backward (domain only)")
    ax.bar(idx + 0.2, np.array(allreduces) * 1e6, width=0.4, color="#dd8452",
           label="weight-gradient allreduce (batch and domain)")
    ax.set_yscale("log")
    ax.set_xticks(idx)
    ax.set_xticklabels(layer_labels, fontsize=8)
    ax.set_ylabel("communication per step (us, log)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    return _done(fig)


def plot_strong_scaling(pp_sizes, pp_seconds, fit, ref_link, Ps, reference: dict, measured: dict,
                        title: str) -> Figure:
    """Left: ping-pong points, the fitted line and the reference link's line. Middle and right:
    speedup and efficiency predicted from the reference link and from the fit
    (`strong_scaling` dicts)."""
    fig, (ax_fit, ax_sp, ax_eff) = plt.subplots(1, 3, figsize=(W, 3.4))
    ax_fit.loglog(pp_sizes, np.asarray(pp_seconds) * 1e6, "o", color="#1f5fbf", ms=4, label="measured")
    n_line = np.logspace(np.log10(min(pp_sizes)), np.log10(max(pp_sizes)), 100)
    ax_fit.loglog(n_line, fit.time(n_line) * 1e6, color="#c0392b", label="fit")
    ax_fit.loglog(n_line, ref_link.time(n_line) * 1e6, color="0.5", ls=":", label=ref_link.name)
    ax_fit.set_xlabel("message size n (bytes)")
    ax_fit.set_ylabel("one-way time (us)")
    ax_fit.set_title("ping-pong, 2 ranks", fontsize=9)
    ax_fit.legend(fontsize=7)
    for ax, key in ((ax_sp, "speedup"), (ax_eff, "efficiency")):
        ideal = Ps if key == "speedup" else np.ones_like(Ps)
        ax.plot(Ps, ideal, color="black", lw=1, ls="--", label="ideal")
        ax.plot(Ps, reference[key], color="#c0392b", lw=2, label=ref_link.name)
        ax.plot(Ps, measured[key], color="#1f5fbf", lw=2, ls="--", label="fitted alpha, beta")
        ax.set_xlabel("workers P")
        ax.set_title(key, fontsize=9)
        ax.grid(alpha=0.3)
    ax_eff.set_ylim(0, 1.05)
    ax_sp.legend(fontsize=7)
    fig.suptitle(title)
    return _done(fig)


# ---------------------------------------------------------------- lesson 07

def plot_same_steps(losses: dict, batch: int) -> Figure:
    """Loss curves of runs on P ranks (P -> array of losses), and |L_P - L_1| on a log axis."""
    fig, (ax, ax_diff) = plt.subplots(1, 2, figsize=(W, 3.4))
    steps = np.arange(len(losses[1]))
    styles = [dict(lw=5, alpha=0.35), dict(lw=2, ls="--"), dict(lw=1, ls=":", marker=".", ms=4)]
    for (P, curve), style in zip(sorted(losses.items()), styles):
        ax.plot(steps, curve, label=f"P = {P}, b = {batch // P}", **style)
    ax.set_xlabel(f"step (B = {batch})")
    ax.set_ylabel("training loss")
    ax.set_title("the loss curves coincide", fontsize=9)
    ax.legend(fontsize=8)
    floor = 1e-18                                   # an exact 0 is drawn at the floor
    for P, marker in zip([P for P in sorted(losses) if P != 1], "ox+"):
        ax_diff.semilogy(steps, np.maximum(np.abs(losses[P] - losses[1]), floor), marker, ms=4,
                         label=f"P = {P}")
    ax_diff.axhline(1e-12, color="k", ls="--", lw=1, label="1e-12")
    ax_diff.set_ylim(floor / 3, 1e-9)
    ax_diff.set_xlabel("step")
    ax_diff.set_ylabel("|L_P - L_1| (0 drawn at 1e-18)")
    ax_diff.set_title("they differ by rounding only", fontsize=9)
    ax_diff.legend(loc="upper left", fontsize=7)
    fig.suptitle(f"1, 2 and 4 ranks take the same {len(steps)} SGD steps (784-64-10, float64)")
    return _done(fig)


def plot_pickle_vs_buffer(rows, marker_bytes: int, predicted=None) -> Figure:
    """Measured medians of pickled and buffer allreduce, rows (n, bytes, t_pickle, t_buffer, ...);
    `predicted`, seconds per row, draws the alpha-beta model's line."""
    nbytes = np.array([row[1] for row in rows])
    fig, ax = plt.subplots(figsize=(W * 0.8, 3.8))
    ax.loglog(nbytes, [row[2] for row in rows], "o-", color="#c44e52", label="comm.allreduce: pickled")
    ax.loglog(nbytes, [row[3] for row in rows], "s-", color="#4c72b0", label="comm.Allreduce: buffer")
    if predicted is not None:
        ax.loglog(nbytes, predicted, "--", color="0.4", label="model, shared-memory link")
    ax.axvline(marker_bytes, color="gray", ls=":", label=f"the 784-64-10 gradient ({marker_bytes:,d} B)")
    ax.set_xlabel("array size (bytes, float64)")
    ax.set_ylabel("time per allreduce, 2 ranks (s)")
    ax.set_title("Pickling adds copies and Python work to every allreduce (an example run)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return _done(fig)


def plot_step_timeline(spans, zoom_steps=(20, 24), lanes=(0, 1)) -> Figure:
    """A data-parallel run's spans (seconds, lanes = ranks, kinds compute / allreduce / step,
    recorded in that order each step): the whole run, and the steps in `zoom_steps`."""
    tl = Timeline(list(spans)).shifted()
    ms = [Span(s.lane, s.kind, 1e3 * s.start, 1e3 * s.end) for s in tl.spans]
    step_of = {}
    for lane in lanes:
        mine = sorted((s for s in ms if s.lane == lane), key=lambda s: s.start)
        step_of.update({s: k // 3 for k, s in enumerate(mine)})
    zoom = [s for s in ms if zoom_steps[0] <= step_of.get(s, -1) < zoom_steps[1]]
    fig, (ax_all, ax_zoom) = plt.subplots(2, 1, figsize=(W, 4.2))
    n_steps = 1 + max(step_of.values())
    for ax, part, title in [(ax_all, ms, f"all {n_steps} steps"),
                            (ax_zoom, zoom, f"steps {zoom_steps[0]} to {zoom_steps[1] - 1}")]:
        plot_timeline(ax, part, unit="ms", lane_label="rank", title=title, legend_loc=None)
        lo, hi = min(s.start for s in part), max(s.end for s in part)
        ax.set_xlim(lo - 0.01 * (hi - lo), hi + 0.01 * (hi - lo))
    fig.suptitle("Each step: compute, then an allreduce no rank leaves before all have arrived")
    return _done(fig, legend_below=[ax_all])


# ---------------------------------------------------------------- lesson 08

def plot_ring_steps(snapshots, schedule, bounds) -> Figure:
    """One panel per ring step: which ranks' numbers (rank r started with 2**r) each chunk holds.

    Args:
        snapshots: from `simulate_ring`, every rank's array after every step (index 0: input).
        schedule: `ring_schedule(P)`.
        bounds: `chunk_bounds(n, P)`.
    """
    P = len(snapshots[0])
    cmap = ListedColormap(["#eff3ff", "#9ecae1", "#4292c6", "#08306b"][:P] if P <= 4 else "Blues")
    norm = BoundaryNorm(np.arange(0.5, P + 1), cmap.N)
    ncol = P
    fig, axes = plt.subplots(2, ncol, figsize=(W, 4.6))
    for k, ax in enumerate(axes.flat[: 2 * P - 1]):
        first = [snap[bounds[:-1]] for snap in snapshots[k]]       # one value per chunk
        grid = np.array([[bin(int(v)).count("1") for v in row] for row in first])
        ax.imshow(grid, cmap=cmap, norm=norm)
        received = {} if k == 0 else {(d, c) for _, d, c in schedule[k - 1]}
        for r in range(P):
            for c in range(P):
                who = "".join(str(q) for q in range(P) if int(first[r][c]) >> q & 1)
                ax.text(c, r, who, ha="center", va="center", fontsize=7, fontweight="bold",
                        color="white" if grid[r, c] >= 3 else "black")
                if (r, c) in received:
                    ax.add_patch(plt.Rectangle((c - 0.46, r - 0.46), 0.92, 0.92, fill=False,
                                               ec="#e74c3c", lw=1.6))
        phase = "input" if k == 0 else ("reduce-scatter" if k <= P - 1 else "allgather")
        ax.set_title(phase if k == 0 else f"step {k}: {phase}", fontsize=8)
        ax.set_xticks(range(P))
        ax.set_xticklabels([f"c{c}" for c in range(P)], fontsize=7)
        ax.set_yticks(range(P))
        ax.set_yticklabels([f"rank {r}" for r in range(P)] if k % ncol == 0 else [], fontsize=7)
    for ax in axes.flat[2 * P - 1:]:
        ax.axis("off")
    axes.flat[-1].text(0.0, 0.5, "cell: the ranks whose numbers\nthe chunk holds\n"
                       "red box: received\nin this step from rank r-1", fontsize=7.5, va="center",
                       transform=axes.flat[-1].transAxes)
    fig.suptitle(f"Ring allreduce on P = {P}: after {P - 1} reduce-scatter steps rank r owns the sum of "
                 f"chunk r+1;\nafter {P - 1} allgather steps every rank holds every sum")
    return _done(fig)


def plot_traffic_vs_P(sent_per_rank: dict, times: dict, Ps_times, title: str, time_title: str) -> Figure:
    """Left: numbers the busiest rank sends, divided by n (name -> (Ps, values)). Right: the
    predicted allreduce time in seconds (name -> values over Ps_times)."""
    fig, (ax_n, ax_t) = plt.subplots(1, 2, figsize=(W, 3.6))
    for name, (Ps, values) in sent_per_rank.items():
        ax_n.plot(Ps, values, "o-" if len(Ps) < 10 else "-", ms=4, color=ALGORITHM_COLORS[name],
                  lw=2, label=name)
    ax_n.axhline(2, color="0.4", ls=":", lw=1)
    ax_n.set_yscale("log")
    ax_n.set_xlabel("P (ranks)")
    ax_n.set_ylabel("sent by the busiest rank / n")
    ax_n.set_title("each rank receives as much as it sends", fontsize=9)
    ax_n.legend(fontsize=7)
    for name, (Ps, values) in times.items():
        ax_t.plot(Ps, 1e3 * np.asarray(values), "o-" if len(Ps) < 10 else "-", ms=4,
                  color=ALGORITHM_COLORS[name], lw=2, label=name)
    ax_t.set_yscale("log")
    ax_t.set_xlabel("P (ranks)")
    ax_t.set_ylabel("predicted allreduce time (ms)")
    ax_t.set_title(time_title, fontsize=9)
    fig.suptitle(title)
    return _done(fig)


def plot_measured_allreduce(nbytes, measured: dict, predicted: dict) -> Figure:
    """Measured (markers) and predicted (dashed) allreduce times, name -> seconds per size."""
    fig, ax = plt.subplots(figsize=(W * 0.85, 4.2))
    for name, secs in measured.items():
        color = ALGORITHM_COLORS.get(name, "0.5")
        ax.loglog(nbytes, 1e6 * np.asarray(secs), "o-", color=color, lw=1, ms=5, label=f"{name}, measured")
        ax.loglog(nbytes, 1e6 * np.asarray(predicted[name]), "--", color=color, lw=1.5)
    ax.set_xlabel("array size per rank (bytes, float64)")
    ax.set_ylabel("allreduce time (us)")
    ax.set_title("An example run on 2 ranks: measured (markers) against the alpha-beta model\n"
                 "fitted to a ping-pong (dashed); the model leaves out the additions and Python")
    ax.legend(fontsize=7)
    return _done(fig)


def plot_overlap_predicted(tl_plain, tl_over, step_plain: float, step_over: float, backward_end: float,
                           title: str) -> Figure:
    """Simulated steps (seconds), plain loop above and buckets below, one bar label per allreduce."""
    lanes = {"compute": "compute", "comm": "link"}
    fig, axes = plt.subplots(2, 1, figsize=(W, 3.8), sharex=True)
    for ax, tl, step, what in [(axes[0], tl_plain, step_plain, "plain loop: one allreduce after backward"),
                               (axes[1], tl_over, step_over, "buckets, each started when full")]:
        spans = [Span(lanes.get(s.lane, s.lane), s.kind, 1e3 * s.start, 1e3 * s.end) for s in tl.spans]
        plot_timeline(ax, spans, unit=None, title=f"{what}: step {1e3 * step:.2f} ms", legend_loc=None)
        ax.axvline(1e3 * backward_end, color="0.3", ls=":", lw=1)
        bars = [s for s in spans if s.kind == "allreduce"]
        for i, s in enumerate(bars):
            ax.text((s.start + s.end) / 2, 1, f"b{i}" if len(bars) > 1 else "all", ha="center",
                    va="center", fontsize=7, color="white")
    axes[1].set_xlabel("time (ms); dotted: end of backward")
    fig.suptitle(title)
    return _done(fig, legend_below=axes)


def plot_bucket_sweep(rows, compute_time: float, title: str) -> Figure:
    """Simulated step time against the bucket target, rows (bucket_bytes, buckets, step, plain)."""
    bb = np.array([row[0] for row in rows])
    steps = np.array([row[2] for row in rows])
    fig, ax = plt.subplots(figsize=(W, 3.8))
    ax.step(bb, 1e3 * steps, where="post", color="#1f5fbf", lw=2, label="buckets (simulated)")
    ax.axhline(1e3 * rows[0][3], color="#c0392b", ls="--", lw=1.5, label="plain loop")
    ax.axhline(1e3 * compute_time, color="0.4", ls=":", lw=1.5, label="forward + backward alone")
    counts = np.array([row[1] for row in rows])
    for count in np.unique(counts):
        sel = counts == count
        x = math.sqrt(bb[sel].min() * max(bb[sel].max(), bb[sel].min() + 1))
        ax.annotate(f"{count}", (x, 1e3 * steps[sel].min()), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("bucket_bytes, target size of a bucket (bytes; numbers: buckets)")
    ax.set_ylabel("predicted step (ms)")
    ax.set_ylim(1e3 * compute_time - 1, 1e3 * max(steps.max(), rows[0][3]) + 2)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center left")
    return _done(fig)


def last_steps(spans, k: int = 3, per_bucket: bool = False, n_buckets: int = 1) -> list[Span]:
    """The spans of the last k steps, in ms from the start of rank 0's k-th last forward.

    With per_bucket, the allreduce spans (recorded in bucket order, step after step, on lane
    "rank r comm") move to one lane per bucket, "rank r bucket i", so that none hides another.
    """
    t0 = sorted(s.start for s in spans if s.kind == "forward" and s.lane == "rank 0")[-k]
    count, out = {}, []
    for s in spans:
        lane = s.lane
        if per_bucket and s.kind == "allreduce":
            index = count.get(lane, 0)
            count[lane] = index + 1
            lane = lane.replace("comm", f"bucket {index % n_buckets}")
        if s.end > t0:
            out.append(Span(lane, s.kind, 1e3 * (max(s.start, t0) - t0), 1e3 * (s.end - t0)))
    return out


def plot_overlap_measured(measured: dict, title: str) -> Figure:
    """Measured spans (ms) of the plain and the overlapped loop, one panel each ("plain", "overlap")."""
    n_lanes = {name: len({s.lane for s in spans}) for name, spans in measured.items()}
    fig, axes = plt.subplots(2, 1, figsize=(W, 1.2 + 0.45 * sum(n_lanes.values())), sharex=True,
                             gridspec_kw={"height_ratios": [n_lanes["plain"], n_lanes["overlap"]]})
    plot_timeline(axes[0], measured["plain"], unit=None, lane_label="", legend_loc=None,
                  title="plain loop: allreduce_gradients after backward")
    plot_timeline(axes[1], measured["overlap"], unit="ms", lane_label="", legend_loc=None,
                  title="OverlappedAllreduce, buckets of 1 MiB")
    axes[1].set_xlabel("time from the start of the third-last step (ms)")
    fig.suptitle(title)
    return _done(fig, legend_below=axes)
