"""Answer key of lesson 07 (see the package docstring)."""
import numpy as np

from minidl.nn import mlp


def _examples_and_bytes():
    B, P = 128, 4
    model = mlp([784, 64, 10], seed=0, dtype=np.float64)
    return B // P, sum(p.data.nbytes for p in model.parameters())


KEY = {"07.1": _examples_and_bytes}


# references of exercise 07.2 (pack and unpack), for its hidden random cases

def random_shapes(rng):
    """A few shapes of 0 to 2 dimensions (0-size and 0-d included) and a dtype name."""
    shapes = [tuple(rng.randint(0, 4) for _ in range(rng.randint(0, 3))) for _ in range(rng.randint(1, 5))]
    return shapes, rng.choice(["float32", "float64"])


def reference_roundtrip(shapes, dtype):
    """What `roundtrip` returns for a correct pack and unpack."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    return (dtype, (sum(sizes),), [dtype] * len(shapes), [tuple(s) for s in shapes], True)


def random_grads(rng):
    """One argument tuple for pack: arrays of random shapes and one dtype."""
    gen = np.random.default_rng(rng.randint(0, 10**6))
    shapes, dtype = random_shapes(rng)
    return ([gen.standard_normal(s).astype(dtype) for s in shapes],)


def reference_pack(grads):
    """pack, element by element."""
    return np.array([v for g in grads for v in np.asarray(g).flatten().tolist()], dtype=float)
