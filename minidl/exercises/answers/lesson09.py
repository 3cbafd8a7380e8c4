"""Answer key of lesson 09 (see the package docstring), and the reference of exercise 09.2."""
from __future__ import annotations

import numpy as np

from minidl.ps import SGD, DynSGD, KeyLayout, KeyRange
from minidl.reference import LINKS, MNIST_MLP_SIZES

_RANGE = KeyRange(500, 520)


def _mnist_layout() -> KeyLayout:
    """The lecture's model as keys: one key per neuron, its weights in and its bias."""
    sizes = MNIST_MLP_SIZES
    return KeyLayout([n_in + 1 for n_in, n_out in zip(sizes[:-1], sizes[1:]) for _ in range(n_out)])


def _range_slice_and_bytes():
    layout = _mnist_layout()
    where = layout.flat(_RANGE)
    return int(where.start), int(where.stop), 8 * layout.count(_RANGE)


def _range_time_us():
    return LINKS["10 GbE"].time(8 * _mnist_layout().count(_RANGE)) * 1e6


KEY = {"09.1a": _range_slice_and_bytes, "09.1b": _range_time_us}


class MomentumReference(SGD):
    """Exercise 09.2's rule: vel = mu vel - eta(staleness) g; w = w + vel, per weight."""

    state_names = ("vel",)

    def __init__(self, lr=0.1, mu=0.9):
        super().__init__(lr)
        self.mu = mu

    def apply(self, w, g, state, index, staleness):
        v = state["vel"]
        v[index] = self.mu * v[index] - self.lr(staleness) * g
        w[index] = w[index] + v[index]


def random_pushes(rng, layout: KeyLayout):
    """A few pushes [(keys, gradient)] of key ranges and key lists, with a rate and a momentum."""
    pushes, n = [], layout.n_keys
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.5:
            a = rng.randint(0, n - 1)
            keys = range(a, rng.randint(a + 1, n))
        else:
            keys = sorted(rng.sample(range(n), rng.randint(1, n)))
        n_floats = layout.count(layout.resolve(keys, "push"))
        pushes.append((keys, [rng.uniform(-3, 3) for _ in range(n_floats)]))
    return pushes, rng.uniform(0.01, 1.0), rng.choice([0.0, 0.5, 0.9])


def direct_momentum(rule_cls, lr_scheme, mu, w, vel, g, index, staleness):
    """(w, vel) after one `rule_cls(lr_scheme, mu).apply` on copies of w and vel."""
    rule = rule_cls(lr_scheme, mu)
    w, state = np.array(w, dtype=float), {"vel": np.array(vel, dtype=float)}
    rule.apply(w, np.array(g, dtype=float), state, index, staleness)
    return w, state["vel"]


def random_direct(rng):
    """Arguments of `direct_momentum` after the rule: DynSGD, a slice or an index array, a staleness."""
    w, vel = [rng.uniform(-2, 2) for _ in range(6)], [rng.uniform(-1, 1) for _ in range(6)]
    if rng.random() < 0.5:
        a = rng.randint(0, 4)
        index = slice(a, rng.randint(a + 1, 6))
        m = index.stop - index.start
    else:
        index = np.array(sorted(rng.sample(range(6), rng.randint(1, 5))))
        m = index.size
    return (DynSGD(rng.uniform(0.1, 1.0)), rng.choice([0.0, 0.9]), w, vel,
            [rng.uniform(-2, 2) for _ in range(m)], index, rng.randint(0, 5))
