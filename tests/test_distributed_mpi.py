"""minidl.distributed under real MPI: every test starts `mpiexec` as a subprocess with a timeout.

P = 1, 2, 3 and 4 ranks run oversubscribed on a 2-core machine.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minidl.distributed as dist
from minidl.distributed import LaunchError, launch

JOBS = Path(__file__).parent / "mpi_jobs"
RANKS = [1, 2, 3, 4]


def test_launch_returns_what_rank_0_printed_and_reported():
    code = ("from mpi4py import MPI\nimport minidl.distributed as d\nc = MPI.COMM_WORLD\n"
            "s = c.allreduce(c.rank)\nif c.rank == 0:\n    print('sum of ranks', s)\n"
            "    d.report({'size': c.size, 'sum': s})\n")
    run = launch(code=code, n=3, timeout=60)
    assert run.stdout.strip() == "sum of ranks 3"
    assert run.result == {"size": 3, "sum": 3}
    assert Path(run.command[0]).parent == Path(sys.executable).parent  # this environment's mpiexec


def test_launch_kills_a_hung_job_and_says_so():
    code = ("from mpi4py import MPI\nimport numpy as np\nc = MPI.COMM_WORLD\n"
            "if c.rank == 1:\n    c.Recv(np.empty(1), source=0)  # never sent\n")
    with pytest.raises(LaunchError, match=r"did not finish in 3 s and was killed"):
        launch(code=code, n=2, timeout=3)


def test_launch_reports_the_error_of_a_failing_rank():
    code = "from mpi4py import MPI\nif MPI.COMM_WORLD.rank == 1:\n    raise ValueError('shape trouble on rank 1')\n"
    with pytest.raises(LaunchError, match="shape trouble on rank 1"):
        launch(code=code, n=2, timeout=60)


def test_an_error_on_one_rank_ends_the_job_instead_of_hanging_the_others():
    code = ("from mpi4py import MPI\nc = MPI.COMM_WORLD\nif c.rank == 0:\n"
            "    raise RuntimeError('rank 0 gave up')\nc.Barrier()  # the others wait for rank 0\n")
    with pytest.raises(LaunchError, match="failed with exit code"):
        launch(code=code, n=3, timeout=60)


def test_launch_without_mpiexec_gives_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(LaunchError, match=r"pip install mpich"):
        launch(code="print(1)", n=2)


def test_launch_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="positive integer"):
        launch(code="print(1)", n=0)
    with pytest.raises(ValueError, match="either a script path or code"):
        launch()
    with pytest.raises(FileNotFoundError, match="no script at"):
        launch(tmp_path / "missing.py", n=1)


def test_command_line_launcher_runs_a_script_on_n_ranks(tmp_path):
    script = tmp_path / "hello.py"
    script.write_text("import sys\nfrom mpi4py import MPI\nc = MPI.COMM_WORLD\n"
                      "n = c.allreduce(1)\nif c.rank == 0:\n    print('ranks', n, sys.argv[1:])\n")
    done = subprocess.run([sys.executable, "-m", "minidl.distributed.launch", "-n", "2", "--timeout", "60",
                           str(script), "a", "--b"], capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ranks 2 ['a', '--b']"
    assert "RuntimeWarning" not in done.stderr


def test_on_one_rank_gradients_stay_where_they_are_and_missing_ones_are_zeros():
    code = ("import numpy as np\nimport minidl.distributed as d\nfrom minidl.tensor import Tensor\n"
            "a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones((2, 2)), requires_grad=True)\n"
            "g = np.arange(3.0)\na.grad = g\nd.allreduce_gradients([a, b])\n"
            "d.report((a.grad is g, a.grad.tolist(), b.grad.tolist()))\n")
    assert launch(code=code, n=1, timeout=60).result == (True, [0.0, 1.0, 2.0], [[0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("P", RANKS)
def test_hand_written_collectives_equal_mpi_allreduce(P):
    failures = launch(JOBS / "collectives_job.py", n=P, timeout=120).result
    assert failures == []


@pytest.fixture(scope="module")
def single_process_weights():
    return launch(JOBS / "data_parallel_job.py", n=1, args=["plain", 0, 2], timeout=120).result


@pytest.mark.parametrize("P", RANKS)
def test_data_parallel_weights_equal_single_process_large_batch(P, single_process_weights):
    """P ranks with batch 48/P take the steps of one process with batch 48: 10 steps, float64."""
    run = launch(JOBS / "data_parallel_job.py", n=P, args=["plain", 0, 2], timeout=120).result
    for rank_weights in run["weights"]:
        diff = max(np.abs(a - b).max() for a, b in zip(rank_weights, single_process_weights["weights"][0]))
        assert diff <= 1e-12
    assert np.allclose(run["losses"], single_process_weights["losses"], rtol=0, atol=1e-12)
    assert len(run["losses"]) == 10


@pytest.mark.parametrize("P,bucket_bytes", [(2, 1), (2, 4000), (3, 10**9), (4, 4000)])
def test_overlapped_loop_gives_the_weights_of_the_plain_loop(P, bucket_bytes):
    plain = launch(JOBS / "data_parallel_job.py", n=P, args=["plain", 0, 1], timeout=120).result
    over = launch(JOBS / "data_parallel_job.py", n=P, args=["overlap", bucket_bytes, 1], timeout=120).result
    for a_rank, b_rank in zip(plain["weights"], over["weights"]):
        assert max(np.abs(a - b).max() for a, b in zip(a_rank, b_rank)) <= 1e-12


@pytest.mark.parametrize("P,what", [(2, "allreduce"), (3, "broadcast"), (4, "overlap")])
def test_mismatched_shapes_raise_a_clear_error_on_every_rank(P, what, tmp_path):
    launch(JOBS / "mismatch_job.py", n=P, args=[tmp_path, what], timeout=60)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(P)]
    for message in messages:
        assert "ranks hold different parameters" in message
        assert "rank 1 has 4 parameters and parameter 0 is shape (4, 9) float64" in message
        assert "rank 0 has 4 and shape (4, 8) float64" in message
    assert len(set(messages)) == 1  # every rank says the same thing


def test_pingpong_fit_gives_positive_latency_and_bandwidth():
    code = ("import minidl.distributed as d\nfrom mpi4py import MPI\n"
            "n, t = d.measure_pingpong(sizes=(8, 1024, 65536, 8388608), repeats=9)\n"
            "if MPI.COMM_WORLD.rank == 0:\n    d.report((n, t))\n")
    n, t = launch(code=code, n=2, timeout=60).result
    fit = dist.fit_alpha_beta(n, t)
    assert fit.alpha >= 0 and fit.beta > 0 and np.all(t > 0)
    # 8 MB take milliseconds to copy, 8 bytes microseconds: the median of 9 rounds, sizes
    # interleaved, keeps that order unless most rounds of the small message alone are held up
    assert t[-1] > t[0]


@pytest.mark.parametrize("P,what", [(2, "allreduce"), (3, "allreduce"), (3, "broadcast"), (2, "grown"),
                                    (3, "grown")])
def test_a_mismatch_after_calls_that_agreed_raises_on_every_rank_instead_of_hanging(P, what, tmp_path):
    launch(JOBS / "later_mismatch_job.py", n=P, args=[tmp_path, what], timeout=60)
    logs = [(tmp_path / f"rank{r}.txt").read_text().splitlines() for r in range(P)]
    for log in logs:
        assert len(log) == 3 and all(line.startswith(f"call {c}: ok") for c, line in enumerate(log[:2]))
        assert log[2].startswith("call 2: ") and "ranks hold different parameters" in log[2]
    if what == "grown":
        assert "rank 0 has 5 parameters" not in logs[0][2]  # rank 0 is the reference: the others differ from it
        assert "rank 1 has 4 parameters and parameter 4 is nothing, where rank 0 has 5 and shape (3,) float64" \
            in logs[0][2]
    else:
        assert f"rank {P - 1} has 4 parameters and parameter 2 is shape (8, 5) float64, where rank 0 has 4 " \
               "and shape (8, 3) float64" in logs[0][2]
    assert len({log[2] for log in logs}) == 1  # every rank says the same thing
    if what == "allreduce":  # the calls that agreed averaged (1 + ... + P) / P
        assert logs[0][0] == f"call 0: ok {(P + 1) / 2}"


def test_models_rebuilt_between_calls_get_the_right_averages_on_every_rank():
    every = launch(JOBS / "rebuild_job.py", n=2, args=["rerun"], timeout=60).result
    for out, reused in every:
        assert out == ["right"] * 25
        assert reused > 0  # the case that matters did happen: a model at the addresses of an old one


@pytest.mark.parametrize("P", [2, 3])
def test_a_gradient_of_the_wrong_shape_on_one_rank_raises_on_every_rank(P):
    every = launch(JOBS / "rebuild_job.py", n=P, args=["badgrad"], timeout=60).result
    messages = {out[1] for out, _ in every}
    assert all(out[0] == "right" and len(out) == 2 for out, _ in every)
    assert len(messages) == 1  # the same words on every rank
    assert "rank 1: parameter 1 has shape (16,) but its gradient has shape (5,)" in messages.pop()


@pytest.mark.parametrize("mode,passes", [("single", 1), ("no_sync", 3)])
def test_overlapped_allreduce_averages_the_gradient_of_every_backward_pass(mode, passes):
    every = launch(JOBS / "accumulate_job.py", n=2, args=[mode], timeout=60).result
    for result in every:
        assert "error" not in result, result["error"]
        w, v = result["grads"]
        assert w == [passes * 1.5] * 6 and v == [passes * 1.5] * 3  # ranks' sums: passes * 1 and passes * 2
        assert result["mlp_diff"] <= 1e-15  # two micro-batches under no_sync = their summed gradients


def test_a_second_backward_before_wait_raises_on_every_rank_instead_of_losing_the_first():
    every = launch(JOBS / "accumulate_job.py", n=2, args=["double"], timeout=60).result
    for result in every:
        assert "grads" not in result
        assert "second backward" in result["error"] and "no_sync()" in result["error"]


# ---- gradient buckets as views -----------------------------------------------------------------


@pytest.mark.parametrize("P", RANKS)
def test_bucket_views_give_the_gradients_of_packing_bit_for_bit(P):
    """10 SGD steps with momentum, float32: `GradientBuckets` (backward writes g / P into the
    buffer) against `allreduce_gradients` (which packs g * (1/P) into it). Every step's
    averaged gradients and the final weights have the same bits on every rank; the
    overlapped reducer, whose Iallreduce may sum in another order, agrees to rounding."""
    ranks = launch(JOBS / "buckets_job.py", n=P, args=["compare", 10], timeout=180).result
    assert len(ranks) == P
    for run in ranks:
        (g_pack, w_pack), (g_view, w_view), (g_over, w_over) = run["packing"], run["views"], run["overlap"]
        assert len(g_pack) == len(g_view) == 10
        for step_pack, step_view, step_over in zip(g_pack, g_view, g_over):
            for a, b, c in zip(step_pack, step_view, step_over):
                assert a.dtype == b.dtype == np.float32
                assert a.tobytes() == b.tobytes()
                np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)
        for a, b, c in zip(w_pack, w_view, w_over):
            assert a.tobytes() == b.tobytes()
            np.testing.assert_allclose(c, a, rtol=1e-5, atol=1e-6)
    first = ranks[0]["views"][1]
    assert all(all(a.tobytes() == b.tobytes() for a, b in zip(first, r["views"][1])) for r in ranks)


@pytest.mark.parametrize("P,what,rank,expected", [
    (2, "changed", 1, "parameter 3 changed from shape (3,) float32 to shape (1, 3) float32 after the buckets "
                      "were built"),
    (3, "added", 2, "parameter 4 (shape (3,)) was added after the buckets were built with 4 parameters"),
    (4, "replaced", 0, "parameter 1's .grad was replaced by a separate array after backward; change a "
                       "gradient in place (p.grad *= c) instead"),
])
def test_a_bucket_problem_on_one_rank_raises_the_same_error_on_every_rank(P, what, rank, expected, tmp_path):
    launch(JOBS / "buckets_job.py", n=P, args=[tmp_path, what], timeout=60)
    messages = [(tmp_path / f"rank{r}.txt").read_text() for r in range(P)]
    assert len(set(messages)) == 1  # every rank stopped at the same step with the same words
    lines = messages[0].splitlines()
    assert lines[:2] == ["step 0: ok", "step 1: ok"]
    assert lines[2] == (f"step 2: GradientBuckets.allreduce: rank {rank}: {expected}. Nothing was averaged "
                        "and this step's gradients are lost on every rank: fix that (or build the buckets "
                        "again for the model as it is now), then run backward again")


def test_bucket_views_without_a_problem_run_every_step(tmp_path):
    launch(JOBS / "buckets_job.py", n=3, args=[tmp_path, "fine"], timeout=60)
    for r in range(3):
        assert (tmp_path / f"rank{r}.txt").read_text().splitlines() == [f"step {k}: ok" for k in range(4)]
