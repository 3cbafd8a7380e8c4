"""Pictures for lessons 09-11: key layouts, shard load, timelines, loss curves, sweeps.

Every function draws one figure from numbers the lesson has already computed and returns
it (closed, so a notebook shows it once as the cell's value; `minidl.viz.save_figure`
writes it). Figures are at most `minidl.viz.FIGURE_WIDTH` wide, and every consistency
model has its colour from `minidl.viz.policy_color`, the same in every lesson.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from minidl.timeline import COLORS as SPAN_COLORS
from minidl.timeline import Span, plot_timeline
from minidl.viz import FIGURE_WIDTH, policy_color

__all__ = ["key_layout_figure", "shard_load_figure", "throughput_figure", "range_push_pull_figure",
           "policy_rule_figure", "timelines_figure", "loss_curves_figure", "updates_over_time_figure",
           "sweep_figure", "staleness_figure", "staleness_distribution_figure",
           "heterogeneity_figure", "skew_figure", "schemes_figure", "rate_range_figure"]

W = FIGURE_WIDTH
SERIES = ["#4c72b0", "#dd8452", "#8172b3", "#937860", "#17becf"]  # colours for what is not a policy
# the parameter server's spans, in colours that no consistency model uses (they keep red, blue, green)
SPANS = {**SPAN_COLORS, "compute": "#9ecae1", "wait": "#d0d0d0", "pull": "#fdae6b", "push": "#8172b3"}


def _new(nrows: int = 1, ncols: int = 1, height: float = 3.6, **kw):
    fig, axes = plt.subplots(nrows, ncols, figsize=(W, height), **kw)
    plt.close(fig)  # returned, not shown twice
    return fig, axes


def _finish(fig: Figure, title: str, bottom: float = 0.0) -> Figure:
    """The finding as the figure's title, then a layout that keeps every label inside."""
    if title:
        fig.suptitle(textwrap.fill(title, 100), fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, 1))
    return fig


def _span_legend(ax_or_fig, kinds=("compute", "wait", "pull", "push"), **kw) -> None:
    ax_or_fig.legend(handles=[Patch(color=SPANS[k], label=k) for k in kinds], ncol=len(kinds),
                     frameon=False, **kw)


# ---- lesson 09 -------------------------------------------------------------------------------

def key_layout_figure(layout, servers: Mapping, title: str = "") -> Figure:
    """The flat parameter vector from left to right: the layers' blocks of keys, then the cuts
    of each server in `servers` ({S: ParameterServer}) into S shards."""
    fig, ax = _new(height=3.3)
    for block, color in zip(layout.blocks, SERIES):
        a, b = layout.offsets[block.first_key], layout.offsets[block.first_key + block.n_keys]
        ax.barh(len(servers), b - a, left=a, color=color, edgecolor="white", height=0.6,
                label=f"{block.name}: {block.n_keys} x {block.width}")
    for row, (_, ps) in enumerate(sorted(servers.items(), reverse=True)):
        for shard in ps.shards:
            a, b = shard.flat.start, shard.flat.stop
            ax.barh(row, b - a, left=a, color="#bbbbbb" if shard.index % 2 else "#888888",
                    edgecolor="white", height=0.6)
            ax.text((a + b) / 2, row, f"{shard.index}: keys\n{shard.keys.start}-{shard.keys.stop}",
                    ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(servers) + 1))
    ax.set_yticklabels([f"S = {S}" for S in sorted(servers, reverse=True)] + ["layers"])
    ax.set_xlim(0, layout.size)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1e3:,.0f}k")
    ax.set_xlabel("position in the flat parameter vector (floats)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=2, fontsize=8, frameon=False)
    ax.set_title(f"{layout.n_keys:,d} keys in one flat vector, cut on key boundaries into S shards")
    return _finish(fig, title)


def shard_load_figure(load: Mapping, P: int, n: float, link, ps_time, ring_time,
                      shards: Sequence[int] = (1, 2, 4, 8, 16, 32), workers: Sequence[int] = (4, 16),
                      title: str = "") -> Figure:
    """Left: counted bytes per shard ({S: array of bytes in + out per shard}, P workers).
    Right: the cost model against S for each P in `workers`: `ps_time(n, P, alpha, beta,
    shards=S)` (solid), its busiest-shard and worker terms (thin), the bound 2P alpha + 2n beta
    and `ring_time` (dotted)."""
    fig, (ax0, ax1) = _new(1, 2, height=3.9, gridspec_kw={"width_ratios": [0.8, 1.2]})
    counted = sorted(load)
    for i, S in enumerate(counted):
        xs = i + (np.arange(S) - (S - 1) / 2) * 0.2
        ax0.bar(xs, np.asarray(load[S]) / 1e6, width=0.18, color=SERIES[0])
        ax0.hlines(np.sum(load[S]) / S / 1e6, i - 0.45, i + 0.45, color="black", ls="--", lw=1)
    ax0.set_xticks(range(len(counted)), [f"S = {S}" for S in counted])
    ax0.set_ylabel("MB in + out, per shard")
    ax0.set_title(f"counted, {P} workers:\neach shard carries 1/S", fontsize=10)
    a, b = link.alpha, link.beta
    S = np.asarray(shards)
    for P_, color in zip(workers, SERIES[1:]):
        ax1.loglog(S, ps_time(n, P_, a, b, shards=S) * 1e3, "o-", color=color, label=f"server, P = {P_}")
        ax1.loglog(S, 2 * P_ * (a + n / S * b) * 1e3, "-", color=color, lw=0.7, alpha=0.6,
                   label="busiest shard alone" if P_ == workers[-1] else None)
        ax1.axhline((2 * P_ * a + 2 * n * b) * 1e3, color=color, ls="--", lw=0.8)
        ax1.axhline(ring_time(n, P_, a, b) * 1e3, color=color, ls=":", lw=1.5, label=f"ring, P = {P_}")
    ax1.loglog(S, (2 * S * a + 2 * n * b) * 1e3, "-", color="0.4", lw=0.7, label="a worker's link")
    ax1.set_xticks(S, [str(s) for s in S])
    ax1.set_xlabel("shards S")
    ax1.set_ylabel("time per iteration (ms)")
    ax1.set_title(f"model, {link.name}: never below the ring\n(dashed: the bound 2P alpha + 2n beta)",
                  fontsize=10)
    ax1.legend(fontsize=8, loc="upper right")
    ax1.grid(True, which="major", alpha=0.3)
    return _finish(fig, title)


def throughput_figure(gbps: Mapping, workers: Sequence[int], shards: Sequence[int], mbytes: float,
                      title: str = "") -> Figure:
    """Measured payload bandwidth {(op, workers, shards): GB/s} for op in push and pull."""
    fig, axes = _new(1, 2, height=3.4, sharey=True)
    for ax, op in zip(axes, ("push", "pull")):
        for S, color in zip(shards, SERIES):
            ax.plot(workers, [gbps[op, w, S] for w in workers], "o-", color=color,
                    label=f"S = {S} shard{'s' if S > 1 else ''}")
        ax.set_xticks(workers)
        ax.set_xlabel("worker threads")
        ax.set_title(f"{op} of the whole model ({mbytes:g} MB)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("payload bandwidth, all threads (GB/s)")
    axes[0].legend(fontsize=8)
    return _finish(fig, title or "An example run: measured, it differs from run to run and machine to machine")


def range_push_pull_figure(runs: Mapping, labels: Mapping, target: float, bytes_per_push: Mapping,
                           bytes_total: Mapping, title: str = "") -> Figure:
    """Range push and pull, {B: RunResult}: loss per update, loss per virtual second, and the
    bytes per push against the total bytes to the target."""
    fig, axes = _new(1, 3, height=3.6, gridspec_kw={"width_ratios": [1, 1, 0.8]})
    for (B, r), color in zip(runs.items(), SERIES):
        axes[0].plot(r.updates, r.losses, color=color, label=labels[B])
        axes[1].plot(r.times, r.losses, color=color)
    for ax, xlabel in zip(axes[:2], ("updates (pushes)", "virtual time (s)")):
        ax.axhline(target, color="black", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_ylim(0.3, 1.2)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("evaluation loss")
    axes[0].legend(fontsize=7)
    axes[0].set_title("per update:\nabout B times more", fontsize=9)
    axes[1].set_title("per virtual second:\nthe full range first", fontsize=9)
    x = np.arange(len(runs))
    axes[2].bar(x - 0.2, [bytes_per_push[B] / 1e3 for B in runs], 0.4, color=SERIES[2], label="kB per push")
    axes[2].bar(x + 0.2, [bytes_total[B] / 1e6 for B in runs], 0.4, color=SERIES[3], label="MB to target")
    axes[2].set_xticks(x, [f"B = {B}" for B in runs])
    axes[2].legend(fontsize=7, loc="upper right")
    axes[2].set_title("bytes per push fall,\ntotal bytes do not", fontsize=9)
    return _finish(fig, title)


# ---- lesson 10 -------------------------------------------------------------------------------

def policy_rule_figure(policies: Sequence, clocks: int = 9, title: str = "") -> Figure:
    """For each policy, which (slowest clock m, reader's clock c) pairs may read: c - m <= s."""
    fig, axes = _new(1, len(policies), height=3.6, sharey=True)
    blocked, allowed, impossible = "#fdae6b", "#9ecae1", "#f2f2f2"  # not the policies' own colours
    cmap = ListedColormap([blocked, allowed, impossible])
    for ax, policy in zip(np.atleast_1d(axes), policies):
        state = np.array([[2 if m > c else int(policy.may_read(c, m)) for m in range(clocks)]
                          for c in range(clocks)])
        ax.imshow(state, cmap=cmap, vmin=0, vmax=2, origin="lower")
        ax.set_xticks(range(0, clocks, 2))
        ax.set_yticks(range(0, clocks, 2))
        ax.set_xlabel("slowest clock m")
        ax.set_title(f"{policy!r}: {int((state == 1).sum())} of {clocks * (clocks + 1) // 2} may read",
                     fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("reader's clock c")
    fig.legend(handles=[Patch(color=allowed, label="may read: c - m <= s"), Patch(color=blocked, label="blocked"),
                        Patch(color=impossible, ec="0.7", label="impossible: m > c")],
               loc="lower center", ncol=3, frameon=False)
    return _finish(fig, title, 0.1)


def timelines_figure(runs: Mapping, window: float, unit: str = "ms", scale: float = 1e3,
                     title: str = "") -> Figure:
    """Gantt charts ({name: RunResult}, one row of axes each) of the first `window` seconds:
    compute, wait, pull and push per worker."""
    fig, axes = _new(len(runs), 1, height=2.4 * len(runs) + 0.6, sharex=True, squeeze=False)
    for ax, (name, r) in zip(axes[:, 0], runs.items()):
        spans = [Span(s.lane, s.kind, scale * s.start, scale * min(s.end, window)) for s in r.timeline.spans
                 if s.start < window]
        waited = sum(s.duration for s in spans if s.kind == "wait") / (r.n_workers * scale * window)
        pushes = sum(1 for s in spans if s.kind == "push" and s.end <= scale * window)
        plot_timeline(ax, spans, unit=unit if ax is axes[-1, 0] else None, legend_loc=None, colors=SPANS,
                      title=f"{name}: {pushes} pushes, {100 * waited:.0f}% of the time waiting")
        ax.title.set_color(policy_color(name) if name[:3] in ("BSP", "SSP", "ASP") else "black")
        ax.set_xlim(0, scale * window)
    _span_legend(fig, loc="lower center")
    return _finish(fig, title, 0.04)


def loss_curves_figure(runs: Mapping, target: float, title: str = "") -> Figure:
    """The evaluation loss of each run ({name: RunResult}) against virtual time and against
    updates, with the point where each first reaches `target`."""
    fig, axes = _new(1, 2, height=3.6, sharey=True)
    for name, r in runs.items():
        c = policy_color(name)
        axes[0].plot(r.times, r.losses, color=c, label=name)
        axes[1].plot(r.updates, r.losses, color=c, label=name)
        axes[0].plot(r.time_to(target), target, "o", color=c)
        axes[1].plot(r.updates_to(target), target, "o", color=c)
    for ax, xlabel in zip(axes, ("virtual time (s)", "updates applied (pushes)")):
        ax.axhline(target, color="0.3", ls="--", lw=1)
        ax.set_ylim(0.3, 1.2)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("evaluation loss")
    axes[0].legend(fontsize=8)
    return _finish(fig, title)


def updates_over_time_figure(panels: Mapping, target: float, xmax: float | None = None, title: str = "") -> Figure:
    """One panel per {title: {name: RunResult}}: updates applied against virtual time, each
    run's point of reaching `target` marked."""
    fig, axes = _new(1, len(panels), height=3.6, sharey=True, squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels.items()):
        for name, r in runs.items():
            c = policy_color(name)
            ax.step(r.pushes[:, 0], np.arange(1, len(r.pushes) + 1), where="post", color=c, label=name)
            ax.plot(r.time_to(target), r.updates_to(target), "o", color=c)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("virtual time (s)")
        if xmax:
            ax.set_xlim(0, xmax)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0, 0].set_ylabel("updates applied by the server")
    return _finish(fig, title)


def sweep_figure(labels: Sequence[str], times: Sequence[float], updates: Sequence[float], target: float,
                 xlabel: str = "staleness bound s of SSP(s)", title: str = "") -> Figure:
    """Time and updates to `target` over a sweep (one label per setting), values annotated."""
    fig, axes = _new(1, 2, height=3.4)
    x = np.arange(len(labels))
    for ax, values, fmt, color, what in ((axes[0], times, "{:.2f}", policy_color("SSP"), "virtual time (s)"),
                                         (axes[1], updates, "{:.0f}", SERIES[1], "updates")):
        ax.plot(x, values, "o-", color=color)
        for xi, v in zip(x, values):
            ax.annotate(fmt.format(v), (xi, v), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize=8)
        ax.set_xticks(x, labels, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{what} to loss {target}")
        ax.margins(y=0.18)
    return _finish(fig, title)


def staleness_figure(runs: Mapping, gaps: Mapping, bound: tuple[str, float] | None = None, title: str = "") -> Figure:
    """Left: the clock gap at each read ({name: array}); right: the share of pushes at least x
    updates stale (log), for each run ({name: RunResult}); `bound` = (label, x) marks a bound."""
    fig, (ax1, ax2) = _new(1, 2, height=3.6)
    width, top = 0.27, 13
    for k, (name, r) in enumerate(runs.items()):
        c = policy_color(name)
        g = np.minimum(gaps[name], top)
        ax1.bar(np.arange(top + 1) + (k - 1) * width, 100 * np.bincount(g, minlength=top + 1) / len(g),
                width, color=c, label=f"{name}: max {gaps[name].max()}")
        st = r.staleness
        xs = np.arange(st.max() + 2)
        ax2.step(xs, 100 * np.array([np.mean(st >= x) for x in xs]), where="post", color=c,
                 label=f"{name}: max {st.max()}")
    ax1.set_xticks([*range(0, top - 1, 2), top], [str(i) for i in range(0, top - 1, 2)] + [f">={top}"])
    ax1.set_xlabel("clock gap at a read")
    ax1.set_ylabel("share of reads (%)")
    ax1.legend(fontsize=8)
    if bound:
        ax2.axvline(bound[1], color=policy_color("SSP"), ls=":", lw=1.2, label=bound[0])
    ax2.set_yscale("log")
    ax2.set_xlabel("staleness x of a push (updates)")
    ax2.set_ylabel("pushes at least x stale (%)")
    ax2.legend(fontsize=8)
    return _finish(fig, title)


# ---- lesson 11 -------------------------------------------------------------------------------

def staleness_distribution_figure(stale: Mapping, gaps: Sequence[float], fast: Sequence[float],
                                  slow: Sequence[float], mean: Sequence[float], K: int, title: str = "") -> Figure:
    """Left: the staleness distribution under ASP ({K: staleness array}); right: mean staleness
    of the fast workers, the slow worker and all pushes against the speed gap g, with the
    predictions K - 2 + 1/g and g (K - 1)."""
    fig, (ax1, ax2) = _new(1, 2, height=3.6)
    for (k, s), color in zip(stale.items(), SERIES):
        share = np.bincount(s) / len(s)
        ax1.step(np.arange(len(share)), 100 * share, where="mid", color=color, label=f"K = {k}")
        ax1.axvline(s.mean(), color=color, ls="--", lw=1.2, label=f"mean {s.mean():.2f}")
    ax1.set_xlim(-0.5, 40)
    ax1.set_xlabel("staleness of a push (updates)")
    ax1.set_ylabel("share of pushes (%)")
    ax1.legend(fontsize=8)
    g = np.linspace(min(gaps), max(gaps), 100)
    ax2.plot(gaps, slow, "o", color=SERIES[1], label="slow worker")
    ax2.plot(g, g * (K - 1), "-", color=SERIES[1], lw=1, label="g (K - 1)")
    ax2.plot(gaps, fast, "s", color=SERIES[0], label="fast workers")
    ax2.plot(g, K - 2 + 1 / g, "-", color=SERIES[0], lw=1, label="K - 2 + 1/g")
    ax2.plot(gaps, mean, "^", color="0.2", label=f"all pushes (K - 1 = {K - 1})")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log", base=2)
    ax2.set_xticks(gaps, [f"{x:g}" for x in gaps])
    ax2.set_yticks([4, 8, 16, 32, 64], ["4", "8", "16", "32", "64"])
    ax2.set_xlabel("speed gap g")
    ax2.set_ylabel("mean staleness (updates)")
    ax2.legend(fontsize=7, loc="upper left")
    return _finish(fig, title)


def heterogeneity_figure(gaps: Sequence[float], per_seed: Mapping, mean: Mapping, target: float,
                         title: str = "") -> Figure:
    """Updates and time to `target` against the speed gap, per policy: `per_seed[what][name]`
    is a list of curves (one per seed), `mean[what][name]` their mean, what in
    ("updates_to", "time_to")."""
    fig, axes = _new(1, 2, height=3.6)
    for ax, what, unit in zip(axes, ("updates_to", "time_to"), ("updates", "virtual seconds")):
        for name, curve in mean[what].items():
            c = policy_color(name)
            for seed_curve in per_seed[what][name]:
                ax.plot(gaps, seed_curve, ".", color=c, alpha=0.5)
            ax.plot(gaps, curve, "-o", color=c, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(gaps, [f"{g:g}" for g in gaps])
        ax.set_xlabel("speed gap g")
        ax.set_ylabel(f"{unit} to loss {target}")
        ax.set_ylim(0, 1.08 * ax.get_ylim()[1])
        ax.legend(fontsize=8)
    return _finish(fig, title)


def skew_figure(shares: Mapping, gaps: Sequence[float], per_seed: Mapping, mean: Mapping, target: float,
                title: str = "") -> Figure:
    """Left: each digit's share of the examples behind the applied gradients ({label: (10,)});
    right: ASP's updates to `target` against the gap, one curve per shard setting ({label: ...})."""
    fig, (ax1, ax2) = _new(1, 2, height=3.6)
    digits = np.arange(10)
    for k, ((label, share), color) in enumerate(zip(shares.items(), SERIES)):
        ax1.bar(digits + (k - 0.5) * 0.4, 100 * np.asarray(share), width=0.4, color=color, label=label)
    ax1.axhline(10, color="0.3", ls=":", lw=1)
    ax1.set_xticks(digits)
    ax1.set_xlabel("digit")
    ax1.set_ylabel("share of the applied examples (%)")
    ax1.set_ylim(0, 14.5)
    ax1.legend(fontsize=8, loc="upper center", ncol=2)
    for (label, curve), color in zip(mean.items(), SERIES[2:]):
        for seed_curve in per_seed[label]:
            ax2.plot(gaps, seed_curve, ".", color=color, alpha=0.5)
        ax2.plot(gaps, curve, "-o", color=color, label=label)
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(gaps, [f"{g:g}" for g in gaps])
    ax2.set_ylim(0, 1.08 * ax2.get_ylim()[1])
    ax2.set_xlabel("speed gap g")
    ax2.set_ylabel(f"ASP updates to loss {target}")
    ax2.legend(fontsize=8, loc="lower left")
    return _finish(fig, title)


def schemes_figure(runs: Mapping, target: float, title: str = "") -> Figure:
    """Loss against updates for runs named "ConSGD(lr)" / "DynSGD(lr)" ({name: RunResult})."""
    fig, ax = _new(height=3.8)
    dyn = iter(SERIES)
    for name, r in runs.items():
        con = name.startswith("ConSGD")
        ax.plot(r.updates, r.losses, "-" if con else "--", color="0.1" if con else next(dyn),
                lw=2 if con else 1.5, label=f"{name}: {r.updates_to(target)} updates")
    ax.axhline(target, color="0.4", ls=":", lw=1)
    ax.set_ylim(0.35, 1.2)
    ax.set_xlabel("updates applied by the server (pushes)")
    ax.set_ylabel("evaluation loss")
    ax.legend(fontsize=8)
    return _finish(fig, title)


def rate_range_figure(rates: Sequence[float], updates: Mapping, cap: int, target: float, title: str = "") -> Figure:
    """Updates to `target` against the base rate, per scheme ({name: [updates or inf per rate]});
    a rate that never reached the target within `cap` updates is a cross at the cap."""
    fig, ax = _new(height=3.6)
    for (name, ups), color, marker in zip(updates.items(), ("0.1", SERIES[1]), "os"):
        ok = [(lr, u) for lr, u in zip(rates, ups) if np.isfinite(u)]
        if ok:
            ax.plot(*zip(*ok), "-" + marker, color=color, label=f"{name}: reached")
        failed = [lr for lr, u in zip(rates, ups) if not np.isfinite(u)]
        if failed:
            ax.plot(failed, [cap] * len(failed), "x", color=color, ms=10, mew=2, label=f"{name}: not reached")
    ax.set_xscale("log", base=2)
    ax.set_xticks(rates, [f"{lr:.2g}" for lr in rates])
    ax.set_ylim(0, cap * 1.08)
    ax.set_xlabel("base learning rate lr")
    ax.set_ylabel(f"updates to loss {target}")
    ax.legend(fontsize=8)
    return _finish(fig, title)
