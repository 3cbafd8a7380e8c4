"""`minidl teach grade`: runs every submission against the master's checks, one row per check.

Submissions are laid out as nbgrader lays them out, SUBMISSIONS/<student>/<lesson>.ipynb
(or one folder deeper, SUBMISSIONS/<student>/<assignment>/<lesson>.ipynb). Before a
submission runs, each check cell (a locked, graded code cell) is replaced by the master's,
which puts the hidden tests back and undoes any edit, and `minidl.exercises` is imported
afresh before each check cell runs (see `runner`). A check cell fails as a whole when one
of its checks fails (`assert_passed()`), but here each check keeps its own points. A notebook that cannot be graded
(not JSON, renamed, looping, crashing the kernel) gets its reason and 0 points, and the
run goes on to the next one.
"""
from __future__ import annotations

import copy
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from minidl.exercises.cells import InvalidNotebook, TeachError, find_masters, grade_id, read_notebook, source
from minidl.exercises.masters import Master, Slot, load_master, run_in_scratch
from minidl.exercises.release import TEXT_STUB
from minidl.exercises.report import Progress, Row, print_summary, write_csv
from minidl.exercises.runner import NBCLIENT_MISSING, kill_running, nbclient_available

__all__ = ["GradeReport", "grade", "grade_notebook", "restore_check_cells"]

FEEDBACK_CAP = 2000  # characters of feedback kept per row
MAX_NOTEBOOK_BYTES = 200_000_000  # a bigger file is refused before it is read into memory


@dataclass
class GradeReport:
    """Every row of the grade sheet, and how each notebook ran: {(student, lesson): run}."""

    rows: list[Row] = field(default_factory=list)
    runs: dict[tuple[str, str], dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def restore_check_cells(nb: dict, master: Master) -> tuple[dict, dict[int, str], set[str]]:
    """The submission with each check cell replaced by the master's (hidden tests included).

    Returns:
        (the notebook to run, {cell index: grade_id} of its check cells, the deleted grade_ids).
    """
    nb = copy.deepcopy(nb)
    checks: dict[int, str] = {}
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            cell["outputs"] = []  # old outputs would only cost memory and disk in the run
        gid = grade_id(cell)
        if gid in master.check_cells and gid not in checks.values():  # a copy of a check cell is not one
            nb["cells"][i] = {**copy.deepcopy(master.check_cells[gid]), "outputs": [],
                              "execution_count": None}
            checks[i] = gid
    return nb, checks, set(master.check_cells) - set(checks.values())


Scored = tuple[Slot, float | None, str, str]  # (slot, points or None, feedback, expected)


def _zero(slots: list[Slot], reason: str) -> list[Scored]:
    return [(slot, 0.0, reason, slot.expected) for slot in slots]


def _hand(slot: Slot, nb: dict) -> Scored:
    answers = [c for c in nb["cells"] if grade_id(c) == slot.grade_id and c.get("cell_type") == "markdown"]
    if not answers:
        return slot, 0.0, f"the answer cell {slot.grade_id} was deleted", ""
    if source(answers[0]).strip().endswith(TEXT_STUB):
        return slot, None, f"graded by hand (the answer still reads {TEXT_STUB})", ""
    return slot, None, "graded by hand", ""


def _score(slot: Slot, ran: dict | None, result: dict, deleted: set[str], taken: dict[str, int]) -> Scored:
    """One check's points and feedback. A check cell that raised (its `assert_passed()` when one
    of its checks failed) still gives each of its checks the points that check recorded."""
    if slot.grade_id in deleted:
        return slot, 0.0, f"the check cell {slot.grade_id} was deleted from the notebook", slot.expected
    if ran is None:  # the run stopped before this cell
        return slot, 0.0, result["message"] or "this check did not run", slot.expected
    raised = f": the check cell raised {ran['error']}" if ran.get("error") else ""
    if slot.kind == "cell":
        if raised:
            return slot, 0.0, f"0 points{raised}", ""
        return slot, slot.max_points, "the cell ran without an error", ""
    if ran.get("results") is None:
        return (slot, 0.0, "the grader could not read this cell's results (was print or sys.stdout replaced?)",
                slot.expected)
    same = [r for r in ran["results"] if r.get("exercise") == slot.exercise]
    k = taken.get(slot.exercise, 0)  # the k-th check of this name in the cell
    taken[slot.exercise] = k + 1
    if k >= len(same):
        return slot, 0.0, f"this check did not run{raised}", slot.expected
    r = same[k]
    got = min(max(float(r.get("points", 0)), 0.0), slot.max_points)  # never more than the master allows
    return slot, got, str(r.get("feedback", ""))[:FEEDBACK_CAP], str(r.get("expected") or slot.expected)


def grade_notebook(path: Path, master: Master, timeout: float) -> tuple[list[Scored], dict]:
    """Grades one submitted notebook against its master.

    Returns:
        ([(slot, points or None, feedback, expected) per row], how the notebook ran).
    """
    try:
        size_mb, limit_mb = path.stat().st_size / 1e6, MAX_NOTEBOOK_BYTES / 1e6
        if size_mb > limit_mb:
            raise InvalidNotebook(f"{size_mb:.0f} MB, more than the {limit_mb:.0f} MB read; "
                                  "clear its outputs and submit it again")
        nb = read_notebook(path)
    except InvalidNotebook as e:
        reason = f"not a valid notebook: {e}"
        return _zero(master.slots, reason), {"status": "invalid", "message": reason}
    run_nb, checks, deleted = restore_check_cells(nb, master)
    start = time.monotonic()
    result = (run_in_scratch(run_nb, master.lesson, checks, timeout, master.path.parent) if checks
              else {"status": "ok", "message": "", "cells": {}})  # nothing to run for
    result["seconds"] = round(time.monotonic() - start, 1)
    scored, taken = [], {}
    for slot in master.slots:
        if slot.kind == "hand":
            scored.append(_hand(slot, nb))
            continue
        ran = result["cells"].get(slot.grade_id)
        scored.append(_score(slot, ran, result, deleted, taken.setdefault(slot.grade_id, {})))
    return scored, {k: v for k, v in result.items() if k != "cells"}


def _notebooks(folder: Path) -> dict[str, Path]:
    """The notebooks in a student's folder by name; a notebook directly inside wins."""
    found: dict[str, Path] = {}
    for pattern in ("*/*.ipynb", "*.ipynb"):
        for p in sorted(folder.glob(pattern)):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
                found[p.stem] = p
    return found


def _missing(lesson: str, others: list[str], lessons: list[str], student: str) -> str:
    """Why a lesson has no notebook, naming the files that may be it renamed."""
    similar = [n for n in others if n[:3] == lesson[:3]]  # the same NN_ prefix: a renamed copy
    similar = similar or [n for n in others if n[:3] not in {m[:3] for m in lessons}][:3]  # Untitled.ipynb
    return f"no {lesson}.ipynb" + (f"; found {', '.join(n + '.ipynb' for n in similar)}" if similar
                                   else f" in {student}/")


def grade(submissions: Path, master: Path, out: Path, timeout: float = 300,
          cache_dir: Path | None = None, jobs: int = 1, progress: TextIO | None = None,
          summary: TextIO | None = None, quiet: bool = False) -> GradeReport:
    """Grades SUBMISSIONS/<student>/<lesson>.ipynb against the masters, writes the CSV `out`.

    Args:
        submissions: one folder per student.
        master: the folder of master lessons, or one master notebook.
        out: the CSV to write (student, lesson, exercise, points, max_points, feedback, expected).
        timeout: seconds each notebook may run.
        cache_dir: where the masters' runs are cached (None: no cache).
        jobs: how many notebooks run at once.
        progress, summary: where the progress bar (and warnings) and the summary table go;
            by default stderr and stdout.
        quiet: print nothing.

    Raises:
        TeachError: on the instructor's side only: a missing folder, no masters, nbclient missing.
    """
    submissions = Path(submissions)
    if not timeout > 0 or jobs < 1:
        raise TeachError(f"--timeout must be positive and --jobs at least 1 (got {timeout:g} and {jobs})")
    if not submissions.is_dir():
        raise TeachError(f"{submissions} is not a folder; expected SUBMISSIONS/<student>/<lesson>.ipynb")
    masters = find_masters(Path(master))
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise TeachError(f"no student folders in {submissions}; "
                         "expected SUBMISSIONS/<student>/<lesson>.ipynb")
    if not nbclient_available():
        raise TeachError(NBCLIENT_MISSING)
    try:  # find out now, not after an hour of grading
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TeachError(f"cannot write the grades to {out}: {e}") from None
    found = {s.name: _notebooks(s) for s in students}
    lessons = [m for m in masters if any(m.stem in nbs for nbs in found.values())]
    if not lessons:
        first, names = students[0].name, ", ".join(m.name for m in masters)
        raise TeachError(f"no submission is named after a master lesson ({names}); "
                         f"for example {first}/ holds {sorted(found[first]) or 'nothing'}")
    progress = None if quiet else progress or sys.stderr
    summary = None if quiet else summary or sys.stdout
    report = GradeReport()
    loaded = {m.stem: load_master(m, timeout, cache_dir) for m in lessons}
    for m in loaded.values():
        report.warnings += m.warnings
    for w in report.warnings if progress is not None else []:
        print(f"warning: {w}", file=progress)

    def grade_one(student: Path, lesson: str) -> tuple[list[Scored], dict]:
        nbs = found[student.name]
        if lesson not in nbs:
            reason = _missing(lesson, sorted(n for n in nbs if n not in loaded), list(loaded), student.name)
            return _zero(loaded[lesson].slots, reason), {"status": "missing", "message": reason}
        try:
            return grade_notebook(nbs[lesson], loaded[lesson], timeout)
        except Exception as e:  # one notebook the grader cannot handle must not stop the others
            reason = f"the grader failed on this notebook: {type(e).__name__}: {e}"
            return _zero(loaded[lesson].slots, reason), {"status": "error", "message": reason}

    tasks = [(student, lesson) for student in students for lesson in loaded]
    bar = Progress(len(tasks), progress)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each notebook is its own process
        futures = {pool.submit(grade_one, *task): task for task in tasks}
        try:
            for future in as_completed(futures):
                student, lesson = futures[future]
                bar.step(f"{student.name}/{lesson}")
        except KeyboardInterrupt:  # the children run in their own sessions: Ctrl-C must stop them
            pool.shutdown(wait=False, cancel_futures=True)
            kill_running()
            raise
        for (student, lesson), future in zip(tasks, futures):
            scored, run = future.result()
            report.runs[(student.name, lesson)] = run
            report.rows += [Row(student.name, lesson, s.exercise, p, s.max_points, f, s.kind == "hand", e,
                                s.grade_id) for s, p, f, e in scored]
    bar.done()
    write_csv(report.rows, Path(out))
    if summary is not None:
        print_summary(report.rows, report.runs, summary)
    return report
