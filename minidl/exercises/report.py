"""The grader's outputs: the CSV grade sheet, the summary table and a plain-text progress bar."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

__all__ = ["COLUMNS", "Progress", "Row", "print_summary", "write_csv"]

COLUMNS = ["student", "lesson", "exercise", "points", "max_points", "feedback", "expected"]


@dataclass
class Row:
    """One line of the grade sheet; points is None for an answer left to grade by hand."""

    student: str
    lesson: str
    exercise: str
    points: float | None
    max_points: float
    feedback: str
    by_hand: bool = False  # an open question (not a CSV column)
    expected: str = ""  # the expected value of a by-hand check, for the instructor only
    grade_id: str = ""  # the check cell (or answer cell) the row belongs to (not a CSV column)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def write_csv(rows: list[Row], out: Path) -> None:
    """Writes the grade sheet, one row per check and per open question.

    `feedback` is what the student saw; `expected` is the expected value of a by-hand check
    (`check_value`), which the student's feedback never shows, for the instructor.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r.student, r.lesson, r.exercise, _num(r.points), _num(r.max_points), r.feedback,
                        r.expected])


def summary_lines(rows: list[Row], runs: dict[tuple[str, str], dict]) -> list[str]:
    """Per student and lesson: the checks' points over their max, what is left to grade by hand, why."""
    table = [("student", "lesson", "points", "by hand", "note")]
    for (student, lesson), run in runs.items():
        mine = [r for r in rows if r.student == student and r.lesson == lesson]
        auto = [r for r in mine if not r.by_hand]
        hand = sum(r.max_points for r in mine if r.by_hand and r.points is None)
        note = run.get("message", "") if run.get("status") != "ok" else ""
        if run.get("dropped"):
            note = (note + "; " if note else "") + f"{run['dropped'] / 1e6:.0f} MB of output dropped"
        got, best = sum(r.points for r in auto), sum(r.max_points for r in auto)
        table.append((student, lesson, f"{_num(got)}/{_num(best)}",
                      f"{_num(hand)} pt to grade" if hand else "-", note[:100]))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[4] for row in table]


def print_summary(rows: list[Row], runs: dict[tuple[str, str], dict], stream: TextIO) -> None:
    for line in summary_lines(rows, runs):
        print(line.rstrip(), file=stream)


class Progress:
    """`[###.......] 3/10 alice/01_chain_rule_and_gates` (the last one done), redrawn in place on a
    terminal, one line each elsewhere."""

    def __init__(self, total: int, stream: TextIO | None, width: int = 30):
        self.total, self.stream, self.width, self.n = total, stream, width, 0
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def step(self, label: str) -> None:
        self.n += 1
        if self.stream is None:
            return
        filled = self.width * self.n // max(self.total, 1)
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.n}/{self.total} {label}"
        if self.tty:  # redraw in place; pad to erase a longer previous label
            self.stream.write("\r" + line.ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.stream is not None:
            end = f"[{'#' * self.width}] {self.total}/{self.total} graded"
            self.stream.write(("\r" + end.ljust(100) if self.tty else end) + "\n")
            self.stream.flush()
