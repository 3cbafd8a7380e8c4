"""Model parallelism over MPI: split each layer, or the stack of layers, or both with data.

    tensor_split  `ColumnParallelLinear`, `RowParallelLinear`, `TensorParallel` (intra-layer: the
                  collectives are autograd ops, so `loss.backward()` communicates)
    pipeline      `Pipeline` of stages, one per rank, micro-batches, GPipe and 1F1B schedules,
                  `simulate_pipeline` and the bubble (S - 1) / (m + S - 1)
    grid          `grid_comms` (a data x model grid by comm.Split), `train` (one loop for every
                  split, with the data-group allreduce), `Replica` (one process, the reference)
    plan          weights per rank, bytes and alpha-beta time per step, from the layer sizes

Every split trains to the same weights as one process on the same batches, to rounding.
"""
from minidl.distributed.model_parallel.grid import Replica, grid_comms, train
from minidl.distributed.model_parallel.pipeline import (
    SCHEDULES,
    Pipeline,
    bubble_fraction,
    peak_in_flight,
    schedule_ops,
    simulate_pipeline,
    stage_bounds,
)
from minidl.distributed.model_parallel.plan import (
    comm_ops,
    crossover_batch,
    grid_ops,
    memory_per_rank,
    ops_bytes,
    ops_time,
    step_bytes,
    step_time,
    weights_per_rank,
)
from minidl.distributed.model_parallel.tensor_split import (
    SPLITS,
    ColumnParallelLinear,
    RowParallelLinear,
    TensorParallel,
    Traffic,
    copy_to_ranks,
    gather_from_ranks,
    reduce_from_ranks,
    scatter_to_ranks,
)

__all__ = ["ColumnParallelLinear", "RowParallelLinear", "TensorParallel", "Traffic", "SPLITS", "copy_to_ranks",
           "reduce_from_ranks", "gather_from_ranks", "scatter_to_ranks", "Pipeline", "SCHEDULES",
           "schedule_ops", "peak_in_flight", "simulate_pipeline", "bubble_fraction", "stage_bounds",
           "grid_comms", "train", "Replica", "weights_per_rank", "memory_per_rank", "comm_ops", "grid_ops",
           "ops_bytes", "ops_time", "step_bytes", "step_time", "crossover_batch"]
