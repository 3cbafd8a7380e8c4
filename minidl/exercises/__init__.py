"""Checks for the lessons' exercises, with feedback a student can act on.

A check runs the student's code on fixed inputs and on seeded random inputs,
compares each result with the reference, and prints which input failed, what
was expected, what came back, and a hint. It never raises: an exception in the
student's code is reported as feedback, so the notebook keeps running.

    check("01.2 max gate", max_gate_backward, cases=[(3.0, 1.0, 2.0)], expected=[(2.0, 0.0)])

`results()` is how the grader reads the points: `minidl teach` (release.py, grade.py)
releases the lessons to students and grades their notebooks with these checks.
nbgrader instead gives a check cell its points unless the cell raises; with the
environment variable MINIDL_CHECKS_RAISE=1 a failed check raises AssertionError
(after printing its feedback), so that `nbgrader autograde` scores such a cell 0.
"""
from __future__ import annotations

import math
import os
import random
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CheckResult", "check", "check_value", "results"]

_RESULTS: list[CheckResult] = []
RAISE_ENV = "MINIDL_CHECKS_RAISE"  # set to 1 under `nbgrader autograde`: a failed check then raises


@dataclass
class CheckResult:
    """The outcome of one exercise check."""

    exercise: str
    points: float
    max_points: float
    feedback: str

    @property
    def passed(self) -> bool:
        return self.points == self.max_points

    def _ipython_display_(self):
        pass  # the check already printed its feedback; a notebook shows it once


def results() -> list[CheckResult]:
    """Every check run so far in this process, in order (a grader reads these)."""
    return list(_RESULTS)


def close(got: Any, expected: Any, tol: float) -> bool:
    """True when `got` matches `expected`: numbers within tol (absolute or
    relative), sequences and arrays element by element, anything else by ==."""
    if hasattr(got, "data") and not isinstance(got, np.ndarray) and isinstance(expected, (int, float)):
        got = got.data  # a Value compared with a number
    if isinstance(expected, (bool, str)) or expected is None:
        return got == expected
    if isinstance(expected, (int, float)):
        if isinstance(got, (str, bytes, bool)):
            return False
        try:
            g = float(got)
        except (TypeError, ValueError):
            return False
        if math.isnan(expected):
            return math.isnan(g)
        return abs(g - expected) <= tol * max(1.0, abs(expected))
    if isinstance(expected, np.ndarray):
        g = np.asarray(got, dtype=float)
        return g.shape == expected.shape and bool(np.allclose(g, expected, rtol=tol, atol=tol))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple, np.ndarray)) and len(got) == len(expected)
                and all(close(g, e, tol) for g, e in zip(got, expected)))
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(close(got[k], expected[k], tol) for k in expected))
    return got == expected


def _matches(got: Any, expected: Any, tol: float) -> bool:
    """close(), except that a result that cannot even be compared is wrong, not a crash."""
    try:
        return close(got, expected, tol)
    except Exception:  # e.g. a ragged list where an array is expected
        return False


def _show(x: Any) -> str:
    try:
        return _show_unguarded(x)
    except Exception:  # a student's object whose repr raises still gets feedback
        return f"<a {type(x).__name__} that cannot be printed>"


def _show_unguarded(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_show(v) for v in x)
        return f"({inner}{',' if len(x) == 1 else ''})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, np.ndarray):
        return np.array2string(x, precision=6, threshold=20)
    return repr(x)


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


def _record(name: str, points: float, max_points: float, feedback: str) -> CheckResult:
    result = CheckResult(name, points, max_points, feedback)
    _RESULTS.append(result)
    print(feedback)
    if points < max_points and os.environ.get(RAISE_ENV) == "1":  # nbgrader scores a cell 0 only if it raises
        raise AssertionError(feedback)
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


def check_value(name: str, got: Any, expected: Any, points: float = 1, tol: float = 1e-9,
                hint: str = "") -> CheckResult:
    """Compares one answer (a number, tuple or array) with the expected one."""
    if _unanswered(got):
        return _record(name, 0, points, f"[{name}] 0/{points} points: no answer yet; "
                       "replace the placeholder with your value")
    if not _matches(got, expected, tol):
        return _record(name, 0, points, f"[{name}] 0/{points} points.\n  expected: {_show(expected)}"
                       f"\n  got:      {_show(got)}" + (f"\n  hint: {hint}" if hint else ""))
    return _record(name, points, points, f"[{name}] {points}/{points} points: {_show(got)} is right.")
