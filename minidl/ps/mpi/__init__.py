"""The parameter server across machines: server ranks and worker ranks over MPI.

- `transport`: `ServerRank` (a shard, the clock table, the loop that answers pushes, pulls and
  ticks), `Client` (a worker's `pull`, `push`, `clock`), `LocalClient` (the same three calls on
  the threaded server), `shard_bounds`.
- `train`: `train(comm, task, policy, n_servers, ...)`, the threaded worker's loop on ranks;
  rank 0 gets an `MPIRun`.
"""
from minidl.ps.mpi.train import MPIRun, train
from minidl.ps.mpi.transport import Client, LocalClient, ServerRank, shard_bounds, wait_all

__all__ = ["Client", "LocalClient", "MPIRun", "ServerRank", "shard_bounds", "train", "wait_all"]
