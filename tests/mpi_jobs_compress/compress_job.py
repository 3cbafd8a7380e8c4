"""Gradient compression on real ranks, for tests/test_compress.py.

    compress_job.py exact                   weights of dense data parallelism and of every
                                            compressed mode that sends everything
    compress_job.py conserve MODE RULE      sent + residual against the sums of gradients
                                            (naive) or velocities (corrected), per rank
    compress_job.py allreduce               sparse_allreduce against Allreduce of the same vectors
    compress_job.py bad OUTDIR CASE         each rank writes the error it got to OUTDIR/rankR.txt
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.distributed import compress
from minidl.nn import mlp
from minidl.optim import SGD

comm = MPI.COMM_WORLD
P, rank = comm.Get_size(), comm.Get_rank()
what = sys.argv[1]


def data(n=192, d=12, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 1)
    return x, y


def weights(model):
    return comm.gather([p.data.copy() for p in model.parameters()], root=0)


if what == "exact":
    x, y = data()
    out = {}
    model = mlp([12, 8, 3], seed=1, dtype=np.float64)
    out["dense"] = (dist.train_data_parallel(model, SGD(model.parameters(), lr=0.1, momentum=0.9), x, y,
                                             global_batch=24, epochs=2, comm=comm), weights(model))
    for name, kw in {"naive t=0": dict(mode="naive", threshold=0.0),
                     "corrected t=0": dict(mode="corrected", threshold=0.0),
                     "corrected f=1": dict(mode="corrected", fraction=1.0),
                     "dense mode": dict(mode="dense")}.items():
        model = mlp([12, 8, 3], seed=1, dtype=np.float64)
        run = compress.train_compressed(model, x, y, global_batch=24, lr=0.1, momentum=0.9, epochs=2,
                                        comm=comm, **kw)
        out[name] = (run["loss"], weights(model))
    if rank == 0:
        dist.report(out)
elif what == "conserve":
    mode, rule = sys.argv[2], sys.argv[3]
    n, T, m = 300, 25, 0.9
    kw = {"fraction": 0.02} if rule == "topk" else {"threshold": 0.5}
    sm = compress.SparseMomentum(n, m, mode, **kw)
    rng = np.random.default_rng(100 + rank)
    grads_sum, vel, vel_sum, sent_sum, total = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for _ in range(T):
        g = rng.standard_normal(n) * rng.exponential(1, n) / P
        grads_sum += g
        vel = m * vel + g
        vel_sum += vel
        idx, vals = sm.compress(g)
        sent_sum[idx] += vals
        total += compress.sparse_allreduce(idx, vals, n, comm)
    every = comm.gather((grads_sum, vel_sum, sent_sum, sm.v.copy()), root=0)
    if rank == 0:
        dist.report({"ranks": every, "total": total})
elif what == "allreduce":
    n = 1000
    rng = np.random.default_rng(7 + rank)
    out = []
    for k in (0, 1, 37, 1000):  # nothing, one, some, everything
        idx = np.sort(rng.choice(n, size=k if rank else min(k + 5, n), replace=False))
        vals = rng.standard_normal(idx.size) * 10.0 ** rng.integers(-3, 4, idx.size)
        dense = np.zeros(n)
        dense[idx] = vals
        ref = dense.copy()
        comm.Allreduce(MPI.IN_PLACE, ref, op=MPI.SUM)
        out.append((compress.sparse_allreduce(idx, vals, n, comm), ref, np.abs(comm.allreduce(np.abs(dense)))))
    if rank == 0:
        dist.report(out)
elif what == "bad":
    outdir, case = Path(sys.argv[2]), sys.argv[3]
    try:
        model = mlp([12, 8 if (case != "model" or rank != 1) else 9, 3], seed=1, dtype=np.float64)
        if case == "fraction":
            compress.CompressedSGD(model.parameters(), 0.1, 0.9, fraction=1.5, comm=comm)
        elif case == "fraction0":
            compress.CompressedSGD(model.parameters(), 0.1, 0.9, fraction=0.0 if rank == 1 else 0.01, comm=comm)
        elif case == "model":
            compress.CompressedSGD(model.parameters(), 0.1, 0.9, fraction=0.01, comm=comm)
        elif case == "size":
            n = 10 if rank != 1 else 11
            compress.sparse_allreduce(np.array([1, 2]), np.array([1.0, 2.0]), n, comm)
        elif case == "index":
            compress.sparse_allreduce(np.array([1, 20 if rank == 2 else 2]), np.array([1.0, 2.0]), 10, comm)
        message = "no error"
    except ValueError as exc:
        message = str(exc)
    (outdir / f"rank{rank}.txt").write_text(message)
