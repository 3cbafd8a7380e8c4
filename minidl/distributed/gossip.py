"""Gossip and local SGD: averaging models without a server and without a global collective.

Gossip (the seed's "peer-to-peer gossiping"): after each local SGD step, rank r replaces its
parameters x_r by an average with a few neighbours, with `Sendrecv` only:

    ring          x_r <- (x_{r-1} + x_r + x_{r+1}) / 3    two messages per rank per step
    random pairs  x_r <- (x_r + x_partner) / 2            one message; the pairs are re-drawn
                                                          each step from a generator that every
                                                          rank seeds alike, so all agree

One step is X <- W X for a P x P mixing matrix W that is symmetric with rows summing to 1,
so the mean over ranks stays where it was, and the spread around it shrinks by the
second-largest |eigenvalue| of W per step (on the ring; for random pairs, the squared spread
shrinks by that of E[W] on average). Each rank sends the same bytes per step whatever P is.

Local SGD ("how to combine w_1 and w_2?"): every rank takes H plain local steps, then all
average their parameters with one allreduce. H = 1 is data parallelism (lesson 07).

`simulate_gossip` runs the same arithmetic on P arrays in one process, bit for bit.
"""
from __future__ import annotations

import math

import numpy as np

from minidl.data import batches
from minidl.distributed.agree import agree_settings
from minidl.distributed.data_parallel import local_batch
from minidl.nn import cross_entropy
from minidl.tensor import Tensor

TOPOLOGIES = ("ring", "pairs")
TAG = 91

__all__ = ["TOPOLOGIES", "Gossip", "ring_neighbours", "ring_mixing_matrix", "random_pairs",
           "pairs_mixing_matrix", "expected_pairs_mixing_matrix", "second_eigenvalue", "spread",
           "simulate_gossip", "gossip_time", "gossip_bytes", "average_parameters", "train_gossip",
           "train_local_sgd", "steps_to_shrink"]


def _world(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


def _topology(topology: str, op: str) -> str:
    if topology not in TOPOLOGIES:
        raise ValueError(f"{op}: topology {topology!r}; use one of {TOPOLOGIES}")
    return topology


# ---- the mixing matrices and their rates -------------------------------------------------


def ring_neighbours(rank: int, P: int) -> list[int]:
    """The distinct other ranks next to `rank` on a ring of P: two for P >= 3, one for P = 2."""
    return sorted({(rank - 1) % P, (rank + 1) % P} - {rank})


def ring_mixing_matrix(P: int) -> np.ndarray:
    """W (P, P): rank r keeps 1 / (1 + m) of itself and takes 1 / (1 + m) of each of its m
    ring neighbours (1/3 each for P >= 3, 1/2 for P = 2, [[1]] for P = 1)."""
    if not (isinstance(P, (int, np.integer)) and P >= 1):
        raise ValueError(f"ring_mixing_matrix: P = {P!r}; use a positive number of ranks")
    W = np.zeros((P, P))
    for r in range(P):
        group = [r, *ring_neighbours(r, P)]
        W[r, group] = 1.0 / len(group)
    return W


def random_pairs(P: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A random matching of P ranks: floor(P / 2) disjoint pairs; for odd P one rank sits out."""
    perm = rng.permutation(P)
    return [tuple(sorted((int(perm[i]), int(perm[i + 1])))) for i in range(0, P - 1, 2)]


def pairs_mixing_matrix(pairs, P: int) -> np.ndarray:
    """W (P, P) of one step of pairwise averaging: 1/2 on both ends of each pair."""
    W = np.eye(P)
    for a, b in pairs:
        W[[a, a, b, b], [a, b, a, b]] = 0.5
    return W


def expected_pairs_mixing_matrix(P: int) -> np.ndarray:
    """E[W] over `random_pairs`: two given ranks are paired with probability
    p = floor(P / 2) / C(P, 2) (1 / (P - 1) for even P)."""
    if P == 1:
        return np.ones((1, 1))
    p = (P // 2) / (P * (P - 1) / 2)
    return np.full((P, P), p / 2) + np.eye(P) * (1 - (P - 1) * p / 2 - p / 2)


def second_eigenvalue(W: np.ndarray) -> float:
    """The largest |eigenvalue| of a symmetric mixing matrix W on the vectors of mean zero:
    the factor by which one step X <- W X shrinks the spread of X around its mean (in the
    long run; at once when all those eigenvalues have one size)."""
    W = np.asarray(W, dtype=float)
    P = W.shape[0]
    if W.ndim != 2 or W.shape != (P, P) or not np.allclose(W, W.T) or not np.allclose(W.sum(axis=1), 1):
        raise ValueError(f"second_eigenvalue: need a symmetric P x P matrix whose rows sum to 1, "
                         f"got shape {W.shape}")
    if P == 1:
        return 0.0
    return float(np.abs(np.linalg.eigvalsh(W - 1.0 / P)).max())


def spread(X: np.ndarray) -> float:
    """sqrt(mean over ranks of |x_r - mean|^2) for X of shape (P, n): how far the ranks disagree."""
    X = np.asarray(X, dtype=float)
    return float(np.sqrt(((X - X.mean(axis=0)) ** 2).sum(axis=1).mean()))


def _mix_ring(X: np.ndarray) -> np.ndarray:
    P = X.shape[0]
    if P == 1:
        return X.copy()
    if P == 2:
        return np.stack([(X[0] + X[1]) / 2] * 2)
    return (np.roll(X, 1, axis=0) + X + np.roll(X, -1, axis=0)) / 3  # left + mine + right, as `Gossip`


def _mix_pairs(X: np.ndarray, pairs) -> np.ndarray:
    Y = X.copy()
    for a, b in pairs:
        Y[a] = Y[b] = (X[a] + X[b]) / 2  # lower rank first, as `Gossip`
    return Y


def simulate_gossip(X0, topology: str = "ring", steps: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gossip on P rows of X0 (P, n) in one process, with exactly `Gossip`'s arithmetic.

    Returns (spreads (steps + 1,), the final X).
    """
    _topology(topology, "simulate_gossip")
    X = np.array(X0, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"simulate_gossip: X0 has shape {X.shape}; pass (P, n), one row per rank")
    rng = np.random.default_rng(seed)
    spreads = [spread(X)]
    for _ in range(steps):
        X = _mix_ring(X) if topology == "ring" else _mix_pairs(X, random_pairs(X.shape[0], rng))
        spreads.append(spread(X))
    return np.array(spreads), X


# ---- costs -----------------------------------------------------------------------------


def gossip_bytes(n: float, P: int, topology: str = "ring") -> float:
    """Bytes one rank sends per step: n to each neighbour (2n on a ring of P >= 3, n for a pair)."""
    _topology(topology, "gossip_bytes")
    if P == 1:
        return 0.0
    return float(n * (len(ring_neighbours(0, P)) if topology == "ring" else 1))


def gossip_time(n: float, P: int, alpha: float, beta: float, topology: str = "ring") -> float:
    """alpha-beta time of one gossip step: one Sendrecv (alpha + n beta, both ways at once)
    per neighbour: 2 (alpha + n beta) on a ring of P >= 3, whatever P is."""
    messages = gossip_bytes(n, P, topology) / n if n else (0 if P == 1 else 1)
    return float(messages * (alpha + n * beta))


# ---- over MPI --------------------------------------------------------------------------


class Gossip:
    """One gossip step over MPI for arrays of one shape and dtype: `x = g.mix(x)`.

    Building it is collective: the ranks compare shape, dtype, topology and seed once, and
    every rank raises the same ValueError if they differ (nothing hangs). Each `mix` is
    then Sendrecv with the neighbours only, no global collective.
    """

    def __init__(self, shape, dtype=np.float64, comm=None, topology: str = "ring", seed: int = 0):
        self.comm = _world(comm)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.topology = topology
        agree_settings(self.comm, "Gossip", shape=self.shape, dtype=str(self.dtype), topology=topology, seed=seed)
        _topology(topology, "Gossip")
        self.P, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.rng = np.random.default_rng(seed)  # the same draws on every rank
        self._a = np.empty(self.shape, self.dtype)
        self._b = np.empty(self.shape, self.dtype)

    def mix(self, x: np.ndarray) -> np.ndarray:
        """This rank's new value: the average with its neighbours (a new array)."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.shape != self.shape:
            raise ValueError(f"Gossip.mix: got shape {x.shape} on rank {self.rank}, built for "
                             f"{self.shape}; build a Gossip for each shape")
        P, r, c = self.P, self.rank, self.comm
        if P == 1:
            return x.copy()
        if self.topology == "pairs":
            partner = dict(sum(([(a, b), (b, a)] for a, b in random_pairs(P, self.rng)), []))
            if r not in partner:  # odd P: this rank sits out this step
                return x.copy()
            q = partner[r]
            c.Sendrecv(x, dest=q, sendtag=TAG, recvbuf=self._a, source=q, recvtag=TAG)
            return (x + self._a) / 2 if r < q else (self._a + x) / 2
        if P == 2:
            q = 1 - r
            c.Sendrecv(x, dest=q, sendtag=TAG, recvbuf=self._a, source=q, recvtag=TAG)
            return (x + self._a) / 2 if r < q else (self._a + x) / 2
        left, right = (r - 1) % P, (r + 1) % P
        c.Sendrecv(x, dest=right, sendtag=TAG, recvbuf=self._a, source=left, recvtag=TAG)
        c.Sendrecv(x, dest=left, sendtag=TAG + 1, recvbuf=self._b, source=right, recvtag=TAG + 1)
        return (self._a + x + self._b) / 3


def _flat(params) -> np.ndarray:
    return np.concatenate([p.data.reshape(-1) for p in params])


def _unflat(params, flat: np.ndarray) -> None:
    offset = 0
    for p in params:
        p.data[...] = flat[offset:offset + p.data.size].reshape(p.data.shape)
        offset += p.data.size


def average_parameters(params, comm=None) -> None:
    """Replaces every rank's parameters by their mean over the ranks: one packed Allreduce."""
    from mpi4py import MPI
    comm = _world(comm)
    params = list(params)
    if comm.Get_size() == 1:
        return
    buf = _flat(params)
    comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    _unflat(params, buf / comm.Get_size())


def _train(op, model, opt, x, y, global_batch, epochs, seed, comm, loss_fn, eval_data, eval_every,
           setup, steps, check: dict, finish=None):
    """The loop both trainers share: the batches of `train_data_parallel`, a local step, then
    `after_step(params, step)`, which `setup()` makes once every rank has agreed on the settings."""
    from minidl.distributed.data_parallel import broadcast_parameters
    P, rank = comm.Get_size(), comm.Get_rank()
    params = model.parameters()
    sig = [(tuple(p.data.shape), str(p.data.dtype)) for p in params]
    agree_settings(comm, op, parameters=sig, global_batch=global_batch, steps=steps, **check)
    for name, value in check.items():
        if name == "H" and not (isinstance(value, (int, np.integer)) and value >= 1):
            raise ValueError(f"{op}: H = {value!r}; average every H >= 1 local steps (H = 1 is data parallelism)")
        if name == "topology":
            _topology(value, op)
    if not (isinstance(global_batch, (int, np.integer)) and global_batch >= P and global_batch % P == 0):
        raise ValueError(f"{op}: global batch {global_batch!r} is not a positive multiple of {P} ranks; "
                         f"use a multiple of {P}")
    after_step = setup()
    broadcast_parameters(params, comm)
    losses, evals, step = [], [], 0

    def evaluate():
        if eval_data is not None:
            xe, ye = eval_data
            mine = loss_fn(model(Tensor(xe, dtype=params[0].dtype)), ye).item()
            evals.append((step, comm.allreduce(mine) / P))  # mean over ranks, for the record only

    evaluate()
    for epoch in range(epochs):
        for xb, yb in batches(x, y, global_batch, seed=seed, epoch=epoch, drop_last=True):
            if steps is not None and step == steps:
                break
            xb, yb = local_batch(xb, yb, rank, P)
            loss = loss_fn(model(Tensor(xb, dtype=params[0].dtype)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()                                     # a local step
            step += 1
            after_step(params, step)                       # then talk to the others
            losses.append(comm.allreduce(loss.item()) / P)  # for the record only
            if eval_every and step % eval_every == 0:
                evaluate()
    if finish is not None:
        finish(params, step)
    if eval_data is not None:  # the loss where training stopped (after `finish`)
        if evals[-1][0] == step:
            evals.pop()
        evaluate()
    return losses, evals


def train_local_sgd(model, opt, x, y, global_batch: int, H: int, epochs: int = 1, seed: int = 0,
                    comm=None, steps: int | None = None, loss_fn=cross_entropy, eval_data=None,
                    eval_every: int | None = None):
    """Local SGD: `train_data_parallel`'s batches, each rank steps alone, and every H steps (and
    once more at the end) the ranks average their parameters (`average_parameters`). With H = 1 and plain SGD this is
    data parallelism: mean(w - lr g_r) = w - lr mean(g_r) (to rounding; with momentum too).

    Returns (the global mean batch loss of every step, [(step, mean eval loss over ranks)]).
    Collective: every rank raises the same ValueError for H <= 0 or a mismatch between ranks.
    """
    comm = _world(comm)

    def setup():
        def after_step(params, step):
            if step % H == 0:
                average_parameters(params, comm)
        return after_step

    def finish(params, step):  # every rank ends with the same, averaged model
        if step % H:
            average_parameters(params, comm)

    return _train("train_local_sgd", model, opt, x, y, global_batch, epochs, seed, comm, loss_fn,
                  eval_data, eval_every, setup, steps, {"H": H}, finish)


def train_gossip(model, opt, x, y, global_batch: int, topology: str = "ring", epochs: int = 1,
                 seed: int = 0, comm=None, steps: int | None = None, loss_fn=cross_entropy,
                 eval_data=None, eval_every: int | None = None):
    """Gossip SGD: `train_data_parallel`'s batches, a local step, then one `Gossip.mix` of the
    parameters with the neighbours. Returns what `train_local_sgd` returns."""
    comm = _world(comm)

    def setup():
        params = model.parameters()
        gossip = Gossip((sum(p.data.size for p in params),), params[0].data.dtype, comm, topology, seed)

        def after_step(params, step):
            _unflat(params, gossip.mix(_flat(params)))
        return after_step

    return _train("train_gossip", model, opt, x, y, global_batch, epochs, seed, comm, loss_fn,
                  eval_data, eval_every, setup, steps, {"topology": topology})


def steps_to_shrink(rate: float, factor: float) -> int:
    """Steps k with rate^k <= 1 / factor: how long a spread takes to shrink `factor` times."""
    if not 0 <= rate < 1:
        raise ValueError(f"steps_to_shrink: rate {rate} must be in [0, 1)")
    return 1 if rate == 0 else math.ceil(math.log(1 / factor) / math.log(rate))
