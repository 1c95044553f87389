"""The last cell of every lesson: where a self-learner stands, without nbgrader.

    progress("04_iwae", globals())

re-runs the check of each of the lesson's exercises (``evaluate``: first attempt, no reveal, the usual time
limit) on the answer its grade cell checks, looked up by name (the spec's ``answer``) in the notebook's
namespace, and prints one row per exercise: exercise, status, the first line of the message. An answer that
is not defined yet counts as not solved. The exercises come in the order their spec module registers them,
which is the notebook's order (a test holds them to it).

While nbgrader executes the notebook (``$NBGRADER_EXECUTION`` is set, for autograde and the Validate button)
it prints one line and checks nothing: the grade cells above have graded every answer already, and a second
pass would double the grading time.
"""
from __future__ import annotations

import importlib
import os
import re
from typing import Any, Mapping

from ..runtime import GRADER_ENV
from .check import NOT_IMPLEMENTED, PASSED, _REGISTRY, ExerciseSpec, Result, evaluate
from .limits import DEFAULT_TIMEOUT
from .specs import module_for

WIDTH = 100  # characters of a message shown in the table


def lesson_specs(lesson_id: str) -> list[ExerciseSpec]:
    """The specs of one lesson's exercises, in registration (= notebook) order; ValueError if it has none."""
    importlib.import_module(module_for(lesson_id))
    specs = [spec for key, spec in _REGISTRY.items() if key.startswith(f"{lesson_id}-")]
    if not specs:
        raise ValueError(f"No exercises are registered for lesson {lesson_id!r}: check the lesson id "
                         "(the notebook's file name without .ipynb).")
    return specs


def _first_line(result: Result, exercise_id: str) -> str:
    """The first line of a check's message without the exercise id ("all 5 cases agree" for a pass)."""
    line = result.message.strip().split("\n")[0]
    if result.status == PASSED:
        cases = re.search(r"\((\d+) cases\)", line)
        return f"all {cases[1]} cases agree" if cases else "agrees"
    for prefix in (f"✗ {exercise_id}:", f"⏳ Exercise {exercise_id} is"):
        if line.startswith(prefix):
            line = line[len(prefix):].strip(" :") or line
            break
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def progress_rows(lesson_id: str, namespace: Mapping[str, Any],
                  timeout: float | None = DEFAULT_TIMEOUT) -> list[tuple[str, str, str]]:
    """(exercise name, status, message) for every exercise of the lesson, graded on ``namespace``'s answers."""
    rows = []
    for spec in lesson_specs(lesson_id):
        name = spec.exercise_id.split("-", 1)[1]
        if spec.answer not in namespace:
            rows.append((name, NOT_IMPLEMENTED, f"not solved yet: `{spec.answer}` is not defined (run its cell)"))
            continue
        result = evaluate(spec.exercise_id, namespace[spec.answer], timeout=timeout)
        rows.append((name, result.status, _first_line(result, spec.exercise_id)))
    return rows


def progress(lesson_id: str, namespace: Mapping[str, Any], timeout: float | None = DEFAULT_TIMEOUT) -> None:
    """Print the lesson's progress table (see the module docstring); returns None so a cell shows only the table."""
    if os.environ.get(GRADER_ENV):
        print("Progress table skipped: nbgrader is grading this notebook (see the grade cells above).")
        return None
    rows = progress_rows(lesson_id, namespace, timeout)
    passed = sum(status == PASSED for _, status, _ in rows)
    width = max(len("exercise"), *(len(name) for name, _, _ in rows))
    print(f"Lesson {lesson_id}: {passed} of {len(rows)} exercises pass.")
    print(f"{'exercise':<{width}}  {'status':<15}  message")
    for name, status, message in rows:
        print(f"{name:<{width}}  {status:<15}  {message}")
    return None
