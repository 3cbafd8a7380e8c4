"""Hogwild!: SGD by several workers on one shared weight vector, with and without locks.

    problem  `SparseProblem`: logistic regression where each example touches k of d weights
    sim      the same SGD on a virtual clock: read, compute, write as separate events;
             lost updates counted exactly; `interleave` for an order written by hand
    shared   real worker processes on `multiprocessing.shared_memory`: no lock, one global
             lock, or one lock per block of keys; the same exact count of lost updates
    plots    the figures of lesson 12

Niu, Recht, Re and Wright, "Hogwild!: A Lock-Free Approach to Parallelizing Stochastic
Gradient Descent", NIPS 2011: when each step touches few coordinates, workers rarely
collide, and dropping the lock costs almost nothing in accuracy.
"""
from minidl.hogwild.problem import SparseProblem, blocks_of, worker_order
from minidl.hogwild.sim import (
    LOCKS,
    CountedVector,
    HogwildRun,
    Interleaving,
    interleave,
    predicted_lost_fraction,
    simulate_hogwild,
)

__all__ = ["SparseProblem", "blocks_of", "worker_order", "LOCKS", "CountedVector", "HogwildRun",
           "Interleaving", "interleave", "predicted_lost_fraction", "simulate_hogwild", "run_hogwild"]


def __getattr__(name):  # the process machinery imports multiprocessing only when used
    if name == "run_hogwild":
        from minidl.hogwild.shared import run_hogwild
        return run_hogwild
    raise AttributeError(f"module 'minidl.hogwild' has no attribute {name!r}")
