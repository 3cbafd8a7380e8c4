"""Checking gradients with central differences.

For a function f of numbers x_1..x_n, the partial derivative with respect to x_i
is approximately

    df/dx_i ~ (f(..., x_i + eps, ...) - f(..., x_i - eps, ...)) / (2 eps),

with an error of order eps^2. Backpropagation must agree with it; if it does
not, a local derivative is wrong.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

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
