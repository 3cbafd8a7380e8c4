"""Answer key of lesson 13 (see the package docstring), and the reference of exercise 13.2."""
from __future__ import annotations

import random

import numpy as np

from minidl.optim import LARS
from minidl.tensor import Tensor


def _trust_ratio_by_hand():
    # a layer with |w| = 20 and |g| = 0.3 (w = (12, 16), g = (0, 0.3)), eta 0.001, beta 0.01, lr 4
    w = Tensor(np.array([[12.0, 16.0]]), requires_grad=True)
    opt = LARS([w], lr=4.0, momentum=0.9, weight_decay=0.01, trust_coefficient=0.001)
    w.grad = np.array([[0.0, 0.3]])
    opt.step()
    return opt.trust[0], opt.lr * opt.trust[0]


def reference_lars_step(w, v, g, lr, momentum, weight_decay, eta):
    """(w_new, v_new, True) from minidl.optim.LARS on one weight matrix; True stands for
    "the inputs were left unchanged", which the student's wrapper reports."""
    p = Tensor(np.array(w, dtype=np.float64), requires_grad=True)
    opt = LARS([p], lr, momentum=momentum, weight_decay=weight_decay, trust_coefficient=eta)
    opt.vel[0][...] = v
    p.grad = np.array(g, dtype=np.float64)
    opt.step()
    return p.data, opt.vel[0], True


def random_lars_case(rng: random.Random):
    """(w, v, g, lr, momentum, weight_decay, eta): random float64 arrays of one 2-D shape."""
    shape = (rng.randint(1, 4), rng.randint(2, 5))

    def array(scale):
        return np.array([[rng.uniform(-scale, scale) for _ in range(shape[1])] for _ in range(shape[0])])

    return (array(3.0), array(0.5), array(rng.choice([0.01, 1.0, 100.0])), rng.uniform(0.1, 10.0),
            rng.choice([0.0, 0.9]), rng.choice([0.0, 0.0005, 0.1]), rng.choice([0.001, 0.02]))


KEY = {"13.1": _trust_ratio_by_hand}
