"""Training on server ranks and worker ranks: the threaded worker's loop, over MPI.

Every rank calls `train(comm, task, policy, n_servers, ...)`. Server ranks serve until
every worker is done; worker ranks run

    local[where] = ps.pull(keys); g = task.gradient(local, w, c, K); sleep out compute(w, c)
    ps.push(keys, g[where]); ps.clock()

and rank 0 gets back an `MPIRun`: the final parameters gathered from the servers, every
push with its staleness, every pull the servers let through with the clocks they saw,
the loss curve measured by worker 0, and which workers were removed and why.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from minidl.ps.clocks import ServerClosed, StragglerTimeout
from minidl.ps.consistency import Consistency
from minidl.ps.keys import Keys
from minidl.ps.mpi.transport import Client, ServerRank, shard_bounds


@dataclass
class MPIRun:
    """What rank 0 gets back from `train`.

    Attributes:
        params: the servers' parameters at the end, (layout.size,) float64.
        pushes: (n, 4) rows time, worker, clock, staleness, sorted by time (s from the start).
        reads: (server, worker, clock, {worker: clock}) of every pull a server let through.
        curve: (time, clock, loss) of worker 0's pulled parameters every eval_every clocks.
        removed: (server, worker, its clock, why) for every remove_worker the servers made.
        errors: {worker: message} of the workers whose pull or push failed (they stopped).
        seconds: wall time of the run; ranks: (n_servers, n_workers).
        saves: (clock, seconds) of every checkpoint a server rank wrote; start: the first clock.
    """
    params: np.ndarray
    pushes: np.ndarray
    reads: list = field(repr=False)
    curve: list
    removed: list
    errors: dict
    seconds: float
    ranks: tuple
    saves: list = field(default_factory=list)
    start: int = 0

    def updates_to(self, target: float) -> float:
        """Pushes applied when worker 0 first read a loss <= target (inf if never)."""
        t = self.time_to(target)
        return int((self.pushes[:, 0] <= t).sum()) if np.isfinite(t) else float("inf")

    def time_to(self, target: float) -> float:
        """Seconds until worker 0 first read parameters with loss <= target (inf if never)."""
        return next((t for t, _, loss in self.curve if loss <= target), float("inf"))


def train(comm, task, policy: Consistency, n_servers: int = 1, *, rule=None, iterations: int = 20,
          compute: Callable[[int, int], float] | None = None, keys: Keys = None, eval_every: int = 0,
          timeout: float = 30.0, on_timeout: str = "stop", crash: dict[int, int] | None = None,
          checkpoint: str | None = None, every: int = 0, resume: bool = False,
          kill_server: dict[int, int] | None = None):
    """Trains `task` with ranks 0 .. n_servers - 1 serving and the others working.

    Args:
        comm: an mpi4py communicator with more than n_servers ranks.
        task: layout, init(), gradient(params, worker, clock, n_workers), loss(params).
        policy, rule: as for ParameterServer; iterations: clocks per worker.
        compute: seconds iteration c of worker w lasts at least (an injected delay; None: none).
        keys: the key range each worker pulls and pushes (None: all).
        eval_every: worker 0 measures the loss of what it pulled every this many clocks (0: never).
        timeout, on_timeout: see ServerRank ("stop" or "remove" a lagging or silent worker).
        crash: {worker: clock}: that worker stops talking at that clock, as if its process died.
        checkpoint, every: under BSP, server rank r saves to f"{checkpoint}.server{r}.npz" every
            `every` clocks; resume: load those files and continue from their clock.
        kill_server: {server rank: clock}: that rank dies (SIGKILL) when the slowest worker
            reaches the clock; the job fails, and a relaunch with resume=True continues it.

    Returns:
        An MPIRun on rank 0; None on the other ranks.
    """
    size, rank = comm.Get_size(), comm.Get_rank()
    if not 1 <= n_servers < size:
        raise ValueError(f"train: n_servers = {n_servers} with {size} ranks; use 1 .. {size - 1} "
                         "server ranks so that at least one rank works")
    n_workers = size - n_servers
    comm.Barrier()
    t0 = comm.bcast(time.time(), root=0)
    mine: dict = {"pushes": [], "curve": [], "error": None}
    start = 0
    if rank < n_servers:
        path = None if checkpoint is None else f"{checkpoint}.server{rank}.npz"
        server = ServerRank(comm, task.layout, task.init(), n_servers, rule=rule, policy=policy,
                            timeout=timeout, on_timeout=on_timeout, checkpoint=path, every=every,
                            die_at=(kill_server or {}).get(rank))
        start = server.resume() if resume else 0
    start = comm.bcast(start, root=0)
    if rank < n_servers:
        server.serve()
        mine.update(reads=[(rank, *r) for r in server.reads], removed=[(rank, *r) for r in server.removed],
                    saves=server.saves)
        shard = np.ascontiguousarray(server.shard.params)
    else:
        w, ps = rank - n_servers, Client(comm, task.layout, n_servers, timeout)
        ps.c = start
        mine["error"] = _work(ps, task, w, n_workers, range(start, iterations), compute, keys, eval_every,
                              (crash or {}).get(w), t0, mine)
    seconds = time.time() - t0
    params = None
    if rank == 0:
        params = np.empty(task.layout.size)
        bounds = task.layout.offsets[shard_bounds(task.layout, n_servers)]
        params[bounds[0]:bounds[1]] = shard
        for s in range(1, n_servers):
            comm.Recv(params[bounds[s]:bounds[s + 1]], s, 99)
    elif rank < n_servers:
        comm.Send(shard, 0, 99)
    everyone = comm.gather(mine, root=0)
    if rank != 0:
        return None
    pushes = [p for m in everyone for p in m["pushes"]]
    curve = everyone[n_servers]["curve"]
    if eval_every:  # and the loss where the run ended
        curve.append((seconds, iterations, task.loss(params)))
    return MPIRun(params, np.array(sorted(pushes), dtype=float).reshape(-1, 4),
                  [r for m in everyone[:n_servers] for r in m["reads"]], curve,
                  [r for m in everyone[:n_servers] for r in m["removed"]],
                  {i - n_servers: m["error"] for i, m in enumerate(everyone) if m["error"]},
                  seconds, (n_servers, n_workers), [r for m in everyone[:n_servers] for r in m["saves"]], start)


def _work(ps, task, w, n_workers, iterations, compute, keys, eval_every, crash_at, t0, mine):
    """The worker's loop; returns None, or the message of the error that stopped it."""
    local = task.init()
    where = task.layout.flat(task.layout.resolve(keys, "pull"))
    try:
        for c in iterations:
            if crash_at == c:
                return None  # silent from here on: the servers must notice by themselves
            local[where] = ps.pull(keys)
            start = time.time()
            if w == 0 and eval_every and c % eval_every == 0:
                mine["curve"].append((start - t0, c, task.loss(local)))
            g = task.gradient(local, w, c, n_workers)[where]
            if compute is not None:
                time.sleep(max(0.0, start + compute(w, c) - time.time()))
            staleness = ps.push(keys, g)
            ps.clock()
            mine["pushes"].append((time.time() - t0, w, c, staleness))
    except (StragglerTimeout, ServerClosed, TimeoutError) as e:
        ps.done()
        return f"{type(e).__name__}: {e}"
    ps.done()
    return None
