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


# ---- a NaN or an infinity is never a perfect match -------------------------------------

def test_max_errors_reports_nan_in_either_gradient_as_a_failure():
    import numpy as np
    import pytest

    from minidl.gradcheck import max_errors
    with pytest.raises(ValueError, match="analytic gradient 0 holds 1 NaN"):
        max_errors([np.array([np.nan])], [np.array([1.0])])
    with pytest.raises(ValueError, match="numeric gradient 1 holds 1 infinit"):
        max_errors([np.zeros(2), np.ones(3)], [np.zeros(2), np.array([1.0, np.inf, 1.0])])
    with pytest.raises(ValueError, match="NaN"):
        max_errors([np.array([np.nan])], [np.array([np.nan])])


def test_gradcheck_reports_a_nan_analytic_gradient_as_a_failure():
    import pytest

    def nan_derivative(x):
        return Value(x.data ** 2, (x,), "broken", (math.nan,))
    with pytest.raises(ValueError, match="gradcheck: the analytic gradient of input 0 is nan"):
        gradcheck(nan_derivative, [3.0])


def test_gradcheck_reports_an_infinite_numeric_gradient_as_a_failure():
    import pytest

    def blows_up(x):  # finite at x = 0 with a finite local derivative, but 1/x near 0 is huge
        return Value(1.0 / x.data if x.data else 0.0, (x,), "broken", (0.0,))
    with pytest.raises(ValueError, match="numeric gradient of input 0"):
        gradcheck(blows_up, [0.0], eps=1e-320)
