"""A deterministic discrete-event simulator of parameter-server training.

It drives the real `ParameterServer` and the same consistency policy as the threads,
but time is virtual: a heap of events keyed by (time, sequence number) instead of
sleeping threads. Each worker repeats one iteration c:

    wait until the policy lets it start c        (a "wait" span, if it had to)
    pull its keys into its local copy            (a "pull" span: comm(bytes))
    compute the gradient on its batch            (a "compute" span: compute(w, c))
    push the gradient for its keys, tick         (a "push" span: comm(bytes))

The read happens when the pull starts and the update is applied when the push ends.
Compute durations are positive, so under BSP every read of iteration c happens before
any update of iteration c: BSP is exactly synchronous mini-batch SGD. With the same
arguments, every run gives the same loss curve, timeline and staleness, bit for bit.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import numpy as np

from minidl.ps.consistency import Consistency
from minidl.ps.keys import Keys
from minidl.ps.results import RunResult
from minidl.ps.server import ParameterServer
from minidl.ps.timing import CommTime, ComputeTime
from minidl.timeline import Timeline


def simulate(task, policy: Consistency, n_workers: int = 4,
             compute: Callable[[int, int], float] | None = None, *, rule=None, n_shards: int = 1,
             updates: int = 400, until: float | None = None,
             stop_at: float | None = None, eval_every: int | None = None, comm: CommTime | None = None,
             keys: Keys | Callable[[int, int], Keys] = None, window: int | None = None,
             leave: dict[int, int] | None = None) -> RunResult:
    """Trains `task` on a simulated parameter server; returns the loss curve, timeline and pushes.

    Args:
        task: supplies layout, init(), gradient(params, worker, clock, n_workers), loss(params).
        policy: BSP(), SSP(s) or ASP().
        compute: seconds for iteration c of worker w (default ComputeTime(0.01): 10 ms each).
        rule: the server's update rule (default SGD(0.1)); n_shards: shards of the server.
        updates: stop after this many pushes; until: or at this virtual time;
            stop_at: or once the evaluation loss is at most this.
        eval_every: measure the loss every this many pushes (default n_workers).
        comm: seconds to move n bytes (default: communication is free).
        keys: the keys each worker pulls and pushes (None: all), or a function
            (worker, clock) -> keys for range push and pull; the rest stay local, stale.
        window: sliding-window length (pushes outside it raise WindowError).
        leave: {worker: clock}: the worker leaves (remove_worker) on reaching that clock.
    """
    compute = compute or ComputeTime(0.01)
    comm = comm or CommTime()
    eval_every = eval_every or n_workers
    server = ParameterServer(task.layout, task.init(), n_shards=n_shards, rule=rule, policy=policy,
                             n_workers=n_workers, window=window)
    local = [task.init() for _ in range(n_workers)]  # each worker's copy of the parameters
    timeline, heap, seq = Timeline(), [], itertools.count()
    waiting: dict[int, float] = {}  # worker -> since when it waits
    leave = dict(leave or {})
    pushes, reads = [], []
    curve = [(0.0, 0, task.loss(server.snapshot()))]

    def start(w: int, t: float) -> None:
        c = server.clock_of(w)
        if leave.get(w) == c:
            server.remove_worker(w)
            return
        if not server.ready(w, c):
            waiting[w] = t
            return
        if w in waiting:
            timeline.record(w, "wait", waiting.pop(w), t)
        request = server.layout.resolve(keys(w, c) if callable(keys) else keys, "pull")
        where = server.layout.flat(request)
        reads.append((t, w, c, server.clocks.snapshot()))
        local[w][where] = server.pull(w, request, clock=c)
        nbytes = server.layout.count(request) * 8
        d_compute = compute(w, c)
        if not d_compute > 0:
            raise ValueError(f"simulate: compute({w}, {c}) = {d_compute}; durations must be positive")
        g = task.gradient(local[w], w, c, n_workers)[where]
        t_pull, t_compute = t + comm(nbytes), t + comm(nbytes) + d_compute
        heapq.heappush(heap, (t_compute + comm(nbytes), next(seq), w, c, request, g, (t, t_pull, t_compute)))

    for w in range(n_workers):
        start(w, 0.0)
    while heap:
        t, _, w, c, request, g, (t0, t_pull, t_compute) = heapq.heappop(heap)
        if until is not None and t > until:
            break
        staleness = server.push(w, request, g, clock=c)
        server.tick(w)
        for kind, a, b in (("pull", t0, t_pull), ("compute", t_pull, t_compute), ("push", t_compute, t)):
            if b > a:
                timeline.record(w, kind, a, b)
        pushes.append((t, w, c, staleness))
        if len(pushes) % eval_every == 0:
            curve.append((t, len(pushes), task.loss(server.snapshot())))
            if stop_at is not None and curve[-1][2] <= stop_at:
                break
        if len(pushes) >= updates:
            break
        start(w, t)
        for v in sorted(waiting):  # wake, in worker order, everyone the tick (or a departure) unblocked
            if server.ready(v):
                start(v, t)
    else:
        if waiting:
            raise RuntimeError(f"simulate: workers {sorted(waiting)} wait under {policy!r} but no "
                               f"worker is running; clocks {server.clocks.snapshot()}")
    if curve[-1][1] != len(pushes):  # the loss where the run stopped, too
        curve.append((pushes[-1][0], len(pushes), task.loss(server.snapshot())))
    times, counts, losses = (np.array(col) for col in zip(*curve))
    return RunResult(policy, n_workers, times.astype(float), counts.astype(np.int64), losses.astype(float),
                     timeline, np.array(pushes, dtype=float).reshape(-1, 4), reads,
                     list(server.clocks.clocks), server)

