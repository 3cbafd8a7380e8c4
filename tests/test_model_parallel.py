"""minidl.distributed.model_parallel: column, row and paired splits of each layer, a pipeline of stages
(GPipe and 1F1B) and the data x model grid, on real MPI ranks (mpiexec subprocesses with timeouts),
each against one process training the same model on the same batches; the schedules and bubble on
the virtual clock; the cost plan against the bytes the ranks counted; the same clear error on
every rank."""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.distributed import launch
from minidl.distributed import model_parallel as mp
from minidl.nn import mlp

JOB = Path(__file__).parent / "mpi_jobs_model_parallel" / "model_parallel_job.py"
SIZES = [12, 24, 24, 24, 12]


def reference():
    """One process, the job's model, data and settings."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((96, 12))
    y = np.argmax(x @ rng.standard_normal((12, 12)), axis=1)
    par = mp.Replica(mlp(SIZES, seed=1, dtype=np.float64))
    losses = mp.train(par, x, y, global_batch=24, lr=0.1, momentum=0.9, epochs=2, seed=5)
    return losses, par.full_weights()


# ---- in one process -------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.sampled_from(mp.SCHEDULES))
def test_every_schedule_runs_each_micro_batch_forward_then_backward_once(S, m, schedule):
    for s in range(S):
        ops = mp.schedule_ops(schedule, S, m, s)
        assert sorted(ops) == sorted([("F", i) for i in range(m)] + [("B", i) for i in range(m)])
        assert all(ops.index(("F", i)) < ops.index(("B", i)) for i in range(m))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 12), st.sampled_from(mp.SCHEDULES),
       st.floats(0.5, 3.0), st.floats(0.5, 3.0))
def test_the_bubble_is_S_minus_1_over_m_plus_S_minus_1(S, m, schedule, t_f, t_b):
    tl = mp.simulate_pipeline(S, m, schedule, t_f, t_b)
    assert mp.bubble_fraction(tl) == pytest.approx((S - 1) / (m + S - 1), abs=1e-12)
    assert max(sp.end for sp in tl.spans) == pytest.approx((m + S - 1) * (t_f + t_b))


def test_1f1b_holds_at_most_S_minus_s_micro_batches_and_gpipe_all_m():
    for s in range(4):
        assert mp.peak_in_flight("gpipe", 4, 8, s) == 8
        assert mp.peak_in_flight("1f1b", 4, 8, s) == 4 - s
    assert mp.peak_in_flight("1f1b", 4, 2, 0) == 2


def test_stage_bounds_cover_every_layer_once():
    assert mp.stage_bounds(4, 3) == [(0, 1), (1, 3), (3, 4)]
    assert mp.stage_bounds(5, 1) == [(0, 5)]
    with pytest.raises(ValueError, match="Pipeline: 4 stages but the model has 3 Linear layers"):
        mp.stage_bounds(3, 4)


def test_weights_per_rank_add_up_to_the_model():
    n = sum(a * b + b for a, b in zip(SIZES[:-1], SIZES[1:]))
    assert mp.weights_per_rank(SIZES, "data", 4) == [n] * 4
    assert sum(mp.weights_per_rank(SIZES, "pipeline", 3)) == n
    assert mp.weights_per_rank(SIZES, "column", 4)[0] * 4 == n
    assert mp.weights_per_rank(SIZES, "row", 2)[0] == (n - (24 * 3 + 12)) // 2 + 24 * 3 + 12
    with pytest.raises(ValueError, match="width 10 is not divisible by P = 4"):
        mp.weights_per_rank([12, 10, 12], "column", 4)


def test_model_splits_send_more_with_the_batch_and_data_parallelism_does_not():
    for split in ("column", "row", "pair", "pipeline"):
        b1, b2 = (mp.step_bytes(SIZES, B, split, 4) for B in (8, 16))
        assert b2 == pytest.approx(2 * b1) and b1 > 0
        B = mp.crossover_batch(SIZES, split, 4)
        assert mp.step_bytes(SIZES, B, split, 4) == pytest.approx(mp.step_bytes(SIZES, B, "data", 4))
    assert mp.step_bytes(SIZES, 8, "data", 4) == mp.step_bytes(SIZES, 800, "data", 4)
    assert mp.step_bytes(SIZES, 8, "column", 1) == 0


# ---- over MPI -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ref():
    return reference()


@pytest.mark.parametrize("P", [1, 2, 3, 4])
def test_every_split_trains_to_the_weights_of_one_process(P, ref):
    run = launch(JOB, n=P, args=["train"], timeout=240).result
    ref_losses, ref_w = ref
    names = [*mp.SPLITS, *mp.SCHEDULES] + (["grid pair", "grid 1f1b"] if P % 2 == 0 else [])
    assert sorted(run) == sorted(names)
    for name, (losses, weights, _, _) in run.items():
        assert len(losses) == len(ref_losses) == 8
        assert np.abs(np.array(losses) - ref_losses).max() <= 1e-12, name
        assert len(weights) == len(ref_w)
        for (W, b), (W0, b0) in zip(weights, ref_w):
            assert W.shape == W0.shape and b.shape == b0.shape
            assert max(np.abs(W - W0).max(), np.abs(b - b0).max()) <= 1e-12, name
        assert max(np.abs(W - W0).max() for (W, _), (W0, _) in zip(weights, mlp_weights())) > 0.01  # it trained


def mlp_weights():
    return [(m.W.data, m.b.data) for m in mlp(SIZES, seed=1, dtype=np.float64).layers if hasattr(m, "W")]


@pytest.mark.parametrize("P", [2, 4])
def test_bytes_each_rank_sent_equal_the_plan_and_1f1b_holds_fewer_micro_batches(P):
    run = launch(JOB, n=P, args=["train"], timeout=240).result
    for split in mp.SPLITS:
        assert run[split][2] == pytest.approx(mp.step_bytes(SIZES, 24, split, P), rel=1e-12), split
    for schedule in mp.SCHEDULES:
        assert run[schedule][2] == pytest.approx(mp.step_bytes(SIZES, 24, "pipeline", P, 4), rel=1e-12)
        held = [h for h, _, _ in run[schedule][3]]
        assert held == [mp.peak_in_flight(schedule, P, 4, s) for s in range(P)]
    gpipe, one_f = run["gpipe"][3][0][1], run["1f1b"][3][0][1]
    assert one_f * 4 == pytest.approx(gpipe * mp.peak_in_flight("1f1b", P, 4, 0), rel=1e-12)
    assert run["grid pair"][2] == pytest.approx(mp.ops_bytes(mp.grid_ops(SIZES, 24, "pair", 2, P // 2)))
    assert run["grid 1f1b"][2] == pytest.approx(mp.ops_bytes(mp.grid_ops(SIZES, 24, "pipeline", 2, P // 2, 2)))


@pytest.mark.parametrize("case,P,expected", [
    ("width", 4, "TensorParallel('column'), Linear layer 0 of shape (12, 18): output width 18 is not "
                 "divisible by P = 4 ranks"),
    ("row", 4, "TensorParallel('row'), Linear layer 0 of shape (10, 24): input width 10 is not divisible"),
    ("stages", 4, "Pipeline: 4 stages but the model has 3 Linear layers"),
    ("micro", 2, "Pipeline: 5 micro-batches do not divide the batch of 24 examples"),
    ("disagree", 3, "Pipeline: the ranks disagree: micro_batches = 3 on rank 1 but 2 on rank 0"),
    ("grid", 4, "grid_comms: a grid of 3 data x 1 model ranks needs 3 ranks, but the communicator has 4"),
])
def test_bad_input_gets_the_same_clear_error_on_every_rank(case, P, expected, tmp_path):
    launch(JOB, n=P, args=["bad", tmp_path, case], timeout=60)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(P)]
    assert len(set(messages)) == 1 and messages[0].startswith(expected), messages[0]


def test_every_drawing_returns_a_figure():
    from matplotlib.figure import Figure

    from minidl.distributed import model_parallel_plots as mpp
    tl = {s: mp.simulate_pipeline(2, 3, s) for s in mp.SCHEDULES}
    figs = [mpp.schedules_figure(tl, "t"), mpp.lines_figure([1, 2, 4], {"data": [1, 2, 3], "pair": [3, 2, 1]},
                                                             "P", "bytes", "t"),
            mpp.graph_partition_figure(mlp([4, 6, 6, 3], dtype=np.float64), np.ones((2, 4)), 2, "t")]
    assert all(isinstance(f, Figure) and f.get_size_inches()[0] <= 8 for f in figs)


def test_benchmark_prints_one_row_per_split_with_the_planned_bytes(capsys):
    from minidl.bench import model_parallel as bench
    assert bench.main(["--ranks", "2", "--steps", "2", "--batch", "64", "--timeout", "300"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(" 2 ")]
    assert [r[1] for r in rows] == ["data", "column", "row", "pair", "pipeline"]
    for r in rows:
        assert r[3] == r[4]  # measured bytes per step equal the plan (main also asserts it)
