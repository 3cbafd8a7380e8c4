"""Workers as real threads: the same loop as the simulator, on the wall clock.

Each worker is a thread with its own data shard (the task's `shard`). Per iteration c:

    server.wait(w, c)                       # "wait": the consistency policy decides
    local[keys] = server.pull(w, keys, c)   # "pull"
    g = task.gradient(local, w, c, K)       # "compute": then sleep until compute(w, c) has passed
    server.push(w, keys, g[keys], c); server.tick(w)   # "push"

The compute-time model makes stragglers: a worker with slowdown 2 sleeps twice as
long. Keep steps short (a few ms to tens of ms): these runs are for watching real
threads, and their numbers change from run to run; the simulator gives the
repeatable ones. Any error in a worker closes the server (so nobody waits forever)
and is raised again in the caller; every join has a deadline.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from minidl.ps.clocks import ServerClosed
from minidl.ps.consistency import Consistency
from minidl.ps.keys import Keys
from minidl.ps.results import RunResult
from minidl.ps.server import ParameterServer
from minidl.ps.timing import ComputeTime
from minidl.timeline import Timeline


def run_threads(task, policy: Consistency, n_workers: int = 4,
                compute: Callable[[int, int], float] | None = None, *, rule=None, n_shards: int = 1,
                iterations: int = 20, keys: Keys = None,
                window: int | None = None, leave: dict[int, int] | None = None, timeout: float = 10.0,
                eval_interval: float = 0.02) -> RunResult:
    """Trains `task` with `n_workers` threads on a real ParameterServer; returns like `simulate`.

    Args:
        task: supplies layout, init(), gradient(params, worker, clock, n_workers), loss(params).
        policy: BSP(), SSP(s) or ASP().
        compute: seconds for iteration c of worker w (default ComputeTime(0.005): 5 ms).
        rule, n_shards, window: passed to the ParameterServer.
        iterations: iterations per worker; keys: the keys each worker pulls and pushes.
        leave: {worker: clock}: the worker calls remove_worker on reaching that clock.
        timeout: seconds any wait may last (and the server's pull timeout).
        eval_interval: seconds between loss measurements by the calling thread.

    Returns:
        A RunResult with wall-clock times from the start of the run.
    """
    compute = compute or ComputeTime(0.005)
    leave = dict(leave or {})
    server = ParameterServer(task.layout, task.init(), n_shards=n_shards, rule=rule, policy=policy,
                             n_workers=n_workers, window=window, timeout=timeout, trace=True)
    timeline, pushes, errors, halt = Timeline(), [], [], threading.Event()
    t_start = time.perf_counter()

    def now() -> float:
        return time.perf_counter() - t_start

    def work(w: int) -> None:
        local = task.init()  # the worker's own copy of the parameters
        request = server.layout.resolve(keys, "pull")
        where = server.layout.flat(request)
        try:
            for c in range(iterations):
                if leave.get(w) == c:
                    server.remove_worker(w)
                    return
                t0 = now()
                server.wait(w, c)
                t1 = now()
                if t1 - t0 > 1e-4:  # shorter "waits" are only the lock and the policy check
                    timeline.record(w, "wait", t0, t1)
                local[where] = server.pull(w, request, clock=c)
                t2 = now()
                g = task.gradient(local, w, c, n_workers)[where]
                if halt.wait(max(0.0, t2 + compute(w, c) - now())):  # sleep out the compute time
                    return  # unless the run was stopped
                t3 = now()
                staleness = server.push(w, request, g, clock=c)
                server.tick(w)
                t4 = now()
                pushes.append((t4, w, c, staleness))
                for kind, a, b in (("pull", t1, t2), ("compute", t2, t3), ("push", t3, t4)):
                    timeline.record(w, kind, a, b)
        except BaseException as e:  # noqa: BLE001, reported to the caller below
            errors.append((w, e))
            halt.set()
            server.close()  # wake the others: nobody waits for a worker that has failed

    threads = [threading.Thread(target=work, args=(w,), name=f"ps-worker-{w}", daemon=True)
               for w in range(n_workers)]
    per_step = max(compute(w, 0) for w in range(n_workers))  # asked before the threads ask it
    curve = [(0.0, 0, task.loss(server.snapshot()))]
    for t in threads:
        t.start()
    deadline = time.perf_counter() + timeout + 10 * iterations * per_step
    while any(t.is_alive() for t in threads) and time.perf_counter() < deadline:
        time.sleep(eval_interval)
        curve.append((now(), len(pushes), task.loss(server.snapshot())))
    stuck = [t.name for t in threads if t.is_alive()]
    halt.set()
    server.close()
    for t in threads:
        t.join(timeout=5.0)
    if errors:  # the root cause, not the ServerClosed it caused in the others
        w, e = next(((w, e) for w, e in errors if not isinstance(e, ServerClosed)), errors[0])
        e.add_note(f"(raised in parameter-server worker {w}; run_threads closed the server)")
        raise e
    if stuck:
        raise RuntimeError(f"run_threads: {stuck} still running after the deadline; the server "
                           "was closed to release them. Raise timeout or shorten the run")
    curve.append((now(), len(pushes), task.loss(server.snapshot())))
    times, counts, losses = (np.array(col) for col in zip(*curve))
    reads = [(t - t_start, w, c, snap) for t, w, c, snap in server.reads]
    return RunResult(policy, n_workers, times.astype(float), counts.astype(np.int64), losses.astype(float),
                     timeline, np.array(sorted(pushes), dtype=float).reshape(-1, 4), reads,
                     list(server.clocks.clocks), server)



def timed_threads(n_threads: int, op: Callable[[int], object], ops: int, timeout: float = 60.0) -> float:
    """Wall-clock seconds for `n_threads` threads to each call `op(thread)` `ops` times.

    A barrier releases all threads together, and the clock runs from the release until the
    last thread ends. The first error of any thread is raised again here; a thread still
    running after `timeout` seconds raises TimeoutError (it is a daemon and cannot hang the
    caller's exit).
    """
    if n_threads < 1 or ops < 0:
        raise ValueError(f"timed_threads: n_threads = {n_threads}, ops = {ops}; need n_threads >= 1 "
                         "and ops >= 0")
    barrier, errors = threading.Barrier(n_threads + 1, timeout=timeout), []

    def body(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(ops):
                op(i)
        except BaseException as e:  # noqa: BLE001, reported to the caller below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(timeout=max(0.0, start + timeout - time.perf_counter()))
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    if any(t.is_alive() for t in threads):
        raise TimeoutError(f"timed_threads: {sum(t.is_alive() for t in threads)} of {n_threads} threads "
                           f"still running after {timeout} s; give op fewer calls or raise the timeout")
    return seconds
