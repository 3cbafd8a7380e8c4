"""The alpha-beta model of communication time, and a fit of alpha and beta.

Sending one message of n bytes takes  T = alpha + n * beta:  alpha is the latency
(seconds per message), beta the inverse bandwidth (seconds per byte). An algorithm's
cost counts the messages on its critical path and the bytes each rank sends
(P ranks, n bytes of gradients each):

    ring                2(P-1) alpha + 2 (P-1)/P n beta     bandwidth-optimal
    recursive doubling  lg P alpha   + lg P n beta          latency-optimal
    naive (via rank 0)  2(P-1) alpha + 2(P-1) n beta         everything through one link
    parameter server    max(2P (alpha + n/S beta),           the busiest of S shards serves P pushes and pulls,
                            2S alpha + 2 n beta)             and each worker's own link carries n bytes each way

A parameter server never drops below the ring: whatever S, one of its two terms is at
least 2P alpha + 2 n beta (S >= P: the worker's; S < P: a shard's), above the ring's
2(P-1) alpha + 2(P-1)/P n beta.

The seed's per-iteration communication of batch parallelism against domain
parallelism, summed over layers i with |W_i| weights (bytes):

    T_comm(batch)  = sum_i 2 (alpha lg P + beta (P-1)/P |W_i|)
    T_comm(domain) = sum_i (alpha + beta B X_W X_C h_h) + sum_i (alpha + beta B Y_W Y_C h_w)
                     + T_comm(batch)

T_comm(batch) is neither the ring nor recursive doubling: lg P latencies with the ring's
bandwidth term is the cost of recursive halving (reduce-scatter) then recursive doubling
(allgather), Rabenseifner's algorithm, for P a power of two. The halo is h = floor(k/2)
rows of a k-row kernel (the lecture writes k/2, which for an odd k counts half a row more).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _check(n, P):
    if P < 1 or int(P) != P:
        raise ValueError(f"cost model: P = {P}; the number of ranks is a positive integer")
    if np.any(np.asarray(n) < 0):
        raise ValueError(f"cost model: n = {n} bytes; message sizes cannot be negative")


def ring_time(n, P: int, alpha: float, beta: float, gamma: float = 0.0):
    """Ring allreduce of n bytes on P ranks: 2(P-1) alpha + 2(P-1)/P n beta (+ (P-1)/P n gamma).

    gamma, seconds per byte of additions, is the third term of Thakur, Rabenseifner and
    Gropp's alpha-beta-gamma model: each rank adds (P-1)/P n bytes into its chunks during
    the reduce-scatter. Left at 0 it is the lectures' alpha-beta model."""
    _check(n, P)
    return 2 * (P - 1) * alpha + (P - 1) / P * np.asarray(n) * (2 * beta + gamma)


def recursive_doubling_time(n, P: int, alpha: float, beta: float):
    """Recursive doubling: lg P alpha + lg P n beta, with floor(lg P) rounds; a P that is
    not a power of two pays two more whole-array messages to fold the extra ranks in."""
    _check(n, P)
    rounds = math.floor(math.log2(P)) if P > 1 else 0
    extra = 2 if P & (P - 1) else 0
    return (rounds + extra) * (alpha + np.asarray(n) * beta)


def naive_time(n, P: int, alpha: float, beta: float):
    """Reduce to one rank message by message, then send to each: 2(P-1)(alpha + n beta)."""
    _check(n, P)
    return 2 * (P - 1) * (alpha + np.asarray(n) * beta)


def parameter_server_time(n, P: int, alpha: float, beta: float, shards: int = 1):
    """P workers push n bytes of gradients and pull n bytes of parameters through S shards.

    Two links limit a step, and it lasts as long as the slower of them:

    - the busiest shard receives P pushes and sends P pulls of n/S bytes each:
      2P (alpha + n/S beta);
    - each worker sends S messages of n/S bytes (one to each shard) and receives S:
      2S alpha + 2 n beta, whatever S is, since all n bytes cross the worker's own link.

    With one shard the shard dominates and the time is 2P (alpha + n beta). Adding shards
    divides the shard's bytes, but never the worker's: the time stays at least
    2P alpha + 2 n beta, above the ring's 2(P-1) alpha + 2(P-1)/P n beta.
    """
    _check(n, P)
    S = np.asarray(shards)
    if np.any(S < 1) or np.any(S != np.floor(S)):
        raise ValueError(f"parameter_server_time: shards = {shards}; the number of shards is a positive integer")
    n = np.asarray(n)
    busiest_shard = 2 * P * (alpha + n / S * beta)
    worker = 2 * S * alpha + 2 * n * beta
    return np.maximum(busiest_shard, worker)


ALGORITHM_TIMES = {"ring": ring_time, "recursive_doubling": recursive_doubling_time,
                   "naive": naive_time, "parameter_server": parameter_server_time}


def t_comm_batch(weight_bytes, P: int, alpha: float, beta: float) -> float:
    """The seed's T_comm(batch): an allreduce of every layer's weight gradients, each
    2 lg P alpha + 2 (P-1)/P |W_i| beta (recursive halving then doubling)."""
    _check(0, P)
    lg = math.log2(P) if P > 1 else 0.0
    return float(sum(2 * (alpha * lg + beta * (P - 1) / P * w) for w in weight_bytes))


@dataclass
class ConvLayer:
    """Sizes for the domain-parallel halo exchange (bytes per number in `itemsize`)."""
    x_w: int   # input width X_W
    x_c: int   # input channels X_C
    y_w: int   # output width Y_W
    y_c: int   # output channels Y_C
    k_h: int   # kernel height
    k_w: int   # kernel width
    weight_bytes: int  # |W_i|
    itemsize: int = 4


def halo_rows(k: int) -> int:
    """Rows a k-row kernel reads beyond a block's edge, on each side: floor(k/2)."""
    if k < 1 or int(k) != k:
        raise ValueError(f"halo_rows: kernel size {k}; a kernel has a positive whole number of rows")
    return int(k) // 2


def t_comm_domain(layers: list[ConvLayer], B: int, P: int, alpha: float, beta: float) -> float:
    """The seed's T_comm(domain): halo exchanges of activations (forward) and of
    errors (backward), plus the same weight-gradient allreduce as batch parallelism.

    The halo is h = floor(k/2) rows (`halo_rows`), what a convolution with "same" padding
    reads from its neighbour: 1 row for a 3x3 kernel, none for 1x1. The lecture writes k/2,
    1.5 rows for a 3x3 kernel, which counts half a row too many."""
    halo = sum((alpha + beta * B * L.x_w * L.x_c * halo_rows(L.k_h) * L.itemsize)
               + (alpha + beta * B * L.y_w * L.y_c * halo_rows(L.k_w) * L.itemsize) for L in layers)
    return float(halo + t_comm_batch([L.weight_bytes for L in layers], P, alpha, beta))


@dataclass
class AlphaBeta:
    """A fitted model: seconds per message, seconds per byte, and how well it fits."""
    alpha: float
    beta: float
    max_rel_error: float           # largest |model - measured| / measured over the points
    median_rel_error: float = 0.0  # the typical point's relative error
    worst_size: float = 0.0        # the message size (bytes) of the worst point

    @property
    def bandwidth(self) -> float:
        """Bytes per second, 1 / beta."""
        return 1.0 / self.beta

    def time(self, n) -> np.ndarray:
        return self.alpha + np.asarray(n) * self.beta


def fit_alpha_beta(n_bytes, seconds, iterations: int = 50) -> AlphaBeta:
    """Robust fit of seconds = alpha + n beta over message sizes.

    It minimises the sum of relative errors |alpha + n beta - t| / t (iteratively
    reweighted least squares), so the small messages that fix alpha count as much as the
    large ones that fix beta, and one disturbed point (a rank that lost its core to another
    program during a size's round trips) moves the line far less than in a least-squares
    fit: that point shows up as a large `max_rel_error` at `worst_size` while
    `median_rel_error` stays small. A real MPI also switches protocol with the message size
    (eager below some kilobytes, rendezvous above), so one line can miss single points by
    tens of percent; fit small and large sizes apart to see both lines.
    """
    n = np.asarray(n_bytes, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if n.shape != t.shape or n.size < 2 or np.unique(n).size < 2:
        raise ValueError(f"fit_alpha_beta: need at least two different sizes with one time each; "
                         f"got sizes {n.tolist()} and {t.size} times")
    if np.any(t <= 0) or not np.all(np.isfinite(t)):
        raise ValueError("fit_alpha_beta: every time must be positive, finite seconds")
    A = np.stack([np.ones_like(n), n], axis=1) / t[:, None]   # rows: (1, n) / t, target 1
    w = np.ones_like(t)
    for _ in range(iterations):                               # L1 by reweighting: w = 1 / |residual|
        (alpha, beta), *_ = np.linalg.lstsq(A * w[:, None], w, rcond=None)
        w = 1.0 / np.sqrt(np.maximum(np.abs(A @ [alpha, beta] - 1.0), 1e-6))
    alpha, beta = max(float(alpha), 0.0), max(float(beta), 1e-15)
    rel = np.abs(alpha + n * beta - t) / t
    return AlphaBeta(alpha, beta, float(rel.max()), float(np.median(rel)), float(n[np.argmax(rel)]))


def flush_caches(nbytes: int = 64 << 20) -> None:
    """Reads `nbytes` of other memory, so that the caches hold none of what was used before
    (64 MB is larger than the last-level cache of most machines); nothing is written."""
    global _FLUSH
    if _FLUSH is None or _FLUSH.nbytes != nbytes:
        _FLUSH = np.ones(nbytes // 8)
    _FLUSH.sum()


_FLUSH = None


def measure_pingpong(comm=None, sizes=(8, 64, 512, 4096, 32768, 262144, 2097152, 8388608),
                     repeats: int = 20, cold: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """One-way message time between ranks 0 and 1: half the median round trip per size.

    `cold=True` empties the caches (`flush_caches`) before every round trip, as after a
    backward pass whose arrays filled them: a message then comes from memory, not cache.

    One warm-up pass over all sizes comes first and is dropped (MPI sets up its
    connections and buffers on the first messages). Then `repeats` rounds each time
    every size once, so that a burst of load from other programs spreads over all sizes
    instead of spoiling the median of one.

    Collective: every rank calls it; ranks other than 0 and 1 only wait at the barriers.
    Returns (sizes in bytes, seconds), meaningful on rank 0.
    """
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    if comm.Get_size() < 2:
        raise ValueError("measure_pingpong: needs at least 2 ranks; launch with n=2")
    if repeats < 1:
        raise ValueError(f"measure_pingpong: repeats = {repeats}; take at least one round trip per size")
    from mpi4py import MPI
    rank = comm.Get_rank()
    bufs = [np.zeros(size, dtype=np.uint8) for size in sizes]
    rounds = np.zeros((repeats + 1, len(sizes)))
    for k in range(repeats + 1):                       # round 0 is the warm-up
        for j, buf in enumerate(bufs):
            if cold:
                flush_caches()
            comm.Barrier()
            t0 = MPI.Wtime()
            if rank == 0:
                comm.Send(buf, dest=1, tag=5)
                comm.Recv(buf, source=1, tag=5)
            elif rank == 1:
                comm.Recv(buf, source=0, tag=5)
                comm.Send(buf, dest=0, tag=5)
            rounds[k, j] = MPI.Wtime() - t0
    return np.asarray(sizes, dtype=float), np.median(rounds[1:], axis=0) / 2


def strong_scaling(compute_seconds: float, gradient_bytes: float, Ps, alpha: float, beta: float,
                   algorithm: str = "ring") -> dict:
    """Predicted step time when P ranks split a fixed global batch.

    Compute divides by P (perfect batch parallelism); the allreduce of the whole
    gradient is added on top. Returns P, step time, speedup and efficiency arrays.
    """
    if algorithm not in ALGORITHM_TIMES:
        raise ValueError(f"strong_scaling: unknown algorithm {algorithm!r}; use one of {list(ALGORITHM_TIMES)}")
    Ps = np.asarray(list(Ps))
    comm = np.array([ALGORITHM_TIMES[algorithm](gradient_bytes, int(P), alpha, beta) if P > 1 else 0.0
                     for P in Ps])
    step = compute_seconds / Ps + comm
    speedup = compute_seconds / step
    return {"P": Ps, "step": step, "compute": compute_seconds / Ps, "comm": comm,
            "speedup": speedup, "efficiency": speedup / Ps}
