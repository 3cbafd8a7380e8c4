"""One training step of a scalar MLP, minidl against micrograd.

    python -m minidl.bench.scalar [--rounds 5] [--block 3] [--points 100]

The step is micrograd's demo: MLP(2, [16, 16, 1]) with ReLU on 100 points of
the moons, a max-margin loss plus L2 regularisation, forward and backward. Both
libraries start from the same weights, and the table checks that they compute
the same loss and gradients before it compares times. The libraries take
turns, a few consecutive steps each, so that a burst of load on the machine
hits both and each pays for the garbage of its own steps, as in training.
"""
from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time

from minidl.data import make_moons
from minidl.engine import Value
from minidl.nn import MLP


def train_step(model, value_cls, X, y, alpha: float = 1e-4):
    """Forward and backward of micrograd's demo loss; returns the loss Value."""
    inputs = [[value_cls(float(a)) for a in row] for row in X]
    scores = [model(x) for x in inputs]
    losses = [(1 + -float(yi) * s).relu() for yi, s in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = alpha * sum(p * p for p in model.parameters())
    total = data_loss + reg
    model.zero_grad()
    total.backward()
    return total


def micrograd_twin(model: MLP):
    """micrograd's MLP with the weights of `model`, or None if it is not installed."""
    try:
        from micrograd.nn import MLP as MicroMLP
    except ImportError:
        return None
    sizes = [len(model.layers[0].neurons[0].w)] + [len(layer.neurons) for layer in model.layers]
    twin = MicroMLP(sizes[0], sizes[1:])
    for p, q in zip(twin.parameters(), model.parameters()):
        p.data = q.data
    return twin


def measure(rounds: int, block: int, points: int):
    """Per-step times of each library: `rounds` rounds, each running `block`
    consecutive steps of every library in turn (the first round warms up)."""
    X, y = make_moons(points, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], act="relu", seed=0)
    runs = [("minidl", model, Value)]
    twin = micrograd_twin(model)
    if twin is not None:
        from micrograd.engine import Value as MicroValue
        runs.insert(0, ("micrograd", twin, MicroValue))
    times = {name: [] for name, _, _ in runs}
    results = {}
    for r in range(rounds + 1):
        for name, m, cls in runs:
            gc.collect()  # each library pays for its own garbage, not the other's
            for _ in range(block):
                start = time.perf_counter()
                loss = train_step(m, cls, X, y)
                elapsed = time.perf_counter() - start
                if r > 0:
                    times[name].append(elapsed)
            results[name] = (loss.data, [p.grad for p in m.parameters()])
    return [(name, times[name], *results[name]) for name, _, _ in runs]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per library")
    parser.add_argument("--block", type=int, default=3, help="consecutive steps per round")
    parser.add_argument("--points", type=int, default=100, help="training points per step")
    args = parser.parse_args(argv)
    rows = measure(args.rounds, args.block, args.points)

    print(f"One training step (forward + backward), MLP(2, [16, 16, 1]) on {args.points} points")
    print(f"Python {platform.python_version()}, 1 thread (pure Python), "
          f"median of {args.rounds * args.block} steps: {args.rounds} rounds of {args.block} "
          "consecutive steps per library, taking turns, after a warm-up round")
    print(f"{'library':<10} {'median s':>9} {'min s':>8} {'max s':>8} {'loss':>12}")
    for name, t, loss, _ in rows:
        print(f"{name:<10} {statistics.median(t):9.4f} {min(t):8.4f} {max(t):8.4f} {loss:12.8f}")
    if len(rows) == 2:
        (_, t_ref, loss_ref, g_ref), (_, t_md, loss_md, g_md) = rows
        worst = max(abs(a - b) for a, b in zip(g_ref, g_md))
        print(f"same loss: {abs(loss_ref - loss_md) < 1e-12}, max |gradient difference| {worst:.1e}")
        print(f"speed-up of minidl over micrograd (ratio of medians): "
              f"{statistics.median(t_ref) / statistics.median(t_md):.2f}x")
    else:
        print("micrograd is not installed; `pip install micrograd` to time it beside minidl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
