"""The scalar engine: every gate's local derivative, accumulation, depth, errors."""
import math

import pytest

from minidl.engine import Value


def grads(f, *xs):
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def test_lecture_example_f_is_x_plus_y_times_z():
    x, y, z = Value(-2.0), Value(5.0), Value(-4.0)
    a = x + y
    f = a * z
    f.backward()
    assert f.data == -12.0
    assert (x.grad, y.grad, z.grad, a.grad) == (-4.0, -4.0, 3.0, -4.0)


def test_add_gate_distributes_gradient_unchanged():
    x, y = Value(3.0), Value(-1.0)
    out = (x + y) * 7.0
    out.backward()
    assert x.grad == y.grad == 7.0


def test_mul_gate_swaps_inputs():
    assert grads(lambda x, y: x * y, 3.0, -4.0)[1] == [-4.0, 3.0]


def test_max_gate_routes_gradient_to_larger_input():
    assert grads(lambda x, y: x.max(y), 3.0, 1.0)[1] == [1.0, 0.0]
    assert grads(lambda x, y: x.max(y), -3.0, 1.0)[1] == [0.0, 1.0]


def test_max_gate_tie_goes_to_second_operand():
    assert grads(lambda x, y: x.max(y), 2.0, 2.0)[1] == [0.0, 1.0]


def test_max_of_a_value_with_itself_has_gradient_one():
    assert grads(lambda x: x.max(x), 2.0)[1] == [1.0]


@pytest.mark.parametrize("name, f, x, expected", [
    ("neg", lambda x: -x, 2.0, -1.0),
    ("sub_left", lambda x: x - 5.0, 2.0, 1.0),
    ("sub_right", lambda x: 5.0 - x, 2.0, -1.0),
    ("div_numerator", lambda x: x / 4.0, 2.0, 0.25),
    ("div_denominator", lambda x: 3.0 / x, 2.0, -0.75),
    ("pow_number", lambda x: x ** 3, 2.0, 12.0),
    ("pow_negative_exponent", lambda x: x ** -1, 2.0, -0.25),
    ("pow_value_exponent", lambda x: 2.0 ** x, 3.0, 8.0 * math.log(2.0)),
    ("relu_positive", lambda x: x.relu(), 2.0, 1.0),
    ("relu_negative", lambda x: x.relu(), -2.0, 0.0),
    ("relu_at_zero", lambda x: x.relu(), 0.0, 0.0),
    ("sigmoid", lambda x: x.sigmoid(), 0.0, 0.25),
    ("tanh", lambda x: x.tanh(), 0.5, 1.0 - math.tanh(0.5) ** 2),
    ("exp", lambda x: x.exp(), 1.5, math.exp(1.5)),
    ("log", lambda x: x.log(), 4.0, 0.25),
    ("radd", lambda x: 1 + x, 2.0, 1.0),
    ("rmul", lambda x: 3 * x, 2.0, 3.0),
])
def test_local_derivative_of_each_op(name, f, x, expected):
    assert grads(f, x)[1][0] == pytest.approx(expected, rel=1e-15, abs=1e-15)


def test_pow_with_value_exponent_has_both_partials():
    value, (da, db) = grads(lambda a, b: a ** b, 2.0, 3.0)
    assert value == 8.0
    assert da == 12.0                      # b a^(b-1)
    assert db == pytest.approx(8.0 * math.log(2.0), rel=1e-15)  # a^b ln a


def test_pow_at_zero_base_has_the_limit_derivatives():
    assert grads(lambda x: x ** 2, 0.0)[1] == [0.0]
    assert grads(lambda x: x ** 1, 0.0)[1] == [1.0]
    assert grads(lambda x: x ** 0.5, 0.0)[1] == [math.inf]


def test_sigmoid_is_stable_for_large_inputs():
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


def test_gradient_accumulates_over_two_consumers_as_in_J1_plus_J2():
    theta = Value(0.7)
    y1 = theta * 2.0              # shared hidden pre-activation
    J1 = 0.5 * (y1 * 3.0 - 1.0) ** 2
    J2 = 0.5 * (y1 * -1.0 - 0.5) ** 2
    (J1 + J2).backward()
    path1 = (y1.data * 3.0 - 1.0) * 3.0 * 2.0
    path2 = (y1.data * -1.0 - 0.5) * -1.0 * 2.0
    assert theta.grad == pytest.approx(path1 + path2, rel=1e-15)


def test_backward_twice_doubles_leaf_gradients():
    x, y = Value(2.0), Value(-3.0)
    out = (x * y + x).tanh()
    out.backward()
    once = (x.grad, y.grad)
    out.backward()
    assert (x.grad, y.grad) == (2 * once[0], 2 * once[1])


def test_backward_twice_keeps_interior_gradients_of_the_latest_call():
    x = Value(2.0)
    h = x * x
    out = h * 3.0
    out.backward()
    out.backward()
    assert h.grad == 3.0 and out.grad == 1.0 and x.grad == 24.0


def test_zero_grad_by_hand_restores_a_single_backward():
    x = Value(3.0)
    out = x * x
    out.backward()
    x.grad = 0.0
    out.backward()
    assert x.grad == 6.0


def test_deep_chain_of_100000_ops_has_no_recursion_error():
    x = Value(1.0)
    out = x
    for _ in range(100_000):
        out = out * 1.00001
    out.backward()
    assert x.grad == pytest.approx(1.00001 ** 100_000, rel=1e-9)


def test_topological_order_puts_every_node_after_its_inputs():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = e.topological_order()
    position = {id(n): i for i, n in enumerate(order)}
    assert len(order) == 5
    for n in order:
        assert all(position[id(p)] < position[id(n)] for p in n._prev)


def test_repr_names_label_data_and_grad():
    assert repr(Value(2.5, label="x")) == "Value(data=2.5, grad=0, label='x')"


@pytest.mark.parametrize("make, error, words", [
    (lambda: Value(-1.0).log(), ValueError, ["Value.log", "non-positive", "-1"]),
    (lambda: Value(0.0).log(), ValueError, ["Value.log", "0"]),
    (lambda: Value(1.0) / 0, ZeroDivisionError, ["Value /", "division by zero", "1 / 0"]),
    (lambda: 1.0 / Value(0.0), ZeroDivisionError, ["Value /", "1 / 0"]),
    (lambda: Value(1.0) * "a", TypeError, ["Value *", "'a'", "str"]),
    (lambda: Value(1.0) + [1], TypeError, ["Value +", "list"]),
    (lambda: Value("3"), TypeError, ["constructor", "str"]),
    (lambda: Value(True), TypeError, ["bool"]),
    (lambda: Value(0.0) ** -1, ZeroDivisionError, ["Value **", "0 ** -1"]),
    (lambda: Value(-8.0) ** (1 / 3), ValueError, ["negative base -8", "fractional"]),
    (lambda: Value(-2.0) ** Value(2.0), ValueError, ["base -2", "log(a)"]),
    (lambda: Value(800.0).exp(), OverflowError, ["Value.exp", "800"]),
])
def test_bad_input_error_names_op_and_operand(make, error, words):
    with pytest.raises(error) as info:
        make()
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("a, b", [(3.0, -2.0), (-3.0, -2.0), (-3.0, 2.0), (0.5, 4.0)])
def test_division_has_both_partials_for_every_sign_of_the_denominator(a, b):
    """d(a/b)/da = 1/b and d(a/b)/db = -a/b^2, also when b < 0 (b^2 is not b |b|)."""
    out, (da, db) = grads(lambda x, y: x / y, a, b)
    assert out == a / b
    assert da == pytest.approx(1.0 / b, rel=1e-15)
    assert db == pytest.approx(-a / (b * b), rel=1e-15)


def test_zero_over_zero_is_refused_with_both_operands_in_the_message():
    with pytest.raises(ZeroDivisionError, match=r"Value /: division by zero \(0 / 0\)"):
        Value(0.0) / Value(0.0)


def test_backward_on_a_leaf_output_adds_one_each_call():
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_subtraction_and_negation_have_the_right_values_and_partials_for_two_variables():
    out, (dx, dy) = grads(lambda x, y: x - y, 5.0, 2.0)
    assert (out, dx, dy) == (3.0, 1.0, -1.0)
    out, (dx,) = grads(lambda x: -x, 2.0)
    assert (out, dx) == (-2.0, -1.0)
    out, (dx, dy) = grads(lambda x, y: 1.0 - x * y, 2.0, 3.0)
    assert (out, dx, dy) == (-5.0, -3.0, -2.0)


def test_reflected_operators_give_the_values_of_the_plain_ones():
    x = Value(4.0)
    assert (2.0 + x).data == 6.0 and (2.0 * x).data == 8.0 and (2.0 - x).data == -2.0
    assert (2.0 / x).data == 0.5 and (2.0 ** x).data == 16.0


@pytest.mark.parametrize("a, n, value, derivative", [
    (3.0, 2.0, 9.0, 6.0),
    (-2.0, 3.0, -8.0, 12.0),
    (4.0, 0.5, 2.0, 0.25),
    (0.0, 2.0, 0.0, 0.0),
    (0.0, 1.0, 0.0, 1.0),
    (0.0, 0.0, 1.0, 0.0),
    (0.0, 0.5, 0.0, math.inf),
])
def test_power_with_a_number_exponent_at_every_kind_of_base(a, n, value, derivative):
    out, (da,) = grads(lambda x: x ** n, a)
    assert out == value
    assert da == pytest.approx(derivative, rel=1e-15)


@pytest.mark.parametrize("a, b, da, db", [
    (0.0, 2.0, 0.0, 0.0),
    (0.0, 1.0, 1.0, 0.0),
    (0.0, 0.0, 0.0, 0.0),
    (0.0, 0.5, math.inf, 0.0),
    (2.0, 3.0, 12.0, 8.0 * math.log(2.0)),
])
def test_power_with_a_value_exponent_at_a_zero_and_a_positive_base(a, b, da, db):
    _, (ga, gb) = grads(lambda x, y: x ** y, a, b)
    assert ga == pytest.approx(da, rel=1e-15) and gb == pytest.approx(db, rel=1e-15)


@pytest.mark.parametrize("a", [-40.0, -1.0, 0.0, 2.0, 40.0])
def test_sigmoid_value_and_derivative_on_both_branches(a):
    s = 1.0 / (1.0 + math.exp(-a))
    out, (da,) = grads(lambda x: x.sigmoid(), a)
    assert out == pytest.approx(s, rel=1e-14)
    assert da == pytest.approx(s * (1.0 - s), rel=1e-12)


@pytest.mark.parametrize("a", [-3.0, -0.5, 0.5, 3.0])
def test_relu_passes_positive_inputs_and_blocks_negative_ones(a):
    out, (da,) = grads(lambda x: x.relu(), a)
    assert (out, da) == ((a, 1.0) if a > 0 else (0.0, 0.0))


def test_max_returns_the_larger_value_whichever_side_it_is_on():
    assert Value(3.0).max(1.0).data == 3.0
    assert Value(-3.0).max(1.0).data == 1.0
    assert Value(1.0).max(Value(1.0)).data == 1.0


def test_zero_to_a_negative_value_exponent_is_refused():
    with pytest.raises(ZeroDivisionError, match=r"Value \*\*: 0 \*\* -2 divides by zero"):
        Value(0.0) ** Value(-2.0)


def test_exp_and_log_values_and_the_exp_overflow_limit():
    assert Value(709.0).exp().data == math.exp(709.0)
    assert Value(2.0).log().data == math.log(2.0)
    assert Value(1e-300).log().data == pytest.approx(math.log(1e-300))


def test_repr_without_a_label_and_with_a_gradient():
    v = Value(1.0 / 3.0)
    v.grad = -2.0
    assert repr(v) == "Value(data=0.333333, grad=-2)"


def test_constructor_keeps_an_integer_as_float_and_the_label():
    v = Value(3, label="w")
    assert type(v.data) is float and v.data == 3.0 and v.label == "w" and v.grad == 0.0


def test_each_gate_records_the_operation_that_graph_pictures_print():
    x, y = Value(2.0), Value(0.5)
    made = {"+": x + y, "*": x * y, "max": x.max(y), "neg": -x, "-": x - y, "/": x / y, "**3": x ** 3,
            "**": x ** y, "relu": x.relu(), "sigmoid": x.sigmoid(), "tanh": x.tanh(), "exp": x.exp(),
            "log": x.log()}
    assert {op: v._op for op, v in made.items()} == {op: op for op in made}
    assert y.max(x)._op == "max" and (3.0 - x)._op == "-" and (3.0 / x)._op == "/" and (3.0 ** x)._op == "**"
    assert x._op == "" and Value(1.0, label="w")._op == ""  # a leaf's box shows only its name


@pytest.mark.parametrize("make, op", [
    (lambda: Value(1.0).max("a"), "max"), (lambda: Value(1.0) - "a", "-"), (lambda: "a" - Value(1.0), "-"),
    (lambda: Value(1.0) / "a", "/"), (lambda: "a" / Value(1.0), "/"), (lambda: Value(1.0) ** "a", "**"),
    (lambda: "a" ** Value(1.0), "**"),
])
def test_an_unsupported_operand_is_refused_naming_the_operator_and_the_fix(make, op):
    with pytest.raises(TypeError) as e:
        make()
    assert str(e.value) == (f"Value {op}: unsupported operand 'a' of type str; use a Value or a real number "
                            "(for arrays, use minidl.tensor.Tensor)")


@pytest.mark.parametrize("make, message", [
    (lambda: Value(1.0) / 0.0, "Value /: division by zero (1 / 0); the denominator must be nonzero, "
                               "e.g. add a small epsilon"),
    (lambda: Value(-2.0) ** Value(0.5), "Value **: negative base -2 with fractional exponent 0.5 has no real "
                                        "value; use an integer exponent or a positive base"),
    (lambda: Value(-2.0) ** Value(2.0), "Value **: base -2 is negative, so d(a**b)/db = a**b * log(a) does "
                                        "not exist; use a plain number as the exponent"),
    (lambda: Value(710.0).exp(), "Value.exp: exp(710) overflows a float (the largest argument is about 709); "
                                 "scale the input down"),
    (lambda: Value(-1.0).log(), "Value.log: log of a non-positive number (-1); log needs a > 0, e.g. clamp "
                                "the input or add a small epsilon"),
])
def test_each_refusal_says_what_went_wrong_and_how_to_fix_it(make, message):
    with pytest.raises((ValueError, ZeroDivisionError, OverflowError)) as e:
        make()
    assert str(e.value) == message


def test_log_and_a_value_power_of_a_base_between_0_and_1():
    assert Value(0.5).log().data == math.log(0.5)
    out, (da, db) = grads(lambda a, b: a ** b, 0.5, 2.0)
    assert out == 0.25 and da == pytest.approx(1.0) and db == pytest.approx(0.25 * math.log(0.5))


def test_a_float_subclass_is_stored_as_a_plain_float():
    class Named(float):
        pass
    v = Value(Named(2.5))
    assert type(v.data) is float and v.data == 2.5


def test_a_value_of_a_non_number_is_refused_with_the_whole_message():
    with pytest.raises(TypeError) as e:
        Value("3")
    assert str(e.value) == ("Value constructor: unsupported operand '3' of type str; use a Value or a real "
                            "number (for arrays, use minidl.tensor.Tensor)")
