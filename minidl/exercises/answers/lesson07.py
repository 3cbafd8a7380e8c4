"""Answer key of lesson 07 (see the package docstring)."""
import numpy as np

from minidl.nn import mlp


def _examples_and_bytes():
    B, P = 128, 4
    model = mlp([784, 64, 10], seed=0, dtype=np.float64)
    return B // P, sum(p.data.nbytes for p in model.parameters())


KEY = {"07.1": _examples_and_bytes}
