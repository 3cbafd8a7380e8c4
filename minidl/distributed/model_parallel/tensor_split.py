"""Intra-layer model parallelism: one `Linear` split over the P ranks of a communicator.

A layer y = x W + b with W of shape (in, out) splits two ways (Megatron-LM's names):

    column split   rank k holds W[:, cols_k], b[cols_k] and computes y[:, cols_k] = x W_k + b_k;
                   forward: allgather the P pieces of y (when the next layer needs all of y);
                   backward: dL/dx = sum_k dL/dy_k W_k^T, an allreduce of the input gradient
    row split      rank k holds W[rows_k, :] and reads x[:, rows_k]: y = sum_k x_k W_k + b;
                   forward: allreduce of the partial products; backward: each rank has
                   dL/dx_k, an allgather gives dL/dx (when the input needs a gradient)

The collectives are four autograd ops made with `Tensor._make`, each one collective forward
and its adjoint backward, so an ordinary `loss.backward()` runs the communication:

    copy_to_ranks      identity      | allreduce      (the same x enters every rank's piece)
    reduce_from_ranks  allreduce     | identity
    gather_from_ranks  allgather     | own slice
    scatter_to_ranks   own slice     | allgather

"pair" splits alternate column (no gather) and row (input already split): one allreduce
forward and one backward per pair of layers, because ReLU acts entry by entry on the split.
"""
from __future__ import annotations

import numpy as np

from minidl.distributed.agree import agree_settings
from minidl.nn import Linear, Module, Sequential
from minidl.tensor import Tensor

SPLITS = ("column", "row", "pair")


def _world(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


class Traffic:
    """Bytes this rank sends per step, counted as the ring algorithms send them: an allreduce of
    n bytes 2(P-1)/P n, an allgather of n bytes in all (P-1)/P n, a message of n bytes n."""

    def __init__(self):
        self.bytes: dict[str, float] = {}
        self.messages: dict[str, int] = {}

    def add(self, kind: str, n_bytes: float) -> None:
        self.bytes[kind] = self.bytes.get(kind, 0.0) + float(n_bytes)
        self.messages[kind] = self.messages.get(kind, 0) + 1

    @property
    def total(self) -> float:
        return sum(self.bytes.values())

    def reset(self) -> None:
        self.bytes, self.messages = {}, {}


def _allreduce(comm, a: np.ndarray, traffic: Traffic | None) -> np.ndarray:
    from mpi4py import MPI
    out = np.array(a, copy=True, order="C")
    comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    if traffic is not None:
        P = comm.Get_size()
        traffic.add("allreduce", 2 * (P - 1) / P * a.nbytes)
    return out


def _allgather_last(comm, a: np.ndarray, traffic: Traffic | None) -> np.ndarray:
    """(..., k) on each of P ranks -> (..., P k), rank r's piece at columns [r k, (r + 1) k)."""
    P = comm.Get_size()
    pieces = np.empty((P, *a.shape), dtype=a.dtype)
    comm.Allgather(np.ascontiguousarray(a), pieces)
    if traffic is not None:
        traffic.add("allgather", (P - 1) * a.nbytes)
    return np.concatenate(list(pieces), axis=-1)


def copy_to_ranks(x: Tensor, comm, traffic=None) -> Tensor:
    """Identity forward; backward sums the input gradient over the ranks (allreduce)."""
    return Tensor._make(x.data, (x,), "copy_to_ranks", lambda g: (_allreduce(comm, g, traffic),))


def reduce_from_ranks(x: Tensor, comm, traffic=None) -> Tensor:
    """Sum over the ranks forward (allreduce); backward passes the gradient through."""
    return Tensor._make(_allreduce(comm, x.data, traffic), (x,), "reduce_from_ranks", lambda g: (g,))


def gather_from_ranks(x: Tensor, comm, traffic=None) -> Tensor:
    """(..., k) -> (..., P k) by allgather forward; backward keeps this rank's k columns."""
    k, r = x.shape[-1], comm.Get_rank()
    return Tensor._make(_allgather_last(comm, x.data, traffic), (x,), "gather_from_ranks",
                        lambda g: (g[..., r * k:(r + 1) * k],))


def scatter_to_ranks(x: Tensor, comm, traffic=None) -> Tensor:
    """(..., P k) -> this rank's (..., k) forward; backward allgathers the P gradients."""
    k, r = x.shape[-1] // comm.Get_size(), comm.Get_rank()
    return Tensor._make(x.data[..., r * k:(r + 1) * k], (x,), "scatter_to_ranks",
                        lambda g: (_allgather_last(comm, g, traffic),))


def _check_width(op: str, width: int, what: str, P: int) -> None:
    if width % P:
        divisors = [d for d in range(1, width + 1) if width % d == 0]
        raise ValueError(f"{op}: {what} {width} is not divisible by P = {P} ranks; each rank must hold "
                         f"an equal share. Use a width that is a multiple of {P}, or {divisors} ranks")


class ColumnParallelLinear(Module):
    """Rank k's columns of `layer`: (batch, in) -> (batch, out), or (batch, out / P) with gather=False."""

    def __init__(self, layer: Linear, comm=None, gather: bool = True, traffic: Traffic | None = None,
                 name: str = "ColumnParallelLinear"):
        self.comm, self.gather, self.traffic = _world(comm), gather, traffic
        P, r = self.comm.Get_size(), self.comm.Get_rank()
        fan_in, fan_out = layer.W.shape
        _check_width(name, fan_out, "output width", P)
        k = fan_out // P
        self.W = Tensor(layer.W.data[:, r * k:(r + 1) * k], requires_grad=True)
        self.b = Tensor(layer.b.data[r * k:(r + 1) * k], requires_grad=True)

    def __call__(self, x: Tensor) -> Tensor:
        h = copy_to_ranks(x, self.comm, self.traffic) @ self.W + self.b
        return gather_from_ranks(h, self.comm, self.traffic) if self.gather else h

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole (W, b) of the layer, gathered from every rank (collective)."""
        parts = self.comm.allgather((self.W.data, self.b.data))
        return np.concatenate([w for w, _ in parts], axis=1), np.concatenate([b for _, b in parts])


class RowParallelLinear(Module):
    """Rank k's rows of `layer`: (batch, in), or (batch, in / P) with scatter=False, -> (batch, out)."""

    def __init__(self, layer: Linear, comm=None, scatter: bool = True, traffic: Traffic | None = None,
                 name: str = "RowParallelLinear"):
        self.comm, self.scatter, self.traffic = _world(comm), scatter, traffic
        P, r = self.comm.Get_size(), self.comm.Get_rank()
        fan_in, fan_out = layer.W.shape
        _check_width(name, fan_in, "input width", P)
        k = fan_in // P
        self.W = Tensor(layer.W.data[r * k:(r + 1) * k, :], requires_grad=True)
        self.b = Tensor(layer.b.data, requires_grad=True)  # the whole bias, added once after the sum

    def __call__(self, x: Tensor) -> Tensor:
        xk = scatter_to_ranks(x, self.comm, self.traffic) if self.scatter else x
        return reduce_from_ranks(xk @ self.W, self.comm, self.traffic) + self.b

    def full(self) -> tuple[np.ndarray, np.ndarray]:
        parts = self.comm.allgather(self.W.data)
        return np.concatenate(parts, axis=0), self.b.data.copy()


class TensorParallel(Module):
    """A `Sequential` MLP with every Linear split over the ranks of `comm` (see the module docstring).

    Every rank builds the same full model (same seed) and keeps its share; `step_loss` runs
    forward and backward on the whole batch, `full_weights` gathers [(W, b), ...] back.
    """

    def __init__(self, model: Sequential, comm=None, split: str = "column", traffic: Traffic | None = None):
        self.comm = _world(comm)
        self.split = split
        self.traffic = traffic if traffic is not None else Traffic()
        shapes = [tuple(m.W.shape) for m in model.layers if isinstance(m, Linear)]
        agree_settings(self.comm, "TensorParallel", split=split, layers=shapes)
        if split not in SPLITS:
            raise ValueError(f"TensorParallel: split {split!r}; use one of {SPLITS}")
        layers, i, n = [], 0, len(shapes)
        for m in model.layers:
            if isinstance(m, Linear):
                name = f"TensorParallel({split!r}), Linear layer {i} of shape {shapes[i]}"
                if split == "column" or (split == "pair" and i % 2 == 0):
                    gather = split == "column" or i == n - 1
                    layers.append(ColumnParallelLinear(m, self.comm, gather, self.traffic, name))
                else:
                    layers.append(RowParallelLinear(m, self.comm, split == "row", self.traffic, name))
                i += 1
            else:
                layers.append(m)
        self.layers = layers

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def step_loss(self, xb, yb, loss_fn) -> float:
        """Forward and backward on (xb, yb); adds into the gradients; returns the loss."""
        loss = loss_fn(self(Tensor(xb, dtype=self.layers[0].W.dtype)), yb)
        loss.backward()
        return loss.item()

    def full_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [m.full() for m in self.layers if isinstance(m, (ColumnParallelLinear, RowParallelLinear))]
