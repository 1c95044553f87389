"""What ``check`` shows a student: the exceptions it raises (rendered without the checker's frames) and
the messages for an error or a time-out inside the student's function (with the student's own traceback).

IPython renders an exception that has ``_render_traceback_`` by calling it, instead of printing the
usual traceback: ``CheckFailed`` (an AssertionError), ``CheckTimeout`` (a TimeoutError) and ``NotSolved``
(a NotImplementedError) use this to show only their message, so no frame of the checker stands above it.
Outside IPython they are ordinary exceptions with the same message.
"""
from __future__ import annotations

import os
import re
import sys
import traceback

from . import limits
from .limits import TimeLimit


class _Rendered:
    """Mix-in: IPython shows ``str(self)`` as the whole traceback."""

    def _render_traceback_(self) -> list[str]:
        return str(self).splitlines()


class CheckFailed(_Rendered, AssertionError):
    """A wrong answer, or an exception raised inside the student's function."""


class CheckTimeout(_Rendered, TimeoutError):
    """The student's function did not return within the time limit."""


class NotSolved(_Rendered, NotImplementedError):
    """The exercise's stub is still in place."""


class PrivateTestFailed(_Rendered, AssertionError):
    """An instructor's private test failed (``grading.private_tests.run``): its message, never its code."""


_OWN_FILES = {os.path.normcase(os.path.abspath(f))
              for f in (__file__, limits.__file__, *(os.path.join(os.path.dirname(__file__), name)
                                                     for name in ("check.py", "private_tests.py")))}


def cell_or_file(filename: str) -> str:
    """'Cell In[3]' for code typed in a Jupyter/IPython cell (as IPython's own tracebacks say), else 'File "..."'."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    try:
        label = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:  # an IPython without this method: fall back to the file name
        label = None
    return " ".join(label) if label else f'File "{filename}"'


def student_traceback(err: BaseException, most: int = 8) -> str:
    """The traceback of ``err`` from the student's function down (the checker's own frames, the caller's
    above it and the time limit's alarm handler below it, left out)."""
    frames = traceback.extract_tb(err.__traceback__)
    while frames and os.path.normcase(os.path.abspath(frames[0].filename)) in _OWN_FILES:
        frames.pop(0)
    while frames and os.path.normcase(os.path.abspath(frames[-1].filename)) in _OWN_FILES:
        frames.pop()
    if not frames:
        return ""
    shown = frames if len(frames) <= most else frames[:2] + frames[2 - most:]
    lines = [f"  {cell_or_file(f.filename)}, line {f.lineno}, in {f.name}\n"
             + (f"    {f.line.strip()}\n" if f.line else "") for f in shown]
    if len(frames) > most:
        lines.insert(2, f"  ... ({len(frames) - most} more frames)\n")
    return "Traceback of your code (most recent call last):\n" + "".join(lines)


def is_stub(err: BaseException, exercise_id: str) -> bool:
    """Whether ``err`` is this exercise's notebook stub, ``raise NotImplementedError("Exercise <id>: ...")``, or the
    stub nbgrader writes into an exported course, ``raise NotImplementedError("Exercise: ...")`` (no id)."""
    return type(err) is NotImplementedError and str(err).startswith((f"Exercise {exercise_id}:", "Exercise:"))


def error_message(exercise_id: str, err: Exception, label: str, hint: str) -> str:
    detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    why = ""
    if isinstance(err, NotImplementedError):
        other = re.match(r"Exercise (\S+):", str(err))
        why = (f" It calls exercise {other.group(1)}, which is not implemented yet: finish that one first." if other
               else " This is not the exercise's stub: code your function calls does not implement that operation "
                    "(for these inputs); compute it another way.")
    return f"✗ {exercise_id}: your function raised {detail} on {label}.{why}\n{student_traceback(err)}{hint}"


def timeout_message(exercise_id: str, err: BaseException, limit: TimeLimit, label: str, i: int, n: int,
                     before: float, hint: str) -> str:
    earlier = "case 1" if i == 2 else f"cases 1-{i - 1}"
    shared = (f" The {limit.seconds:g} s cover all {n} cases of one check; {earlier} took {before:.1f} s."
              if i > 1 else "")
    return (f"✗ {exercise_id}: your function did not return within {limit.seconds:g} s on {label} (an endless "
            f"loop?), so it was stopped. Make sure every loop ends: a while loop's condition must become false, "
            f"and a loop that refines an estimate needs a fixed number of steps.{shared}\n"
            f"{student_traceback(err)}{hint}")


