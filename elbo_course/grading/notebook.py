"""The notebook side of grading: exercise ids, cell markers and nbgrader metadata.

One definition of the format, shared by the lesson builder (``grading.build``), the checker
(``grading.check``) and the tests that run the grader over the notebooks.

Exercise ids. A notebook's ``metadata.elbo_course.lesson_id`` is its file stem (``04_iwae``). An exercise id
is ``<lesson_id>-<name>`` (``04_iwae-log_mean_exp``): lesson id and name are made of letters, digits and
``_``, joined by one ``-``, so every id matches nbgrader's ``^[a-zA-Z0-9_\\-]*$``. The same string is the
solution cell's nbgrader ``grade_id`` and the first argument of the grade cell's ``check("<id>", ...)``;
the grade cell's ``grade_id`` is ``<id>-grade``.

Cell markers (each alone on its line, in code cells only)::

    ### BEGIN SOLUTION / ### END SOLUTION          in a solution cell (nbgrader "solution": true)
    ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS  in a grade cell (nbgrader "grade": true)

``exercises(nb)`` checks all of this for one notebook and raises ``NotebookFormatError`` naming the cell
and what to change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
MARKER_WORDS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
GRADER_TAGS = frozenset({"setup", "context"})  # cells an exercise may depend on

NBGRADER_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")  # what nbgrader accepts as a grade_id
EXERCISE_ID = re.compile(r"^(?P<lesson>[0-9A-Za-z][0-9A-Za-z_]*)-(?P<name>[0-9A-Za-z_]+)$")
GRADE_SUFFIX = "-grade"
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")
PROGRESS_CALL = re.compile(r"\bprogress\(")  # the progress table: its stored output must not reach lessons/
# The stub nbgrader writes for a solution region of an exported course (``ClearSolutions.code_stub``); one
# string for all exercises, so it names none (``runtime`` and ``feedback.is_stub`` accept it).
NBGRADER_STUB = 'raise NotImplementedError("Exercise: replace this line with your code")'
EXAMPLE_ID = "04_iwae-log_mean_exp"


class NotebookFormatError(ValueError):
    """A notebook that breaks the exercise format; the message names the cell and what to change."""


# ----- exercise ids --------------------------------------------------------------------------------

def parse_exercise_id(exercise_id: Any) -> tuple[str, str]:
    """``"04_iwae-log_mean_exp" -> ("04_iwae", "log_mean_exp")``; ValueError saying the rule otherwise."""
    match = EXERCISE_ID.match(exercise_id) if isinstance(exercise_id, str) else None
    if match is None:
        advice = ""
        if isinstance(exercise_id, str) and "." in exercise_id:
            advice = " Ids no longer contain '.': join lesson id and name with '-'."
        raise ValueError(f"Exercise id {exercise_id!r} is not of the form '<lesson_id>-<name>' (letters, digits "
                         f"and '_' on either side of one '-', as nbgrader requires), e.g. {EXAMPLE_ID!r}.{advice}")
    return match["lesson"], match["name"]


def lesson_id_of(exercise_id: str) -> str:
    """The lesson part of an exercise id: ``"04_iwae-iwae_bound" -> "04_iwae"``."""
    return parse_exercise_id(exercise_id)[0]


def make_exercise_id(lesson_id: str, name: str) -> str:
    """``<lesson_id>-<name>``, validated: ``("04_iwae", "iwae_bound") -> "04_iwae-iwae_bound"``."""
    exercise_id = f"{lesson_id}-{name}"
    parse_exercise_id(exercise_id)
    return exercise_id


def grade_id_for(exercise_id: str) -> str:
    """The nbgrader ``grade_id`` of an exercise's grade cell: ``<exercise_id>-grade``."""
    parse_exercise_id(exercise_id)
    return exercise_id + GRADE_SUFFIX


def check_calls(source: str) -> list[str]:
    """The exercise ids passed to ``check("<id>", ...)`` in a cell's source, in order."""
    return CHECK_CALL.findall(source)


# ----- nbgrader metadata ---------------------------------------------------------------------------

def solution_metadata(exercise_id: str) -> dict[str, Any]:
    """nbgrader metadata of a solution cell (unlocked, not graded itself)."""
    parse_exercise_id(exercise_id)
    return {"grade": False, "grade_id": exercise_id, "locked": False, "schema_version": 3, "solution": True}


def grade_metadata(exercise_id: str, points: int = 1) -> dict[str, Any]:
    """nbgrader metadata of a grade cell (locked, worth ``points``)."""
    return {"grade": True, "grade_id": grade_id_for(exercise_id), "locked": True, "points": points,
            "schema_version": 3, "solution": False}


def nbgrader(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cell's nbgrader metadata ({} when absent)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution_cell(cell: Mapping[str, Any]) -> bool:
    """A code cell with nbgrader ``"solution": true``."""
    return cell.get("cell_type") == "code" and bool(nbgrader(cell).get("solution"))


def is_grade_cell(cell: Mapping[str, Any]) -> bool:
    """A code cell with nbgrader ``"grade": true``."""
    return cell.get("cell_type") == "code" and bool(nbgrader(cell).get("grade"))


def is_grader_cell(cell: Mapping[str, Any]) -> bool:
    """A cell the grader runs: tagged ``setup``/``context``, or a solution or grade cell."""
    tags = set(cell.get("metadata", {}).get("tags", []))
    return cell.get("cell_type") == "code" and bool(tags & GRADER_TAGS or is_solution_cell(cell)
                                                     or is_grade_cell(cell))


# ----- cell markers --------------------------------------------------------------------------------

def marker_regions(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """(start, stop) line indices of each begin..end region, markers included; checks nesting and closing."""
    found, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise NotebookFormatError(f"{where}: '{begin}' inside an open region (line {i + 1}); close it first.")
            start = i
        elif text == end:
            if start is None:
                raise NotebookFormatError(f"{where}: '{end}' without '{begin}' (line {i + 1}).")
            found.append((start, i + 1))
            start = None
    if start is not None:
        raise NotebookFormatError(f"{where}: '{begin}' (line {start + 1}) has no '{end}'.")
    return found


def check_marker_lines(lines: list[str], where: str) -> None:
    """Every line mentioning a marker must be exactly that marker (indentation aside)."""
    for i, line in enumerate(lines):
        if any(word in line for word in MARKER_WORDS) and line.strip() not in MARKERS:
            raise NotebookFormatError(f"{where}, line {i + 1}: a marker must stand alone on its line, exactly as "
                                      f"'{BEGIN_SOLUTION}' / '{BEGIN_HIDDEN}' (got {line.strip()!r}).")


def has_marker(source: str, *markers: str) -> bool:
    """Whether some line of ``source`` is one of ``markers`` (all four when none are given)."""
    wanted = markers or MARKERS
    return any(line.strip() in wanted for line in source.split("\n"))


def split_regions(source: str) -> tuple[set[str], set[str]]:
    """(stripped lines inside solution or hidden-test regions, stripped lines outside them), markers excluded."""
    inside, outside, active = set(), set(), False
    for line in source.split("\n"):
        text = line.strip()
        if text in MARKERS:
            active = text in (BEGIN_SOLUTION, BEGIN_HIDDEN)
            continue
        (inside if active else outside).add(text)
    return inside, outside


# ----- one notebook's exercises --------------------------------------------------------------------

@dataclass
class Exercise:
    """Where one exercise lives in a notebook: cell indices and the Markdown prompt before the solution."""

    exercise_id: str
    solution: int
    grade: int | None
    prompt: str


def _prompt(cells: list[Any], start: int, stop: int) -> str:
    """Markdown of the prompt: from the last starred Markdown cell in [start, stop) up to the solution."""
    starred = [i for i in range(start, stop) if cells[i].get("cell_type") == "markdown" and "★" in cells[i]["source"]]
    begin = starred[-1] if starred else stop
    return "\n".join(c["source"] for c in cells[begin:stop] if c.get("cell_type") == "markdown")


def exercises(nb: Mapping[str, Any], name: str = "notebook") -> dict[str, Exercise]:
    """exercise id -> Exercise for a notebook, after checking every id rule of the module docstring.

    The lesson id is ``metadata.elbo_course.lesson_id`` when present (else each id's own lesson part).
    Raises NotebookFormatError for an illegal or foreign id, a duplicate, a grade cell whose ``grade_id``
    is not ``<id>-grade`` or that does not call ``check`` exactly once with the id of the solution before
    it, and a solution cell without a grade cell.
    """
    cells = list(nb["cells"])
    lesson_id = nb.get("metadata", {}).get("elbo_course", {}).get("lesson_id")
    found: dict[str, Exercise] = {}
    prompt_start = 0
    for index, cell in enumerate(cells):
        where = f"{name} cell {index}"
        meta = nbgrader(cell)
        grade_id = meta.get("grade_id")
        if meta and (not isinstance(grade_id, str) or not NBGRADER_ID.match(grade_id)):
            raise NotebookFormatError(f"{where}: nbgrader grade_id {grade_id!r} is not accepted by nbgrader "
                                      "(letters, digits, '_' and '-' only); use '<lesson_id>-<name>'.")
        if is_solution_cell(cell):
            try:
                lesson = lesson_id_of(grade_id)
            except ValueError as err:
                raise NotebookFormatError(f"{where}: {err}") from None
            if lesson_id is not None and lesson != lesson_id:
                raise NotebookFormatError(f"{where}: exercise id {grade_id!r} must start with this notebook's "
                                          f"lesson id, '{lesson_id}-'.")
            if grade_id in found:
                raise NotebookFormatError(f"{where}: a second solution cell for {grade_id!r}; give it its own name.")
            found[grade_id] = Exercise(grade_id, index, None, _prompt(cells, prompt_start, index))
        elif is_grade_cell(cell):
            called = check_calls(cell["source"])
            if len(called) != 1:
                raise NotebookFormatError(f"{where}: a grade cell calls check(\"<exercise id>\", answer) exactly "
                                          f"once (found {len(called)}).")
            exercise = found.get(called[0])
            if exercise is None or exercise.grade is not None:
                raise NotebookFormatError(f"{where}: check({called[0]!r}, ...) has no earlier solution cell of its "
                                          "own (its nbgrader grade_id must be that id).")
            if grade_id != grade_id_for(called[0]):
                raise NotebookFormatError(f"{where}: the grade cell of {called[0]!r} needs grade_id "
                                          f"{grade_id_for(called[0])!r}, not {grade_id!r}.")
            exercise.grade = index
            prompt_start = index + 1
    missing = [e.exercise_id for e in found.values() if e.grade is None]
    if missing:
        raise NotebookFormatError(f"{name}: no grade cell for {', '.join(missing)}; end each exercise with a locked "
                                  "grade cell calling check(\"<id>\", <answer name>).")
    return found
