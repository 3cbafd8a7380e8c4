"""The `minidl` command.

    minidl --version     the installed version
    minidl lessons       the course's lessons, in order, with where they are
    minidl figures [NN ...]
                         run the lessons (all, or those numbered) and write their
                         figures into the repository's figures/
    minidl teach release SRC DEST
                         the student notebooks, made from the master lessons
    minidl teach grade SUBMISSIONS --master SRC --out grades.csv
                         run every submission against the master's checks
"""
from __future__ import annotations

import argparse
import json
import os
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


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "minidl" / "masters"


def _figures(numbers: list[str], folder: Path | None, timeout: float) -> int:
    """Runs lessons in a scratch folder with $MINIDL_FIGURES set, so that every
    `minidl.viz.save_figure` call writes into `folder` (default: the repository's figures/)."""
    import shutil
    import tempfile

    from minidl.viz import FIGURES_ENV
    lessons = lessons_dir()
    if lessons is None:
        print("minidl figures: no lessons/ folder next to this installation; run it from a source "
              "checkout (pip install -e .)", file=sys.stderr)
        return 1
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError:
        print("minidl figures: needs nbclient: pip install -e \".[dev]\"", file=sys.stderr)
        return 1
    target = (folder or lessons.parent / "figures").resolve()
    chosen = [nb for nb in sorted(lessons.glob("[0-9][0-9]_*.ipynb"))
              if not numbers or nb.name[:2] in {n.zfill(2) for n in numbers}]
    if not chosen:
        print(f"minidl figures: no lesson numbered {' '.join(numbers)} in {lessons}", file=sys.stderr)
        return 1
    os.environ[FIGURES_ENV] = str(target)  # the kernels inherit it
    with tempfile.TemporaryDirectory(prefix="minidl-figures-") as scratch:
        for nb_path in chosen:
            copy = Path(scratch) / nb_path.name
            shutil.copy(nb_path, copy)
            nb = nbformat.read(copy, as_version=4)
            before = set(target.glob("*.png")) if target.is_dir() else set()
            print(f"{nb_path.name}: running ...", flush=True)
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": scratch}}).execute()
            written = sorted(p.name for p in target.glob(f"{nb_path.name[:2]}_*.png"))
            print(f"{nb_path.name}: {len(written)} figures in {target}"
                  + (f" ({len(set(target.glob('*.png')) - before)} new)" if before else ""))
    return 0


def _add_teach(sub: argparse._SubParsersAction) -> None:
    teach = sub.add_parser("teach", help="release the exercises to students and grade them")
    what = teach.add_subparsers(dest="teach_command", required=True)
    rel = what.add_parser("release", help="make the student notebooks from the masters")
    rel.add_argument("src", type=Path, help="the folder of master lessons (lessons/) or one master notebook")
    rel.add_argument("dest", type=Path, help="the folder to write the student notebooks into")
    gr = what.add_parser("grade", help="grade SUBMISSIONS/<student>/<lesson>.ipynb into a CSV")
    gr.add_argument("submissions", type=Path, help="one folder per student")
    gr.add_argument("--master", type=Path, required=True, help="the folder of masters, or one master")
    gr.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (grades.csv)")
    gr.add_argument("--timeout", type=float, default=300, help="seconds each notebook may run (300)")
    gr.add_argument("--jobs", type=int, default=1, help="notebooks run at once (1); each needs a core")
    gr.add_argument("--cache", type=Path, default=_default_cache(),
                    help="where the masters' runs are cached (~/.cache/minidl/masters)")
    gr.add_argument("--no-cache", action="store_true", help="run the masters again")


def _teach(args: argparse.Namespace) -> int:
    from minidl.exercises.cells import TeachError  # imported here: `minidl lessons` stays fast
    try:
        if args.teach_command == "release":
            from minidl.exercises.release import release
            for path in release(args.src, args.dest):
                print(path)
            return 0
        from minidl.exercises.grade import grade
        grade(args.submissions, args.master, args.out, timeout=args.timeout, jobs=args.jobs,
              cache_dir=None if args.no_cache else args.cache)
        print(f"grades written to {args.out}")
        return 0
    except TeachError as e:  # the instructor's mistake: say what and how to fix it
        print(f"minidl teach {args.teach_command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"minidl teach {args.teach_command}: interrupted; no grades written", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minidl", description="The minidl course: "
                                     "from the chain rule to distributed training.")
    parser.add_argument("--version", action="version", version=f"minidl {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("lessons", help="list the lessons in order")
    fig = sub.add_parser("figures", help="run the lessons and write their figures into figures/")
    fig.add_argument("numbers", nargs="*", help="lesson numbers (default: every lesson)")
    fig.add_argument("--out", type=Path, default=None, help="the folder to write (figures/)")
    fig.add_argument("--timeout", type=float, default=600, help="seconds per cell (600)")
    _add_teach(sub)
    args = parser.parse_args(argv)
    if args.command == "teach":
        return _teach(args)
    if args.command == "figures":
        return _figures(args.numbers, args.out, args.timeout)
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
