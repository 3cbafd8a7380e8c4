"""The `minidl` console command."""
import subprocess
import sys
from pathlib import Path

import pytest

from minidl import __version__, cli
from minidl.cli import main


def test_console_script_prints_version():
    out = subprocess.run([sys.executable, "-m", "minidl.cli", "--version"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"minidl {__version__}"


def test_lessons_lists_every_lesson_with_its_title(capsys):
    assert main(["lessons"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("01_chain_rule_and_gates.ipynb")
    assert [line[:2] for line in lines] == [f"{i:02d}" for i in range(1, len(lines) + 1)]


# --- minidl start: a student's copy of the course -------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))


def test_start_writes_the_student_version_of_every_lesson(tmp_path, capsys):
    assert main(["start", str(tmp_path / "course"), "--no-lab"]) == 0
    written = sorted((tmp_path / "course").glob("*.ipynb"))
    assert [p.name for p in written] == [m.name for m in MASTERS]
    for nb, master in zip(written, MASTERS):
        text = nb.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        if '"grade": true' in master.read_text(encoding="utf-8"):
            assert '"editable": false' in text  # check cells locked as nbgrader locks them
    out = capsys.readouterr().out
    assert f"{len(MASTERS)} lesson(s) written, 0 kept" in out and str(ROOT / "lessons") in out


def test_start_never_overwrites_a_students_notebook_unless_forced(tmp_path, capsys):
    assert main(["start", str(tmp_path), "--no-lab"]) == 0
    mine = tmp_path / MASTERS[0].name
    mine.write_text("my work", encoding="utf-8")
    assert main(["start", str(tmp_path), "--no-lab"]) == 0
    assert mine.read_text(encoding="utf-8") == "my work"
    assert f"{MASTERS[0].name}: kept your copy" in capsys.readouterr().out
    assert main(["start", str(tmp_path), "--no-lab", "--force"]) == 0
    assert "BEGIN SOLUTION" not in mine.read_text(encoding="utf-8") != "my work"


def test_start_defaults_to_minidl_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIDL_HOME", str(tmp_path / "home"))
    assert main(["start", "--no-lab"]) == 0
    assert len(list((tmp_path / "home").glob("*.ipynb"))) == len(MASTERS)
    monkeypatch.delenv("MINIDL_HOME")
    assert cli.course_home() == Path.home() / "minidl-course"


def test_start_refuses_a_folder_inside_the_repository(capsys):
    target = ROOT / "minidl-start-test-folder"
    try:
        assert main(["start", str(target), "--no-lab"]) == 2
        assert "inside the repository" in capsys.readouterr().err
        assert not target.exists()
    finally:
        if target.exists():  # only if the refusal failed
            import shutil
            shutil.rmtree(target)


@pytest.mark.parametrize("flags, browser", [([], True), (["--no-browser"], False)])
def test_start_opens_jupyterlab_in_the_folder_on_the_first_lesson(tmp_path, monkeypatch, flags, browser):
    calls = []
    monkeypatch.setattr("subprocess.call", lambda cmd, cwd: calls.append((cmd, cwd)) or 0)
    assert main(["start", str(tmp_path), *flags]) == 0
    (cmd, cwd), = calls
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"] and Path(cwd) == tmp_path.resolve()
    assert f"--ServerApp.root_dir={tmp_path.resolve()}" in cmd and MASTERS[0].name in cmd
    assert ("--no-browser" in cmd) != browser
