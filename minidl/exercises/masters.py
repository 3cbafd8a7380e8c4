"""What a master lesson grades: its check cells, their checks and points, its open questions.

The list of checks is not parsed from the source: the master is run once (in a
scratch copy, like a submission) and every `check()` / `check_value()` it records
becomes one row of the grade sheet, with the max points the check itself declared.
The run is cached on disk, keyed by the master's bytes and minidl's version.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from minidl import __version__
from minidl.exercises.cells import (
    TeachError,
    grade_id,
    is_check_cell,
    is_hand_graded,
    points,
    read_notebook,
    write_notebook,
)
from minidl.exercises.runner import run_isolated

__all__ = ["Master", "Slot", "load_master", "run_in_scratch"]

_PROTOCOL = "2"  # bump when what the cache holds changes (2: each result's expected value)
_MIRROR_LIMIT = 10_000_000  # bytes: small files beside the masters (data, configs) are copied


@dataclass(frozen=True)
class Slot:
    """One row a lesson puts in the grade sheet.

    kind: "check" (one check() call), "cell" (a check cell that records no check():
    nbgrader's rule, full points when it runs without an error) or "hand" (an open question).
    expected: what the master's check recorded as the expected value (for the instructor).
    """

    grade_id: str
    exercise: str
    max_points: float
    kind: str
    expected: str = ""


@dataclass
class Master:
    """A master lesson: its notebook, its check cells by grade_id, and its rows."""

    lesson: str
    path: Path
    check_cells: dict[str, dict]
    slots: list[Slot]
    warnings: list[str] = field(default_factory=list)


def run_in_scratch(nb: dict, lesson: str, checks: dict[int, str], timeout: float, mirror: Path) -> dict:
    """Runs `nb` as `scratch/lessons/<lesson>.ipynb` beside an empty `scratch/figures/`.

    A lesson that still saves figures to ../figures/ writes into that throwaway copy, so
    grading never writes into the repository or the submissions.
    """
    with tempfile.TemporaryDirectory(prefix="minidl-grade-", ignore_cleanup_errors=True) as tmp:
        lessons = Path(tmp) / "lessons"
        lessons.mkdir()
        (Path(tmp) / "figures").mkdir()
        for f in Path(mirror).iterdir():  # what the lessons folder holds besides notebooks
            if f.is_file() and f.suffix != ".ipynb" and f.stat().st_size <= _MIRROR_LIMIT:
                shutil.copy(f, lessons / f.name)
        write_notebook(nb, lessons / f"{lesson}.ipynb")
        return run_isolated(lessons / f"{lesson}.ipynb", checks, timeout)


def _cache_file(path: Path, cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    key = hashlib.sha256(Path(path).read_bytes() + f"|{__version__}|{_PROTOCOL}".encode()).hexdigest()
    return Path(cache_dir) / f"{Path(path).stem}-{key[:20]}.json"


def _run_master(path: Path, nb: dict, checks: dict[int, str], timeout: float,
                cache_dir: Path | None) -> dict:
    cached = _cache_file(path, cache_dir)
    if cached is not None and cached.exists():
        try:
            return json.loads(cached.read_text(encoding="utf-8"))
        except ValueError:
            pass  # a damaged cache entry is run again
    result = run_in_scratch(nb, path.stem, checks, timeout, path.parent)
    if result["status"] != "ok":
        raise TeachError(f"the master {path} could not be run to the end: {result['message']}; "
                         "run it in Jupyter, or raise --timeout")
    if cached is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(result), encoding="utf-8")
        except OSError:
            pass  # the cache only saves time: grading goes on without it
    return result


def _fmt(x: float) -> str:
    return f"{x:g}"


def load_master(path: Path, timeout: float, cache_dir: Path | None = None) -> Master:
    """Reads a master lesson and runs it once (or reads the cached run) to list its checks."""
    path = Path(path)
    try:
        nb = read_notebook(path)
    except ValueError as e:
        raise TeachError(f"the master {path} is not a valid notebook: {e}") from None
    check_cells: dict[str, dict] = {}
    checks: dict[int, str] = {}
    seen: set[str] = set()
    for i, cell in enumerate(nb["cells"]):
        if is_check_cell(cell) or is_hand_graded(cell):
            gid = grade_id(cell)
            if not gid:
                raise TeachError(f"{path.name}, cell {i}: a graded cell without a grade_id")
            if gid in seen:
                raise TeachError(f"{path.name}: two graded cells share the grade_id {gid!r}")
            seen.add(gid)
            if is_check_cell(cell):
                check_cells[gid], checks[i] = cell, gid
    run = _run_master(path, nb, checks, timeout, cache_dir) if checks else {"cells": {}}
    master = Master(path.stem, path, check_cells, [])
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if is_hand_graded(cell):
            master.slots.append(Slot(gid, gid, points(cell), "hand"))
        if not is_check_cell(cell):
            continue
        ran = run["cells"].get(gid) or {}
        results = ran.get("results") or []
        if ran.get("error"):
            master.warnings.append(f"{path.name}: the master's check cell {gid} raised {ran['error']}")
        if not results:  # nbgrader's rule: the cell's points when it runs without an error
            master.slots.append(Slot(gid, gid, points(cell), "cell"))
            continue
        for r in results:
            master.slots.append(Slot(gid, r["exercise"], r["max_points"], "check", str(r.get("expected", ""))))
            if r["points"] != r["max_points"]:
                master.warnings.append(f"{path.name}: the master scores {_fmt(r['points'])}/"
                                       f"{_fmt(r['max_points'])} on {r['exercise']!r}")
        total = sum(r["max_points"] for r in results)
        if total != points(cell):
            master.warnings.append(f"{path.name}: check cell {gid} has points {_fmt(points(cell))} in its "
                                   f"nbgrader metadata, but its checks add up to {_fmt(total)}")
    return master
