"""Exercise checks: the comparison rule, feedback that never gives a by-hand answer away, and
`assert_passed()`, which makes a failed check fail its cell."""
import re
import sys

import numpy as np
import pytest

import minidl.exercises as ex
from minidl.engine import Value
from minidl.exercises import assert_passed, check, check_value, close, results
from minidl.exercises.answers import expected as answer_key
from minidl.optim import SGD
from minidl.tensor import Tensor

INF, NAN = float("inf"), float("nan")


@pytest.fixture(autouse=True)
def fresh_cell():
    """Each test is one cell: assert_passed() sees only its own checks."""
    ex._CELL.clear()
    yield
    ex._CELL.clear()


def ref_max(x, y, dout):
    return (dout, 0.0) if x > y else (0.0, dout)


# --- check(): functions ------------------------------------------------------------------------

def test_correct_function_gets_full_points(capsys):
    r = check("t.1", ref_max, ref_max, cases=[(3.0, 1.0, 2.0)],
              random_cases=lambda rng: (rng.uniform(-1, 1), rng.uniform(-1, 1), 1.0), points=2)
    assert (r.points, r.max_points, r.passed) == (2, 2, True)
    assert "all 21 cases" in capsys.readouterr().out


def test_wrong_result_reports_input_expected_got_and_hint(capsys):
    r = check("t.2", lambda x, y, d: (d, d), ref_max, cases=[(3.0, 1.0, 2.0)], hint="max routes")
    out = capsys.readouterr().out
    assert r.points == 0
    for words in ["(3, 1, 2)", "expected: (2, 0)", "got:      (2, 2)", "hint: max routes"]:
        assert words in out


def test_near_miss_of_a_function_is_shown_with_enough_digits_to_differ(capsys):
    check("t.2b", lambda x: x + 1e-8, lambda x: x, cases=[(0.5,)])
    out = capsys.readouterr().out
    assert "expected: 0.5\n" in out and "got:      0.50000001" in out


def test_student_exception_is_reported_not_raised(capsys):
    def student(x, y, d):
        return x / 0
    r = check("t.3", student, ref_max, cases=[(3.0, 1.0, 2.0)])
    out = capsys.readouterr().out
    assert r.points == 0 and "ZeroDivisionError" in out and "return x / 0" in out


def test_unimplemented_stub_says_what_to_do(capsys):
    def student(x, y, d):
        raise NotImplementedError()
    check("t.4", student, ref_max, cases=[(3.0, 1.0, 2.0)])
    assert "not implemented yet" in capsys.readouterr().out


def test_a_placeholder_instead_of_a_function_gets_no_function_yet():
    r = check("t.4b", ..., ref_max, cases=[(3.0, 1.0, 2.0)])
    assert r.points == 0 and "no function yet" in r.feedback


def test_expected_answers_can_replace_the_reference():
    assert check("t.5", ref_max, cases=[(3.0, 1.0, 2.0)], expected=[(2.0, 0.0)]).passed
    with pytest.raises(ValueError, match="one expected answer per fixed case"):
        check("t.6", ref_max, cases=[(3.0, 1.0, 2.0)], expected=[])


def test_numpy_reference_on_a_zero_input_is_not_replaced_by_zero():
    # issue 20: a numpy scalar's .data (a memoryview) used to replace the reference's result
    ref = lambda x: np.cos(np.float64(x)) + np.float64(2.5)
    assert check("t.6b", ref, ref, cases=[(0.0,)]).passed
    r = check("t.6c", lambda x: 0.0, ref, cases=[(0.0,)])
    assert not r.passed and "expected: 3.5" in r.feedback


def test_a_student_that_changes_its_input_in_place_cannot_change_the_expected_result():
    def doubles_in_place(a):
        a *= 2
        return a
    assert not check("t.6d", doubles_in_place, lambda a: a, cases=[(np.ones(2),)]).passed


# --- close(): the comparison rule ----------------------------------------------------------------

def test_close_compares_numbers_sequences_arrays_and_values():
    assert close(1.0 + 1e-12, 1.0, 1e-9) and not close(1.1, 1.0, 1e-9)
    assert close([1.0, (2.0, 3.0)], [1.0, (2.0, 3.0)], 1e-9)
    assert close(np.ones((2, 2)), np.ones((2, 2)), 1e-9) and not close(np.ones(3), np.ones((3, 1)), 1e-9)
    assert close(Value(2.0), 2.0, 1e-9)
    assert not close("2", 2.0, 1e-9) and not close([1.0], [1.0, 2.0], 1e-9)
    assert not close(True, 1, 0) and not close(1, True, 0) and close(True, np.bool_(True), 0)


@pytest.mark.parametrize("got, expected", [
    (np.float64(0.5), 0.5),                          # issue 20: "expected: 0.5 got: 0.5"
    (0.5, np.float64(0.5)),
    (np.float32(0.5), 0.5),
    (np.int64(3), 3), (3, np.int32(3)), (np.uint8(3), 3.0),
    ((32, np.int64(407120)), (32, 407120)),          # lesson 07.1's form, with tol = 0 below
    (np.array([2.0, 0.0]), (2.0, 0.0)),
    ([2, 0], np.array([2.0, 0.0])),
    ((np.float64(2.0), np.int64(0)), [2.0, 0.0]),
    (np.array(1.5), 1.5), (Value(1.5), 1.5), (Tensor(np.array(1.5)), 1.5),
    (Tensor(np.array([1.0, 2.0])), (1, 2)), ((Value(1.0), Value(2.0)), (1.0, 2.0)),
    ([[1, 2], [3, 4]], np.array([[1.0, 2.0], [3.0, 4.0]])),
    (INF, INF), (-INF, -INF), (np.float64(INF), INF), ((INF, 1.0), (INF, 1.0)),
])
def test_a_correct_answer_passes_whatever_numeric_type_it_arrives_in(got, expected):
    assert close(got, expected, 0)
    assert check_value("t.type", got, expected, tol=0).passed


def test_a_value_whose_data_sgd_made_a_numpy_float_passes():
    w = Value(1.0)
    opt = SGD([w], lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        (w * 2.0).backward()
        opt.step()
    assert isinstance(w.data, np.floating)
    assert check_value("t.sgd", w.data, -0.122, tol=1e-12).passed
    assert check_value("t.sgd", w, -0.122, tol=1e-12).passed


@pytest.mark.parametrize("got, expected", [
    (NAN, 1.0), (1.0, NAN), (NAN, NAN), (np.float64(NAN), NAN), ([1.0, NAN], [1.0, NAN]),
    (np.array([1.0, NAN]), np.array([1.0, 2.0])), (INF, -INF), (INF, 1e308), (1e308, INF),
    (INF, NAN), (NAN, INF),
])
def test_nan_never_matches_and_infinities_only_an_equal_infinity(got, expected):
    assert not close(got, expected, 1e-9) and not close(got, expected, 1e6)


def test_exact_with_tol_zero():
    assert close(3.0, 3.0, 0) and close(407120, 407120, 0) and close(0.0, -0.0, 0)
    assert not close(np.nextafter(3.0, 4.0), 3.0, 0)
    assert not close(2 ** 60 + 1, 2 ** 60, 0)  # integers are not rounded to float first
    assert not close((32, 407121), (32, 407120), 0)


def test_default_tolerance_is_1e_9_relative_beyond_1():
    assert not close(3.0005, 3.0) and not check_value("t.d", 3.0005, 3.0).passed
    assert not close(3.0 + 1e-6, 3.0) and not close(3.0 + 1e-8, 3.0)
    assert close(3.0 + 2.9e-9, 3.0) and not close(3.0 + 3.1e-9, 3.0)  # 1e-9 * max(1, 3)


def test_expected_zero_gets_an_absolute_tolerance():
    assert close(5e-10, 0.0) and close(-5e-10, 0.0) and close(1e-12, 0)
    assert not close(2e-9, 0.0) and not close(1e-3, 0.0)


def test_tolerance_boundary_is_inclusive():
    # binary-exact boundaries: |got - expected| == tol * max(1, |expected|)
    assert close(1.5, 1.0, 0.5) and not close(1.5 + 1e-12, 1.0, 0.5)
    assert close(5.0, 4.0, 0.25) and close(3.0, 4.0, 0.25) and not close(5.000001, 4.0, 0.25)
    assert close(0.5, 0.0, 0.5) and not close(0.5 + 1e-12, 0.0, 0.5)
    assert close(np.array([1.5, 0.5]), [1.0, 0.0], 0.5) and not close(np.array([1.5, 0.75]), [1.0, 0.0], 0.5)


def test_tolerance_scales_with_max_of_1_and_the_expected_magnitude():
    assert close(100.9, 100.0, 0.01) and not close(101.1, 100.0, 0.01)   # 0.01 * 100: relative
    assert close(0.0195, 0.01, 0.01) and not close(0.0205, 0.01, 0.01)   # 0.01 * 1: absolute
    assert close(np.array([100.9, 0.0195]), [100.0, 0.01], 0.01)         # element by element
    assert not close(np.array([100.9, 0.0205]), [100.0, 0.01], 0.01)
    assert close(-100.9, -100.0, 0.01)


def test_an_array_off_by_1e_6_fails_at_the_default_tolerance():
    e = np.array([1.0, -2.0, 3.0])
    assert not close(e + 1e-6, e) and not check_value("t.arr", e + 1e-6, e).passed
    assert close(e + 1e-6, e, 1e-5) and close(e + 1e-10, e)


def test_float32_values_respect_tol_and_their_own_precision():
    # issue 20: an np.float32 expected value was compared exactly, ignoring tol
    assert close(0.1001, np.float32(0.1), 1e-3) and not close(0.11, np.float32(0.1), 1e-3)
    assert close(0.1, np.float32(0.1), 0) and close(np.float32(0.1), 0.1, 1e-9)  # 8 float32 epsilons
    assert not close(0.1 + 1e-5, np.float32(0.1), 0)
    assert close(Tensor(np.array([0.1, 0.2], dtype=np.float32)), (0.1, 0.2), 1e-9)


@pytest.mark.parametrize("tol", [-1e-9, NAN, INF, "1e-9", True])
def test_a_tolerance_that_is_not_a_finite_non_negative_number_is_refused(tol):
    with pytest.raises(ValueError, match="tol must be"):
        check_value("t.tol", 1.0, 1.0, tol=tol)


# --- check_value(): by-hand answers ------------------------------------------------------------

def test_check_value_placeholder_and_wrong_and_right():
    assert check_value("t.7", ..., 3.0).points == 0
    assert check_value("t.7b", (1.0, ...), (1.0, 2.0)).feedback.endswith("with your value")
    assert check_value("t.8", 2.0, 3.0).points == 0
    assert check_value("t.9", (3.0, -4.0), (3.0, -4.0), points=3).points == 3


def test_check_value_reads_the_answer_key_by_the_exercise_id():
    r = check_value("01.1 chain rule by hand", answer_key("01.1"))
    assert r.passed and r.expected == "(5.0, 5.0, 2.0)"
    assert not check_value("01.1 chain rule by hand", (5.0, 5.0, -2.0)).passed
    with pytest.raises(KeyError, match="no answer for '01.99'"):
        check_value("01.99 nothing", 1.0)


def test_a_nan_answer_key_gives_no_points_and_says_so():
    r = check_value("t.nan", NAN, NAN)
    assert r.points == 0 and "not a number (NaN); tell your instructor" in r.feedback


def _numbers_in(text):
    return {float(x) for x in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", text)}


@pytest.mark.parametrize("got, expected, words", [
    (0.5, -0.122, "it has the wrong sign"),
    (-1.22, -0.122, "it is too large by a factor between 3.2 and 32"),
    (-0.0122, -0.122, "it is too small by a factor between 3.2 and 32"),
    (-0.00122, -0.122, "it is too small by a factor between 32 and 320"),
    (-0.3, -0.122, "it has the right sign and order of magnitude, but is not right"),
    (-0.12, -0.122, "it has the right sign and order of magnitude, but is not right"),  # 1.6% off
    (-0.1220001, -0.122, "it is close (within 1%) but not within the check's tolerance"),
    (0.0, -0.122, "it is not right"),
    (0.3, 0.0, "it is not right"),
    ((5.0, -5.0, 2.0), (5.0, 5.0, 2.0), "component 2 of 3 has the wrong sign"),
    ((5.0, 5.0, 0.0), (5.0, 5.0, 2.0), "component 3 of 3 is not right"),
    ((5.0, 5.0, 2.0), (5.0, 5.0, 0.0), "component 3 of 3 is not right"),
    ((5.00001, 50.0), (5.0, 5.0), "component 1 of 2 is close"),
    (np.array([[1.0, 2.0], [3.0, 40.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]),
     "entry (1, 1) is too large by a factor between 3.2 and 32"),
    ((5.0, 5.0), (5.0, 5.0, 7.25), "expected 3 numbers (shape (3,)), got 2 (shape (2,))"),
    ("5.0", 5.0, "expected a number, got a str"),
    (True, 1.0, "expected a number, got a bool"),
    ((407120, 32), (32, 407120), "component 1 of 2 is too large by a factor between 3200 and 32000"),
])
def test_wrong_by_hand_answer_says_how_it_is_wrong_never_the_expected_value(got, expected, words):
    r = check_value("t.leak", got, expected, hint="think again")
    assert r.points == 0 and words in r.feedback and "hint: think again" in r.feedback
    e = np.atleast_1d(np.asarray(expected, dtype=float)).ravel()
    g = set(np.atleast_1d(np.asarray(got, dtype=float)).ravel()) if not isinstance(got, str) else {5.0}
    leaked = _numbers_in(r.feedback.split(" is wrong: ")[1]) & (set(e) - g)  # beyond the student's own
    assert not leaked, f"the feedback gives away {leaked}: {r.feedback}"
    assert r.expected == ex._show(expected, precise=True)  # for the instructor


def test_feedback_of_every_wrong_form_of_a_tuple_keeps_the_expected_values_out():
    expected = (0.25, -3.5, 17.0)
    for got in [(0.3, -3.5, 17.0), (-0.25, 3.5, -17.0), (2.5, -35.0, 1.7), (0.2500001, -3.5, 17.0),
                np.array([0.25, -3.5, 1.7]), [0.25, -3.5]]:
        fb = check_value("t.tuple", got, expected).feedback.split(" is wrong: ")[1]
        assert not {"0.25", "3.5", "17", "-3.5"} & set(re.findall(r"-?\d+\.?\d*", fb)), fb


def test_results_records_every_check_in_order():
    check_value("t.10", 1.0, 1.0)
    assert results()[-1].exercise == "t.10"


def test_result_that_cannot_be_compared_is_wrong_not_a_crash(capsys):
    assert check_value("t.11", ["a", [1.0, 2.0]], np.ones(2)).points == 0
    r = check("t.12", lambda: ["a", "b"], cases=[()], expected=[np.ones(2)])
    assert r.points == 0 and "got:      ['a', 'b']" in capsys.readouterr().out
    assert check_value("t.12b", [[1.0], [1.0, 2.0]], np.ones(2)).points == 0  # ragged


def test_sys_exit_in_student_code_is_reported_not_raised(capsys):
    r = check("t.13", lambda: sys.exit(3), cases=[()], expected=[1.0])
    assert r.points == 0 and "SystemExit" in capsys.readouterr().out


def test_object_whose_repr_raises_still_gets_feedback(capsys):
    class Weird:
        def __repr__(self):
            raise RuntimeError("no repr")
    assert check_value("t.14", Weird(), 1.0).points == 0
    assert "<a Weird that cannot be printed>" in capsys.readouterr().out


# --- assert_passed(): how a failed check ends its cell -----------------------------------------

def test_checks_never_raise_and_assert_passed_fails_the_cell_after_every_check_reported(capsys):
    first = check_value("t.15 first", 2.0, 3.0)          # wrong: no exception here
    second = check("t.15 second", lambda x: x, lambda x: -x, cases=[(1.0,)])
    third = check_value("t.15 third", 3.0, 3.0)
    assert (first.passed, second.passed, third.passed) == (False, False, True)
    with pytest.raises(AssertionError, match=r"2 check\(s\) of this cell did not pass: "
                                             r"t.15 first \(0/1\), t.15 second \(0/1\)"):
        assert_passed()
    out = capsys.readouterr().out
    assert "[t.15 first]" in out and "[t.15 second]" in out and "[t.15 third]" in out
    assert [r.exercise for r in results()[-3:]] == ["t.15 first", "t.15 second", "t.15 third"]


def test_assert_passed_passes_when_every_check_of_the_cell_passed_and_starts_a_new_cell():
    check_value("t.16", 3.0, 3.0)
    assert_passed()
    check_value("t.17", 2.0, 3.0)
    with pytest.raises(AssertionError, match="t.17"):
        assert_passed()
    check_value("t.18", 3.0, 3.0)
    assert_passed()  # t.17 belonged to the cell before


# --- the exact words of the feedback, which students read --------------------------------------

@pytest.mark.parametrize("got, expected, feedback", [
    ("abd", {"a"}, "'abd' is wrong: it is not the expected answer."),
    ("3", (1.0, 2.0, 3.0), "'3' is wrong: expected 3 numbers, got a str."),
    (np.True_, 1.0, "True is wrong: expected a number, got a bool."),
    ((5.0, 1.0), (5.0,), "(5.0, 1.0) is wrong: expected 1 number (shape (1,)), got 2 (shape (2,))."),
    ((5.0, 1.0, 2.0), (5.0, 1.0), "(5.0, 1.0, 2.0) is wrong: expected 2 numbers (shape (2,)), got 3 (shape (3,))."),
    (NAN, 2.0, "nan is wrong: the answer contains NaN."),
    (INF, 2.0, "inf is wrong: it is not right."),
    (2.0, INF, "2.0 is wrong: it is not right."),
    (-0.5, 0.5, "-0.5 is wrong: it has the wrong sign."),
    (101.0, 100.0, "101.0 is wrong: it is close (within 1%) but not within the check's tolerance (tol = 1e-09): "
                   "keep more digits or compute it exactly."),
    (-1.22, -0.122, "-1.22 is wrong: it is too large by a factor between 3.2 and 32."),
    (0.1234567891, 0.3, "0.1234567891 is wrong: it has the right sign and order of magnitude, but is not right."),
])
def test_a_wrong_answers_feedback_is_exactly_this_text(got, expected, feedback):
    r = check_value("t.words", got, expected, points=2)
    assert r.feedback == "[t.words] 0/2 points: " + feedback
    assert (r.exercise, r.points, r.max_points) == ("t.words", 0, 2)


def test_the_hint_follows_a_wrong_answer_on_its_own_line_and_only_when_given():
    assert check_value("t.h", 2.0, 3.0, hint="add the two paths").feedback.endswith(
        "is not right.\n  hint: add the two paths")
    assert "hint" not in check_value("t.h", 2.0, 3.0).feedback
    assert "hint" not in check("t.h", lambda: 2.0, cases=[()], expected=[3.0]).feedback
    assert check("t.h", lambda: 2.0, cases=[()], expected=[3.0], hint="look again").feedback.endswith(
        "\n  hint: look again")


def test_a_right_answer_is_shown_with_every_digit():
    r = check_value("t.right", 0.1234567891, 0.1234567891, points=3)
    assert r.feedback == "[t.right] 3/3 points: 0.1234567891 is right."
    assert (r.points, r.max_points, r.expected) == (3, 3, "0.1234567891")


def test_a_placeholder_and_a_nan_key_are_recorded_with_name_points_and_expected():
    r = check_value("t.ph", ..., 2.5, points=2)
    assert r.feedback == "[t.ph] 0/2 points: no answer yet; replace the placeholder `...` with your value"
    assert (r.exercise, r.points, r.max_points, r.expected) == ("t.ph", 0, 2, "2.5")
    r = check_value("t.nankey", 1.0, NAN, points=2)
    assert r.feedback == ("[t.nankey] 0/2 points: the answer key of this exercise is not a number (NaN); "
                          "tell your instructor")
    assert (r.exercise, r.points, r.max_points, r.expected) == ("t.nankey", 0, 2, "nan")


def test_a_wider_tolerance_given_to_a_check_is_the_one_used():
    assert check_value("t.tol", 1.05, 1.0, tol=0.1).passed
    assert check("t.tol", lambda x: x + 0.05, lambda x: x, cases=[(1.0,)], tol=0.1).passed
    assert not check("t.tol", lambda x: x + 0.05, lambda x: x, cases=[(1.0,)], tol=0.01).passed


def test_an_answer_whose_comparison_raises_is_wrong():
    class Raises:
        def __eq__(self, other):
            raise RuntimeError("cannot compare")
        __hash__ = None
        def __repr__(self):
            return "Raises()"
    r = check_value("t.raise", Raises(), {1, 2})
    assert not r.passed and r.feedback.endswith("Raises() is wrong: it is not the expected answer.")


@pytest.mark.parametrize("got, expected, feedback", [
    (np.array([0.1, 0.5], dtype=np.float32), (0.1, 0.7), "component 2 of 2 has the right sign"),
    ((0.1, 0.5), np.array([0.1, 0.7], dtype=np.float32), "component 2 of 2 has the right sign"),
])
def test_a_float32_number_within_its_precision_is_not_called_wrong(got, expected, feedback):
    """0.1 in float32 differs from 0.1 by 1.5e-9, within 8 float32 epsilons: only the 0.5 is wrong."""
    r = check_value("t.f32", got, expected, tol=0)
    assert r.feedback.split(" is wrong: ")[1] == feedback + " and order of magnitude, but is not right."


def test_a_near_miss_shows_the_expected_value_in_full_when_six_digits_print_both_the_same():
    r = check("t.full", lambda: 1.0000001, lambda: 1.0, cases=[()])
    assert r.feedback == "[t.full] 0/1 points. Wrong result on input ()\n  expected: 1.0\n  got:      1.0000001"
    assert (r.exercise, r.max_points) == ("t.full", 1)


def test_a_student_error_names_the_line_that_raised_inside_a_helper():
    def helper(x):
        return [x][3]

    def student(x):
        return helper(x) + 1
    r = check("t.err", student, lambda x: x, cases=[(1.0,)], points=2)
    assert r.feedback.startswith("[t.err] 0/2 points. On input (1) your code raised IndexError: list index "
                                 "out of range (line ")
    assert r.feedback.endswith(": return [x][3])") and (r.exercise, r.max_points) == ("t.err", 2)
    r = check("t.todo", lambda x: (_ for _ in ()).throw(NotImplementedError()), lambda x: x, cases=[(1.0,)])
    assert r.feedback.endswith("not implemented yet: replace `raise NotImplementedError()` with your code")


def test_a_missing_function_is_recorded_with_name_and_points():
    r = check("t.none", None, lambda: 1.0, cases=[()], points=4)
    assert r.feedback == ("[t.none] 0/4 points: no function yet (got None); define it in the cell above "
                          "and run that cell")
    assert (r.exercise, r.points, r.max_points) == ("t.none", 0, 4)


def test_random_cases_come_from_a_generator_seeded_with_the_seed_and_20_by_default():
    import random
    seen = []

    def student(x):
        seen.append(x)
        return x
    r = check("t.rand", student, lambda x: x, random_cases=lambda rng: (rng.random(),))
    rng = random.Random(0)
    assert seen == [rng.random() for _ in range(20)]
    assert r.feedback == "[t.rand] 1/1 points: all 20 cases match the reference."
    assert (r.exercise, r.points, r.max_points) == ("t.rand", 1, 1)
    seen.clear()
    check("t.rand", student, lambda x: x, random_cases=lambda rng: (rng.random(),), n_random=2, seed=7)
    rng = random.Random(7)
    assert seen == [rng.random(), rng.random()]


def test_assert_passed_message_names_the_failed_checks_and_points_to_the_feedback():
    check_value("t.ap", 2.0, 3.0, points=2)
    with pytest.raises(AssertionError) as e:
        assert_passed()
    assert str(e.value) == "1 check(s) of this cell did not pass: t.ap (0/2). The feedback above says why."


# --- close(): every branch of the comparison -------------------------------------------------------

def test_close_on_integers_uses_the_scaled_tolerance_and_never_matches_infinity():
    assert close(1005, 1000, 0.01) and not close(1011, 1000, 0.01)   # 0.01 * 1000
    assert not close(2, 1, 0.5) and close(3, 2, 0.5)                  # 0.5 * max(1, 1) and 0.5 * 2
    assert not close(3, INF, 1e-9) and not close(np.array([3]), np.array([-INF]), 1e-9)


def test_a_list_of_float32_numbers_keeps_their_precision_and_an_empty_list_adds_none():
    assert close([np.float32(0.1), 2.0], [0.1, 2.0], 0)
    assert close([], [], 0) and close((), [], 0)
    assert not close((1.5, []), (1.0, []), 0) and not close((1.5, ()), (1.0, ()), 0.25)


def test_a_bool_inside_a_list_is_not_a_number():
    assert not close([True, 2.0], [1.0, 2.0], 0) and not close((2.0, False), (2.0, 0.0), 0)


def test_dictionaries_match_key_by_key_within_the_tolerance():
    assert close({"a": 1.0 + 1e-12, "b": (2.0, 3)}, {"a": 1.0, "b": (2.0, 3)}, 1e-9)
    assert not close({"a": 1.1}, {"a": 1.0}, 1e-9) and not close({"b": 1.0}, {"a": 1.0}, 1e-9)
    assert not close({"a": 1.0, "b": 2.0}, {"a": 1.0}, 1e-9)
    assert close({"a": 1.05}, {"a": 1.0}, 0.1) and not check_value("t.dict", [("a", 1.0)], {"a": 1.0}).passed


def test_lists_that_are_not_numbers_match_item_by_item_and_length():
    assert close([1.0, "a"], [1.0, "a"], 0) and close((1.05, "a"), [1.0, "a"], 0.1)
    assert not close([1.0], [1.0, "a"], 0) and not close([1.0, "a", 2.0], [1.0, "a"], 0)
    assert not close("ab", ["a", "b"], 0) and not close([2.0, "a"], [1.0, "a"], 0)


def test_arrays_that_are_not_numbers_match_only_equal_arrays():
    t, f = np.array([True, False]), np.array([True, True])
    assert close(t, np.array([True, False]), 0) and not close(f, t, 0)
    assert not close([True, False], t, 0) and not close(t, [True, False], 0)
    assert close(np.array(["a", "b"]), np.array(["a", "b"]), 0)


def test_other_objects_are_compared_with_equality():
    assert close({1, 2}, {2, 1}, 0) and not close({1}, {1, 2}, 0)
    assert close(frozenset(), frozenset(), 0) and not close(1j, 2j, 0)


def test_comparing_the_largest_floats_raises_no_overflow_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not close(1e308, -1e308, 1e-9) and not close(np.array([-1.7e308]), np.array([1.7e308]), 0.5)


def test_feedback_shows_one_element_tuples_and_arrays_at_six_digits_or_in_full():
    assert check_value("t.one", (1.5,), (2.5,)).feedback.startswith("[t.one] 0/1 points: (1.5,) is wrong")
    third = np.array([1.0 / 3.0, 2.0])
    assert ex._show(third) == "[0.333333 2.      ]"
    assert ex._show(third, precise=True) == "[0.3333333333333333 2.                ]"
    assert "..." in ex._show(np.arange(21.0)) and "..." not in ex._show(np.arange(20.0))
    assert "..." in ex._show(np.arange(21.0), True) and "..." not in ex._show(np.arange(20.0), True)
    r = check("t.arr", lambda: third, lambda: third + 1e-9, cases=[()])
    assert r.feedback.endswith("expected: [0.33333333433333334 2.000000001        ]\n"
                               "  got:      [0.3333333333333333 2.                ]")  # six digits print both alike


def test_several_wrong_components_are_each_described_in_order():
    r = check_value("t.many", (1.0, -5.0, 7.0), (2.0, 5.0, 7.0))
    assert r.feedback.endswith("is wrong: component 1 of 3 has the right sign and order of magnitude, but is not "
                               "right; component 2 of 3 has the wrong sign.")


def test_a_function_check_keeps_no_expected_text_and_names_what_it_got_instead_of_a_function():
    assert check("t.fn", lambda: 1.0, lambda: 1.0, cases=[()]).expected == ""
    r = check("t.fn", 3, lambda: 1.0, cases=[()])
    assert "no function yet (got 3)" in r.feedback and r.expected == ""


def test_fixed_cases_use_the_given_answers_and_random_cases_the_reference():
    seen = []

    def reference(x):
        seen.append(x)
        return 2 * x
    # the given answer for the fixed case is what counts there (it disagrees with the reference)
    r = check("t.mix", lambda x: 2 * x if x != 1.0 else 5.0, reference, cases=[(1.0,)], expected=[5.0],
              random_cases=lambda rng: (rng.random(),), n_random=3)
    assert r.passed and "all 4 cases" in r.feedback and len(seen) == 3 and 1.0 not in seen


def test_a_0d_bool_array_is_reported_as_a_bool_not_as_an_array():
    r = check_value("t.b0", np.array(True), expected=1.0)
    assert not r.passed and "expected a number, got a bool." in r.feedback


def test_integers_beyond_float_precision_stay_exact_and_the_reason_gives_nothing_away():
    r = check_value("t.big", 2 ** 53 + 1, expected=2 ** 53, tol=0)  # equal once rounded to float64
    assert not r.passed
    assert r.feedback.endswith("is wrong: it is not the expected answer.")
    assert str(2 ** 53) not in r.feedback
