"""Exercise checks: feedback names the input, the expected and the returned value."""
import numpy as np
import pytest

from minidl.engine import Value
from minidl.exercises import check, check_value, close, results


def ref_max(x, y, dout):
    return (dout, 0.0) if x > y else (0.0, dout)


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


def test_expected_answers_can_replace_the_reference():
    assert check("t.5", ref_max, cases=[(3.0, 1.0, 2.0)], expected=[(2.0, 0.0)]).passed
    with pytest.raises(ValueError, match="one expected answer per fixed case"):
        check("t.6", ref_max, cases=[(3.0, 1.0, 2.0)], expected=[])


def test_check_value_placeholder_and_wrong_and_right():
    assert check_value("t.7", ..., 3.0).points == 0
    assert check_value("t.7b", (1.0, ...), (1.0, 2.0)).feedback.endswith("with your value")
    assert check_value("t.8", 2.0, 3.0).points == 0
    assert check_value("t.9", (3.0, -4.0), (3.0, -4.0), points=3).points == 3


def test_results_records_every_check_in_order():
    check_value("t.10", 1.0, 1.0)
    assert results()[-1].exercise == "t.10"


def test_close_compares_numbers_sequences_arrays_and_values():
    assert close(1.0 + 1e-12, 1.0, 1e-9) and not close(1.1, 1.0, 1e-9)
    assert close([1.0, (2.0, 3.0)], [1.0, (2.0, 3.0)], 1e-9)
    assert close(np.ones((2, 2)), np.ones((2, 2)), 1e-9) and not close(np.ones(3), np.ones((3, 1)), 1e-9)
    assert close(Value(2.0), 2.0, 1e-9)
    assert not close("2", 2.0, 1e-9) and not close([1.0], [1.0, 2.0], 1e-9)


def test_result_that_cannot_be_compared_is_wrong_not_a_crash(capsys):
    assert check_value("t.11", ["a", [1.0, 2.0]], np.ones(2)).points == 0
    r = check("t.12", lambda: ["a", "b"], cases=[()], expected=[np.ones(2)])
    assert r.points == 0 and "got:      ['a', 'b']" in capsys.readouterr().out


def test_sys_exit_in_student_code_is_reported_not_raised(capsys):
    import sys
    r = check("t.13", lambda: sys.exit(3), cases=[()], expected=[1.0])
    assert r.points == 0 and "SystemExit" in capsys.readouterr().out


def test_object_whose_repr_raises_still_gets_feedback(capsys):
    class Weird:
        def __repr__(self):
            raise RuntimeError("no repr")
    assert check_value("t.14", Weird(), 1.0).points == 0
    assert "<a Weird that cannot be printed>" in capsys.readouterr().out


def test_failed_check_raises_only_when_asked_to_for_nbgrader(monkeypatch, capsys):
    assert check_value("t.15", 2.0, 3.0).points == 0  # the default: feedback, no exception
    monkeypatch.setenv("MINIDL_CHECKS_RAISE", "1")
    assert check_value("t.16", 3.0, 3.0).passed
    with pytest.raises(AssertionError, match="expected: 3"):
        check_value("t.17", 2.0, 3.0)
    assert results()[-1].exercise == "t.17" and "t.17" in capsys.readouterr().out
