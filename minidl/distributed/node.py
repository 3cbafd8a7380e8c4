"""What one machine adds to the alpha-beta model of a data-parallel step.

The lectures' model prices a step on P ranks as the one-rank compute divided by P plus
an allreduce of n bytes, 2(P-1) alpha + 2(P-1)/P n beta, with alpha and beta from a
ping-pong. On P ranks of one machine the measured step is longer, and each
reason can be measured on its own (`python -m minidl.bench.data_parallel` does):

    compute      forward and backward on b = B/P examples, slowed down when P ranks
                 share the machine's caches and memory (`contention`)
    optimizer    the update of all n parameters: every rank does all of it, it does
                 not shrink with P
    latency      2(P-1) alpha
    transfer     2(P-1)/P n beta_cold: right after backward the gradients and MPI's
                 buffers are not in any cache, so a message runs at the speed of memory
                 (a ping-pong with the caches emptied first), not of a warm ping-pong
    reduction    (P-1)/P n gamma: the additions of the reduce-scatter, also from memory
    packing      n bytes copied into one buffer before the allreduce (`allreduce_gradients`),
                 at the speed of a copy from memory; 0 with `GradientBuckets`
    page faults  what the allocator costs when it returns freed memory to the kernel:
                 every page of a new array is then faulted in again on first touch,
                 inside backward and inside MPI's Allreduce (its temporary buffer)

`StepModel` holds the terms and their sum, `dominant()` names the largest one.
"""
from __future__ import annotations

import mmap
import time
from dataclasses import dataclass, fields

import numpy as np

from minidl.distributed.cost import _check, flush_caches


@dataclass(frozen=True)
class StepModel:
    """The predicted seconds of one data-parallel step, term by term."""
    compute: float
    optimizer: float
    latency: float = 0.0
    transfer: float = 0.0
    reduction: float = 0.0
    packing: float = 0.0
    page_faults: float = 0.0

    @property
    def allreduce(self) -> float:
        return self.latency + self.transfer + self.reduction + self.packing

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    def dominant(self) -> str:
        """The name of the largest term."""
        return max((f.name for f in fields(self)), key=lambda name: getattr(self, name))


def predict_step(compute: float, optimizer: float, n: float, P: int, alpha: float, beta: float,
                 gamma: float = 0.0, contention: float = 1.0, faults: float = 0.0,
                 fault_seconds: float = 0.0, copy: float = 0.0) -> StepModel:
    """One step of data parallelism on P ranks of one machine.

    Args:
        compute: seconds of forward + backward on one rank alone, on its b = B/P examples.
        optimizer: seconds of the optimizer's update of all parameters on one rank.
        n: gradient bytes; alpha, beta, gamma: the link's latency, seconds per byte sent
            and seconds per byte added (pass the cold-cache beta and gamma on one machine).
        contention: how much slower compute runs when all P ranks compute at once (>= 1).
        faults, fault_seconds: page faults per step and the seconds each costs.
        copy: seconds per byte of packing the gradients into one buffer (0: views, no copy).
    """
    _check(n, P)
    for name, value in (("compute", compute), ("optimizer", optimizer), ("alpha", alpha), ("beta", beta),
                        ("gamma", gamma), ("faults", faults), ("fault_seconds", fault_seconds), ("copy", copy)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"predict_step: {name} = {value}; times, rates and counts are finite and >= 0")
    if not np.isfinite(contention) or contention < 1:
        raise ValueError(f"predict_step: contention = {contention}; it is a slowdown, at least 1")
    share = (P - 1) / P * n
    return StepModel(compute=compute * contention, optimizer=optimizer, latency=2 * (P - 1) * alpha,
                     transfer=2 * share * beta, reduction=share * gamma, packing=n * copy * (P > 1),
                     page_faults=faults * fault_seconds)


def median_time(fn, repeats: int, comm=None, before=None) -> float:
    """Median over `repeats` of the slowest rank's seconds for fn(); before() runs untimed."""
    from mpi4py import MPI
    times = []
    for k in range(repeats + 1):  # the first call warms up
        if before is not None:
            before()
        if comm is not None:
            comm.Barrier()
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        if comm is not None:
            dt = comm.allreduce(dt, op=MPI.MAX)
        if k:
            times.append(dt)
    return float(np.median(times))


def measure_reduction(comm, nbytes: int, repeats: int = 15, op: str = "add") -> float:
    """gamma: seconds per byte of `a += b` (op="add"), or of copying b into a (op="copy"),
    on float32 arrays of `nbytes`, with the caches emptied first and every rank at once
    (collective)."""
    if nbytes < 4:
        raise ValueError(f"measure_reduction: nbytes = {nbytes}; use at least one float32")
    if op not in ("add", "copy"):
        raise ValueError(f"measure_reduction: op = {op!r}; use 'add' or 'copy'")
    a, b = np.ones(nbytes // 4, np.float32), np.ones(nbytes // 4, np.float32)
    fn = (lambda: np.add(a, b, out=a)) if op == "add" else (lambda: np.copyto(a, b))
    return median_time(fn, repeats, comm, before=flush_caches) / a.nbytes


def measure_page_fault(pages: int = 2048, repeats: int = 5) -> float:
    """Seconds per page fault: writing one byte into each page of freshly mapped memory,
    as an array the allocator has just obtained from the kernel."""
    size = pages * mmap.PAGESIZE
    times = []
    for _ in range(repeats):
        with mmap.mmap(-1, size) as m:
            view = np.frombuffer(m, dtype=np.uint8)
            t0 = time.perf_counter()
            view[::mmap.PAGESIZE] = 1  # the first touch of each page faults it in
            times.append(time.perf_counter() - t0)
            del view
    return float(np.median(times)) / pages


def measure_contention(comm, fn, repeats: int = 10) -> float:
    """How much slower fn() runs on rank 0 when every rank runs it at once than when rank 0
    runs it alone (collective; the others wait at a barrier). 1.0 on one rank."""
    if comm.Get_size() == 1:
        return 1.0
    rank = comm.Get_rank()
    alone = median_time(lambda: fn() if rank == 0 else None, repeats, comm)
    together = median_time(fn, repeats, comm)
    return max(1.0, together / alone)
