"""Answer key of lesson 04 (see the package docstring), and the reference of exercise 04.2."""
from __future__ import annotations

import random

import numpy as np

from minidl.tensor import Tensor


def _broadcast_add_gradient():
    # L = sum(a + b) with a (4, 3) and b (3,): the engine's dL/db
    a = Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    b = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    (a + b).sum().backward()
    return b.grad


def reference_unbroadcast(g, shape):
    """g summed back to `shape`: over the prepended axes, then over the stretched size-1 axes."""
    out = np.asarray(g, dtype=float)
    while out.ndim > len(shape):
        out = out.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and out.shape[axis] != 1:
            out = out.sum(axis=axis, keepdims=True)
    return out


def random_broadcast(rng: random.Random):
    """(g, shape): a random gradient and a random shape that broadcasts to g.shape."""
    g_shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 4)))
    kept = g_shape[rng.randint(0, len(g_shape)):]  # drop some leading axes
    shape = tuple(1 if rng.random() < 0.4 else n for n in kept)
    values = np.random.default_rng(rng.randrange(2**31)).normal(size=g_shape)
    return values, shape


KEY = {"04.1": _broadcast_add_gradient}
