"""Answer key of lesson 10 (see the package docstring), and the reference of exercise 10.2."""
from __future__ import annotations

from minidl.ps import BSP, SSP, Consistency

CLOCKS = [7, 4, 6, 5, 4, 8]  # exercise 10.1: clocks[w] of six workers


def _who_may_start():
    return ([w for w in range(len(CLOCKS)) if SSP(2).lagging(CLOCKS, w) is None],
            [w for w in range(len(CLOCKS)) if BSP().lagging(CLOCKS, w) is None])


def _slowest_clock_worker5_needs():
    return min(m for m in range(max(CLOCKS) + 1) if SSP(2).may_read(CLOCKS[5], m))


KEY = {"10.1a": _who_may_start, "10.1b": _slowest_clock_worker5_needs}


def reference_blocked(clocks, s):
    """Exercise 10.2: the workers that `Consistency(s)` keeps from starting their next iteration."""
    policy = Consistency(s)
    return [w for w in range(len(clocks)) if policy.lagging(clocks, w) is not None]


def random_clock_table(rng):
    """A random clock table of 1 to 9 workers and a staleness bound (math.inf: ASP)."""
    n, low = rng.randint(1, 10), rng.randint(0, 50)
    return [low + rng.randint(0, 8) for _ in range(n)], rng.choice([0, 1, 2, 3, 5, float("inf")])
