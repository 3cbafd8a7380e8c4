"""Answer key of lesson 05 (see the package docstring), and the reference of exercise 05.2."""
from __future__ import annotations

import random

import numpy as np

from minidl.optim import SGD
from minidl.tensor import Tensor


def _three_momentum_steps():
    # minidl.optim.SGD on the loss 2 w, whose gradient is 2.0 at every w, from w = 1, vel = 0
    w = Tensor(np.array([1.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        (w * 2.0).sum().backward()
        opt.step()
    return float(w.data[0])


def reference_momentum_step(w, vel, grad, lr, mu):
    """(w_new, vel_new, True): the slide's two lines, element by element; True stands for
    "the inputs were left unchanged", which the student's wrapper reports."""
    vel_new = np.array([mu * v - lr * g for v, g in zip(vel.ravel(), grad.ravel())]).reshape(w.shape)
    return w + vel_new, vel_new, True


def random_momentum_case(rng: random.Random):
    """(w, vel, grad, lr, mu): three random arrays of one shape and a random lr and mu."""
    shape = (rng.randint(1, 4), rng.randint(1, 5))

    def array():
        return np.array([[rng.uniform(-3, 3) for _ in range(shape[1])] for _ in range(shape[0])])

    return array(), array(), array(), rng.uniform(0.001, 0.5), rng.choice([0.0, 0.5, 0.9, 0.99])


KEY = {"05.1": _three_momentum_steps}
