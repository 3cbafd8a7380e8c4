"""Model parallelism on real ranks, for tests/test_model_parallel.py.

    model_parallel_job.py train            every split trains the same model; rank 0 reports
                                           {name: (losses, full weights, bytes sent per step,
                                           pipeline peaks)}
    model_parallel_job.py bad OUTDIR CASE  each rank writes the error it got to OUTDIR/rankR.txt
"""
import sys
from pathlib import Path

import numpy as np
from mpi4py import MPI

import minidl.distributed as dist
from minidl.distributed import model_parallel as mp
from minidl.nn import mlp

comm = MPI.COMM_WORLD
P, rank = comm.Get_size(), comm.Get_rank()
what = sys.argv[1]
SIZES = [12, 24, 24, 24, 12]
SETTINGS = dict(global_batch=24, lr=0.1, momentum=0.9, epochs=2, seed=5)


def data(n=96, d=12, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = np.argmax(x @ rng.standard_normal((d, 12)), axis=1)
    return x, y


def model(sizes=SIZES):
    return mlp(sizes, seed=1, dtype=np.float64)


if what == "train":
    x, y = data()
    out = {}
    for split in mp.SPLITS:
        par = mp.TensorParallel(model(), comm, split)
        losses = mp.train(par, x, y, **SETTINGS)
        out[split] = (losses, par.full_weights(), par.traffic.total / len(losses), None)
    for schedule in mp.SCHEDULES:
        par = mp.Pipeline(model(), comm, micro_batches=4, schedule=schedule, timeout=60)
        losses = mp.train(par, x, y, **SETTINGS)
        peaks = comm.gather((par.peak_held, par.peak_bytes, par.traffic.total / len(losses)), root=0)
        out[schedule] = (losses, par.full_weights(), max(p[2] for p in peaks) if rank == 0 else None, peaks)
    if P % 2 == 0:
        data_comm, model_comm = mp.grid_comms(comm, data=2)
        for name, make in (("grid pair", lambda: mp.TensorParallel(model(), model_comm, "pair")),
                           ("grid 1f1b", lambda: mp.Pipeline(model(), model_comm, 2, "1f1b"))):
            par = make()
            traffic = mp.Traffic()
            losses = mp.train(par, x, y, data_comm=data_comm, data_traffic=traffic, **SETTINGS)
            sent = comm.gather((par.traffic.total + traffic.total) / len(losses), root=0)
            out[name] = (losses, par.full_weights(), max(sent) if rank == 0 else None, None)
    if rank == 0:
        dist.report(out)
elif what == "bad":
    outdir, case = Path(sys.argv[2]), sys.argv[3]
    x, y = data()
    try:
        if case == "width":
            mp.TensorParallel(model([12, 18, 12]), comm, "column")
        elif case == "row":
            mp.TensorParallel(model([10, 24, 12]), comm, "row")
        elif case == "stages":
            mp.Pipeline(model([12, 24, 24, 12]), comm, micro_batches=2)
        elif case == "micro":
            mp.train(mp.Pipeline(model(), comm, micro_batches=5), x, y, **SETTINGS)
        elif case == "disagree":
            mp.Pipeline(model(), comm, micro_batches=2 + (rank == 1))
        elif case == "grid":
            mp.grid_comms(comm, data=3)
        message = "no error"
    except (ValueError, TimeoutError) as e:
        message = str(e)
    (outdir / f"rank{rank}.txt").write_text(message)
