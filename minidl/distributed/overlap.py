"""Overlapping the allreduce with the backward pass, bucket by bucket.

Backward finishes the last layer's gradients first, while it is still working on
the earlier layers. So instead of one allreduce after backward, the gradients are
grouped into buckets of about `bucket_bytes` (last layer first), and each bucket's
non-blocking `Iallreduce` starts from a tensor hook the moment its last gradient
is final. The gradients live in the buckets' buffers (`GradientBuckets`): backward
writes each one, already divided by P, into the slice that is sent, so nothing is
copied in or out. The loop changes in one line:

    loss.backward()                  # buckets start reducing as they fill
    reducer.wait()                   # was: allreduce_gradients(params, comm)
    opt.step()

Buckets start in the same order on every rank (MPI requires collectives to be
issued in one order), and `wait()` polls with a timeout rather than blocking forever.

Accumulating gradients over several backward passes (micro-batches) works as in
PyTorch: run all passes but the last inside `with reducer.no_sync():`, where the
hooks send nothing and `.grad` sums locally; the last pass sends the sums. A second
backward pass that is not under `no_sync()` before `wait()` raises, since its
buckets would already have been sent with the first pass's gradients.
"""
from __future__ import annotations

import contextlib
import time

from minidl.distributed.buckets import Bucket, GradientBuckets, check_verdicts, make_buckets
from minidl.timeline import Timeline

__all__ = ["Bucket", "OverlappedAllreduce", "make_buckets", "simulate_overlap"]


class OverlappedAllreduce:
    """Averages gradients over `comm` with one `Iallreduce` per bucket, started during backward.

    Args:
        bucket_bytes: the target bucket size; 0 < bucket_bytes. One huge bucket is
            the plain allreduce again; tiny buckets pay the latency alpha many times.
        timeline: if given, records "allreduce" spans on lane "rank R comm" (from the
            start to when the request was seen complete) and "wait" spans on "rank R".
        timeout: seconds `wait()` polls before raising TimeoutError.
    """

    def __init__(self, params, comm=None, bucket_bytes: int = 1 << 20, average: bool = True,
                 timeline: Timeline | None = None, timeout: float = 60.0):
        from mpi4py import MPI
        if bucket_bytes is None or bucket_bytes <= 0:
            raise ValueError(f"OverlappedAllreduce: bucket_bytes = {bucket_bytes}; use a positive size in bytes")
        self.MPI = MPI
        self.grads = GradientBuckets(params, comm, bucket_bytes=bucket_bytes, average=average)
        self.comm, self.params, self.buckets = self.grads.comm, self.grads.params, self.grads.buckets
        self.average, self.timeline, self.timeout = average, timeline, timeout
        self.rank, self.P = self.grads.rank, self.grads.P
        self._bucket_of = {id(p): b for b in self.buckets for p in b.params}
        self._next = 0  # buckets start in index order on every rank
        self._problem = None  # what this rank found wrong while starting buckets, if anything
        self._sync = True  # False inside no_sync(): backward only accumulates
        self._removers = [p.register_hook(self._on_grad) for p in self.params]

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside add into `.grad` and send nothing; the first backward
        after the block (or `wait()`) sends the sums. As PyTorch's `DistributedDataParallel.no_sync`."""
        if self._next or any(b.ready for b in self.buckets):
            raise RuntimeError(f"OverlappedAllreduce.no_sync: rank {self.rank}: a backward pass of this "
                               "step already started sending; enter no_sync() before the first pass")
        self._sync = False
        try:
            yield self
        finally:
            self._sync = True

    def _on_grad(self, p) -> None:
        if not self._sync:
            return
        bucket = self._bucket_of[id(p)]
        if id(p) in bucket.ready:
            raise RuntimeError(
                f"OverlappedAllreduce: rank {self.rank}: a second backward() before wait(); the "
                f"first one's gradients are already being sent (bucket {bucket.index}), so this "
                "pass's would be lost. To accumulate over several passes, run all but the last "
                "inside `with reducer.no_sync():`; otherwise call wait() after every backward()")
        bucket.ready.add(id(p))
        while self._next < len(self.buckets) and \
                len(self.buckets[self._next].ready) == len(self.buckets[self._next].params):
            self._start(self.buckets[self._next])
        self._progress()

    def _start(self, bucket: Bucket) -> None:
        self._problem = bucket.settle(self.grads.positions, self._problem)  # no copy: .grad is the slice
        bucket.started = self.MPI.Wtime()
        bucket.request = self.comm.Iallreduce(self.MPI.IN_PLACE, bucket.wire, op=self.MPI.SUM)
        self._next += 1

    def _progress(self) -> None:
        """Lets MPI move pending messages (MPICH progresses inside MPI calls) and
        notes when each request completed."""
        for b in self.buckets[:self._next]:
            if b.finished is None and b.request.Test():
                b.finished = self.MPI.Wtime()

    def wait(self) -> None:
        """Starts any bucket backward did not fill, waits for all, and resets for the next
        step. The averages are then in `.grad`, which are slices of the buckets' buffers:
        copy one to keep it past the next backward."""
        t0 = self.MPI.Wtime()
        while self._next < len(self.buckets):  # e.g. parameters unused in this forward
            self._start(self.buckets[self._next])
        deadline = time.monotonic() + self.timeout
        while True:
            self._progress()
            pending = [b.index for b in self.buckets if b.finished is None]
            if not pending:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"OverlappedAllreduce.wait: rank {self.rank}: buckets {pending} "
                                   f"not reduced after {self.timeout:g} s; another rank has probably "
                                   "stopped or skipped backward")
            time.sleep(0)  # yield the core to the other ranks when oversubscribed
        t1 = self.MPI.Wtime()
        problem, self._problem = self._problem, None
        for b in self.buckets:
            if self.timeline is not None:
                self.timeline.record(f"rank {self.rank} comm", "allreduce", b.started, b.finished)
            b.ready.clear()
            b.request = b.started = b.finished = None
        if self.timeline is not None:
            self.timeline.record(f"rank {self.rank}", "wait", t0, t1)
        self._next = 0
        check_verdicts(self.buckets, problem, self.comm, "OverlappedAllreduce.wait")

    def close(self) -> None:
        """Removes the hooks; the parameters go back to plain backward and their own arrays."""
        for remove in self._removers:
            remove()
        self._removers = []
        self.grads.close()


def simulate_overlap(backward_times, grad_bytes, bucket_bytes: int, alpha: float, beta: float,
                     P: int, forward_time: float = 0.0) -> tuple[Timeline, float, float]:
    """The overlapped step predicted by the ring cost model, with no MPI.

    Args:
        backward_times: seconds of backward per unit (a layer, or a parameter:
            one entry per parameter gives exactly `make_buckets`' grouping), last first.
        grad_bytes: gradient bytes per unit, in the same order.

    Returns:
        (timeline, overlapped step time, step time with one allreduce after backward).
        One communication link: a bucket starts when it is full and the link is free.
    """
    from minidl.distributed.cost import ring_time
    tl = Timeline()
    t = forward_time
    if forward_time:
        tl.record("compute", "forward", 0.0, forward_time)
    link_free, size, total_bytes = 0.0, 0, 0
    for k, (dt, nbytes) in enumerate(zip(backward_times, grad_bytes)):
        tl.record("compute", "backward", t, t + dt)
        t += dt
        size += nbytes
        total_bytes += nbytes
        if size >= bucket_bytes or k == len(backward_times) - 1:
            start = max(t, link_free)
            link_free = start + ring_time(size, P, alpha, beta)
            tl.record("comm", "allreduce", start, link_free)
            size = 0
    overlapped = max(t, link_free)
    plain = t + ring_time(total_bytes, P, alpha, beta)
    return tl, overlapped, plain
