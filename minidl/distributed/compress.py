"""Gradient compression: send only the large entries, keep the rest for later (CS348K lecture).

Each rank k accumulates what it has not sent yet in a local residual v_k, sends only the
entries a rule selects, as (index, value) pairs, and zeros what it sent:

    threshold rule   send the entries with |v| > threshold (the lecture's rule)
    top-k rule       send the k = round(fraction * n) entries of largest |v|

Two ways to combine this with momentum m, as the slides write them (grad_k is rank k's
gradient divided by the number of ranks N, so that the sum over ranks is the mean):

    naive        v_k += grad_k;                  u = m u + sum_k sparse(v_k);  w -= lr u
    corrected    u_k = m u_k + grad_k;  v_k += u_k;    w -= lr sum_k sparse(v_k)

The naive update gives a gradient that waits T steps in v_k weight 1 when it is sent, where
dense momentum would have given it 1 + m + ... + m^(T-1) by then; the corrected update
accumulates velocities, so the discount is kept. With threshold 0 (or fraction 1) both
send everything and are dense SGD with momentum.

`sparse_allreduce` sums the sparse vectors of all ranks with `Allgatherv` of the pairs
(buffer API), then a sum in rank order. `SparseMomentum` is one rank's rule, pure numpy;
`CompressedSGD` is the optimizer over MPI; `train_compressed` the loop of lesson 07.
"""
from __future__ import annotations

import math

import numpy as np

from minidl.data import batches
from minidl.distributed.agree import agree_settings
from minidl.distributed.data_parallel import broadcast_parameters, local_batch
from minidl.nn import cross_entropy
from minidl.tensor import Tensor, no_grad

MODES = ("dense", "naive", "corrected")
INDEX_DTYPE = np.dtype(np.int32)  # 4 bytes per index: enough for 2**31 parameters

__all__ = ["MODES", "select_threshold", "select_top_k", "SparseMomentum", "sparse_allreduce",
           "ByteCounter", "CompressedSGD", "train_compressed", "simulate", "steps_until_sent",
           "momentum_weight", "sparse_allgather_time", "crossover_density"]


def _world(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


def _check_rule(op: str, fraction, threshold) -> None:
    if (fraction is None) == (threshold is None):
        raise ValueError(f"{op}: pass exactly one of fraction= (top-k) or threshold=, got "
                         f"fraction={fraction!r} and threshold={threshold!r}")
    if fraction is not None and not (isinstance(fraction, (int, float, np.number))
                                     and 0 < fraction <= 1):
        raise ValueError(f"{op}: fraction {fraction!r} is outside (0, 1]; send a positive fraction "
                         f"of the entries, at most all of them (sparsity 99.9% is fraction 0.001)")
    if threshold is not None and not (isinstance(threshold, (int, float, np.number)) and threshold >= 0):
        raise ValueError(f"{op}: threshold {threshold!r}; use a number >= 0 (0 sends every nonzero entry)")


# ---- the two rules ------------------------------------------------------------------------


def select_threshold(v: np.ndarray, threshold: float) -> np.ndarray:
    """Indices (ascending, int32) of the entries with |v| > threshold: (n,) -> (k,)."""
    _check_rule("select_threshold", None, threshold)
    return np.flatnonzero(np.abs(v) > threshold).astype(INDEX_DTYPE)


def select_top_k(v: np.ndarray, fraction: float) -> np.ndarray:
    """Indices (ascending, int32) of the round(fraction * n) entries of largest |v|, at least one."""
    _check_rule("select_top_k", fraction, None)
    n = v.size
    k = min(n, max(1, round(fraction * n)))
    if k == n:
        return np.arange(n, dtype=INDEX_DTYPE)
    return np.sort(np.argpartition(-np.abs(v), k - 1)[:k]).astype(INDEX_DTYPE)


class SparseMomentum:
    """One rank's compression rule with local accumulation, in numpy only.

    `idx, vals = rule.compress(grad)` adds this step's gradient (naive) or velocity
    (corrected) to the residual v, takes out the selected entries and zeros them in v.
    `rule.update(s)`, given the sum s (n,) over ranks of what they sent, is the step
    direction: w -= lr * rule.update(s). Mode "dense" sends everything, the plain momentum.
    """

    def __init__(self, n: int, momentum: float = 0.0, mode: str = "corrected",
                 fraction: float | None = None, threshold: float | None = None):
        if mode not in MODES:
            raise ValueError(f"SparseMomentum: mode {mode!r}; use one of {MODES}")
        if mode == "dense":
            fraction, threshold = None, 0.0
        _check_rule("SparseMomentum", fraction, threshold)
        if not 0 <= momentum < 1:
            raise ValueError(f"SparseMomentum: momentum {momentum!r} must be in [0, 1)")
        self.n, self.m, self.mode = int(n), float(momentum), mode
        self.fraction, self.threshold = fraction, threshold
        self.v = np.zeros(self.n)        # residual: accumulated, not sent yet
        self.u_local = np.zeros(self.n)  # u_k of the corrected rule
        self.u = np.zeros(self.n)        # u of the naive rule (the same on every rank)

    def select(self, v: np.ndarray) -> np.ndarray:
        if self.threshold is not None:
            return select_threshold(v, self.threshold)
        return select_top_k(v, self.fraction)

    def compress(self, grad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """grad (n,) -> (indices (k,) int32, values (k,)) to send; the rest stays in self.v."""
        grad = np.asarray(grad, dtype=np.float64).reshape(-1)
        if grad.size != self.n:
            raise ValueError(f"SparseMomentum.compress: gradient of {grad.size} entries, built for {self.n}")
        if self.mode == "corrected":
            self.u_local *= self.m
            self.u_local += grad   # u_k = m u_k + grad_k
            self.v += self.u_local  # v_k += u_k: accumulate velocities
        else:
            self.v += grad          # v_k += grad_k: accumulate gradients
        idx = self.select(self.v)
        vals = self.v[idx]          # a copy (fancy indexing)
        self.v[idx] = 0.0           # zero what was sent
        return idx, vals

    def update(self, s: np.ndarray) -> np.ndarray:
        """The direction d of the step w -= lr d, from the sum s (n,) of what all ranks sent."""
        if self.mode == "corrected":
            return s
        self.u *= self.m
        self.u += s                 # u = m u + sum_k sparse(v_k)
        return self.u


def simulate(grads: np.ndarray, momentum: float, lr: float, mode: str, fraction=None,
             threshold=None, w0=None) -> dict:
    """P ranks of `SparseMomentum` in one process on given gradients grads (T, P, n) (already
    divided by P), the sum in rank order as `sparse_allreduce`. Returns {"w": (T + 1, n),
    "sent": (T, P, n) what each rank sent, "residual": (P, n) what is left}."""
    grads = np.asarray(grads, dtype=np.float64)
    if grads.ndim != 3:
        raise ValueError(f"simulate: grads of shape {grads.shape}; pass (T steps, P ranks, n)")
    T, P, n = grads.shape
    rules = [SparseMomentum(n, momentum, mode, fraction, threshold) for _ in range(P)]
    w = np.zeros(n) if w0 is None else np.array(w0, dtype=np.float64)
    ws, sent = [w.copy()], np.zeros((T, P, n))
    for t in range(T):
        s = np.zeros(n)
        for r, rule in enumerate(rules):
            idx, vals = rule.compress(grads[t, r])
            sent[t, r, idx] = vals
            s[idx] += vals
        d = [rule.update(s) for rule in rules][0]  # every rank keeps the same u (naive)
        w = w - lr * d
        ws.append(w.copy())
    return {"w": np.array(ws), "sent": sent, "residual": np.array([r.v for r in rules])}


# ---- over MPI --------------------------------------------------------------------------------


def _fail_together(comm, op: str, error: str | None, n: int, k: int) -> np.ndarray:
    """Allgathers (n, k, failed) from every rank; raises the same ValueError on every rank when a
    rank failed or the sizes differ. Returns the counts k of every rank."""
    mine = np.array([n, k, error is not None], dtype=np.int64)
    every = np.empty((comm.Get_size(), 3), dtype=np.int64)
    comm.Allgather(mine, every)
    if np.all(every[:, 2] == 0) and np.all(every[:, 0] == every[0, 0]):
        return every[:, 1]
    messages = comm.allgather(error)  # only on the way to an error
    parts = [f"rank {r}: {m}" for r, m in enumerate(messages) if m is not None]
    if np.any(every[:, 0] != every[0, 0]):
        sizes = ", ".join(f"{int(s)} on rank {r}" for r, s in enumerate(every[:, 0]))
        parts.append(f"the ranks hold vectors of different sizes ({sizes}); every rank must "
                     f"compress the same parameters")
    raise ValueError(f"{op}: " + "; ".join(parts) + ". Nothing was sent on any rank.")


def sparse_allreduce(idx: np.ndarray, vals: np.ndarray, n: int, comm=None) -> np.ndarray:
    """The sum over ranks of the sparse vectors (idx, vals) of length n, dense (n,) float64.

    One `Allgather` of (n, k) per rank (so that a mismatch raises the same error on every
    rank rather than hanging), then `Allgatherv` of the int32 indices and of the float64
    values, then s[idx_r] += vals_r in rank order. Equal to `Allreduce` of the dense vectors
    to rounding (the same numbers, perhaps summed in another order).
    """
    comm = _world(comm)
    idx = np.ascontiguousarray(idx, dtype=INDEX_DTYPE)
    vals = np.ascontiguousarray(vals, dtype=np.float64)
    error = None
    if idx.ndim != 1 or vals.shape != idx.shape:
        error = f"indices of shape {idx.shape} and values of shape {vals.shape}; pass two (k,) arrays"
    elif idx.size and (idx.min() < 0 or idx.max() >= n):
        error = f"indices from {idx.min()} to {idx.max()} outside [0, {n}); they index a vector of {n}"
    elif idx.size != np.unique(idx).size:
        error = "repeated indices; send each entry at most once"
    counts = _fail_together(comm, "sparse_allreduce", error, int(n), idx.size)
    total = int(counts.sum())
    all_idx = np.empty(total, dtype=INDEX_DTYPE)
    all_vals = np.empty(total, dtype=np.float64)
    displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
    comm.Allgatherv(idx, [all_idx, counts, displs, _mpi_type(INDEX_DTYPE)])
    comm.Allgatherv(vals, [all_vals, counts, displs, _mpi_type(np.float64)])
    s = np.zeros(n)
    for start, k in zip(displs, counts):  # rank order; indices are unique within a rank
        s[all_idx[start:start + k]] += all_vals[start:start + k]
    return s


def _mpi_type(dtype):
    from mpi4py import MPI
    return MPI.INT32_T if np.dtype(dtype) == INDEX_DTYPE else MPI.DOUBLE


class ByteCounter:
    """Per step: the bytes of the dense gradient (n values) and the bytes this rank sent
    (k indices and k values)."""

    def __init__(self):
        self.dense: list[int] = []
        self.sent: list[int] = []

    def record(self, dense: int, sent: int) -> None:
        self.dense.append(int(dense))
        self.sent.append(int(sent))

    @property
    def ratio(self) -> float:
        """Compression ratio: dense bytes over sent bytes, over all steps."""
        return sum(self.dense) / max(1, sum(self.sent))


class CompressedSGD:
    """SGD with momentum whose gradients travel compressed: `opt.step()` after `backward()`.

    Building it is collective: the ranks compare sizes and settings with one allgather, so a
    mismatch or a bad fraction raises the same ValueError on every rank. Each step, rank k
    compresses grad / P with its `SparseMomentum`, the ranks sum the pairs with
    `sparse_allreduce`, and every rank applies w -= lr * direction. Mode "dense" is the
    baseline: one dense `Allreduce` of n values instead, and the same momentum.
    `counter` holds per step the dense bytes (8 n) and the bytes sent (12 per pair: int32
    index, float64 value; 8 n for dense).
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, mode: str = "corrected",
                 fraction: float | None = None, threshold: float | None = None, comm=None):
        self.comm = _world(comm)
        self.params = list(params)
        self.lr = lr
        self.n = sum(p.data.size for p in self.params)
        sig = [(tuple(p.data.shape), str(p.data.dtype)) for p in self.params]
        agree_settings(self.comm, "CompressedSGD", parameters=sig, lr=lr, momentum=momentum, mode=mode,
                        fraction=fraction, threshold=threshold)
        if mode != "dense":  # the ranks agree, so each raises the same error
            _check_rule("CompressedSGD", fraction, threshold)
        self.rule = SparseMomentum(self.n, momentum, mode, fraction, threshold)
        self.counter = ByteCounter()

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        P = self.comm.Get_size()
        g = np.concatenate([np.zeros(p.data.size) if p.grad is None else p.grad.reshape(-1)
                            for p in self.params]) / P   # grad_k = local mean gradient / N
        if self.rule.mode == "dense":  # the baseline: one dense Allreduce of n values
            from mpi4py import MPI
            s = g.copy()
            self.comm.Allreduce(MPI.IN_PLACE, s, op=MPI.SUM)
            self.counter.record(self.n * 8, self.n * 8)
        else:
            idx, vals = self.rule.compress(g)
            s = sparse_allreduce(idx, vals, self.n, self.comm)
            self.counter.record(self.n * 8, idx.size * (INDEX_DTYPE.itemsize + 8))
        d = self.rule.update(s)
        offset = 0
        for p in self.params:
            p.data -= self.lr * d[offset:offset + p.data.size].reshape(p.data.shape)
            offset += p.data.size


def train_compressed(model, x, y, global_batch: int, lr: float, momentum: float = 0.9,
                     mode: str = "corrected", fraction=None, threshold=None, epochs: int = 1,
                     seed: int = 0, comm=None, eval_data=None, eval_every: int | None = None,
                     loss_fn=cross_entropy) -> dict:
    """`train_data_parallel`'s batches and loop with `CompressedSGD` in place of allreduce + step.

    Returns {"loss": global mean loss per step, "evals": [(step, test loss, test accuracy)],
    "dense_bytes", "sent_bytes": per step, "ratio": the compression ratio}, the same on every rank.
    """
    comm = _world(comm)
    P, rank = comm.Get_size(), comm.Get_rank()
    opt = CompressedSGD(model.parameters(), lr, momentum, mode, fraction, threshold, comm)
    if global_batch % P:
        raise ValueError(f"train_compressed: global batch {global_batch} is not a multiple of {P} ranks")
    params = model.parameters()
    broadcast_parameters(params, comm)
    losses, evals, step = [], [], 0

    def evaluate():
        if eval_data is not None:
            xe, ye = eval_data
            with no_grad():
                out = model(Tensor(xe, dtype=params[0].dtype))
                loss = loss_fn(out, ye).item()
            evals.append((step, loss, float((out.data.argmax(axis=1) == ye).mean())))

    evaluate()
    for epoch in range(epochs):
        for xb, yb in batches(x, y, global_batch, seed=seed, epoch=epoch, drop_last=True):
            xb, yb = local_batch(xb, yb, rank, P)
            loss = loss_fn(model(Tensor(xb, dtype=params[0].dtype)), yb)  # forward
            opt.zero_grad()
            loss.backward()                                               # backward
            opt.step()                                                    # compress, allgather, step
            losses.append(comm.allreduce(loss.item()) / P)
            step += 1
            if eval_every and step % eval_every == 0:
                evaluate()
    if eval_data is not None and evals[-1][0] != step:
        evaluate()
    c = opt.counter
    return {"loss": losses, "evals": evals, "dense_bytes": c.dense, "sent_bytes": c.sent, "ratio": c.ratio}


# ---- the numbers of the derivation ------------------------------------------------------------


def steps_until_sent(g: float, threshold: float, momentum: float = 0.0, mode: str = "naive") -> int:
    """Steps T until an entry whose gradient is g at every step is sent by the threshold rule:
    naive accumulates |v| = T |g|, corrected the velocities, |v| = |g| (W(1) + ... + W(T)) with
    W(j) = `momentum_weight(j, m)`. The first T with |v| > threshold; it waits T - 1 steps."""
    if g == 0:
        return math.inf
    if mode == "naive":
        return math.floor(threshold / abs(g)) + 1
    T, v = 0, 0.0
    while v <= threshold:
        T += 1
        v += abs(g) * momentum_weight(T, momentum)
    return T


def momentum_weight(T: int, m: float) -> float:
    """1 + m + ... + m^(T-1): the weight dense momentum has given a gradient T steps later."""
    return float(T) if m == 1 else (1 - m ** T) / (1 - m)


# ---- the alpha-beta time -----------------------------------------------------------------------


def sparse_allgather_time(k, P: int, alpha: float, beta: float, pair_bytes: int = 8,
                          counts: bool = False):
    """Ring allgather of k (index, value) pairs from each of P ranks: (P - 1)(alpha + k pair_bytes beta);
    with counts=True one more ring allgather of the counts first ((P - 1) alpha), as the threshold
    rule needs. Every rank receives (P - 1) k pairs: the time grows with P k."""
    k = np.asarray(k, dtype=float)
    return (P - 1) * ((2 if counts else 1) * alpha + k * pair_bytes * beta)


def crossover_density(n: int, P: int, alpha: float, beta: float, value_bytes: int = 4,
                      index_bytes: int = 4, counts: bool = False) -> float:
    """The fraction f of entries sent below which the sparse allgather beats the dense ring
    allreduce of n values, 2(P-1) alpha + 2(P-1)/P n value_bytes beta:
    f = ((2 - c) alpha + 2 n value_bytes beta / P) / (n (index_bytes + value_bytes) beta),
    c = 2 with counts, 1 without. Can exceed 1 (the sparse allgather always wins)."""
    c = 2 if counts else 1
    return ((2 - c) * alpha + 2 * n * value_bytes * beta / P) / (n * (index_bytes + value_bytes) * beta)
