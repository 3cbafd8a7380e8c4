"""How long things take: a compute-time model with stragglers, and a communication model.

Both the threads (which sleep for the time) and the simulator (which advances a
virtual clock by it) ask the same objects, so a straggler looks the same in both.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class ComputeTime:
    """Seconds worker w spends computing iteration c: base * slowdown[w] * noise.

    Args:
        base: seconds per iteration of a worker at full speed.
        slowdown: factor per worker, e.g. (1, 1, 1, 2) makes worker 3 take twice as
            long (heterogeneity); missing workers get 1.
        jitter: sigma of a log-normal noise of mean 1 drawn for every iteration
            (transient stragglers); 0 for none.
        seed: the noise of worker w depends only on (seed, w, c), so every run, and
            the threads and the simulator, see the same durations.
    """

    def __init__(self, base: float = 0.01, slowdown: Sequence[float] = (), jitter: float = 0.0, seed: int = 0):
        if not base > 0:
            raise ValueError(f"ComputeTime: base {base} s must be positive")
        if any(not f > 0 for f in slowdown):
            raise ValueError(f"ComputeTime: slowdown factors {list(slowdown)} must all be positive")
        if jitter < 0:
            raise ValueError(f"ComputeTime: jitter {jitter} must be >= 0")
        self.base, self.slowdown, self.jitter, self.seed = base, tuple(slowdown), jitter, seed
        self._noise: dict[int, list[float]] = {}  # worker -> noise of iterations 0, 1, ...

    def __repr__(self):
        return f"ComputeTime(base={self.base:g}, slowdown={self.slowdown}, jitter={self.jitter:g}, seed={self.seed})"

    def factor(self, worker: int) -> float:
        return self.slowdown[worker] if worker < len(self.slowdown) else 1.0

    def __call__(self, worker: int, clock: int) -> float:
        """Seconds for iteration `clock` of `worker`."""
        t = self.base * self.factor(worker)
        if self.jitter == 0:
            return t
        noise = self._noise.setdefault(worker, [])
        while len(noise) <= clock:  # draw in blocks from the worker's own stream
            rng = np.random.default_rng([self.seed, worker, len(noise) // 256])
            sigma = self.jitter
            noise += np.exp(sigma * rng.standard_normal(256) - sigma * sigma / 2).tolist()
        return t * noise[clock]


class CommTime:
    """Seconds to move a message: latency + bytes / bandwidth (the alpha-beta model).

    Args:
        latency: seconds per message (alpha); bandwidth: bytes per second (1 / beta).
    """

    def __init__(self, latency: float = 0.0, bandwidth: float = math.inf):
        if latency < 0 or not bandwidth > 0:
            raise ValueError(f"CommTime: latency {latency} must be >= 0 and bandwidth {bandwidth} > 0")
        self.latency, self.bandwidth = latency, bandwidth

    def __repr__(self):
        return f"CommTime(latency={self.latency:g}, bandwidth={self.bandwidth:g})"

    def __call__(self, nbytes: int) -> float:
        return self.latency + nbytes / self.bandwidth
