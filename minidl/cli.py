"""The `minidl` command.

    minidl --version     the installed version
    minidl start [FOLDER]
                         a student's copy of every lesson (no solutions) in FOLDER
                         ($MINIDL_HOME, or ~/minidl-course), opened in JupyterLab
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


def course_home() -> Path:
    """Where `minidl start` puts a student's notebooks: $MINIDL_HOME, or ~/minidl-course."""
    return Path(os.environ.get("MINIDL_HOME") or Path.home() / "minidl-course").expanduser()


def _inside_tracked_tree(folder: Path, root: Path) -> bool:
    """True when `folder` lies in the repository at `root` and git does not ignore it."""
    import subprocess
    try:
        folder.relative_to(root)
    except ValueError:
        return False
    try:
        ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(folder)],
                                 capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ignored = False  # no git: stay out of the repository
    return not ignored


def _start(folder: Path | None, force: bool, lab: bool, browser: bool) -> int:
    """Writes the student version of every lesson into `folder` and opens JupyterLab there.

    A notebook already in the folder is the student's work: it is kept unless `force`.
    The masters stay where they are, in the repository's lessons/, as the answer key.
    """
    import subprocess
    from importlib.util import find_spec

    from minidl.exercises.cells import TeachError, find_masters, read_notebook, write_notebook
    from minidl.exercises.release import release_notebook
    lessons = lessons_dir()
    if lessons is None:
        print("minidl start: no lessons/ folder next to this installation; install the course from "
              "its source checkout: python -m pip install -e \".[dev]\"", file=sys.stderr)
        return 1
    folder = (folder or course_home()).expanduser().resolve()
    if _inside_tracked_tree(folder, lessons.parent.resolve()):
        print(f"minidl start: {folder} is inside the repository {lessons.parent.resolve()}, where your "
              f"notebooks would mix with the masters; choose a folder outside it (the default is "
              f"{course_home()}, or set $MINIDL_HOME)", file=sys.stderr)
        return 2
    try:
        masters = find_masters(lessons)
        folder.mkdir(parents=True, exist_ok=True)
        written = kept = 0
        for master in masters:
            out = folder / master.name
            if out.exists() and not force:
                print(f"{master.name}: kept your copy (minidl start --force replaces it with a fresh one)")
                kept += 1
                continue
            write_notebook(release_notebook(read_notebook(master), master.name), out)
            written += 1
    except (TeachError, ValueError, OSError) as e:
        print(f"minidl start: {e}", file=sys.stderr)
        return 2
    print(f"{written} lesson(s) written, {kept} kept, in {folder}")
    print(f"The masters, with the solutions, stay in {lessons} (open them only to check your work).")
    if not lab:
        print(f"Open the course with: jupyter lab {folder}")
        return 0
    if find_spec("jupyterlab") is None:
        print("minidl start: JupyterLab is not installed (python -m pip install jupyterlab); the lessons "
              f"are in {folder}, open them with any Jupyter", file=sys.stderr)
        return 1
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", masters[0].name]
    try:
        return subprocess.call(command + ([] if browser else ["--no-browser"]), cwd=folder)
    except KeyboardInterrupt:  # Ctrl-C stops JupyterLab: the notebooks are saved in the folder
        return 0


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
    start = sub.add_parser("start", help="copy the lessons for a student (no solutions) and open JupyterLab",
                           description="Writes the student version of every lesson (solutions and hidden "
                           "tests removed) into FOLDER and opens JupyterLab there. Your notebooks are never "
                           "overwritten unless --force.")
    start.add_argument("folder", type=Path, nargs="?", default=None,
                       help="where the notebooks go ($MINIDL_HOME, or ~/minidl-course)")
    start.add_argument("--force", action="store_true", help="replace notebooks already in the folder")
    start.add_argument("--no-lab", action="store_true", help="only make the folder; do not start JupyterLab")
    start.add_argument("--no-browser", action="store_true", help="start JupyterLab without opening a browser")
    sub.add_parser("lessons", help="list the lessons in order")
    fig = sub.add_parser("figures", help="run the lessons and write their figures into figures/")
    fig.add_argument("numbers", nargs="*", help="lesson numbers (default: every lesson)")
    fig.add_argument("--out", type=Path, default=None, help="the folder to write (figures/)")
    fig.add_argument("--timeout", type=float, default=600, help="seconds per cell (600)")
    _add_teach(sub)
    args = parser.parse_args(argv)
    if args.command == "teach":
        return _teach(args)
    if args.command == "start":
        return _start(args.folder, args.force, not args.no_lab, not args.no_browser)
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
