"""Keys and values: how a model becomes the key-value vectors a parameter server stores.

The seed's rule: the key is the neuron id, the value is its weights, and a vector
(key, value) is the unit of communication. Every key owns a contiguous slice of one
flat float64 vector: key k covers `offsets[k] : offsets[k + 1]`, where `offsets` is
the running sum of the value lengths. A key range [a, b) is therefore one contiguous
slice of the flat vector, which is why range push and pull cost O(1) to locate.

For a minidl model (`KeyLayout.for_model`), each `Linear` with W of shape (in, out)
and b of shape (out,) contributes `out` keys, one per output neuron j, whose value is
column j of W followed by b[j]: in + 1 numbers.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from minidl.nn import Linear, Module

Keys = int | range | slice | Sequence[int] | np.ndarray | None  # None: every key


class Block(NamedTuple):
    """A run of keys with the same value length, e.g. the neurons of one layer."""
    name: str
    first_key: int
    n_keys: int
    width: int


class KeyRange(NamedTuple):
    """Keys a .. b-1: one contiguous slice of the flat vector."""
    start: int
    stop: int


class KeyLayout:
    """Where each key's value lives in the flat vector.

    Args:
        lengths: value length of every key, (n_keys,) positive integers.
        blocks: optional names for runs of keys (`for_model` names the layers).
    """

    def __init__(self, lengths: Sequence[int], blocks: Sequence[Block] | None = None):
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or lengths.size == 0 or lengths.dtype.kind not in "iu":
            raise ValueError(f"KeyLayout: lengths must be a non-empty 1-D sequence of integers, "
                             f"got {lengths.dtype} of shape {lengths.shape}")
        if lengths.min() < 1:
            bad = int(np.argmin(lengths))
            raise ValueError(f"KeyLayout: key {bad} has value length {lengths[bad]}; "
                             "every key needs at least one number")
        self.lengths = lengths.astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])  # key k: offsets[k]:offsets[k+1]
        self.blocks = list(blocks) if blocks else [Block("keys", 0, len(lengths), -1)]

    n_keys = property(lambda self: len(self.lengths))
    size = property(lambda self: int(self.offsets[-1]))  # floats in the flat vector

    def __repr__(self):
        return f"KeyLayout({self.n_keys} keys, {self.size} floats)"

    def __eq__(self, other):
        return isinstance(other, KeyLayout) and np.array_equal(self.lengths, other.lengths)

    @classmethod
    def uniform(cls, n_keys: int, width: int) -> KeyLayout:
        """n_keys keys of `width` floats each (benchmarks, toy servers)."""
        if n_keys < 1 or width < 1:
            raise ValueError(f"KeyLayout.uniform: n_keys = {n_keys}, width = {width}; both must be >= 1")
        return cls(np.full(n_keys, width), [Block("keys", 0, n_keys, width)])

    @classmethod
    def for_model(cls, module: Module) -> KeyLayout:
        """One key per output neuron of every Linear, in order; value = [W[:, j], b[j]]."""
        lengths, blocks = [], []
        for name, layer in linears(module):
            fan_in, fan_out = layer.W.shape
            blocks.append(Block(name, len(lengths), fan_out, fan_in + 1))
            lengths += [fan_in + 1] * fan_out
        return cls(lengths, blocks)

    def describe(self, key: int) -> str:
        """A key in words, e.g. 'layers.0 neuron 5 (785 floats)'."""
        self.check_key(key, "describe")
        block = next(b for b in reversed(self.blocks) if b.first_key <= key)
        return f"{block.name} neuron {key - block.first_key} ({self.lengths[key]} floats)"

    # ---- requests: which keys, and where their values are -----------------------------
    def check_key(self, key: int, op: str) -> None:
        if not 0 <= key < self.n_keys:
            raise KeyError(f"{op}: key {key} is out of range; keys are 0 .. {self.n_keys - 1}")

    def resolve(self, keys: Keys, op: str) -> KeyRange | np.ndarray:
        """A request as a KeyRange (contiguous) or an int array of distinct keys (in order)."""
        if keys is None:
            return KeyRange(0, self.n_keys)
        if isinstance(keys, KeyRange):
            keys = range(keys.start, keys.stop)
        if isinstance(keys, (int, np.integer)) and not isinstance(keys, bool):
            self.check_key(int(keys), op)
            return KeyRange(int(keys), int(keys) + 1)
        if isinstance(keys, (range, slice)) and keys.step in (None, 1):
            start, stop, _ = slice(keys.start, keys.stop).indices(self.n_keys)
            if isinstance(keys, range) and (keys.start < 0 or keys.stop > self.n_keys):
                raise KeyError(f"{op}: key range [{keys.start}, {keys.stop}) leaves 0 .. "
                               f"{self.n_keys - 1}; clip it to range(0, {self.n_keys})")
            if start >= stop:
                raise KeyError(f"{op}: key range [{start}, {stop}) is empty; ask for at least one key")
            return KeyRange(start, stop)
        if isinstance(keys, slice):
            keys = range(*keys.indices(self.n_keys))
        arr = np.asarray(list(keys) if isinstance(keys, range) else keys)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iu":
            raise KeyError(f"{op}: keys must be an int, a range, a slice or a 1-D list of ints, "
                           f"got {arr.dtype} of shape {arr.shape}")
        if arr.min() < 0 or arr.max() >= self.n_keys:
            bad = arr[(arr < 0) | (arr >= self.n_keys)][:5].tolist()
            raise KeyError(f"{op}: keys {bad} are out of range; keys are 0 .. {self.n_keys - 1}")
        if len(np.unique(arr)) != arr.size:
            raise KeyError(f"{op}: keys repeat ({arr.size} keys, {len(np.unique(arr))} distinct); "
                           "ask for each key once")
        return arr.astype(np.int64)

    def count(self, request: KeyRange | np.ndarray) -> int:
        """Number of floats in the request's values."""
        if isinstance(request, KeyRange):
            return int(self.offsets[request.stop] - self.offsets[request.start])
        return int(self.lengths[request].sum())

    def flat(self, request: KeyRange | np.ndarray) -> slice | np.ndarray:
        """Where the request's values sit in the flat vector: a slice, or an index array."""
        if isinstance(request, KeyRange):
            return slice(int(self.offsets[request.start]), int(self.offsets[request.stop]))
        return self.flat_index(request)

    def flat_index(self, keys: np.ndarray) -> np.ndarray:
        """Positions in the flat vector of the given keys' values, concatenated in key order."""
        lengths = self.lengths[keys]
        starts = self.offsets[keys]
        shift = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return shift + np.arange(int(lengths.sum()))

    def check_values(self, values, request, op: str, keys) -> np.ndarray:
        """The values as a 1-D float64 array of the request's length, or a clear error."""
        values = np.asarray(values)
        want = self.count(request)
        if values.dtype.kind not in "fiu":
            raise TypeError(f"{op}: values for keys {_short(keys)} are {values.dtype}; send numbers")
        if values.ndim != 1 or values.size != want:
            raise ValueError(f"{op}: keys {_short(keys)} hold {want} floats but {values.size} "
                             f"values of shape {values.shape} were sent; send a flat vector of "
                             f"{want} (layout.count) in key order")
        return values.astype(np.float64, copy=False)


def request_tag(keys: Keys):
    """A hashable name for a request (to cache its routing), or None if not worth caching."""
    if keys is None:
        return ("all",)
    if isinstance(keys, (int, np.integer)) and not isinstance(keys, bool):
        return ("key", int(keys))
    if isinstance(keys, (range, slice)):
        return (type(keys).__name__, keys.start, keys.stop, keys.step)
    if isinstance(keys, KeyRange):
        return ("range", keys.start, keys.stop, 1)
    if isinstance(keys, (list, tuple)) and len(keys) <= 64 and all(type(k) is int for k in keys):
        return ("keys", *keys)
    return None


def _short(keys) -> str:
    text = repr(keys) if not isinstance(keys, np.ndarray) else repr(keys.tolist())
    return text if len(text) <= 40 else text[:37] + "..."


# ---- minidl models <-> flat vectors ----------------------------------------------------
def linears(module: Module, prefix: str = "") -> list[tuple[str, Linear]]:
    """Every Linear in the module, in the order its attributes list them, checked to hold
    every parameter (a key is a neuron of a Linear, so nothing else can be stored)."""
    found: list[tuple[str, Linear]] = []

    def walk(attr, name):
        if isinstance(attr, Linear):
            found.append((name, attr))
        elif isinstance(attr, Module):
            for k, v in vars(attr).items():
                walk(v, f"{name}.{k}" if name else k)
        elif isinstance(attr, (list, tuple)):
            for i, v in enumerate(attr):
                walk(v, f"{name}.{i}")

    walk(module, prefix)
    covered = {id(p) for _, layer in found for p in (layer.W, layer.b)}
    extra = [name for name, p in module.named_parameters() if id(p) not in covered]
    if extra or not found:
        raise ValueError(f"KeyLayout.for_model: {'parameters ' + str(extra) if extra else 'no Linear'} "
                         "outside a Linear; the key of a value is a Linear's output neuron, so "
                         "use a model built from Linear layers (minidl.nn.mlp)")
    return found


def pack(module: Module, grads: bool = False, out: np.ndarray | None = None, layers=None) -> np.ndarray:
    """The model's weights (or their gradients) as the layout's flat float64 vector.

    Each Linear's block is (out, in + 1): row j is [W[:, j], b[j]], the value of key j.
    A parameter without a gradient packs as zeros. `layers` (from `linears(module)`)
    saves finding the layers again on every call.
    """
    layers = linears(module) if layers is None else layers
    size = sum((layer.W.shape[0] + 1) * layer.W.shape[1] for _, layer in layers)
    out = np.empty(size) if out is None else out
    o = 0
    for _, layer in layers:
        fan_in, fan_out = layer.W.shape
        W, b = (layer.W.grad, layer.b.grad) if grads else (layer.W.data, layer.b.data)
        block = out[o:o + fan_out * (fan_in + 1)].reshape(fan_out, fan_in + 1)
        block[:, :fan_in] = 0.0 if W is None else W.T
        block[:, fan_in] = 0.0 if b is None else b
        o += fan_out * (fan_in + 1)
    return out


def unpack(flat: np.ndarray, module: Module, layers=None) -> None:
    """Writes the flat vector back into the model's W and b (the inverse of `pack`)."""
    layers = linears(module) if layers is None else layers
    o = 0
    for name, layer in layers:
        fan_in, fan_out = layer.W.shape
        n = fan_out * (fan_in + 1)
        if o + n > flat.size:
            raise ValueError(f"unpack: the flat vector has {flat.size} floats, too few for "
                             f"{name} ({fan_in}x{fan_out}); use KeyLayout.for_model(model).size")
        block = flat[o:o + n].reshape(fan_out, fan_in + 1)
        layer.W.data[...] = block[:, :fan_in].T
        layer.b.data[...] = block[:, fan_in]
        o += n
    if o != flat.size:
        raise ValueError(f"unpack: the flat vector has {flat.size} floats but the model holds {o}")
