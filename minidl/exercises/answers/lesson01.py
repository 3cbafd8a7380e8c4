"""Answer key of lesson 01 (see the package docstring), and the references of exercise 01.2."""
from __future__ import annotations

import random

from minidl.engine import Value


def _chain_rule_by_hand():
    x, y, z = Value(3.0), Value(-1.0), Value(5.0)
    ((x + y) * z).backward()
    return x.grad, y.grad, z.grad


def _engine_gate(gate, x: float, y: float, dout: float) -> tuple[float, float]:
    """(dL/dx, dL/dy) from minidl's own gate, inside L = gate(x, y) * dout."""
    xv, yv = Value(x), Value(y)
    (gate(xv, yv) * dout).backward()
    return xv.grad, yv.grad


def reference_max_backward(x: float, y: float, dout: float) -> tuple[float, float]:
    """The max gate's backward pass, as minidl's `Value.max` does it (a tie routes to y)."""
    return _engine_gate(lambda a, b: a.max(b), x, y, dout)


def reference_mul_backward(x: float, y: float, dout: float) -> tuple[float, float]:
    """The mul gate's backward pass, as minidl's `Value.__mul__` does it."""
    return _engine_gate(lambda a, b: a * b, x, y, dout)


def random_max_case(rng: random.Random) -> tuple[float, float, float]:
    """(x, y, dout) with small integer inputs, so that ties are frequent."""
    x = float(rng.randint(-3, 3))
    y = x if rng.random() < 0.3 else float(rng.randint(-3, 3))
    return x, y, rng.uniform(-2.0, 2.0)


def random_mul_case(rng: random.Random) -> tuple[float, float, float]:
    return rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(-2, 2)


KEY = {"01.1": _chain_rule_by_hand}
