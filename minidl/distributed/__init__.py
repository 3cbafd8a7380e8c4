"""Data parallelism over MPI (mpi4py), and the collectives and costs behind it.

    launcher       start P ranks with the mpiexec next to this Python: `launch()`,
                   `python -m minidl.distributed.launch -n 4 script.py`
    data_parallel  `allreduce_gradients`, `broadcast_parameters`, `train_data_parallel`:
                   forward, backward, allreduce, step
    collectives    ring, recursive-doubling and naive allreduce from Sendrecv
    cost           the alpha-beta model, T_comm(batch) and T_comm(domain), fitting alpha and beta
    buckets        `GradientBuckets`: gradients written by backward straight into the
                   allreduce's buffer (no packing copy)
    overlap        one Iallreduce per bucket, started from a tensor hook during backward

Importing this package does not start MPI; the functions that need it import
mpi4py when called, so a notebook can plan a run here and launch it on P ranks.
"""
from minidl.distributed import gossip  # noqa: F401  (gossip SGD on a ring or random pairs, local SGD)
from minidl.distributed.buckets import GradientBuckets
from minidl.distributed.collectives import (
                                     chunk_bounds,
                                     naive_allreduce,
                                     pickle_allreduce,
                                     recursive_doubling_allreduce,
                                     ring_allreduce,
                                     ring_schedule,
                                     simulate_ring,
)
from minidl.distributed.cost import (
                                     AlphaBeta,
                                     fit_alpha_beta,
                                     measure_pingpong,
                                     naive_time,
                                     parameter_server_time,
                                     recursive_doubling_time,
                                     ring_time,
                                     strong_scaling,
                                     t_comm_batch,
                                     t_comm_domain,
)
from minidl.distributed.data_parallel import (
                                     allreduce_gradients,
                                     broadcast_parameters,
                                     check_same_parameters,
                                     local_batch,
                                     train_data_parallel,
)
from minidl.distributed.launcher import LaunchError, Run, find_mpiexec, launch, report
from minidl.distributed.overlap import OverlappedAllreduce, make_buckets, simulate_overlap

from . import compress  # noqa: F401  (sparsified gradients, momentum correction, sparse allreduce)
from . import model_parallel as model_parallel  # noqa: F401  (layer splits, pipelines, the data x model grid)

__all__ = ["launch", "report", "Run", "LaunchError", "find_mpiexec",
           "allreduce_gradients", "GradientBuckets", "broadcast_parameters", "check_same_parameters", "local_batch",
           "train_data_parallel", "ring_allreduce", "recursive_doubling_allreduce", "naive_allreduce",
           "pickle_allreduce", "chunk_bounds", "ring_schedule", "simulate_ring", "ring_time", "recursive_doubling_time",
           "naive_time", "parameter_server_time", "t_comm_batch", "t_comm_domain", "fit_alpha_beta",
           "AlphaBeta", "measure_pingpong", "strong_scaling", "OverlappedAllreduce", "make_buckets",
           "simulate_overlap"]
