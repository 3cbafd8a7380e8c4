"""Answer key of lesson 11 (see the package docstring), and the references of exercise 11.2."""
from __future__ import annotations

import math

import numpy as np

from minidl.ps import SGD, DynSGD, ParameterServer

GRADIENTS, STALENESS = [0.5, 0.5, -1.0, 2.0], [0, 3, 7, 1]  # exercise 11.1: four pushes to one weight


def _dynsgd_rates():
    return [DynSGD(0.4)(s) for s in STALENESS]


def _weight_after_four_pushes():
    rule, w = SGD(DynSGD(0.4)), np.array([1.0])
    for g, s in zip(GRADIENTS, STALENESS):
        rule.apply(w, np.array([g]), rule.init_state(1), slice(0, 1), s)
    return float(w[0])


KEY = {"11.1a": _dynsgd_rates, "11.1b": _weight_after_four_pushes}


def reference_sqrt_dyn(lr, s):
    """Exercise 11.2: lr / sqrt(s + 1)."""
    return lr / math.sqrt(s + 1)


def random_lr_staleness(rng):
    return rng.uniform(0.001, 2.0), rng.randint(0, 200)


def server_push(scheme_cls, lr, g):
    """w after five pushes of g through a one-weight server with SGD(scheme_cls(lr)): four fresh
    (staleness 0) and the last with staleness 1."""
    srv = ParameterServer(1, n_workers=2, rule=SGD(scheme_cls(lr)))
    srv.pull(0)
    srv.pull(1)
    srv.push(1, 0, [g])
    srv.push(0, 0, [g])   # read version 0, the update from version 0 excluded: staleness 0
    srv.pull(1)
    srv.pull(0)
    srv.push(1, 0, [g])
    srv.pull(1)
    srv.push(1, 0, [g])
    srv.push(0, 0, [g])   # two updates since worker 0's read, one from the same version: staleness 1
    return float(srv.snapshot()[0])


def reference_server_push(lr, g):
    return -(4 * lr * g + lr / math.sqrt(2) * g)
