"""Checks for the lessons' exercises, with feedback a student can act on.

Two kinds of check:

- `check(name, student_fn, reference, cases=...)` runs the student's function on fixed and
  seeded random inputs and compares each result with the reference. A failure names the
  input, the expected result and what came back: for a function, showing the expected
  output of one input teaches without handing out the code.
- `check_value(name, answer)` grades a number worked out by hand (or a tuple or array of
  them). Its expected value comes from the lesson's answer key (`minidl.exercises.answers`),
  and a wrong answer is told how it is wrong (the sign, the order of magnitude, which
  component, the shape) and the hint, never the expected value. The expected value is kept
  in `CheckResult.expected`, which graders show to the instructor only.

A check never raises for a wrong answer or for an exception in the student's code: it
prints its feedback and records a `CheckResult`, so that every check of a cell reports.
Each check cell ends with `assert_passed()`, the one place that decides how a failure
ends the cell: it raises AssertionError when any check of the cell failed. Any tool that
runs the notebook (nbgrader's autograde and Validate, nbval, a student's Run All) then
marks the cell failed, with no setting; `minidl teach grade` reads each check's own points
from `results()`.

How answers are compared (`close`): a `Value` or `Tensor` counts as its data; Python and
numpy numbers of any type are numbers; tuples, lists and arrays are compared element by
element and must have the expected shape; numbers match when |got - expected| <=
tol * max(1, |expected|), infinities only when equal, and NaN never matches.
"""
from __future__ import annotations

import math
import numbers
import random
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CheckResult", "assert_passed", "check", "check_value", "close", "results"]

_RESULTS: list[CheckResult] = []
_CELL: list[CheckResult] = []  # the checks run since the current cell started


@dataclass
class CheckResult:
    """The outcome of one exercise check. `expected` is for the instructor's eyes only."""

    exercise: str
    points: float
    max_points: float
    feedback: str
    expected: str = ""

    @property
    def passed(self) -> bool:
        return self.points == self.max_points

    def _ipython_display_(self):
        pass  # the check already printed its feedback; a notebook shows it once


def results() -> list[CheckResult]:
    """Every check run so far in this process, in order (a grader reads these)."""
    return list(_RESULTS)


def _new_cell(*_args) -> None:
    _CELL.clear()


try:  # in a notebook, each cell starts with an empty list of checks
    from IPython import get_ipython
    _shell = get_ipython()
    if _shell is not None:
        for _old in [f for f in _shell.events.callbacks["pre_run_cell"]
                     if getattr(f, "__name__", "") == "_new_cell"]:  # a reloaded module: one callback
            _shell.events.unregister("pre_run_cell", _old)
        _shell.events.register("pre_run_cell", _new_cell)
except ImportError:  # plain Python: assert_passed() covers the checks since its last call
    pass


def assert_passed() -> None:
    """Ends a check cell: raises AssertionError naming every check of this cell that failed.

    Call it last in each check cell, after all its checks have printed their feedback. This
    is what makes a failed check fail its cell under nbgrader, nbval or any other runner.
    """
    failed = [r for r in _CELL if not r.passed]
    _CELL.clear()
    if failed:
        names = ", ".join(f"{r.exercise} ({r.points:g}/{r.max_points:g})" for r in failed)
        raise AssertionError(f"{len(failed)} check(s) of this cell did not pass: {names}. "
                             "The feedback above says why.")


def _plain(x: Any) -> Any:
    """A Value or Tensor as its data; a 0-d array or numpy scalar as a Python number."""
    from minidl.engine import Value
    from minidl.tensor import Tensor
    if isinstance(x, (Value, Tensor)):
        x = x.data
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x.item()
    if isinstance(x, np.generic):
        x = x.item()
    return x


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _numeric_array(x: Any) -> np.ndarray | None:
    """x as a float array when it is a number, or a (nested) sequence or array of numbers."""
    if isinstance(x, (str, bytes, dict)) or x is None:
        return None
    if isinstance(x, (list, tuple)):
        x = [_plain(v) for v in x]
        if any(isinstance(v, (str, bytes, bool, dict)) or v is None or v is Ellipsis for v in x):
            return None
    try:
        a = np.asarray(x)
    except Exception:  # ragged
        return None
    if a.dtype == object or a.dtype.kind not in "iufc" or a.dtype.kind == "c":
        return None
    return a.astype(float)


def _numbers_match(g: np.ndarray, e: np.ndarray, tol: float) -> np.ndarray:
    """Elementwise: equal infinities, or |g - e| <= tol max(1, |e|); NaN never matches."""
    finite = np.isfinite(g) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        near = np.abs(np.where(finite, g - e, 0.0)) <= tol * np.maximum(1.0, np.abs(np.where(finite, e, 0.0)))
    same_inf = np.isinf(g) & np.isinf(e) & (g == e)
    return np.where(finite, near, same_inf)


def close(got: Any, expected: Any, tol: float) -> bool:
    """True when `got` matches `expected` by the rule in the module's docstring."""
    got, expected = _plain(got), _plain(expected)
    if isinstance(expected, bool) or isinstance(expected, str) or expected is None:
        return type(got) is type(expected) and got == expected
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(close(got[k], expected[k], tol) for k in expected))
    e = _numeric_array(expected)
    if e is not None:
        if isinstance(got, bool):
            return False
        g = _numeric_array(got)
        return g is not None and g.shape == e.shape and bool(np.all(_numbers_match(g, e, tol)))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(close(a, b, tol) for a, b in zip(got, expected)))
    return got == expected


def _how_wrong(got: Any, expected: Any, tol: float) -> str:
    """What is wrong with a by-hand answer, without its expected value: the shape, which
    components, the sign, the order of magnitude."""
    e, g = _numeric_array(_plain(expected)), _numeric_array(_plain(got))
    if e is None:
        return "it is not the expected answer"
    if g is None:
        return f"expected {'a number' if e.ndim == 0 else f'{e.size} numbers'}, got a {type(got).__name__}"
    if g.shape != e.shape:
        return (f"expected {e.size} number{'s' if e.size != 1 else ''} (shape {e.shape}), "
                f"got {g.size} (shape {g.shape})")
    if np.isnan(g).any():
        return "the answer contains NaN"
    wrong = ~_numbers_match(g, e, tol)
    parts = []
    for idx in zip(*np.nonzero(np.atleast_1d(wrong))):
        gi, ei = float(np.atleast_1d(g)[idx]), float(np.atleast_1d(e)[idx])
        where = ("" if e.ndim == 0 else f"component {idx[0] + 1} of {e.size} " if e.ndim == 1
                 else f"entry {tuple(int(i) for i in idx)} ")
        if ei != 0 and gi != 0 and (gi > 0) != (ei > 0):
            why = "has the wrong sign"
        elif ei == 0:
            why = "should be zero" if e.ndim else "is not right"
        elif gi == 0:
            why = "should not be zero"
        elif math.isinf(gi) or math.isinf(ei):
            why = "is not right"
        else:
            k = math.log10(abs(gi) / abs(ei))
            why = (f"is about {10 ** round(abs(k)):g} times too {'large' if k > 0 else 'small'}"
                   if abs(k) >= 1 else "has the right sign and size, but is not right")
        parts.append(f"{where}{why}")
    return "; ".join(parts) if parts else "it is not the expected answer"


def _show(x: Any) -> str:
    try:
        return _show_unguarded(x)
    except Exception:  # a student's object whose repr raises still gets feedback
        return f"<a {type(x).__name__} that cannot be printed>"


def _show_unguarded(x: Any) -> str:
    x = _plain(x)
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_show(v) for v in x)
        return f"({inner}{',' if len(x) == 1 else ''})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=6, threshold=20)
    return repr(x)


def _matches(got: Any, expected: Any, tol: float) -> bool:
    """close(), except that a result that cannot even be compared is wrong, not a crash."""
    try:
        return close(got, expected, tol)
    except Exception:  # e.g. a ragged list where an array is expected
        return False


def _unanswered(x: Any) -> bool:
    """True for the placeholder `...` (or None), also inside a tuple or list."""
    if x is Ellipsis or x is None:
        return True
    return isinstance(x, (list, tuple)) and any(_unanswered(v) for v in x)


def _student_error(e: BaseException) -> str:
    if isinstance(e, NotImplementedError):
        return "not implemented yet: replace `raise NotImplementedError()` with your code"
    frame = traceback.extract_tb(e.__traceback__)[-1]
    return f"your code raised {type(e).__name__}: {e} (line {frame.lineno}: {frame.line})"


def _record(name: str, points: float, max_points: float, feedback: str, expected: str = "") -> CheckResult:
    result = CheckResult(name, points, max_points, feedback, expected)
    _RESULTS.append(result)
    _CELL.append(result)
    print(feedback)
    return result


def check(name: str, student: Callable, reference: Callable | None = None,
          cases: Sequence[tuple] = (), expected: Sequence[Any] | None = None,
          random_cases: Callable[[random.Random], tuple] | None = None, n_random: int = 20,
          points: float = 1, tol: float = 1e-9, hint: str = "", seed: int = 0) -> CheckResult:
    """Runs `student(*args)` on every case and compares it with the right answer.

    Args:
        name: the exercise, as the lesson numbers it ("01.2 max gate").
        student: the function to check.
        reference: the correct function; needed for random cases.
        cases: fixed argument tuples, tried first.
        expected: the right answers for `cases`, when there is no reference.
        random_cases: makes one argument tuple from a seeded `random.Random`.
        n_random: how many random cases to try.
        points: awarded only when every case passes.
        tol: absolute and relative tolerance for numbers.
        hint: printed on failure.
    """
    if reference is None and (expected is None or len(expected) != len(cases) or random_cases):
        raise ValueError(f"check {name!r}: give a reference function, or one expected answer "
                         f"per fixed case ({len(cases)} cases) and no random cases")
    rng = random.Random(seed)
    all_cases = list(cases) + ([random_cases(rng) for _ in range(n_random)] if random_cases else [])
    answers = list(expected) if expected is not None else [None] * len(cases)
    for i, args in enumerate(all_cases):
        shown = ", ".join(_show(a) for a in args)
        want = answers[i] if i < len(answers) and expected is not None else reference(*args)
        try:
            got = student(*args)
        except (Exception, SystemExit) as e:  # a student's bug, even sys.exit(), is feedback, not a crash
            return _record(name, 0, points, f"[{name}] 0/{points} points. On input ({shown}) "
                           f"{_student_error(e)}" + (f"\n  hint: {hint}" if hint else ""))
        if not _matches(got, want, tol):
            return _record(name, 0, points, f"[{name}] 0/{points} points. Wrong result on input ({shown})"
                           f"\n  expected: {_show(want)}\n  got:      {_show(got)}"
                           + (f"\n  hint: {hint}" if hint else ""))
    return _record(name, points, points, f"[{name}] {points}/{points} points: "
                   f"all {len(all_cases)} cases match the reference.")


def check_value(name: str, got: Any, expected: Any = None, points: float = 1, tol: float = 1e-9,
                hint: str = "") -> CheckResult:
    """Grades one answer worked out by hand (a number, or a tuple, list or array of them).

    `expected` defaults to the lesson's answer key for the exercise named by the first word of
    `name` ("05.3 ..." -> `minidl.exercises.answers.expected("05.3")`). A wrong answer's feedback
    says how it is wrong, never what is right; the expected value goes to `CheckResult.expected`.
    """
    if expected is None:
        from minidl.exercises.answers import expected as key
        expected = key(name.split()[0])
    shown = _show(expected)
    if _unanswered(got):
        return _record(name, 0, points, f"[{name}] 0/{points:g} points: no answer yet; "
                       "replace the placeholder `...` with your value", shown)
    if not _matches(got, expected, tol):
        return _record(name, 0, points, f"[{name}] 0/{points:g} points: {_show(got)} is wrong: "
                       f"{_how_wrong(got, expected, tol)}." + (f"\n  hint: {hint}" if hint else ""), shown)
    return _record(name, points, points, f"[{name}] {points:g}/{points:g} points: {_show(got)} is right.", shown)
