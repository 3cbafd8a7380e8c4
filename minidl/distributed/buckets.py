"""Gradients that live in the allreduce's buffer: no packing copy, no unpacking.

`allreduce_gradients` copies every gradient into one flat buffer, reduces it, and
points each `.grad` at its slice. That copy is a pass over all n bytes on every
step, and on one machine, where the allreduce itself runs at memory speed, it costs
a large fraction of the allreduce. PyTorch's answer (`gradient_as_bucket_view`) is
to let backward write each gradient straight into its slice of the buffer:

    buckets = GradientBuckets(model.parameters(), comm)   # once, after the model is built
    for xb, yb in local batches:
        loss = cross_entropy(model(xb), yb)
        opt.zero_grad(); loss.backward()     # each gradient / P lands in its bucket's buffer
        buckets.allreduce()                  # one in-place Allreduce per bucket, nothing copied
        opt.step()

The averaging is folded in for free: backward's first write into a slice was a copy
(`g.astype(dtype)`) anyway, and it becomes `g * (1/P)` (`Tensor.grad_into`). So the
averages are the same bits as the packing version's, which multiplies each gradient
by 1/P on its way into the buffer. (Over several backward passes each pass is scaled
before the sum, which equals scaling the sum exactly when P is a power of two and to
rounding otherwise.)

Every buffer carries one extra number, the rank's verdict on its own parameters
(1: the same shapes as when the buckets were built and every gradient in place; 0:
not). The verdicts travel in the same Allreduce as the gradients, so a rank whose
model changed raises, and so does every other rank, without an extra message and
without any rank waiting forever.
"""
from __future__ import annotations

import numpy as np


class Bucket:
    """A group of parameters (one dtype) whose gradients are slices of one buffer.

    `wire` is what the Allreduce sends: the gradients (`buffer`, `views[k]` the k-th
    parameter's) and, last, the rank's verdict."""

    def __init__(self, index: int, params: list):
        self.index, self.params = index, params
        size = sum(p.data.size for p in params)
        self.wire = np.zeros(size + 1, dtype=params[0].data.dtype)
        self.buffer = self.wire[:size]
        self.views, offset = [], 0
        for p in params:
            self.views.append(self.buffer[offset:offset + p.data.size].reshape(p.data.shape))
            offset += p.data.size
        self.shapes = [(p.data.shape, p.data.dtype) for p in params]
        self.ready: set = set()
        self.request = None
        self.started = self.finished = None

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes

    def settle(self, positions: dict, problem: str | None = None) -> str | None:
        """Before sending: gives a parameter with no gradient zeros (it was unused in this
        forward), and writes the verdict: 1 if neither this bucket nor `problem` (found
        before) is wrong. Returns the first problem, or None."""
        for p, view, (shape, dtype) in zip(self.params, self.views, self.shapes):
            k = positions[id(p)]
            if p.data.shape != shape or p.data.dtype != dtype:
                problem = problem or (f"parameter {k} changed from shape {shape} {dtype} to shape "
                                      f"{p.data.shape} {p.data.dtype} after the buckets were built")
            elif p.grad is None:
                view.fill(0)
                p.grad = view
            elif p.grad is not view:
                problem = problem or (f"parameter {k}'s .grad was replaced by a separate array after "
                                      "backward; change a gradient in place (p.grad *= c) instead")
        self.wire[-1] = problem is None
        return problem


def make_buckets(params, bucket_bytes: int | None) -> list[Bucket]:
    """Parameters in reverse order (the order backward finishes them), cut into buckets
    of at least `bucket_bytes` (the last may be smaller), one dtype per bucket.
    `bucket_bytes=None` gives one bucket per dtype."""
    if bucket_bytes is not None and bucket_bytes <= 0:
        raise ValueError(f"make_buckets: bucket_bytes = {bucket_bytes}; use a positive size in bytes")
    limit = float("inf") if bucket_bytes is None else bucket_bytes
    params = list(params)
    if not params:
        raise ValueError("make_buckets: no parameters; pass model.parameters() of a model that has some")
    buckets, current, size = [], [], 0
    for p in reversed(params):
        if current and (size >= limit or p.data.dtype != current[0].data.dtype):
            buckets.append(Bucket(len(buckets), current))
            current, size = [], 0
        current.append(p)
        size += p.data.nbytes
    buckets.append(Bucket(len(buckets), current))
    return buckets


def check_verdicts(buckets: list[Bucket], problem: str | None, comm, op: str) -> None:
    """After the reduction: every verdict summed to P (on one rank: its own verdict is 1),
    or every rank raises the same error."""
    P = comm.Get_size()
    if all(b.wire[-1] == P for b in buckets):
        return
    said = comm.allgather(problem)
    lines = "; ".join(f"rank {r}: {m}" for r, m in enumerate(said) if m is not None)
    raise ValueError(f"{op}: {lines}. Nothing was averaged and this step's gradients are lost on every "
                     "rank: fix that (or build the buckets again for the model as it is now), then run "
                     "backward again")


class GradientBuckets:
    """Averages (or sums) gradients over `comm` in place, with backward writing each
    gradient into the buffer that is sent.

    Args:
        params: the model's parameters, the same shapes in the same order on every rank.
        bucket_bytes: None (default) for one bucket per dtype, which is one Allreduce per
            step; a size in bytes cuts the buffer into buckets as `OverlappedAllreduce` does.
        average: True divides by P (folded into backward's first write), False sums.

    After `allreduce()` each `.grad` is its slice of the buffer; the next backward
    writes over it, so copy a gradient to keep it. `close()` gives the parameters
    back their own gradient arrays.
    """

    def __init__(self, params, comm=None, bucket_bytes: int | None = None, average: bool = True):
        from minidl.distributed.data_parallel import _world, check_same_parameters
        self.comm = _world(comm)
        self.params = list(params)
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("GradientBuckets: a parameter is listed twice; pass model.parameters(), "
                             "which lists each once")
        check_same_parameters(self.params, self.comm, op="GradientBuckets")
        self.P, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.scale = 1.0 / self.P if average and self.P > 1 else 1.0
        self.buckets = make_buckets(self.params, bucket_bytes)
        self.positions = {id(p): k for k, p in enumerate(self.params)}
        for b in self.buckets:
            for p, view in zip(b.params, b.views):
                if p.grad is not None:  # a gradient already there moves into the buffer, scaled
                    np.multiply(p.grad, self.scale, out=view)
                    p.grad = view
                p.grad_into(view, self.scale)

    def _check_list(self, params) -> str | None:
        params = list(params)
        for k, (p, q) in enumerate(zip(params, self.params)):
            if p is not q:
                return (f"parameter {k} (shape {p.data.shape}) is not the one the buckets were built with "
                        f"(shape {q.data.shape}): a parameter was added, removed or reordered")
        if len(params) > len(self.params):
            k = len(self.params)
            return (f"parameter {k} (shape {params[k].data.shape}) was added after the buckets were built "
                    f"with {k} parameters")
        if len(params) < len(self.params):
            k = len(params)
            return (f"parameter {k} (shape {self.params[k].data.shape}) was removed after the buckets were "
                    f"built with {len(self.params)} parameters")
        return None

    def allreduce(self, params=None) -> None:
        """Reduces every bucket in place: one Allreduce each, with no copy on either side.

        Pass the model's current `parameters()` to also check that none was added or
        removed since the buckets were built. Any problem on any rank raises the same
        ValueError on every rank, naming the rank and the parameter."""
        from mpi4py import MPI
        problem = None if params is None else self._check_list(params)
        for b in self.buckets:
            problem = b.settle(self.positions, problem)
        for b in self.buckets:
            b.wire[-1] = problem is None  # every bucket carries this rank's whole verdict
        if self.P > 1:  # the sum over one rank is its own gradient
            for b in self.buckets:
                self.comm.Allreduce(MPI.IN_PLACE, b.wire, op=MPI.SUM)
        check_verdicts(self.buckets, problem, self.comm, "GradientBuckets.allreduce")

    def close(self) -> None:
        """Backward goes back to new arrays; each `.grad` becomes a copy of its slice."""
        for b in self.buckets:
            for p, view in zip(b.params, b.views):
                p.grad_into(None)
                if p.grad is view:
                    p.grad = view.copy()
