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


def test_t_comm_batch_is_recursive_halving_then_doubling():
    a, b, n = 1e-6, 1e-9, 4e6
    for P in (2, 4, 8, 64):
        lg = np.log2(P)
        assert dist.t_comm_batch([n], P, a, b) == pytest.approx(2 * lg * a + 2 * (P - 1) / P * n * b)
        # the ring's bandwidth term with lg P latencies instead of the ring's P - 1
        assert dist.t_comm_batch([n], P, 0, b) == pytest.approx(dist.ring_time(n, P, 0, b))


@pytest.mark.parametrize("k, h", [(1, 0), (2, 1), (3, 1), (5, 2), (7, 3)])
def test_halo_is_floor_of_half_the_kernel(k, h):
    assert dist.cost.halo_rows(k) == h


def test_domain_halos_use_floor_k_over_2_rows():
    layer = dist.cost.ConvLayer(x_w=32, x_c=3, y_w=32, y_c=64, k_h=3, k_w=3, weight_bytes=4 * 1728)
    a, b, B, P = 1e-6, 1e-9, 64, 4
    batch = dist.t_comm_batch([layer.weight_bytes], P, a, b)
    halo = 2 * a + b * B * 4 * (32 * 3 * 1 + 32 * 64 * 1)     # one row each way for a 3x3 kernel
    assert dist.t_comm_domain([layer], B=B, P=P, alpha=a, beta=b) == pytest.approx(batch + halo)
    one_by_one = dist.cost.ConvLayer(x_w=32, x_c=3, y_w=32, y_c=64, k_h=1, k_w=1, weight_bytes=4 * 192)
    assert dist.t_comm_domain([one_by_one], B=B, P=P, alpha=a, beta=b) == pytest.approx(
        2 * a + dist.t_comm_batch([one_by_one.weight_bytes], P, a, b))     # a 1x1 kernel needs no halo
    with pytest.raises(ValueError, match="halo_rows"):
        dist.cost.halo_rows(0)


def test_fit_is_robust_to_one_disturbed_point():
    n = np.array([8, 64, 512, 4096, 32768, 262144, 2097152, 8388608], dtype=float)
    t = 2e-6 + n * 2.5e-10
    t[0] = 300e-6                                   # an 8-byte point at 300 us: a rank lost its core
    fit = dist.fit_alpha_beta(n, t)
    assert fit.alpha == pytest.approx(2e-6, rel=0.05)
    assert fit.beta == pytest.approx(2.5e-10, rel=0.05)
    assert fit.worst_size == 8 and fit.max_rel_error > 0.9
    assert fit.median_rel_error < 0.01


@settings(max_examples=50, deadline=None)
@given(alpha=st.floats(1e-7, 1e-3), beta=st.floats(1e-12, 1e-8), noise=st.integers(0, 2**32 - 1))
def test_fit_recovers_alpha_and_beta_from_noisy_times(alpha, beta, noise):
    n = np.array([8, 64, 512, 4096, 32768, 262144, 2097152, 8388608], dtype=float)
    t = (alpha + n * beta) * np.random.default_rng(noise).uniform(0.99, 1.01, n.size)
    fit = dist.fit_alpha_beta(n, t)
    assert fit.max_rel_error < 0.03
    assert np.all(np.abs(fit.time(n) - t) / t < 0.03)
