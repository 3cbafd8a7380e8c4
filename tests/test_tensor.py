"""Tensor autograd: every op against central differences in float64, broadcasting,
reductions over each axis, modes and errors."""
import os

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


# ---- axes: negative axes mean what they mean in numpy, for every op that takes one ------

def test_transpose_with_negative_axes_gives_the_gradient_of_the_positive_axes():
    x = Tensor(np.ones((2, 3, 4)), requires_grad=True)
    w = R.standard_normal((2, 4, 3))
    (x.transpose(0, -1, 1) * w).sum().backward()
    assert x.grad.shape == (2, 3, 4)
    assert np.array_equal(x.grad, w.transpose(0, 2, 1))


@pytest.mark.parametrize("name, f", [
    ("transpose", lambda a: a.transpose(-1, 0, -2)), ("transpose_list", lambda a: a.transpose([2, -3, 1])),
    ("sum", lambda a: a.sum(axis=-1)), ("sum_pair", lambda a: a.sum(axis=(0, -1), keepdims=True)),
    ("mean", lambda a: a.mean(axis=-2)), ("mean_pair", lambda a: a.mean(axis=(-1, -3))),
    ("max", lambda a: a.max(axis=-1)), ("max_pair", lambda a: a.max(axis=(-1, 0), keepdims=True)),
    ("log_softmax", lambda a: a.log_softmax(axis=-2)),
])
def test_negative_axes_match_central_differences(name, f):
    check_grads(f, R.standard_normal((2, 3, 4)))


@pytest.mark.parametrize("make, words", [
    (lambda x: x.transpose(0, 1), ["transpose", "(0, 1)", "permutation of 3 axes"]),
    (lambda x: x.transpose(0, 2, -1), ["transpose", "(0, 2, -1)"]),
    (lambda x: x.sum(axis=3), ["Tensor.sum", "axis 3", "3 dimensions"]),
    (lambda x: x.mean(axis=5), ["Tensor.mean", "axis 5", "3 dimensions"]),
    (lambda x: x.max(axis=(0, -3)), ["Tensor.max", "repeats"]),
    (lambda x: x.log_softmax(axis=-4), ["Tensor.log_softmax", "axis -4"]),
])
def test_bad_axes_are_named(make, words):
    with pytest.raises(ValueError) as info:
        make(Tensor(np.ones((2, 3, 4))))
    for w in words:
        assert w in str(info.value)


# ---- dtypes: gradients keep their tensor's dtype ---------------------------------------

@pytest.mark.parametrize("name, f", [
    ("max", lambda x: x.max(axis=1)), ("max_all", lambda x: x.max()), ("mean", lambda x: x.mean(axis=0)),
    ("times_float64", lambda x: x * Tensor(np.full(3, 0.5))), ("pow", lambda x: x ** 3),
    ("log_softmax", lambda x: x.log_softmax()), ("index", lambda x: x[[0, 0]]),
])
def test_float32_gradient_stays_float32_over_repeated_backward(name, f):
    x = Tensor(np.arange(6.0).reshape(2, 3) + 1.0, requires_grad=True, dtype=np.float32)
    for _ in range(2):
        f(x).sum().backward()
        assert x.grad.dtype == np.float32, name


# ---- powers at zero, as the scalar engine has them -------------------------------------

@pytest.mark.parametrize("n", [0, 0.0, 1, 2, 3, 0.5, 1.5])
def test_power_gradient_at_zero_matches_the_scalar_engine(n):
    from minidl.engine import Value
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x ** n).sum().backward()
    expected = []
    for a in (0.0, 2.0):
        v = Value(a)
        (v ** n).backward()
        expected.append(v.grad)
    assert x.grad.tolist() == pytest.approx(expected, rel=1e-15)
    assert not np.isnan(x.grad).any()


# ---- hooks -------------------------------------------------------------------------------

def test_hook_on_a_non_leaf_is_refused_with_a_clear_error():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="register_hook.*leaf.*output of '\\*'"):
        (x * 2.0).register_hook(lambda t: None)


def test_hook_on_a_leaf_fires_once_the_gradient_is_final():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda t: seen.append(t.grad.tolist()))
    (x * x + x).sum().backward()
    assert seen == [[3.0, 5.0]]


# ---- numpy on the left of an operator ----------------------------------------------------

@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@pytest.mark.parametrize("left", [np.float64(0.5), np.float32(2.0), np.array([0.5, -1.0]),
                                  np.array([[1.0], [2.0]])])
def test_numpy_on_the_left_of_an_operator_gives_a_tensor(op, left):
    f = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
         "/": lambda a, b: a / b}[op]
    x = Tensor(np.array([1.5, 4.0]), requires_grad=True)
    out = f(left, x)
    assert isinstance(out, Tensor)
    assert np.allclose(out.data, f(left, x.data), rtol=1e-15, atol=0)
    out.sum().backward()
    numeric = numeric_grad_arrays(lambda v: float(np.sum(f(left, v))), [x.data])
    assert max_errors([x.grad], numeric)[0] < 1e-8


def test_numpy_matmul_on_the_left_gives_a_tensor():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    out = np.ones((4, 2)) @ x
    assert isinstance(out, Tensor) and out.shape == (4, 3)
    out.sum().backward()
    assert x.grad.tolist() == [[4.0] * 3] * 2


# ---- errors that were unclear or missing ----------------------------------------------

def test_backward_accepts_a_tensor_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(Tensor([1.0, 10.0]))
    assert x.grad.tolist() == [3.0, 30.0]


def test_mean_of_an_empty_tensor_is_nan_with_a_warning():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.warns(RuntimeWarning, match="Tensor.mean: mean of 0 entries"):
        m = x.mean()
    assert np.isnan(m.item())
    with pytest.warns(RuntimeWarning):
        assert x.mean(axis=0).shape == (3,)
    assert x.mean(axis=1).shape == (0,)


@pytest.mark.parametrize("n", [float("nan"), float("inf"), -float("inf")])
def test_power_with_a_non_finite_exponent_is_a_clear_error(n):
    with pytest.raises(ValueError, match="Tensor \\*\\*: the exponent must be finite"):
        Tensor([1.0, 2.0]) ** n


# ---- Tensor(numpy array) copies, Tensor.from_numpy shares ---------------------------------

def test_tensor_copies_a_numpy_array_so_a_step_leaves_the_callers_array_alone():
    from minidl.optim import SGD
    w0 = np.array([1.0, 2.0])
    w = Tensor(w0, requires_grad=True)
    (w * w).sum().backward()
    SGD([w], lr=0.1).step()
    assert w0.tolist() == [1.0, 2.0] and w.data.tolist() == pytest.approx([0.8, 1.6])
    assert not np.shares_memory(Tensor(w0).data, w0)
    assert not np.shares_memory(Tensor(w).data, w.data)


def test_from_numpy_and_detach_share_memory():
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = Tensor.from_numpy(a)
    a[0] = 5.0
    assert t.data[0] == 5.0 and t.dtype == np.float32 and t.numpy() is a
    assert np.shares_memory(t.detach().data, a)
    with pytest.raises(TypeError, match="from_numpy.*int64.*float32 or float64"):
        Tensor.from_numpy(np.arange(3))


def test_matmul_by_a_constant_gives_the_gradient_to_the_operand_that_asks_for_it():
    """x @ W with only x requiring a gradient: x.grad = g W^T; W @ x with only x: x.grad = W^T g."""
    w = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])
    x = Tensor(np.array([[2.0, -1.0]]), requires_grad=True, dtype=np.float64)
    out = x @ Tensor(w, dtype=np.float64)
    assert out.saved_arrays[0] is not x.data and len(out.saved_arrays) == 1  # keeps W only
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((1, 3)) @ w.T)
    y = Tensor(np.array([[1.0], [3.0], [-2.0]]), requires_grad=True, dtype=np.float64)
    (Tensor(w, dtype=np.float64) @ y).sum().backward()
    np.testing.assert_array_equal(y.grad, w.T @ np.ones((2, 1)))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_a_reduction_drops_the_reduced_axes_unless_keepdims(reduce):
    t = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert getattr(t, reduce)().shape == ()
    assert getattr(t, reduce)(axis=1).shape == (2, 4)
    assert getattr(t, reduce)(axis=(0, 2)).shape == (3,)
    assert getattr(t, reduce)(axis=1, keepdims=True).shape == (2, 1, 4)


def test_reduction_values_over_one_axis():
    t = Tensor(np.array([[1.0, 5.0, 3.0], [-2.0, 0.0, 8.0]]), dtype=np.float64)
    np.testing.assert_array_equal(t.sum(axis=0).data, [-1.0, 5.0, 11.0])
    np.testing.assert_array_equal(t.mean(axis=1).data, [3.0, 2.0])
    np.testing.assert_array_equal(t.max(axis=1).data, [5.0, 8.0])
    assert t.max().item() == 8.0 and t.sum().item() == 15.0


def test_indexing_with_a_tensor_of_indices_gathers_and_scatters_back():
    x = Tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True, dtype=np.float64)
    picked = x[Tensor([2.0, 0.0, 2.0])]
    np.testing.assert_array_equal(picked.data, [30.0, 10.0, 30.0])
    (picked * Tensor([1.0, 2.0, 3.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, 4.0])


def test_division_gradient_for_negative_denominators():
    a = Tensor(np.array([3.0, -3.0]), requires_grad=True, dtype=np.float64)
    b = Tensor(np.array([-2.0, -4.0]), requires_grad=True, dtype=np.float64)
    (a / b).sum().backward()
    np.testing.assert_allclose(a.grad, [-0.5, -0.25], rtol=1e-15)
    np.testing.assert_allclose(b.grad, -np.array([3.0, -3.0]) / np.array([4.0, 16.0]), rtol=1e-15)


def test_subtraction_and_negation_send_minus_the_gradient_to_the_right_operand():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True, dtype=np.float64)
    b = Tensor(np.array([5.0]), requires_grad=True, dtype=np.float64)
    out = a - b
    np.testing.assert_array_equal(out.data, [-4.0, -3.0])
    (out * Tensor([1.0, 3.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 3.0])
    np.testing.assert_array_equal(b.grad, [-4.0])
    c = Tensor(np.array([2.0, -1.0]), requires_grad=True, dtype=np.float64)
    (-c).sum().backward()
    np.testing.assert_array_equal(c.grad, [-1.0, -1.0])


def test_repr_len_item_and_numpy():
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(t) == "Tensor([1. 2.], dtype=float32, requires_grad=True)"
    assert repr(Tensor([3.0])) == "Tensor([3.], dtype=float32)"
    assert len(t) == 2 and Tensor([[4.5]]).item() == 4.5 and t.numpy() is t.data
    assert t.ndim == 1 and t.dtype == np.float32 and t.shape == (2,)


def test_no_grad_restores_recording_after_the_block_even_after_an_error():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(KeyError), no_grad():
        raise KeyError("inside")
    assert (x * 2.0).requires_grad
    with no_grad():
        assert not (x * 2.0).requires_grad
    assert (x * 2.0)._prev[0] is x


def test_a_removed_hook_no_longer_fires_and_the_others_still_do():
    x = Tensor([1.0], requires_grad=True)
    calls = []
    remove_first = x.register_hook(lambda t: calls.append("first"))
    x.register_hook(lambda t: calls.append("second"))
    remove_first()
    (x * 2.0).sum().backward()
    assert calls == ["second"]


def test_backward_refuses_a_gradient_of_the_wrong_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"Tensor.backward: grad has shape \(3,\), the tensor \(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_elementwise_values_and_gradients_at_known_points():
    x = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True, dtype=np.float64)
    out = x.relu() + x.tanh() + x.sigmoid() + x.exp()
    s = 1.0 / (1.0 + np.exp(-x.data))
    np.testing.assert_allclose(out.data, np.maximum(x.data, 0) + np.tanh(x.data) + s + np.exp(x.data), rtol=1e-15)
    out.sum().backward()
    expected = (x.data > 0) + (1 - np.tanh(x.data) ** 2) + s * (1 - s) + np.exp(x.data)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-14)


def test_log_softmax_values_and_gradient_on_a_small_row():
    x = Tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True, dtype=np.float64)
    out = x.log_softmax()
    p = np.exp(x.data) / np.exp(x.data).sum()
    np.testing.assert_allclose(out.data, np.log(p), rtol=1e-14)
    (out * Tensor([[1.0, 0.0, 0.0]], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(x.grad, np.array([[1.0, 0.0, 0.0]]) - p, rtol=1e-14)


def test_each_op_records_its_name_and_the_arrays_its_backward_reads():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    y = Tensor(np.array([[0.5, 1.0], [2.0, 1.5]]), requires_grad=True)
    made = {"+": x + y, "-": x - y, "*": x * y, "/": x / y, "**2": x ** 2, "neg": -x, "@": x @ y,
            "transpose": x.T, "reshape": x.reshape(4), "index": x[0], "sum": x.sum(), "max": x.max(),
            "exp": x.exp(), "log": x.log(), "relu": x.relu(), "sigmoid": x.sigmoid(), "tanh": x.tanh(),
            "log_softmax": x.log_softmax()}
    assert {op: t._op for op, t in made.items()} == {op: op for op in made}
    assert made["*"].saved_arrays == (x.data, y.data) and made["/"].saved_arrays[1] is y.data
    assert made["**2"].saved_arrays == (x.data,) and (x ** 0).saved_arrays == ()
    assert made["log"].saved_arrays == (x.data,) and made["relu"].saved_arrays == (x.data,)
    assert made["exp"].saved_arrays[0] is made["exp"].data and made["tanh"].saved_arrays[0] is made["tanh"].data
    assert made["sigmoid"].saved_arrays[0] is made["sigmoid"].data
    assert made["log_softmax"].saved_arrays[0] is made["log_softmax"].data
    assert made["+"].saved_arrays == () and made["reshape"].saved_arrays == ()
    assert made["@"].saved_arrays == (y.data, x.data)
    idx = np.array([1, 0, 1])
    assert x[idx].saved_arrays[0] is idx and x[0].saved_arrays == ()
    assert made["max"].saved_arrays[0] is x.data


@pytest.mark.parametrize("make, error, message", [
    (lambda: Tensor([1.0]) / Tensor([0.0, 2.0, 0.0]), ZeroDivisionError,
     "Tensor /: the denominator of shape (3,) holds 2 zero(s); add a small epsilon"),
    (lambda: Tensor([0.0, 1.0]) ** -1, ZeroDivisionError, "Tensor **: 0 ** -1 in a tensor of shape (2,)"),
    (lambda: Tensor([-1.0]) ** 0.5, ValueError, "Tensor **: negative entries with fractional exponent 0.5"),
    (lambda: Tensor([1.0]) ** "2", TypeError, "Tensor **: the exponent must be a number, got str"),
    (lambda: Tensor([1.0]) ** True, TypeError, "Tensor **: the exponent must be a number, got bool"),
    (lambda: Tensor([0.0, -2.0, 3.0]).log(), ValueError,
     "Tensor.log: 2 non-positive entries (smallest -2); clamp or add an epsilon"),
    (lambda: Tensor(np.ones((2, 0))).max(axis=1), ValueError,
     "Tensor.max: no entries along axis 1 of shape (2, 0); the maximum of nothing is undefined"),
    (lambda: Tensor(np.ones(6)).reshape(4, 2), ValueError,
     "Tensor.reshape: cannot reshape (6,) (6 entries) into (4, 2)"),
    (lambda: Tensor([1.0]) + "a", TypeError,
     "Tensor +: unsupported operand str; use a Tensor, a numpy array or a number"),
    (lambda: Tensor(np.ones(2)) @ np.ones((2, 2)), ValueError,
     "Tensor @: shapes (2,) and (2, 2) do not multiply; need (..., n, k) @ (..., k, m) with the same k"),
    (lambda: Tensor(np.ones((2, 3))) - Tensor(np.ones(2)), ValueError,
     "Tensor -: shapes (2, 3) and (2,) do not broadcast; make trailing axes equal or 1 (reshape one of them)"),
    (lambda: Tensor(1.0).backward(), RuntimeError, "Tensor.backward: this tensor does not require a gradient; "
     "create a leaf with requires_grad=True and compute from it"),
    (lambda: Tensor(np.ones(3), requires_grad=True).backward(), RuntimeError, "Tensor.backward: the output has "
     "shape (3,), not a scalar; reduce it (e.g. .sum() or .mean()) or pass grad="),
    (lambda: Tensor([1.0], dtype=np.int64), TypeError, "Tensor: dtype int64 is not supported; use float32 or float64"),
    (lambda: Tensor(["a"]), TypeError, "Tensor: cannot make a float tensor from <U1 data (list); pass numbers or a "
     "numeric array"),
    (lambda: Tensor.from_numpy([1.0]), TypeError, "Tensor.from_numpy: got list; pass a float32 or float64 numpy "
     "array (convert with .astype), or use Tensor(data) to copy"),
])
def test_each_refusal_names_the_operation_the_values_and_the_fix(make, error, message):
    with pytest.raises(error) as e:
        make()
    assert str(e.value) == message


def test_axis_errors_name_the_axis_the_shape_and_the_allowed_range():
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(np.exceptions.AxisError) as e:
        t.sum(axis=2)
    assert str(e.value) == ("Tensor.sum: axis 2 is out of range for a tensor of 2 dimensions (shape (2, 3)); "
                            "use an axis in [-2, 2)")
    with pytest.raises(np.exceptions.AxisError) as e:
        t.mean(axis=(1, -1))
    assert str(e.value) == "Tensor.mean: axis (1, -1) repeats an axis of a tensor of 2 dimensions; name each axis once"
    with pytest.raises(np.exceptions.AxisError, match=r"Tensor.max: axis True"):
        t.max(axis=True)
    with pytest.raises(np.exceptions.AxisError) as e:
        t.transpose(0)
    assert str(e.value) == ("Tensor.transpose: axes (0,) are not a permutation of 2 axes (shape (2, 3)); "
                            "name each axis once, negative counting from the end")
    assert t.sum(axis=-2).shape == (3,) and t.sum(axis=[0, 1]).shape == () and t.sum(np.int64(1)).shape == (2,)


def test_transpose_by_explicit_axes_and_by_default_reverses_or_permutes():
    t = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert t.transpose().shape == (4, 3, 2) and t.T.shape == (4, 3, 2)
    assert t.transpose(1, 2, 0).shape == (3, 4, 2) and t.transpose((2, 0, 1)).shape == (4, 2, 3)
    t.transpose(1, 2, 0).sum().backward()
    assert t.grad.shape == (2, 3, 4)


def test_a_mean_over_one_axis_divides_by_that_axis_length_only():
    x = Tensor(np.ones((2, 5)), requires_grad=True, dtype=np.float64)
    out = x.mean(axis=1, keepdims=True)
    assert out.shape == (2, 1) and out.data.tolist() == [[1.0], [1.0]]
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 5), 0.2))


def test_max_with_keepdims_routes_the_gradient_to_each_rows_winner():
    x = Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]), requires_grad=True, dtype=np.float64)
    out = x.max(axis=1, keepdims=True)
    assert out.shape == (2, 1) and out.data.ravel().tolist() == [5.0, 7.0]
    (out * Tensor([[2.0], [4.0]], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 2.0, 0.0], [2.0, 0.0, 2.0]])


def test_numbers_and_arrays_on_either_side_keep_the_tensors_dtype_and_values():
    x = Tensor([2.0, 4.0], requires_grad=True)
    assert (1.0 - x).data.tolist() == [-1.0, -3.0] and (8.0 / x).data.tolist() == [4.0, 2.0]
    assert (x - 1).dtype == np.float32 and (x + np.float64(1.0)).dtype == np.float32
    assert (x * np.array([1.0, 2.0])).dtype == np.float64
    assert (x + np.array([1, 2])).dtype == np.float32 and (x + np.array([1, 2])).data.tolist() == [3.0, 6.0]
    (8.0 / x).sum().backward()
    np.testing.assert_allclose(x.grad, [-2.0, -0.5])


def test_repr_rounds_to_4_digits_and_summarizes_beyond_8_entries():
    assert repr(Tensor([1.0 / 3.0])) == "Tensor([0.3333], dtype=float32)"
    assert "..." in repr(Tensor(np.arange(9.0))) and "..." not in repr(Tensor(np.arange(8.0)))


def test_refusals_of_reflected_operators_name_the_operator():
    x = Tensor([1.0])
    for op, make in (("@", lambda: x.__rmatmul__("a")), ("-", lambda: x.__rsub__("a")),
                     ("/", lambda: x.__rtruediv__("a")), ("/", lambda: x / "a")):
        with pytest.raises(TypeError, match=f"^Tensor {op}: unsupported operand str"):
            make()
    with pytest.raises(RuntimeError, match=r"is not kept\. Register the hook on a leaf \(a parameter, or an input with "
                                           r"requires_grad=True\)$"):
        (Tensor([1.0], requires_grad=True) * 2.0).register_hook(print)


def test_negative_powers_need_only_the_zero_entries_to_be_nonzero():
    np.testing.assert_allclose((Tensor([1.0, 2.0]) ** -1).data, [1.0, 0.5])


def test_a_power_below_one_at_zero_gives_an_infinite_slope_without_a_warning():
    import warnings
    x = Tensor([0.0, 4.0], requires_grad=True, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 0.5).sum().backward()
    assert x.grad[0] == np.inf and x.grad[1] == 0.25


def test_reshape_takes_a_tuple_a_list_or_separate_sizes():
    t = Tensor(np.arange(6.0))
    assert t.reshape((2, 3)).shape == (2, 3) and t.reshape([3, 2]).shape == (3, 2) and t.reshape(6).shape == (6,)
    assert t.reshape(1, 6).shape == (1, 6)


def test_indexing_with_a_tuple_of_index_arrays_saves_them_and_scatters_back():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, dtype=np.float64)
    rows, cols = np.array([0, 1, 1]), np.array([2, 0, 2])
    out = x[rows, cols]
    assert out.data.tolist() == [2.0, 3.0, 5.0] and out.saved_arrays == (rows, cols)
    out.sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 1.0]]


def test_the_empty_mean_warning_points_at_the_callers_line():
    if "MUTANT_UNDER_TEST" in os.environ:  # mutmut calls every function through one more frame
        pytest.skip("under mutmut the caller's frame is mutmut's trampoline")
    with pytest.warns(RuntimeWarning) as record:
        Tensor(np.ones((0, 2))).mean()
    assert record[0].filename == __file__


def test_log_counts_only_the_non_positive_entries():
    with pytest.raises(ValueError, match=r"^Tensor.log: 1 non-positive entries \(smallest 0\)"):
        Tensor([0.0, 1.0, 0.5]).log()


def test_sigmoid_of_a_float32_tensor_stays_float32():
    assert Tensor([0.0, 1.0]).sigmoid().dtype == np.float32


def test_log_softmax_shifts_each_row_by_its_own_max():
    x = Tensor(np.array([[1000.0, 0.0], [-1000.0, -1001.0]]), dtype=np.float64)
    out = x.log_softmax(axis=1).data
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1], [-np.log1p(np.exp(-1.0)), -1.0 - np.log1p(np.exp(-1.0))], rtol=1e-12)


def test_kept_bytes_counts_each_array_the_graph_holds_once():
    from minidl.tensor import kept_bytes
    x = Tensor(np.ones(4), requires_grad=True, dtype=np.float64)
    y = x * x              # saves x.data twice: counted once
    assert kept_bytes(y) == 2 * 4 * 8
    assert kept_bytes((y * 2.0).sum()) == (4 + 4 + 4 + 1 + 1) * 8


def test_grad_into_without_a_scale_writes_the_plain_gradient_and_adds_the_next_pass():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True, dtype=np.float64)
    out = np.full(3, 7.0)
    x.grad_into(out)
    (x * x).sum().backward()
    assert x.grad is out and out.tolist() == [2.0, -4.0, 6.0]
    (x * 3.0).sum().backward()
    assert x.grad is out and out.tolist() == [5.0, -1.0, 9.0]


def test_reshape_with_no_shape_is_refused_and_the_empty_tuple_gives_0_d():
    t = Tensor(np.array([3.0]), requires_grad=True)
    with pytest.raises(TypeError, match=r"Tensor.reshape: no shape given; pass it as t.reshape\(2, 3\)"):
        t.reshape()
    z = t.reshape(())
    assert z.shape == () and z.item() == 3.0
