"""Optimizers and learning-rate schedules.

SGD with momentum is written as in the CS348K slides:

    vel = mu * vel - step_size * grad
    w   = w + vel

Adagrad divides each weight's step by the root of its summed squared gradients,
so weights with large or frequent gradients take smaller steps. The optimizers
work on Tensors and on scalar Values alike (they only use `.data` and `.grad`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


class Optimizer:
    """Holds the parameters and the learning rate `lr` (a schedule may change it)."""

    def __init__(self, params: Iterable, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: no parameters given; pass model.parameters()")
        first = {}
        for i, p in enumerate(self.params):
            j = first.setdefault(id(p), i)
            if j != i:  # it would be stepped twice per step
                raise ValueError(f"{type(self).__name__}: parameter {i} is parameter {j} again; pass each "
                                 "parameter once (model.parameters() lists a shared layer once)")
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"{type(self).__name__}: learning rate {lr} must be positive and finite")
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None if isinstance(p.data, np.ndarray) else 0.0

    def _grads(self):
        """(index, parameter, gradient) for every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                yield i, p, p.grad


def _check_non_negative(who: str, **settings: float) -> None:
    for name, value in settings.items():
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{who}: {name} {value} must be a finite number >= 0")


class SGD(Optimizer):
    """vel = momentum * vel - lr * (grad + weight_decay * w);  w += vel.

    With momentum 0 this is plain SGD, w -= lr * grad.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum {momentum} must be in [0, 1)")
        _check_non_negative("SGD", weight_decay=weight_decay)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.vel = [np.zeros_like(p.data) for p in self.params]  # velocity per weight

    def step(self) -> None:
        mu, wd = self.momentum, self.weight_decay
        for i, p, grad in self._grads():
            if wd:
                grad = grad + wd * p.data
            vel = self.vel[i]
            vel *= mu
            vel -= self.lr * grad  # in place: no new arrays per step
            p.data += vel


class Adagrad(Optimizer):
    """cache += grad^2;  w -= lr * grad / (sqrt(cache) + eps)."""

    def __init__(self, params: Iterable, lr: float = 0.01, eps: float = 1e-10,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_non_negative("Adagrad", eps=eps, weight_decay=weight_decay)
        self.eps, self.weight_decay = eps, weight_decay
        self.cache = [np.zeros_like(p.data) for p in self.params]  # summed squared gradients

    def step(self) -> None:
        for i, p, grad in self._grads():
            if self.weight_decay:
                grad = grad + self.weight_decay * p.data
            cache = self.cache[i]
            cache += grad * grad
            p.data -= self.lr * grad / (np.sqrt(cache) + self.eps)


# ---- schedules: step number (from 0) -> learning rate ------------------------------


class Constant:
    """The same learning rate at every step."""

    def __init__(self, lr: float):
        self.lr = lr

    def __call__(self, step: int) -> float:
        return self.lr


class StepDecay:
    """lr * gamma ** (step // every): multiply by gamma every `every` steps."""

    def __init__(self, lr: float, every: int, gamma: float = 0.1):
        if every < 1:
            raise ValueError(f"StepDecay: every = {every}; it must be at least 1 step")
        self.lr, self.every, self.gamma = lr, every, gamma

    def __call__(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.every)


class LinearWarmup:
    """Grows linearly from lr / warmup to lr over `warmup` steps, then follows `after`
    (a schedule; constant lr when None). Large-batch training uses it so that the
    first steps, taken with random weights, are not too large."""

    def __init__(self, lr: float, warmup: int, after=None):
        if warmup < 1:
            raise ValueError(f"LinearWarmup: warmup = {warmup}; it must be at least 1 step")
        self.lr, self.warmup, self.after = lr, warmup, after or Constant(lr)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        return self.after(step - self.warmup)


def scale_lr(base_lr: float, base_batch: int, batch: int) -> float:
    """The linear scaling rule: multiply the batch by k, multiply the learning rate by k."""
    if base_batch < 1 or batch < 1:
        raise ValueError(f"scale_lr: batch sizes must be positive, got {base_batch} and {batch}")
    return base_lr * batch / base_batch


def set_lr(optimizer: Optimizer, schedule, step: int) -> float:
    """Sets the optimizer's learning rate from the schedule; returns it."""
    lr = schedule(step)
    if not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"set_lr: the schedule gave lr = {lr} at step {step}; it must be positive")
    optimizer.lr = lr
    return lr


class LARS(Optimizer):
    """Layer-wise Adaptive Rate Scaling (You, Gitman and Ginsburg 2017, Algorithm 1).

    Each layer l (each parameter tensor) gets its own local rate, the trust ratio

        lambda_l = eta * ||w_l|| / (||g_l|| + weight_decay * ||w_l||),

    and the update with momentum is the paper's

        v_l = momentum * v_l + lr * lambda_l * (g_l + weight_decay * w_l);   w_l = w_l - v_l.

    The step of layer l is then about lr * eta * ||w_l|| long whatever the size of its
    gradient, which is what lets a large batch take a large global rate `lr`. Biases and
    other 1-D parameters are excluded (as in the paper's code and common practice): they
    take the plain momentum step with lambda = 1 and no weight decay. A layer whose
    weights or gradient are all zero also takes lambda = 1, so that zero weights can move.

    Args:
        lr: the global rate (the paper's gamma_t; a schedule may change it, see `set_lr`).
        momentum: m in [0, 1).
        weight_decay: beta >= 0.
        trust_coefficient: eta > 0, 0.001 in the paper.
        exclude_biases: False applies the trust ratio to every parameter.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 0.0,
                 trust_coefficient: float = 0.001, exclude_biases: bool = True):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"LARS: momentum {momentum} must be in [0, 1)")
        _check_non_negative("LARS", weight_decay=weight_decay)
        if not math.isfinite(trust_coefficient) or trust_coefficient <= 0:
            raise ValueError(f"LARS: trust_coefficient {trust_coefficient} must be positive and finite "
                             "(the paper uses 0.001)")
        self.momentum, self.weight_decay = momentum, weight_decay
        self.eta, self.exclude_biases = trust_coefficient, exclude_biases
        self.vel = [np.zeros_like(p.data) for p in self.params]  # the paper's v, per layer
        self.trust = [1.0] * len(self.params)  # the last lambda of each layer, to look at

    def excluded(self, p) -> bool:
        """True for the parameters that take the plain momentum step (biases: 1-D or scalars)."""
        return self.exclude_biases and np.ndim(p.data) <= 1

    def trust_ratio(self, w: np.ndarray, grad: np.ndarray) -> float:
        """eta ||w|| / (||g|| + weight_decay ||w||); 1 when either norm is zero."""
        w_norm, g_norm = float(np.linalg.norm(w)), float(np.linalg.norm(grad))
        if w_norm == 0.0 or g_norm == 0.0:
            return 1.0
        return self.eta * w_norm / (g_norm + self.weight_decay * w_norm)

    def step(self) -> None:
        for i, p, grad in self._grads():
            if self.excluded(p):
                local, wd = 1.0, 0.0
            else:
                local, wd = self.trust_ratio(p.data, grad), self.weight_decay
            self.trust[i] = local
            vel = self.vel[i]
            vel *= self.momentum
            vel += (self.lr * local) * (grad + wd * p.data if wd else grad)
            p.data -= vel
