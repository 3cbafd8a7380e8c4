"""`minidl teach release`: the student notebooks, made from the master lessons.

It does what nbgrader's `generate_assignment` does with the same markers, so a
course can switch between the two:

- a region between `### BEGIN SOLUTION` and `### END SOLUTION` becomes
  `# YOUR CODE HERE` and `raise NotImplementedError()` in code, indented as the
  BEGIN line was, and `YOUR ANSWER HERE` in markdown;
- a solution cell without markers is replaced whole by the same stub;
- a region between `### BEGIN HIDDEN TESTS` and `### END HIDDEN TESTS` is removed;
- outputs and execution counts are cleared; nbgrader's metadata is kept as it is;
- cells are locked as nbgrader's LockCells locks them, in the cell metadata that Jupyter
  reads: check cells and other locked cells get `editable: false` and `deletable: false`,
  solution cells (code and written answers) `deletable: false`. A student who unlocks
  and edits a check cell anyway gains nothing: `minidl teach grade` (like nbgrader's
  autograde) runs the master's check cells in its place.
"""
from __future__ import annotations

import re
from pathlib import Path

from minidl.exercises.cells import (
    TeachError,
    find_masters,
    grade_id,
    is_check_cell,
    is_solution,
    read_notebook,
    set_source,
    source,
    write_notebook,
)

__all__ = ["CODE_STUB", "TEXT_STUB", "lock_cell", "release", "release_notebook"]

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"  # nbgrader matches these inside a line
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def _where(cell: dict, index: int) -> str:
    gid = grade_id(cell)
    return f"cell {index}" + (f" ({gid})" if gid else "")


def _replace_regions(text: str, begin: str, end: str, stub: str | None,
                     where: str) -> tuple[str, bool]:
    """`text` with each region from a `begin` line to an `end` line (markers
    included) replaced by `stub`, indented as the begin line, or removed when
    stub is None. Returns (the new text, whether any region was found)."""
    out: list[str] = []
    inside = found = False
    for line in text.split("\n"):
        if begin in line:
            if inside:
                raise TeachError(f"{where}: a second {begin!r} before {end!r}")
            inside = found = True
            if stub is not None:
                indent = re.match(r"\s*", line).group(0)
                out.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif end in line:
            if not inside:
                raise TeachError(f"{where}: {end!r} without a {begin!r} above it")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise TeachError(f"{where}: {begin!r} is never closed by {end!r}")
    return "\n".join(out), found


def replace_solutions(text: str, stub: str, where: str = "a cell") -> tuple[str, bool]:
    """`text` with each solution region replaced by `stub`, indented as its BEGIN line.

    Returns:
        (the new text, whether any region was found).
    """
    return _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, stub, where)


def remove_hidden_tests(text: str, where: str = "a cell") -> tuple[str, bool]:
    """`text` without its hidden-test regions (marker lines included).

    Returns:
        (the new text, whether any region was found).
    """
    text, found = _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, None, where)
    return (text.rstrip() if found else text), found  # no blank tail where the tests were


def lock_cell(cell: dict) -> None:
    """Sets Jupyter's `editable` and `deletable` as nbgrader's LockCells does by default."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict):
        return
    if is_solution(cell):  # the student writes here, but may not delete the cell
        cell["metadata"]["deletable"] = False
    elif is_check_cell(cell) or meta.get("grade") or meta.get("locked"):
        cell["metadata"]["deletable"] = False
        cell["metadata"]["editable"] = False


def release_cell(cell: dict, where: str = "a cell") -> dict:
    """The student's version of one master cell (a new dict; the master is not changed)."""
    cell = {**cell, "metadata": {k: v for k, v in cell.get("metadata", {}).items() if k != "execution"}}
    text = source(cell)
    stub = CODE_STUB if cell["cell_type"] == "code" else TEXT_STUB
    text, replaced = replace_solutions(text, stub, where)
    if replaced and not is_solution(cell):  # nbgrader refuses this too: the cell would not be graded
        raise TeachError(f"{where}: a solution region in a cell not marked as a solution cell; "
                         "set metadata.nbgrader.solution to true")
    if is_solution(cell) and not replaced:
        text = stub
    text, hidden = remove_hidden_tests(text, where)
    if hidden and not is_check_cell(cell):  # the grader puts hidden tests back only in check cells
        raise TeachError(f"{where}: hidden tests in a cell that is not a graded code cell; "
                         "set metadata.nbgrader.grade to true and give it a grade_id")
    set_source(cell, text)
    lock_cell(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def release_notebook(nb: dict, name: str = "the notebook") -> dict:
    """The student's version of a master notebook."""
    cells = [release_cell(cell, f"{name}, {_where(cell, i)}") for i, cell in enumerate(nb["cells"])]
    return {**nb, "cells": cells}


def release(src: Path, dest: Path) -> list[Path]:
    """Writes the student version of each master in `src` (a folder or one notebook) into `dest`.

    Returns:
        the notebooks written, in lesson order.
    """
    masters = find_masters(Path(src))
    dest = Path(dest)
    if dest.resolve() in {m.parent.resolve() for m in masters}:
        raise TeachError(f"{dest} holds the masters; release into another folder")
    written = []
    for master in masters:
        try:
            nb = read_notebook(master)
        except ValueError as e:
            raise TeachError(f"{master}: {e}") from None
        out = dest / master.name
        write_notebook(release_notebook(nb, master.name), out)
        written.append(out)
    return written
