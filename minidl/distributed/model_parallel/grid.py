"""The data x model grid, the training loop every split shares, and the one-process reference.

P = D x M ranks: rank r is model rank r % M in model group r // M and data rank r // M in
data group r % M (`grid_comms`, two `comm.Split`s). Each model group of M ranks holds one
replica, split by columns, rows, pairs or pipeline stages; the D replicas each take B / D
of every batch and average their gradients with one allreduce in the data group, the
allreduce of lesson 07 on the replica's shard of the weights. M = 1 is data parallelism,
D = 1 model parallelism alone ("matrix algebra captures both").
"""
from __future__ import annotations

import numpy as np

from minidl.data import batches
from minidl.distributed.agree import agree_settings
from minidl.distributed.data_parallel import local_batch
from minidl.distributed.model_parallel.tensor_split import Traffic, _world
from minidl.nn import Linear, Sequential, cross_entropy
from minidl.optim import SGD


def grid_comms(comm=None, data: int = 1, model: int | None = None):
    """(data_comm, model_comm) for a data x model grid of the ranks of `comm` (collective)."""
    comm = _world(comm)
    P = comm.Get_size()
    model = P // data if model is None else model
    agree_settings(comm, "grid_comms", data=data, model=model)
    if data < 1 or model < 1 or data * model != P:
        raise ValueError(f"grid_comms: a grid of {data} data x {model} model ranks needs {data * model} "
                         f"ranks, but the communicator has {P}; choose data x model = {P}")
    r = comm.Get_rank()
    model_comm = comm.Split(color=r // model, key=r)
    data_comm = comm.Split(color=r % model, key=r)
    return data_comm, model_comm


class Replica:
    """The whole model on one rank (data parallelism, or the one-process reference)."""

    def __init__(self, model: Sequential):
        self.model = model
        self.traffic = Traffic()  # one process sends nothing; data parallelism counts in train()

    def parameters(self):
        return self.model.parameters()

    def step_loss(self, xb, yb, loss_fn) -> float:
        from minidl.tensor import Tensor
        loss = loss_fn(self.model(Tensor(xb, dtype=self.parameters()[0].dtype)), yb)
        loss.backward()
        return loss.item()

    def full_weights(self):
        return [(m.W.data.copy(), m.b.data.copy()) for m in self.model.layers if isinstance(m, Linear)]


def train(par, x, y, global_batch: int, lr: float, momentum: float = 0.0, epochs: int = 1,
          seed: int = 0, data_comm=None, loss_fn=cross_entropy, steps: int | None = None,
          data_traffic: Traffic | None = None) -> list[float]:
    """SGD with momentum on `par` (a `Replica`, `TensorParallel` or `Pipeline`), the batches of
    `minidl.data.batches(seed, epoch, drop_last=True)`; with `data_comm` of D ranks each replica
    takes rows d, d + D, ... of every batch and the gradients are averaged over the data group.
    Returns the mean loss of every step (the same on every rank)."""
    D, d = (1, 0) if data_comm is None else (data_comm.Get_size(), data_comm.Get_rank())
    if global_batch % D:
        raise ValueError(f"train: global batch {global_batch} is not a multiple of the {D} data-parallel "
                         f"replicas; use a batch that is a multiple of {D}")
    m = getattr(par, "m", 1)
    if (global_batch // D) % m:
        raise ValueError(f"Pipeline: {m} micro-batches do not divide the batch of {global_batch // D} "
                         f"examples each replica gets; use a micro-batch count that divides it")
    opt = SGD(par.parameters(), lr=lr, momentum=momentum)
    losses, step = [], 0
    for epoch in range(epochs):
        for xb, yb in batches(x, y, global_batch, seed=seed, epoch=epoch, drop_last=True):
            if steps is not None and step >= steps:
                return losses
            if D > 1:
                xb, yb = local_batch(xb, yb, d, D)
            for p in opt.params:
                p.grad = None
            loss = par.step_loss(xb, yb, loss_fn)
            if D > 1:
                loss = _average_gradients(opt.params, loss, data_comm, data_traffic)
            opt.step()
            losses.append(loss)
            step += 1
    return losses


def _average_gradients(params, loss: float, comm, traffic: Traffic | None) -> float:
    """One allreduce of all gradients and the loss over the data group, divided by D."""
    from mpi4py import MPI
    D = comm.Get_size()
    flat = np.concatenate([*(p.grad.reshape(-1) for p in params), [loss]])
    comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
    if traffic is not None:
        traffic.add("allreduce", 2 * (D - 1) / D * (flat.size - 1) * flat.itemsize)
    flat /= D
    offset = 0
    for p in params:
        p.grad[...] = flat[offset:offset + p.grad.size].reshape(p.grad.shape)
        offset += p.grad.size
    return float(flat[-1])
