"""Tensor autograd: the engine of `Value`, over numpy arrays.

A `Tensor` records the op that made it, its inputs, and a backward function
`g -> (gradient for each input)`, written next to the forward. For arrays the
local derivative is a Jacobian too large to store, so the op keeps instead the
vector-Jacobian product: given g = dL/d(output), return dL/d(input). The
backward function captures the inputs, never the output, so the graph has no
reference cycles and is freed as soon as it is unused.

Broadcasting copies an input along new or size-1 axes in the forward pass, so
its gradient is summed back over those axes (`unbroadcast`).

What backward keeps: each op also records the numpy arrays its backward reads
(`Tensor.saved_arrays`): its inputs' data for `*` or `@`, its own result for
`exp` or `tanh`, a log-softmax for `cross_entropy`. `kept_bytes(root)` adds
them to the nodes' data: the memory a graph holds until it is freed.

Dtypes: float32 unless asked otherwise. When two tensors of different float
dtypes meet, the result has the wider dtype (float32 + float64 -> float64), as
in numpy and PyTorch; a number (Python or numpy scalar) takes the tensor's dtype.
Python lists and numbers become float32, numpy float arrays keep their dtype.
Gradients have the dtype of their tensor, however many backward passes add up.

Memory: `Tensor(array)` copies the array, as `torch.tensor` does, so an
optimizer step never changes the caller's array; `Tensor.from_numpy(array)`
shares it, as `torch.from_numpy` does, and so do `.numpy()` and `.detach()`.
Axes are numpy's: a negative axis counts from the end, for every op that takes one.
"""
from __future__ import annotations

import contextlib
import math
import warnings
from numbers import Real

import numpy as np

_GRAD_ENABLED = True
DTYPES = (np.float32, np.float64)


@contextlib.contextmanager
def no_grad():
    """Inside this block no graph is recorded (evaluation, parameter updates)."""
    global _GRAD_ENABLED
    previous, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = previous


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sums g over the axes that broadcasting added or stretched, back to `shape`."""
    if g.shape == shape:
        return g
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))  # axes broadcasting prepended
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


class Tensor:
    """An array that records how it was computed, so that `backward()` can set
    `.grad = dL/d(self)` on every tensor with `requires_grad`."""

    __slots__ = ("data", "grad", "requires_grad", "_prev", "_backward", "_op", "_hooks", "_saved", "_grad_into")
    __array_ufunc__ = None  # numpy defers to Tensor: np.float64(2) * x and array + x give Tensors

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        """Copies `data` (numbers, nested lists, a numpy array or a Tensor) into a new array."""
        if isinstance(data, Tensor):
            data = data.data
        from_numpy = isinstance(data, (np.ndarray, np.floating))
        array = np.asarray(data)
        if dtype is None:  # numpy floats keep their dtype; Python numbers become float32
            dtype = array.dtype if from_numpy and array.dtype in DTYPES else np.float32
        if np.dtype(dtype) not in DTYPES:
            raise TypeError(f"Tensor: dtype {np.dtype(dtype)} is not supported; use float32 or float64")
        if array.dtype.kind not in "biuf":
            raise TypeError(f"Tensor: cannot make a float tensor from {array.dtype} data "
                            f"({type(data).__name__}); pass numbers or a numeric array")
        self._init(np.array(array, dtype=dtype), requires_grad)  # a copy, as torch.tensor makes

    @classmethod
    def from_numpy(cls, array: np.ndarray, requires_grad: bool = False) -> Tensor:
        """A tensor on `array`'s memory, not a copy (as torch.from_numpy): writing to one
        changes the other. The array must already be float32 or float64."""
        if not isinstance(array, np.ndarray) or array.dtype not in DTYPES:
            kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
            raise TypeError(f"Tensor.from_numpy: got {kind}; pass a float32 or float64 numpy array "
                            "(convert with .astype), or use Tensor(data) to copy")
        out = cls.__new__(cls)
        out._init(array, requires_grad)
        return out

    def _init(self, array: np.ndarray, requires_grad: bool) -> None:
        self.data = array
        self.grad = None
        self.requires_grad = requires_grad
        self._prev: tuple = ()
        self._backward = None
        self._op = ""
        self._hooks: tuple = ()
        self._saved: tuple = ()
        self._grad_into = None  # (array, scale) that backward writes this leaf's gradient into

    # ---- basics ----------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=8)}, dtype={self.dtype}{grad})"

    def __len__(self):
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def register_hook(self, fn):
        """Calls `fn(self)` during `backward()` as soon as `self.grad` is final, before
        the pass goes on to earlier layers; data parallelism starts communicating
        there. Only leaves keep a `.grad`, so only leaves take hooks. Returns a
        function that removes the hook."""
        if self._prev:
            raise RuntimeError(f"Tensor.register_hook: hooks fire when a leaf's .grad is final; this tensor "
                               f"is not a leaf but the output of '{self._op}', whose gradient is not kept. "
                               "Register the hook on a leaf (a parameter, or an input with requires_grad=True)")
        self._hooks = (*self._hooks, fn)

        def remove():
            self._hooks = tuple(h for h in self._hooks if h is not fn)
        return remove

    def grad_into(self, out: np.ndarray | None, scale: float = 1.0) -> None:
        """From now on backward writes this leaf's gradient, times `scale`, straight into
        `out` (an array of the leaf's shape and dtype, e.g. a view of a flat buffer that an
        allreduce sends) instead of a new array; `.grad` is then `out`, and later passes add
        `scale * g` into it. `out=None` goes back to new arrays. A gradient that no longer
        fits `out` (the data changed shape) goes to a new array, unscaled, so the owner of
        `out` can see that `.grad is not out`. `minidl.distributed.GradientBuckets` uses it."""
        if self._prev:
            raise RuntimeError(f"Tensor.grad_into: only a leaf keeps a .grad; this tensor is the output of "
                               f"'{self._op}'")
        if out is None:
            self._grad_into = None
            return
        if not isinstance(out, np.ndarray) or out.shape != self.shape or out.dtype != self.dtype \
                or not out.flags.writeable:
            got = (f"a {'read-only ' if not out.flags.writeable else ''}{out.dtype} array of shape {out.shape}"
                   if isinstance(out, np.ndarray) else type(out).__name__)
            raise ValueError(f"Tensor.grad_into: got {got}; pass a writeable {self.dtype} array of shape "
                             f"{self.shape}, the tensor's own")
        if not np.isfinite(scale):
            raise ValueError(f"Tensor.grad_into: scale = {scale}; pass a finite number")
        self._grad_into = (out, float(scale))

    def _accumulate(self, g: np.ndarray) -> None:
        """Adds g into `.grad`: into the array set by `grad_into`, into an existing `.grad`
        array in place (the same object stays, as in PyTorch), or into a new array."""
        if self._grad_into is not None:
            out, scale = self._grad_into
            if out.shape == g.shape and out.dtype == self.dtype and (self.grad is None or self.grad is out):
                if self.grad is None:  # the first pass writes g * scale where a copy of g went before
                    if scale == 1.0:
                        np.copyto(out, g)
                    else:
                        np.multiply(g, scale, out=out)
                    self.grad = out
                else:
                    np.add(out, g * scale if scale != 1.0 else g, out=out)
                return
        grad = self.grad
        if grad is None:
            self.grad = g.astype(self.dtype)
        elif isinstance(grad, np.ndarray) and grad.shape == g.shape and grad.dtype == self.dtype \
                and grad.flags.writeable:
            np.add(grad, g, out=grad)  # the same bits as grad + g, in the same array
        else:
            self.grad = grad + g

    def detach(self) -> Tensor:
        """The same data (shared, not copied), cut from the graph."""
        return Tensor.from_numpy(self.data)

    def _lift(self, x, op: str) -> Tensor:
        if isinstance(x, Tensor):
            return x
        if isinstance(x, Real) and not isinstance(x, bool):
            return Tensor.from_numpy(np.asarray(x, dtype=self.dtype))
        if isinstance(x, np.ndarray):
            return Tensor(x, dtype=x.dtype if x.dtype in DTYPES else self.dtype)
        raise TypeError(f"Tensor {op}: unsupported operand {type(x).__name__}; use a Tensor, "
                        "a numpy array or a number")

    @property
    def saved_arrays(self) -> tuple:
        """The numpy arrays this node's backward reads, and so keeps alive while the
        graph lives: its inputs' `.data` for `*`, `/`, `@`, `relu` or `log`, its own
        result for `exp`, `tanh`, `sigmoid` or `log_softmax`, the log-softmax, row
        indices and labels for `cross_entropy`; () for `+`, `reshape` or a leaf, whose
        backward needs only shapes. Several may also be some node's `.data`."""
        return self._saved

    @staticmethod
    def _make(data, prev: tuple, op: str, backward, saved: tuple = ()) -> Tensor:
        """The output of an op; it joins the graph only if an input needs a gradient.

        `saved` lists the arrays that `backward` reads (see `saved_arrays`)."""
        out = Tensor.from_numpy(np.asarray(data))  # the op's fresh result: no copy
        if _GRAD_ENABLED and any(p.requires_grad for p in prev):
            out.requires_grad, out._prev, out._backward, out._op = True, prev, backward, op
            out._saved = tuple(saved)
        return out

    def _binary(self, other, op: str) -> tuple[Tensor, Tensor]:
        other = self._lift(other, op)
        try:
            np.broadcast_shapes(self.shape, other.shape)
        except ValueError:
            raise ValueError(f"Tensor {op}: shapes {self.shape} and {other.shape} do not broadcast; "
                             "make trailing axes equal or 1 (reshape one of them)") from None
        return self, other

    def _axes(self, axis, op: str) -> tuple[int, ...]:
        """`axis` (None for all, an int or a sequence; negative counts from the end)
        as non-negative axes, or an error naming the op, the axis and the shape."""
        if axis is None:
            return tuple(range(self.ndim))
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        for ax in axes:
            if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)) or not -self.ndim <= ax < self.ndim:
                raise np.exceptions.AxisError(
                    f"Tensor.{op}: axis {ax!r} is out of range for a tensor of {self.ndim} dimensions "
                    f"(shape {self.shape}); use an axis in [{-self.ndim}, {self.ndim})")
        normal = tuple(int(ax) % self.ndim for ax in axes)
        if len(set(normal)) != len(normal):
            raise np.exceptions.AxisError(f"Tensor.{op}: axis {axis} repeats an axis of a tensor of "
                                          f"{self.ndim} dimensions; name each axis once")
        return normal

    # ---- arithmetic: gradients summed back over broadcast axes ---------------
    def __add__(self, other):
        a, b = self._binary(other, "+")
        return Tensor._make(a.data + b.data, (a, b), "+",
                            lambda g: (unbroadcast(g, a.shape), unbroadcast(g, b.shape)))

    def __sub__(self, other):
        a, b = self._binary(other, "-")
        return Tensor._make(a.data - b.data, (a, b), "-",
                            lambda g: (unbroadcast(g, a.shape), unbroadcast(-g, b.shape)))

    def __mul__(self, other):
        a, b = self._binary(other, "*")
        return Tensor._make(a.data * b.data, (a, b), "*",  # mul swaps its inputs
                            lambda g: (unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)),
                            (a.data, b.data))

    def __truediv__(self, other):
        a, b = self._binary(other, "/")
        if np.any(b.data == 0):
            raise ZeroDivisionError(f"Tensor /: the denominator of shape {b.shape} holds "
                                    f"{int(np.sum(b.data == 0))} zero(s); add a small epsilon")
        return Tensor._make(a.data / b.data, (a, b), "/", lambda g: (
            unbroadcast(g / b.data, a.shape), unbroadcast(-g * a.data / (b.data * b.data), b.shape)),
            (a.data, b.data))

    def __pow__(self, n):
        if not isinstance(n, Real) or isinstance(n, bool):
            raise TypeError(f"Tensor **: the exponent must be a number, got {type(n).__name__}")
        if not math.isfinite(n):
            raise ValueError(f"Tensor **: the exponent must be finite, got {n}")
        a = self
        if n < 0 and np.any(a.data == 0):
            raise ZeroDivisionError(f"Tensor **: 0 ** {n:g} in a tensor of shape {a.shape}")
        if n != int(n) and np.any(a.data < 0):
            raise ValueError(f"Tensor **: negative entries with fractional exponent {n:g}")
        def backward(g):  # d/da a^n = n a^(n-1); 0 for n = 0 even at a = 0, as in the scalar engine
            if n == 0:
                return (np.zeros(a.shape, a.dtype),)
            with np.errstate(divide="ignore"):  # 0 < n < 1 at a = 0: an infinite slope
                return (g * n * a.data ** (n - 1),)
        return Tensor._make(a.data ** n, (a,), f"**{n:g}", backward, (a.data,) if n != 0 else ())

    def __neg__(self):
        return Tensor._make(-self.data, (self,), "neg", lambda g: (-g,))

    __radd__ = __add__
    __rmul__ = __mul__

    def __rmatmul__(self, other):
        return self._lift(other, "@") @ self

    def __rsub__(self, other):
        return self._lift(other, "-") - self

    def __rtruediv__(self, other):
        return self._lift(other, "/") / self

    # ---- linear algebra ----------------------------------------------------------
    def __matmul__(self, other):
        a, b = self, self._lift(other, "@")
        if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
            raise ValueError(f"Tensor @: shapes {a.shape} and {b.shape} do not multiply; "
                             "need (..., n, k) @ (..., k, m) with the same k")
        def backward(g):  # dA = g B^T, dB = A^T g, each only if needed
            da = g @ b.data.swapaxes(-1, -2) if a.requires_grad else None
            db = a.data.swapaxes(-1, -2) @ g if b.requires_grad else None
            return (da if da is None else unbroadcast(da, a.shape),
                    db if db is None else unbroadcast(db, b.shape))
        saved = (b.data,) * a.requires_grad + (a.data,) * b.requires_grad
        return Tensor._make(a.data @ b.data, (a, b), "@", backward, saved)

    def transpose(self, *axes):
        """Permutes the axes (reverses them when none are given)."""
        axes = tuple(axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        try:
            axes = self._axes(axes, "transpose")
            if len(axes) != self.ndim:
                raise np.exceptions.AxisError("")
        except np.exceptions.AxisError:
            raise np.exceptions.AxisError(
                f"Tensor.transpose: axes {axes} are not a permutation of {self.ndim} axes (shape "
                f"{self.shape}); name each axis once, negative counting from the end") from None
        inverse = tuple(int(i) for i in np.argsort(axes))  # undoes the permutation
        return Tensor._make(self.data.transpose(axes), (self,), "transpose",
                            lambda g: (g.transpose(inverse),))

    T = property(lambda self: self.transpose())

    # ---- shape -------------------------------------------------------------------------
    def reshape(self, *shape):
        if not shape:
            raise TypeError("Tensor.reshape: no shape given; pass it as t.reshape(2, 3) or t.reshape((2, 3)), "
                            "or t.reshape(()) for a 0-d tensor")
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(f"Tensor.reshape: cannot reshape {self.shape} ({self.data.size} "
                             f"entries) into {tuple(shape)}") from None
        return Tensor._make(data, (self,), "reshape", lambda g: (g.reshape(self.shape),))

    def __getitem__(self, index):
        index = index.data.astype(np.intp) if isinstance(index, Tensor) else index
        shape, dtype = self.shape, self.dtype
        def backward(g):  # scatter back; np.add.at sums repeated indices
            full = np.zeros(shape, dtype)
            np.add.at(full, index, g)
            return (full,)
        parts = index if isinstance(index, tuple) else (index,)
        saved = tuple(i for i in parts if isinstance(i, np.ndarray))  # fancy indices
        return Tensor._make(self.data[index], (self,), "index", backward, saved)

    # ---- reductions ------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        axes, shape = self._axes(axis, "sum"), self.shape
        def backward(g):  # every summed entry gets the same gradient
            return (np.broadcast_to(g if keepdims else np.expand_dims(g, axes), shape),)
        return Tensor._make(np.asarray(self.data.sum(axis=axes, keepdims=keepdims)),
                            (self,), "sum", backward)

    def mean(self, axis=None, keepdims: bool = False):
        """The mean; over 0 entries it is nan, with a RuntimeWarning, as in numpy."""
        axes = self._axes(axis, "mean")
        count = math.prod(self.shape[i] for i in axes)
        if count == 0:
            warnings.warn(f"Tensor.mean: mean of 0 entries (shape {self.shape}, axis {axis}) is nan",
                          RuntimeWarning, stacklevel=2)
        return self.sum(axes, keepdims) * (1.0 / count if count else math.nan)

    def max(self, axis=None, keepdims: bool = False):
        """The maximum; the gradient is routed to the winners (split evenly on ties)."""
        axes = self._axes(axis, "max")
        if any(self.shape[i] == 0 for i in axes):
            raise ValueError(f"Tensor.max: no entries along axis {axis} of shape {self.shape}; "
                             "the maximum of nothing is undefined")
        out = self.data.max(axis=axes, keepdims=True)
        def backward(g):
            winners = self.data == out
            ties = winners.sum(axis=axes, keepdims=True).astype(g.dtype)  # a float count keeps the dtype
            return (winners * (g if keepdims else np.expand_dims(g, axes)) / ties,)
        data = out if keepdims else out.squeeze(axis=axes)
        return Tensor._make(np.asarray(data), (self,), "max", backward, (self.data, out))

    # ---- elementwise ---------------------------------------------------------------
    def exp(self):
        e = np.exp(self.data)
        return Tensor._make(e, (self,), "exp", lambda g: (g * e,), (e,))

    def log(self):
        if np.any(self.data <= 0):
            raise ValueError(f"Tensor.log: {int(np.sum(self.data <= 0))} non-positive entries "
                             f"(smallest {self.data.min():g}); clamp or add an epsilon")
        return Tensor._make(np.log(self.data), (self,), "log", lambda g: (g / self.data,),
                            (self.data,))

    def relu(self):
        return Tensor._make(np.maximum(self.data, 0), (self,), "relu",
                            lambda g: (g * (self.data > 0),), (self.data,))

    def sigmoid(self):
        s = np.exp(-np.logaddexp(0, -self.data)).astype(self.dtype)  # stable 1/(1+e^-x)
        return Tensor._make(s, (self,), "sigmoid", lambda g: (g * s * (1 - s),), (s,))

    def tanh(self):
        t = np.tanh(self.data)
        return Tensor._make(t, (self,), "tanh", lambda g: (g * (1 - t * t),), (t,))

    def log_softmax(self, axis: int = -1):
        """x - log(sum(exp(x))), computed after subtracting the max so that exp cannot overflow."""
        axis = self._axes(axis, "log_softmax")
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        def backward(g):  # g - softmax * sum(g)
            return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
        return Tensor._make(out, (self,), "log_softmax", backward, (out,))

    # ---- backpropagation ---------------------------------------------------------------
    def topological_order(self) -> list[Tensor]:
        """Every tensor this one depends on, each after its inputs (iterative DFS)."""
        order, seen, stack = [], {id(self)}, [(self, iter(self._prev))]
        while stack:
            node, inputs = stack[-1]
            for child in inputs:
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child._prev)))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    def backward(self, grad=None) -> None:
        """Adds dL/d(leaf) into `.grad` of every leaf with requires_grad (L = self).

        A leaf with no `.grad` gets a new array; an existing `.grad` array is added into in
        place (the same object, as in PyTorch), so copy a gradient to keep it across passes.

        Args:
            grad: dL/d(self), needed when self is not a scalar (shape of self).
        """
        if not self.requires_grad:
            raise RuntimeError("Tensor.backward: this tensor does not require a gradient; "
                               "create a leaf with requires_grad=True and compute from it")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"Tensor.backward: the output has shape {self.shape}, not a "
                                   "scalar; reduce it (e.g. .sum() or .mean()) or pass grad=")
            grad = np.ones_like(self.data)
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"Tensor.backward: grad has shape {grad.shape}, the tensor {self.shape}")
        grads = {id(self): grad}  # dL/d(node) for interior nodes; dropped after the pass
        for node in reversed(self.topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if not node._prev:
                node._accumulate(g)
                for hook in node._hooks:  # every contribution is in: the gradient is final
                    hook(node)
                continue
            for parent, pg in zip(node._prev, node._backward(g)):
                if pg is not None and parent.requires_grad:
                    pg = np.asarray(pg, dtype=parent.dtype)  # a gradient keeps its tensor's dtype
                    key = id(parent)
                    grads[key] = pg if key not in grads else grads[key] + pg


def kept_bytes(root: Tensor) -> int:
    """The bytes the graph ending in `root` keeps alive for backward: every node's
    `.data` and every node's `saved_arrays`, each distinct array counted once (by
    identity, so a view counts its own size; gradients are not included)."""
    arrays = {}
    for node in root.topological_order():
        for a in (node.data, *node._saved):
            arrays[id(a)] = a
    return sum(a.nbytes for a in arrays.values())
