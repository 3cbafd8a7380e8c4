"""Workers as real threads: they train, keep the SSP bound, record timelines, and fail loudly.

Nothing here compares a measured time with a threshold: on a loaded machine any thread can
be held up for milliseconds. Who waited is counted instead (the `blocked` fixture counts the
times a worker's pull blocked because the policy said "not yet"), and a claim about one
policy is set beside a policy that must block, in the same test.
"""
import collections
import threading

import numpy as np
import pytest

import minidl.ps.server as server_module
from minidl.ps import ASP, BSP, SGD, SSP, ComputeTime, KeyLayout, StragglerTimeout, run_threads
from minidl.ps.clocks import ClockTable


@pytest.fixture
def blocked(monkeypatch):
    """{thread name: times its pull blocked} over every server built during the test."""
    counts = collections.Counter()

    class CountingCondition(threading.Condition):
        def wait(self, timeout=None):  # ClockTable.wait_until calls it only when it must block
            counts[threading.current_thread().name] += 1
            return super().wait(timeout)

    class CountingClockTable(ClockTable):
        def __init__(self, n_workers):
            super().__init__(n_workers)
            self.cond = CountingCondition()

    monkeypatch.setattr(server_module, "ClockTable", CountingClockTable)
    return counts


class Quadratic:
    layout = KeyLayout.uniform(4, 2)

    def init(self):
        return np.zeros(8)

    def gradient(self, params, worker, clock, n_workers):
        return params - np.arange(8.0)

    def loss(self, params):
        return 0.5 * float(np.sum((params - np.arange(8.0)) ** 2))


class Failing(Quadratic):
    def gradient(self, params, worker, clock, n_workers):
        if worker == 1 and clock == 2:
            raise FloatingPointError("worker 1 diverged")
        return super().gradient(params, worker, clock, n_workers)


def test_threads_train_and_record_compute_wait_push_and_pull_spans(blocked):
    result = run_threads(Quadratic(), BSP(), 3, ComputeTime(0.002, (1, 1, 10)), rule=SGD(0.1), iterations=8)
    assert result.clocks == [8, 8, 8] and len(result.pushes) == 24
    assert result.losses[-1] < result.losses[0] / 2
    kinds = {s.kind for s in result.timeline.spans}
    assert {"compute", "push", "pull", "wait"} <= kinds  # worker 0 waits ~18 ms for worker 2 each step
    # the fast worker blocks at almost every step; the slowest only if another is held up 18 ms
    assert blocked["ps-worker-0"] > blocked["ps-worker-2"]


@pytest.mark.parametrize("s,speeds", [(1, (1, 1, 3)), (2, (3, 1, 1.5, 1)), (0, (1, 2))])
def test_under_real_threads_no_worker_reads_more_than_s_clocks_ahead(s, speeds):
    result = run_threads(Quadratic(), SSP(s), len(speeds), ComputeTime(0.001, speeds, jitter=0.5, seed=s),
                         iterations=12)
    gaps = [clock - min(clocks.values()) for _, _, clock, clocks in result.reads]
    assert len(gaps) == 12 * len(speeds) and max(gaps) <= s


def test_an_error_in_one_worker_is_raised_and_the_others_are_released():
    with pytest.raises(FloatingPointError, match="worker 1 diverged") as e:
        run_threads(Failing(), BSP(), 3, ComputeTime(0.001), iterations=10, timeout=5.0)
    assert "worker 1" in "".join(e.value.__notes__)


def test_a_worker_that_leaves_under_bsp_does_not_stop_the_others():
    result = run_threads(Quadratic(), BSP(), 3, ComputeTime(0.001), iterations=6, leave={1: 2})
    assert result.clocks == [6, 2, 6]


def test_a_stalled_worker_makes_the_others_time_out_naming_it():
    # worker 2 would take 10 s per step (the run's stop ends its sleep). The 2 s timeout is a
    # margin for workers 0 and 1: on a loaded machine one of them can be held up for 0.2 s
    # before its first tick, and the timeout would then name it instead
    stall = ComputeTime(0.001, (1, 1, 10_000))
    with pytest.raises(StragglerTimeout, match="worker 2 lags at clock 0"):
        run_threads(Quadratic(), BSP(), 3, stall, iterations=3, timeout=2.0)


def test_asp_threads_never_block_where_bsp_threads_do(blocked):
    speeds = ComputeTime(0.001, (1, 10))
    result = run_threads(Quadratic(), ASP(), 2, speeds, iterations=6)
    assert result.clocks == [6, 6] and sum(blocked.values()) == 0
    run_threads(Quadratic(), BSP(), 2, speeds, iterations=6)  # the same run under a blocking policy
    assert blocked["ps-worker-0"] >= 1 and blocked["ps-worker-1"] <= blocked["ps-worker-0"]
