"""minidl: a course from the chain rule to distributed training.

The layers, each importing only the ones before it:
`engine` (scalar autograd), `gradcheck` (central differences), `tensor` (the same
engine over numpy arrays), `nn` and `optim` (networks, losses, optimizers,
schedules), `data` (toy sets, MNIST and its bundled subset, batches, shards),
`metrics`, `viz` (pictures), `timeline` (who computed, communicated or waited, when),
`distributed` (data parallelism over MPI), `ps` (a parameter server with BSP, SSP and ASP),
`exercises` (checks) and `bench` (benchmarks).
"""
from minidl.engine import Value

__version__ = "0.1.0"
__all__ = ["Value", "__version__"]
