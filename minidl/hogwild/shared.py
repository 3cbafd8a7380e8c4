"""Hogwild! with real worker processes on one weight vector in shared memory.

Processes, not threads: each worker's step is Python code, and threads of one interpreter
take turns holding its global lock, so they would never write at the same time. The
weights live in `multiprocessing.shared_memory` as a (d, 2) float64 array that every
process views with numpy: column 0 the weight w_j, column 1 the count c_j of updates it
holds. A step reads the rows of its k coordinates, computes, and writes back

    w_j <- (w_j read) - lr g_j,    c_j <- (c_j read) + 1

in one assignment, so a write that lands between my read and my write is overwritten, its
+1 with it. Each worker also adds up, in private memory, every delta it wrote; at the end

    lost coordinate updates = (coordinate writes) - sum_j c_j
    lost weight             = w0 + (sum of all deltas) - w_final

exactly, whatever the scheduler did. With a lock (one global lock, or one per block of
keys, taken in increasing order so that two workers never wait for each other) held from
the read to the write, both are zero.

Start method: "spawn". Each worker is a fresh interpreter that imports numpy and minidl.
It is the default on macOS and Windows, so the lesson behaves the same everywhere, and
unlike "fork" it never copies a notebook kernel's threads or a lock some thread held at
the fork. Its cost, about a second of start-up, is outside the measurement: workers
start the clock together at a barrier once their data are built. Every wait has a
timeout, and the shared memory is released whatever happens, also when a worker raises.
"""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from multiprocessing import shared_memory
from threading import BrokenBarrierError

import numpy as np

from minidl.hogwild.problem import SparseProblem, blocks_of, worker_order
from minidl.hogwild.sim import HogwildRun, n_blocks

START_METHOD = "spawn"
_EXTRA = 4  # per-worker result row: deltas (d), then steps, writes, start, end


def run_hogwild(problem: SparseProblem, processes: int = 2, lock: str = "none", blocks: int = 64,
                lr: float = 0.5, epochs: int = 1, seed: int = 0, timeout: float = 120.0,
                fail_at: int | None = None) -> HogwildRun:
    """SGD on `problem` by `processes` worker processes sharing one weight vector.

    Worker p visits the same examples in the same order as in `simulate_hogwild`; only the
    interleaving is up to the machine. `timeout` bounds every wait (start-up barrier, each
    lock, the whole run). `fail_at`: worker 0 raises at that step (for testing the clean-up).

    Returns a HogwildRun whose time is wall-clock seconds from the common start to the last
    worker's end, and whose lost counts are exact.
    """
    if not (isinstance(processes, (int, np.integer)) and processes >= 1):
        raise ValueError(f"run_hogwild: processes = {processes!r}; use a positive integer")
    nb = n_blocks(lock, blocks)
    d, P = problem.d, processes
    ctx = mp.get_context(START_METHOD)
    locks = [ctx.Lock() for _ in range(nb)]
    barrier, errors = ctx.Barrier(P + 1), ctx.Queue()
    memories, procs = [], []
    try:
        shm = shared_memory.SharedMemory(create=True, size=d * 2 * 8)
        memories.append(shm)
        res = shared_memory.SharedMemory(create=True, size=P * (d + _EXTRA) * 8)
        memories.append(res)
        W = np.ndarray((d, 2), dtype=np.float64, buffer=shm.buf)
        W[:, 0], W[:, 1] = problem.init(), 0.0
        del W  # no view may outlive the block: close() refuses while one exists
        spec = dataclasses.replace(problem)  # the fields only: each worker rebuilds the data
        for p in range(P):
            procs.append(ctx.Process(target=_worker, name=f"hogwild-{p}", daemon=True,
                                     args=(p, P, spec, nb, lr, epochs, seed, shm.name, res.name, locks,
                                           barrier, errors, fail_at if p == 0 else None, timeout)))
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + timeout
        try:
            barrier.wait(timeout)
        except BrokenBarrierError:
            if time.monotonic() >= deadline - 0.01 * timeout:  # nobody failed: the wait ran out
                raise TimeoutError(f"run_hogwild: the {P} workers were not all ready within {timeout:g} s "
                                   "(starting a process takes about a second); use a longer timeout") from None
            _join(procs, deadline)
            raise RuntimeError(f"run_hogwild: a worker failed before the start: {_errors(errors)}") from None
        _join(procs, deadline)
        alive = [proc.name for proc in procs if proc.is_alive()]
        if alive:
            raise TimeoutError(f"run_hogwild: workers {alive} did not finish within {timeout:g} s; "
                               "they were stopped. Use fewer epochs or a longer timeout.")
        failed = [proc.name for proc in procs if proc.exitcode != 0]
        if failed:
            raise RuntimeError(f"run_hogwild: workers {failed} failed: {_errors(errors)}")
        R = np.ndarray((P, d + _EXTRA), dtype=np.float64, buffer=res.buf).copy()
        final = np.ndarray((d, 2), dtype=np.float64, buffer=shm.buf).copy()
        w, counts = final[:, 0].copy(), final[:, 1]
        added = R[:, :d].sum(axis=0)
        steps, writes = int(R[:, d].sum()), int(R[:, d + 1].sum())
        elapsed = float(R[:, d + 3].max() - R[:, d + 2].min())
        lost = int(writes - round(counts.sum()))
        lost_mass = float(np.abs(problem.init() + added - w).max())
        return HogwildRun(lock, P, steps, writes, lost, lost_mass, problem.loss(w), elapsed, w)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        errors.close()
        for m in memories:  # unlink first: the name goes even if a view still holds the memory
            m.unlink()
            m.close()


def _join(procs, deadline: float) -> None:
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


def _errors(q) -> str:
    found = []
    while True:
        try:
            found.append(q.get(timeout=0.5))
        except Exception:  # queue.Empty, or a queue closed by a dying worker
            break
    return "; ".join(found) or "no message (the worker was killed?)"


def _worker(p, P, problem, nb, lr, epochs, seed, shm_name, res_name, locks, barrier, errors,
            fail_at, timeout) -> None:
    shm = shared_memory.SharedMemory(name=shm_name)
    res = shared_memory.SharedMemory(name=res_name)
    W = R = None
    try:
        d = problem.d
        W = np.ndarray((d, 2), dtype=np.float64, buffer=shm.buf)
        R = np.ndarray((P, d + _EXTRA), dtype=np.float64, buffer=res.buf)
        idx, _, _ = problem.data
        order = np.concatenate([worker_order(problem, p, P, e, seed) for e in range(epochs)])
        need = [[locks[b] for b in ([0] if nb == 1 else blocks_of(idx[i], d, nb))] if nb else []
                for i in range(problem.n)]
        added = np.zeros(d)
        barrier.wait(timeout)
        t0 = time.perf_counter()  # CLOCK_MONOTONIC on Linux: one clock for all processes
        for s, i in enumerate(order):
            if s == fail_at:
                raise RuntimeError(f"stopped on purpose at step {s}")
            rows = idx[i]
            held = need[i]
            for n_held, lk in enumerate(held):
                if not lk.acquire(timeout=timeout):
                    for other in held[:n_held]:
                        other.release()
                    raise TimeoutError(f"waited more than {timeout:g} s for a lock")
            try:
                block = W[rows]                               # read (a copy of k rows)
                delta = -lr * problem.gradient(i, block[:, 0])  # compute
                block[:, 0] += delta
                block[:, 1] += 1.0
                W[rows] = block                               # write, over whatever is there now
            finally:
                for lk in reversed(held):
                    lk.release()
            added[rows] += delta
        t1 = time.perf_counter()
        R[p, :d] = added
        R[p, d:] = (len(order), len(order) * problem.k, t0, t1)
    except BaseException as exc:  # report, let the others go, exit non-zero
        errors.put(f"worker {p}: {type(exc).__name__}: {exc}")
        barrier.abort()
        raise SystemExit(1) from None
    finally:
        del W, R
        shm.close()
        res.close()
