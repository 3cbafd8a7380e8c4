"""Models rebuilt between calls, as when a notebook cell runs again; every rank reports what it got.

    rebuild_job.py rerun|badgrad

rerun:   a new model each round, larger than the last, the old one freed first, so that
         CPython gives the new parameters the old ones' addresses (the job counts the rounds
         whose parameters all sit at addresses used before); the averages must be right.
badgrad: on the second call rank 1 hands over a gradient of the wrong shape; every rank
         must raise the same error, none may hang.
"""
import sys

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.nn import mlp
from minidl.tensor import Tensor

comm = MPI.COMM_WORLD
mode = sys.argv[1]
if mode == "rerun":
    rounds = [n for n in range(10, 210, 10)] + [[4, 8, 3], [4, 16, 3], [4, 16, 16, 3], [2, 2], [30, 40, 3]]
else:
    rounds = [[4, 8, 3], [4, 16, 3], [4, 16, 16, 3]]
out, reused, seen = [], 0, set()
for i, sizes in enumerate(rounds):
    if isinstance(sizes, int):  # a one-parameter model: w of `sizes` numbers
        params = [Tensor(np.zeros(sizes, dtype=np.float32), requires_grad=True)]
    else:
        params = mlp(sizes, seed=i).parameters()
    ids = tuple(id(p) for p in params)
    reused += ids in seen  # every address as before: a cache keyed by id() would hand back its old buffer
    seen.add(ids)
    for k, p in enumerate(params):
        p.grad = np.full(p.data.shape, (comm.rank + 1.0) * (k + 1), dtype=p.data.dtype)
    if mode == "badgrad" and i == 1 and comm.rank == 1:
        params[1].grad = np.ones(5, dtype=np.float32)
    try:
        dist.allreduce_gradients(params, comm)
        ok = all(p.grad.shape == p.data.shape and np.all(p.grad == (comm.size + 1) / 2 * (k + 1))
                 for k, p in enumerate(params))
        out.append("right" if ok else "wrong")
    except ValueError as exc:
        out.append(str(exc))
        break
    del params, p  # freed, as when the cell that built them runs again
every = comm.gather((out, reused))
if comm.rank == 0:
    dist.report(every)
