"""The ranks agree on the first calls; then one rank changes its model. Every rank must raise, none may hang.

    later_mismatch_job.py OUTDIR allreduce|broadcast|grown

allreduce: rank P-1 replaces one weight with one of another shape before the third call.
broadcast: the same, then `broadcast_parameters`.
grown:     rank 0 adds a parameter (one more than the others) before the third call.
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.nn import mlp
from minidl.tensor import Tensor

comm = MPI.COMM_WORLD
out, what = Path(sys.argv[1]), sys.argv[2]
model = mlp([4, 8, 3], seed=0, dtype=np.float64)
params = model.parameters()
messages = []
for call in range(4):
    if call == 2 and what in ("allreduce", "broadcast") and comm.rank == comm.size - 1:
        params[2] = Tensor(np.zeros((8, 5)), requires_grad=True)  # a layer of another width
    if call == 2 and what == "grown" and comm.rank == 0:
        params = params + [Tensor(np.zeros(3), requires_grad=True)]
    for p in params:
        p.grad = np.full(p.data.shape, comm.rank + 1.0)
    try:
        if what == "broadcast":
            dist.broadcast_parameters(params, comm)
        else:
            dist.allreduce_gradients(params, comm)
        messages.append(f"call {call}: ok {params[0].grad.flat[0] if what != 'broadcast' else ''}")
    except ValueError as exc:
        messages.append(f"call {call}: {exc}")
        break
(out / f"rank{comm.rank}.txt").write_text("\n".join(messages))
