"""The extended step model of `minidl.distributed.node`, the gamma term of the ring, and
the calibrations it is fed with (on one rank here; the benchmark test runs them on two)."""
import os

import pytest

import minidl.distributed as dist
from minidl.distributed import launch, node
from minidl.distributed.launcher import KEEP_MEMORY


def test_ring_time_adds_the_reductions_gamma_term():
    n, a, b, g = 4e6, 1e-5, 1e-10, 3e-10
    for P in (1, 2, 3, 8):
        assert dist.ring_time(n, P, a, b, g) == pytest.approx(2 * (P - 1) * a + 2 * (P - 1) / P * n * b
                                                              + (P - 1) / P * n * g)
    assert dist.ring_time(n, 4, a, b) == dist.ring_time(n, 4, a, b, 0.0)


def test_predict_step_adds_the_terms_and_names_the_largest():
    m = node.predict_step(compute=8e-3, optimizer=0.5e-3, n=4e6, P=2, alpha=2e-6, beta=1e-10, gamma=5e-11,
                          contention=1.25, faults=100, fault_seconds=2e-6)
    assert m.compute == pytest.approx(10e-3)
    assert m.optimizer == 0.5e-3 and m.latency == pytest.approx(4e-6)
    assert m.transfer == pytest.approx(4e6 * 1e-10) and m.reduction == pytest.approx(2e6 * 5e-11)
    assert m.page_faults == pytest.approx(2e-4)
    assert m.allreduce == pytest.approx(m.latency + m.transfer + m.reduction)
    assert m.total == pytest.approx(10e-3 + 0.5e-3 + 4e-6 + 4e-4 + 1e-4 + 2e-4)
    assert m.dominant() == "compute"
    slow_link = node.predict_step(1e-3, 1e-4, 4e6, 8, alpha=50e-6, beta=0.8e-9)
    assert slow_link.dominant() == "transfer"
    assert node.predict_step(1e-3, 1e-4, 4e6, 1, 1e-6, 1e-10).allreduce == 0  # one rank sends nothing
    faulty = node.predict_step(1e-3, 1e-4, 4e6, 2, 1e-6, 1e-10, faults=2000, fault_seconds=2.5e-6)
    assert faulty.dominant() == "page_faults"
    packed = node.predict_step(1e-3, 1e-4, 4e6, 2, 1e-6, 1e-10, copy=1e-10)
    assert packed.packing == pytest.approx(4e-4) and packed.allreduce == pytest.approx(2e-6 + 4e-4 + 4e-4)
    assert node.predict_step(1e-3, 1e-4, 4e6, 1, 1e-6, 1e-10, copy=1e-10).packing == 0  # one rank packs nothing


@pytest.mark.parametrize("bad,match", [
    ({"compute": -1.0}, "compute = -1.0"), ({"beta": float("nan")}, "beta = nan"),
    ({"contention": 0.5}, "contention = 0.5; it is a slowdown"), ({"P": 0}, "P = 0"),
    ({"faults": -3}, "faults = -3"), ({"n": -5}, "n = -5"), ({"copy": float("inf")}, "copy = inf"),
])
def test_predict_step_refuses_impossible_inputs(bad, match):
    args = {"compute": 1e-3, "optimizer": 1e-4, "n": 1e6, "P": 2, "alpha": 1e-6, "beta": 1e-10, **bad}
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        node.predict_step(**args)


def test_the_calibrations_give_positive_finite_rates_on_one_rank():
    from mpi4py import MPI
    comm = MPI.COMM_SELF
    gamma = node.measure_reduction(comm, 1 << 20, repeats=3)
    assert 0 < gamma < 1e-6  # below a microsecond per byte on anything that runs numpy
    fault = node.measure_page_fault(pages=64, repeats=2)
    assert 0 < fault < 1e-3
    assert node.measure_contention(comm, lambda: None) == 1.0
    assert node.median_time(lambda: None, 3) >= 0
    copy = node.measure_reduction(comm, 1 << 20, repeats=3, op="copy")
    assert 0 < copy < 1e-6
    with pytest.raises(ValueError, match="nbytes = 2"):
        node.measure_reduction(comm, 2)
    with pytest.raises(ValueError, match="op = 'mul'"):
        node.measure_reduction(comm, 1024, op="mul")


def test_launch_keeps_freed_memory_in_the_ranks_unless_told_not_to():
    code = ("import os\nimport minidl.distributed as d\n"
            "d.report({k: os.environ.get(k) for k in ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_', "
            "'MALLOC_TOP_PAD_')})\n")
    assert launch(code=code, n=1, timeout=60).result == KEEP_MEMORY
    if not any(k in os.environ for k in KEEP_MEMORY):
        assert launch(code=code, n=1, timeout=60, keep_memory=False).result == dict.fromkeys(KEEP_MEMORY)
    mine = launch(code=code, n=1, timeout=60, env={"MALLOC_TOP_PAD_": "0"}).result
    assert mine["MALLOC_TOP_PAD_"] == "0"  # a value the caller gives wins


def test_a_cold_pingpong_runs_and_fits():
    code = ("import minidl.distributed as d\n"
            "s, t = d.measure_pingpong(sizes=(8, 4096, 1 << 20), repeats=3, cold=True)\n"
            "f = d.fit_alpha_beta(s, t)\nd.report((list(t), f.alpha, f.beta))\n")
    times, alpha, beta = launch(code=code, n=2, timeout=120).result
    assert len(times) == 3 and all(t > 0 for t in times) and alpha >= 0 and beta > 0
