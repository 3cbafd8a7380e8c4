"""The clock table: the mechanism that makes workers wait, under a consistency policy.

One `threading.Condition` guards every worker's clock. `wait_until` sleeps until the
policy lets the worker read, and every wait has a timeout whose error names the
worker that lags. `close()` wakes every waiter with `ServerClosed`, and
`remove_worker` drops a departed worker so that the others stop waiting for it.
"""
from __future__ import annotations

import threading
import time

from minidl.ps.consistency import Consistency


class ServerClosed(RuntimeError):
    """The server was closed while a worker waited or tried to use it."""


class StragglerTimeout(TimeoutError):
    """A wait ran out of time; `lagging` is the worker everyone was waiting for."""

    def __init__(self, message: str, worker: int, clock: int, lagging: int, lagging_clock: int):
        super().__init__(message)
        self.worker, self.clock, self.lagging, self.lagging_clock = worker, clock, lagging, lagging_clock


class ClockTable:
    """The clock of each of `n_workers` workers (iterations finished), and who is active."""

    def __init__(self, n_workers: int):
        if not isinstance(n_workers, int) or n_workers < 1:
            raise ValueError(f"ClockTable: n_workers {n_workers!r} must be an integer >= 1")
        self.n_workers = n_workers
        self.clocks = [0] * n_workers
        self.active = set(range(n_workers))
        self.closed = False
        self.cond = threading.Condition()

    def __repr__(self):
        return f"ClockTable(clocks={self.clocks}, active={sorted(self.active)})"

    def _check(self, worker: int, op: str) -> None:  # call with the lock held
        if self.closed:
            raise ServerClosed(f"{op}: the parameter server is closed (worker {worker}); "
                               "build a new server to train again")
        if not (isinstance(worker, int) and 0 <= worker < self.n_workers):
            raise ValueError(f"{op}: worker {worker!r} is not one of 0 .. {self.n_workers - 1}")
        if worker not in self.active:
            raise RuntimeError(f"{op}: worker {worker} was removed from the server and may not "
                               "push, pull or tick any more")

    def clock(self, worker: int) -> int:
        return self.clocks[worker]

    def snapshot(self) -> dict[int, int]:
        """{worker: clock} for every active worker."""
        with self.cond:
            return {w: self.clocks[w] for w in sorted(self.active)}

    def slowest(self) -> int | None:
        """The lowest clock among active workers (None when none is left)."""
        with self.cond:
            return min((self.clocks[w] for w in self.active), default=None)

    def ready(self, worker: int, clock: int, policy: Consistency) -> bool:
        """Would `policy` let `worker` start iteration `clock` now?"""
        with self.cond:
            slowest = min(self.clocks[w] for w in self.active) if self.active else clock
            return policy.may_read(clock, slowest)

    def wait_until(self, worker: int, clock: int, policy: Consistency, timeout: float) -> float:
        """Blocks until `policy` lets `worker` start iteration `clock`; returns seconds waited.

        Raises:
            StragglerTimeout: still blocked after `timeout` seconds; names the lagging worker.
            ServerClosed: `close()` was called while waiting.
        """
        start = time.perf_counter()
        deadline = start + timeout
        with self.cond:
            while True:
                self._check(worker, "pull")
                lagging = policy.lagging({w: self.clocks[w] for w in self.active}, worker, clock)
                if lagging is None:
                    return time.perf_counter() - start
                left = deadline - time.perf_counter()
                if left <= 0:
                    lag_clock = self.clocks[lagging]
                    raise StragglerTimeout(
                        f"pull: worker {worker} waited {timeout:g} s to start iteration {clock} under "
                        f"{policy!r}, but worker {lagging} lags at clock {lag_clock} (needs >= "
                        f"{clock - policy.staleness}). If worker {lagging} has stopped, call "
                        f"remove_worker({lagging}); if it is only slow, raise the timeout",
                        worker, clock, lagging, lag_clock)
                self.cond.wait(left)

    def tick(self, worker: int) -> int:
        """Worker `worker` finished an iteration; wakes the waiters. Returns its new clock."""
        with self.cond:
            self._check(worker, "tick")
            self.clocks[worker] += 1
            self.cond.notify_all()
            return self.clocks[worker]

    def remove_worker(self, worker: int) -> int:
        """Drops a departed worker so the others stop waiting for it; returns its last clock."""
        with self.cond:
            self._check(worker, "remove_worker")
            self.active.discard(worker)
            self.cond.notify_all()
            return self.clocks[worker]

    def close(self) -> None:
        """Wakes every waiter; they and any later call raise ServerClosed."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()
