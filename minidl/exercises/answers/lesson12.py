"""Answer key of lesson 12 (see the package docstring)."""
import math

from minidl.distributed import gossip
from minidl.hogwild import interleave


def _interleaving_by_hand():
    updates = [([0, 1], 1.0), ([1, 2], 10.0), ([2, 3], 100.0)]  # A, B, C
    order = [("r", 0), ("r", 1), ("w", 0), ("r", 2), ("w", 1), ("w", 2)]
    run = interleave([0.0, 0.0, 0.0, 0.0], updates, order)
    return (*run.w.tolist(), run.lost)


def _steps_to_shrink_1000_times():
    ring = gossip.second_eigenvalue(gossip.ring_mixing_matrix(16))
    pairs = math.sqrt(gossip.second_eigenvalue(gossip.expected_pairs_mixing_matrix(16)))  # spread, not its square
    return gossip.steps_to_shrink(ring, 1000), gossip.steps_to_shrink(pairs, 1000)


KEY = {"12.1": _interleaving_by_hand, "12.3": _steps_to_shrink_1000_times}
