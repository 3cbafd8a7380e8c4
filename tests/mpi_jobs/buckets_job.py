"""Gradient buckets as views under MPI.

    buckets_job.py compare STEPS         10 SGD steps three ways from the same start: packing
                                         (`allreduce_gradients`), `GradientBuckets` and
                                         `OverlappedAllreduce`; reports every step's gradients
    buckets_job.py OUTDIR changed|added|replaced|fine
                                         a problem on one rank after two good steps: every rank
                                         must raise the same error (or none, for `fine`), none may hang
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.nn import cross_entropy, mlp
from minidl.optim import SGD
from minidl.tensor import Tensor

comm = MPI.COMM_WORLD
P, rank = comm.size, comm.rank
rng = np.random.default_rng(0)
x = rng.standard_normal((12 * 8, 20)).astype(np.float32)
y = rng.integers(0, 5, 12 * 8)


def batch(step):  # the global batch of 12 examples, this rank's share of it
    xb, yb = x[12 * step:12 * step + 12], y[12 * step:12 * step + 12]
    return dist.local_batch(xb, yb, rank, P)


def train(mode, steps):
    model = mlp([20, 16, 16, 5], seed=1)  # float32, as the course trains
    params = model.parameters()
    opt = SGD(params, lr=0.1, momentum=0.9)
    reducer = (dist.GradientBuckets(params, comm) if mode == "views" else
               dist.OverlappedAllreduce(params, comm, bucket_bytes=700) if mode == "overlap" else None)
    grads = []
    for step in range(steps):
        xb, yb = batch(step % 8)
        loss = cross_entropy(model(Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        if mode == "packing":
            dist.allreduce_gradients(params, comm)
        elif mode == "views":
            reducer.allreduce(model.parameters())
        else:
            reducer.wait()
        grads.append([p.grad.copy() for p in params])
        opt.step()
    return grads, [p.data.copy() for p in params]


if sys.argv[1] == "compare":
    steps = int(sys.argv[2])
    runs = {mode: train(mode, steps) for mode in ("packing", "views", "overlap")}
    gathered = comm.gather(runs)
    if rank == 0:
        dist.report(gathered)
    sys.exit(0)

out, what = Path(sys.argv[1]), sys.argv[2]
model = mlp([6, 8, 3], seed=0)
params = model.parameters()
buckets = dist.GradientBuckets(params, comm)
messages = []
for step in range(4):
    if step == 2 and rank == P - 1:
        if what == "changed":
            model.layers[2].b.data = np.zeros((1, 3), np.float32)  # broadcasts as before: forward still runs
        elif what == "added":
            model.extra = Tensor(np.zeros(3), requires_grad=True)
    loss = cross_entropy(model(Tensor(np.full((2, 6), rank + 1.0, np.float32))), [0, 1])
    for p in params:
        p.grad = None
    loss.backward()
    if step == 2 and rank == 0 and what == "replaced":
        params[1].grad = params[1].grad * 2.0
    try:
        buckets.allreduce(model.parameters())
        messages.append(f"step {step}: ok")
    except ValueError as exc:
        messages.append(f"step {step}: {exc}")
        break
(out / f"rank{rank}.txt").write_text("\n".join(messages))
