"""Neural networks over scalar `Value`s: Neuron, Layer and MLP.

A neuron computes act(w . x + b). A layer is a list of neurons that read the same
input; an MLP is a list of layers, the last one linear. Every weight is a
`Value`, so `loss.backward()` fills in each weight's gradient.
"""
from __future__ import annotations

import random
from typing import Sequence

from minidl.engine import Value

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


class Module:
    """Something with parameters: `parameters()` lists them, `zero_grad()` resets
    their gradients to 0 before the next backward pass (gradients accumulate)."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """act(w . x + b) for an input of `nin` numbers.

    Weights start uniform in [-1, 1] from `rng` (a `random.Random`, for seeding);
    the bias starts at 0.
    """

    def __init__(self, nin: int, act: str = "relu", rng: random.Random | None = None):
        if act not in ACTIVATIONS:
            raise ValueError(f"Neuron: unknown activation {act!r}; choose one of {ACTIVATIONS}")
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1.0, 1.0)) for _ in range(nin)]
        self.b = Value(0.0)
        self.act = act

    def __call__(self, x: Sequence) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: input has {len(x)} numbers but the neuron has "
                             f"{len(self.w)} weights; pass {len(self.w)} inputs")
        y = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return y if self.act == "linear" else getattr(y, self.act)()

    def parameters(self) -> list[Value]:
        return self.w + [self.b]

    def __repr__(self):
        return f"Neuron({len(self.w)}, act={self.act!r})"


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs: R^nin -> R^nout."""

    def __init__(self, nin: int, nout: int, act: str = "relu", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.neurons = [Neuron(nin, act, rng) for _ in range(nout)]

    def __call__(self, x: Sequence) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer([{', '.join(map(repr, self.neurons))}])"


class MLP(Module):
    """A multilayer perceptron: `MLP(2, [16, 16, 1])` maps 2 inputs through two
    hidden layers of 16 units (activation `act`) to 1 linear output.

    Args:
        nin: number of inputs.
        nouts: the width of each layer, the last one being the output.
        act: activation of the hidden layers; the output layer is linear.
        seed: seeds the weights, so the same seed gives the same network.
    """

    def __init__(self, nin: int, nouts: Sequence[int], act: str = "relu", seed: int = 0):
        rng = random.Random(seed)
        sizes = [nin, *nouts]
        self.layers = [Layer(sizes[i], sizes[i + 1], act if i < len(nouts) - 1 else "linear", rng)
                       for i in range(len(nouts))]

    def __call__(self, x: Sequence) -> list[Value] | Value:
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x  # one output: a Value, not a list

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(map(repr, self.layers))}]"
