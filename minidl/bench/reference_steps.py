"""The three training steps that `minidl.bench.mlp` compares, from the same weights.

Each step does forward, cross-entropy, backward and an SGD update on one batch
and returns the loss, so that they can be checked against each other.
"""
from __future__ import annotations

import numpy as np

from minidl.nn import cross_entropy, mlp
from minidl.optim import SGD
from minidl.tensor import Tensor


def minidl_step(sizes, lr):
    model = mlp(sizes, seed=0)
    opt = SGD(model.parameters(), lr=lr)

    def step(x, y):
        loss = cross_entropy(model(Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def numpy_step(sizes, lr):
    """The same math written out by hand: no graph, no objects."""
    params = mlp(sizes, seed=0).parameters()
    Ws = [p.data.copy() for p in params[0::2]]
    bs = [p.data.copy() for p in params[1::2]]

    def step(x, y):
        hs = [x]  # the activations kept for backward
        for W, b in zip(Ws[:-1], bs[:-1]):
            hs.append(np.maximum(hs[-1] @ W + b, 0))
        logits = hs[-1] @ Ws[-1] + bs[-1]
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        loss = -logp[rows, y].mean()
        g = np.exp(logp)
        g[rows, y] -= 1.0
        g *= 1.0 / len(y)  # dL/dlogits
        for k in range(len(Ws) - 1, -1, -1):
            gW, gb = hs[k].T @ g, g.sum(axis=0)
            if k > 0:
                g = (g @ Ws[k].T) * (hs[k] > 0)  # through the ReLU
            Ws[k] -= lr * gW
            bs[k] -= lr * gb
        return float(loss)
    return step


def torch_step(sizes, lr, threads):
    """PyTorch on the CPU, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    params = [torch.tensor(p.data, requires_grad=True) for p in mlp(sizes, seed=0).parameters()]
    opt = torch.optim.SGD(params, lr=lr)

    def step(x, y):
        h = torch.from_numpy(x)
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            h = torch.relu(h) if k < len(params) - 2 else h
        loss = torch.nn.functional.cross_entropy(h, torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def make_versions(sizes, threads, lr):
    """[(name, step)] for numpy, minidl and, when installed, pytorch."""
    versions = [("numpy", numpy_step(sizes, lr)), ("minidl", minidl_step(sizes, lr))]
    torch_version = torch_step(sizes, lr, threads)
    if torch_version is not None:
        versions.append(("pytorch", torch_version))
    return versions
