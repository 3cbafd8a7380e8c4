"""Checking gradients with central differences.

For a function f of numbers x_1..x_n, the partial derivative with respect to x_i
is approximately

    df/dx_i ~ (f(..., x_i + eps, ...) - f(..., x_i - eps, ...)) / (2 eps),

with an error of order eps^2. Backpropagation must agree with it; if it does
not, a local derivative is wrong.

A NaN or an infinity in either gradient is never a match: `gradcheck` and
`max_errors` raise a ValueError that says which gradient and which entry, since
no error bound can be computed from it (NaN compares false with everything, so
`err > tol` would let it pass).
"""
from __future__ import annotations

import math
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

    Raises:
        ValueError: when either gradient of some input is NaN or infinite.
    """
    xs = [x.data if isinstance(x, Value) else float(x) for x in xs]
    inputs = [Value(x) for x in xs]
    _out(f, inputs).backward()
    analytic = [v.grad for v in inputs]
    numeric = numeric_grad(f, xs, eps)
    for kind, grads in (("analytic", analytic), ("numeric", numeric)):
        for i, g in enumerate(grads):
            if not math.isfinite(g):
                raise ValueError(f"gradcheck: the {kind} gradient of input {i} is {g} at x = {xs}; "
                                 f"a gradient must be finite to be checked ({_HINT[kind]})")
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
    """The largest |a - n| and |a - n| / max(|a|, |n|) over all entries (0 where both are 0).

    Raises:
        ValueError: when the lists differ in length, two gradients differ in shape,
            or an entry of either gradient is NaN or infinite.
    """
    if len(analytic) != len(numeric):
        raise ValueError(f"max_errors: {len(analytic)} analytic gradients but {len(numeric)} numeric ones")
    worst_abs = worst_rel = 0.0
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
        if a.shape != n.shape:
            raise ValueError(f"max_errors: gradient shapes differ, {a.shape} and {n.shape}")
        for kind, g in (("analytic", a), ("numeric", n)):
            _require_finite(g, f"max_errors: the {kind} gradient {k}", _HINT[kind])
        err = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
        worst_abs = max(worst_abs, float(err.max(initial=0.0)))
        worst_rel = max(worst_rel, float(rel.max(initial=0.0)))
    return worst_abs, worst_rel


_HINT = {"analytic": "look for 0/0, inf - inf or log(0) in a local derivative",
         "numeric": "the function is not finite near the point, or eps is too small or too large"}


def _require_finite(g: np.ndarray, what: str, hint: str) -> None:
    nan, inf = np.isnan(g), np.isinf(g)
    if nan.any() or inf.any():
        first = tuple(int(i) for i in np.argwhere(nan | inf)[0])
        n_nan, n_inf = int(nan.sum()), int(inf.sum())
        counts = [f"{n_nan} NaN"] * bool(n_nan) + [f"{n_inf} infinit{'y' if n_inf == 1 else 'ies'}"] * bool(n_inf)
        raise ValueError(f"{what} holds {' and '.join(counts)} (the first at index {first}); "
                         f"a gradient must be finite to be checked ({hint})")
