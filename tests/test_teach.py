"""`minidl teach`: releasing student notebooks and grading submissions.

Kernels are slow to start, so one module-scoped grading run of a small synthetic
lesson serves most tests (one notebook per kind of student), and one run of the real
lesson 01 goes end to end through the command line.
"""
import csv
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minidl.cli import main
from minidl.exercises import cells, masters, runner
from minidl.exercises import grade as grade_module
from minidl.exercises.grade import _notebooks, grade, restore_check_cells
from minidl.exercises.release import release, release_notebook, remove_hidden_tests, replace_solutions

ROOT = Path(__file__).resolve().parent.parent
LESSON_01 = ROOT / "lessons" / "01_chain_rule_and_gates.ipynb"
TIMEOUT = 30  # seconds per notebook: the 50 MB flood needs a few, the infinite loop uses all


def nbgrader(gid, **flags):
    meta = {"grade": False, "solution": False, "locked": False, "task": False, "schema_version": 3}
    return {"nbgrader": {**meta, "grade_id": gid, **flags}}


def code(src, gid=None, **flags):
    return nbformat.v4.new_code_cell(src, metadata=nbgrader(gid, **flags) if gid else {})


def markdown(src, gid=None, **flags):
    return nbformat.v4.new_markdown_cell(src, metadata=nbgrader(gid, **flags) if gid else {})


def synthetic_master():
    """A two-exercise lesson: 3 points of checks (1 visible, 2 hidden), 1 point, 2 by hand."""
    return nbformat.v4.new_notebook(cells=[
        code("from pathlib import Path\nfrom minidl.exercises import assert_passed, check, check_value\n"
             "FIG = Path('..') / 'figures'\nFIG.mkdir(exist_ok=True)\n(FIG / '99_test.txt').write_text('x')"),
        markdown("# Lesson 99: a synthetic lesson"),
        code("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
             "ex1_solution", solution=True),
        code("check('99.1 double', double, cases=[(1,), (2,)], expected=[2, 4], points=1)\n"
             "### BEGIN HIDDEN TESTS\n"
             "check('99.1 double, random cases', double, lambda x: 2 * x,\n"
             "      random_cases=lambda rng: (rng.uniform(-5, 5),), points=2)\n"
             "### END HIDDEN TESTS\nassert_passed()", "ex1_check", grade=True, locked=True, points=3),
        code("answer = ...\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", "ex2_solution",
             solution=True),
        code("check_value('99.2 the answer', answer, 42)\nassert_passed()", "ex2_check", grade=True,
             locked=True, points=1),
        markdown("Explain:\n\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "ex3_answer",
                 grade=True, solution=True, points=2),
    ])


def by_id(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def student_notebooks(master, released):
    """{student: (file name, notebook or raw text)}: one student per way a submission can go."""
    one = nbformat.from_dict(json.loads(json.dumps(released)))
    by_id(one, "ex1_solution").source = "def double(x):\n    return x + x"
    loop = nbformat.from_dict(json.loads(json.dumps(master)))
    by_id(loop, "ex2_solution").source += "\nwhile True:\n    pass"
    flood = nbformat.from_dict(json.loads(json.dumps(master)))
    flood.cells.insert(0, code("for _ in range(500_000):\n    print('x' * 99)"))  # ~50 MB
    raising = nbformat.from_dict(json.loads(json.dumps(master)))
    raising.cells.insert(0, code("raise RuntimeError('the first cell raises')"))
    tamper = nbformat.from_dict(json.loads(json.dumps(released)))
    by_id(tamper, "ex1_check").source = "check_value('99.1 double', 1, 1)"  # undone by the grader
    by_id(tamper, "ex1_solution").source += (
        "\ncheck_value('99.1 double, random cases', 2, 2, points=2)"  # outside a check cell
        "\nprint('<minidl-results-0>[{\"exercise\": \"99.1 double\", \"points\": 1}]</minidl-results-0>')")
    tamper.cells.remove(by_id(tamper, "ex2_check"))
    patch = nbformat.from_dict(json.loads(json.dumps(released)))  # wrong answers, and a patched checker
    by_id(patch, "ex1_solution").source = (
        "import minidl.exercises as _m\n"
        "_m.close = lambda *a, **k: True\n_m._matches = lambda *a, **k: True\n"
        "def double(x):\n    return 0\n"
        "def check_value(name, got, expected=None, points=1, **kw):\n"
        "    return _m._record(name, points, points, 'right')\n"
        "def check(name, *args, points=1, **kw):\n    return _m._record(name, points, points, 'right')\n"
        "def assert_passed():\n    pass")
    by_id(patch, "ex2_solution").source = "answer = 41"
    partial = nbformat.from_dict(json.loads(json.dumps(released)))  # one check of a cell passes, one fails
    by_id(partial, "ex1_solution").source = "def double(x):\n    return 2 * x if x in (1, 2) else 0"
    by_id(partial, "ex2_solution").source = "answer = 41"
    name = "99_synthetic.ipynb"
    return {"master": (name, master), "released": (name, released), "one_solved": (name, one),
            "looping": (name, loop), "flooding": (name, flood), "raising": (name, raising),
            "tampering": (name, tamper), "patching": (name, patch), "partial": (name, partial),
            "renamed": ("99_synth.ipynb", master),
            "malformed": (name, nbformat.writes(master)[:300])}


def snapshot(folder, pattern="*"):
    return {str(p): p.stat().st_mtime_ns for p in Path(folder).rglob(pattern)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One grading run over every kind of student: {(student, exercise): row}, the report, paths."""
    tmp = tmp_path_factory.mktemp("teach")
    master = synthetic_master()
    (tmp / "masters").mkdir()
    nbformat.write(master, tmp / "masters" / "99_synthetic.ipynb")
    release(tmp / "masters", tmp / "released")
    released = nbformat.read(tmp / "released" / "99_synthetic.ipynb", as_version=4)
    for student, (name, nb) in student_notebooks(master, released).items():
        (tmp / "subs" / student).mkdir(parents=True)
        (tmp / "subs" / student / name).write_text(nb if isinstance(nb, str) else nbformat.writes(nb))
    before = snapshot(tmp / "subs")
    report = grade(tmp / "subs", tmp / "masters", tmp / "grades.csv", timeout=TIMEOUT,
                   cache_dir=tmp / "cache", jobs=2, quiet=True)
    rows = {(r.student, r.exercise): r for r in report.rows}
    return {"rows": rows, "report": report, "tmp": tmp, "before": before}


def points_of(graded, student):
    return sum(r.points or 0 for (s, _), r in graded["rows"].items() if s == student)


# --- release -----------------------------------------------------------------------------------

def test_release_of_lesson_01_removes_solutions_hidden_tests_and_outputs(tmp_path):
    assert main(["teach", "release", str(LESSON_01), str(tmp_path)]) == 0
    master = json.loads(LESSON_01.read_text())
    student = json.loads((tmp_path / LESSON_01.name).read_text())
    text = LESSON_01.read_text()
    assert "BEGIN HIDDEN TESTS" in text and "BEGIN HIDDEN TESTS" not in json.dumps(student)
    assert "BEGIN SOLUTION" not in json.dumps(student)
    for m, s in zip(master["cells"], student["cells"], strict=True):
        assert s["metadata"].get("nbgrader") == m["metadata"].get("nbgrader")  # nbgrader can use it
        assert s.get("id") == m.get("id")
        if s["cell_type"] == "code":
            assert s["outputs"] == [] and s["execution_count"] is None
        solution = "".join(m["source"]).split("### BEGIN SOLUTION")[1:]
        for region in solution:
            for line in region.split("### END SOLUTION")[0].splitlines():
                assert not line.strip() or line not in "".join(s["source"]).splitlines()


def test_release_keeps_every_check_cell_and_its_visible_checks():
    master = cells.read_notebook(LESSON_01)
    student = release_notebook(master)
    checks = [(cells.grade_id(c), cells.source(c)) for c in master["cells"] if cells.is_check_cell(c)]
    released = {cells.grade_id(c): cells.source(c) for c in student["cells"] if cells.is_check_cell(c)}
    assert len(checks) >= 2 and set(released) == {gid for gid, _ in checks}
    for gid, src in checks:
        assert released[gid] == remove_hidden_tests(src)[0] and "HIDDEN TESTS" not in released[gid]
    assert all(cells.is_check_cell(c) == bool(c["metadata"]["nbgrader"]["locked"])
               for c in student["cells"] if "nbgrader" in c["metadata"] and not cells.is_solution(c))


def test_release_stubs_keep_the_indentation_and_the_prompt():
    student = release_notebook(json.loads(nbformat.writes(synthetic_master())))
    sources = {cells.grade_id(c): cells.source(c) for c in student["cells"]}
    assert sources["ex1_solution"] == "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert sources["ex2_solution"] == "answer = ...\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert sources["ex3_answer"] == "Explain:\n\nYOUR ANSWER HERE"


def test_release_locks_cells_as_nbgrader_does():
    student = release_notebook(json.loads(nbformat.writes(synthetic_master())))
    locks = {cells.grade_id(c) or f"plain {i}": {k: c["metadata"][k] for k in ("editable", "deletable")
                                                 if k in c["metadata"]}
             for i, c in enumerate(student["cells"])}
    assert locks == {"plain 0": {}, "plain 1": {},
                     "ex1_solution": {"deletable": False}, "ex2_solution": {"deletable": False},
                     "ex1_check": {"editable": False, "deletable": False},
                     "ex2_check": {"editable": False, "deletable": False},
                     "ex3_answer": {"deletable": False}}


@given(st.text(" \t", max_size=8), st.lists(st.text("abc =()", min_size=1, max_size=12), max_size=5))
def test_replace_solutions_leaves_no_solution_line_and_indents_the_stub(indent, body):
    text = "\n".join(["before", f"{indent}### BEGIN SOLUTION", *(f"{indent}SOL {b}" for b in body),
                      f"{indent}### END SOLUTION", "after"])
    out, found = replace_solutions(text, "# YOUR CODE HERE\nraise NotImplementedError()")
    assert found and "SOL" not in out
    stub = [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
    assert out.split("\n") == ["before", *stub, "after"]


@pytest.mark.parametrize("cell, words", [
    (code("### BEGIN SOLUTION\nx = 1", "a", solution=True), "never closed"),
    (code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"), "not marked as a solution cell"),
    (code("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS", "b"), "not a graded code cell"),
])
def test_release_refuses_markers_nbgrader_would_refuse(cell, words):
    with pytest.raises(cells.TeachError, match=words):
        release_notebook({"cells": [json.loads(json.dumps(cell))]}, "99.ipynb")


# --- grading: one run of the synthetic lesson ---------------------------------------------------

def test_master_scores_full_marks_and_leaves_open_questions_to_grade_by_hand(graded):
    rows = graded["rows"]
    assert [(r.exercise, r.points, r.max_points) for (s, _), r in rows.items() if s == "master"] == [
        ("99.1 double", 1, 1), ("99.1 double, random cases", 2, 2), ("99.2 the answer", 1, 1),
        ("ex3_answer", None, 2)]
    assert rows[("master", "ex3_answer")].feedback == "graded by hand"


def test_released_notebook_scores_zero_without_crashing(graded):
    assert points_of(graded, "released") == 0
    assert graded["report"].runs[("released", "99_synthetic")]["status"] == "ok"
    assert "not implemented yet" in graded["rows"][("released", "99.1 double")].feedback
    assert "no answer yet" in graded["rows"][("released", "99.2 the answer")].feedback
    assert "YOUR ANSWER HERE" in graded["rows"][("released", "ex3_answer")].feedback


def test_one_solved_exercise_scores_exactly_its_points(graded):
    assert points_of(graded, "one_solved") == 3  # 99.1's visible and hidden checks, nothing else


def test_infinite_loop_times_out_and_keeps_the_checks_before_it(graded):
    rows = graded["rows"]
    assert graded["report"].runs[("looping", "99_synthetic")]["status"] == "timeout"
    assert rows[("looping", "99.2 the answer")].points == 0
    assert rows[("looping", "99.2 the answer")].feedback == f"timed out after {TIMEOUT} s"
    assert points_of(graded, "looping") == 3


def test_malformed_json_is_reported_with_zero_points(graded):
    row = graded["rows"][("malformed", "99.1 double")]
    assert row.points == 0 and row.feedback.startswith("not a valid notebook: not JSON")


def test_renamed_notebook_is_reported_with_the_name_found(graded):
    row = graded["rows"][("renamed", "99.2 the answer")]
    assert row.points == 0 and row.feedback == "no 99_synthetic.ipynb; found 99_synth.ipynb"


def test_output_flood_is_dropped_and_grading_goes_on(graded):
    run = graded["report"].runs[("flooding", "99_synthetic")]
    assert run["status"] == "ok" and run["dropped"] > 40_000_000
    assert points_of(graded, "flooding") == 4


def test_raising_cell_does_not_stop_the_later_checks(graded):
    assert points_of(graded, "raising") == 4


def test_each_check_keeps_its_points_and_feedback_when_its_cell_fails(graded):
    rows = graded["rows"]  # assert_passed() failed the cell; the passing check still counts
    assert rows[("partial", "99.1 double")].points == 1
    assert rows[("partial", "99.1 double, random cases")].points == 0
    assert "Wrong result on input" in rows[("partial", "99.1 double, random cases")].feedback
    assert points_of(graded, "partial") == 1


def test_a_checker_patched_by_earlier_student_code_is_imported_afresh_before_the_checks(graded):
    rows = graded["rows"]
    assert points_of(graded, "patching") == 0
    assert "Wrong result on input" in rows[("patching", "99.1 double")].feedback
    assert "41 is wrong" in rows[("patching", "99.2 the answer")].feedback


def test_edited_or_deleted_check_cells_and_fake_markers_earn_nothing(graded):
    rows = graded["rows"]
    assert points_of(graded, "tampering") == 0
    assert "not implemented yet" in rows[("tampering", "99.1 double")].feedback  # the master's check ran
    deleted = rows[("tampering", "99.2 the answer")]
    assert deleted.feedback == "the check cell ex2_check was deleted from the notebook"


def test_grading_writes_nothing_into_the_submissions_or_beside_the_masters(graded):
    assert snapshot(graded["tmp"] / "subs") == graded["before"]
    assert not (graded["tmp"] / "figures").exists()


def test_csv_has_one_row_per_check_and_open_question(graded):
    with open(graded["tmp"] / "grades.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["student", "lesson", "exercise", "points", "max_points", "feedback", "expected"]
    assert len(table) == 11 * 4  # 11 students, 3 checks and 1 open question each
    hand = [r for r in table if r["exercise"] == "ex3_answer" and r["student"] == "master"]
    assert hand == [{"student": "master", "lesson": "99_synthetic", "exercise": "ex3_answer", "points": "",
                     "max_points": "2", "feedback": "graded by hand", "expected": ""}]


def test_csv_gives_the_instructor_the_expected_value_the_student_never_sees(graded):
    with open(graded["tmp"] / "grades.csv", newline="") as f:
        table = [r for r in csv.DictReader(f) if r["exercise"] == "99.2 the answer"]
    assert {r["expected"] for r in table} == {"42"}  # also where the check did not run
    wrong = next(r for r in table if r["student"] == "partial")
    assert wrong["points"] == "0" and "41 is wrong" in wrong["feedback"] and "42" not in wrong["feedback"]


def test_master_run_is_cached(graded, monkeypatch):
    monkeypatch.setattr(masters, "run_in_scratch", lambda *a: pytest.fail("the master ran again"))
    tmp = graded["tmp"]
    m = masters.load_master(tmp / "masters" / "99_synthetic.ipynb", TIMEOUT, tmp / "cache")
    assert [s.exercise for s in m.slots] == ["99.1 double", "99.1 double, random cases", "99.2 the answer",
                                             "ex3_answer"]


# --- grading: pieces that need no kernel ----------------------------------------------------------

def test_restore_puts_hidden_tests_back_and_names_deleted_check_cells(tmp_path):
    master = json.loads(nbformat.writes(synthetic_master()))
    m = masters.Master("99", tmp_path / "99.ipynb", {cells.grade_id(c): c for c in master["cells"]
                                                     if cells.is_check_cell(c)}, [])
    student = release_notebook(master)
    student["cells"] = [c for c in student["cells"] if cells.grade_id(c) != "ex2_check"]
    restored, checks, deleted = restore_check_cells(student, m)
    assert deleted == {"ex2_check"} and list(checks.values()) == ["ex1_check"]
    assert "BEGIN HIDDEN TESTS" in cells.source(restored["cells"][next(iter(checks))])


def test_only_the_injected_cells_last_marker_block_with_its_nonce_counts():
    fake = '<minidl-results-abc>[{"exercise": "x", "points": 9}]</minidl-results-abc>'
    real = '<minidl-results-abc>[]</minidl-results-abc>'
    cell = {"outputs": [{"output_type": "stream", "name": "stdout", "text": fake + real}]}
    assert runner._results_in(cell, "abc") == []
    assert runner._results_in(cell, "other-nonce") is None


def test_metadata_points_that_disagree_with_the_checks_are_warned_about(tmp_path):
    nb = synthetic_master()
    by_id(nb, "ex2_check").metadata["nbgrader"]["points"] = 5
    path = tmp_path / "99_synthetic.ipynb"
    nbformat.write(nb, path)
    fake_run = {"status": "ok", "cells": {
        "ex1_check": {"results": [{"exercise": "99.1 double", "points": 1, "max_points": 1},
                                  {"exercise": "99.1 double, random cases", "points": 2, "max_points": 2}]},
        "ex2_check": {"results": [{"exercise": "99.2 the answer", "points": 1, "max_points": 1}]}}}
    masters._cache_file(path, tmp_path).write_text(json.dumps(fake_run))
    m = masters.load_master(path, TIMEOUT, tmp_path)
    assert m.warnings == ["99_synthetic.ipynb: check cell ex2_check has points 5 in its nbgrader metadata, "
                          "but its checks add up to 1"]


def test_nbgrader_layout_one_folder_deeper_is_found(tmp_path):
    (tmp_path / "alice" / "ps1" / ".ipynb_checkpoints").mkdir(parents=True)
    for p in ["alice/ps1/01_a.ipynb", "alice/ps1/.ipynb_checkpoints/02_b.ipynb", "alice/03_c.ipynb"]:
        (tmp_path / p).write_text("{}")
    assert sorted(_notebooks(tmp_path / "alice")) == ["01_a", "03_c"]


def test_instructor_errors_exit_non_zero_with_a_message(tmp_path, capsys):
    assert main(["teach", "grade", str(tmp_path / "nope"), "--master", str(ROOT / "lessons")]) == 2
    assert "nope is not a folder" in capsys.readouterr().err
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    assert main(["teach", "grade", str(tmp_path / "subs"), "--master", str(tmp_path)]) == 2
    assert "no master lessons" in capsys.readouterr().err
    assert main(["teach", "release", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_nbclient_names_the_package_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grade_module, "nbclient_available", lambda: False)
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    assert main(["teach", "grade", str(tmp_path / "subs"), "--master", str(LESSON_01)]) == 2
    assert "pip install nbclient" in capsys.readouterr().err


# --- end to end: the real lesson 01 through the command line ------------------------------------

def test_lesson_01_master_scores_full_marks_and_released_zero_through_the_cli(tmp_path, capsys):
    figures = snapshot(ROOT / "figures", "01_*")  # lesson 01 saves 01_*.png
    (tmp_path / "subs" / "master").mkdir(parents=True)
    shutil.copy(LESSON_01, tmp_path / "subs" / "master")
    assert main(["teach", "release", str(LESSON_01), str(tmp_path / "subs" / "released")]) == 0
    code = main(["teach", "grade", str(tmp_path / "subs"), "--master", str(LESSON_01), "--out",
                 str(tmp_path / "grades.csv"), "--timeout", "120", "--jobs", "2", "--cache", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and "warning" not in err  # the master scores full marks, its points add up
    with open(tmp_path / "grades.csv", newline="") as f:
        table = list(csv.DictReader(f))
    checks = [r for r in table if r["points"] != ""]
    assert {r["exercise"] for r in checks} >= {"01.1 chain rule by hand", "01.2 max gate backward"}
    assert all(r["points"] == r["max_points"] for r in checks if r["student"] == "master")
    assert all(r["points"] == "0" for r in checks if r["student"] == "released")
    full = sum(float(r["max_points"]) for r in checks if r["student"] == "master")
    assert full > 0 and f"master    01_chain_rule_and_gates  {full:g}/{full:g}" in out
    assert f"released  01_chain_rule_and_gates  0/{full:g}" in out
    assert snapshot(ROOT / "figures", "01_*") == figures  # the lesson saves figures into a scratch copy

