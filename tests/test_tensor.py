"""Tensor autograd: every op against central differences in float64, broadcasting,
reductions over each axis, modes and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.gradcheck import max_errors, numeric_grad_arrays
from minidl.tensor import Tensor, no_grad, unbroadcast


def check_grads(f, *arrays, tol=1e-7):
    """Backprop of sum(f(*tensors) * weights) against central differences."""
    rng = np.random.default_rng(0)
    out_shape = f(*[Tensor(a, dtype=np.float64) for a in arrays]).shape
    weights = rng.standard_normal(out_shape)  # a random projection tests every output entry
    leaves = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays]
    (f(*leaves) * weights).sum().backward()
    analytic = [t.grad for t in leaves]
    numeric = numeric_grad_arrays(
        lambda *xs: float((f(*[Tensor(x, dtype=np.float64) for x in xs]).data * weights).sum()), arrays)
    abs_err, rel_err = max_errors(analytic, numeric)
    assert abs_err < tol, (abs_err, rel_err)
    return analytic


R = np.random.default_rng(1)
A = R.standard_normal((3, 4))
B = R.standard_normal((3, 4))
POS = R.uniform(0.5, 2.0, (3, 4))

UNARY = {
    "neg": lambda a: -a, "exp": lambda a: a.exp(), "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(), "relu": lambda a: a.relu(), "square": lambda a: a ** 2,
    "cube": lambda a: a ** 3, "transpose": lambda a: a.T, "reshape": lambda a: a.reshape(2, 6),
    "index_row": lambda a: a[1], "slice": lambda a: a[:, 1:3], "fancy": lambda a: a[[0, 2, 0]],
    "log_softmax_rows": lambda a: a.log_softmax(axis=1), "log_softmax_cols": lambda a: a.log_softmax(axis=0),
    "rsub": lambda a: 2.0 - a, "rmul": lambda a: 3.0 * a,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_op_gradient_matches_central_differences(name):
    check_grads(UNARY[name], A)


@pytest.mark.parametrize("name, f", [("log", lambda a: a.log()), ("sqrt", lambda a: a ** 0.5),
                                     ("rdiv", lambda a: 1.0 / a), ("inverse", lambda a: a ** -1)])
def test_positive_domain_op_gradient_matches_central_differences(name, f):
    check_grads(f, POS)


@pytest.mark.parametrize("name, f", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b),
                                     ("mul", lambda a, b: a * b), ("div", lambda a, b: a / (b * b + 1.0))])
@pytest.mark.parametrize("shape_b", [(3, 4), (4,), (1, 4), (3, 1), (1, 1), ()])
def test_broadcast_binary_op_gradient_is_summed_over_broadcast_axes(name, f, shape_b):
    grads = check_grads(f, A, R.standard_normal(shape_b))
    assert grads[1].shape == shape_b


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_gradient_over_each_axis(reduce, axis, keepdims):
    x = R.standard_normal((2, 3, 4))
    check_grads(lambda a: getattr(a, reduce)(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (4, 5)),
                                    ((3, 4), (2, 4, 5))])
def test_matmul_gradient_2d_and_batched(shapes):
    check_grads(lambda a, b: a @ b, R.standard_normal(shapes[0]), R.standard_normal(shapes[1]))


def test_transpose_with_axes_gradient():
    check_grads(lambda a: a.transpose(2, 0, 1), R.standard_normal((2, 3, 4)))


def test_max_splits_gradient_evenly_between_tied_winners():
    x = Tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]


def test_repeated_fancy_index_accumulates():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    assert x.grad.tolist() == [2.0, 1.0]


def test_log_softmax_is_stable_for_huge_logits():
    x = Tensor([[1000.0, 0.0, -1000.0]])
    out = x.log_softmax(axis=1).data
    assert np.isfinite(out).all() and out[0, 0] == 0.0 and out[0, 1] == -1000.0


def test_sigmoid_is_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise"):
        s = Tensor([-1000.0, 0.0, 1000.0]).sigmoid().data
    assert s.tolist() == [0.0, 0.5, 1.0]


@settings(max_examples=60, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["+", "-", "*"]))
def test_random_broadcast_shapes_match_central_differences(shapes, op):
    a, b = (np.random.default_rng(2).standard_normal(s) for s in shapes.input_shapes)
    f = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}[op]
    grads = check_grads(f, a, b)
    assert [g.shape for g in grads] == list(shapes.input_shapes)


@settings(max_examples=40, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.data())
def test_random_shape_reductions_match_central_differences(shape, data):
    axis = data.draw(st.sampled_from([None, *range(len(shape))]))
    x = np.random.default_rng(3).standard_normal(shape)
    check_grads(lambda a: (a.tanh() * a).sum(axis=axis), x)


def test_unbroadcast_sums_prepended_and_stretched_axes():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 1)).tolist() == [[8.0]] * 3
    assert unbroadcast(g, ()).item() == 24.0


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_no_grad_records_no_graph_and_detach_cuts_it():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        y = x * 2
    assert not y.requires_grad and y._prev == ()
    z = (x * 2).detach()
    assert not z.requires_grad and z.numpy().tolist() == [2.0]


def test_float32_is_the_default_and_float64_is_kept():
    assert Tensor([1, 2]).dtype == np.float32 and Tensor([1.5]).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64


def test_mixing_dtypes_promotes_to_the_wider_and_numbers_keep_the_tensor_dtype():
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([2.0], requires_grad=True, dtype=np.float64)
    out = a * b
    assert out.dtype == np.float64 and (a * 2.0).dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


@pytest.mark.parametrize("make, error, words", [
    (lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones((4,))), ValueError, ["Tensor +", "(2, 3)", "(4,)"]),
    (lambda: Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3))), ValueError, ["Tensor @", "(2, 3)"]),
    (lambda: Tensor(np.ones(3)) @ Tensor(np.ones((3, 1))), ValueError, ["Tensor @", "(3,)"]),
    (lambda: Tensor(np.ones(6)).reshape(4, 2), ValueError, ["reshape", "(6,)", "(4, 2)"]),
    (lambda: Tensor(np.zeros(2)).log(), ValueError, ["Tensor.log", "non-positive"]),
    (lambda: Tensor(np.ones(2)) / Tensor(np.zeros(2)), ZeroDivisionError, ["Tensor /", "zero"]),
    (lambda: Tensor(["a"]), TypeError, ["Tensor", "<U1"]),
    (lambda: Tensor([1.0], dtype=np.int64), TypeError, ["int64", "float32 or float64"]),
    (lambda: Tensor([1.0]) * "a", TypeError, ["Tensor *", "str"]),
    (lambda: Tensor(np.ones(3), requires_grad=True).backward(), RuntimeError, ["shape (3,)", "not a scalar"]),
    (lambda: Tensor(1.0).backward(), RuntimeError, ["does not require a gradient"]),
])
def test_bad_input_error_names_op_and_shapes(make, error, words):
    with pytest.raises(error) as info:
        make()
    for w in words:
        assert w in str(info.value)


def test_backward_with_explicit_gradient_for_non_scalar():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(np.array([1.0, 10.0]))
    assert x.grad.tolist() == [3.0, 30.0]


def test_deep_chain_has_no_recursion_error():
    x = Tensor([1.0], requires_grad=True, dtype=np.float64)
    out = x
    for _ in range(20_000):
        out = out + 0.0
    out.sum().backward()
    assert x.grad.tolist() == [1.0]
