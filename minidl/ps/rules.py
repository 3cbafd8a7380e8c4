"""Server-side update rules (the parameter server's "user-defined function") and
staleness-aware learning rates.

A push carries a gradient g for some keys. The shard that owns them applies a rule
to its slice of the parameters under its own lock:

- `SGD(lr)`:      w -= eta * g
- `Adagrad(lr)`:  cache += g^2;  w -= eta * g / (sqrt(cache) + eps), cache kept per shard

where eta comes from a learning-rate scheme evaluated on the push's staleness:

- `ConSGD(lr)`: eta = lr, one constant global rate for every update;
- `DynSGD(lr)`: eta = lr / (staleness + 1), so stale updates move the weights less.

Staleness of a push (see `Shard.apply` in server.py): the number of updates applied
to the shard between this worker's last pull of it and this push, not counting the
updates computed from the same parameter version as this one. Those are the other
parts of one synchronous step: under BSP every push has staleness 0, so DynSGD,
ConSGD and synchronous SGD coincide. With K asynchronous workers it is about K - 1,
and larger for a slow worker, whose reads age while the fast ones push.
"""
from __future__ import annotations

import numpy as np


class ConSGD:
    """A constant global learning rate: eta(staleness) = lr."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"ConSGD: learning rate {lr} must be positive")
        self.lr = float(lr)

    def __call__(self, staleness: int) -> float:
        return self.lr

    def __repr__(self):
        return f"ConSGD({self.lr:g})"


class DynSGD(ConSGD):
    """The rate divided by each update's staleness + 1: eta(staleness) = lr / (staleness + 1)."""

    def __call__(self, staleness: int) -> float:
        return self.lr / (staleness + 1)

    def __repr__(self):
        return f"DynSGD({self.lr:g})"


def _scheme(lr) -> ConSGD:
    return lr if isinstance(lr, ConSGD) else ConSGD(lr)


class SGD:
    """w -= eta(staleness) * g.

    Args:
        lr: a number (a constant rate, ConSGD) or a scheme, ConSGD(lr) or DynSGD(lr).
    """

    state_names: tuple[str, ...] = ()

    def __init__(self, lr=0.1):
        self.lr = _scheme(lr)

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr!r})"

    def init_state(self, size: int) -> dict[str, np.ndarray]:
        """Per-shard state arrays of `size` floats (none for SGD)."""
        return {name: np.zeros(size) for name in self.state_names}

    def apply(self, w: np.ndarray, g: np.ndarray, state: dict, index, staleness: int) -> None:
        """Updates w[index] in place from the gradient g (same length as w[index]).

        Args:
            w: the shard's parameters (shard size,); index: a slice or an int array into w.
            state: this shard's rule state; staleness: the push's staleness.
        """
        w[index] -= self.lr(staleness) * g


class Adagrad(SGD):
    """cache += g^2;  w -= eta(staleness) * g / (sqrt(cache) + eps), per weight."""

    state_names = ("cache",)  # summed squared gradients, one per weight

    def __init__(self, lr=0.01, eps: float = 1e-10):
        super().__init__(lr)
        self.eps = eps

    def __repr__(self):
        return f"Adagrad(lr={self.lr!r}, eps={self.eps:g})"

    def apply(self, w, g, state, index, staleness) -> None:
        cache = state["cache"]
        cache[index] += g * g
        w[index] -= self.lr(staleness) * g / (np.sqrt(cache[index]) + self.eps)
