"""Answer key of lesson 03 (see the package docstring), and the references of exercise 03.2."""
from __future__ import annotations

import math
import random

import numpy as np

from minidl.engine import Value

# the lesson's 2-3-1 network (section 1)
X = (1.0, -2.0)
THETA = ((0.5, -0.3), (0.2, 0.4), (-0.6, 0.1))
PHI = (0.7, -0.4, 0.9)


def _dJ_dphi2_new_target():
    # the engine on the lesson's network with the target z_true = -1.0 instead of 0.5
    x1, x2 = Value(X[0]), Value(X[1])
    phi = [Value(p) for p in PHI]
    a = [(Value(t1) * x1 + Value(t2) * x2).sigmoid() for t1, t2 in THETA]
    J = 0.5 * (phi[0] * a[0] + phi[1] * a[1] + phi[2] * a[2] - (-1.0)) ** 2
    J.backward()
    return phi[1].grad


def reference_backprop_231(x, theta, phi, z_true):
    """(dJ/dtheta (3, 2), dJ/dphi (3,)) of the 2-3-1 network, one number at a time."""
    a = [1.0 / (1.0 + math.exp(-(theta[i][0] * x[0] + theta[i][1] * x[1]))) for i in range(3)]
    dz = sum(phi[i] * a[i] for i in range(3)) - z_true
    dy = [dz * phi[i] * a[i] * (1.0 - a[i]) for i in range(3)]
    return (np.array([[dy[i] * x[j] for j in range(2)] for i in range(3)]),
            np.array([dz * a[i] for i in range(3)]))


def random_network_231(rng: random.Random):
    """(x, theta, phi, z_true): a random 2-3-1 network and target, as numpy arrays."""
    return (np.array([rng.uniform(-2, 2) for _ in range(2)]),
            np.array([[rng.uniform(-2, 2) for _ in range(2)] for _ in range(3)]),
            np.array([rng.uniform(-2, 2) for _ in range(3)]),
            rng.uniform(-1, 1))


KEY = {"03.1": _dJ_dphi2_new_target}
