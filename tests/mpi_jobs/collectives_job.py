"""Every hand-written allreduce against MPI's Allreduce, on every rank."""
import numpy as np
from mpi4py import MPI

import minidl.distributed as dist

comm = MPI.COMM_WORLD
failures = []
for dtype in (np.float64, np.float32, np.int64):
    for shape in [(0,), (1,), (2,), (3,), (5,), (7,), (1001,), (3, 5), (4, 3, 2)]:
        rng = np.random.default_rng(100 * comm.rank + sum(shape))
        a = (rng.standard_normal(shape) * 10).astype(dtype)
        expected = np.empty_like(a)
        comm.Allreduce(a, expected, op=MPI.SUM)
        for name, fn in [("ring", dist.ring_allreduce), ("recursive_doubling", dist.recursive_doubling_allreduce),
                         ("naive", dist.naive_allreduce), ("pickle", dist.pickle_allreduce)]:
            before = a.copy()
            out = fn(a, comm)
            tol = 1e-12 if dtype == np.float64 else 1e-5
            if out.shape != a.shape or out.dtype != a.dtype:
                failures.append(f"{name} {dtype.__name__} {shape}: got {out.shape} {out.dtype}")
            elif not np.allclose(out, expected, rtol=tol, atol=tol):
                failures.append(f"{name} {dtype.__name__} {shape}: max diff {np.abs(out - expected).max()}")
            if not np.array_equal(a, before):
                failures.append(f"{name} {dtype.__name__} {shape}: modified its input")
            every = comm.allgather(out)
            if not all(np.array_equal(e, every[0]) for e in every):
                failures.append(f"{name} {dtype.__name__} {shape}: ranks hold different results")
every = comm.gather(failures)
if comm.rank == 0:
    dist.report(sum(every, []))
