"""Backpropagation against central differences, on chosen and on random graphs."""
import math

from exprs import ALL_OPS, near_kink, programs, run
from hypothesis import assume, given, settings

from minidl.engine import Value
from minidl.gradcheck import gradcheck, numeric_grad


def test_gradcheck_agrees_on_lecture_example():
    result = gradcheck(lambda x, y, z: (x + y) * z, [-2.0, 5.0, -4.0])
    assert result.analytic == [-4.0, -4.0, 3.0]
    assert result.max_abs_err < 1e-8 and result.max_rel_err < 1e-8


def test_gradcheck_catches_a_wrong_local_derivative():
    def broken_square(x):
        return Value(x.data ** 2, (x,), "broken", (x.data,))  # should be 2x
    result = gradcheck(broken_square, [3.0])
    assert result.analytic == [3.0]
    assert abs(result.numeric[0] - 6.0) < 1e-6
    assert result.max_abs_err > 2.9 and result.max_rel_err > 0.49


def test_numeric_grad_is_second_order_accurate():
    f = lambda x: x.exp()
    errors = [abs(numeric_grad(f, [1.0], eps)[0] - math.e) for eps in (1e-2, 1e-3)]
    assert 50 < errors[0] / errors[1] < 200  # error ~ eps^2: 10x smaller eps, ~100x smaller error


def test_gradcheck_requires_a_single_value_output():
    try:
        gradcheck(lambda x: [x, x], [1.0])
    except TypeError as e:
        assert "gradcheck" in str(e) and "list" in str(e)
    else:
        raise AssertionError("gradcheck accepted a list output")


def test_program_generator_covers_every_op():
    assert len(ALL_OPS) == 19


@settings(max_examples=300, deadline=None)
@given(programs())
def test_random_graphs_over_every_op_match_central_differences(case):
    xs, prog = case
    out = run(prog, *[Value(x) for x in xs])
    assume(not near_kink(out) and abs(out.data) < 1e4)
    result = gradcheck(lambda *v: run(prog, *v), xs)
    for a, n in zip(result.analytic, result.numeric):
        assert abs(a - n) <= 1e-6 * max(1.0, abs(a)), (prog, xs, result)
