"""Hogwild! throughput: SGD steps per second of worker processes on shared memory, with no
lock, a lock per key block and one global lock, on 1 and 2 processes.

    python -m minidl.bench.hogwild [--repeats 5] [--n 20000] [--d 10000] [--k 10] [--epochs 2]

Each configuration runs `--repeats` times (`minidl.hogwild.run_hogwild`, sparse logistic
regression, each step touching k of d weights); the table gives the median steps per second
of all processes together, from the barrier where they start to the last one's end (process
start-up excluded), its ratio to one process with no lock, and the median lost updates per
million coordinate writes (counted exactly). Two processes can only run twice as fast when
two cores are free for them: the first line states how many cores the machine reports.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

from minidl.bench import set_blas_threads

LOCKS = ("none", "block", "global")
LABELS = {"none": "no lock", "block": "per-block locks", "global": "global lock"}


def _args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per configuration")
    parser.add_argument("--n", type=int, default=20_000, help="examples")
    parser.add_argument("--d", type=int, default=10_000, help="weights")
    parser.add_argument("--k", type=int, default=10, help="weights one step touches")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=64, help="key blocks, one lock each")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    return parser.parse_args(argv)


def measure(args) -> dict:
    """{(lock, processes): (median steps per second, median lost per million)}."""
    from minidl.hogwild import SparseProblem
    from minidl.hogwild.shared import run_hogwild
    problem = SparseProblem(args.n, args.d, args.k)
    out = {}
    for P in args.processes:
        for lock in LOCKS:
            runs = [run_hogwild(problem, P, lock, blocks=args.blocks, epochs=args.epochs, seed=r, timeout=600)
                    for r in range(args.repeats)]
            out[lock, P] = (statistics.median(r.throughput for r in runs),
                            statistics.median(r.lost_per_million for r in runs))
    return out


def main(argv=None) -> int:
    set_blas_threads(1)
    args = _args(argv)
    print(f"os.cpu_count() = {os.cpu_count()}; processes {args.processes}; n = {args.n}, d = {args.d}, "
          f"k = {args.k} (k/d = {args.k / args.d:.2g}), {args.epochs} epochs, {args.blocks} key blocks, "
          f"median of {args.repeats} runs")
    results = measure(args)
    base = results["none", args.processes[0]][0]
    print(f"{'lock':>16} {'processes':>9} {'steps/s':>10} {'ratio':>7} {'lost per million':>17}")
    for P in args.processes:
        for lock in LOCKS:
            rate, lost = results[lock, P]
            print(f"{LABELS[lock]:>16} {P:>9} {rate:>10.0f} {rate / base:>6.2f}x {lost:>17.1f}")
    if len(args.processes) > 1:
        P = args.processes[-1]
        ratios = ", ".join(f"{LABELS[lock]} {results[lock, P][0] / results[lock, args.processes[0]][0]:.2f}x"
                           for lock in LOCKS)
        print(f"{P} processes against {args.processes[0]}: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
