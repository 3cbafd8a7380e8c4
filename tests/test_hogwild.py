"""minidl.hogwild: exact lost-update counts in the simulator, real processes on shared memory."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from minidl.hogwild import (
    SparseProblem,
    interleave,
    plots,
    predicted_lost_fraction,
    simulate_hogwild,
    worker_order,
)
from minidl.hogwild import shared as shared_mod
from minidl.hogwild.shared import run_hogwild

# ---- the hand-built interleavings ----------------------------------------------------------

def test_hand_built_interleaving_loses_exactly_the_overwritten_update():
    updates = [([0, 1], 1.0), ([1, 2], 2.0)]
    race = interleave([0, 0, 0], updates, [("r", 0), ("r", 1), ("w", 0), ("w", 1)])
    assert race.w.tolist() == [1.0, 2.0, 2.0]  # update 0's +1 on w_1 is gone
    assert race.count.tolist() == [1, 1, 1] and race.writes == 4 and race.lost == 1
    serial = interleave([0, 0, 0], updates, [("r", 0), ("w", 0), ("r", 1), ("w", 1)])
    assert serial.w.tolist() == [1.0, 3.0, 2.0] and serial.lost == 0


def test_three_updates_on_one_coordinate_keep_only_the_last_writers_chain():
    # A reads, B reads, C reads, A writes, C writes, B writes: B's write wins, A's and C's are lost
    updates = [([0], 1.0), ([0], 10.0), ([0], 100.0)]
    run = interleave([5.0], updates, [("r", 0), ("r", 1), ("r", 2), ("w", 0), ("w", 2), ("w", 1)])
    assert run.w.tolist() == [15.0] and run.lost == 2 and run.count.tolist() == [1]
    # C reads after A wrote: A and C both survive, B (read before both) overwrites them
    run = interleave([5.0], updates, [("r", 0), ("r", 1), ("w", 0), ("r", 2), ("w", 2), ("w", 1)])
    assert run.w.tolist() == [15.0] and run.lost == 2
    run = interleave([5.0], updates, [("r", 0), ("r", 1), ("w", 1), ("r", 2), ("w", 2), ("w", 0)])
    assert run.w.tolist() == [6.0] and run.lost == 2


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 10**6))
def test_lost_count_equals_lost_weight_when_every_update_adds_one(d, n_updates, seed):
    """With every delta 1, w_j = count_j, so the weight lost is exactly the count lost."""
    rng = np.random.default_rng(seed)
    updates = [(np.sort(rng.choice(d, rng.integers(1, d + 1), replace=False)), 1.0) for _ in range(n_updates)]
    events = [("r", i) for i in range(n_updates)] + [("w", i) for i in range(n_updates)]
    rng.shuffle(events)
    seen, order = set(), []
    for _kind, i in events:  # the first event of update i is its read, the second its write
        order.append(("r", i) if i not in seen else ("w", i))
        seen.add(i)
    run = interleave(np.zeros(d), updates, order)
    assert run.w.sum() == run.count.sum() == run.writes - run.lost
    assert 0 <= run.lost < run.writes


def test_interleave_rejects_orders_that_are_not_read_then_write():
    ups = [([0], 1.0)]
    with pytest.raises(ValueError, match="written before it is read"):
        interleave([0.0], ups, [("w", 0)])
    with pytest.raises(ValueError, match="read twice"):
        interleave([0.0], ups, [("r", 0), ("r", 0)])
    with pytest.raises(ValueError, match="never written"):
        interleave([0.0], ups, [("r", 0)])
    with pytest.raises(ValueError, match="names update 3"):
        interleave([0.0], ups, [("r", 3)])


# ---- the problem -----------------------------------------------------------------------------

def test_example_gradient_matches_central_differences():
    prob = SparseProblem(50, 20, 4, seed=1)
    idx, val, y = prob.data
    w = np.random.default_rng(0).standard_normal(20)

    def loss_i(i, wk):
        return float(np.logaddexp(0.0, -y[i] * (val[i] * wk).sum()))

    eps = 1e-6
    for i in (0, 7, 49):
        wk = w[idx[i]]
        num = [(loss_i(i, wk + eps * e) - loss_i(i, wk - eps * e)) / (2 * eps) for e in np.eye(4)]
        assert np.allclose(prob.gradient(i, wk), num, rtol=0, atol=1e-8)


def test_problem_rejects_bad_sizes_and_touches_k_distinct_coordinates():
    with pytest.raises(ValueError, match="k = 0 features"):
        SparseProblem(10, 5, 0)
    with pytest.raises(ValueError, match=r"k = 6 features per example must be in \[1, d = 5\]"):
        SparseProblem(10, 5, 6)
    idx, _, _ = SparseProblem(100, 30, 7).data
    assert all(len(set(row)) == 7 for row in idx.tolist())
    shards = [worker_order(SparseProblem(10, 5, 2), p, 3, epoch=0) for p in range(3)]
    assert sorted(np.concatenate(shards).tolist()) == list(range(10))


# ---- the simulator ---------------------------------------------------------------------------

def test_simulation_is_deterministic():
    prob = SparseProblem(400, 100, 5)
    a, b = simulate_hogwild(prob, 4, "none", seed=3), simulate_hogwild(prob, 4, "none", seed=3)
    assert np.array_equal(a.w, b.w) and a.lost == b.lost and a.time == b.time


@pytest.mark.parametrize("lock", ["global", "block"])
def test_simulated_locks_lose_nothing(lock):
    run = simulate_hogwild(SparseProblem(600, 40, 8), 4, lock, blocks=8, epochs=2)
    assert run.lost == 0 and run.lost_mass <= 1e-12
    assert run.updates == 1200 and run.writes == 1200 * 8


def test_no_lock_loses_about_the_predicted_share_and_sparse_steps_lose_almost_nothing():
    P, d = 4, 500
    for k in (5, 50, 500):
        prob = SparseProblem(2000, d, k)
        none = simulate_hogwild(prob, P, "none", epochs=2)
        frac = none.lost / none.writes
        assert frac == pytest.approx(predicted_lost_fraction(P, k, d), rel=0.2)
        assert none.lost_mass > 0
        locked = simulate_hogwild(prob, P, "global", epochs=2)
        if k / d <= 0.01:
            assert abs(none.final_loss - locked.final_loss) < 0.01
        if k == d:
            assert none.final_loss > locked.final_loss + 0.05


def test_a_global_lock_serialises_and_no_lock_runs_p_workers_at_once():
    prob = SparseProblem(800, 200, 4)
    none = simulate_hogwild(prob, 4, "none", jitter=0.0)
    glob = simulate_hogwild(prob, 4, "global", jitter=0.0)
    assert none.throughput == pytest.approx(4.0, rel=0.01)
    assert glob.throughput == pytest.approx(1.0, rel=0.01)
    block = simulate_hogwild(prob, 4, "block", blocks=64, jitter=0.0)
    assert glob.throughput < block.throughput <= none.throughput


def test_predicted_lost_fraction_limits():
    assert predicted_lost_fraction(1, 10, 10) == 0.0
    assert predicted_lost_fraction(4, 10, 10) == pytest.approx(3 / 4)
    assert predicted_lost_fraction(3, 1, 10**6) == pytest.approx(2e-6, rel=1e-5)


def test_simulator_rejects_bad_arguments():
    prob = SparseProblem(10, 5, 2)
    with pytest.raises(ValueError, match="lock = 'spin'"):
        simulate_hogwild(prob, 2, "spin")
    with pytest.raises(ValueError, match="blocks = 0"):
        simulate_hogwild(prob, 2, "block", blocks=0)
    with pytest.raises(ValueError, match="workers = 0"):
        simulate_hogwild(prob, 0)
    with pytest.raises(ValueError, match="jitter"):
        simulate_hogwild(prob, 2, jitter=1.0)


# ---- real processes --------------------------------------------------------------------------

@pytest.mark.parametrize("lock", ["global", "block"])
def test_real_processes_with_a_lock_lose_no_update_in_2_x_100000(lock):
    prob = SparseProblem(20_000, 64, 8, seed=2)  # few coordinates: without a lock they would collide
    run = run_hogwild(prob, 2, lock, blocks=16, epochs=10, timeout=240)
    assert run.updates == 200_000 and run.writes == 1_600_000
    assert run.lost == 0 and run.lost_mass <= 1e-9
    assert np.isfinite(run.final_loss) and run.final_loss < math.log(2)


def test_real_processes_without_a_lock_count_what_they_lose_exactly():
    prob = SparseProblem(20_000, 8, 8, seed=2)  # every step touches every weight
    run = run_hogwild(prob, 2, "none", epochs=1, timeout=120)
    assert run.updates == 20_000 and 0 <= run.lost < run.writes
    # the counts and the weights agree: nothing lost exactly when no weight went missing
    assert (run.lost == 0) == (run.lost_mass <= 1e-9)


def _recording_shared_memory(monkeypatch):
    names = []
    real = shared_mod.shared_memory.SharedMemory

    class Recording(real):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            names.append(self.name)

    monkeypatch.setattr(shared_mod.shared_memory, "SharedMemory", Recording)
    return names, real


def _gone(names, real):
    for name in names:
        with pytest.raises(FileNotFoundError):
            real(name=name)
    return True


def test_shared_memory_is_released_when_a_worker_raises(monkeypatch):
    names, real = _recording_shared_memory(monkeypatch)
    with pytest.raises(RuntimeError, match="worker 0: RuntimeError: stopped on purpose at step 50"):
        run_hogwild(SparseProblem(400, 20, 3), 2, "global", fail_at=50, timeout=120)
    assert len(names) == 2 and _gone(names, real)


def test_a_start_up_that_takes_too_long_times_out_and_releases_memory(monkeypatch):
    names, real = _recording_shared_memory(monkeypatch)
    with pytest.raises(TimeoutError, match="not all ready within 0.01 s"):
        run_hogwild(SparseProblem(400, 20, 3), 2, "none", timeout=0.01)
    assert len(names) == 2 and _gone(names, real)


def test_run_hogwild_rejects_bad_arguments():
    with pytest.raises(ValueError, match="processes = 0"):
        run_hogwild(SparseProblem(10, 5, 2), 0)
    with pytest.raises(ValueError, match="lock = 'mutex'"):
        run_hogwild(SparseProblem(10, 5, 2), 2, "mutex")


# ---- figures ---------------------------------------------------------------------------------

def test_every_figure_function_returns_a_figure():
    s = [0.01, 0.1, 1.0]
    figs = [plots.sparsity_figure(s, [10, 1e4, 7e5], [9, 1e4, 7.5e5], [0.5, 0.5, 0.6], [0.5, 0.5, 0.45], 4),
            plots.spread_figure({"ring, P = 4": [1, 1 / 3, 1 / 9, 1e-20]}, {"ring, P = 4": 1 / 3}),
            plots.loss_curves_figure({"allreduce": ([0, 1, 2], [2.3, 1.0, 0.5]),
                                      "gossip, ring": ([0, 1, 2], [2.3, 1.1, 0.6])}),
            plots.local_sgd_figure([1, 2, 4], [0.5, 0.52, 0.6], [100, 50, 25]),
            plots.averaging_figure({"convex": {"model 1": 0.3, "model 2": 0.31, "average": 0.29},
                                    "permuted": {"model 1": 0.3, "model 2": 0.3, "average": 1.5}})]
    assert all(isinstance(f, Figure) for f in figs)


def test_benchmark_prints_the_core_count_and_a_row_per_lock_and_process_count(capsys):
    from minidl.bench import hogwild as bench
    assert bench.main(["--repeats", "1", "--n", "400", "--d", "50", "--k", "5", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("os.cpu_count() = ")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("no lock", "per-block", "global"))]
    assert len(rows) == 6
    assert "2 processes against 1: no lock" in out
