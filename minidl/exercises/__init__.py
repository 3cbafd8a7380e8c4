"""Checks for the lessons' exercises, with feedback a student can act on.

Two kinds of check:

- `check(name, student_fn, reference, cases=...)` runs the student's function on fixed and
  seeded random inputs and compares each result with the reference. A failure names the
  input, the expected result and what came back: for a function, showing the expected
  output of one input teaches without handing out the code.
- `check_value(name, answer)` grades a number worked out by hand (or a tuple or array of
  them). Its expected value comes from the lesson's answer key (`minidl.exercises.answers`),
  and a wrong answer is told how it is wrong (the shape, which component, the sign, the
  order of magnitude, "close but not within the tolerance") and the hint, never the expected
  value. The expected value is kept in `CheckResult.expected`, which graders show to the
  instructor only (the `expected` column of `minidl teach grade`'s grades.csv).

How a failed check ends its cell, decided in one place, `assert_passed()`: a check never
raises for a wrong answer or for an exception in the student's code; it prints its
feedback and records a `CheckResult`, so that every check of a cell reports. Each check
cell ends with `assert_passed()`, which raises AssertionError when any check of that cell
failed. Any tool that runs the notebook (nbgrader's autograde and Validate, nbval, a
student's Run All) then marks the cell failed, with no variable or configuration;
`minidl teach grade` runs every cell with errors allowed and reads each check's own points
from `results()`.

How answers are compared (`close`), the one rule for every check:

- a `Value` or `Tensor` counts as its data, a numpy scalar or 0-d array as a number;
- numbers (Python or numpy, of any int or float type) match when
  |got - expected| <= tol * max(1, |expected|): an absolute tolerance near 0, a relative
  one beyond 1, and exact equality when tol = 0 (integers are compared exactly, without
  rounding to float);
- a float32 (float16) number is only known to its precision: on either side it raises tol
  to at least 8 of its epsilons (about 1e-6 for float32, 8e-3 for float16);
- infinities match only an equal infinity; NaN matches nothing, not even NaN;
- tuples, lists and arrays are compared element by element and must have the expected
  shape: (2.0, 0.0), [2, 0] and np.array([2., 0.]) are the same answer; a bool is not a
  number;
- strings, bools and None must be equal and of the same type; dicts need the same keys.
"""
from __future__ import annotations

import copy
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
_LOW_PRECISION_EPS = 8  # a float32/float16 number is known to this many of its epsilons


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
        names = ", ".join(f"{r.exercise} ({_pts(r.points)}/{_pts(r.max_points)})" for r in failed)
        raise AssertionError(f"{len(failed)} check(s) of this cell did not pass: {names}. "
                             "The feedback above says why.")


# --- comparing answers ---------------------------------------------------------------------------

def _is_minidl_number(x: Any) -> bool:
    from minidl.engine import Value
    from minidl.tensor import Tensor
    return isinstance(x, (Value, Tensor))


def _plain(x: Any) -> Any:
    """A Value or Tensor as its data; a 0-d array or numpy scalar as a Python number."""
    if _is_minidl_number(x):
        x = x.data
    if isinstance(x, np.ndarray) and x.ndim == 0:
        x = x[()]
    if isinstance(x, np.generic):  # checked by type: a numpy scalar's .data is a memoryview
        x = x.item()
    return x


def _resolution(x: Any) -> float:
    """The relative precision of the least precise float in x (0 for float64, ints, others)."""
    if _is_minidl_number(x):
        x = x.data
    if isinstance(x, (np.ndarray, np.generic)):
        kind, size = x.dtype.kind, x.dtype.itemsize
        return float(np.finfo(x.dtype).eps) if kind == "f" and size < 8 else 0.0
    if isinstance(x, (list, tuple)):
        return max((_resolution(v) for v in x), default=0.0)
    return 0.0


def _leaves(x: Any) -> Any:
    """x with every Value, Tensor and numpy scalar inside nested lists and tuples made plain."""
    x = _plain(x)
    if isinstance(x, (list, tuple)):
        return [_leaves(v) for v in x]
    return x


def _bad_leaf(x: Any) -> bool:
    if isinstance(x, list):
        return any(_bad_leaf(v) for v in x)
    return isinstance(x, (str, bytes, bool, dict)) or x is None or x is Ellipsis


def _numeric_array(x: Any) -> np.ndarray | None:
    """x as an int or float64 array when it is a number, or a (nested) sequence or array of
    numbers; None otherwise (strings, bools, ragged lists, objects, complex numbers)."""
    x = _leaves(x)
    if isinstance(x, (str, bytes, dict, bool)) or x is None or _bad_leaf(x):
        return None
    if not isinstance(x, (list, np.ndarray)) and not (isinstance(x, numbers.Number)):
        return None
    try:
        a = np.asarray(x)
    except Exception:  # ragged
        return None
    if a.dtype.kind in "iu":
        return a
    if a.dtype.kind != "f":
        return None  # object (ragged or odd items), bool, complex, strings
    return a.astype(np.float64)


def _numbers_match(g: np.ndarray, e: np.ndarray, tol: float) -> np.ndarray:
    """Elementwise: |g - e| <= tol max(1, |e|), equal infinities; NaN never matches."""
    if g.dtype.kind in "iu" and e.dtype.kind in "iu":  # exact, in Python ints: no rounding, no overflow
        go, eo = g.astype(object), e.astype(object)
        return np.array([abs(a - b) <= tol * max(1, abs(b)) for a, b in zip(go.ravel(), eo.ravel())],
                        dtype=bool).reshape(e.shape)
    g, e = g.astype(np.float64), e.astype(np.float64)
    finite = np.isfinite(g) & np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(np.where(finite, g, 0.0) - np.where(finite, e, 0.0))
        near = gap <= tol * np.maximum(1.0, np.abs(np.where(finite, e, 0.0)))
    same_inf = np.isinf(g) & np.isinf(e) & (g == e)
    return np.where(finite, near, same_inf)


def _check_tol(tol: Any) -> float:
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 <= tol < math.inf:
        raise ValueError(f"tol must be a finite number >= 0 (0 means exact), got {tol!r}")
    return float(tol)


def close(got: Any, expected: Any, tol: float = 1e-9) -> bool:
    """True when `got` matches `expected` by the rule in the module's docstring."""
    tol = max(_check_tol(tol), _LOW_PRECISION_EPS * max(_resolution(got), _resolution(expected)))
    return _close(got, expected, tol)


def _close(got: Any, expected: Any, tol: float) -> bool:
    got, expected = _plain(got), _plain(expected)
    if isinstance(expected, (bool, str, bytes)) or expected is None:
        return type(got) is type(expected) and got == expected
    if isinstance(expected, dict):
        return (isinstance(got, dict) and got.keys() == expected.keys()
                and all(_close(got[k], expected[k], tol) for k in expected))
    e = _numeric_array(expected)
    if e is not None:
        g = _numeric_array(got)
        return g is not None and g.shape == e.shape and bool(np.all(_numbers_match(g, e, tol)))
    if isinstance(expected, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(expected)
                and all(_close(a, b, tol) for a, b in zip(got, expected)))
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        return isinstance(got, np.ndarray) and isinstance(expected, np.ndarray) and np.array_equal(got, expected)
    return bool(got == expected)


def _how_wrong(got: Any, expected: Any, tol: float) -> str:
    """What is wrong with a by-hand answer, without its expected value: the shape, which
    components, the sign, the order of magnitude, or that it is close but not within tol."""
    e, g = _numeric_array(expected), _numeric_array(got)
    if e is None:
        return "it is not the expected answer"
    if g is None:
        what = "a bool" if isinstance(_plain(got), bool) else f"a {type(got).__name__}"
        return f"expected {'a number' if e.ndim == 0 else f'{e.size} numbers'}, got {what}"
    if g.shape != e.shape:
        return (f"expected {e.size} number{'s' if e.size != 1 else ''} (shape {e.shape}), "
                f"got {g.size} (shape {g.shape})")
    g, e = g.astype(np.float64), e.astype(np.float64)
    if np.isnan(g).any():
        return "the answer contains NaN"
    tol = max(_check_tol(tol), _LOW_PRECISION_EPS * max(_resolution(got), _resolution(expected)))
    wrong = ~_numbers_match(g, e, tol)
    parts = []
    for idx in zip(*np.nonzero(np.atleast_1d(wrong))):
        gi, ei = float(np.atleast_1d(g)[idx]), float(np.atleast_1d(e)[idx])
        where = ("it " if e.ndim == 0 else f"component {idx[0] + 1} of {e.size} " if e.ndim == 1
                 else f"entry {tuple(int(i) for i in idx)} ")
        parts.append(where + _why(gi, ei, tol))
    return "; ".join(parts) if parts else "it is not the expected answer"


def _why(g: float, e: float, tol: float) -> str:
    """How one wrong number differs from the expected one, in words that do not give it away."""
    if math.isnan(e) or math.isinf(g) or math.isinf(e):
        return "is not right"
    if e != 0 and g != 0 and (g > 0) != (e > 0):
        return "has the wrong sign"
    if e == 0 or g == 0:  # saying "should be zero" would hand out the answer
        return "is not right"
    if abs(g - e) <= 0.01 * abs(e):  # relative, whatever the tolerance's scale
        return (f"is close (within 1%) but not within the check's tolerance (tol = {tol:g}): "
                "keep more digits or compute it exactly")
    k = math.log10(abs(g) / abs(e))
    r = round(abs(k))
    if r >= 1:  # a factor of at least sqrt(10): only its order of magnitude, as a range
        lo, hi = (f"{10 ** (r - 0.5):.2g}", f"{10 ** (r + 0.5):.2g}")
        return f"is too {'large' if k > 0 else 'small'} by a factor between {float(lo):g} and {float(hi):g}"
    return "has the right sign and order of magnitude, but is not right"


# --- feedback ------------------------------------------------------------------------------------

def _pts(x: float) -> str:
    return f"{x:g}"


def _show(x: Any, precise: bool = False) -> str:
    try:
        return _show_unguarded(x, precise)
    except Exception:  # a student's object whose repr raises still gets feedback
        return f"<a {type(x).__name__} that cannot be printed>"


def _show_unguarded(x: Any, precise: bool) -> str:
    x = _plain(x)
    if isinstance(x, float):
        return repr(x) if precise else f"{x:.6g}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(_show(v, precise) for v in x)
        return f"({inner}{',' if len(x) == 1 else ''})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, np.ndarray):
        if precise:
            return np.array2string(x, floatmode="unique", threshold=20)
        return np.array2string(x, precision=6, threshold=20)
    return repr(x)


def _show_pair(want: Any, got: Any) -> tuple[str, str]:
    """Both at 6 digits, or in full when 6 digits would print them the same."""
    w, g = _show(want), _show(got)
    return (w, g) if w != g else (_show(want, True), _show(got, True))


def _matches(got: Any, expected: Any, tol: float) -> bool:
    """close(), except that a result that cannot even be compared is wrong, not a crash."""
    try:  # the checks validate tol first: an exception here comes from the student's object
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


def _copied(args: tuple) -> tuple:
    """A copy for the reference, so that a student's function that changes its inputs in place
    cannot change the expected result (and the reference cannot change the student's inputs)."""
    try:
        return copy.deepcopy(args)
    except Exception:  # an argument that cannot be copied is shared
        return args


def _record(name: str, points: float, max_points: float, feedback: str, expected: str = "") -> CheckResult:
    result = CheckResult(name, points, max_points, feedback, expected)
    _RESULTS.append(result)
    _CELL.append(result)
    print(feedback)
    return result


# --- the checks ----------------------------------------------------------------------------------

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
        tol: the tolerance of `close` (0: exact).
        hint: printed on failure.
    """
    _check_tol(tol)
    if reference is None and (expected is None or len(expected) != len(cases) or random_cases):
        raise ValueError(f"check {name!r}: give a reference function, or one expected answer "
                         f"per fixed case ({len(cases)} cases) and no random cases")
    hint_line = f"\n  hint: {hint}" if hint else ""
    if not callable(student):
        return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points: no function yet (got "
                       f"{_show(student)}); define it in the cell above and run that cell" + hint_line)
    rng = random.Random(seed)
    all_cases = list(cases) + ([random_cases(rng) for _ in range(n_random)] if random_cases else [])
    for i, args in enumerate(all_cases):
        shown = ", ".join(_show(a) for a in args)
        want = expected[i] if expected is not None and i < len(cases) else reference(*_copied(args))
        try:
            got = student(*args)
        except (Exception, SystemExit) as e:  # a student's bug, even sys.exit(), is feedback, not a crash
            return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points. On input ({shown}) "
                           f"{_student_error(e)}" + hint_line)
        if not _matches(got, want, tol):
            w, g = _show_pair(want, got)
            return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points. Wrong result on input "
                           f"({shown})\n  expected: {w}\n  got:      {g}" + hint_line)
    return _record(name, points, points, f"[{name}] {_pts(points)}/{_pts(points)} points: "
                   f"all {len(all_cases)} cases match the reference.")


def check_value(name: str, got: Any, expected: Any = None, points: float = 1, tol: float = 1e-9,
                hint: str = "") -> CheckResult:
    """Grades one answer worked out by hand (a number, or a tuple, list or array of them).

    `expected` defaults to the lesson's answer key for the exercise named by the first word of
    `name` ("05.3 ..." -> `minidl.exercises.answers.expected("05.3")`). A wrong answer's feedback
    says how it is wrong, never what is right; the expected value goes to `CheckResult.expected`.
    """
    _check_tol(tol)
    if expected is None:
        from minidl.exercises.answers import expected as key
        expected = key(name.split()[0])
    shown = _show(expected, precise=True)
    if _unanswered(got):
        return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points: no answer yet; "
                       "replace the placeholder `...` with your value", shown)
    if _numeric_array(expected) is not None and np.isnan(_numeric_array(expected).astype(float)).any():
        return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points: the answer key of this "
                       "exercise is not a number (NaN); tell your instructor", shown)
    if not _matches(got, expected, tol):
        return _record(name, 0, points, f"[{name}] 0/{_pts(points)} points: {_show(got, precise=True)} is "
                       f"wrong: {_how_wrong(got, expected, tol)}." + (f"\n  hint: {hint}" if hint else ""),
                       shown)
    return _record(name, points, points, f"[{name}] {_pts(points)}/{_pts(points)} points: "
                   f"{_show(got, precise=True)} is right.", shown)
