"""Every lesson's exercises follow the course's format, read from the notebooks (no kernel).

- a check cell's nbgrader `points` is the sum of the `points=` of its checks (hidden ones too);
- a check cell ends with `assert_passed()`, so that a failed check fails the cell everywhere;
- a released check cell neither holds nor computes the expected value of a by-hand answer:
  its `check_value` calls take no expected value (the answer key gives it);
- a released solution cell for a by-hand answer starts from the placeholder `...`;
- an exercise heading's "(N points)" is the sum of its graded cells' points;
- every exercise id that a `check_value` looks up has an answer in `minidl.exercises.answers`.
"""
import ast
import re
from pathlib import Path

import pytest

from minidl.exercises import cells
from minidl.exercises.answers import exercise_ids
from minidl.exercises.release import release_notebook

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
CHECKS = {"check": 1, "check_value": 1}  # each check's default points
HEADING = re.compile(r"^#+\s*Exercise\s+(\d+)\b(.*)$", re.M)


@pytest.fixture(scope="module", params=LESSONS, ids=[p.stem[:2] for p in LESSONS])
def lesson(request):
    master = cells.read_notebook(request.param)
    return {"name": request.param.stem, "number": request.param.stem[:2], "master": master,
            "released": release_notebook(master, request.param.name)}


def _tree(cell: dict) -> ast.Module:
    return ast.parse(cells.source(cell))


def _calls(tree: ast.AST, names=tuple(CHECKS)) -> list[ast.Call]:
    def name(func):
        return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and name(n.func) in names]


def _kw(call: ast.Call, key: str):
    return next((k.value for k in call.keywords if k.arg == key), None)


def _check_cells(nb: dict) -> list[tuple[int, dict]]:
    return [(i, c) for i, c in enumerate(nb["cells"]) if cells.is_check_cell(c)]


def _where(lesson, i, cell) -> str:
    return f"{lesson['name']} cell {i} ({cells.grade_id(cell)})"


def test_check_cell_points_are_the_sum_of_its_checks_points(lesson):
    problems = []
    for i, cell in _check_cells(lesson["master"]):
        total = 0.0
        for call in _calls(_tree(cell)):
            node = _kw(call, "points")
            try:
                total += CHECKS[getattr(call.func, "id", getattr(call.func, "attr", ""))] if node is None \
                    else float(ast.literal_eval(node))
            except ValueError:
                problems.append(f"{_where(lesson, i, cell)}: points={ast.unparse(node)} is not a number literal")
        if total != cells.points(cell):
            problems.append(f"{_where(lesson, i, cell)}: nbgrader points {cells.points(cell):g}, "
                            f"its checks add up to {total:g}")
    assert not problems, "\n".join(problems)


def test_every_check_cell_ends_with_assert_passed(lesson):
    problems = []
    for i, cell in _check_cells(lesson["master"]):
        body = _tree(cell).body
        last = body[-1] if body else None
        if not (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and getattr(last.value.func, "id", None) == "assert_passed"):
            problems.append(f"{_where(lesson, i, cell)} does not end with assert_passed()")
    assert not problems, "\n".join(problems)


def test_released_check_cells_neither_hold_nor_compute_a_by_hand_answer(lesson):
    problems = []
    for i, cell in _check_cells(lesson["released"]):
        for call in _calls(_tree(cell), ("check_value",)):
            if len(call.args) > 2 or _kw(call, "expected") is not None:
                problems.append(f"{_where(lesson, i, cell)}: {ast.unparse(call)[:80]}... passes an expected "
                                "value in plain view; take it from the answer key")
    assert not problems, "\n".join(problems)


def _placeholders(cell: dict) -> set[str]:
    """The names a cell sets to `...` (`x = ...`, `x = y = ...`, `x, y = ..., ...`)."""
    names = set()
    for node in ast.walk(_tree(cell)):
        if not isinstance(node, ast.Assign):
            continue
        values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
        if not all(isinstance(v, ast.Constant) and v.value is Ellipsis for v in values):
            continue
        for target in node.targets:
            names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


def test_released_by_hand_answers_start_from_a_placeholder(lesson):
    problems, solutions = [], []
    for i, cell in enumerate(lesson["released"]["cells"]):
        if cells.is_solution(cell) and cell["cell_type"] == "code":
            solutions.append(cell)
        if not cells.is_check_cell(cell):
            continue
        placeholders = set().union(*(_placeholders(c) for c in solutions)) if solutions else set()
        for call in _calls(_tree(cell), ("check_value",)):
            answer = call.args[1] if len(call.args) > 1 else _kw(call, "got")
            used = {n.id for n in ast.walk(answer) if isinstance(n, ast.Name)} if answer is not None else set()
            if not used or not used <= placeholders:
                problems.append(f"{_where(lesson, i, cell)}: the answer {ast.unparse(answer) if answer else '?'} "
                                f"of {ast.unparse(call.args[0]) if call.args else '?'} has no placeholder "
                                f"`name = ...` in the solution cells above it (found: {sorted(placeholders)})")
        solutions = []
    assert not problems, "\n".join(problems)


def test_exercise_headings_state_the_points_of_their_cells(lesson):
    problems, current, total = [], None, 0.0

    def close_exercise():
        if current is not None:
            number, stated, where = current
            if stated is None:
                problems.append(f"{where}: the heading of exercise {number} gives no '(N points)'")
            elif stated != total:
                problems.append(f"{where}: exercise {number} says {stated:g} points, its graded cells "
                                f"give {total:g}")

    for i, cell in enumerate(lesson["master"]["cells"]):
        heading = HEADING.search(cells.source(cell)) if cell["cell_type"] == "markdown" else None
        if heading and not (cells.is_hand_graded(cell) or cells.is_check_cell(cell)):
            close_exercise()
            stated = re.search(r"\((\d+(?:\.\d+)?) points?\b", heading.group(2))
            current, total = (heading.group(1), float(stated.group(1)) if stated else None,
                              f"{lesson['name']} cell {i}"), 0.0
        elif current is not None and (cells.is_check_cell(cell) or cells.is_hand_graded(cell)):
            total += cells.points(cell)
    close_exercise()
    assert not problems, "\n".join(problems)


def test_every_answer_key_id_a_lesson_uses_exists(lesson):
    problems, ids = [], set(exercise_ids(lesson["number"]))
    for i, cell in _check_cells(lesson["master"]):
        for call in _calls(_tree(cell), ("check_value",)):
            if len(call.args) > 2 or _kw(call, "expected") is not None or not call.args:
                continue  # a hidden test with its own expected value
            try:
                name = ast.literal_eval(call.args[0])
            except ValueError:
                problems.append(f"{_where(lesson, i, cell)}: the check's name is not a string literal")
                continue
            key = name.split()[0]
            if not key.startswith(f"{lesson['number']}."):
                problems.append(f"{_where(lesson, i, cell)}: {name!r} is not numbered after lesson "
                                f"{lesson['number']}")
            elif key not in ids:
                problems.append(f"{_where(lesson, i, cell)}: no answer for {key!r} in "
                                f"minidl.exercises.answers.lesson{lesson['number']} (it has {sorted(ids)})")
    assert not problems, "\n".join(problems)
