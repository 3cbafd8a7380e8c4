"""Gradient accumulation with OverlappedAllreduce: one backward, several under no_sync, or a mistake.

    accumulate_job.py single|no_sync|double

Rank r's loss is (r + 1) * sum(w) per backward pass, so its local gradient is r + 1 per pass.
single:  one backward, wait(): every entry is the mean over ranks, (P + 1) / 2.
no_sync: two backward passes under no_sync, a third outside it, wait(): 3 (P + 1) / 2.
double:  two backward passes before wait(): every rank must raise, none may hang.
Then a float64 MLP: two micro-batches accumulated under no_sync, against allreduce_gradients.
"""
import sys

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.nn import cross_entropy, mlp
from minidl.tensor import Tensor

comm = MPI.COMM_WORLD
mode = sys.argv[1]
w = Tensor(np.zeros(6), requires_grad=True)
v = Tensor(np.zeros(3), requires_grad=True)
reducer = dist.OverlappedAllreduce([w, v], comm, bucket_bytes=8 * 3, timeout=30)


def backward():
    ((w * (comm.rank + 1.0)).sum() + (v * (comm.rank + 1.0)).sum()).backward()


result = {}
try:
    if mode == "single":
        backward()
    elif mode == "no_sync":
        with reducer.no_sync():
            backward()
            backward()
        backward()
    else:
        backward()
        backward()
    reducer.wait()
    result["grads"] = (w.grad.tolist(), v.grad.tolist())
except RuntimeError as exc:
    result["error"] = str(exc)

if mode != "double":  # micro-batches on a real model: accumulated and reduced as one
    rng = np.random.default_rng(comm.rank)
    x, y = rng.standard_normal((2, 6, 5)), rng.integers(0, 3, (2, 6))
    model = mlp([5, 7, 3], seed=0, dtype=np.float64)
    params = model.parameters()
    for p in params:
        p.grad = None
    reducer2 = dist.OverlappedAllreduce(params, comm, bucket_bytes=100)
    with reducer2.no_sync():
        cross_entropy(model(Tensor(x[0])), y[0]).backward()
    cross_entropy(model(Tensor(x[1])), y[1]).backward()
    reducer2.wait()
    reducer2.close()  # the plain loop below must not trigger its hooks
    overlapped = [p.grad.copy() for p in params]
    for p in params:
        p.grad = None
    for k in range(2):
        cross_entropy(model(Tensor(x[k])), y[k]).backward()
    dist.allreduce_gradients(params, comm)
    result["mlp_diff"] = max(float(np.abs(a - p.grad).max()) for a, p in zip(overlapped, params))
every = comm.gather(result)
if comm.rank == 0:
    dist.report(every)
