"""Push and pull bandwidth per worker: server ranks over MPI against raw Send/Recv and threads.

    python -m minidl.bench.ps_mpi [--servers 1 2] [--workers 4] [--rounds 10] [--floats N]

Each worker pushes and pulls every key of a float64 vector the size of the seeds' MNIST MLP
(932,362 floats, 7.46 MB) `rounds` times under ASP:

- "PS over MPI": `minidl.ps.mpi` with S server ranks and K worker ranks (`Client.push`, `pull`);
- "raw MPI": the same bytes on the same ranks, each worker sending its slice to every server
  rank with `Send` and receiving it back with `Recv`, no headers, no rule, no bookkeeping;
- "threads": K threads on one `ParameterServer` with S shards in this process.

Bandwidth per worker = bytes pushed and pulled by one worker / its seconds (median over
workers). The last line gives the ratios PS over MPI / raw MPI and PS over MPI / threads. These
are measurements of one machine: the ranks share its cores (they outnumber them on a laptop),
so the ratios, not the absolute numbers, are what carries over.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from minidl.reference import MNIST_MLP_PARAMETERS


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--floats", type=int, default=MNIST_MLP_PARAMETERS)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)  # S, inside the job
    return p.parse_args(argv)


def _layout(floats: int):
    from minidl.ps import KeyLayout
    width = 1000  # keys of 1,000 floats (the last one shorter)
    return KeyLayout([width] * (floats // width) + ([floats % width] if floats % width else []))


def job(args) -> None:
    """Inside mpiexec: raw Send/Recv, then the parameter server; rank 0 reports seconds per worker."""
    from mpi4py import MPI

    from minidl.distributed import report
    from minidl.ps import ASP, SGD
    from minidl.ps.mpi import Client, ServerRank, shard_bounds

    comm, S = MPI.COMM_WORLD, args.worker
    rank, K = comm.Get_rank(), comm.Get_size() - S
    layout = _layout(args.floats)
    cuts = layout.offsets[shard_bounds(layout, S)]
    g = np.full(layout.size, 1e-3)
    comm.Barrier()
    seconds = {}
    if rank < S:  # raw: receive every worker's slice and send it back, round after round
        piece = np.empty(int(cuts[rank + 1] - cuts[rank]))
        for _ in range(args.rounds):
            for w in range(K):
                comm.Recv(piece, S + w)
                comm.Send(piece, S + w)
    else:
        t = time.perf_counter()
        for _ in range(args.rounds):
            for s in range(S):
                comm.Send(g[cuts[s]:cuts[s + 1]], s)
                comm.Recv(g[cuts[s]:cuts[s + 1]], s)
        seconds["raw"] = time.perf_counter() - t
    comm.Barrier()
    if rank < S:
        ServerRank(comm, layout, np.zeros(layout.size), S, rule=SGD(1e-9), policy=ASP(), timeout=120).serve()
    else:
        ps, out = Client(comm, layout, S, timeout=120), np.empty(layout.size)
        t = time.perf_counter()
        for _ in range(args.rounds):
            ps.push(None, g)
            ps.pull(None, out=out)
            ps.clock()
        seconds["ps"] = time.perf_counter() - t
        ps.done()
    everyone = comm.gather(seconds, root=0)
    if rank == 0:
        report([s for s in everyone if s])


def threads(S: int, K: int, rounds: int, floats: int) -> float:
    """Median seconds per worker for `rounds` push + pull of everything on a threaded server."""
    from minidl.ps import ASP, SGD, ParameterServer
    from minidl.ps.worker import timed_threads
    layout = _layout(floats)
    server = ParameterServer(layout, n_shards=S, n_workers=K, policy=ASP(), rule=SGD(1e-9))
    g, outs = np.full(layout.size, 1e-3), [np.empty(layout.size) for _ in range(K)]

    def op(w):
        server.push(w, None, g)
        server.pull(w, None, out=outs[w])

    return timed_threads(K, op, rounds)  # every thread runs the whole time: seconds per worker


def main(argv=None) -> int:
    args = _args(argv)
    if args.worker:
        job(args)
        return 0
    from minidl.distributed import launch
    mb = 2 * 8 * args.floats * args.rounds / 1e6  # pushed and pulled by one worker
    print(f"push + pull of {8 * args.floats / 1e6:.2f} MB x {args.rounds} rounds per worker, {args.workers} workers, "
          "bandwidth per worker (MB/s, median over workers)")
    print(f"{'servers':>7} {'PS over MPI':>12} {'raw MPI':>9} {'threads':>9} {'PS/raw':>7} {'PS/threads':>11}")
    ratios = []
    for S in args.servers:
        fwd = ["--worker", str(S), "--rounds", str(args.rounds), "--floats", str(args.floats)]
        code = f"from minidl.bench.ps_mpi import main\nmain({fwd!r})\n"
        res = launch(code=code, n=S + args.workers, timeout=args.timeout).result
        ps = mb / float(np.median([r["ps"] for r in res]))
        raw = mb / float(np.median([r["raw"] for r in res]))
        thr = mb / threads(S, args.workers, args.rounds, args.floats)
        ratios.append((S, ps / raw, ps / thr))
        print(f"{S:>7} {ps:>12.0f} {raw:>9.0f} {thr:>9.0f} {ps / raw:>7.2f} {ps / thr:>11.2f}")
    print("ratios: " + "; ".join(f"{S} server rank{'s' * (S > 1)}: PS over MPI = {a:.2f}x raw MPI, "
                                 f"{b:.2f}x threads" for S, a, b in ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
