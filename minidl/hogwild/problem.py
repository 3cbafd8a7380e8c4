"""The task every Hogwild! run trains: logistic regression on sparse features.

Each of the n examples touches k of the d coordinates (its features), so an SGD step
reads and writes only those k weights. The sparsity k / d is the knob of lesson 12:
with k / d small, two workers rarely touch the same weight at the same time.

    margin  m = sum_j x_j w_j          over the k features of the example
    loss    l = log(1 + exp(-y m))     y in {-1, +1}
    grad    dl/dw_j = -y sigmoid(-y m) x_j
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class SparseProblem:
    """n examples of k features out of d, labels from a hidden weight vector plus noise.

    The data depend only on (n, d, k, seed): a worker process rebuilds them from these
    four numbers instead of receiving them. Sums run over the k features with numpy's
    elementwise ops (no BLAS), so every machine computes the same digits.
    """

    n: int
    d: int
    k: int
    seed: int = 0
    noise: float = 0.5
    scale: float = 3.0  # size of the hidden weights: margins of a few units

    def __post_init__(self):
        if not (isinstance(self.n, (int, np.integer)) and self.n >= 1):
            raise ValueError(f"SparseProblem: n = {self.n!r} examples; use a positive integer")
        if not (isinstance(self.d, (int, np.integer)) and self.d >= 1):
            raise ValueError(f"SparseProblem: d = {self.d!r} coordinates; use a positive integer")
        if not (isinstance(self.k, (int, np.integer)) and 1 <= self.k <= self.d):
            raise ValueError(f"SparseProblem: k = {self.k!r} features per example must be in "
                             f"[1, d = {self.d}]")

    @property
    def sparsity(self) -> float:
        """k / d: the fraction of the weights one example touches."""
        return self.k / self.d

    @cached_property
    def data(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(idx (n, k) int64 sorted per row, val (n, k) float64, y (n,) in {-1, +1})."""
        rng = np.random.default_rng([self.seed, self.n, self.d, self.k])
        if self.k == self.d:
            idx = np.tile(np.arange(self.d), (self.n, 1))
        else:
            idx = np.sort(np.stack([rng.choice(self.d, self.k, replace=False) for _ in range(self.n)]), axis=1)
        val = rng.standard_normal((self.n, self.k)) / np.sqrt(self.k)  # |x| about 1 whatever k
        w_true = rng.standard_normal(self.d) * self.scale
        m = (val * w_true[idx]).sum(axis=1) + self.noise * rng.standard_normal(self.n)
        y = np.where(m >= 0, 1.0, -1.0)
        return idx.astype(np.int64), val, y

    def init(self) -> np.ndarray:
        """The starting weights: zeros, loss log 2."""
        return np.zeros(self.d)

    def loss(self, w: np.ndarray) -> float:
        """Mean logistic loss over all n examples."""
        idx, val, y = self.data
        m = (val * w[idx]).sum(axis=1)
        return float(np.logaddexp(0.0, -y * m).mean())

    def gradient(self, i: int, w_read: np.ndarray) -> np.ndarray:
        """(k,) gradient of example i's loss on its k coordinates, from their values w_read (k,)."""
        _, val, y = self.data
        m = float((val[i] * w_read).sum())
        return -y[i] * _sigmoid(-y[i] * m) * val[i]


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + np.exp(-z)) if z >= 0 else np.exp(z) / (1.0 + np.exp(z))


def worker_order(problem: SparseProblem, worker: int, workers: int, epoch: int, seed: int = 0) -> np.ndarray:
    """The examples worker `worker` of `workers` visits in one epoch: its strided shard
    (rows worker, worker + workers, ...), shuffled by (seed, epoch, worker)."""
    shard = np.arange(worker, problem.n, workers)
    return np.random.default_rng([seed, epoch, worker]).permutation(shard)


def blocks_of(idx_row: np.ndarray, d: int, blocks: int) -> np.ndarray:
    """The sorted distinct key blocks that coordinates `idx_row` fall in (block b holds
    coordinates b d / blocks .. (b + 1) d / blocks - 1)."""
    return np.unique(idx_row * blocks // d)
