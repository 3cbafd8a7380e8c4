"""minidl.distributed.gossip: mixing matrices and rates in one process, gossip and local SGD
over real MPI ranks (mpiexec subprocesses with timeouts)."""
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.distributed import gossip, launch
from minidl.distributed.cost import ring_time

JOB = Path(__file__).parent / "mpi_jobs_gossip" / "gossip_job.py"


# ---- in one process ----------------------------------------------------------------------------

@pytest.mark.parametrize("P", [1, 2, 3, 4, 5, 16])
def test_ring_mixing_matrix_is_symmetric_with_rows_summing_to_one(P):
    W = gossip.ring_mixing_matrix(P)
    assert np.allclose(W, W.T) and np.allclose(W.sum(axis=1), 1) and (W >= 0).all()


@pytest.mark.parametrize("P", [3, 4, 5, 8, 16, 33])
def test_ring_second_eigenvalue_is_the_cosine_formula(P):
    expected = max(abs(1 + 2 * math.cos(2 * math.pi * j / P)) / 3 for j in range(1, P))
    assert gossip.second_eigenvalue(gossip.ring_mixing_matrix(P)) == pytest.approx(expected, abs=1e-12)


def test_complete_graphs_reach_consensus_in_one_step():
    for P in (2, 3):
        assert gossip.second_eigenvalue(gossip.ring_mixing_matrix(P)) == pytest.approx(0, abs=1e-12)
        spreads, _ = gossip.simulate_gossip(np.random.default_rng(0).standard_normal((P, 9)), "ring", 1)
        assert spreads[1] <= 1e-15 * spreads[0]


@pytest.mark.parametrize("P", [2, 3, 4, 7])
def test_expected_pairs_matrix_is_the_mean_of_the_drawn_ones(P):
    rng = np.random.default_rng(1)
    mean = sum(gossip.pairs_mixing_matrix(gossip.random_pairs(P, rng), P) for _ in range(20000)) / 20000
    assert np.abs(mean - gossip.expected_pairs_mixing_matrix(P)).max() < 0.02


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 16), st.integers(1, 20), st.sampled_from(gossip.TOPOLOGIES), st.integers(0, 1000))
def test_gossip_preserves_the_mean_and_never_widens_the_spread(P, n, topology, seed):
    X0 = np.random.default_rng(seed).standard_normal((P, n)) * 10
    spreads, X = gossip.simulate_gossip(X0, topology, 15, seed=seed)
    assert np.abs(X.mean(axis=0) - X0.mean(axis=0)).max() <= 1e-12
    assert np.all(np.diff(spreads) <= 1e-12)


def test_ring_of_16_shrinks_its_spread_at_the_second_eigenvalue():
    X0 = np.random.default_rng(0).standard_normal((16, 100))
    spreads, _ = gossip.simulate_gossip(X0, "ring", 200)
    lam = gossip.second_eigenvalue(gossip.ring_mixing_matrix(16))
    assert spreads[200] / spreads[199] == pytest.approx(lam, rel=1e-6)
    X4 = np.random.default_rng(0).standard_normal((4, 10))
    s4, _ = gossip.simulate_gossip(X4, "ring", 5)  # every mean-zero eigenvalue is +-1/3: exactly 1/3 per step
    assert np.allclose(s4[1:] / s4[:-1], 1 / 3, rtol=1e-9)


def test_random_pairs_shrink_the_mean_squared_spread_at_the_expected_matrix_rate():
    X0 = np.random.default_rng(0).standard_normal((16, 50))
    sq = np.mean([gossip.simulate_gossip(X0, "pairs", 20, seed=s)[0] ** 2 for s in range(300)], axis=0)
    lam = gossip.second_eigenvalue(gossip.expected_pairs_mixing_matrix(16))
    assert lam == pytest.approx(14 / 30, abs=1e-12)
    assert (sq[20] / sq[0]) ** (1 / 20) == pytest.approx(lam, rel=0.03)


def test_gossip_sends_the_same_bytes_per_step_whatever_p():
    n, alpha, beta = 4e6, 50e-6, 1 / 1.25e9
    times = [gossip.gossip_time(n, P, alpha, beta) for P in (3, 8, 64, 1024)]
    assert len(set(times)) == 1 and times[0] == pytest.approx(2 * (alpha + n * beta))
    assert gossip.gossip_time(n, 64, alpha, beta, "pairs") == pytest.approx(alpha + n * beta)
    assert gossip.gossip_bytes(n, 2) == n and gossip.gossip_bytes(n, 1) == 0
    assert ring_time(n, 1024, alpha, beta) > 10 * times[0]  # the ring allreduce pays 2(P-1) latencies


def test_steps_to_shrink_and_bad_input():
    assert gossip.steps_to_shrink(0.5, 1000) == 10 and gossip.steps_to_shrink(0.0, 1e9) == 1
    with pytest.raises(ValueError, match="topology 'star'"):
        gossip.simulate_gossip(np.zeros((2, 2)), "star")
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        gossip.simulate_gossip(np.zeros(3))
    with pytest.raises(ValueError, match="symmetric"):
        gossip.second_eigenvalue(np.array([[1.0, 0.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="positive number of ranks"):
        gossip.ring_mixing_matrix(0)


# ---- over MPI ---------------------------------------------------------------------------------

@pytest.mark.parametrize("P", [2, 3, 4])
@pytest.mark.parametrize("topology", gossip.TOPOLOGIES)
def test_gossip_over_mpi_is_the_simulation_bit_for_bit_and_keeps_the_mean(P, topology):
    run = launch(JOB, n=P, args=["mix", topology, 6], timeout=120).result
    spreads, X = gossip.simulate_gossip(run["X0"], topology, 6, seed=11)
    assert np.array_equal(run["X"][-1], X)
    for Xt in run["X"]:
        assert np.abs(Xt.mean(axis=0) - run["X0"].mean(axis=0)).max() <= 1e-12
    assert [gossip.spread(Xt) for Xt in run["X"]] == spreads.tolist()


@pytest.mark.parametrize("P,momentum", [(2, 0.0), (3, 0.9), (4, 0.0)])
def test_local_sgd_with_h_1_is_allreduce_data_parallelism(P, momentum):
    run = launch(JOB, n=P, args=["local_sgd_vs_dp", momentum], timeout=120).result
    (dp_losses, dp_w), (local_losses, local_w) = run["dp"], run["local"]
    assert len(dp_losses) == 16  # 2 epochs of 192 / 24 steps
    assert np.abs(np.array(dp_losses) - np.array(local_losses)).max() <= 1e-12
    for a_rank, b_rank in zip(dp_w, local_w):
        assert max(np.abs(a - b).max() for a, b in zip(a_rank, b_rank)) <= 1e-12


def test_gossip_and_local_sgd_train():
    run = launch(JOB, n=4, args=["train"], timeout=180).result
    for name, evals in run.items():
        steps, losses = zip(*evals)
        assert steps[0] == 0 and losses[-1] < 0.7 * losses[0], name


@pytest.mark.parametrize("case,expected", [
    ("shape", "Gossip: the ranks disagree: shape = (11,) on rank 1 but (10,) on rank 0"),
    ("params", "train_gossip: the ranks disagree: parameters = [((12, 9), 'float64')"),
    ("H0", "train_local_sgd: H = 0; average every H >= 1 local steps"),
    ("Hmixed", "train_local_sgd: the ranks disagree: H = 0 on rank 1 but 2 on rank 0"),
])
def test_bad_input_gets_the_same_clear_error_on_every_rank(case, expected, tmp_path):
    launch(JOB, n=3, args=["bad", tmp_path, case], timeout=60)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(3)]
    assert len(set(messages)) == 1 and messages[0].startswith(expected), messages[0]
