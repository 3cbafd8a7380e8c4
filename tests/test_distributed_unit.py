"""minidl.distributed in one process: the ring as data, the cost model, buckets, hooks, error paths."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl.distributed as dist
from minidl.distributed.collectives import chunk_bounds
from minidl.distributed.data_parallel import _digest
from minidl.nn import cross_entropy, mlp
from minidl.tensor import Tensor

# ---- the ring as data -------------------------------------------------------------


@given(P=st.integers(1, 9))
def test_ring_schedule_has_every_rank_send_once_and_receive_once_per_step(P):
    steps = dist.ring_schedule(P)
    assert len(steps) == 2 * (P - 1)
    for step in steps:
        assert sorted(s for s, _, _ in step) == list(range(P))
        assert sorted(d for _, d, _ in step) == list(range(P))
        assert all(d == (s + 1) % P for s, d, _ in step)


@given(P=st.integers(1, 7), n=st.integers(0, 40), seed=st.integers(0, 2**16))
@settings(max_examples=60, deadline=None)
def test_simulated_ring_leaves_the_sum_on_every_rank(P, n, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.integers(-50, 50, n).astype(float) for _ in range(P)]
    results, snapshots = dist.simulate_ring(arrays)
    total = np.sum(arrays, axis=0)
    for r in results:
        np.testing.assert_array_equal(r, total)
    assert len(snapshots) == 2 * (P - 1) + 1


@given(P=st.integers(2, 7), n=st.integers(1, 40))
def test_after_the_reduce_scatter_rank_r_owns_the_sum_of_chunk_r_plus_1(P, n):
    arrays = [np.full(n, 2.0 ** r) for r in range(P)]  # distinct powers: a sum shows who contributed
    _, snapshots = dist.simulate_ring(arrays)
    after = snapshots[P - 1]
    bounds = chunk_bounds(n, P)
    for r in range(P):
        c = (r + 1) % P
        np.testing.assert_array_equal(after[r][bounds[c]:bounds[c + 1]], 2.0 ** P - 1)


def test_chunks_differ_in_size_by_at_most_one_and_cover_the_array():
    b = chunk_bounds(10, 4)
    assert b.tolist() == [0, 3, 6, 8, 10]
    assert chunk_bounds(2, 4).tolist() == [0, 1, 2, 2, 2]


def test_simulate_ring_rejects_arrays_of_different_sizes():
    with pytest.raises(ValueError, match="one size"):
        dist.simulate_ring([np.zeros(3), np.zeros(4)])


# ---- the cost model ---------------------------------------------------------------


def test_ring_cost_is_the_formula_and_nearly_independent_of_P_for_large_messages():
    a, b, n = 1e-5, 1e-9, 1e8
    assert dist.ring_time(n, 4, a, b) == pytest.approx(6 * a + 1.5 * n * b)
    assert dist.ring_time(n, 1, a, b) == 0
    assert dist.ring_time(n, 64, a, b) / dist.ring_time(n, 2, a, b) < 2.0  # bandwidth term -> 2 n beta


def test_recursive_doubling_wins_for_small_messages_and_ring_for_large():
    a, b, P = 1e-5, 1e-9, 8
    assert dist.recursive_doubling_time(8, P, a, b) < dist.ring_time(8, P, a, b)
    assert dist.ring_time(1e8, P, a, b) < dist.recursive_doubling_time(1e8, P, a, b)
    assert dist.recursive_doubling_time(100, 8, a, b) == pytest.approx(3 * (a + 100 * b))
    assert dist.recursive_doubling_time(100, 6, a, b) == pytest.approx(4 * (a + 100 * b))


def test_naive_and_parameter_server_costs_grow_linearly_with_P():
    a, b, n = 1e-5, 1e-9, 1e6
    assert dist.naive_time(n, 5, a, b) == pytest.approx(8 * (a + n * b))
    assert dist.parameter_server_time(n, 4, a, b, shards=2) == pytest.approx(8 * (a + n / 2 * b))
    with pytest.raises(ValueError, match="positive integer"):
        dist.naive_time(n, 0, a, b)


def test_domain_parallel_communication_adds_halos_to_the_batch_allreduce():
    layer = dist.cost.ConvLayer(x_w=32, x_c=3, y_w=32, y_c=64, k_h=3, k_w=3, weight_bytes=4 * 1728)
    batch = dist.t_comm_batch([layer.weight_bytes], 4, 1e-6, 1e-9)
    assert batch == pytest.approx(2 * (1e-6 * 2 + 1e-9 * 0.75 * 4 * 1728))
    domain = dist.t_comm_domain([layer], B=64, P=4, alpha=1e-6, beta=1e-9)
    halo = 2e-6 + 1e-9 * 64 * 4 * (32 * 3 * 1 + 32 * 64 * 1)  # floor(3 / 2) = 1 halo row each way
    assert domain == pytest.approx(batch + halo)


def test_fit_recovers_alpha_and_beta_from_exact_times():
    n = np.array([8, 1e3, 1e5, 1e7])
    fit = dist.fit_alpha_beta(n, 2e-6 + n * 5e-10)
    assert fit.alpha == pytest.approx(2e-6, rel=1e-9)
    assert fit.beta == pytest.approx(5e-10, rel=1e-9)
    assert fit.bandwidth == pytest.approx(2e9)
    assert fit.max_rel_error < 1e-9


def test_fit_needs_two_sizes_and_positive_times():
    with pytest.raises(ValueError, match="two different sizes"):
        dist.fit_alpha_beta([8, 8], [1e-6, 1e-6])
    with pytest.raises(ValueError, match="positive"):
        dist.fit_alpha_beta([8, 16], [1e-6, 0.0])


def test_strong_scaling_efficiency_falls_as_communication_takes_over():
    s = dist.strong_scaling(1.0, 4e6, [1, 2, 4, 8], alpha=1e-5, beta=1e-9)
    assert s["speedup"][0] == pytest.approx(1.0)
    assert np.all(np.diff(s["efficiency"]) < 0)
    assert s["step"][1] == pytest.approx(0.5 + dist.ring_time(4e6, 2, 1e-5, 1e-9))
    with pytest.raises(ValueError, match="unknown algorithm"):
        dist.strong_scaling(1.0, 1.0, [1], 1e-5, 1e-9, algorithm="tree")


def test_simulated_overlap_hides_communication_behind_backward():
    tl, overlapped, plain = dist.simulate_overlap([1e-3] * 4, [4e6] * 4, bucket_bytes=4e6,
                                                  alpha=1e-5, beta=1e-10, P=4)
    comm = dist.ring_time(4e6, 4, 1e-5, 1e-10)
    assert plain == pytest.approx(4e-3 + dist.ring_time(16e6, 4, 1e-5, 1e-10))
    assert overlapped == pytest.approx(4e-3 + comm)  # only the last bucket is exposed
    assert overlapped < plain
    assert len([s for s in tl.spans if s.kind == "allreduce"]) == 4


# ---- buckets and hooks ------------------------------------------------------------


def test_buckets_take_parameters_last_layer_first():
    model = mlp([10, 20, 30, 5], dtype=np.float64)
    params = model.parameters()
    buckets = dist.make_buckets(params, bucket_bytes=30 * 5 * 8)
    assert buckets[0].params[0] is params[-1]
    flat = [p for b in buckets for p in b.params]
    assert flat == params[::-1]
    assert all(b.nbytes >= 30 * 5 * 8 for b in buckets[:-1])
    assert len(dist.make_buckets(params, bucket_bytes=10**9)) == 1
    assert len(dist.make_buckets(params, bucket_bytes=1)) == len(params)
    with pytest.raises(ValueError, match="positive size"):
        dist.make_buckets(params, 0)


def test_hook_fires_once_with_the_final_gradient_last_layer_first():
    model = mlp([3, 4, 2], dtype=np.float64)
    params = model.parameters()
    seen = []
    for p in params:
        p.register_hook(lambda t: seen.append((id(t), t.grad.copy())))
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)))
    h = model(x)
    loss = cross_entropy(h, [0, 1, 0, 1, 1]) + (h * h).sum()  # the output used twice
    loss.backward()
    assert [i for i, _ in seen] == [id(p) for p in reversed(params)]
    for (_, g), p in zip(seen, reversed(params)):
        np.testing.assert_array_equal(g, p.grad)


def test_removed_hook_no_longer_fires():
    w = Tensor(np.ones(3), requires_grad=True)
    calls = []
    remove = w.register_hook(lambda t: calls.append(1))
    (w * 2).sum().backward()
    remove()
    (w * 2).sum().backward()
    assert calls == [1]


# ---- errors without MPI: a stand-in communicator ----------------------------------------


class FakeComm:
    """Looks like a communicator whose other ranks hold `others` and never answer."""

    def __init__(self, size=2, others=None):
        self.size, self.others = size, others

    def Get_size(self):
        return self.size

    def Get_rank(self):
        return 0

    def allgather(self, mine):  # (signature, local error) from every rank
        return [mine] + [(self.others, None) if self.others is not None else mine] * (self.size - 1)

    def Allreduce(self, sendbuf, recvbuf, op):  # the signature check: min over the ranks
        from mpi4py import MPI
        assert sendbuf is MPI.IN_PLACE and op == MPI.MIN
        if self.others is not None:
            d = _digest(tuple((shape, np.dtype(dtype).str) for shape, dtype in self.others))
            np.minimum(recvbuf, np.concatenate([d, [0], -d, [0]]), out=recvbuf)

    def Iallreduce(self, *args, **kwargs):
        class Never:
            def Test(self):
                return False
        return Never()


def test_shape_check_names_the_rank_and_the_parameter_that_differ():
    mine = mlp([4, 8, 3], dtype=np.float64).parameters()
    theirs = [((4, 8), "float64"), ((8,), "float64"), ((8, 3), "float64")]
    with pytest.raises(ValueError, match=r"rank 1 has 3 parameters and parameter 3 is nothing, "
                                         r"where rank 0 has 4 and shape \(3,\) float64"):
        dist.check_same_parameters(mine, FakeComm(others=theirs))


def test_overlapped_wait_times_out_when_another_rank_never_joins():
    model = mlp([3, 4, 2], dtype=np.float64)
    reducer = dist.OverlappedAllreduce(model.parameters(), FakeComm(), timeout=0.2)
    cross_entropy(model(Tensor(np.ones((2, 3)))), [0, 1]).backward()
    with pytest.raises(TimeoutError, match=r"rank 0: buckets \[0\] not reduced after 0.2 s"):
        reducer.wait()
    reducer.close()
    assert all(not p._hooks for p in model.parameters())


def test_data_parallel_batch_must_divide_among_the_ranks():
    from minidl.optim import SGD
    model = mlp([3, 2], dtype=np.float64)
    with pytest.raises(ValueError, match="global batch 10 is not a multiple of 3 ranks"):
        dist.train_data_parallel(model, SGD(model.parameters(), 0.1), np.ones((20, 3)), np.zeros(20, int),
                                 global_batch=10, comm=FakeComm(size=3))


def test_local_batches_of_all_ranks_partition_the_global_batch():
    x, y = np.arange(12.0)[:, None], np.arange(12)
    parts = [dist.local_batch(x, y, r, 3) for r in range(3)]
    assert sorted(np.concatenate([p[1] for p in parts]).tolist()) == list(range(12))
    assert all(len(p[0]) == 4 for p in parts)
    assert math.isclose(sum(p[0].mean() for p in parts) / 3, x.mean())


# ---- launching: the command line for MPICH and for Open MPI ---------------------------------


def test_open_mpi_gets_root_and_oversubscribe_flags_mpich_needs_none(monkeypatch):
    from minidl.distributed.launcher import placement_flags
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert placement_flags("mpich", 4) == []
    assert placement_flags("openmpi", 4) == ["--allow-run-as-root", "--oversubscribe"]
    assert placement_flags("openmpi", 2) == ["--allow-run-as-root"]
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert placement_flags("openmpi", 2, hosts=["a", "b"]) == ["--host", "a,b"]


def test_hosts_and_hostfile_use_each_launchers_spelling():
    from minidl.distributed.launcher import placement_flags
    assert placement_flags("mpich", 8, hostfile="hosts.txt") == ["-f", "hosts.txt"]
    assert placement_flags("mpich", 8, hosts="n1,n2") == ["-hosts", "n1,n2"]
    assert placement_flags("openmpi", 8, hostfile="hosts.txt")[:2] == ["--hostfile", "hosts.txt"]


def test_the_command_uses_this_pythons_mpiexec_and_mpi4py_abort_on_error():
    import sys
    from pathlib import Path

    from minidl.distributed.launcher import command, flavor
    cmd = command("job.py", 3, ["--x", 1])
    assert Path(cmd[0]).parent == Path(sys.executable).parent
    assert flavor(cmd[0]) == "mpich"
    assert cmd[1:3] == ["-n", "3"] and cmd[-5:] == ["-m", "mpi4py", "job.py", "--x", "1"]


# ---- the reduction buffers: reused, never confused -----------------------------------------


class LoopbackComm(FakeComm):
    """P ranks that all hold what this one holds: a sum over ranks is P times the local value."""

    def Allreduce(self, sendbuf, recvbuf, op):
        from mpi4py import MPI
        assert sendbuf is MPI.IN_PLACE
        if op == MPI.SUM:
            recvbuf *= self.size


def reduced(sizes, comm, seed=0):
    """allreduce_gradients (average) over a fresh float32 MLP whose gradients are 1, 2, 3, ..."""
    params = mlp(sizes, seed=seed).parameters()
    for k, p in enumerate(params):
        p.grad = np.full(p.data.shape, k + 1.0, dtype=p.data.dtype)
    dist.allreduce_gradients(params, comm)
    return params


def test_a_new_larger_model_whose_parameters_get_the_old_ones_ids_gets_a_buffer_of_its_own(monkeypatch):
    import minidl.distributed.data_parallel as dp
    monkeypatch.setattr(dp, "id", lambda obj: 12345, raising=False)  # CPython reusing every address
    comm = LoopbackComm(size=2)
    reduced([3, 4, 2], comm)
    for sizes in ([3, 9, 2], [5, 9, 9, 2], [2, 2]):  # re-running a notebook cell with other sizes
        params = reduced(sizes, comm)
        assert [float(p.grad.flat[0]) for p in params] == [k + 1.0 for k in range(len(params))]
        assert all(p.grad.shape == p.data.shape for p in params)


def test_gradients_of_two_live_models_of_one_shape_do_not_share_a_buffer():
    comm = LoopbackComm(size=2)
    a = reduced([3, 4, 2], comm)
    b = reduced([3, 4, 2], comm)
    assert not any(np.shares_memory(p.grad, q.grad) for p in a for q in b)
    assert [float(p.grad.flat[0]) for p in a] == [1.0, 2.0, 3.0, 4.0]


def test_a_parameter_whose_data_grew_in_place_gets_a_larger_buffer():
    comm = LoopbackComm(size=2)
    params = reduced([3, 4, 2], comm)
    params[0].data = np.zeros((3, 40), dtype=np.float32)  # the same Tensor object, more numbers
    params[0].grad = np.ones((3, 40), dtype=np.float32)
    dist.allreduce_gradients(params, comm)
    assert params[0].grad.shape == (3, 40) and float(params[0].grad.sum()) == 120.0


# ---- accumulating over several backward passes with the overlapped reducer ----------------


class CountingComm(FakeComm):
    def __init__(self):
        super().__init__()
        self.started = 0

    def Iallreduce(self, *args, **kwargs):
        self.started += 1
        return super().Iallreduce(*args, **kwargs)


def test_no_sync_sends_nothing_and_the_next_backward_sends_the_sums():
    model = mlp([3, 4, 2], dtype=np.float64)
    comm = CountingComm()
    reducer = dist.OverlappedAllreduce(model.parameters(), comm, bucket_bytes=1, timeout=0.1)
    x = Tensor(np.ones((2, 3)))
    with reducer.no_sync():
        cross_entropy(model(x), [0, 1]).backward()
        cross_entropy(model(x), [0, 1]).backward()
    assert comm.started == 0
    once = [p.grad.copy() for p in model.parameters()]
    cross_entropy(model(x), [0, 1]).backward()
    assert comm.started == 4  # one bucket per parameter
    packed = np.concatenate([b.buffer for b in reducer.buckets])
    expected = np.concatenate([1.5 * g.reshape(-1) for g in reversed(once)])  # three passes, not two
    np.testing.assert_allclose(packed, expected, rtol=1e-12)


def test_a_second_backward_before_wait_raises_and_no_sync_too_late_raises():
    model = mlp([3, 4, 2], dtype=np.float64)
    reducer = dist.OverlappedAllreduce(model.parameters(), FakeComm(), timeout=0.1)
    x = Tensor(np.ones((2, 3)))
    cross_entropy(model(x), [0, 1]).backward()
    with pytest.raises(RuntimeError, match=r"rank 0: a second backward\(\) before wait\(\).*no_sync"):
        cross_entropy(model(x), [0, 1]).backward()
    with pytest.raises(RuntimeError, match="enter no_sync"):
        with reducer.no_sync():
            pass
