"""The simulator: BSP is synchronous SGD, runs are deterministic, SSP keeps its bound."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.nn import cross_entropy
from minidl.optim import SGD as MinidlSGD
from minidl.ps import (
    ASP,
    BSP,
    SGD,
    SSP,
    CommTime,
    ComputeTime,
    DynSGD,
    KeyLayout,
    Scenario,
    WindowError,
    moons_task,
    pack,
    simulate,
    unpack,
)
from minidl.tensor import Tensor


class Quadratic:
    """A cheap task: loss 1/2 |w - target|^2, gradient w - target plus seeded noise."""
    layout = KeyLayout.uniform(4, 2)

    def init(self):
        return np.zeros(8)

    def gradient(self, params, worker, clock, n_workers):
        noise = np.random.default_rng([worker, clock]).standard_normal(8)
        return params - np.arange(8.0) + 0.1 * noise

    def loss(self, params):
        return 0.5 * float(np.sum((params - np.arange(8.0)) ** 2))


def test_bsp_in_the_simulator_equals_synchronous_minibatch_sgd():
    task = moons_task(n=96, hidden=(8,), batch=8)
    K, lr, clocks = 3, 0.2, 10
    speeds = ComputeTime(0.01, (1.0, 2.5, 1.3), jitter=0.5, seed=1)  # pushes arrive in varying order
    result = simulate(task, BSP(), K, speeds, rule=SGD(lr), n_shards=2, updates=K * clocks)

    model = task.model  # the same start, trained by minidl's optimizer on the union of the batches
    unpack(task.init(), model)
    opt = MinidlSGD(model.parameters(), lr=K * lr)  # K pushes of per-worker means = K x the mean
    for c in range(clocks):
        rows = np.concatenate([task.batch_indices(w, c, K) for w in range(K)])
        opt.zero_grad()
        cross_entropy(model(Tensor(task.x[rows])), task.y[rows]).backward()
        opt.step()
    assert result.clocks == [clocks] * K
    assert np.max(np.abs(result.server.snapshot() - pack(model))) < 1e-12
    assert np.all(result.staleness == 0)


def test_two_runs_give_identical_traces():
    def run():
        return simulate(Quadratic(), SSP(1), 4, ComputeTime(0.01, (1, 1, 3, 1), jitter=0.7, seed=5),
                        rule=SGD(DynSGD(0.1)), updates=200, comm=CommTime(0.001, 1e6), n_shards=2)
    a, b = run(), run()
    assert a.timeline.spans == b.timeline.spans
    assert np.array_equal(a.pushes, b.pushes) and np.array_equal(a.losses, b.losses)
    assert np.array_equal(a.times, b.times) and a.reads == b.reads
    assert np.array_equal(a.server.snapshot(), b.server.snapshot())


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5), st.integers(0, 3), st.lists(st.floats(0.3, 5.0), min_size=5, max_size=5),
       st.floats(0.0, 1.5), st.integers(0, 10**6))
def test_ssp_no_worker_reads_more_than_s_clocks_ahead_of_the_slowest(n, s, speeds, jitter, seed):
    result = simulate(Quadratic(), SSP(s), n, ComputeTime(0.01, speeds[:n], jitter=jitter, seed=seed),
                      rule=SGD(0.05), updates=25 * n)
    assert len(result.reads) >= len(result.pushes)
    for _, worker, clock, clocks in result.reads:
        assert clocks[worker] == clock
        assert clock - min(clocks.values()) <= s


@pytest.mark.parametrize("s", [0, 2, 3])
def test_fast_workers_do_run_exactly_s_clocks_ahead_of_a_slow_one(s):
    result = simulate(Quadratic(), SSP(s), 3, ComputeTime(0.01, (1, 1, 4)), updates=60)
    assert max(c - min(clocks.values()) for _, _, c, clocks in result.reads) == s


def test_ssp_zero_runs_exactly_as_bsp_and_unbounded_ssp_as_asp():
    speeds = ComputeTime(0.01, (1, 2, 1), jitter=0.8, seed=2)
    runs = {name: simulate(Quadratic(), p, 3, speeds, updates=90).pushes
            for name, p in [("bsp", BSP()), ("ssp0", SSP(0)), ("asp", ASP()), ("ssp_inf", SSP(10**9))]}
    assert np.array_equal(runs["bsp"], runs["ssp0"]) and np.array_equal(runs["asp"], runs["ssp_inf"])
    assert not np.array_equal(runs["bsp"], runs["asp"])


def test_asp_never_waits_and_its_staleness_grows_with_a_slow_worker():
    result = simulate(Quadratic(), ASP(), 4, ComputeTime(0.01, (1, 1, 1, 4)), updates=200)
    assert result.timeline.total("wait") == 0
    slow = result.staleness[result.pushes[:, 1] == 3]
    fast = result.staleness[result.pushes[:, 1] == 0]
    assert slow.mean() > 2 * fast.mean()


def test_a_departing_worker_is_removed_and_bsp_carries_on():
    result = simulate(Quadratic(), BSP(), 3, ComputeTime(0.01), updates=40, leave={2: 4})
    assert result.clocks[2] == 4 and result.clocks[0] == result.clocks[1] == (40 - 12) // 2 + 4
    assert 2 not in result.server.clocks.active


def test_the_sliding_window_stops_asp_from_running_too_far_ahead():
    with pytest.raises(WindowError, match="worker 0 at clock 3 is outside the sliding window"):
        simulate(Quadratic(), ASP(), 2, ComputeTime(0.01, (1, 5)), window=3, updates=100)


def test_range_push_and_pull_send_only_the_chosen_keys_and_time_them_with_the_comm_model():
    halves = lambda w, c: range(0, 2) if (w + c) % 2 == 0 else range(2, 4)  # noqa: E731
    comm = CommTime(latency=0.001, bandwidth=32_000.0)  # 32 bytes (4 floats) take 1 ms
    result = simulate(Quadratic(), ASP(), 2, ComputeTime(0.01), keys=halves, comm=comm, updates=20)
    assert result.server.stats()["bytes_in"].sum() == 20 * 4 * 8
    pulls = [s for s in result.timeline.spans if s.kind == "pull"]
    assert all(math.isclose(s.duration, 0.002) for s in pulls)


def test_time_to_and_updates_to_read_the_loss_curve():
    result = simulate(Quadratic(), BSP(), 2, ComputeTime(0.01), updates=40, eval_every=2)
    first = int(np.argmax(result.losses <= 1.0))
    assert result.time_to(1.0) == result.times[first] and result.updates_to(1.0) == result.updates[first]
    assert result.time_to(-1.0) == math.inf and result.updates_to(-1.0) == math.inf
    assert result.updates[1] == 2 and result.times[1] == pytest.approx(0.01)


def test_in_the_slow_worker_scenario_ssp3_beats_bsp_and_asp_needs_more_updates():
    scenario = Scenario(seed=0)  # the benchmark reports the median over seeds: about 1.6x
    runs = {name: scenario.run(p) for name, p in [("bsp", BSP()), ("ssp", SSP(3)), ("asp", ASP())]}
    target = scenario.target
    assert runs["bsp"].time_to(target) / runs["ssp"].time_to(target) >= 1.4
    assert runs["asp"].updates_to(target) > runs["ssp"].updates_to(target) >= runs["bsp"].updates_to(target)
    assert runs["asp"].time_to(target) < runs["ssp"].time_to(target)  # fewer waits, more updates
