"""What a training run returns, simulated or threaded: the loss curve, the timeline,
every push with its staleness, and every pull with the clocks it saw."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from minidl.ps.consistency import Consistency
from minidl.timeline import Timeline


@dataclass
class RunResult:
    """A run of `n_workers` workers under `policy`.

    Attributes:
        times, updates, losses: the loss curve, (n_evals,) each: the evaluation loss
            measured at `times` seconds (virtual in the simulator), when `updates`
            pushes had been applied.
        timeline: compute, wait, push and pull spans per worker.
        pushes: (n_updates, 4) float array, one row per push in the order applied:
            time, worker, clock, staleness.
        reads: one (time, worker, clock, {worker: clock of every active worker}) per pull.
        clocks: each worker's clock at the end; server: the parameter server.
    """
    policy: Consistency
    n_workers: int
    times: np.ndarray
    updates: np.ndarray
    losses: np.ndarray
    timeline: Timeline
    pushes: np.ndarray
    reads: list = field(repr=False)
    clocks: list
    server: object = field(repr=False)

    @property
    def staleness(self) -> np.ndarray:
        """(n_updates,) staleness of every push, in the order applied."""
        return self.pushes[:, 3].astype(np.int64)

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    def _first(self, target: float) -> int | None:
        hit = np.nonzero(self.losses <= target)[0]
        return int(hit[0]) if hit.size else None

    def time_to(self, target: float) -> float:
        """Seconds until the evaluation loss first reached `target` (math.inf if never)."""
        i = self._first(target)
        return math.inf if i is None else float(self.times[i])

    def updates_to(self, target: float) -> float:
        """Pushes applied when the evaluation loss first reached `target` (math.inf if never)."""
        i = self._first(target)
        return math.inf if i is None else int(self.updates[i])

    def waiting_fraction(self) -> float:
        """The share of the workers' busy-or-waiting time spent waiting."""
        total = sum(s.duration for s in self.timeline.spans)
        return self.timeline.total("wait") / total if total else 0.0

    def summary(self) -> str:
        s = self.staleness
        mean = f"{s.mean():.2f}" if s.size else "-"
        return (f"{self.policy!r}: {len(self.pushes)} updates in {self.times[-1]:.3f} s, "
                f"final loss {self.final_loss:.4f}, staleness mean {mean} max {s.max() if s.size else '-'}, "
                f"waiting {100 * self.waiting_fraction():.0f}% of the time")
