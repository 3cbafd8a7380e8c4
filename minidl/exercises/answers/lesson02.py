"""Answer key of lesson 02 (see the package docstring), and the references of exercise 02.2."""
from __future__ import annotations

import random
from collections import deque

from minidl.engine import Value


def _division_gate_locals():
    return (Value(6.0) / Value(3.0))._local  # (dq/da, dq/db) at a = 6, b = 3


def kahn_order(root: Value) -> list[Value]:
    """Kahn's algorithm as exercise 02.2 states it: count consumer edges, place the root, then
    each node once its consumers are placed (FIFO queue, inputs in `_prev` order), reversed."""
    pending, stack = {root: 0}, [root]
    while stack:
        node = stack.pop()
        for child in node._prev:
            if child not in pending:
                pending[child] = 0
                stack.append(child)
            pending[child] += 1
    order, ready = [], deque([root])
    while ready:
        node = ready.popleft()
        order.append(node)
        for child in node._prev:
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    return order[::-1]


def positions(root: Value, order: list[Value]) -> list[int]:
    """`order` as positions in `root.topological_order()` (-1 for a node not in the graph), so
    that orders of two copies of one graph compare equal when they visit the nodes alike."""
    index = {node: i for i, node in enumerate(root.topological_order())}
    return [index.get(node, -1) for node in order]


def random_graph(rng: random.Random) -> tuple[Value]:
    """(root,) of a random expression: nodes with several consumers, repeated inputs, constants."""
    nodes = [Value(rng.uniform(-2.0, 2.0)) for _ in range(rng.randint(1, 4))]
    for _ in range(rng.randint(1, 40)):
        u, v = rng.choice(nodes), rng.choice(nodes[-3:])
        kind = rng.randrange(4)
        nodes.append(u + v if kind == 0 else u * v if kind == 1 else v.tanh() if kind == 2 else v * 0.5)
    return (sum(nodes[-3:], Value(0.0)),)


def deep_chain(depth: int) -> Value:
    """y = x + 0 + 0 + ...: a graph `depth` gates deep, too deep for a recursive search."""
    y = Value(1.0)
    for _ in range(depth):
        y = y + 0.0
    return y


KEY = {"02.1": _division_gate_locals}
