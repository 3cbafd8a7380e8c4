"""The seed's sliding window: the range of iterations the server accepts pushes for.

The window is [low, low + length). `low` is the lowest iteration that some active
worker has not finished yet, so it equals the slowest worker's clock. A push for an
iteration below `low` is late (its iteration is closed) and one at `low + length` or
beyond runs too far ahead; both are rejected. Checking a push is O(1): two
comparisons. The memory is O(length), independent of the number of workers: a ring
buffer that counts, per open iteration, how many workers have finished it. When
every active worker has finished `low`, the window slides by one.
"""
from __future__ import annotations

import numpy as np


class WindowError(ValueError):
    """A push or tick whose clock lies outside the sliding window."""

    def __init__(self, message: str, worker: int, clock: int, low: int, high: int):
        super().__init__(message)
        self.worker, self.clock, self.low, self.high = worker, clock, low, high


class SlidingWindow:
    """Valid iterations [low, low + length) for `n_workers` workers.

    Args:
        length: how many iterations are open at once (l in the seed), >= 1.
        n_workers: the workers that must finish an iteration before it closes.
    """

    def __init__(self, length: int, n_workers: int):
        if not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"SlidingWindow: length {length!r} must be an integer >= 1")
        if n_workers < 1:
            raise ValueError(f"SlidingWindow: n_workers {n_workers} must be >= 1")
        self.length, self.required, self.low = int(length), n_workers, 0
        self.done = np.zeros(self.length, dtype=np.int64)  # ring: done[c % length] for c in the window

    high = property(lambda self: self.low + self.length)  # first iteration not yet open

    def __repr__(self):
        return f"SlidingWindow([{self.low}, {self.high}), {self.required} workers)"

    def check(self, worker: int, clock: int, op: str = "push") -> None:
        """O(1): raises WindowError unless low <= clock < low + length."""
        if self.low <= clock < self.low + self.length:
            return
        if clock < self.low:
            why = (f"iteration {clock} is closed: every active worker has finished it. A late "
                   "or repeated push; push with the worker's current clock")
        else:
            why = (f"worker {worker} is {clock - self.low} clocks ahead of the slowest worker, "
                   f"more than the window allows ({self.length - 1}). Use SSP(s) with s < "
                   f"{self.length} so fast workers wait instead, or a longer window")
        raise WindowError(f"{op}: worker {worker} at clock {clock} is outside the sliding window "
                          f"[{self.low}, {self.high}): {why}", worker, clock, self.low, self.high)

    def finish(self, worker: int, clock: int) -> None:
        """Worker `worker` finished iteration `clock`; slide the window if `low` is complete."""
        self.check(worker, clock, "tick")
        self.done[clock % self.length] += 1
        self._slide()

    def remove_worker(self, clock: int) -> None:
        """A worker at `clock` leaves: forget its finished open iterations, need one fewer."""
        for c in range(self.low, min(clock, self.high)):
            self.done[c % self.length] -= 1
        self.required -= 1
        self._slide()

    def _slide(self) -> None:
        while self.required > 0 and self.done[self.low % self.length] >= self.required:
            self.done[self.low % self.length] = 0  # the slot is reused for low + length
            self.low += 1

    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the window (for checkpoints)."""
        return {"window_meta": np.array([self.length, self.required, self.low]), "window_done": self.done.copy()}

    def restore(self, state) -> None:
        length, required, low = (int(v) for v in state["window_meta"])
        if length != self.length:
            raise ValueError(f"SlidingWindow.restore: the checkpoint's window has length {length}, "
                             f"this one {self.length}; build the server with window={length}")
        self.required, self.low, self.done = required, low, np.array(state["window_done"], dtype=np.int64)
