"""The answer key of the by-hand exercises: one module per lesson, `lessonNN.py`.

Each module holds `KEY`, a dict from an exercise id ("05.3") to a function of no arguments
that computes the expected answer, from the library where it can (the engine, the cost
model, the simulator) rather than as a typed-in number, so that the key cannot drift from
what the lesson teaches. `check_value` looks answers up here and never prints them.

Reading this package spoils the exercises; it is here so that a released notebook can tell
a student whether an answer is right without carrying the answer in its cells.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["expected", "exercise_ids"]


def _module(exercise: str):
    lesson = exercise.split(".")[0]
    if not (len(lesson) == 2 and lesson.isdigit()):
        raise KeyError(f"answer key: {exercise!r} is not an exercise id like '05.3'")
    try:
        return importlib.import_module(f"minidl.exercises.answers.lesson{lesson}")
    except ModuleNotFoundError as e:
        raise KeyError(f"answer key: lesson {lesson} has no by-hand answers (no module "
                       f"minidl.exercises.answers.lesson{lesson})") from e


def expected(exercise: str) -> Any:
    """The expected answer of a by-hand exercise, by its id ("01.1")."""
    key = _module(exercise).KEY
    if exercise not in key:
        raise KeyError(f"answer key: no answer for {exercise!r}; lesson "
                       f"{exercise.split('.')[0]} has {', '.join(sorted(key)) or 'none'}")
    return key[exercise]()


def exercise_ids(lesson: str) -> list[str]:
    """The ids with an answer in the key of one lesson ("05")."""
    try:
        return sorted(_module(f"{lesson}.0").KEY)
    except KeyError:
        return []
