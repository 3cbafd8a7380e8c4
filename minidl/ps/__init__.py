"""A parameter server for teaching: keys, shards, push and pull, BSP/SSP/ASP, a simulator.

The modules, in the order a lesson meets them:

- `keys`: `KeyLayout`, the seed's (key, value) vectors: key = neuron id, value = its
  weights; `pack`/`unpack` a minidl model to and from the flat float64 vector.
- `consistency`: the policy, pure: `BSP()`, `SSP(s)`, `ASP()` answer "may a worker at
  clock c read while the slowest is at clock m?".
- `window`: `SlidingWindow`, the seed's window of valid iterations (O(1) check, O(l) memory).
- `clocks`: `ClockTable`, the mechanism: waits with timeouts that name the lagging worker
  (`StragglerTimeout`), `close()` (`ServerClosed`), `remove_worker`.
- `rules`: server-side update rules `SGD`, `Adagrad`, and learning-rate schemes `ConSGD`
  (constant) and `DynSGD` (divided by staleness + 1); staleness is defined there.
- `server`: `ParameterServer`, shards with their own locks, push/pull of keys or key
  ranges, byte counters, `save`/`load` checkpoints (`checkpoint`).
- `timing`: `ComputeTime` (stragglers, heterogeneity, jitter) and `CommTime` (alpha-beta).
- `tasks`: `ModelTask`, `SoftmaxTask`, `mnist_task`, `moons_task`: gradients on flat vectors.
- `worker`: `run_threads`, workers as real threads on the wall clock.
- `sim`: `simulate`, the same server and policy under a deterministic virtual clock.
- `results`: `RunResult`, the loss curve, timeline, pushes (with staleness) and reads.
- `scenario`: `Scenario`, the slow-worker setting of the benchmark and the lessons.
"""
from minidl.ps.clocks import ClockTable, ServerClosed, StragglerTimeout
from minidl.ps.consistency import ASP, BSP, SSP, Consistency
from minidl.ps.keys import KeyLayout, KeyRange, pack, unpack
from minidl.ps.results import RunResult
from minidl.ps.rules import SGD, Adagrad, ConSGD, DynSGD
from minidl.ps.scenario import Scenario
from minidl.ps.server import ParameterServer, Shard
from minidl.ps.sim import simulate
from minidl.ps.tasks import ModelTask, SoftmaxTask, mnist_task, moons_task
from minidl.ps.timing import CommTime, ComputeTime
from minidl.ps.window import SlidingWindow, WindowError
from minidl.ps.worker import run_threads

__all__ = ["ASP", "BSP", "SSP", "Adagrad", "ClockTable", "CommTime", "ComputeTime", "ConSGD",
           "Consistency", "DynSGD", "KeyLayout", "KeyRange", "ModelTask", "ParameterServer",
           "RunResult", "SGD", "Scenario", "ServerClosed", "Shard", "SlidingWindow", "SoftmaxTask",
           "StragglerTimeout", "WindowError", "mnist_task", "moons_task", "pack", "run_threads",
           "simulate", "unpack"]
