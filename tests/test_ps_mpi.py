"""minidl.ps.mpi: server ranks and worker ranks over MPI (mpiexec subprocesses with timeouts):
no lost update, the SSP bound on every pull, BSP equal to the simulator update for update, bad
pushes refused with nothing changed on any server, a silent worker named and removed or reported;
and the client's API on the threaded server."""
import re
from pathlib import Path

import numpy as np
import pytest

from minidl.bench import ps_mpi
from minidl.distributed import launch
from minidl.ps import ASP, BSP, SGD, ComputeTime, KeyLayout, ParameterServer, moons_task, simulate
from minidl.ps.mpi import LocalClient, ServerRank, shard_bounds

JOB = Path(__file__).parent / "mpi_jobs_ps" / "ps_job.py"


def job(*args, timeout=240):
    return launch(JOB, n=6, args=[str(a) for a in args], timeout=timeout).result


def test_four_workers_times_10000_pushes_over_two_server_ranks_lose_no_update():
    out = job("sum", 10_000, timeout=400)
    # worker w pushes -(w + 1) with SGD(1): every float gains (1 + 2 + 3 + 4) * 10,000, exactly
    assert np.array_equal(out["params"], np.full(24, 100_000.0))


@pytest.mark.parametrize("policy, bound", [("BSP", 0), ("SSP2", 2), ("ASP", None)])
def test_every_pull_over_mpi_respects_the_policy_bound(policy, bound):
    out = job("train", policy, 8)
    assert not out["errors"] and len(out["pushes"]) == 4 * 8
    gaps = [c - min(clocks.values()) for _, _, c, clocks in out["reads"]]
    assert len(out["reads"]) == 2 * 4 * 8  # every pull asked both server ranks
    if bound is not None:
        assert max(gaps) <= bound
    if policy == "BSP":
        assert not out["pushes"][:, 3].any()  # staleness 0 under BSP


def test_bsp_over_mpi_equals_bsp_in_the_simulator_update_for_update():
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    compute = ComputeTime(0.002, (1, 1, 1, 3), jitter=0.5, seed=1)
    for clocks in (1, 3, 6):
        out = job("train", "BSP", clocks)
        sim = simulate(task, BSP(), 4, compute, rule=SGD(0.1), n_shards=2, updates=4 * clocks)
        moved = np.abs(sim.server.snapshot() - task.init()).max()
        assert moved > 0.05
        # the same updates; only the order of the four additions within a clock may differ
        np.testing.assert_allclose(out["params"], sim.server.snapshot(), rtol=0, atol=1e-12)


def test_bsp_over_mpi_reads_no_update_of_its_own_clock_even_without_compute_time():
    # with no compute time a fast worker's push races the others' pulls; the barrier copy wins
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    out = job("train", "BSP", 6, "nodelay")
    sim = simulate(task, BSP(), 4, rule=SGD(0.1), n_shards=2, updates=24)
    np.testing.assert_allclose(out["params"], sim.server.snapshot(), rtol=0, atol=1e-12)


def test_wrong_key_length_or_nan_is_refused_and_no_server_changes():
    out = job("bad")
    assert np.array_equal(out["params"], np.zeros(24))
    for errors, pulled in out["workers"][2:]:
        assert np.array_equal(pulled, np.zeros(24))
        assert "key range [6, 9) leaves 0 .. 7" in errors[0]
        assert "hold 12 floats but 11 values" in errors[1]
        assert "non-finite values (1 NaN) for keys [7]" in errors[2] and "nothing was applied" in errors[2]
        assert "not one contiguous range" in errors[3]
    assert out["workers"][2][0][4] == 2  # server rank 1 refused a raw header for keys it does not hold


def test_a_silent_worker_under_bsp_is_named_then_removed_or_reported():
    removed = job("crash", "remove")
    assert {(s, w, c) for s, w, c, _ in removed["removed"]} == {(0, 3, 2), (1, 3, 2)}
    assert not removed["errors"] and len(removed["pushes"]) == 3 * 6 + 2
    stopped = job("crash", "stop")
    assert sorted(stopped["errors"]) == [0, 1, 2]
    assert all("worker 3 lags at clock 2" in e for e in stopped["errors"].values())


@pytest.mark.parametrize("every, resumed_at", [(3, 6), (4, 4)])
def test_a_killed_server_rank_restarts_from_the_last_checkpoint_and_finishes_as_if_never_stopped(
        tmp_path, every, resumed_at):
    path = str(tmp_path / "ck")
    killed = launch(JOB, n=6, args=["restart", path, every, "kill"], timeout=240, check=False)
    assert killed.result is None  # server rank 1 died at clock 7: the job did not finish
    out = job("restart", path, every, "resume")
    assert out["start"] == resumed_at  # clocks lost: 7 - resumed_at, less than `every`
    assert len(out["pushes"]) == 4 * (10 - resumed_at) and {c for c, _ in out["saves"]} <= {8, 9, 10}
    task = moons_task(n=256, hidden=(16,), batch=16, seed=0)
    sim = simulate(task, BSP(), 4, rule=SGD(0.1), n_shards=2, updates=40)
    np.testing.assert_allclose(out["params"], sim.server.snapshot(), rtol=0, atol=1e-12)


def test_checkpoints_need_bsp_and_say_why():
    class Comm:  # the two calls ServerRank makes before serving
        def Get_rank(self):
            return 0

        def Get_size(self):
            return 3

    with pytest.raises(ValueError, match="consistent cut at the barrier"):
        ServerRank(Comm(), KeyLayout.uniform(4, 2), np.zeros(8), 2, policy=ASP(), checkpoint="x", every=2)


def test_shard_bounds_are_those_of_the_one_process_server():
    layout = KeyLayout([3, 5, 7, 2, 2, 9, 1])
    for n in (1, 2, 3):
        assert np.array_equal(shard_bounds(layout, n), ParameterServer(layout, n_shards=n).bounds)


def test_local_client_is_the_threaded_server_behind_the_same_three_calls():
    server = ParameterServer(KeyLayout.uniform(4, 2), n_workers=2, policy=ASP(), rule=SGD(1.0))
    a, b = LocalClient(server, 0), LocalClient(server, 1)
    a.push(range(0, 2), -np.ones(4))
    assert a.clock() == 1
    b.push(None, -np.ones(8))
    assert np.array_equal(b.pull(), [2, 2, 2, 2, 1, 1, 1, 1])


def test_benchmark_prints_a_row_per_server_count_and_the_ratios(capsys):
    assert ps_mpi.main(["--servers", "1", "2", "--workers", "2", "--rounds", "2", "--floats", "5000"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines if re.match(r"^\s+[12]\s+\d", line)]
    assert [r[0] for r in rows] == ["1", "2"] and all(float(x) > 0 for r in rows for x in r[1:])
    assert lines[-1].startswith("ratios:") and len(re.findall(r"[\d.]+x", lines[-1])) == 4
