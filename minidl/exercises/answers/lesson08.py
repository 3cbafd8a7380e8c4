"""Answer key of lesson 08 (see the package docstring)."""
import numpy as np

from minidl.distributed.collectives import chunk_bounds, ring_schedule


def _ring_counts():
    n, P = 10, 4
    sizes = np.diff(chunk_bounds(n, P))
    schedule = ring_schedule(P)
    sent = np.zeros(P, dtype=int)
    for step in schedule:
        for sender, _, c in step:
            sent[sender] += sizes[c]
    return len(schedule), sum(len(step) for step in schedule), int(sent.sum()), int(sent[1])


KEY = {"08.1": _ring_counts}
