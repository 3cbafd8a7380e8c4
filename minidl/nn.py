"""Neural networks, first over scalar `Value`s, then over `Tensor`s.

Scalars (lessons 02-03): a neuron computes act(w . x + b); a layer is a list of
neurons that read the same input; an MLP is a list of layers, the last one
linear. Tensors (lesson 04 on): `Linear` does a whole layer for a whole batch
as one matrix product, (batch, in) @ (in, out) + (out,).

Every parameter is a `Value` or a `Tensor` with requires_grad, so
`loss.backward()` fills in each parameter's gradient.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np

from minidl.engine import Value
from minidl.tensor import Tensor

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


class Module:
    """Something with parameters. `named_parameters()` finds them in the module's
    attributes (Values, Tensors with requires_grad, sub-modules, and lists of
    those), each once: a layer used twice (tied weights) is one set of parameters,
    named where it first appears, so an optimizer steps it once, as in PyTorch.
    `zero_grad()` resets their gradients before the next backward pass, because
    gradients accumulate."""

    training = True

    def __repr__(self):
        return f"{type(self).__name__}()"

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value | Tensor]]:
        seen = set()
        for name, p in self._walk(prefix):
            if id(p) not in seen:  # by identity, keeping the first name
                seen.add(id(p))
                yield name, p

    def _walk(self, prefix: str):
        for name, attr in vars(self).items():
            yield from _named(attr, prefix + name)

    def parameters(self) -> list[Value | Tensor]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0 if isinstance(p, Value) else None

    def train(self, mode: bool = True) -> Module:
        """Sets training mode here and in every sub-module (eval() clears it)."""
        self.training = mode
        for attr in vars(self).values():
            for m in attr if isinstance(attr, (list, tuple)) else [attr]:
                if isinstance(m, Module):
                    m.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, by name."""
        return {name: np.array(p.data, copy=True) for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copies `state` into the parameters; names and shapes must match exactly."""
        params = dict(self.named_parameters())
        missing, unexpected = sorted(params.keys() - state.keys()), sorted(state.keys() - params.keys())
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {missing}, unexpected {unexpected}; "
                           "the state must come from a module of the same architecture")
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != np.shape(p.data):
                raise ValueError(f"load_state_dict: {name} has shape {np.shape(p.data)} in the "
                                 f"module but {value.shape} in the state")
            if isinstance(p, Value):
                p.data = float(value)
            else:
                p.data[...] = value


def _named(attr, name: str):
    if isinstance(attr, Module):
        yield from attr._walk(name + ".")
    elif isinstance(attr, Value) or (isinstance(attr, Tensor) and attr.requires_grad):
        yield name, attr
    elif isinstance(attr, (list, tuple)):
        for i, item in enumerate(attr):
            yield from _named(item, f"{name}.{i}")


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

    def __repr__(self):
        return f"Neuron({len(self.w)}, act={self.act!r})"


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs: R^nin -> R^nout."""

    def __init__(self, nin: int, nout: int, act: str = "relu", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.neurons = [Neuron(nin, act, rng) for _ in range(nout)]

    def __call__(self, x: Sequence) -> list[Value]:
        return [n(x) for n in self.neurons]

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

    def __repr__(self):
        return f"MLP of [{', '.join(map(repr, self.layers))}]"


# ---- tensor layers -----------------------------------------------------------------


class Linear(Module):
    """y = x @ W + b: (batch, in) -> (batch, out).

    Args:
        init: "he" draws W from N(0, 2/in), which keeps the variance of ReLU
            activations steady from layer to layer; "xavier" draws it uniform in
            +-sqrt(6/(in+out)), for tanh and sigmoid.
        rng: a numpy Generator, for seeding; `seed` makes one when rng is None.
    """

    def __init__(self, fan_in: int, fan_out: int, init: str = "he", seed: int = 0,
                 rng: np.random.Generator | None = None, dtype=np.float32):
        rng = rng if rng is not None else np.random.default_rng(seed)
        if init == "he":
            W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        elif init == "xavier":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-bound, bound, (fan_in, fan_out))
        else:
            raise ValueError(f"Linear: unknown init {init!r}; use 'he' or 'xavier'")
        self.W = Tensor(W, requires_grad=True, dtype=dtype)
        self.b = Tensor(np.zeros(fan_out), requires_grad=True, dtype=dtype)

    def __call__(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.W.shape[0]:
            raise ValueError(f"Linear: input has shape {x.shape} but the layer expects "
                             f"{self.W.shape[0]} features in the last axis")
        return x @ self.W + self.b

    def __repr__(self):
        return f"Linear({self.W.shape[0]}, {self.W.shape[1]})"


class ReLU(Module):
    def __call__(self, x: Tensor) -> Tensor:
        return x.relu()


class Sigmoid(Module):
    def __call__(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    def __call__(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sequential(Module):
    """Applies its modules in order."""

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self):
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


def mlp(sizes: Sequence[int], act: str = "relu", init: str = "he", seed: int = 0,
        dtype=np.float32) -> Sequential:
    """Linear layers of the given sizes with `act` between them and a linear
    output: mlp([784, 512, 512, 512, 10]) is the lecture's MNIST model."""
    acts = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}
    if act not in acts:
        raise ValueError(f"mlp: unknown activation {act!r}; choose one of {sorted(acts)}")
    rng = np.random.default_rng(seed)
    layers: list[Module] = []
    for i in range(len(sizes) - 1):
        layers.append(Linear(sizes[i], sizes[i + 1], init, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(acts[act]())
    return Sequential(*layers)


# ---- losses ----------------------------------------------------------------------------


def mse(pred: Tensor, target) -> Tensor:
    """Mean squared error, mean over every entry."""
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"mse: prediction shape {pred.shape} and target shape {target.shape} "
                         "differ; reshape one of them")
    return ((pred - target) ** 2).mean()


def cross_entropy(logits: Tensor, targets) -> Tensor:
    """-mean_i log softmax(logits_i)[targets_i], fused with log-softmax.

    Args:
        logits: (batch, classes) scores.
        targets: (batch,) integer labels in [0, classes): a numpy integer array, a
            list, or a Tensor whose (float) entries are whole numbers.

    The gradient is (softmax(logits) - onehot(targets)) / batch, computed from the
    stable log-softmax, so huge logits give neither inf nor nan.
    """
    y = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if isinstance(targets, Tensor):  # a Tensor is float; accept whole numbers as labels
        fractional = y[y != np.round(y)]
        if fractional.size:
            raise ValueError(f"cross_entropy: targets must be integer labels; the Tensor targets hold "
                             f"{fractional[0]:g}; pass class indices such as np.array([0, 3, 1])")
        y = y.astype(np.int64)
    if logits.ndim != 2 or y.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: logits {logits.shape} and targets {y.shape}; expected "
                         "logits (batch, classes) and targets (batch,)")
    if y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= logits.shape[1])):
        raise ValueError(f"cross_entropy: targets must be integer labels in [0, {logits.shape[1]}), "
                         f"got dtype {y.dtype} with range [{y.min() if y.size else ''}, "
                         f"{y.max() if y.size else ''}]")
    z = logits.data
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    loss = -logp[rows, y].mean()

    def backward(g):  # (softmax - onehot) / batch
        grad = np.exp(logp)
        grad[rows, y] -= 1.0
        return (grad * (g / len(y)),)

    return Tensor._make(np.asarray(loss, dtype=z.dtype), (logits,), "cross_entropy", backward,
                        (logp, rows, y))  # kept by backward beyond the graph's nodes


# ---- batch normalization ---------------------------------------------------------------


class BatchNorm1d(Module):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta, per feature: (batch, features) -> same.

    In training mode mean and var are the batch's own (var divided by n, as in the
    forward pass of PyTorch), and the running statistics move towards them:
    running = (1 - momentum) * running + momentum * batch statistic, the variance
    unbiased (divided by n - 1). In evaluation mode (`eval()`) the running statistics
    are used instead, so one example's output no longer depends on the others.
    In data parallelism each worker normalizes with the statistics of its own n
    examples, not of the global batch of kn (lesson 13).
    """

    def __init__(self, features: int, eps: float = 1e-5, momentum: float = 0.1, dtype=np.float32):
        if features < 1:
            raise ValueError(f"BatchNorm1d: features = {features}; it must be at least 1")
        if not 0.0 <= momentum <= 1.0 or eps <= 0:
            raise ValueError(f"BatchNorm1d: momentum {momentum} must be in [0, 1] and eps {eps} > 0")
        self.gamma = Tensor(np.ones(features), requires_grad=True, dtype=dtype)
        self.beta = Tensor(np.zeros(features), requires_grad=True, dtype=dtype)
        self.running_mean = np.zeros(features, dtype=dtype)  # buffers, not parameters
        self.running_var = np.ones(features, dtype=dtype)
        self.eps, self.momentum = eps, momentum

    def __call__(self, x: Tensor) -> Tensor:
        n_features = self.gamma.shape[0]
        if x.ndim != 2 or x.shape[1] != n_features:
            raise ValueError(f"BatchNorm1d: input has shape {x.shape}; expected (batch, {n_features})")
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(f"BatchNorm1d: a batch of {n} example in training mode has no variance "
                                 "to normalize by; use batches of at least 2, or call eval() first")
            mean, var = x.data.mean(axis=0), x.data.var(axis=0)
            m = self.momentum
            self.running_mean[...] = (1 - m) * self.running_mean + m * mean
            self.running_var[...] = (1 - m) * self.running_var + m * var * n / (n - 1)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = (x.data - mean) * inv_std
        gamma, training = self.gamma.data, self.training

        def backward(g):  # through x_hat, and in training also through the batch's mean and var
            g_hat = g * gamma
            if training:
                g_x = inv_std * (g_hat - g_hat.mean(axis=0) - x_hat * (g_hat * x_hat).mean(axis=0))
            else:
                g_x = g_hat * inv_std
            return g_x, (g * x_hat).sum(axis=0), g.sum(axis=0)

        out = (x_hat * gamma + self.beta.data).astype(x.dtype, copy=False)
        return Tensor._make(out, (x, self.gamma, self.beta), "batchnorm", backward, (x_hat, inv_std))

    def __repr__(self):
        return f"BatchNorm1d({self.gamma.shape[0]})"
