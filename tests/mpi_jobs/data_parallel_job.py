"""Trains the same float64 MLP data-parallel (plain or overlapped) and reports the weights.

    data_parallel_job.py plain|overlap BUCKET_BYTES STEPS_EPOCHS
"""
import sys

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.data import batches
from minidl.nn import cross_entropy, mlp
from minidl.optim import SGD
from minidl.tensor import Tensor

comm = MPI.COMM_WORLD
mode, bucket_bytes, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
x, y = rng.standard_normal((240, 20)), rng.integers(0, 5, 240)
model = mlp([20, 32, 32, 5], seed=1 + comm.rank, dtype=np.float64)  # ranks differ until the broadcast
opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
if mode == "plain":
    losses = dist.train_data_parallel(model, opt, x, y, global_batch=48, epochs=epochs, seed=3, comm=comm)
else:
    params = model.parameters()
    dist.broadcast_parameters(params, comm)
    reducer = dist.OverlappedAllreduce(params, comm, bucket_bytes=bucket_bytes)
    losses = []
    for epoch in range(epochs):
        for xb, yb in batches(x, y, 48, seed=3, epoch=epoch, drop_last=True):
            xb, yb = dist.local_batch(xb, yb, comm.rank, comm.size)
            loss = cross_entropy(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            reducer.wait()
            opt.step()
            losses.append(comm.allreduce(loss.item()) / comm.size)
weights = comm.gather([p.data.copy() for p in model.parameters()])
if comm.rank == 0:
    dist.report({"weights": weights, "losses": losses})
