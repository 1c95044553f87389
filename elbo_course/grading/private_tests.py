"""An instructor's private tests, merged into the hidden tests of an exported nbgrader course.

``solutions/`` is public, so its hidden tests are known to anyone who looks; an instructor adds tests of
their own, one file per lesson, ``<private tests dir>/<lesson_id>.py``, split into sections by a line
``# %% <exercise id>`` (the cell marker of VS Code, PyCharm and Jupytext)::

    # %% 04_iwae-iwae_bound
    import torch
    got = my_iwae_bound(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    assert got.shape == (2,), "my_iwae_bound must return one bound per column"

    # %% 04_iwae-active_units
    ...

A section runs in the student's kernel right after the public hidden tests of that exercise's grade cell, so
it sees the student's answer by the name the grade cell checks; a failed ``assert`` (or any exception) costs
the exercise its points. Lines before the first marker may hold only comments. Sections are joined to the grade
cell as one line that runs the section, carried as an encoded string, through ``run``: nbgrader removes the
hidden block from the student's copy, the feedback leaves it out too (``ClearHiddenTests``, set by the export),
and a failing test shows its exception's message, never its code. An unknown lesson file, an unknown exercise
id or a syntax error stops the export with the file and line to fix.
"""
from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from .feedback import PrivateTestFailed, student_traceback
from .notebook import BEGIN_HIDDEN, END_HIDDEN, NotebookFormatError

SECTION = re.compile(r"^# %%\s*(?P<id>\S+)\s*$")


def parse(text: str, filename: str, exercise_ids: list[str]) -> dict[str, str]:
    """exercise id -> code of each section of one private-tests file; NotebookFormatError naming file:line."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = SECTION.match(line)
        if match:
            exercise_id = match["id"]
            if exercise_id not in exercise_ids:
                raise NotebookFormatError(f"{filename}:{number}: {exercise_id!r} is not an exercise of this lesson; "
                                          f"its exercises are {', '.join(exercise_ids)}.")
            if exercise_id in sections:
                raise NotebookFormatError(f"{filename}:{number}: a second section for {exercise_id!r}; merge the two.")
            current = sections[exercise_id] = [""] * number  # blank lines keep the file's line numbers
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            raise NotebookFormatError(f"{filename}:{number}: code before the first '# %% <exercise id>' line; "
                                      "start each exercise's tests with such a line.")
    code = {exercise_id: "\n".join(lines) + "\n" for exercise_id, lines in sections.items()}
    for exercise_id, source in code.items():
        try:
            compile(source, filename, "exec")
        except SyntaxError as err:
            raise NotebookFormatError(f"{filename}:{err.lineno}: syntax error in the tests of {exercise_id}: "
                                      f"{err.msg}.") from None
    return {exercise_id: source.strip("\n") + "\n" for exercise_id, source in code.items() if source.strip()}


def read_private_tests(directory: str | Path, exercises: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """lesson id -> exercise id -> code, from ``directory/<lesson_id>.py`` for the lessons in ``exercises``
    (lesson id -> its exercise ids). A ``.py`` file named after no exported lesson is an error (a typo would
    otherwise drop its tests silently)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotebookFormatError(f"{directory} is not a folder: pass the folder that holds <lesson_id>.py files.")
    found: dict[str, dict[str, str]] = {}
    for path in sorted(directory.glob("*.py")):
        if path.stem not in exercises:
            raise NotebookFormatError(f"{path}: no exported lesson is called {path.stem!r}; name the file after one "
                                      f"of {', '.join(sorted(exercises))}.")
        found[path.stem] = parse(path.read_text(encoding="utf-8"), str(path), exercises[path.stem])
    return found


def hidden_line(exercise_id: str, code: str) -> str:
    """The line of the grade cell's hidden block that runs ``code`` (carried base64-encoded) through ``run``."""
    encoded = base64.b64encode(code.encode("utf-8")).decode("ascii")
    return (f'__import__("elbo_course.grading.private_tests", fromlist=["run"]).run("{exercise_id}", "{encoded}", '
            'globals())')


def run(exercise_id: str, encoded: str, namespace: dict[str, Any]) -> None:
    """Run one exercise's private test in ``namespace`` (the notebook's globals).

    Any exception becomes ``PrivateTestFailed``, which IPython shows as one message (its type and text, and the
    frames of the student's own code, if any) without the test's code: the code has no file behind it, so no
    traceback can quote its lines.
    """
    code = base64.b64decode(encoded).decode("utf-8")
    try:
        exec(compile(code, f"<private test of {exercise_id}>", "exec"), namespace)
    except Exception as err:
        detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        lines = [line for line in student_traceback(err).splitlines() if "<private test of" not in line]
        frames = "\n" + "\n".join(lines) if len(lines) > 1 else ""   # the header alone: no frame of the student's
        raise PrivateTestFailed(f"✗ {exercise_id}: a private test of your instructor failed: {detail}{frames}") from None


def merge(grade_source: str, exercise_id: str, code: str) -> str:
    """The grade cell's source with the private test run at the end of its hidden block (a new block if none)."""
    line = hidden_line(exercise_id, code)
    lines = grade_source.split("\n")
    ends = [i for i, text in enumerate(lines) if text.strip() == END_HIDDEN]
    if ends:
        lines.insert(ends[-1], line)
    else:
        lines += [BEGIN_HIDDEN, line, END_HIDDEN]
    return "\n".join(lines)
