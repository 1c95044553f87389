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
a float64 tensor, got float32 — compute in float64").

Feedback never hands over a value answer: the first miss gets a diagnosis (``compare.diagnose``: just
outside the tolerance and by how much, wrong sign, a factor, a named offset such as log K, overflow, how
far off), later misses of the same exercise add the spec's hint (words, no code), and only
``check(..., reveal=True)`` states the expected value (for self-study). A function answer's failure may show
the failing case's input and both outputs. ``verify(id, got, expected)`` is the hidden tests' comparison:
the same spec tolerance against a value stored in the grade cell, failing with a bare AssertionError.

A function answer runs under a time limit (``timeout``, default ``DEFAULT_TIMEOUT`` = 30 s, the per-cell
grading limit; one budget for all its cases; None for none). An endless loop is stopped and reported as
TIMEOUT. The limit uses SIGALRM (``grading.limits``): it works in the main thread on Linux/macOS, which is
where a Jupyter kernel runs cells; in another thread or without SIGALRM the function runs without a limit,
and a single C-level call that never returns to Python cannot be interrupted at all.

Only the notebook's stub, ``raise NotImplementedError("Exercise <this id>: ...")``, means "not implemented
yet"; any other exception from the student's function (a NotImplementedError from torch included) is an
ERROR showing its message and the student's traceback frames (none of the checker's).

``check`` prints one deterministic line on success, raises ``CheckFailed`` (an AssertionError) on a wrong
answer or an error in the student's function, ``CheckTimeout`` (a TimeoutError) when the limit ran out,
and ``NotSolved`` (a NotImplementedError, one "not solved yet" line) while the stub is still there; in
Jupyter each shows only its message (``grading.feedback``). ``evaluate`` returns the same verdict as a
``Result`` without printing or raising.
"""
from __future__ import annotations

import copy
import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .compare import Mismatch, compare, fmt, type_name
from .feedback import CheckFailed, CheckTimeout, NotSolved, error_message, is_stub, timeout_message
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
    answer: str = ""
    difficulty: int = 1
    expected: Any = _UNSET
    cases: Any = None
    reference: Callable[..., Any] | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    wrong: tuple[Any, ...] = ()
    offsets: dict[str, float] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    probe: Callable[[Callable[..., Any], Any], Any] | None = None
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


def register(exercise_id: str, *, answer: str, hint: str, difficulty: int = 1, expected: Any = _UNSET,
             cases: Any = None, reference: Callable[..., Any] | None = None,
             rtol: float = 1e-6, atol: float = 1e-8, wrong: Any = (),
             offsets: dict[str, float] | None = None, choices: Any = (),
             probe: Callable[[Callable[..., Any], Any], Any] | None = None) -> ExerciseSpec:
    """Register the spec of ``exercise_id`` ("<lesson_id>-<name>"); give ``expected`` or ``cases`` + ``reference``.

    ``answer`` is the name the notebook's grade cell checks (``check("<id>", <answer>)``; the progress table
    of ``grading.progress`` looks it up). Register a lesson's exercises in the notebook's order.

    ``difficulty`` is the number of stars (1-3) the notebook shows; ``hint`` (words and maths, never code)
    is printed from the second failed attempt on. ``wrong``: typical wrong answers (values, or functions for
    a function exercise) that the checker and the hidden tests must both reject (the tests hold them to it).
    ``offsets``: named additive mistakes the first-miss diagnosis recognises, e.g. ``{"log K": log(5)}``.
    ``choices``: the options of a text answer (a misspelling is then told apart from a wrong choice).
    ``probe(function, case)``: for a function answer, what is compared instead of ``function(*case)``
    (e.g. the output together with its gradients), applied alike to the answer and to ``reference``.
    Raises ValueError for an id nbgrader would reject or an incomplete spec. Registering an id again
    replaces its spec (so ``importlib.reload`` works).
    """
    parse_exercise_id(exercise_id)
    if not isinstance(answer, str) or not answer.isidentifier():
        raise ValueError(f"register({exercise_id!r}): answer must be the Python name the grade cell checks.")
    if not hint or not hint.strip():
        raise ValueError(f"register({exercise_id!r}): give a non-empty hint.")
    if difficulty not in (1, 2, 3):
        raise ValueError(f"register({exercise_id!r}): difficulty is the number of stars, 1, 2 or 3.")
    if (expected is _UNSET) == (cases is None):
        raise ValueError(f"register({exercise_id!r}): give either expected=... or cases=... with reference=...")
    if cases is not None and not callable(reference):
        raise ValueError(f"register({exercise_id!r}): cases=... needs reference=<function computing the answer>.")
    spec = ExerciseSpec(exercise_id, hint.strip(), answer, difficulty, expected, cases, reference, float(rtol), float(atol),
                        tuple(wrong), {str(k): float(v) for k, v in (offsets or {}).items()}, tuple(choices), probe)
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


def _not_implemented(exercise_id: str, what: str) -> Result:
    return Result(NOT_IMPLEMENTED, f"⏳ Exercise {exercise_id} is not solved yet: {what}")


def _hint_line(spec: ExerciseSpec, attempt: int, reveal: bool) -> str:
    """The staged hint: none on the first miss, the spec's hint from the second on (or with reveal)."""
    if attempt >= 2 or reveal:
        return f"Hint: {spec.hint}"
    return "Fix it and run this cell again; a second miss also shows a hint."


def evaluate(exercise_id: str, answer: Any, *, timeout: float | None = DEFAULT_TIMEOUT, reveal: bool = False,
             attempt: int = 1) -> Result:
    """Grade ``answer`` without printing or raising (the building block of ``check``).

    A value answer's message never states the expected value unless ``reveal``; a function answer's may
    show the failing case's input and both outputs. ``attempt`` (1, 2, ...) stages the hint. A function
    answer gets ``timeout`` seconds for all its cases together (None: no limit); running out gives TIMEOUT.
    """
    spec = get_spec(exercise_id)
    hint = _hint_line(spec, attempt, reveal)
    limit = TimeLimit(timeout)
    if answer is Ellipsis or answer is NotImplemented:
        return _not_implemented(exercise_id, "replace the ... with your answer, run that cell, then this one.")
    try:
        if spec.cases is None:
            compare(spec.expected_value(), answer, spec.rtol, spec.atol, "your answer", reveal, spec.offsets,
                    spec.choices)
            return Result(PASSED, f"✓ {exercise_id} passed.")
        if not callable(answer):
            return Result(FAILED, f"✗ {exercise_id}: the answer should be a function, got {type_name(answer)}.")
        cases = spec.case_list()
        for i, case in enumerate(cases, start=1):
            label = f"case {i} of {len(cases)} ({_describe_case(case)})"
            args, before = copy.deepcopy(case), limit.spent  # a function changing its input must not spoil the case
            try:
                got = limit.call(spec.probe or _call, answer, args)
            except TimeLimitExceeded as err:
                if err.owner is not limit:
                    raise
                return Result(TIMEOUT, timeout_message(exercise_id, err, limit, label, i, len(cases), before, hint))
            except NotImplementedError as err:
                if is_stub(err, exercise_id):
                    return _not_implemented(exercise_id, "replace the `raise NotImplementedError(...)` line in the "
                                                         "exercise cell above with your code, run it, then this one.")
                return Result(ERROR, error_message(exercise_id, err, label, hint))
            except Exception as err:  # the student's code failed: report it with the hint
                return Result(ERROR, error_message(exercise_id, err, label, hint))
            wanted = (spec.probe or _call)(spec.reference, copy.deepcopy(case))
            compare(wanted, got, spec.rtol, spec.atol, f"on {label}, the result", True, spec.offsets, spec.choices)
        return Result(PASSED, f"✓ {exercise_id} passed ({len(cases)} cases).")
    except Mismatch as err:
        return Result(FAILED, f"✗ {exercise_id}: {err}\n{hint}")


_ATTEMPTS: dict[str, int] = {}
GRADED_ENV = "ELBO_COURSE_GRADED"


def graded() -> bool:
    """Whether this kernel runs a graded assignment (``$ELBO_COURSE_GRADED`` set to 1): ``reveal`` is off."""
    return os.environ.get(GRADED_ENV, "").strip().lower() in ("1", "true", "yes")


def check(exercise_id: str, answer: Any, *, timeout: float | None = DEFAULT_TIMEOUT, reveal: bool = False) -> None:
    """Check an exercise answer: print one pass line, or raise with what is wrong.

    The first miss diagnoses (sign, factor, shape, offset, overflow, how far off); later misses of the same
    exercise in this kernel add the hint. ``reveal=True`` (for self-study) also states the expected value,
    except in a graded assignment (``$ELBO_COURSE_GRADED=1``, set by the instructor for the students' kernels).
    Raises ``CheckFailed`` (an AssertionError) for a wrong answer or an exception inside the student's
    function, ``CheckTimeout`` (a TimeoutError) when the function did not return within ``timeout`` seconds
    (default 30; None: no limit), and ``NotSolved`` (a NotImplementedError) while the stub is unchanged;
    in Jupyter each shows its message alone, without the checker's frames.
    """
    attempt = _ATTEMPTS.get(exercise_id, 0) + 1
    if reveal and graded():
        print(f"reveal=True is switched off in graded assignments ({GRADED_ENV}=1): the diagnosis follows.")
        reveal = False
    result = evaluate(exercise_id, answer, timeout=timeout, reveal=reveal, attempt=attempt)
    if result.status == PASSED:
        _ATTEMPTS.pop(exercise_id, None)
        print(result.message)
        return None
    if result.status == NOT_IMPLEMENTED:
        raise NotSolved(result.message)
    _ATTEMPTS[exercise_id] = attempt
    if result.status == TIMEOUT:
        raise CheckTimeout(result.message)
    raise CheckFailed(result.message)


def verify(exercise_id: str, got: Any, expected: Any) -> None:
    """A hidden test: ``got`` must match the stored ``expected`` within the exercise spec's own tolerance.

    Raises a bare AssertionError that reveals nothing (nbgrader shows hidden-test failures to students).
    """
    spec = get_spec(exercise_id)
    try:
        compare(expected, got, spec.rtol, spec.atol, "answer", False, None)
    except Mismatch:
        raise AssertionError(f"{exercise_id}: a hidden test failed.") from None
