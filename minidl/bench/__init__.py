"""Benchmarks: `python -m minidl.bench.NAME` prints the reference and minidl side by side."""
