"""Consistency models: given the workers' clocks, who may go on? Pure policy, no threads.

A worker's clock is the number of iterations it has finished (pushed and ticked).
Before iteration c it reads (pulls) the parameters, and a consistency model says
whether it may:

- BSP, bulk synchronous: only once every worker has finished iteration c - 1
  (staleness 0, "sequential" in the bounded-delay picture, tau = 0);
- SSP(s), stale synchronous or bounded delay: once the slowest worker's clock is at
  least c - s, so no worker runs more than s clocks ahead of the slowest;
- ASP, asynchronous: always (staleness infinite, "eventual", tau = inf).

The same object is asked by the real threads (`ClockTable.wait_until`) and by the
simulator, so one rule is tested once and shown in one picture.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class Consistency:
    """A bound on how far a worker may run ahead of the slowest one.

    Args:
        staleness: s >= 0 clocks, or math.inf for no bound.
    """

    def __init__(self, staleness: float):
        if not (staleness == math.inf or (isinstance(staleness, int) and staleness >= 0)):
            raise ValueError(f"{type(self).__name__}: staleness {staleness!r} must be an integer "
                             ">= 0 (clocks) or math.inf (no bound)")
        self.staleness = staleness

    def may_read(self, clock: int, slowest: int) -> bool:
        """May a worker start iteration `clock` when the slowest worker's clock is `slowest`?"""
        return clock - slowest <= self.staleness

    def lagging(self, clocks: Mapping[int, int] | Sequence[int], worker: int,
                clock: int | None = None) -> int | None:
        """The worker that keeps `worker` from starting iteration `clock`, or None if it may.

        Args:
            clocks: the clock of every active worker, {worker: clock} or a list by worker id.
            worker: who wants to read; clock: its iteration (default clocks[worker]).

        Returns:
            The slowest worker (the lowest id among ties) when the rule blocks, else None.
        """
        table = dict(clocks) if isinstance(clocks, Mapping) else dict(enumerate(clocks))
        if not table:
            return None
        clock = table[worker] if clock is None else clock
        slow = min(table, key=lambda w: (table[w], w))
        return None if self.may_read(clock, table[slow]) else slow

    def __eq__(self, other):
        return isinstance(other, Consistency) and self.staleness == other.staleness

    def __hash__(self):
        return hash(self.staleness)

    def __repr__(self):
        return f"Consistency(staleness={self.staleness})"


class BSP(Consistency):
    """Bulk synchronous parallel: a barrier after every iteration (staleness 0)."""

    def __init__(self):
        super().__init__(0)

    def __repr__(self):
        return "BSP()"


class SSP(Consistency):
    """Stale synchronous parallel (bounded delay): at most s clocks ahead of the slowest."""

    def __init__(self, s: int):
        super().__init__(s)

    def __repr__(self):
        return f"SSP({self.staleness})"


class ASP(Consistency):
    """Asynchronous parallel: nobody ever waits (staleness unbounded)."""

    def __init__(self):
        super().__init__(math.inf)

    def __repr__(self):
        return "ASP()"
