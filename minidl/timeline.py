"""Timelines: who was computing, communicating or waiting, and when.

A `Timeline` is a list of `Span`s, each one lane (a rank or a worker) doing one
kind of thing from `start` to `end`. Data-parallel training records compute and
allreduce spans; the parameter server records compute, wait, push and pull.
`plot_timeline` draws them as a Gantt chart, one row per lane.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

COLORS = {"compute": "#4c72b0", "forward": "#64b5f6", "backward": "#1f5fbf",
          "allreduce": "#dd8452", "comm": "#dd8452", "wait": "#c0c0c0",
          "push": "#55a868", "pull": "#c44e52", "step": "#8172b3", "pack": "#937860"}


@dataclass(frozen=True)
class Span:
    lane: int | str  # a rank, a worker id or a name such as "comm"
    kind: str        # "compute", "wait", "push", "pull", "allreduce", ...
    start: float     # seconds, wall clock or virtual
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Timeline:
    """Spans recorded by one or more lanes. `record` is thread-safe."""
    spans: list[Span] = field(default_factory=list)
    clock: object = time.perf_counter
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, lane, kind: str, start: float, end: float) -> None:
        if end < start:
            raise ValueError(f"Timeline.record: span {kind!r} on lane {lane!r} ends ({end}) "
                             f"before it starts ({start})")
        with self._lock:
            self.spans.append(Span(lane, kind, start, end))

    def span(self, lane, kind: str):
        """Context manager timing a block with `clock`: `with tl.span(0, "compute"): ...`."""
        return _Timed(self, lane, kind)

    def total(self, kind: str, lane=None) -> float:
        """Summed duration of every span of this kind (on one lane, if given)."""
        return sum(s.duration for s in self.spans if s.kind == kind and (lane is None or s.lane == lane))

    def lanes(self) -> list:
        return sorted({s.lane for s in self.spans}, key=lambda x: (str(type(x)), x))

    def shifted(self) -> Timeline:
        """The same spans with time measured from the earliest start."""
        t0 = min((s.start for s in self.spans), default=0.0)
        return Timeline([Span(s.lane, s.kind, s.start - t0, s.end - t0) for s in self.spans])


class _Timed:
    def __init__(self, timeline: Timeline, lane, kind: str):
        self.timeline, self.lane, self.kind = timeline, lane, kind

    def __enter__(self):
        self.start = self.timeline.clock()
        return self

    def __exit__(self, *exc):
        self.timeline.record(self.lane, self.kind, self.start, self.timeline.clock())
        return False


def plot_timeline(ax, spans, title: str = "", unit: str | None = "s", lane_label: str = "worker",
                  colors: dict | None = None, legend_loc: str | None = "best"):
    """Draws spans as a Gantt chart on `ax`, one row per lane, a legend of kinds.

    Args:
        unit: the x-axis label reads "time (unit)"; None leaves the label alone
            (for axes that share x).
        legend_loc: a matplotlib legend location, or None for no legend.
    """
    spans = list(spans.spans if isinstance(spans, Timeline) else spans)
    colors = {**COLORS, **(colors or {})}
    lanes = sorted({s.lane for s in spans}, key=lambda x: (str(type(x)), x))
    row = {lane: i for i, lane in enumerate(lanes)}
    kinds = []
    for s in spans:
        if s.kind not in kinds:
            kinds.append(s.kind)
    palette = iter(np.array(["#999933", "#882255", "#117733", "#332288"]))
    for kind in kinds:
        colors.setdefault(kind, next(palette, "#777777"))
    for kind in kinds:  # one labelled call per kind, so a later ax.legend(...) finds them
        mine = [s for s in spans if s.kind == kind]
        ax.barh([row[s.lane] for s in mine], [s.duration for s in mine], left=[s.start for s in mine],
                height=0.6, color=colors[kind], edgecolor="white", linewidth=0.3, label=kind)
    ax.set_yticks(range(len(lanes)))
    ax.set_yticklabels([f"{lane_label} {lane}" if isinstance(lane, (int, np.integer)) else str(lane)
                        for lane in lanes])
    ax.invert_yaxis()
    if unit is not None:
        ax.set_xlabel(f"time ({unit})")
    if kinds and legend_loc is not None:
        ax.legend(loc=legend_loc, fontsize="small", ncol=min(len(kinds), 5))
    if title:
        ax.set_title(title)
    return ax
