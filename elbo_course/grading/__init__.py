"""Grading: inline exercise checks, their specs, and the student notebooks built from the solutions.

    check.py      check / evaluate / verify / register / get_spec: compare an answer with its registered spec
    compare.py    the comparisons behind check: type, shape, dtype, NaN/inf, tolerance; diagnoses of a miss
    feedback.py   the exceptions check raises (shown without the checker's frames) and error messages
    limits.py     the per-call time limit (DEFAULT_TIMEOUT = 30 s) that stops an endless loop
    specs/        one spec module per lesson (lesson05.py registers "05_elbo_surgery-..." ids)
    notebook.py   exercise ids, cell markers and nbgrader metadata, shared by the builder and the grader
    build.py      ``python -m elbo_course.grading.build lessons|check``: lessons/ from solutions/
    progress_table.py  progress(lesson_id, globals()): the last cell of every lesson, a table of its exercises' status

Public API: ``from elbo_course.grading import check, verify, evaluate, register, get_spec`` (and the statuses
PASSED, FAILED, ERROR, TIMEOUT, NOT_IMPLEMENTED that ``evaluate(...).status`` takes).
"""
from __future__ import annotations

from .check import (ERROR, FAILED, NOT_IMPLEMENTED, PASSED, STATUSES, TIMEOUT, ExerciseSpec, Result, check,
                    evaluate, get_spec, register, verify)
from .feedback import CheckFailed, CheckTimeout, NotSolved
from .progress_table import progress

__all__ = ["check", "verify", "evaluate", "progress", "CheckFailed", "CheckTimeout", "NotSolved", "register", "get_spec", "ExerciseSpec", "Result",
           "PASSED", "FAILED", "ERROR", "TIMEOUT", "NOT_IMPLEMENTED", "STATUSES"]
