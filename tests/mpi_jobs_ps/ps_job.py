"""Server ranks and worker ranks for tests/test_ps_mpi.py; rank 0 reports what it saw.

    ps_job.py sum N              every worker pushes -(w + 1) to every key N times (ASP, SGD(1))
    ps_job.py train POLICY K [nodelay]  moons 2-16-2 under BSP / SSP2 / ASP for K clocks, worker 3 slowed
    ps_job.py bad                a wrong key, a wrong length, a NaN and a raw bad header
    ps_job.py crash MODE         under BSP worker 3 stops talking at clock 2; MODE stop or remove
    ps_job.py restart PATH K RUN  BSP for 10 clocks, checkpoints every K; RUN kill: server rank 1 dies
                                 at clock 7; RUN resume: continue from the checkpoint
"""
import sys

import numpy as np
from mpi4py import MPI

from minidl.distributed import report
from minidl.ps import ASP, BSP, SGD, SSP, ComputeTime, KeyLayout, moons_task
from minidl.ps.mpi import Client, ServerRank, train
from minidl.ps.mpi.transport import PUSH, PUSH_DATA, REPLY

comm = MPI.COMM_WORLD
rank, what = comm.Get_rank(), sys.argv[1]
N_SERVERS = 2
LAYOUT = KeyLayout.uniform(8, 3)  # 24 floats; keys 0-3 on server 0, 4-7 on server 1


def serve_or(work, rule=None):
    """Ranks < N_SERVERS serve; the others run work(client); rank 0 reports the servers' params."""
    if rank < N_SERVERS:
        server = ServerRank(comm, LAYOUT, np.zeros(LAYOUT.size), N_SERVERS, policy=ASP(),
                            rule=rule or SGD(1.0), timeout=30).serve()
        shards = comm.gather(server.shard.params.copy(), root=0)
    else:
        out = work(Client(comm, LAYOUT, N_SERVERS, timeout=30))
        comm.gather(None, root=0)
    results = comm.gather(out if rank >= N_SERVERS else None, root=0)
    if rank == 0:
        report({"params": np.concatenate([s for s in shards if s is not None]), "workers": results})


if what == "sum":
    n = int(sys.argv[2])

    def pushes(ps):
        g = np.full(LAYOUT.size, -(ps.worker + 1.0))
        for _ in range(n):
            ps.push(None, g)
            ps.clock()
        ps.done()
    serve_or(pushes)

elif what == "train":
    policy = {"BSP": BSP(), "SSP2": SSP(2), "ASP": ASP()}[sys.argv[2]]
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    run = train(comm, task, policy, N_SERVERS, rule=SGD(0.1), iterations=int(sys.argv[3]),
                compute=None if sys.argv[4:] == ["nodelay"] else ComputeTime(0.002, (1, 1, 1, 3), jitter=0.5, seed=1),
                timeout=60)
    if rank == 0:
        report({"params": run.params, "pushes": run.pushes, "reads": run.reads, "errors": run.errors})

elif what == "bad":
    def bad(ps):
        errors = []
        for keys, values in ((range(6, 9), np.ones(9)), (range(2, 6), np.ones(11)),
                             (None, np.r_[np.ones(23), np.nan]), ([1, 5], np.ones(6))):
            try:
                ps.push(keys, values)
            except (KeyError, ValueError) as e:
                errors.append(f"{type(e).__name__}: {e}")
        if ps.worker == 0:  # a header that skips the client's checks: server 1 must refuse it
            comm.Send(np.array([0, 0, 6, 18], dtype=np.int64), 1, PUSH)
            comm.Send(np.ones(18), 1, PUSH_DATA)
            head = np.empty(4, dtype=np.int64)
            comm.Recv(head, 1, REPLY)
            errors.append(int(head[0]))
        ps.push(None, np.zeros(LAYOUT.size))  # a good push still works (and changes nothing)
        ps.clock()
        out = ps.pull()
        ps.done()
        return errors, out
    serve_or(bad)

elif what == "crash":
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    run = train(comm, task, BSP(), N_SERVERS, rule=SGD(0.1), iterations=6, timeout=2.0,
                on_timeout=sys.argv[2], crash={3: 2})
    if rank == 0:
        report({"removed": run.removed, "errors": run.errors, "pushes": run.pushes})

elif what == "restart":
    path, k, mode = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    run = train(comm, task, BSP(), N_SERVERS, rule=SGD(0.1), iterations=10, timeout=30, checkpoint=path,
                every=k, resume=mode == "resume", kill_server={1: 7} if mode == "kill" else None)
    if rank == 0:
        report({"params": run.params, "start": run.start, "saves": run.saves, "pushes": run.pushes})
