"""Gossip and local SGD on real ranks, for tests/test_gossip.py.

    gossip_job.py mix TOPOLOGY STEPS       spreads, means and final rows, gathered on rank 0
    gossip_job.py local_sgd_vs_dp MOMENTUM  weights of local SGD with H = 1 and of train_data_parallel
    gossip_job.py train                     losses of gossip (ring, pairs) and local SGD (H = 4)
    gossip_job.py bad OUTDIR CASE           each rank writes the error it got to OUTDIR/rankR.txt
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.distributed import gossip
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


if what == "mix":
    topology, steps = sys.argv[2], int(sys.argv[3])
    X0 = np.random.default_rng(5).standard_normal((P, 50))
    g = gossip.Gossip((50,), comm=comm, topology=topology, seed=11)
    x, rows = X0[rank].copy(), [comm.gather(X0[rank], root=0)]
    for _ in range(steps):
        x = g.mix(x)
        rows.append(comm.gather(x, root=0))
    if rank == 0:
        dist.report({"X": [np.array(r) for r in rows], "X0": X0})
elif what == "local_sgd_vs_dp":
    momentum = float(sys.argv[2])
    x, y = data()
    out = {}
    for name in ("dp", "local"):
        model = mlp([12, 8, 3], seed=1, dtype=np.float64)
        opt = SGD(model.parameters(), lr=0.1, momentum=momentum)
        if name == "dp":
            losses = dist.train_data_parallel(model, opt, x, y, global_batch=24, epochs=2, comm=comm)
        else:
            losses, _ = gossip.train_local_sgd(model, opt, x, y, global_batch=24, H=1, epochs=2, comm=comm)
        out[name] = (losses, comm.gather([p.data.copy() for p in model.parameters()], root=0))
    if rank == 0:
        dist.report(out)
elif what == "train":
    x, y = data(n=480)
    out = {}
    for name in ("ring", "pairs", "H=4"):
        model = mlp([12, 8, 3], seed=1, dtype=np.float64)
        opt = SGD(model.parameters(), lr=0.1)
        kw = dict(global_batch=24, epochs=3, comm=comm, eval_data=(x, y), eval_every=20)
        if name == "H=4":
            losses, evals = gossip.train_local_sgd(model, opt, x, y, H=4, **kw)
        else:
            losses, evals = gossip.train_gossip(model, opt, x, y, topology=name, **kw)
        out[name] = evals
    if rank == 0:
        dist.report(out)
elif what == "bad":
    outdir, case = Path(sys.argv[2]), sys.argv[3]
    try:
        if case == "shape":
            gossip.Gossip((10,) if rank != 1 else (11,), comm=comm)
        elif case == "params":
            x, y = data()
            model = mlp([12, 8 if rank != 1 else 9, 3], seed=1, dtype=np.float64)
            gossip.train_gossip(model, SGD(model.parameters(), lr=0.1), x, y, global_batch=24, comm=comm)
        elif case in ("H0", "Hmixed"):
            x, y = data()
            H = 0 if case == "H0" or rank == 1 else 2
            model = mlp([12, 8, 3], seed=1, dtype=np.float64)
            gossip.train_local_sgd(model, SGD(model.parameters(), lr=0.1), x, y, global_batch=24, H=H, comm=comm)
        message = "no error"
    except ValueError as exc:
        message = str(exc)
    (outdir / f"rank{rank}.txt").write_text(message)
