"""One training step of the lecture's MNIST model: minidl, hand-written NumPy, PyTorch.

    python -m minidl.bench.mlp [--threads 1] [--steps 100] [--batch 128]

The model is 784-512-512-512-10 with ReLU, in float32, trained with cross-entropy
and plain SGD. The NumPy step is the same math written out by hand with no
graph at all, the floor that minidl's bookkeeping is measured against. All three
start from the same weights and see the same batches; the table first checks
that they compute the same loss. The thread count is set for the BLAS library
(and for PyTorch) before numpy is loaded.
"""
from __future__ import annotations

import argparse
import sys

from minidl.bench import set_blas_threads


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per version (>= 100 for the table)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 512, 512, 512, 10])
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _args(argv)
    set_blas_threads(args.threads)
    import statistics
    import time
    import tracemalloc

    import numpy as np

    from minidl.bench import reference_steps as ref

    rng = np.random.default_rng(0)
    n_batches = 8
    xs = rng.random((n_batches, args.batch, args.sizes[0]), dtype=np.float32)
    ys = rng.integers(0, args.sizes[-1], (n_batches, args.batch))
    versions = ref.make_versions(args.sizes, args.threads, lr=0.01)

    losses = {name: step(xs[0], ys[0]) for name, step in versions}  # same weights, same batch
    times = {name: [] for name, _ in versions}
    block = 10
    for r in range(-1, (args.steps + block - 1) // block):  # round -1 warms up
        for name, step in versions:
            for k in range(block):
                i = (r * block + k) % n_batches
                start = time.perf_counter()
                step(xs[i], ys[i])
                if r >= 0:
                    times[name].append(time.perf_counter() - start)

    peaks = {}
    for name, step in versions:
        if name == "pytorch":
            continue  # its allocator is invisible to tracemalloc
        tracemalloc.start()
        step(xs[0], ys[0])
        peaks[name] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()

    sizes = "-".join(map(str, args.sizes))
    print(f"One training step (forward, backward, SGD) of {sizes}, batch {args.batch}, float32")
    print(f"threads: {args.threads} (BLAS and PyTorch); median of {len(times['minidl'])} steps per "
          f"version, in turns of {block}, after a warm-up turn")
    numpy_median = statistics.median(times["numpy"])
    print(f"{'version':<9} {'median ms':>10} {'min ms':>8} {'vs numpy':>9} {'peak MiB':>9} {'first loss':>11}")
    for name, _ in versions:
        t = times[name]
        peak = f"{peaks[name]:9.1f}" if name in peaks else f"{'n/a':>9}"
        print(f"{name:<9} {statistics.median(t) * 1e3:10.2f} {min(t) * 1e3:8.2f} "
              f"{statistics.median(t) / numpy_median:8.2f}x {peak} {losses[name]:11.6f}")
    agree = max(abs(v - losses["numpy"]) for v in losses.values())
    print(f"largest difference in the first loss: {agree:.1e} (float32)")
    if "pytorch" in times:
        print(f"minidl / pytorch: {statistics.median(times['minidl']) / statistics.median(times['pytorch']):.2f}x")
    else:
        print("PyTorch is not installed; `pip install torch` to time it beside minidl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
