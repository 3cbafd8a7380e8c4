"""The alpha-beta cost model: the parameter server's bound, the halo rows, the robust fit."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl import distributed as dist

sizes = st.floats(min_value=1.0, max_value=1e10)
ranks = st.integers(min_value=1, max_value=1024)
shards = st.integers(min_value=1, max_value=1024)
alphas = st.floats(min_value=0.0, max_value=1e-2)
betas = st.floats(min_value=1e-13, max_value=1e-6)


@settings(max_examples=300, deadline=None)
@given(n=sizes, P=ranks, S=shards, alpha=alphas, beta=betas)
def test_parameter_server_never_drops_below_a_workers_link_or_the_ring(n, P, S, alpha, beta):
    t = dist.parameter_server_time(n, P, alpha, beta, shards=S)
    # every worker sends its n bytes and receives n bytes through its own link
    assert t >= 2 * n * beta * (1 - 1e-12)
    # ... and S messages each way, while the busiest shard serves P of each
    assert t >= 2 * max(P, S) * alpha * (1 - 1e-12)
    if P >= 2:
        assert t > dist.ring_time(n, P, alpha, beta) * (1 - 1e-12)


@settings(max_examples=300, deadline=None)
@given(n=sizes, P=ranks, S=shards, alpha=alphas, beta=betas)
def test_parameter_server_is_the_busiest_shard_when_the_shard_dominates(n, P, S, alpha, beta):
    t = dist.parameter_server_time(n, P, alpha, beta, shards=S)
    server = 2 * P * (alpha + n / S * beta)
    worker = 2 * S * alpha + 2 * n * beta
    assert t == pytest.approx(max(server, worker), rel=1e-12)
    if server >= worker:   # the model before the worker's link was counted
        assert t == pytest.approx(server, rel=1e-12)


def test_parameter_server_with_one_shard_is_p_pushes_and_pulls():
    a, b, n = 1e-5, 1e-9, 1e6
    assert dist.parameter_server_time(n, 4, a, b) == pytest.approx(8 * (a + n * b))
    # more shards than workers: the worker's 2 n beta and 2 S alpha take over
    assert dist.parameter_server_time(n, 4, a, b, shards=64) == pytest.approx(2 * 64 * a + 2 * n * b)


def test_parameter_server_takes_an_array_of_shard_counts():
    a, b, n, P = 1e-5, 1e-9, 1e6, 4
    S = np.array([1, 2, 4, 8, 64])
    t = dist.parameter_server_time(n, P, a, b, shards=S)
    assert t.shape == (5,)
    for s, ts in zip(S, t):
        assert ts == pytest.approx(dist.parameter_server_time(n, P, a, b, shards=int(s)))
    # the minimum over S sits near S = P, and it is still above the ring
    assert S[np.argmin(t)] == P
    assert t.min() > dist.ring_time(n, P, a, b)


@pytest.mark.parametrize("S", [0, -1, 2.5])
def test_parameter_server_refuses_a_bad_shard_count(S):
    with pytest.raises(ValueError, match="parameter_server_time: shards"):
        dist.parameter_server_time(1e6, 4, 1e-5, 1e-9, shards=S)
