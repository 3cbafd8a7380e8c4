"""A scalar autograd engine: the chain rule, one gate at a time.

Every operation makes a new `Value` that remembers its inputs (`_prev`) and the
local derivative of its output with respect to each input (`_local`). The
backward pass visits nodes from the output back to the inputs and applies the
chain rule at each gate:

    input.grad += local_derivative * output.grad

That one line is all of backpropagation. The gates of the lecture show its three
patterns: add distributes the gradient (local derivatives 1, 1), mul swaps its
inputs (local derivatives y, x), and max routes the gradient to the larger input
(local derivatives 1, 0).

Gradients accumulate (`+=`) because a node that feeds several consumers
receives a share from each, as J = J1 + J2 sums both paths to a shared weight.
Storing the local derivatives as numbers, not closures over the output, keeps
the graph free of reference cycles, so Python frees it as soon as it is unused.
"""
from __future__ import annotations

import math
from numbers import Real


def _real(x, op: str) -> float:
    """Converts a plain number to float; anything else is an error naming `op`."""
    if isinstance(x, Real) and not isinstance(x, bool):
        return float(x)
    raise TypeError(f"Value {op}: unsupported operand {x!r} of type {type(x).__name__}; "
                    "use a Value or a real number (for arrays, use minidl.tensor.Tensor)")


class Value:
    """A scalar that records how it was computed, so that `backward()` can
    fill in `.grad = d(output)/d(self)` for every Value it depends on."""

    __slots__ = ("data", "grad", "label", "_prev", "_local", "_op")

    def __init__(self, data, _prev=(), _op="", _local=(), label=""):
        self.data = data if type(data) is float else _real(data, "constructor")
        self.grad = 0.0
        self.label = label      # a name for pictures, such as "x" or "theta_11"
        self._prev = _prev      # the inputs of the gate that made this Value
        self._local = _local    # d(self)/d(input), one number per input
        self._op = _op

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{label})"

    @staticmethod
    def _lift(x, op: str) -> Value:
        return x if isinstance(x, Value) else Value(_real(x, op))

    # ---- the lecture's three gates --------------------------------------
    def __add__(self, other):
        other = Value._lift(other, "+")
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))  # add distributes

    def __mul__(self, other):
        other = Value._lift(other, "*")
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))  # mul swaps

    def max(self, other):
        """max(self, other). The gradient goes to the larger input. On a tie it
        goes to `other`, following the lecture's rule dg/dx = 1 only if x > y."""
        other = Value._lift(other, "max")
        if self.data > other.data:
            return Value(self.data, (self, other), "max", (1.0, 0.0))  # routes to self
        return Value(other.data, (self, other), "max", (0.0, 1.0))     # routes to other

    # ---- the rest of arithmetic -------------------------------------------
    def __neg__(self):
        return Value(-self.data, (self,), "neg", (-1.0,))

    def __sub__(self, other):
        other = Value._lift(other, "-")
        return Value(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __truediv__(self, other):
        other = Value._lift(other, "/")
        a, b = self.data, other.data
        if b == 0.0:
            raise ZeroDivisionError(f"Value /: division by zero ({a:g} / {b:g}); "
                                    "the denominator must be nonzero, e.g. add a small epsilon")
        return Value(a / b, (self, other), "/", (1.0 / b, -a / (b * b)))  # d/da = 1/b, d/db = -a/b^2

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            return self._pow_value(other)
        n = _real(other, "**")
        _check_pow(a, n)
        # d/da a^n = n a^(n-1); at a = 0 it is 0 for n = 0 or n > 1, 1 for n = 1, infinite for 0 < n < 1
        local = n * a ** (n - 1) if a != 0.0 or n >= 1.0 else (0.0 if n == 0.0 else math.inf)
        return Value(a ** n, (self,), f"**{n:g}", (local,))

    def _pow_value(self, other: Value) -> Value:
        a, b = self.data, other.data
        _check_pow(a, b)
        if a < 0.0:
            raise ValueError(f"Value **: base {a:g} is negative, so d(a**b)/db = a**b * log(a) "
                             "does not exist; use a plain number as the exponent")
        out = a ** b
        da = b * a ** (b - 1) if a != 0.0 or b >= 1.0 else (0.0 if b == 0.0 else math.inf)
        db = out * math.log(a) if a > 0.0 else 0.0  # a^b log a -> 0 as a -> 0+ for b > 0
        return Value(out, (self, other), "**", (da, db))

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return Value._lift(other, "-") - self

    def __rtruediv__(self, other):
        return Value._lift(other, "/") / self

    def __rpow__(self, other):
        return Value._lift(other, "**") ** self

    # ---- elementwise functions ---------------------------------------------
    def relu(self):
        a = self.data
        return Value(a if a > 0.0 else 0.0, (self,), "relu", (1.0 if a > 0.0 else 0.0,))

    def sigmoid(self):
        a = self.data
        s = 1.0 / (1.0 + math.exp(-a)) if a >= 0.0 else math.exp(a) / (1.0 + math.exp(a))
        return Value(s, (self,), "sigmoid", (s * (1.0 - s),))  # sigma' = sigma (1 - sigma)

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"Value.exp: exp({self.data:g}) overflows a float (the largest "
                                "argument is about 709); scale the input down") from None
        return Value(e, (self,), "exp", (e,))  # d/da e^a = e^a

    def log(self):
        a = self.data
        if a <= 0.0:
            raise ValueError(f"Value.log: log of a non-positive number ({a:g}); log needs a > 0, "
                             "e.g. clamp the input or add a small epsilon")
        return Value(math.log(a), (self,), "log", (1.0 / a,))

    # ---- backpropagation -----------------------------------------------------
    def topological_order(self) -> list[Value]:
        """Every Value this one depends on, each after all of its inputs.

        A depth-first search with an explicit stack of (node, inputs not yet
        visited), so a chain of any depth works: a node is appended once all of
        its inputs have been."""
        order, seen, stack = [], {self}, [(self, iter(self._prev))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child._prev)))
                    break
            else:  # every input of node is already in order
                stack.pop()
                order.append(node)
        return order

    def backward(self) -> None:
        """Sets d(self)/d(node) on every node of the graph.

        Leaves (inputs and parameters) accumulate: calling `backward()` twice
        doubles their `.grad`, as in PyTorch, so reset them with `zero_grad()`
        between steps. Interior nodes hold the gradient of the latest call.
        """
        order = self.topological_order()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0  # d(self)/d(self)
        for node in reversed(order):
            g = node.grad
            for child, local in zip(node._prev, node._local):
                child.grad += local * g  # the chain rule


def _check_pow(a: float, n: float) -> None:
    if a == 0.0 and n < 0.0:
        raise ZeroDivisionError(f"Value **: 0 ** {n:g} divides by zero; the base must be nonzero")
    if a < 0.0 and not n.is_integer():
        raise ValueError(f"Value **: negative base {a:g} with fractional exponent {n:g} "
                         "has no real value; use an integer exponent or a positive base")
