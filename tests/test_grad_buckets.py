"""Gradients written in place: `Tensor.backward` accumulating into an existing `.grad`,
`Tensor.grad_into`, and `minidl.distributed.GradientBuckets` on one rank (the MPI runs
with 2 to 4 ranks are in test_distributed_mpi.py)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.nn import cross_entropy, mlp
from minidl.tensor import Tensor


def _loss(model, seed=0, n=16):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return cross_entropy(model(Tensor(x)), y)


def test_backward_adds_into_the_existing_grad_array_in_place():
    model = mlp([6, 5, 3], seed=0)
    params = model.parameters()
    _loss(model, seed=1).backward()
    first = [p.grad for p in params]
    kept = [g.copy() for g in first]
    _loss(model, seed=2).backward()
    for p, g in zip(params, first):
        assert p.grad is g  # the same object, not a new array
    # the same bits as the out-of-place sum, computed on a fresh copy of the model
    fresh = mlp([6, 5, 3], seed=0)
    _loss(fresh, seed=2).backward()
    for p, q, k in zip(params, fresh.parameters(), kept):
        expected = k + q.grad
        assert p.grad.tobytes() == expected.tobytes()


def test_a_read_only_or_foreign_grad_is_replaced_not_written():
    x = Tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    x.grad = frozen
    (x * 2.0).sum().backward()
    assert x.grad is not frozen and np.array_equal(x.grad, [2.0, 2.0, 2.0]) and not frozen.any()
    y = Tensor(np.ones(3), requires_grad=True, dtype=np.float32)
    y.grad = np.zeros(3)  # float64 on a float32 tensor: not written in place
    kept = y.grad
    (y * 2.0).sum().backward()
    assert np.array_equal(kept, np.zeros(3)) and np.array_equal(y.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("scale", [1.0, 0.5, 1 / 3])
def test_grad_into_writes_the_scaled_gradient_into_the_given_array(scale):
    x = Tensor(np.arange(4.0), requires_grad=True, dtype=np.float64)
    buf = np.full(6, 7.0)
    view = buf[1:5]
    x.grad_into(view, scale)
    (x * x).sum().backward()
    assert x.grad is view
    assert buf[0] == 7.0 and buf[5] == 7.0  # nothing outside the view
    np.testing.assert_array_equal(view, 2 * np.arange(4.0) * scale)
    (x * 3.0).sum().backward()  # a second pass adds scale * g into the same array
    assert x.grad is view
    np.testing.assert_array_equal(view, 2 * np.arange(4.0) * scale + 3.0 * scale)
    x.grad = None
    x.grad_into(None)
    (x * 1.0).sum().backward()
    assert x.grad is not view and np.array_equal(x.grad, np.ones(4))


def test_grad_into_keeps_the_bits_of_a_copy_then_a_multiply():
    rng = np.random.default_rng(3)
    model = mlp([6, 5, 3], seed=0)
    plain = mlp([6, 5, 3], seed=0)
    buf = np.empty(sum(p.data.size for p in model.parameters()), dtype=np.float32)
    offset = 0
    for p in model.parameters():
        p.grad_into(buf[offset:offset + p.data.size].reshape(p.shape), 1 / 3)
        offset += p.data.size
    seed = int(rng.integers(100))
    _loss(model, seed).backward()
    _loss(plain, seed).backward()
    for p, q in zip(model.parameters(), plain.parameters()):
        assert p.grad.base is buf
        assert p.grad.tobytes() == np.multiply(q.grad, 1 / 3).tobytes()


def test_grad_into_refuses_an_array_that_does_not_fit():
    x = Tensor(np.ones((2, 3)), requires_grad=True, dtype=np.float32)
    with pytest.raises(ValueError, match=r"Tensor.grad_into: got a float32 array of shape \(3, 2\); pass a "
                                         r"writeable float32 array of shape \(2, 3\)"):
        x.grad_into(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match="float64 array of shape"):
        x.grad_into(np.zeros((2, 3)))
    ro = np.zeros((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only float32"):
        x.grad_into(ro)
    with pytest.raises(ValueError, match="got list"):
        x.grad_into([[0.0] * 3] * 2)
    with pytest.raises(ValueError, match="scale = nan"):
        x.grad_into(np.zeros((2, 3), np.float32), float("nan"))
    with pytest.raises(RuntimeError, match="only a leaf"):
        (x * 2.0).grad_into(np.zeros((2, 3), np.float32))


def test_a_gradient_that_no_longer_fits_goes_to_a_new_unscaled_array():
    x = Tensor(np.ones(3), requires_grad=True, dtype=np.float64)
    view = np.zeros(3)
    x.grad_into(view, 0.5)
    x.data = np.ones(4)  # the parameter changed shape after grad_into
    (x * 2.0).sum().backward()
    assert x.grad is not view and np.array_equal(x.grad, np.full(4, 2.0)) and not view.any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.sampled_from([1.0, 0.5, 0.25, 1 / 3]),
       st.integers(1, 3), st.integers(0, 10 ** 6))
def test_grad_into_equals_scaling_the_plain_gradient(hidden, scale, passes, seed):
    """Any MLP, any number of backward passes: the views hold scale * (sum of the plain
    gradients), exactly when the scale is a power of two and to rounding otherwise."""
    sizes = [3, *hidden, 2]
    a, b = mlp(sizes, seed=seed % 1000), mlp(sizes, seed=seed % 1000)
    views = []
    for p in a.parameters():
        views.append(np.empty(p.shape, np.float32))
        p.grad_into(views[-1], scale)
    rng = np.random.default_rng(seed)
    for _ in range(passes):
        x = rng.standard_normal((4, 3)).astype(np.float32)
        y = rng.integers(0, 2, 4)
        cross_entropy(a(Tensor(x)), y).backward()
        cross_entropy(b(Tensor(x)), y).backward()
    for p, q, v in zip(a.parameters(), b.parameters(), views):
        assert p.grad is v
        if scale in (1.0, 0.5, 0.25) or passes == 1:
            assert np.array_equal(v, np.multiply(q.grad, scale))
        np.testing.assert_allclose(v, q.grad * scale, rtol=1e-5, atol=1e-7)


# ---- GradientBuckets on one rank (MPI.COMM_SELF) ---------------------------------------------


def _self():
    from mpi4py import MPI
    return MPI.COMM_SELF


def test_buckets_on_one_rank_hold_every_gradient_as_a_view_of_one_buffer():
    import minidl.distributed as dist
    model = mlp([6, 5, 3], seed=0)
    plain = mlp([6, 5, 3], seed=0)
    params = model.parameters()
    buckets = dist.GradientBuckets(params, _self())
    assert len(buckets.buckets) == 1 and buckets.scale == 1.0
    buf = buckets.buckets[0].buffer
    assert buf.size == sum(p.data.size for p in params)
    for step in range(3):
        model.zero_grad()
        plain.zero_grad()
        _loss(model, step).backward()
        _loss(plain, step).backward()
        buckets.allreduce(model.parameters())
        for p, q in zip(params, plain.parameters()):
            assert p.grad.base is buckets.buckets[0].wire and p.grad.tobytes() == q.grad.tobytes()
    buckets.close()
    kept = [p.grad for p in params]
    model.zero_grad()
    _loss(model, 0).backward()
    assert all(p.grad.base is None for p in params) and not np.shares_memory(kept[0], buf)


def test_an_unused_parameter_gets_zeros_and_an_existing_gradient_moves_into_the_buffer():
    import minidl.distributed as dist
    w = Tensor(np.ones(3), requires_grad=True)
    unused = Tensor(np.ones(2), requires_grad=True)
    w.grad = np.full(3, 4.0, np.float32)
    buckets = dist.GradientBuckets([w, unused], _self(), average=False)
    assert np.array_equal(w.grad, [4.0, 4.0, 4.0]) and np.shares_memory(w.grad, buckets.buckets[0].wire)
    unused.grad = np.full(2, 9.0, np.float32)  # replaced: refused, with the parameter named
    with pytest.raises(ValueError, match=r"rank 0: parameter 1's .grad was replaced by a separate array"):
        buckets.allreduce()
    unused.grad = None
    (w * 2.0).sum().backward()  # adds 2 to the 4 already there, in the buffer
    buckets.allreduce()
    assert np.array_equal(w.grad, [6.0, 6.0, 6.0]) and np.array_equal(unused.grad, [0.0, 0.0])


def test_buckets_refuse_a_listed_twice_parameter_and_name_added_or_removed_ones():
    import minidl.distributed as dist
    a, b = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="a parameter is listed twice"):
        dist.GradientBuckets([a, a], _self())
    buckets = dist.GradientBuckets([a, b], _self(), bucket_bytes=4)
    assert [bk.params for bk in buckets.buckets] == [[b], [a]]  # last first, one per bucket
    c = Tensor(np.ones(4), requires_grad=True)
    with pytest.raises(ValueError, match=r"parameter 2 \(shape \(4,\)\) was added after the buckets were built "
                                         r"with 2 parameters"):
        buckets.allreduce([a, b, c])
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(2,\)\) was removed"):
        buckets.allreduce([a])
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(4,\)\) is not the one the buckets were built "
                                         r"with \(shape \(3,\)\)"):
        buckets.allreduce([c, b])
    with pytest.raises(ValueError, match="positive size"):
        dist.GradientBuckets([a, b], _self(), bucket_bytes=0)

