"""Rank 1 builds a different model; every rank must raise, none may hang.

    mismatch_job.py OUTDIR allreduce|broadcast|overlap
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.nn import mlp

comm = MPI.COMM_WORLD
out, what = Path(sys.argv[1]), sys.argv[2]
sizes = [4, 8, 3] if comm.rank != 1 else [4, 9, 3]
model = mlp(sizes, seed=0, dtype=np.float64)
for p in model.parameters():
    p.grad = np.ones_like(p.data)
try:
    if what == "allreduce":
        dist.allreduce_gradients(model.parameters(), comm)
    elif what == "broadcast":
        dist.broadcast_parameters(model.parameters(), comm)
    else:
        dist.OverlappedAllreduce(model.parameters(), comm)
    message = "no error"
except ValueError as exc:
    message = str(exc)
(out / f"rank{comm.rank}.txt").write_text(message)
