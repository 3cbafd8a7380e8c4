"""Hogwild! on a virtual clock: read, compute and write as separate events.

A worker's SGD step on shared weights w is three events:

    read    copy w_j (and its update count c_j) for the example's k coordinates j
    compute the gradient from the copy               (takes `duration` virtual seconds)
    write   w_j <- read w_j - lr g_j,  c_j <- read c_j + 1

With no lock, another worker may write one of those w_j between my read and my write;
my write then overwrites it and its update is **lost**. The counts make that exact: each
write adds one to the count it read, so a lost write loses its +1 too, and

    lost coordinate updates = (coordinate writes made) - sum_j c_j .

A lock held from the read to the write (one global lock, or one lock per block of keys)
makes the three events one, and nothing is lost. Events are ordered by (time, sequence
number), durations come from a seeded generator, so every run gives the same numbers.
`interleave` runs an order of reads and writes given by hand, for tests and exercises.
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field

import numpy as np

from minidl.hogwild.problem import SparseProblem, blocks_of, worker_order

LOCKS = ("none", "global", "block")


class CountedVector:
    """Shared weights w (d,) with an update count per coordinate, as the simulation's memory."""

    def __init__(self, w0: np.ndarray):
        self.w = np.array(w0, dtype=np.float64)
        self.count = np.zeros(self.w.shape, dtype=np.int64)

    def read(self, idx) -> tuple[np.ndarray, np.ndarray]:
        return self.w[idx].copy(), self.count[idx].copy()

    def write(self, idx, values, counts_read) -> None:
        self.w[idx] = values
        self.count[idx] = counts_read + 1


@dataclass
class Interleaving:
    """What an order of reads and writes did: final w, counts, and the updates lost."""
    w: np.ndarray
    count: np.ndarray
    writes: int  # coordinate writes made
    lost: int    # coordinate writes overwritten: writes - count.sum()


def interleave(w0, updates: list, order: list) -> Interleaving:
    """Runs reads and writes in the given order on shared weights starting at w0.

    Args:
        updates: one (coords, delta) per update: it writes w[coords] = (read value) + delta.
        order: ("r", i) and ("w", i) events, each update read once and then written once.

    For example updates [([0, 1], 1.0), ([1, 2], 2.0)] and order r0 r1 w0 w1 end at
    w = [1, 2, 2]: update 1 read w_1 = 0 before update 0 wrote it, so its write of w_1
    overwrote update 0's, which is lost (lost = 1).
    """
    mem, held, writes = CountedVector(np.asarray(w0, dtype=float)), {}, 0
    done = set()
    for kind, i in order:
        if not 0 <= i < len(updates):
            raise ValueError(f"interleave: event {(kind, i)} names update {i}, but there are {len(updates)}")
        coords = np.asarray(updates[i][0], dtype=np.int64)
        if kind == "r":
            if i in held or i in done:
                raise ValueError(f"interleave: update {i} is read twice; read each update once, then write it")
            held[i] = mem.read(coords)
        elif kind == "w":
            if i not in held:
                raise ValueError(f"interleave: update {i} is written before it is read; put ('r', {i}) first")
            values, counts = held.pop(i)
            mem.write(coords, values + np.asarray(updates[i][1], dtype=float), counts)
            writes += coords.size
            done.add(i)
        else:
            raise ValueError(f"interleave: event kind {kind!r}; use 'r' (read) or 'w' (write)")
    if held:
        raise ValueError(f"interleave: updates {sorted(held)} were read but never written")
    return Interleaving(mem.w, mem.count, writes, int(writes - mem.count.sum()))


@dataclass
class HogwildRun:
    """One simulated (or real) Hogwild! run and its bookkeeping.

    `lost_mass` is max_j |w0_j + (sum of every delta added to j) - w_j|: the weight the
    lost writes took with them (0 to rounding when nothing was lost).
    """
    lock: str
    workers: int
    updates: int            # SGD steps (examples processed)
    writes: int             # coordinate writes: sum over steps of k
    lost: int               # coordinate writes overwritten
    lost_mass: float
    final_loss: float
    time: float             # virtual (or wall) seconds
    w: np.ndarray = field(repr=False)
    curve: np.ndarray = field(default=None, repr=False)  # rows (updates, time, loss)

    @property
    def lost_per_million(self) -> float:
        return 1e6 * self.lost / max(self.writes, 1)

    @property
    def throughput(self) -> float:
        """SGD steps per second."""
        return self.updates / self.time if self.time > 0 else float("inf")


def n_blocks(lock: str, blocks: int) -> int:
    """Locks to use: 0 (none), 1 (one global lock) or `blocks` (one per block of keys)."""
    if lock not in LOCKS:
        raise ValueError(f"hogwild: lock = {lock!r}; use one of {LOCKS}")
    if lock == "block" and not (isinstance(blocks, (int, np.integer)) and blocks >= 1):
        raise ValueError(f"hogwild: blocks = {blocks!r}; per-block locks need a positive number of blocks")
    return {"none": 0, "global": 1, "block": blocks}[lock]


def predicted_lost_fraction(workers: int, k: int, d: int) -> float:
    """The share of coordinate writes lost with no lock, when every step takes about as long.

    While I hold coordinate j between my read and my write, each of the other P - 1 workers
    is in the middle of one step, which touches j with probability k / d: on average
    x = (P - 1) k / d other writes of j overlap mine. Only one write of such a group
    survives, so about x / (1 + x) are lost. This is exact at both ends: (P - 1) k / d
    when k / d is small (each overlapping write is lost to mine), and (P - 1) / P when
    every step touches every weight (the last writer's chain wins, the others' are lost).
    """
    x = (workers - 1) * k / d
    return x / (1.0 + x)


def simulate_hogwild(problem: SparseProblem, workers: int = 4, lock: str = "none", blocks: int = 16,
                     lr: float = 0.5, epochs: int = 1, duration: float = 1.0, jitter: float = 0.5,
                     lock_cost: float = 0.0, seed: int = 0, evals: int = 10) -> HogwildRun:
    """SGD on `problem` by `workers` simulated workers sharing one weight vector.

    Worker p visits its shard (`worker_order`) each epoch. Step s of worker p reads at some
    time t, computes for duration * (1 + jitter u) with u uniform in [-1, 1] from a
    generator seeded by (seed, p), writes, and reads its next example at once. With a lock
    it first takes every lock its step needs (the one lock, or one per key block its
    coordinates fall in) all at once, waiting until all are free, paying `lock_cost` per
    lock, and releases them at its write. Waiting workers retry in worker order.

    Returns the counts of writes and lost writes, the final loss, the virtual time, and
    the loss after every n / evals steps.
    """
    if not (isinstance(workers, (int, np.integer)) and workers >= 1):
        raise ValueError(f"simulate_hogwild: workers = {workers!r}; use a positive integer")
    if not 0 <= jitter < 1:
        raise ValueError(f"simulate_hogwild: jitter = {jitter}; use a value in [0, 1) so durations stay positive")
    nb = n_blocks(lock, blocks)
    idx, _, _ = problem.data
    mem = CountedVector(problem.init())
    added = np.zeros(problem.d)  # every delta every worker wrote, for the lost mass
    rngs = [np.random.default_rng([seed, p, 7]) for p in range(workers)]
    todo = [list(itertools.chain.from_iterable(worker_order(problem, p, workers, e, seed) for e in range(epochs)))
            for p in range(workers)]
    total = sum(len(t) for t in todo)
    eval_every = max(1, total // max(evals, 1))
    owner: dict[int, int] = {}  # block -> worker holding its lock
    waiting: list[int] = []
    heap, seq = [], itertools.count()
    steps = writes = 0
    curve = [(0, 0.0, problem.loss(mem.w))]

    def needs(i: int) -> list[int]:
        return [] if nb == 0 else [0] if nb == 1 else blocks_of(idx[i], problem.d, nb).tolist()

    def start(p: int, t: float) -> None:
        if not todo[p]:
            return
        i = todo[p][0]
        locks = needs(i)
        if any(b in owner for b in locks):
            waiting.append(p)
            return
        todo[p].pop(0)
        for b in locks:
            owner[b] = p
        t_read = t + lock_cost * len(locks)
        w_read, c_read = mem.read(idx[i])
        g = problem.gradient(i, w_read)
        t_write = t_read + duration * (1.0 + jitter * rngs[p].uniform(-1.0, 1.0))
        delta = -lr * g
        heapq.heappush(heap, (t_write, next(seq), p, i, w_read, delta, c_read, locks))

    for p in range(workers):
        start(p, 0.0)
    t = 0.0
    while heap:
        t, _, p, i, w_read, delta, c_read, locks = heapq.heappop(heap)
        mem.write(idx[i], w_read + delta, c_read)
        added[idx[i]] += delta  # coordinates of one example are distinct
        steps, writes = steps + 1, writes + idx.shape[1]
        for b in locks:
            del owner[b]
        if steps % eval_every == 0 or steps == total:
            curve.append((steps, t, problem.loss(mem.w)))
        start(p, t)
        woken, waiting[:] = sorted(waiting), []
        for q in woken:
            start(q, t)
    if waiting or any(todo):
        raise RuntimeError(f"simulate_hogwild: workers {waiting} still wait for locks {owner} with no step running")
    lost = int(writes - mem.count.sum())
    lost_mass = float(np.abs(problem.init() + added - mem.w).max())
    return HogwildRun(lock, workers, steps, writes, lost, lost_mass, curve[-1][2], t, mem.w,
                      np.array(curve, dtype=float))
