"""Data sets the course makes itself, so that nothing is downloaded.

Each generator takes a `seed` and returns the same points for the same seed:
`X` of shape (n, 2) and labels `y` of shape (n,) in {-1, +1}.
"""
from __future__ import annotations

import numpy as np


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles, n points in all: (n, 2) points, (n,) labels in {-1, +1}."""
    if n < 2:
        raise ValueError(f"make_moons: n = {n}; ask for at least 2 points, one per moon")
    rng = np.random.default_rng(seed)
    n_top = n // 2
    t = rng.uniform(0.0, np.pi, size=n)
    top = np.c_[np.cos(t[:n_top]), np.sin(t[:n_top])]
    bottom = np.c_[1.0 - np.cos(t[n_top:]), 0.5 - np.sin(t[n_top:])]
    X = np.vstack([top, bottom]) + noise * rng.standard_normal((n, 2))
    y = np.r_[np.ones(n_top), -np.ones(n - n_top)]
    order = rng.permutation(n)
    return X[order], y[order]


def make_xor(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters at (+-1, +-1); the label is the sign of x1 * x2, so no line separates them."""
    if n < 4:
        raise ValueError(f"make_xor: n = {n}; ask for at least 4 points, one per corner")
    rng = np.random.default_rng(seed)
    corners = rng.choice([-1.0, 1.0], size=(n, 2))
    X = corners + noise * rng.standard_normal((n, 2))
    y = corners[:, 0] * corners[:, 1]
    return X, y
