"""minidl.distributed.compress: the sparsifiers and both momentum rules in one process, and over
real MPI ranks (mpiexec subprocesses with timeouts): exact when everything is sent, nothing lost,
the sparse allreduce against Allreduce, the same clear error on every rank."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.distributed import compress, launch
from minidl.distributed.cost import ring_time
from minidl.reference import LINKS, MNIST_MLP_PARAMETERS

JOB = Path(__file__).parent / "mpi_jobs_compress" / "compress_job.py"


# ---- in one process ----------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.floats(0.001, 1.0), st.integers(0, 1000))
def test_top_k_selects_the_k_largest_magnitudes(n, fraction, seed):
    v = np.random.default_rng(seed).standard_normal(n)
    idx = compress.select_top_k(v, fraction)
    k = min(n, max(1, round(fraction * n)))
    assert idx.size == k and np.all(np.diff(idx) > 0) and idx.dtype == np.int32
    rest = np.setdiff1d(np.arange(n), idx)
    assert rest.size == 0 or np.abs(v[idx]).min() >= np.abs(v[rest]).max()


def test_threshold_sends_the_entries_above_it():
    v = np.array([0.5, -2.0, 1.0, 0.0, -1.0, 3.0])
    assert compress.select_threshold(v, 1.0).tolist() == [1, 5]
    assert compress.select_threshold(v, 0.0).tolist() == [0, 1, 2, 4, 5]


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5, np.nan, "0.1"])
def test_a_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ValueError, match=r"outside \(0, 1\]"):
        compress.select_top_k(np.ones(5), fraction)
    with pytest.raises(ValueError, match=r"outside \(0, 1\]"):
        compress.SparseMomentum(5, 0.9, "naive", fraction=fraction)


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="exactly one of"):
        compress.SparseMomentum(5, 0.9, "naive", fraction=0.1, threshold=1.0)
    with pytest.raises(ValueError, match="mode 'fast'"):
        compress.SparseMomentum(5, 0.9, "fast", fraction=0.1)
    with pytest.raises(ValueError, match="threshold -1"):
        compress.select_threshold(np.ones(3), -1)


@pytest.mark.parametrize("mode", ["naive", "corrected"])
@pytest.mark.parametrize("rule", [{"fraction": 0.05}, {"threshold": 0.3}])
def test_simulation_loses_nothing(mode, rule):
    rng = np.random.default_rng(0)
    T, P, n, m = 30, 3, 80, 0.9
    grads = rng.standard_normal((T, P, n)) / P
    run = compress.simulate(grads, m, 0.1, mode, **rule)
    vel = np.zeros((P, n))
    total = np.zeros((P, n))
    for t in range(T):
        vel = m * vel + grads[t]
        total += vel if mode == "corrected" else grads[t]
    assert np.abs(run["sent"].sum(axis=0) + run["residual"] - total).max() <= 1e-12 * np.abs(total).max() * T
    assert 0 < np.count_nonzero(run["sent"]) < run["sent"].size


@pytest.mark.parametrize("mode", ["naive", "corrected"])
def test_sending_everything_is_dense_momentum(mode):
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((20, 2, 10))
    run = compress.simulate(grads, 0.9, 0.05, mode, threshold=0.0)
    w, vel = np.zeros(10), np.zeros(10)
    for t in range(20):
        vel = 0.9 * vel - 0.05 * grads[t].sum(axis=0)  # minidl.optim.SGD
        w = w + vel
    assert np.abs(run["w"][-1] - w).max() <= 1e-12


def test_one_entry_that_waits_T_steps():
    """The lecture's derivation: an entry with the same gradient g every step is sent after T
    steps; by then naive momentum has moved it by T g, dense momentum (and the corrected rule)
    by g (W(1) + ... + W(T)), W(j) = 1 + m + ... + m^(j-1)."""
    g, theta, m, lr = 0.1, 0.45, 0.9, 1.0
    for mode in ("naive", "corrected"):
        T = compress.steps_until_sent(g, theta, m, mode)
        assert T == (5 if mode == "naive" else 3)
        run = compress.simulate(np.full((T + 2, 1, 1), g), m, lr, mode, threshold=theta)
        assert np.all(run["w"][:T] == 0) and run["w"][T, 0] != 0  # nothing sent before step T
        dense = sum(compress.momentum_weight(j, m) for j in range(1, T + 1)) * g
        got = -run["w"][T, 0] / lr
        assert got == pytest.approx(T * g if mode == "naive" else dense, abs=1e-14)
    assert compress.momentum_weight(3, 0.5) == 1.75 and compress.steps_until_sent(0, 1) == np.inf


def test_sparse_allgather_time_grows_with_P_times_k_and_the_crossover():
    n, (alpha, beta) = MNIST_MLP_PARAMETERS, (50e-6, 1 / 1.25e9)
    t = [compress.sparse_allgather_time(1000, P, alpha, beta) for P in (2, 4, 8)]
    assert t[1] / t[0] == pytest.approx(3) and t[2] / t[0] == pytest.approx(7)
    for link in LINKS.values():
        for P in (2, 8, 64):
            for counts in (False, True):
                f = compress.crossover_density(n, P, link.alpha, link.beta, counts=counts)
                k = f * n
                dense = ring_time(4 * n, P, link.alpha, link.beta)
                assert compress.sparse_allgather_time(k, P, link.alpha, link.beta, counts=counts) == \
                    pytest.approx(dense, rel=1e-12)
                if counts:
                    assert f == pytest.approx(1 / P)


# ---- over MPI ---------------------------------------------------------------------------------

@pytest.mark.parametrize("P", [1, 2, 3, 4])
def test_sending_everything_equals_dense_data_parallel_sgd_with_momentum(P):
    run = launch(JOB, n=P, args=["exact"], timeout=180).result
    dense_losses, dense_w = run.pop("dense")
    assert len(dense_losses) == 16
    for name, (losses, w) in run.items():
        assert np.abs(np.array(losses) - np.array(dense_losses)).max() <= 1e-12, name
        for a_rank, b_rank in zip(w, dense_w):
            assert max(np.abs(a - b).max() for a, b in zip(a_rank, b_rank)) <= 1e-12, name


@pytest.mark.parametrize("P,mode,rule", [(2, "naive", "topk"), (3, "corrected", "topk"),
                                         (4, "naive", "threshold"), (2, "corrected", "threshold")])
def test_nothing_is_lost_on_any_rank(P, mode, rule):
    run = launch(JOB, n=P, args=["conserve", mode, rule], timeout=120).result
    total_sent = np.zeros_like(run["total"])
    for grads, velocities, sent, residual in run["ranks"]:
        accumulated = velocities if mode == "corrected" else grads
        assert np.abs(sent + residual - accumulated).max() <= 1e-12 * max(1, np.abs(accumulated).max())
        assert 0 < np.count_nonzero(sent) and np.count_nonzero(residual) > 0
        total_sent += sent
    assert np.abs(run["total"] - total_sent).max() <= 1e-12 * np.abs(total_sent).max()


@pytest.mark.parametrize("P", [1, 2, 3, 4])
def test_sparse_allreduce_equals_allreduce_of_the_same_vectors(P):
    for sparse, dense, scale in launch(JOB, n=P, args=["allreduce"], timeout=120).result:
        assert sparse.shape == dense.shape
        assert np.all(np.abs(sparse - dense) <= 4e-16 * P * scale)


@pytest.mark.parametrize("case,expected", [
    ("fraction", "CompressedSGD: fraction 1.5 is outside (0, 1]"),
    ("fraction0", "CompressedSGD: the ranks disagree: fraction = 0.0 on rank 1 but 0.01 on rank 0"),
    ("model", "CompressedSGD: the ranks disagree: parameters = [((12, 9), 'float64')"),
    ("size", "sparse_allreduce: the ranks hold vectors of different sizes (10 on rank 0, 11 on rank 1"),
    ("index", "sparse_allreduce: rank 2: indices from 1 to 20 outside [0, 10)"),
])
def test_bad_input_gets_the_same_clear_error_on_every_rank(case, expected, tmp_path):
    launch(JOB, n=3, args=["bad", tmp_path, case], timeout=60)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(3)]
    assert len(set(messages)) == 1 and messages[0].startswith(expected), messages[0]


def test_every_drawing_returns_a_figure():
    from matplotlib.figure import Figure

    from minidl.distributed import compress_plots as cp
    run = {"evals": [(0, 2.3, 0.1), (10, 1.0, 0.7)], "sent_bytes": [100, 100]}
    runs = {("dense", None): run, ("naive", 0.9): run, ("corrected", 0.9): run}
    d = np.logspace(-3, 0, 5)
    figs = [cp.one_entry_figure({"dense": np.arange(5.0), "naive": np.zeros(5)}, "t"),
            cp.training_figure(runs, [0.9], "t"), cp.accuracy_bytes_figure(runs, "t"),
            cp.cost_figure(d, {2: d, 8: 2 * d}, {2: 0.5, 8: 0.7}, "t")]
    assert all(isinstance(f, Figure) and f.get_size_inches()[0] <= 8 for f in figs)


def test_benchmark_prints_one_row_per_run(capsys):
    from minidl.bench import compression
    assert compression.main(["--epochs", "1", "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    assert "corrected, 99.9 %" in out and "665.2" in out and "ring allreduce (dense)" in out
