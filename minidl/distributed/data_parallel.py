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

import hashlib
import math

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


_digests: dict = {}  # shapes and dtypes -> their digest: hashed once per model, not once per call


def _digest(key: tuple) -> np.ndarray:
    """(number of parameters, total size, a 62-bit hash of the shapes and dtypes) as int64,
    for key = ((shape, dtype.str), ...): equal on two ranks when their keys are (hashlib,
    not the per-process salted hash()); two different keys collide with chance 2**-62."""
    d = _digests.get(key)
    if d is None:
        h = int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(), "little") >> 2
        d = np.array([len(key), sum(math.prod(shape) for shape, _ in key), h], dtype=np.int64)
        if len(_digests) >= 64:
            _digests.clear()
        _digests[key] = d
    return d


def _agree(params, comm, op: str, error: Exception | None = None) -> None:
    """Returns on every rank, or raises the same ValueError on every rank.

    One Allreduce(MIN) of 8 int64 (one latency) carries this rank's digest of its
    parameters and whether it failed locally (`error`), and their negatives: the minimum
    of -x is minus the maximum of x, so every rank learns both and sees whether all
    ranks agree. Only then does an allgather fetch the details for the message.
    """
    from mpi4py import MPI
    v = np.empty(8, dtype=np.int64)
    v[:3] = _digest(tuple((p.data.shape, p.data.dtype.str) for p in params))
    v[3] = error is not None
    v[4:] = -v[:4]
    comm.Allreduce(MPI.IN_PLACE, v, op=MPI.MIN)
    if np.array_equal(v[:4], -v[4:]) and v[7] == 0:  # min == max everywhere, and nobody failed
        return
    every = comm.allgather((_signature(params), None if error is None else str(error)))
    sigs = [sig for sig, _ in every]

    def show(sig, k):
        return f"shape {sig[k][0]} {sig[k][1]}" if k < len(sig) else "nothing"
    parts = []
    if any(sig != sigs[0] for sig in sigs):
        lines = []
        for rank, sig in enumerate(sigs):
            if sig != sigs[0]:
                k = next((i for i, (a, b) in enumerate(zip(sig, sigs[0])) if a != b), min(len(sig), len(sigs[0])))
                lines.append(f"rank {rank} has {len(sig)} parameters and parameter {k} is {show(sig, k)}, "
                             f"where rank 0 has {len(sigs[0])} and {show(sigs[0], k)}")
        parts.append("the ranks hold different parameters: " + "; ".join(lines) +
                     ". Build the same model on every rank (same sizes, same dtype)")
    failed = [f"rank {rank}: {message}" for rank, (_, message) in enumerate(every) if message is not None]
    if failed:
        parts.append("; ".join(failed) + ". Nothing was reduced on any rank")
    raise ValueError(f"{op}: " + "; ".join(parts) + ".") from error


def check_same_parameters(params, comm=None, op: str = "allreduce_gradients") -> None:
    """Every rank must hold parameters of the same shapes and dtypes, in the same order.

    Checked on every call, so that a model changed between calls is caught too: one
    tiny Allreduce of a digest (count, total size, hash of the shapes and dtypes) per
    call. On a mismatch every rank raises the same ValueError naming the ranks and the
    first parameter that differs, instead of one rank waiting forever or the sums
    mixing unrelated numbers.
    """
    comm = _world(comm)
    if comm.Get_size() > 1:
        _agree(list(params), comm, op)


_buffers: dict = {}  # (comm, parameter ids, dtype) -> (those parameters, the flat buffer they share)
_MAX_BUFFERS = 4       # evicting is safe: gradients that view a buffer keep it alive


def _buffer(comm, group: list, dtype) -> np.ndarray:
    """The flat buffer for `group`'s gradients, reused from call to call. An entry holds its
    parameters, so no other object can take their ids while it lives; the objects and the
    size are checked anyway (a parameter's data may have been replaced by a larger array)."""
    key = (id(comm), tuple(id(p) for p in group), dtype)
    size = sum(p.data.size for p in group)
    entry = _buffers.pop(key, None)
    if entry is None or entry[1].size != size or any(a is not b for a, b in zip(entry[0], group)):
        entry = (list(group), np.empty(size, dtype=dtype))
    _buffers[key] = entry  # most recently used last
    while len(_buffers) > _MAX_BUFFERS:
        _buffers.pop(next(iter(_buffers)))
    return entry[1]


def _pack(params: list, group: list, buf: np.ndarray, scale) -> None:
    """Copies the group's gradients into buf (times scale, unless None); zeros for None."""
    offset = 0
    for p in group:
        n = p.data.size
        part = buf[offset:offset + n]
        g = p.grad
        if g is None:
            part.fill(0)
        elif np.shape(g) != p.data.shape:
            k = next(i for i, q in enumerate(params) if q is p)
            raise ValueError(f"parameter {k} has shape {p.data.shape} but its gradient has shape "
                             f"{np.shape(g)}")
        elif scale is None:
            part[:] = g.reshape(-1)
        else:
            np.multiply(g.reshape(-1), scale, out=part)
        offset += n


def allreduce_gradients(params, comm=None, average: bool = True) -> None:
    """Sums (or averages) every parameter's `.grad` over all ranks.

    The gradients are packed into one contiguous buffer per dtype (divided by P on
    the way, when averaging) and reduced with a single buffer-based `Allreduce`:
    one message of n numbers costs one latency, where one call per parameter would
    cost one each. Afterwards each `.grad` is a view into that buffer, so nothing is
    copied back; the next call reuses the buffer, so copy a gradient to keep it.
    A parameter with no gradient on this rank (unused in its forward) counts as zeros.
    On one rank nothing is packed or sent.

    Every call first checks, with one tiny Allreduce, that all ranks hold the same
    shapes and dtypes and that none failed to pack its gradients; otherwise every
    rank raises the same ValueError, and none waits forever in the big Allreduce.
    """
    from mpi4py import MPI
    comm = _world(comm)
    params = list(params)
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
    packed, error = [], None
    try:  # pack, and average on the way: sum(g / P) = mean(g)
        for dtype, group in groups.items():
            buf = _buffer(comm, group, dtype)
            _pack(params, group, buf, scale)
            packed.append((group, buf))
    except Exception as exc:  # noqa: BLE001, told to every rank by _agree, which raises it
        error = exc
    _agree(params, comm, "allreduce_gradients", error)
    for group, buf in packed:
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
