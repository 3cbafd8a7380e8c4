"""The course under nbgrader beside `minidl teach grade`.

A course is built in a temporary folder as `nbgrader quickstart` builds one (a config file with
a course id, plus the README's per-cell timeout; `source/<assignment>/<lesson>.ipynb`), then
`nbgrader generate_assignment` and `nbgrader autograde` run as an instructor runs them, with
nbgrader's default settings otherwise. Three students hand in lessons 01 and 05: the master's
solutions typed into nbgrader's release, the release untouched, and the first exercise of each
lesson solved. Both graders must agree: 0 for the untouched notebook, full marks for the master,
and the same points per check cell for the partial one (every check cell of the partial
submission passes or fails as a whole, so nbgrader's all-or-nothing per cell and minidl's points
per check give the same numbers).

Skipped when nbgrader is not installed (it is in the `dev` extra).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")

from minidl.exercises import cells  # noqa: E402
from minidl.exercises.grade import grade  # noqa: E402
from minidl.exercises.release import release_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [ROOT / "lessons" / "01_chain_rule_and_gates.ipynb", ROOT / "lessons" / "05_minibatch_sgd_mnist.ipynb"]
STUDENTS = ["master", "untouched", "partial"]
TIMEOUT = 600  # seconds for each nbgrader command; both lessons run in well under a minute each


def _solution_text(master_cell: dict) -> str:
    """What a student who solved the exercise would have written: the master's cell without
    nbgrader's markers."""
    return "\n".join(line for line in cells.source(master_cell).split("\n")
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def submission(released: dict, master: dict, solve: set[str]) -> dict:
    """nbgrader's release of a lesson with the solution cells named in `solve` filled in."""
    nb = json.loads(json.dumps(released))
    solutions = {cells.grade_id(c): c for c in master["cells"] if cells.is_solution(c)}
    for cell in nb["cells"]:
        if cells.grade_id(cell) in solve:
            cells.set_source(cell, _solution_text(solutions[cells.grade_id(cell)]))
    return nb


def first_exercise(master: dict) -> set[str]:
    """The solution cells above the first check cell: solving them passes that cell."""
    found = set()
    for cell in master["cells"]:
        if cells.is_check_cell(cell):
            return found
        if cells.is_solution(cell) and cells.grade_id(cell):
            found.add(cells.grade_id(cell))
    return found


def nbgrader(course: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MINIDL_FIGURES"}
    env.update(JUPYTER_CONFIG_DIR=str(course / ".jupyter"), MPLBACKEND="Agg")  # no user configuration
    out = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                         text=True, timeout=TIMEOUT)
    assert out.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Both graders on the same submissions: {"nbgrader"|"minidl": {(student, lesson): {grade_id: points}}}."""
    start = time.monotonic()
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    (course / ".jupyter").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(  # what `nbgrader quickstart` writes, without the example
        'c = get_config()\nc.CourseDirectory.course_id = "minidl"\n'
        # the README's advice for a busy grading machine: nbgrader stops a cell after 30 s by default,
        # and lesson 05's longest cell (about 5 s alone) went past 30 s here beside other jobs
        'c.Execute.timeout = 300\n', encoding="utf-8")
    masters = {}
    for lesson in LESSONS:
        (course / "source" / lesson.stem).mkdir(parents=True)
        shutil.copy(lesson, course / "source" / lesson.stem / lesson.name)
        masters[lesson.stem] = cells.read_notebook(lesson)
        nbgrader(course, "generate_assignment", lesson.stem, "--force")
    released = {stem: cells.read_notebook(course / "release" / stem / f"{stem}.ipynb") for stem in masters}
    for stem, master in masters.items():
        solve = {"master": {cells.grade_id(c) for c in master["cells"] if cells.is_solution(c)},
                 "untouched": set(), "partial": first_exercise(master)}
        for student in STUDENTS:
            folder = course / "submitted" / student / stem
            folder.mkdir(parents=True)
            cells.write_notebook(submission(released[stem], master, solve[student]), folder / f"{stem}.ipynb")
    (course / "masters").mkdir()
    for lesson in LESSONS:
        shutil.copy(lesson, course / "masters" / lesson.name)
    with ThreadPoolExecutor(max_workers=1) as pool:  # nbgrader autogrades while minidl grades in its kernels
        logs = pool.submit(lambda: [nbgrader(course, "autograde", stem, "--force") for stem in masters])
        report = grade(course / "submitted", course / "masters", course / "grades.csv", timeout=300,
                       cache_dir=course / "cache", jobs=2, quiet=True)
        logs = logs.result(timeout=2 * TIMEOUT)
    scores = {"nbgrader": {}, "minidl": {}}
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "minidl") as gb:
        for stem in masters:
            checks = {cells.grade_id(c) for c in masters[stem]["cells"] if cells.is_check_cell(c)}
            for student in STUDENTS:
                nb = gb.find_submission_notebook(stem, stem, student)
                scores["nbgrader"][(student, stem)] = {g.name: g.score for g in nb.grades if g.name in checks}
    for row in report.rows:
        if not row.by_hand:
            cell = scores["minidl"].setdefault((row.student, row.lesson), {})
            cell[row.grade_id] = cell.get(row.grade_id, 0) + row.points
    return {"scores": scores, "report": report, "masters": masters, "released": released, "logs": logs,
            "seconds": time.monotonic() - start, "course": course}


def full_marks(master: dict) -> dict[str, float]:
    return {cells.grade_id(c): cells.points(c) for c in master["cells"] if cells.is_check_cell(c)}


def test_nbgrader_release_matches_minidl_release_cell_for_cell_locks_included(graded):
    for stem, master in graded["masters"].items():
        ours = release_notebook(master)["cells"]
        theirs = graded["released"][stem]["cells"]
        assert len(ours) == len(theirs)
        for mine, nbg in zip(ours, theirs):
            assert cells.source(mine).rstrip() == cells.source(nbg).rstrip()
            for key in ("editable", "deletable"):
                assert mine["metadata"].get(key) == nbg["metadata"].get(key), (stem, cells.grade_id(mine), key)


def test_untouched_notebook_scores_zero_in_both_graders(graded):
    for stem in graded["masters"]:
        for grader in ("nbgrader", "minidl"):
            cells_ = graded["scores"][grader][("untouched", stem)]
            assert cells_ and all(points == 0 for points in cells_.values()), (grader, stem, cells_)


def test_master_scores_full_marks_in_both_graders(graded):
    for stem, master in graded["masters"].items():
        full = full_marks(master)
        assert sum(full.values()) > 0
        assert graded["scores"]["nbgrader"][("master", stem)] == full
        assert graded["scores"]["minidl"][("master", stem)] == full
        assert not [w for w in graded["report"].warnings if stem in w]  # its checks add up to its points


def test_partly_solved_notebook_scores_the_same_per_cell_in_both_graders(graded):
    for stem, master in graded["masters"].items():
        nbg, ours = graded["scores"]["nbgrader"][("partial", stem)], graded["scores"]["minidl"][("partial", stem)]
        assert nbg == ours
        assert 0 < sum(ours.values()) < sum(full_marks(master).values())


def test_feedback_of_the_untouched_notebook_says_no_answer_yet_or_not_implemented(graded):
    rows = [r for r in graded["report"].rows if r.student == "untouched" and not r.by_hand]
    assert rows and all(re.search("no answer yet|not implemented yet", r.feedback) for r in rows), \
        [r.feedback for r in rows]


def test_the_two_graders_run_in_reasonable_time(graded):
    print(f"nbgrader and minidl teach grade on lessons 01 and 05: {graded['seconds']:.0f} s")
    for (student, stem), cells_ in sorted(graded["scores"]["nbgrader"].items()):
        ours = graded["scores"]["minidl"][(student, stem)]
        print(f"{stem:28s} {student:10s} nbgrader {sum(cells_.values()):g}  minidl {sum(ours.values()):g}")
    assert graded["seconds"] < 900


def test_master_runs_without_an_error_in_nbgraders_autograded_folder(graded):
    # autograded/<student>/<assignment>/ has no ../figures: a lesson must run from any folder
    for stem in graded["masters"]:
        nb = cells.read_notebook(graded["course"] / "autograded" / "master" / stem / f"{stem}.ipynb")
        errors = [(i, o.get("ename"), str(o.get("evalue"))[:120]) for i, c in enumerate(nb["cells"])
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{stem}: {errors}"
