"""Allreduce written from point-to-point messages, for teaching.

Each function sums `array` over the P ranks of `comm` and returns the sum on
every rank, as `comm.Allreduce` does, for any P >= 1 and any size (P need not be a
power of two, nor divide the size). They differ in how many messages they send
and how many bytes each rank moves, which is what the alpha-beta model counts
(see `minidl.distributed.cost`):

    naive               reduce to rank 0, then rank 0 sends to each: 2(P-1) messages
                        in a row through one rank
    recursive doubling  lg P rounds; in round k ranks 2^k apart swap everything
    ring                reduce-scatter then allgather around a ring: 2(P-1) steps,
                        each rank sends only n/P elements per step

`ring_schedule(P)` is the ring as data (who sends which chunk in which step), and
`simulate_ring` runs it on P arrays in one process, which is how the lesson draws it.
"""
from __future__ import annotations

import numpy as np

TAG = 77


def _world(comm):
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    return comm


def _prepare(array, name: str) -> np.ndarray:
    a = np.array(array, copy=True, order="C")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name}: cannot sum an array of dtype {a.dtype}; pass numbers (float or int)")
    return a


# ---- the ring -------------------------------------------------------------------


def chunk_bounds(n: int, P: int) -> np.ndarray:
    """Start of each of the P chunks (and the end), sizes differing by at most one."""
    sizes = np.full(P, n // P)
    sizes[: n % P] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def ring_schedule(P: int) -> list[list[tuple[int, int, int]]]:
    """The ring allreduce as data: steps[k] lists (sender, receiver, chunk) for step k.

    Steps 0 .. P-2 are the reduce-scatter: rank r sends chunk (r - k) mod P to rank
    r + 1, which adds it to its own. After them rank r holds the full sum of chunk
    (r + 1) mod P. Steps P-1 .. 2P-3 are the allgather: the summed chunks go round
    once more, each rank overwriting instead of adding.
    """
    steps = []
    for k in range(P - 1):
        steps.append([(r, (r + 1) % P, (r - k) % P) for r in range(P)])
    for k in range(P - 1):
        steps.append([(r, (r + 1) % P, (r + 1 - k) % P) for r in range(P)])
    return steps


def ring_allreduce(array, comm=None) -> np.ndarray:
    """The sum of `array` over all ranks, by reduce-scatter then allgather on a ring."""
    comm = _world(comm)
    a = _prepare(array, "ring_allreduce")
    P, r = comm.Get_size(), comm.Get_rank()
    if P == 1:
        return a
    flat = a.reshape(-1)
    bounds = chunk_bounds(flat.size, P)
    scratch = np.empty(bounds[1] - bounds[0], dtype=flat.dtype)  # the largest chunk
    right, left = (r + 1) % P, (r - 1) % P
    for k, step in enumerate(ring_schedule(P)):
        _, _, send = step[r]
        _, _, recv = step[left]  # the chunk my left neighbour sends me
        s0, s1, r0, r1 = bounds[send], bounds[send + 1], bounds[recv], bounds[recv + 1]
        if k < P - 1:  # reduce-scatter: add what arrives
            incoming = scratch[: r1 - r0]
            comm.Sendrecv(flat[s0:s1], dest=right, sendtag=TAG, recvbuf=incoming, source=left, recvtag=TAG)
            flat[r0:r1] += incoming
        else:          # allgather: the arriving chunk is already the full sum
            comm.Sendrecv(flat[s0:s1], dest=right, sendtag=TAG, recvbuf=flat[r0:r1], source=left, recvtag=TAG)
    return a


def simulate_ring(arrays: list) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Runs `ring_schedule` on P arrays in one process (no MPI).

    Returns the P results (each the sum) and, for the pictures, a snapshot of every
    rank's array after each step: snapshots[k][r] (step 0 is the input).
    """
    bufs = [np.array(a, dtype=float).reshape(-1) for a in arrays]
    P = len(bufs)
    if P == 0 or len({b.size for b in bufs}) != 1:
        raise ValueError(f"simulate_ring: need P >= 1 arrays of one size, got sizes {[b.size for b in bufs]}")
    bounds = chunk_bounds(bufs[0].size, P)
    snapshots = [[b.copy() for b in bufs]]
    for k, step in enumerate(ring_schedule(P)):
        sent = [bufs[s][bounds[c]:bounds[c + 1]].copy() for s, _, c in step]  # all send at once
        for (_, d, c), chunk in zip(step, sent):
            lo, hi = bounds[c], bounds[c + 1]
            bufs[d][lo:hi] = bufs[d][lo:hi] + chunk if k < P - 1 else chunk
        snapshots.append([b.copy() for b in bufs])
    return [b.reshape(np.shape(arrays[0])) for b in bufs], snapshots


# ---- recursive doubling -----------------------------------------------------------


def recursive_doubling_allreduce(array, comm=None) -> np.ndarray:
    """The sum over all ranks in lg P rounds of pairwise exchange of the whole array.

    When P is not a power of two, the first 2*extra ranks pair up first: each odd one
    sends its array to its even partner and sits out, leaving a power of two; at the
    end the partners send the result back (two more messages).
    """
    comm = _world(comm)
    a = _prepare(array, "recursive_doubling_allreduce")
    P, r = comm.Get_size(), comm.Get_rank()
    if P == 1:
        return a
    flat = a.reshape(-1)
    incoming = np.empty_like(flat)
    p2 = 1 << (P.bit_length() - 1)  # largest power of two <= P
    extra = P - p2
    if r < 2 * extra and r % 2 == 1:  # fold: hand my array to my even partner, wait for the sum
        comm.Send(flat, dest=r - 1, tag=TAG)
        comm.Recv(flat, source=r - 1, tag=TAG)
        return a
    if r < 2 * extra:
        comm.Recv(incoming, source=r + 1, tag=TAG)
        flat += incoming
    vr = r // 2 if r < 2 * extra else r - extra  # my index among the p2 active ranks
    mask = 1
    while mask < p2:
        vpartner = vr ^ mask
        partner = 2 * vpartner if vpartner < extra else vpartner + extra
        comm.Sendrecv(flat, dest=partner, sendtag=TAG, recvbuf=incoming, source=partner, recvtag=TAG)
        # add in rank order so both partners compute bit-identical sums
        if partner < r:
            np.add(incoming, flat, out=flat)
        else:
            np.add(flat, incoming, out=flat)
        mask <<= 1
    if r < 2 * extra:
        comm.Send(flat, dest=r + 1, tag=TAG)
    return a


# ---- naive: everything through rank 0 -------------------------------------------------


def naive_allreduce(array, comm=None, root: int = 0) -> np.ndarray:
    """Reduce to `root` one message at a time, then `root` sends the sum to each rank.

    The root receives P-1 full arrays and sends P-1 more: its link carries 2(P-1)n
    elements, the bottleneck the ring and the parameter server's shards avoid.
    """
    comm = _world(comm)
    a = _prepare(array, "naive_allreduce")
    P, r = comm.Get_size(), comm.Get_rank()
    if not 0 <= root < P:
        raise ValueError(f"naive_allreduce: root {root} is not a rank of this {P}-rank communicator")
    if P == 1:
        return a
    flat = a.reshape(-1)
    if r == root:
        incoming = np.empty_like(flat)
        for src in range(P):
            if src != root:
                comm.Recv(incoming, source=src, tag=TAG)
                flat += incoming
        for dst in range(P):
            if dst != root:
                comm.Send(flat, dest=dst, tag=TAG)
    else:
        comm.Send(flat, dest=root, tag=TAG)
        comm.Recv(flat, source=root, tag=TAG)
    return a


def pickle_allreduce(array, comm=None) -> np.ndarray:
    """mpi4py's lowercase `allreduce`: the array is pickled, sent and unpickled."""
    comm = _world(comm)
    from mpi4py import MPI
    return comm.allreduce(np.asarray(array), op=MPI.SUM)


ALGORITHMS = {"ring": ring_allreduce, "recursive_doubling": recursive_doubling_allreduce,
              "naive": naive_allreduce, "pickle": pickle_allreduce}
