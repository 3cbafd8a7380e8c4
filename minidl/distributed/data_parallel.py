"""Data parallelism: the seed's "MPI_allreduce between forward and back propagation".

Every rank holds the same model and a different part of each mini-batch:

    for xb, yb in local batches:
        loss = cross_entropy(model(xb), yb)      # forward, on b = B / P examples
        opt.zero_grad(); loss.backward()         # backward, local gradients
        allreduce_gradients(params, comm)        # the one added line: average over ranks
        opt.step()                               # every rank takes the same step

Because the loss is a mean over the batch, the average of P local gradients over
b examples each is the gradient over all P*b examples, so P ranks take exactly the
steps of one process with batch P*b (up to the order of floating-point sums).
"""
from __future__ import annotations

import numpy as np

from minidl.data import batches, shard_indices
from minidl.nn import cross_entropy
from minidl.tensor import Tensor


def _world(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


def _signature(params) -> list:
    return [(tuple(p.data.shape), str(p.data.dtype)) for p in params]


_checked: dict = {}  # (id(comm), signature) -> True once every rank has agreed


def check_same_parameters(params, comm=None, op: str = "allreduce_gradients") -> None:
    """Every rank must hold parameters of the same shapes and dtypes, in the same order.

    One small allgather compares them; on a mismatch every rank raises the same
    ValueError naming the ranks and the first parameter that differs, instead of
    one rank waiting forever or the sums mixing unrelated numbers.
    """
    comm = _world(comm)
    sig = _signature(params)
    key = (id(comm), tuple(sig))
    if _checked.get(key):
        return
    every = comm.allgather(sig)
    if any(s != every[0] for s in every):
        def show(sig, k):
            return f"shape {sig[k][0]} {sig[k][1]}" if k < len(sig) else "nothing"
        lines = []
        for rank, s in enumerate(every):
            if s != every[0]:
                k = next((i for i, (a, b) in enumerate(zip(s, every[0])) if a != b), min(len(s), len(every[0])))
                lines.append(f"rank {rank} has {len(s)} parameters and parameter {k} is {show(s, k)}, "
                             f"where rank 0 has {len(every[0])} and {show(every[0], k)}")
        raise ValueError(f"{op}: the ranks hold different parameters: " + "; ".join(lines) +
                         ". Build the same model on every rank (same sizes, same dtype).")
    _checked[key] = True


_buffers: dict = {}  # (comm, parameter ids, dtype) -> the flat buffer those gradients share
_MAX_BUFFERS = 8       # evicting is safe: gradients that view a buffer keep it alive


def _buffer(comm, group: list, dtype) -> np.ndarray:
    key = (id(comm), tuple(id(p) for p in group), dtype)
    buf = _buffers.pop(key, None)
    if buf is None:
        buf = np.empty(sum(p.data.size for p in group), dtype=dtype)
    _buffers[key] = buf  # most recently used last
    while len(_buffers) > _MAX_BUFFERS:
        _buffers.pop(next(iter(_buffers)))
    return buf


def allreduce_gradients(params, comm=None, average: bool = True) -> None:
    """Sums (or averages) every parameter's `.grad` over all ranks.

    The gradients are packed into one contiguous buffer per dtype (divided by P on
    the way, when averaging) and reduced with a single buffer-based `Allreduce`:
    one message of n numbers costs one latency, where one call per parameter would
    cost one each. Afterwards each `.grad` is a view into that buffer, so nothing is
    copied back; the next call reuses the buffer, so copy a gradient to keep it.
    A parameter with no gradient on this rank (unused in its forward) counts as zeros.
    On one rank nothing is packed or sent.
    """
    from mpi4py import MPI
    comm = _world(comm)
    params = list(params)
    check_same_parameters(params, comm)
    P = comm.Get_size()
    if P == 1:  # the sum over one rank is its own gradient: nothing to pack or send
        for p in params:
            if p.grad is None:
                p.grad = np.zeros_like(p.data)
        return
    scale = 1.0 / P if average else None
    groups: dict = {}
    for p in params:
        groups.setdefault(p.data.dtype, []).append(p)
    for dtype, group in groups.items():
        buf = _buffer(comm, group, dtype)
        offset = 0
        for p in group:  # pack, and average on the way: sum(g / P) = mean(g)
            n = p.data.size
            part = buf[offset:offset + n]
            if p.grad is None:
                part.fill(0)
            elif scale is None:
                part[:] = p.grad.reshape(-1)
            else:
                np.multiply(p.grad.reshape(-1), scale, out=part)
            offset += n
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        offset = 0
        for p in group:  # unpack: views, no copy
            n = p.data.size
            p.grad = buf[offset:offset + n].reshape(p.data.shape)
            offset += n


def broadcast_parameters(params, comm=None, root: int = 0) -> None:
    """Copies rank `root`'s parameter values to every rank, so all start equal."""
    comm = _world(comm)
    params = list(params)
    check_same_parameters(params, comm, op="broadcast_parameters")
    for p in params:
        comm.Bcast(p.data, root=root)


def local_batch(xb: np.ndarray, yb: np.ndarray, rank: int, world_size: int):
    """This rank's share of a global mini-batch: rows rank, rank + P, ... (b = B / P)."""
    idx = shard_indices(len(xb), rank, world_size)
    return xb[idx], yb[idx]


def train_data_parallel(model, opt, x: np.ndarray, y: np.ndarray, global_batch: int,
                        epochs: int = 1, seed: int = 0, comm=None, loss_fn=cross_entropy,
                        timeline=None) -> list[float]:
    """Data-parallel SGD: each rank computes on its share of every global batch.

    Every rank walks the same sequence of global batches of `global_batch` examples
    (same seed), takes its strided share, and after backward averages gradients
    with the other ranks. The global batch must be a multiple of P so that every
    share has the same size and the average of means is the mean over the batch.

    Returns:
        The global mean loss of every step (the same on every rank).
    """
    from mpi4py import MPI
    comm = _world(comm)
    P, rank = comm.Get_size(), comm.Get_rank()
    if global_batch % P:
        raise ValueError(f"train_data_parallel: global batch {global_batch} is not a multiple of "
                         f"{P} ranks; use a multiple such as {global_batch - global_batch % P or P}")
    params = model.parameters()
    broadcast_parameters(params, comm)
    losses = []
    for epoch in range(epochs):
        for xb, yb in batches(x, y, global_batch, seed=seed, epoch=epoch, drop_last=True):
            xb, yb = local_batch(xb, yb, rank, P)                    # shard
            t0 = MPI.Wtime()
            loss = loss_fn(model(Tensor(xb, dtype=params[0].dtype)), yb)  # forward
            opt.zero_grad()
            loss.backward()                                          # backward
            t1 = MPI.Wtime()
            allreduce_gradients(params, comm)                        # allreduce
            t2 = MPI.Wtime()
            opt.step()                                               # step
            losses.append(comm.allreduce(loss.item()) / P)           # for the record only
            if timeline is not None:
                timeline.record(rank, "compute", t0, t1)
                timeline.record(rank, "allreduce", t1, t2)
                timeline.record(rank, "step", t2, MPI.Wtime())
    return losses
