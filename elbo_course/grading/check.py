"""Inline exercise checks: ``check(exercise_id, answer)`` ends every graded exercise of a lesson.

An exercise id is ``"<lesson_id>-<name>"`` (e.g. ``"00_start_here-log_mean_exp"``; the rule is in
``grading.notebook``). Its spec is registered by the lesson's spec module (``elbo_course.grading.specs.lessonNN``,
see ``grading.specs``), which ``get_spec`` imports on first use. A spec states the answer in one of two ways:

* ``expected``: a value (number, bool, str, tensor/array, tuple/list/dict of these) or a zero-argument
  callable producing it (evaluated once, lazily);
* ``cases`` + ``reference``: the answer is a function; it is called on every stored case (a tuple of
  positional arguments, a dict of keyword arguments, or a single argument) and each result is compared
  with ``reference(*case)``. ``cases`` may itself be a zero-argument callable returning the list.

What is checked: numbers and tensors compare with ``|got - expected| <= atol + rtol |expected|`` in
float64, after checks of type, shape and NaN/inf; a non-finite expected entry must be matched exactly;
bools, strings (case and surrounding blanks ignored) and containers compare entry by entry. A float32 (or
lower) answer within the tolerance passes; one that fails where float64 is expected is told so ("expected
a float64 tensor, got float32 — compute in float64"), and two values that print alike are shown with more
digits and how far apart they are in units of the tolerance.

A function answer runs under a time limit (``timeout``, default ``DEFAULT_TIMEOUT`` = 30 s, the per-cell
grading limit; one budget for all its cases; None for none). An endless loop is stopped and reported as
TIMEOUT. The limit uses SIGALRM (``grading.limits``): it works in the main thread on Linux/macOS, which is
where a Jupyter kernel runs cells; in another thread or without SIGALRM the function runs without a limit,
and a single C-level call that never returns to Python cannot be interrupted at all.

Only the notebook's stub, ``raise NotImplementedError("Exercise <this id>: ...")``, means "not implemented
yet"; any other exception from the student's function (a NotImplementedError from torch included) is an
ERROR showing its message and the student's traceback frames (none of the checker's).

``check`` prints one deterministic line on success, raises ``AssertionError`` (with expected vs got,
rounded, and the hint) on a wrong answer or an error in the student's function, ``TimeoutError`` when the
limit ran out, and ``NotImplementedError`` naming the exercise while the stub is still there. ``evaluate``
returns the same verdict as a ``Result`` without printing or raising.
"""
from __future__ import annotations

import copy
import importlib
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from . import limits
from .compare import Mismatch, compare, fmt, type_name
from .limits import DEFAULT_TIMEOUT, TimeLimit, TimeLimitExceeded
from .notebook import lesson_id_of, parse_exercise_id
from .specs import module_for

# Grader statuses (the autograder of a later issue reports one per exercise).
PASSED, FAILED, ERROR, TIMEOUT = "passed", "failed", "error", "timeout"
NOT_IMPLEMENTED = "not implemented"
STATUSES = (PASSED, FAILED, ERROR, TIMEOUT)

_UNSET: Any = object()


@dataclass
class ExerciseSpec:
    """What ``check`` compares an answer with; build it through ``register``."""

    exercise_id: str
    hint: str
    difficulty: int = 1
    expected: Any = _UNSET
    cases: Any = None
    reference: Callable[..., Any] | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    _resolved: dict[str, Any] = field(default_factory=dict, repr=False)

    def expected_value(self) -> Any:
        """The expected answer (a callable ``expected`` is evaluated once)."""
        if "expected" not in self._resolved:
            value = self.expected
            self._resolved["expected"] = value() if callable(value) else value
        return self._resolved["expected"]

    def case_list(self) -> list[Any]:
        """The stored cases a function answer is run on (a callable ``cases`` is evaluated once)."""
        if "cases" not in self._resolved:
            value = self.cases() if callable(self.cases) else self.cases
            self._resolved["cases"] = list(value)
        return self._resolved["cases"]


@dataclass(frozen=True)
class Result:
    """Outcome of grading one answer: ``status`` is PASSED, FAILED, ERROR, TIMEOUT or NOT_IMPLEMENTED."""

    status: str
    message: str


_REGISTRY: dict[str, ExerciseSpec] = {}


def register(exercise_id: str, *, hint: str, difficulty: int = 1, expected: Any = _UNSET,
             cases: Any = None, reference: Callable[..., Any] | None = None,
             rtol: float = 1e-6, atol: float = 1e-8) -> ExerciseSpec:
    """Register the spec of ``exercise_id`` ("<lesson_id>-<name>"); give ``expected`` or ``cases`` + ``reference``.

    ``difficulty`` is the number of stars (1-3) the notebook shows; ``hint`` is printed on failure.
    Raises ValueError for an id nbgrader would reject or an incomplete spec. Registering an id again
    replaces its spec (so ``importlib.reload`` works).
    """
    parse_exercise_id(exercise_id)
    if not hint or not hint.strip():
        raise ValueError(f"register({exercise_id!r}): give a non-empty hint.")
    if difficulty not in (1, 2, 3):
        raise ValueError(f"register({exercise_id!r}): difficulty is the number of stars, 1, 2 or 3.")
    if (expected is _UNSET) == (cases is None):
        raise ValueError(f"register({exercise_id!r}): give either expected=... or cases=... with reference=...")
    if cases is not None and not callable(reference):
        raise ValueError(f"register({exercise_id!r}): cases=... needs reference=<function computing the answer>.")
    spec = ExerciseSpec(exercise_id, hint.strip(), difficulty, expected, cases, reference, float(rtol), float(atol))
    _REGISTRY[exercise_id] = spec
    return spec


def get_spec(exercise_id: str) -> ExerciseSpec:
    """The registered spec, importing the lesson's spec module on first use; KeyError naming what exists."""
    lesson_id = lesson_id_of(exercise_id)
    if exercise_id not in _REGISTRY:
        try:
            module = module_for(lesson_id)
        except ValueError as err:
            raise KeyError(f"No exercises registered for lesson {lesson_id!r}: {err}") from None
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
            raise KeyError(f"No exercises registered for lesson {lesson_id!r}: {module} does not exist "
                           f"(check the spelling of {exercise_id!r}).") from None
    if exercise_id not in _REGISTRY:
        known = sorted(k for k in _REGISTRY if k.startswith(lesson_id + "-"))
        raise KeyError(f"Unknown exercise {exercise_id!r}; this lesson has: {', '.join(known) or 'none'}.")
    return _REGISTRY[exercise_id]


def _describe_case(case: Any) -> str:
    if isinstance(case, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in case.items())
    return ", ".join(fmt(p) for p in (case if isinstance(case, tuple) else (case,)))


def _call(function: Callable[..., Any], case: Any) -> Any:
    if isinstance(case, dict):
        return function(**case)
    return function(*case) if isinstance(case, tuple) else function(case)


_OWN_FILES = {os.path.normcase(os.path.abspath(f)) for f in (__file__, limits.__file__)}


def _cell_or_file(filename: str) -> str:
    """'Cell In[3]' for code typed in a Jupyter/IPython cell (as IPython's own tracebacks say), else 'File "..."'."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    try:
        label = shell.compile.format_code_name(filename) if shell is not None else None
    except Exception:  # an IPython without this method: fall back to the file name
        label = None
    return " ".join(label) if label else f'File "{filename}"'


def _student_traceback(err: BaseException, most: int = 8) -> str:
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
    lines = [f"  {_cell_or_file(f.filename)}, line {f.lineno}, in {f.name}\n"
             + (f"    {f.line.strip()}\n" if f.line else "") for f in shown]
    if len(frames) > most:
        lines.insert(2, f"  ... ({len(frames) - most} more frames)\n")
    return "Traceback of your code (most recent call last):\n" + "".join(lines)


def _is_stub(err: BaseException, exercise_id: str) -> bool:
    """Whether ``err`` is this exercise's notebook stub, ``raise NotImplementedError("Exercise <id>: ...")``."""
    return type(err) is NotImplementedError and str(err).startswith(f"Exercise {exercise_id}:")


def _error_message(exercise_id: str, err: Exception, label: str, hint: str) -> str:
    detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    why = ""
    if isinstance(err, NotImplementedError):
        other = re.match(r"Exercise (\S+):", str(err))
        why = (f" It calls exercise {other.group(1)}, which is not implemented yet: finish that one first." if other
               else " This is not the exercise's stub: code your function calls does not implement that operation "
                    "(for these inputs); compute it another way.")
    return f"✗ {exercise_id}: your function raised {detail} on {label}.{why}\n{_student_traceback(err)}Hint: {hint}"


def _timeout_message(exercise_id: str, err: BaseException, limit: TimeLimit, label: str, i: int, n: int,
                     before: float, hint: str) -> str:
    earlier = "case 1" if i == 2 else f"cases 1-{i - 1}"
    shared = (f" The {limit.seconds:g} s cover all {n} cases of one check; {earlier} took {before:.1f} s."
              if i > 1 else "")
    return (f"✗ {exercise_id}: your function did not return within {limit.seconds:g} s on {label} (an endless "
            f"loop?), so it was stopped. Make sure every loop ends: a while loop's condition must become false, "
            f"and a loop that refines an estimate needs a fixed number of steps.{shared}\n"
            f"{_student_traceback(err)}Hint: {hint}")


def _not_implemented(exercise_id: str, what: str) -> Result:
    return Result(NOT_IMPLEMENTED, f"Exercise {exercise_id} is not implemented yet: {what}")


def evaluate(exercise_id: str, answer: Any, *, timeout: float | None = DEFAULT_TIMEOUT) -> Result:
    """Grade ``answer`` without printing or raising (the building block of ``check``).

    A function answer gets ``timeout`` seconds for all its cases together (None: no limit; see the module
    docstring for where the limit cannot apply); running out gives status TIMEOUT.
    """
    spec = get_spec(exercise_id)
    limit = TimeLimit(timeout)
    if answer is Ellipsis or answer is NotImplemented:
        return _not_implemented(exercise_id, "replace the ... with your answer.")
    try:
        if spec.cases is None:
            compare(spec.expected_value(), answer, spec.rtol, spec.atol, "your answer")
            return Result(PASSED, f"✓ {exercise_id} passed.")
        if not callable(answer):
            return Result(FAILED, f"✗ {exercise_id}: the answer should be a function, got {type_name(answer)}.")
        cases = spec.case_list()
        for i, case in enumerate(cases, start=1):
            label = f"case {i} of {len(cases)} ({_describe_case(case)})"
            args, before = copy.deepcopy(case), limit.spent  # a function changing its input must not spoil the case
            try:
                got = limit.call(_call, answer, args)
            except TimeLimitExceeded as err:
                if err.owner is not limit:
                    raise
                return Result(TIMEOUT, _timeout_message(exercise_id, err, limit, label, i, len(cases), before,
                                                        spec.hint))
            except NotImplementedError as err:
                if _is_stub(err, exercise_id):
                    return _not_implemented(exercise_id,
                                            "replace the `raise NotImplementedError(...)` line with your code.")
                return Result(ERROR, _error_message(exercise_id, err, label, spec.hint))
            except Exception as err:  # the student's code failed: report it with the hint
                return Result(ERROR, _error_message(exercise_id, err, label, spec.hint))
            compare(_call(spec.reference, copy.deepcopy(case)), got, spec.rtol, spec.atol, f"on {label}, the result")
        return Result(PASSED, f"✓ {exercise_id} passed ({len(cases)} cases).")
    except Mismatch as err:
        return Result(FAILED, f"✗ {exercise_id}: {err}\nHint: {spec.hint}")


def check(exercise_id: str, answer: Any, *, timeout: float | None = DEFAULT_TIMEOUT) -> None:
    """Check an exercise answer: print one pass line, or raise with what is wrong and the hint.

    Raises AssertionError for a wrong answer (or an exception inside the student's function),
    TimeoutError when the function did not return within ``timeout`` seconds (default 30; None: no
    limit), and NotImplementedError naming the exercise while its stub is unchanged.
    """
    result = evaluate(exercise_id, answer, timeout=timeout)
    if result.status == PASSED:
        print(result.message)
        return None
    if result.status == NOT_IMPLEMENTED:
        raise NotImplementedError(result.message)
    if result.status == TIMEOUT:
        raise TimeoutError(result.message)
    raise AssertionError(result.message)
