"""The `minidl` console command."""
import subprocess
import sys

from minidl import __version__
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
