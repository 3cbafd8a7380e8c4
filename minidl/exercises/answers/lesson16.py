"""Answer key of lesson 16 (see the package docstring), and the reference of exercise 16.2."""
from __future__ import annotations

import numpy as np

from minidl.ps.direction import DirectionDistance
from minidl.ps.mpi import transport

G1, G2 = np.array([3.0, 4.0]), np.array([0.0, 2.0])  # exercise 16.1b: the latest gradients of two workers


def _messages_sent_per_iteration(n_servers: int = 2) -> int:
    """A worker's messages per iteration: a PULL header, a PUSH header and its PUSH_DATA values,
    and a TICK, to every server rank (transport.Client.pull, push, clock)."""
    per_server = (transport.PULL, transport.PUSH, transport.PUSH_DATA, transport.TICK)
    return n_servers * len(per_server)


def _distance():
    return DirectionDistance.distance([G1, G2], [1.0, 1.0])


KEY = {"16.1a": _messages_sent_per_iteration, "16.1b": _distance}


def reference_distance(gradients, alphas):
    """Exercise 16.2: t with t |sum alpha_i g_i / |g_i|| = |sum g_i|."""
    return DirectionDistance.distance([np.asarray(g, dtype=float) for g in gradients], list(alphas))


def random_gradients(rng):
    """(gradients, alphas): 1 to 5 workers' gradients of 1 to 6 floats, weights in [0.2, 2]."""
    m, n = rng.randint(1, 5), rng.randint(1, 6)
    grads = [[rng.gauss(0, 1) * rng.uniform(0.1, 10) for _ in range(n)] for _ in range(m)]
    return grads, [rng.uniform(0.2, 2.0) for _ in range(m)]
