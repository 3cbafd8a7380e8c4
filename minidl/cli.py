"""The `minidl` command.

    minidl --version     the installed version
    minidl lessons       the course's lessons, in order, with where they are
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from minidl import __version__


def lessons_dir() -> Path | None:
    """The `lessons/` folder next to the package in a source checkout, if any."""
    here = Path(__file__).resolve().parent.parent / "lessons"
    return here if here.is_dir() else None


def _first_heading(path: Path) -> str:
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as e:
        return f"(unreadable: {e})"
    for cell in cells:
        for line in "".join(cell.get("source", "")).splitlines():
            if cell.get("cell_type") == "markdown" and line.startswith("# "):
                return line[2:].strip()
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minidl", description="The minidl course: "
                                     "from the chain rule to distributed training.")
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("lessons", help="list the lessons in order")
    args = parser.parse_args(argv)
    if args.command == "lessons":
        folder = lessons_dir()
        if folder is None:
            print("minidl lessons: no lessons/ folder next to this installation; the lessons "
                  "ship with the source checkout (install it with pip install -e .)", file=sys.stderr)
            return 1
        for nb in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            print(f"{nb.name:40s} {_first_heading(nb)}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
