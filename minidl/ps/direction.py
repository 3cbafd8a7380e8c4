"""The slides' direction-and-distance rule: each gradient split into where it points and how far.

A push's gradient g is direction g / |g| times distance |g|. The server keeps the latest
gradient g_i of every worker i that has pushed, and when worker c pushes it finds t with

    t * | sum_i alpha_i g_i / |g_i| |  =  | sum_i g_i |          (the slide's "computing distances")

and moves the weights by the pushed direction with the new distance t * alpha_c:

    w -= eta(staleness) * t * alpha_c * g_c / |g_c|

So one round of every worker's latest step, sum_i t alpha_i g_i / |g_i|, is exactly as long
as the sum of their gradients ("do not change the distance of the sum of all latest
gradients"), while each worker's direction counts by its weight alpha_i, not by its norm.
When every worker sends the same g, t * alpha_c * g / |g| = g: plain SGD.

The slide leaves open what alpha_c is (here a function of the push's staleness, 1 by
default), what "|.|" is on a sharded server (here: per shard, the norm of the shard's
part; one shard gives the slide's rule), and what happens before every worker has pushed
(here: the sums run over the workers seen so far).

The rule must know which worker pushed, and a server's rule sees only the gradient, so
the gradient carries its sender: `Push`, an array with a `.worker`, made by `tag_pushes(task)`
in the simulator and by the MPI server ranks (which know every message's source).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minidl.ps.rules import SGD


class Push(np.ndarray):
    """A gradient that remembers which worker sent it (slices keep the tag)."""

    def __array_finalize__(self, obj):
        self.worker = getattr(obj, "worker", None)


def tagged(g: np.ndarray, worker: int) -> Push:
    """g as a Push from `worker` (no copy)."""
    out = np.asarray(g).view(Push)
    out.worker = worker
    return out


class tag_pushes:  # noqa: N801, reads as a function: tag_pushes(task)
    """A task whose gradients are Push arrays tagged with the worker that computed them."""

    def __init__(self, task):
        self.task = task
        self.layout = task.layout

    def __getattr__(self, name):
        return getattr(self.task, name)

    def gradient(self, params, worker, clock, n_workers):
        return tagged(self.task.gradient(params, worker, clock, n_workers), worker)


class DirectionDistance(SGD):
    """The slides' rule: t |sum alpha_i g_i/|g_i|| = |sum g_i|; w -= eta t alpha_c g_c/|g_c|.

    Args:
        lr: eta, a number or a scheme (ConSGD, DynSGD), evaluated on the push's staleness.
        alpha: alpha_c from the push's staleness (default 1 for every push).
    """

    def __init__(self, lr=0.1, alpha: Callable[[int], float] | None = None):
        super().__init__(lr)
        self.alpha = alpha

    def __repr__(self):
        return f"DirectionDistance(lr={self.lr!r}{'' if self.alpha is None else ', alpha=' + repr(self.alpha)})"

    def init_state(self, size: int) -> dict:
        return {"latest": {}, "alpha": {}}  # worker -> its latest gradient (shard size,), its alpha

    def apply(self, w: np.ndarray, g: np.ndarray, state: dict, index, staleness: int) -> None:
        worker = getattr(g, "worker", None)
        if worker is None:
            raise ValueError("DirectionDistance: the gradient does not say which worker pushed it; "
                             "train on tag_pushes(task) in the simulator, or on the MPI server ranks")
        latest, alphas = state["latest"], state["alpha"]
        if worker not in latest:
            latest[worker] = np.zeros(w.size)
        latest[worker][index] = g
        alphas[worker] = 1.0 if self.alpha is None else float(self.alpha(staleness))
        t = self.distance([latest[i][index] for i in latest], [alphas[i] for i in latest])
        norm = float(np.sqrt((g * g).sum()))
        if norm > 0:
            w[index] -= self.lr(staleness) * t * alphas[worker] / norm * np.asarray(g)

    @staticmethod
    def distance(gradients: list, alphas: list) -> float:
        """t with t |sum alpha_i g_i / |g_i|| = |sum g_i| (0 when the directions cancel)."""
        total = np.zeros_like(np.asarray(gradients[0]))
        directions = np.zeros_like(total)
        for g, a in zip(gradients, alphas):
            g = np.asarray(g)
            total += g
            n = float(np.sqrt((g * g).sum()))
            if n > 0:
                directions += a * g / n
        d = float(np.sqrt((directions * directions).sum()))
        return float(np.sqrt((total * total).sum())) / d if d > 0 else 0.0
