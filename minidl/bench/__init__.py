"""Benchmarks: `python -m minidl.bench.NAME` prints the reference and minidl side by side."""
import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_blas_threads(n: int) -> None:
    """Asks the BLAS library for `n` threads; it reads this once, when numpy loads,
    so it only takes effect if numpy has not been imported yet."""
    if "numpy" not in sys.modules:
        for var in THREAD_VARS:
            os.environ[var] = str(n)
