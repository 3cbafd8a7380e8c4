"""Notebook cells as nbgrader marks them: reading, writing and finding masters.

A notebook is handled as plain JSON (a dict), so that releasing needs nothing
beyond the standard library. nbgrader keeps its marks in `cell.metadata.nbgrader`:
`solution` (the student writes here), `grade` (this cell is graded), `locked`,
`grade_id` (a name unique in the notebook) and `points`.
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["InvalidNotebook", "TeachError", "find_masters", "grade_id", "is_check_cell",
           "is_hand_graded", "is_solution", "points", "read_notebook", "set_source", "source",
           "write_notebook"]

MASTER_GLOB = "[0-9][0-9]_*.ipynb"  # lessons/NN_topic.ipynb


class TeachError(Exception):
    """An instructor's mistake (a missing folder, no masters): `minidl teach` exits non-zero."""


class InvalidNotebook(ValueError):
    """A file that is not a notebook nbformat 4 can read."""


def _meta(cell: dict) -> dict:
    meta = cell.get("metadata") or {}
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def source(cell: dict) -> str:
    """The cell's source as one string (nbformat stores it as a string or a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def set_source(cell: dict, text: str) -> None:
    """Stores `text` the way nbformat writes it: a list of lines, each but the last ending in \\n."""
    cell["source"] = text.splitlines(keepends=True)


def is_solution(cell: dict) -> bool:
    return bool(_meta(cell).get("solution"))


def is_check_cell(cell: dict) -> bool:
    """A locked code cell that nbgrader grades: it holds the checks and the hidden tests."""
    return cell.get("cell_type") == "code" and bool(_meta(cell).get("grade"))


def is_hand_graded(cell: dict) -> bool:
    """An open question: a markdown answer cell that is graded (by a person)."""
    return cell.get("cell_type") == "markdown" and bool(_meta(cell).get("grade")) and is_solution(cell)


def grade_id(cell: dict) -> str | None:
    gid = _meta(cell).get("grade_id")
    return str(gid) if gid is not None else None


def points(cell: dict) -> float:
    """The points nbgrader's metadata gives the cell (0 when absent or unreadable)."""
    try:
        return float(_meta(cell).get("points", 0) or 0)
    except (TypeError, ValueError):
        return 0.0


def read_notebook(path: Path) -> dict:
    """Reads a notebook as a dict, or raises InvalidNotebook saying what is wrong with it."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise InvalidNotebook(f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise InvalidNotebook(f"not JSON ({e.msg}: line {e.lineno}, column {e.colno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("JSON without a list of cells")
    if nb.get("nbformat") != 4:
        raise InvalidNotebook(f"nbformat {nb.get('nbformat')!r}; version 4 is needed")
    for i, cell in enumerate(nb["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebook(f"cell {i} has no valid cell_type")
        if not isinstance(cell.get("source", ""), (str, list)):
            raise InvalidNotebook(f"cell {i} has a source that is not text")
        if not isinstance(cell.get("metadata", {}), dict):
            raise InvalidNotebook(f"cell {i} has metadata that is not a JSON object")
    return nb


def write_notebook(nb: dict, path: Path) -> None:
    """Writes `nb` as nbformat does: one-space indent, UTF-8, a final newline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def find_masters(src: Path) -> list[Path]:
    """The master notebooks: `src` itself if it is a notebook, else `src/NN_*.ipynb` in order."""
    src = Path(src)
    if src.is_file():
        if src.suffix != ".ipynb":
            raise TeachError(f"{src} is not a notebook (.ipynb); give a folder of masters or one notebook")
        return [src]
    if not src.is_dir():
        raise TeachError(f"{src} does not exist; give the folder of master lessons (lessons/) "
                         "or one master notebook")
    masters = sorted(src.glob(MASTER_GLOB))
    if not masters:
        raise TeachError(f"no master lessons in {src}: expected notebooks named NN_topic.ipynb, "
                         "such as 01_chain_rule_and_gates.ipynb")
    return masters

