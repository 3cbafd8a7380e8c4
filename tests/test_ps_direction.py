"""minidl.ps.direction: the slides' direction-and-distance rule: the defining equation of t, plain
SGD when every worker agrees, the sender's tag carried through a push, a clear error without it,
and the rule against ConSGD and DynSGD in the simulator."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.ps import ASP, SGD, ConSGD, KeyLayout, ParameterServer, moons_task, simulate
from minidl.ps.direction import DirectionDistance, Push, tag_pushes, tagged


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(0, 10_000))
def test_t_times_the_weighted_directions_is_as_long_as_the_summed_gradients(m, n, seed):
    rng = np.random.default_rng(seed)
    g = [rng.standard_normal(n) * rng.uniform(0.1, 10) for _ in range(m)]
    a = rng.uniform(0.2, 2.0, m)
    t = DirectionDistance.distance(g, a)
    lhs = t * np.linalg.norm(sum(ai * gi / np.linalg.norm(gi) for ai, gi in zip(a, g)))
    assert lhs == pytest.approx(np.linalg.norm(sum(g)), rel=1e-10)


def test_when_every_worker_sends_the_same_gradient_the_step_is_plain_sgd():
    g = np.array([3.0, -4.0, 1.0])
    rule, w = DirectionDistance(0.5), np.zeros(3)
    state = rule.init_state(3)
    for worker in range(3):
        before = w.copy()
        rule.apply(w, tagged(g, worker), state, slice(None), 0)
        np.testing.assert_allclose(before - w, 0.5 * g, rtol=1e-14)


def test_a_worker_with_a_large_gradient_counts_by_direction_not_by_length():
    rule, w = DirectionDistance(1.0), np.zeros(2)
    state = rule.init_state(2)
    rule.apply(w, tagged(np.array([100.0, 0.0]), 0), state, slice(None), 0)  # t = 100: step 100
    w[:] = 0
    rule.apply(w, tagged(np.array([0.0, 1.0]), 1), state, slice(None), 0)
    # t |e1 + e2| = |(100, 1)|: worker 1's step has length about 100 / sqrt(2), not 1
    assert -w[1] == pytest.approx(np.hypot(100, 1) / np.sqrt(2), rel=1e-12) and w[0] == 0


def test_the_sender_travels_with_the_push_through_the_server_and_its_shards():
    server = ParameterServer(KeyLayout.uniform(4, 2), n_shards=2, n_workers=2, rule=DirectionDistance(1.0))
    server.push(1, None, tagged(np.ones(8), 1))
    assert all(list(s.state["latest"]) == [1] for s in server.shards)
    assert isinstance(tagged(np.ones(4), 3)[1:], Push) and tagged(np.ones(4), 3)[1:].worker == 3


def test_an_untagged_gradient_is_refused_with_the_fix():
    server = ParameterServer(KeyLayout.uniform(4, 2), rule=DirectionDistance(1.0))
    with pytest.raises(ValueError, match="tag_pushes"):
        server.push(0, None, np.ones(8))
    assert not server.snapshot().any()


def test_in_the_simulator_the_rule_trains_and_is_deterministic():
    task = tag_pushes(moons_task(n=256, hidden=(16,), batch=16, seed=0))
    runs = [simulate(task, ASP(), 4, rule=DirectionDistance(0.1), updates=200) for _ in range(2)]
    base = simulate(task, ASP(), 4, rule=SGD(ConSGD(0.1)), updates=200)
    assert np.array_equal(runs[0].losses, runs[1].losses)
    assert runs[0].final_loss < 0.7 * runs[0].losses[0]
    assert abs(runs[0].final_loss - base.final_loss) < 0.5 * base.losses[0]
