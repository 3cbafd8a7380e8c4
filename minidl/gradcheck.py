"""Checking gradients with central differences.

For a function f of numbers x_1..x_n, the partial derivative with respect to x_i
is approximately

    df/dx_i ~ (f(..., x_i + eps, ...) - f(..., x_i - eps, ...)) / (2 eps),

with an error of order eps^2. Backpropagation must agree with it; if it does
not, a local derivative is wrong.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from minidl.engine import Value


class GradcheckResult(NamedTuple):
    """What `gradcheck` found: the worst absolute and relative errors, and
    both gradients for inspection."""

    max_abs_err: float
    max_rel_err: float
    analytic: list[float]
    numeric: list[float]

    def __str__(self):
        return f"max abs error {self.max_abs_err:.2e}, max rel error {self.max_rel_err:.2e}"


def numeric_grad(f: Callable[..., Value], xs: Sequence[float], eps: float = 1e-6) -> list[float]:
    """Central-difference estimate of df/dx_i for each input."""
    grads = []
    for i in range(len(xs)):
        plus = [Value(x + eps if j == i else x) for j, x in enumerate(xs)]
        minus = [Value(x - eps if j == i else x) for j, x in enumerate(xs)]
        grads.append((_out(f, plus).data - _out(f, minus).data) / (2 * eps))
    return grads


def gradcheck(f: Callable[..., Value], xs: Sequence[float], eps: float = 1e-6) -> GradcheckResult:
    """Compares backpropagation with central differences.

    Args:
        f: a function of len(xs) Values that returns one Value.
        xs: the point at which to compare, as numbers (or Values, whose data is used).
        eps: the step of the central difference.

    Returns:
        The maximum absolute error |a - n| and relative error
        |a - n| / max(|a|, |n|) over the inputs (0 where both are 0).
    """
    xs = [x.data if isinstance(x, Value) else float(x) for x in xs]
    inputs = [Value(x) for x in xs]
    _out(f, inputs).backward()
    analytic = [v.grad for v in inputs]
    numeric = numeric_grad(f, xs, eps)
    abs_err = [abs(a - n) for a, n in zip(analytic, numeric)]
    rel_err = [e / max(abs(a), abs(n)) if e > 0 else 0.0
               for e, a, n in zip(abs_err, analytic, numeric)]
    return GradcheckResult(max(abs_err, default=0.0), max(rel_err, default=0.0), analytic, numeric)


def _out(f, inputs) -> Value:
    out = f(*inputs)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: the function must return one Value, got {type(out).__name__}; "
                        "reduce several outputs to one, e.g. with sum()")
    return out


def numeric_grad_arrays(f: Callable[..., float], arrays: Sequence[np.ndarray],
                        eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of a scalar function of arrays, one entry at a time.

    Args:
        f: maps float64 arrays (shaped like `arrays`) to a number.
        arrays: the point; they are copied to float64, not modified.

    Returns:
        df/d(array) for each array, with the array's shape.
    """
    point = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in point:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            saved = a[i]
            a[i] = saved + eps
            plus = float(f(*point))
            a[i] = saved - eps
            minus = float(f(*point))
            a[i] = saved
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def max_errors(analytic: Sequence[np.ndarray], numeric: Sequence[np.ndarray]) -> tuple[float, float]:
    """The largest |a - n| and |a - n| / max(|a|, |n|) over all entries (0 where both are 0)."""
    worst_abs = worst_rel = 0.0
    for a, n in zip(analytic, numeric):
        a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
        if a.shape != n.shape:
            raise ValueError(f"max_errors: gradient shapes differ, {a.shape} and {n.shape}")
        err = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
        worst_abs = max(worst_abs, float(err.max(initial=0.0)))
        worst_rel = max(worst_rel, float(rel.max(initial=0.0)))
    return worst_abs, worst_rel
