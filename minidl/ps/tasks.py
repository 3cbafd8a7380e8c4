"""Training tasks for the parameter server: gradients and losses on flat parameter vectors.

A task owns a minidl model, its data and its `KeyLayout` (one key per neuron). For
worker w of K at iteration (clock) c, `gradient` unpacks the flat parameters into the
model, runs forward and backward on that worker's batch, and packs the gradients:
the batch depends only on (seed, w, K, c), drawn from the worker's own shard, so
every run, threaded or simulated, sees the same batches. `loss` evaluates the mean
loss on a fixed evaluation set.

Shards are strided (`minidl.data.shard_indices`: every worker sees every label) unless
`skew` > 0 makes them non-iid: examples sorted by skew * label + (1 - skew) * noise and
cut into K contiguous blocks, so that at skew 1 each worker holds about 10 / K digits.
"""
from __future__ import annotations

import copy

import numpy as np

from minidl.data import flatten_images, load_mnist, make_moons, shard_indices
from minidl.nn import Module, cross_entropy, mlp, mse
from minidl.ps.keys import KeyLayout, linears, pack, unpack
from minidl.tensor import Tensor, no_grad

LOSSES = {"cross_entropy": cross_entropy, "mse": mse}


class ModelTask:
    """A model, training data split into per-worker shards, and an evaluation set.

    Args:
        model: a minidl model made of Linear layers (its weights are the initial values).
        x, y: training inputs (N, features) and targets (N,) labels or (N, outputs).
        loss: "cross_entropy" (integer labels) or "mse".
        batch: examples per gradient, per worker.
        eval_x, eval_y: the evaluation set (default: the training set).
        seed: seeds the batch order; name: for printing.
        skew: 0 (iid shards) .. 1 (each worker its own block of labels), see above.
    """

    def __init__(self, model: Module, x: np.ndarray, y: np.ndarray, *, loss: str = "cross_entropy",
                 batch: int = 32, eval_x=None, eval_y=None, seed: int = 0, name: str = "task",
                 skew: float = 0.0):
        if loss not in LOSSES:
            raise ValueError(f"ModelTask: unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
        if len(x) != len(y):
            raise ValueError(f"ModelTask: {len(x)} inputs but {len(y)} targets")
        if not 0 <= skew <= 1:
            raise ValueError(f"ModelTask: skew {skew} must be in [0, 1]: 0 gives every worker every "
                             "label (iid), 1 gives each worker its own block of labels")
        self.model, self.x, self.y = model, x, y
        self.loss_fn, self.batch, self.seed, self.name, self.skew = LOSSES[loss], batch, seed, name, skew
        self.eval_x = x if eval_x is None else eval_x
        self.eval_y = y if eval_y is None else eval_y
        self.layout = KeyLayout.for_model(model)
        self._init = pack(model)
        self._models: dict = {}   # one copy of the model per worker: threads never share one
        self._shards: dict = {}   # (n_workers, worker) -> its rows, when skewed
        self._orders: dict = {}   # worker -> ((n_workers, epoch), that epoch's order of its shard)

    def __repr__(self):
        return f"ModelTask({self.name}, {self.layout.n_keys} keys, {self.layout.size} floats, batch {self.batch})"

    def init(self) -> np.ndarray:
        """The initial parameters, (layout.size,) float64."""
        return self._init.copy()

    def _model(self, who) -> tuple[Module, list]:
        if who not in self._models:
            model = copy.deepcopy(self.model)
            self._models[who] = model, linears(model)
        return self._models[who]

    def shard(self, worker: int, n_workers: int) -> np.ndarray:
        """Rows of x that `worker` owns: strided (iid) when skew is 0, else a contiguous block
        of the examples sorted by skew * label + (1 - skew) * noise (label-skewed, non-iid)."""
        if self.skew == 0:
            return shard_indices(len(self.x), worker, n_workers)
        if (n_workers, worker) in self._shards:
            return self._shards[n_workers, worker]
        labels = self.y if self.y.ndim == 1 else self.y.argmax(axis=1)
        noise = np.random.default_rng([self.seed, 7]).random(len(labels)) * (labels.max() + 1)
        order = np.argsort(self.skew * labels + (1 - self.skew) * noise, kind="stable")
        self._shards[n_workers, worker] = mine = np.sort(np.array_split(order, n_workers)[worker])
        return mine

    def batch_indices(self, worker: int, clock: int, n_workers: int) -> np.ndarray:
        """Rows of x for `worker`'s batch at iteration `clock`: its shard, reshuffled each epoch."""
        per_epoch = max(1, (len(self.x) // n_workers) // self.batch)  # full batches in the smallest shard
        epoch, i = divmod(clock, per_epoch)
        key = (n_workers, epoch)
        cached = self._orders.get(worker)
        if cached is None or cached[0] != key:  # one epoch per worker: each thread touches its own entry
            mine = self.shard(worker, n_workers)
            order = np.random.default_rng([self.seed, worker, n_workers, epoch]).permutation(len(mine))
            cached = key, mine[order]
            self._orders[worker] = cached
        return cached[1][i * self.batch:(i + 1) * self.batch]

    def gradient(self, params: np.ndarray, worker: int, clock: int, n_workers: int) -> np.ndarray:
        """d loss / d params on worker's batch at `clock`: (layout.size,) float64."""
        rows = self.batch_indices(worker, clock, n_workers)
        return self.gradient_on(params, rows, who=worker)

    def gradient_on(self, params: np.ndarray, rows: np.ndarray, who=0) -> np.ndarray:
        """d loss / d params on the examples `rows` (mean over them)."""
        model, layers = self._model(who)
        unpack(params, model, layers)
        for _, layer in layers:
            layer.W.grad = layer.b.grad = None
        self.loss_fn(model(Tensor(self.x[rows])), self.y[rows]).backward()
        return pack(model, grads=True, layers=layers)

    def loss(self, params: np.ndarray) -> float:
        """Mean loss of `params` on the evaluation set."""
        model, layers = self._model("eval")
        unpack(params, model, layers)
        with no_grad():
            return float(self.loss_fn(model(Tensor(self.eval_x)), self.eval_y).item())


class SoftmaxTask(ModelTask):
    """Softmax regression written out in numpy: the same layout, gradients and loss as
    ModelTask on mlp([features, classes]), several times faster (no graph is built).

    Key j is class j's neuron: its value is [W[:, j], b[j]], so the parameters of the
    flat vector, viewed as (classes, features + 1), are the rows theta_j of the slides.
    """

    def gradient_on(self, params: np.ndarray, rows: np.ndarray, who=0) -> np.ndarray:
        theta = params.reshape(self.layout.n_keys, -1)  # (classes, features + 1)
        x, y = self.x[rows], self.y[rows]
        delta = _softmax(x @ theta[:, :-1].T + theta[:, -1])  # error on the logits, (batch, classes)
        delta[np.arange(len(y)), y] -= 1.0
        delta /= len(y)
        grad = np.empty_like(theta)
        grad[:, :-1] = delta.T @ x
        grad[:, -1] = delta.sum(axis=0)
        return grad.ravel()

    def loss(self, params: np.ndarray) -> float:
        theta = params.reshape(self.layout.n_keys, -1)
        z = self.eval_x @ theta[:, :-1].T + theta[:, -1]
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(self.eval_y)), self.eval_y].mean())


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mnist_task(hidden=(), batch: int = 32, n_train: int | None = None, n_eval: int = 500,
               seed: int = 0, skew: float = 0.0) -> ModelTask:
    """The bundled MNIST subset: softmax regression (hidden=()) or an MLP, float64.

    Args:
        hidden: hidden layer widths, e.g. (32,) for 784-32-10 with ReLU.
        batch: images per gradient, per worker.
        n_train: use the first n_train of the 4,000 training images (None: all).
        n_eval: the first n_eval test images form the evaluation set.
        seed: seeds the weights and the batch order; skew: non-iid shards (see ModelTask).
    """
    (x, y), (xt, yt) = load_mnist()
    x, xt = flatten_images(x).astype(np.float64), flatten_images(xt).astype(np.float64)
    n_train = len(x) if n_train is None else n_train
    model = mlp([784, *hidden, 10], seed=seed, dtype=np.float64)
    kind = ModelTask if hidden else SoftmaxTask  # the same numbers; softmax regression in plain numpy
    return kind(model, x[:n_train], y[:n_train].astype(np.int64), batch=batch,
                eval_x=xt[:n_eval], eval_y=yt[:n_eval].astype(np.int64), seed=seed, skew=skew,
                name=f"MNIST {'-'.join(map(str, [784, *hidden, 10]))}")


def moons_task(n: int = 512, hidden=(16,), batch: int = 16, noise: float = 0.1, seed: int = 0) -> ModelTask:
    """Two moons, 2-16-2 with ReLU and cross-entropy, float64; evaluated on 256 fresh points."""
    x, y = make_moons(n, noise=noise, seed=seed)
    xe, ye = make_moons(256, noise=noise, seed=seed + 1)
    sizes = [2, *hidden, 2]
    return ModelTask(mlp(sizes, seed=seed, dtype=np.float64), x, (y > 0).astype(np.int64), batch=batch,
                     eval_x=xe, eval_y=(ye > 0).astype(np.int64), seed=seed,
                     name=f"moons {'-'.join(map(str, sizes))}")
