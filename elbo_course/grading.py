"""Inline exercise checks: ``check(exercise_id, answer)`` ends every graded exercise of a lesson.

An exercise id is ``"<lesson_id>.<name>"`` (e.g. ``"00_start_here.log_mean_exp"``). Its spec is
registered by the module ``elbo_course.exercises._<lesson_id>`` (see ``elbo_course.exercises``), which
``check`` imports on first use. A spec states the answer in one of two ways:

* ``expected``: a value (number, bool, str, tensor/array, tuple/list/dict of these) or a zero-argument
  callable producing it (evaluated once, lazily);
* ``cases`` + ``reference``: the answer is a function; it is called on every stored case (a tuple of
  positional arguments, a dict of keyword arguments, or a single argument) and each result is compared
  with ``reference(*case)``. ``cases`` may itself be a zero-argument callable returning the list.

Numbers and tensors compare with ``|got - expected| <= atol + rtol |expected|`` in float64, after checks
of type, shape and NaN/inf; a non-finite expected entry must be matched exactly. ``check`` prints one
deterministic line on success, raises ``AssertionError`` (with expected vs got, rounded, and the hint)
on a wrong answer, and raises ``NotImplementedError`` naming the exercise while the stub is still there.
"""
from __future__ import annotations

import copy
import importlib
import math
import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Grader statuses (the autograder of a later issue reports one per exercise).
PASSED, FAILED, ERROR, TIMEOUT = "passed", "failed", "error", "timeout"
NOT_IMPLEMENTED = "not implemented"
STATUSES = (PASSED, FAILED, ERROR, TIMEOUT)

_ID_PATTERN = re.compile(r"^(?P<lesson>[0-9A-Za-z][0-9A-Za-z_]*)\.(?P<name>[A-Za-z_][0-9A-Za-z_]*)$")
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
        if "expected" not in self._resolved:
            value = self.expected
            self._resolved["expected"] = value() if callable(value) else value
        return self._resolved["expected"]

    def case_list(self) -> list[Any]:
        if "cases" not in self._resolved:
            value = self.cases() if callable(self.cases) else self.cases
            self._resolved["cases"] = list(value)
        return self._resolved["cases"]


@dataclass(frozen=True)
class Result:
    """Outcome of grading one answer: ``status`` is PASSED, FAILED, ERROR or NOT_IMPLEMENTED."""

    status: str
    message: str


_REGISTRY: dict[str, ExerciseSpec] = {}


def register(exercise_id: str, *, hint: str, difficulty: int = 1, expected: Any = _UNSET,
             cases: Any = None, reference: Callable[..., Any] | None = None,
             rtol: float = 1e-6, atol: float = 1e-8) -> ExerciseSpec:
    """Register the spec of ``exercise_id`` ("<lesson_id>.<name>"); give ``expected`` or ``cases`` + ``reference``.

    ``difficulty`` is the number of stars (1-3) the notebook shows; ``hint`` is printed on failure.
    Registering an id again replaces its spec (so ``importlib.reload`` works).
    """
    lesson_id_of(exercise_id)
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


def lesson_id_of(exercise_id: str) -> str:
    """``"00_start_here.log_mean_exp" -> "00_start_here"``; ValueError for a malformed id."""
    match = _ID_PATTERN.match(exercise_id) if isinstance(exercise_id, str) else None
    if match is None:
        raise ValueError(f"Exercise id {exercise_id!r} is not of the form '<lesson_id>.<name>', "
                         "e.g. '00_start_here.log_mean_exp'.")
    return match["lesson"]


def module_for(exercise_id: str) -> str:
    """The module registering an exercise: ``elbo_course.exercises._<lesson_id>``."""
    return f"elbo_course.exercises._{lesson_id_of(exercise_id)}"


def get_spec(exercise_id: str) -> ExerciseSpec:
    """The registered spec, importing the lesson's exercises module on first use."""
    if exercise_id not in _REGISTRY:
        module = module_for(exercise_id)
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:
                raise
            raise KeyError(f"No exercises registered for lesson {lesson_id_of(exercise_id)!r}: "
                           f"{module} does not exist (check the spelling of {exercise_id!r}).") from None
    if exercise_id not in _REGISTRY:
        known = sorted(k for k in _REGISTRY if k.startswith(lesson_id_of(exercise_id) + "."))
        raise KeyError(f"Unknown exercise {exercise_id!r}; this lesson has: {', '.join(known) or 'none'}.")
    return _REGISTRY[exercise_id]


class _Mismatch(Exception):
    """Raised by the comparison helpers with a student-facing description."""


def _is_data(value: Any) -> bool:
    return _is_tensor(value) or isinstance(value, np.ndarray)


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter")


def _fmt(value: Any) -> str:
    """A short, rounded rendering (6 significant digits) for messages."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    if _is_data(value):
        arr = _to_numpy(value)
        if arr.size == 1:
            return _fmt(arr.reshape(()).item())
        return f"{type(value).__name__} of shape {tuple(arr.shape)}"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of length {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_numpy(value: Any) -> np.ndarray:
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__.split('.')[0]}.{kind.__name__}"


def _compare(expected: Any, got: Any, rtol: float, atol: float, where: str) -> None:
    """Raise ``_Mismatch`` describing the first difference between ``got`` and ``expected``."""
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            raise _Mismatch(f"{where} should be True or False, got {_type_name(got)} {_fmt(got)}.")
        if bool(got) != bool(expected):
            raise _Mismatch(f"{where}: expected {bool(expected)}, got {bool(got)}.")
    elif isinstance(expected, str):
        if not isinstance(got, str):
            raise _Mismatch(f"{where} should be a str, got {_type_name(got)}.")
        if got.strip().lower() != expected.strip().lower():
            raise _Mismatch(f"{where}: got {got!r}, which is not the right answer.")
    elif isinstance(expected, numbers.Real):
        _compare_number(float(expected), got, rtol, atol, where)
    elif _is_data(expected) and _to_numpy(expected).ndim == 0 and not _is_data(got):
        _compare_number(float(_to_numpy(expected)), got, rtol, atol, where)  # a 0-d tensor accepts a float
    elif _is_data(expected):
        _compare_array(expected, got, rtol, atol, where)
    elif isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise _Mismatch(f"{where} should be a {type(expected).__name__} of length {len(expected)}, "
                            f"got {_type_name(got)} {_fmt(got)}.")
        for i, (e, g) in enumerate(zip(expected, got)):
            _compare(e, g, rtol, atol, f"{where}[{i}]")
    elif isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(map(str, expected))
            raise _Mismatch(f"{where} should be a dict with keys {keys}, got {_fmt(got)}.")
        for key in expected:
            _compare(expected[key], got[key], rtol, atol, f"{where}[{key!r}]")
    elif _is_data(got) or got != expected:
        raise _Mismatch(f"{where}: expected {_fmt(expected)}, got {_fmt(got)}.")


def _compare_number(expected: float, got: Any, rtol: float, atol: float, where: str) -> None:
    if _is_data(got):
        arr = _to_numpy(got)
        if arr.size != 1:
            raise _Mismatch(f"{where} should be a single number, got an array of shape {tuple(arr.shape)}: "
                            "reduce it (sum/mean over the right dimension) or pick the entry asked for.")
        got = arr.reshape(()).item()
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, numbers.Real):
        raise _Mismatch(f"{where} should be a number, got {_type_name(got)} {_fmt(got)}.")
    value = float(got)
    if not math.isfinite(value) and math.isfinite(expected):
        raise _Mismatch(f"{where} is {value} (expected {_fmt(expected)}): an exp overflowed or a log got 0 or "
                        "a negative number somewhere; subtract the maximum before exponentiating.")
    if not (value == expected or (math.isfinite(expected) and abs(value - expected) <= atol + rtol * abs(expected))):
        raise _Mismatch(f"{where}: expected {_fmt(expected)}, got {_fmt(value)}.")


def _compare_array(expected: Any, got: Any, rtol: float, atol: float, where: str) -> None:
    kind = "torch.Tensor" if _is_tensor(expected) else "numpy.ndarray"
    if _is_tensor(expected) != _is_tensor(got) or not _is_data(got):
        advice = "torch.as_tensor(...)" if _is_tensor(expected) else "numpy.asarray(...)"
        raise _Mismatch(f"{where} should be a {kind}, got {_type_name(got)}: convert it with {advice}.")
    exp, arr = _to_numpy(expected).astype(np.float64), _to_numpy(got)
    if arr.shape != exp.shape:
        raise _Mismatch(f"{where} has shape {tuple(arr.shape)}, expected {tuple(exp.shape)}: check which dim "
                        "you reduce over (and keepdim), and reshape or transpose if the axes are swapped.")
    if arr.dtype.kind not in "biuf":
        raise _Mismatch(f"{where} has dtype {arr.dtype}; expected real numbers.")
    arr = arr.astype(np.float64)
    if arr.ndim == 0:  # a 0-d tensor reads best as a number
        _compare_number(float(exp), float(arr), rtol, atol, where)
        return
    finite = np.isfinite(exp)
    bad = finite & ~np.isfinite(arr)
    if bad.any():
        raise _Mismatch(f"{where} has {int(bad.sum())} NaN/inf entries of {arr.size} (first at index "
                        f"{tuple(int(i) for i in np.argwhere(bad)[0])}): an exp overflowed or a log got 0 or a "
                        "negative number; subtract the maximum before exponentiating.")
    wrong = ~finite & (arr != exp)
    diff = np.where(finite, np.abs(arr - np.where(finite, exp, 0.0)), 0.0)
    wrong |= finite & (diff > atol + rtol * np.abs(np.where(finite, exp, 0.0)))
    if wrong.any():
        index = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise _Mismatch(f"{where}: {int(wrong.sum())} of {arr.size} entries differ; at index {index} expected "
                        f"{_fmt(exp[index])}, got {_fmt(arr[index])}.")


def _describe_case(case: Any) -> str:
    if isinstance(case, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in case.items())
    parts = case if isinstance(case, tuple) else (case,)
    return ", ".join(_fmt(p) for p in parts)


def _call(function: Callable[..., Any], case: Any) -> Any:
    case = copy.deepcopy(case)  # a function that changes its input in place must not spoil the next call
    if isinstance(case, dict):
        return function(**case)
    return function(*case) if isinstance(case, tuple) else function(case)


def evaluate(exercise_id: str, answer: Any) -> Result:
    """Grade ``answer`` without printing or raising (the building block of ``check``)."""
    spec = get_spec(exercise_id)
    if answer is Ellipsis or answer is NotImplemented:
        return Result(NOT_IMPLEMENTED, f"Exercise {exercise_id} is not implemented yet: replace the ... with your answer.")
    try:
        if spec.cases is None:
            _compare(spec.expected_value(), answer, spec.rtol, spec.atol, "your answer")
            return Result(PASSED, f"✓ {exercise_id} passed.")
        if not callable(answer):
            return Result(FAILED, f"✗ {exercise_id}: the answer should be a function, got {_type_name(answer)}.")
        cases = spec.case_list()
        for i, case in enumerate(cases, start=1):
            label = f"case {i} of {len(cases)} ({_describe_case(case)})"
            try:
                got = _call(answer, case)
            except NotImplementedError:
                return Result(NOT_IMPLEMENTED, f"Exercise {exercise_id} is not implemented yet: replace the "
                                               "`raise NotImplementedError(...)` line with your code.")
            except Exception as err:  # the student's code failed: report it with the hint
                return Result(ERROR, f"✗ {exercise_id}: your function raised {type(err).__name__}: {err} "
                                     f"on {label}.\nHint: {spec.hint}")
            _compare(_call(spec.reference, case), got, spec.rtol, spec.atol, f"on {label}, the result")
        return Result(PASSED, f"✓ {exercise_id} passed ({len(cases)} cases).")
    except _Mismatch as err:
        return Result(FAILED, f"✗ {exercise_id}: {err}\nHint: {spec.hint}")


def check(exercise_id: str, answer: Any) -> None:
    """Check an exercise answer: print one pass line, or raise with what is wrong and the hint.

    Raises AssertionError for a wrong answer (or an exception inside the student's function) and
    NotImplementedError naming the exercise while its stub is unchanged.
    """
    result = evaluate(exercise_id, answer)
    if result.status == PASSED:
        print(result.message)
        return None
    if result.status == NOT_IMPLEMENTED:
        raise NotImplementedError(result.message)
    raise AssertionError(result.message)
