"""Tests of elbo_course.grading.check (registration, comparisons, messages) and of the spec modules it loads."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ast
import importlib
import inspect
import re
import signal
import threading
import time
from pathlib import Path

import elbo_course
from elbo_course import grading
from elbo_course.grading import build, limits
from elbo_course.grading import check, evaluate, get_spec, register
from elbo_course.grading.check import _REGISTRY
from elbo_course.grading.notebook import lesson_id_of
from elbo_course.grading.specs import module_for

check_module = importlib.import_module("elbo_course.grading.check")  # grading.check is the function
SPECS = Path(grading.__file__).parent / "specs"
SPEC_MODULES = sorted(p.stem for p in SPECS.glob("lesson*.py"))

HINT = "think about the formula"


@pytest.fixture
def registry():
    """Register test specs under the fake lesson 'zz_test' and remove them afterwards."""
    created: list[str] = []

    def add(name: str, **kwargs) -> str:
        exercise_id = f"zz_test-{name}"
        kwargs.setdefault("hint", HINT)
        kwargs.setdefault("answer", "answer")
        register(exercise_id, **kwargs)
        created.append(exercise_id)
        return exercise_id

    yield add
    for exercise_id in created:
        _REGISTRY.pop(exercise_id, None)


def test_module_mapping_and_lesson_ids():
    assert module_for("00_start_here") == "elbo_course.grading.specs.lesson00"
    assert module_for("05_elbo_surgery") == "elbo_course.grading.specs.lesson05"
    assert lesson_id_of("04_iwae-iwae_bound") == "04_iwae"
    for bad in ("log_mean_exp", "00_start_here-", "-x", "00 start-x", "a-b-c", "00_start_here.log_mean_exp", 3):
        with pytest.raises(ValueError, match="<lesson_id>-<name>"):
            lesson_id_of(bad)
    for bad in ("zz_test", "5_short", "elbo"):
        with pytest.raises(ValueError, match="two-digit number"):
            module_for(bad)


def test_statuses():
    assert grading.STATUSES == ("passed", "failed", "error", "timeout")


def test_public_api():
    from elbo_course.grading import check as public_check, evaluate as public_evaluate, get_spec as g, register as r

    assert elbo_course.check is public_check is check  # `from elbo_course import check` in every notebook
    assert (public_evaluate, g, r) == (evaluate, get_spec, register)
    assert {"check", "evaluate", "register", "get_spec"} <= set(grading.__all__)


@pytest.mark.parametrize("kwargs, message", [
    (dict(hint=" "), "non-empty hint"),
    (dict(hint=HINT, expected=1.0, answer="my answer"), "answer must be the Python name"),
    (dict(hint=HINT, difficulty=4, expected=1.0), "difficulty"),
    (dict(hint=HINT), "either expected"),
    (dict(hint=HINT, expected=1.0, cases=[(1,)], reference=abs), "either expected"),
    (dict(hint=HINT, cases=[(1,)]), "reference"),
])
def test_register_rejects_incomplete_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        register("zz_test-bad", **{"answer": "answer", **kwargs})
    assert "zz_test-bad" not in _REGISTRY


@pytest.mark.parametrize("bad", ["zz_test.dotted", "zz_test-a-b", "zz test-x", "zz_test-"])
def test_register_rejects_ids_nbgrader_would_reject(bad):
    with pytest.raises(ValueError, match="<lesson_id>-<name>"):
        register(bad, answer="answer", hint=HINT, expected=1.0)
    assert bad not in _REGISTRY


def test_pass_line_is_short_and_deterministic(registry, capsys):
    exercise_id = registry("number", expected=math.pi, rtol=1e-6)
    check(exercise_id, math.pi + 1e-9)
    check(exercise_id, torch.tensor(math.pi, dtype=torch.float64))
    assert capsys.readouterr().out == "✓ zz_test-number passed.\n" * 2


def test_wrong_number_reports_expected_got_and_hint(registry):
    exercise_id = registry("number", expected=1.0 / 3.0, rtol=1e-4)
    with pytest.raises(AssertionError) as info:
        check(exercise_id, 0.3, reveal=True)
    text = str(info.value)
    assert "expected 0.333333, got 0.3" in text and f"Hint: {HINT}" in text


@pytest.mark.parametrize("bad, words", [(float("nan"), "0 · log 0"), (float("inf"), "subtract the maximum"),
                                        (torch.tensor(float("-inf")), "subtract the maximum")])
def test_non_finite_number_is_named(registry, bad, words):
    exercise_id = registry("number", expected=2.0)
    with pytest.raises(AssertionError, match=words):
        check(exercise_id, bad)


def test_wrong_type_of_scalar(registry):
    exercise_id = registry("number", expected=2.0)
    for bad in ("2.0", True, [2.0], torch.ones(2)):
        with pytest.raises(AssertionError, match="should be a (number|single number)"):
            check(exercise_id, bad)


def test_tensor_shape_type_and_nan(registry):
    exercise_id = registry("tensor", expected=lambda: torch.arange(6.0).reshape(2, 3))
    check(exercise_id, torch.arange(6, dtype=torch.float64).reshape(2, 3))
    with pytest.raises(AssertionError, match=r"has shape \(3, 2\), expected \(2, 3\): check which dim"):
        check(exercise_id, torch.arange(6.0).reshape(3, 2))
    with pytest.raises(AssertionError, match=r"should be a torch.Tensor, got numpy.ndarray: convert it"):
        check(exercise_id, np.arange(6.0).reshape(2, 3))
    bad = torch.arange(6.0).reshape(2, 3)
    bad[1, 2] = float("nan")
    with pytest.raises(AssertionError, match=r"1 NaN/inf entries of 6 \(first at index \(1, 2\), nan\): 0·∞"):
        check(exercise_id, bad)
    bad[1, 2] = 5.5
    with pytest.raises(AssertionError, match=r"1 of 6 entries differ; at index \(1, 2\) expected 5, got 5.5"):
        check(exercise_id, bad, reveal=True)
    with pytest.raises(AssertionError, match=r"1 of 6 entries differ; the entry at index \(1, 2\) is too large "
                                             r"in size by about 10%") as info:
        check(exercise_id, bad)
    assert "5.5" not in str(info.value) and "expected 5" not in str(info.value)


def test_zero_dim_tensor_expected_rejects_shape_one(registry):
    exercise_id = registry("scalar", expected=torch.tensor(1.5))
    check(exercise_id, 1.5)
    check(exercise_id, torch.tensor(1.5))
    with pytest.raises(AssertionError, match=r"has shape \(1,\), expected \(\)"):
        check(exercise_id, torch.tensor([1.5]))


def test_infinite_expected_number_must_match_exactly(registry):
    exercise_id = registry("neg_inf", expected=float("-inf"))
    check(exercise_id, torch.tensor(float("-inf")))
    with pytest.raises(AssertionError, match="expected -inf, got -1e"):
        check(exercise_id, -1e30)


def test_matching_infinities_pass(registry):
    exercise_id = registry("inf", expected=np.array([-np.inf, 0.0]))
    check(exercise_id, np.array([-np.inf, 0.0]))
    with pytest.raises(AssertionError, match="1 of 2 entries differ"):
        check(exercise_id, np.array([np.inf, 0.0]))


def test_containers_bools_and_strings(registry):
    exercise_id = registry("dict", expected={"larger": "log_of_mean", "ok": True, "pair": (1.0, 2)})
    check(exercise_id, {"larger": " Log_of_Mean", "ok": True, "pair": [1.0, 2]})
    with pytest.raises(AssertionError, match=r"your answer\['ok'\]: expected True, got False"):
        check(exercise_id, {"larger": "log_of_mean", "ok": False, "pair": (1.0, 2)}, reveal=True)
    with pytest.raises(AssertionError, match=r"1 of the 2 True/False or choice entries are wrong"):
        check(exercise_id, {"larger": "log_of_mean", "ok": False, "pair": (1.0, 2)})
    with pytest.raises(AssertionError, match=r"your answer\['pair'\]\[1\]: expected 2, got 3"):
        check(exercise_id, {"larger": "log_of_mean", "ok": True, "pair": (1.0, 3)}, reveal=True)
    with pytest.raises(AssertionError, match=r"your answer\['pair'\]\[1\] is too large in size by about 50%"):
        check(exercise_id, {"larger": "log_of_mean", "ok": True, "pair": (1.0, 3)})
    with pytest.raises(AssertionError, match="should have exactly the keys .*; missing"):
        check(exercise_id, {"larger": "log_of_mean"})


def test_expected_callable_is_evaluated_once(registry):
    calls = []
    exercise_id = registry("lazy", expected=lambda: calls.append(1) or 7.0)
    assert calls == []
    check(exercise_id, 7.0)
    check(exercise_id, 7.0)
    assert calls == [1]


def test_callable_answers_against_reference(registry, capsys):
    exercise_id = registry("square", cases=[(torch.tensor([1.0, -2.0]),), {"x": torch.tensor([3.0])}, 4.0],
                           reference=lambda x: x * x)
    check(exercise_id, lambda x: x ** 2)
    assert capsys.readouterr().out == "✓ zz_test-square passed (3 cases).\n"
    with pytest.raises(AssertionError, match=r"on case 1 of 3 \(Tensor of shape \(2,\)\), the result: 1 of 2"):
        check(exercise_id, lambda x: x.abs())
    with pytest.raises(AssertionError, match="the answer should be a function, got float"):
        check(exercise_id, 4.0)


def test_exception_inside_student_function_is_reported_with_hint(registry):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    with pytest.raises(AssertionError) as info:
        check(exercise_id, lambda x: x.shape)
    text = str(info.value)
    assert "your function raised AttributeError" in text and "case 1 of 1 (2)" in text and HINT in text


def test_stub_answers_say_not_implemented(registry):
    function_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)

    def stub(x):
        raise NotImplementedError("Exercise zz_test-square: replace this line with your code")

    with pytest.raises(NotImplementedError, match="Exercise zz_test-square is not solved yet"):
        check(function_id, stub)
    value_id = registry("value", expected=1.0)
    with pytest.raises(NotImplementedError, match="Exercise zz_test-value is not solved yet"):
        check(value_id, ...)
    assert evaluate(value_id, ...).status == grading.NOT_IMPLEMENTED


def test_student_function_cannot_spoil_the_cases(registry):
    def reference(x):
        return x.sum()

    exercise_id = registry("inplace", cases=[(torch.ones(3),)], reference=reference)

    def mutating(x):
        x.mul_(0.0)
        return torch.tensor(3.0)

    check(exercise_id, mutating)
    check(exercise_id, mutating)  # the stored case is still ones(3)
    assert torch.equal(get_spec(exercise_id).case_list()[0][0], torch.ones(3))


def test_unknown_ids_say_what_exists():
    with pytest.raises(KeyError, match="zz_missing_lesson.*two-digit number"):
        get_spec("zz_missing_lesson-x")
    with pytest.raises(KeyError, match="99_missing_lesson.*elbo_course.grading.specs.lesson99 does not exist"):
        get_spec("99_missing_lesson-x")
    with pytest.raises(KeyError, match="00_start_here-jensen, 00_start_here-pixel_baseline"):
        get_spec("00_start_here-no_such_exercise")
    with pytest.raises(ValueError, match="<lesson_id>-<name>"):
        get_spec("00_start_here.jensen")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), st.integers(0, 5), st.floats(1e-3, 10.0))
def test_tolerance_is_respected(values, index, shift):
    register("zz_test-hypothesis", answer="answer", hint=HINT, expected=np.array(values), rtol=1e-6, atol=1e-6)
    try:
        check("zz_test-hypothesis", np.array(values))
        moved = np.array(values)
        moved[index % len(values)] += shift * (1.0 + abs(moved[index % len(values)]))
        with pytest.raises(AssertionError, match="entries differ"):
            check("zz_test-hypothesis", moved)
    finally:
        _REGISTRY.pop("zz_test-hypothesis", None)


# ----- time limit -------------------------------------------------------------------------------------

@pytest.fixture
def alarm_untouched():
    """The SIGALRM handler and the real-time timer are left as they were found."""
    before = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def _endless(x):
    total = 0.0
    while True:
        total += x


def test_default_timeout_is_the_per_cell_grading_limit():
    assert limits.DEFAULT_TIMEOUT == check_module.DEFAULT_TIMEOUT == 30.0
    for function in (check, evaluate):
        assert inspect.signature(function).parameters["timeout"].default == 30.0


def test_endless_loop_is_stopped_near_the_limit(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,), (3.0,)], reference=lambda x: x * x)
    start = time.monotonic()
    result = evaluate(exercise_id, _endless, timeout=1, attempt=2)
    took = time.monotonic() - start
    assert result.status == grading.TIMEOUT and 0.95 <= took < 3.0, (result, took)
    text = result.message
    assert text.startswith("✗ zz_test-square: your function did not return within 1 s on case 1 of 2 (2) "
                           "(an endless loop?), so it was stopped.")
    assert "in _endless\n    while True:\n" in text and text.endswith(f"Hint: {HINT}")
    assert "grading/check.py" not in text and "limits.py" not in text  # the student's frames only
    with pytest.raises(TimeoutError, match="did not return within 0.3 s"):
        check(exercise_id, _endless, timeout=0.3)


def test_the_budget_covers_all_cases_of_one_check(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,), (3.0,)], reference=lambda x: x * x)

    def slow_then_endless(x):
        if x == 3.0:
            _endless(x)
        time.sleep(0.3)
        return x * x

    result = evaluate(exercise_id, slow_then_endless, timeout=0.6)
    assert result.status == grading.TIMEOUT
    assert "within 0.6 s on case 2 of 2 (3)" in result.message
    assert re.search(r"The 0.6 s cover all 2 cases of one check; case 1 took 0\.[34] s\.", result.message)


def test_a_loop_that_catches_exceptions_is_still_stopped(registry, alarm_untouched, monkeypatch):
    monkeypatch.setattr(limits, "REPEAT", 0.2)
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)

    def swallowing(x):
        while True:
            try:
                x = x + 1.0
            except Exception:  # does not catch the time limit, a BaseException
                pass

    def swallowing_once(x):
        try:
            _endless(x)
        except BaseException:  # swallows the first alarm; the repeated one stops the second loop
            _endless(x)

    for function in (swallowing, swallowing_once):
        start = time.monotonic()
        assert evaluate(exercise_id, function, timeout=0.3).status == grading.TIMEOUT
        assert time.monotonic() - start < 2.5


def test_the_limit_is_armed_only_during_the_students_call(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    seen = []

    def spy(x):
        seen.append((signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)[0]))
        return x * x

    assert evaluate(exercise_id, spy, timeout=5).status == grading.PASSED
    assert getattr(seen[0][0], "__self__", None).__class__ is limits.TimeLimit and 4.0 < seen[0][1] <= 5.0
    for no_limit in (None, math.inf):
        assert evaluate(exercise_id, spy, timeout=no_limit).status == grading.PASSED
        assert seen[-1] == (signal.getsignal(signal.SIGALRM), 0.0)


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1.0, ValueError), (float("nan"), ValueError),
                                        ("30", TypeError), (True, TypeError)])
def test_bad_timeouts_are_rejected(registry, bad, error):
    exercise_id = registry("value", expected=1.0)
    with pytest.raises(error, match="timeout should be"):
        evaluate(exercise_id, 1.0, timeout=bad)


def test_previous_handler_and_timer_are_restored(registry):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    fired = []

    def on_alarm(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        for answer, status in ((_endless, grading.TIMEOUT), (lambda x: x * x, grading.PASSED),
                               (lambda x: x.shape, grading.ERROR)):
            assert evaluate(exercise_id, answer, timeout=0.3).status == status
            assert signal.getsignal(signal.SIGALRM) is on_alarm
            assert 98.0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100.0  # less the time spent
        assert fired == []  # the outer alarm did not go off early
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_alarm_due_first_is_passed_on(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    fired = []

    def on_alarm(signum, frame):  # goes off twice: it re-arms the timer once
        fired.append(time.monotonic())
        if len(fired) == 1:
            signal.setitimer(signal.ITIMER_REAL, 0.2)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        start = time.monotonic()

        def waits_for_the_outer_alarms(x):
            while len(fired) < 2 and time.monotonic() - start < 3.0:
                time.sleep(0.01)
            return x * x

        assert evaluate(exercise_id, waits_for_the_outer_alarms, timeout=2).status == grading.PASSED
        assert len(fired) == 2 and 0.15 < fired[0] - start < 1.0 and 0.15 < fired[1] - fired[0] < 1.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_nested_limits(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    outer = limits.TimeLimit(10.0)
    result = outer.call(evaluate, exercise_id, _endless, timeout=0.3)  # the inner limit runs out first
    assert result.status == grading.TIMEOUT and outer.spent < 3.0
    outer = limits.TimeLimit(0.3)
    start = time.monotonic()
    with pytest.raises(limits.TimeLimitExceeded) as info:  # the outer one first: it is not the check's to report
        outer.call(evaluate, exercise_id, _endless, timeout=10.0)
    assert info.value.owner is outer and time.monotonic() - start < 3.0


def test_outside_the_main_thread_there_is_no_limit(registry, alarm_untouched):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    out = {}

    def slow(x):
        time.sleep(0.3)
        return x * x

    def worker():
        out["can_interrupt"] = limits.can_interrupt()
        out["result"] = evaluate(exercise_id, slow, timeout=0.05)  # documented: no limit in a thread

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10.0)
    passed = grading.Result(grading.PASSED, "✓ zz_test-square passed (1 cases).")
    assert out == {"can_interrupt": False, "result": passed}
    assert limits.can_interrupt()


# ----- the stub versus a NotImplementedError inside the student's code --------------------------------

def test_the_notebook_stub_is_not_implemented(registry):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)
    namespace = {}
    exec(build.stub_source("def f(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                           exercise_id), namespace)
    result = evaluate(exercise_id, namespace["f"])
    assert result == grading.Result(grading.NOT_IMPLEMENTED, "⏳ Exercise zz_test-square is not solved yet: "
                                    "replace the `raise NotImplementedError(...)` line in the exercise cell above "
                                    "with your code, run it, then this one.")
    with pytest.raises(NotImplementedError, match="Exercise zz_test-square is not solved yet"):
        check(exercise_id, namespace["f"])


def test_torch_not_implemented_inside_the_function_is_an_error(registry):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)

    def uses_a_bare_module(x):
        return torch.nn.Module()(torch.tensor(x))

    result = evaluate(exercise_id, uses_a_bare_module, attempt=2)
    assert result.status == grading.ERROR
    text = result.message
    assert text.startswith('✗ zz_test-square: your function raised NotImplementedError: Module [Module] is missing '
                           'the required "forward" function on case 1 of 1 (2). This is not the exercise\'s stub')
    assert "not implemented yet" not in text and text.endswith(f"Hint: {HINT}")
    frames = text.split("Traceback of your code (most recent call last):\n")[1]
    assert frames.startswith(f'  File "{__file__}", line ') and "in uses_a_bare_module\n" in frames
    assert "torch/nn/modules/module.py" in frames.replace("\\", "/")
    assert "elbo_course/grading/" not in frames.replace("\\", "/")
    with pytest.raises(AssertionError, match="your function raised NotImplementedError"):
        check(exercise_id, uses_a_bare_module)


@pytest.mark.parametrize("message, expected", [
    ("Exercise zz_test-other: replace this line with your code", "It calls exercise zz_test-other, which is not "
                                                                 "implemented yet: finish that one first."),
    ("Exercise zz_test-square (unfinished)", "This is not the exercise's stub"),
    ("", "your function raised NotImplementedError on case 1 of 1 (2). This is not"),
])
def test_other_not_implemented_errors_are_errors(registry, message, expected):
    exercise_id = registry("square", cases=[(2.0,)], reference=lambda x: x * x)

    def raises(x):
        raise NotImplementedError(message)

    result = evaluate(exercise_id, raises)
    assert result.status == grading.ERROR and expected in result.message, result.message


# ----- dtype and precision in messages ----------------------------------------------------------------

def test_float32_answer_to_a_float64_exercise_is_named(registry):
    exercise_id = registry("t64", expected=lambda: torch.tensor([1.0, -1.99512345678], dtype=torch.float64),
                           rtol=1e-9, atol=1e-9)
    got = torch.tensor([1.0, -1.99512345678], dtype=torch.float32)
    with pytest.raises(AssertionError) as info:
        check(exercise_id, got, reveal=True)
    text = str(info.value)
    assert ("your answer: expected a float64 tensor, got float32 — compute in float64 (e.g. .double()); 1 of 2 "
            "entries differ; at index (1,) expected -1.995123457, got -1.995123506 (they differ by 4.9e-08, "
            "16.3 times the tolerance 3e-09).") in text
    text = evaluate(exercise_id, got.double(), reveal=True).message  # the same numbers in float64 fail too, without the note...
    assert text.startswith("✗ zz_test-t64: your answer: 1 of 2 entries differ") and "float32" not in text
    loose = registry("t64_loose", expected=lambda: torch.tensor([1.0, 1.0 / 3.0], dtype=torch.float64), rtol=1e-6)
    check(loose, torch.tensor([1.0, 1.0 / 3.0], dtype=torch.float32))  # ...but float32 within tolerance passes


def test_dtype_note_for_numbers_arrays_and_function_results(registry):
    number = registry("number", expected=-1.99512345678, rtol=1e-9, atol=1e-9)
    text = evaluate(number, torch.tensor(-1.99512345678, dtype=torch.float32)).message
    assert "expected a float64 number, got a float32 tensor — compute in float64 (e.g. .double())" in text
    text = evaluate(number, torch.tensor(-1.99512345678, dtype=torch.bfloat16), reveal=True).message  # no NumPy bf16
    assert "got a bfloat16 tensor" in text and "expected -1.99512, got -1.99219" in text
    array = registry("array", expected=lambda: np.array([2.0, 1.0 / 3.0]), rtol=1e-12, atol=0.0)
    text = evaluate(array, np.array([2.0, 1.0 / 3.0], dtype=np.float32)).message
    assert "expected a float64 array, got float32 — compute in float64 (e.g. .astype(np.float64))" in text
    function = registry("double", cases=[(torch.tensor([1.0 / 3.0], dtype=torch.float64),)],
                        reference=lambda x: 2.0 * x, rtol=1e-12)
    text = evaluate(function, lambda x: 2.0 * x.float()).message
    assert "the result: expected a float64 tensor, got float32 — compute in float64" in text
    overflow = registry("overflow", expected=lambda: torch.tensor([100.0, 1.0], dtype=torch.float64))
    text = evaluate(overflow, torch.tensor([float("inf"), 1.0], dtype=torch.float32)).message
    assert "subtract the maximum before exponentiating, or work with logs throughout; expected a float64 tensor, " \
           "got float32" in text


def test_no_dtype_note_without_a_float64_exercise(registry):
    t32 = registry("t32", expected=lambda: torch.tensor([1.0, 2.0]))
    assert "float64" not in evaluate(t32, torch.tensor([1.0, 2.5])).message
    assert "float64" not in evaluate(t32, torch.tensor([1.0, 2.5], dtype=torch.float64)).message
    text = evaluate(registry("int", expected=2), torch.tensor(3.0), reveal=True).message
    assert "your answer: expected 2, got 3 (allowed ±2e-06)." in text and "float64" not in text


def test_values_that_print_alike_get_more_digits_and_the_distance(registry):
    exercise_id = registry("third", expected=1.0 / 3.0, rtol=1e-9, atol=0.0)
    text = evaluate(exercise_id, 1.0 / 3.0 + 1e-7, reveal=True).message
    assert "your answer: expected 0.33333333, got 0.33333343 (they differ by 1e-07, 300 times the tolerance 3.3e-10)." \
        in text
    exact = registry("exact", expected=1.0, rtol=0.0, atol=0.0)
    text = evaluate(exact, 1 + 1e-12, reveal=True).message
    assert "expected 1, got 1.000000000001 (they differ by 1e-12, the tolerance is 0)." in text
    assert "expected 0.333333, got 0.3 (allowed ±3.3e-10)." in evaluate(exercise_id, 0.3, reveal=True).message


# ----- the specs of lesson 00_start_here -------------------------------------------------------------

def test_start_here_jensen_expected_value():
    from elbo_course.grading.specs.lesson00 import JENSEN_LOG_W

    w = np.exp(np.array(JENSEN_LOG_W))
    gap = math.log(w.mean()) - float(np.log(w).mean())
    assert gap > 0
    check("00_start_here-jensen", {"larger": "log_of_mean", "gap": gap})
    with pytest.raises(AssertionError, match="1 of the 1 True/False or choice entries are wrong"):
        check("00_start_here-jensen", {"larger": "mean_of_log", "gap": gap})


# ----- every spec module -----------------------------------------------------------------------------

def _registered_by(module_name: str) -> list[str]:
    """Ids a spec module registers (it is reloaded, so its register() calls run again)."""
    before = dict(_REGISTRY)
    _REGISTRY.clear()
    try:
        importlib.reload(importlib.import_module(f"elbo_course.grading.specs.{module_name}"))
        return sorted(_REGISTRY)
    finally:
        registered = dict(_REGISTRY)
        _REGISTRY.clear()
        _REGISTRY.update(before)
        _REGISTRY.update(registered)


def test_there_is_one_spec_module_per_lesson():
    assert SPEC_MODULES == [f"lesson{n:02d}" for n in range(len(SPEC_MODULES))] and len(SPEC_MODULES) >= 7


@pytest.mark.parametrize("module_name", SPEC_MODULES)
def test_spec_module_registers_only_its_own_lesson(module_name):
    ids = _registered_by(module_name)
    assert len(ids) >= 2, "a lesson has at least two graded exercises"
    lessons = {lesson_id_of(i) for i in ids}
    assert len(lessons) == 1 and module_for(lessons.pop()) == f"elbo_course.grading.specs.{module_name}"


@pytest.mark.parametrize("module_name", SPEC_MODULES)
def test_spec_module_imports_no_library_maths(module_name):
    """References are written independently: a spec module imports only runtime (rng), the checker, and (for
    stored results and models, lessons 06-08) experiments and data (the fixed test images a stored model is read
    on), never the maths the student re-implements."""
    tree = ast.parse((SPECS / f"{module_name}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("elbo_course")):
            imported.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names if a.name.startswith("elbo_course"))
    assert imported <= {"...runtime", "..check", "...experiments", "...data"}, imported


@pytest.mark.parametrize("module_name", SPEC_MODULES)
def test_references_pass_their_own_cases_and_tags_follow_the_style_guide(module_name):
    text = (SPECS / f"{module_name}.py").read_text(encoding="utf-8")
    assert "manual_seed" not in text and "default_rng" not in text, "draw cases from rng(\"<lesson_id>:<purpose>\")"
    for exercise_id in _registered_by(module_name):
        spec = get_spec(exercise_id)
        assert f'rng(f"{{LESSON}}:' in text or "rng(" not in text
        if spec.cases is not None:
            assert evaluate(exercise_id, spec.reference).status == grading.PASSED, exercise_id
        else:
            assert evaluate(exercise_id, spec.expected_value()).status == grading.PASSED, exercise_id


def test_references_agree_with_the_library():
    """Two implementations, one answer: each independent reference matches the package function."""
    from elbo_course.distributions import DiagonalGaussian
    from elbo_course.grading.specs import lesson01, lesson02, lesson05
    from elbo_course.surgery import aggregate_log_density
    from elbo_course.toys.gaussian_mixture import evenly_spaced
    from elbo_course.toys.linear_gaussian import LinearGaussian

    for x, m, s in lesson01.TOY_ELBO_CASES:
        assert lesson01.toy_elbo_reference(x, m, s) == pytest.approx(float(LinearGaussian().elbo(x, m, s * s)),
                                                                     rel=1e-12, abs=1e-12)
    for mu_q, lv_q, mu_p, lv_p in lesson02._kl_cases():
        library = DiagonalGaussian(mu_q, lv_q).kl(DiagonalGaussian(mu_p, lv_p))
        assert torch.allclose(lesson02.kl_reference(mu_q, lv_q, mu_p, lv_p), library, rtol=1e-12, atol=1e-12)
    for x, m, s, eps in lesson02._mc_cases():
        z = m + s * eps
        log_w = LinearGaussian().log_joint(x, z) + 0.5 * (math.log(2 * math.pi * s**2) + eps**2)
        mean, se = lesson02.mc_elbo_reference(x, m, s, eps)
        assert mean == pytest.approx(float(log_w.mean()), abs=1e-12)
        assert se == pytest.approx(float(log_w.std() / math.sqrt(len(eps))), abs=1e-12)
    for prior_var in (1.0, 4.0):
        model, ours = LinearGaussian(prior_var=prior_var), lesson02.reading_terms(1.5, 0.4, 0.81, prior_var)
        assert ours["kl_to_posterior"] == pytest.approx(float(model.kl_to_posterior(1.5, 0.4, 0.81)), abs=1e-12)
        assert ours["log_evidence"] == pytest.approx(float(model.log_evidence(1.5)), abs=1e-12)
        assert ours["expected_log_joint"] == pytest.approx(float(model.expected_log_joint(1.5, 0.4, 0.81)), abs=1e-12)
    for z, mu, logvar in lesson05._aggregate_cases():
        assert torch.allclose(lesson05.reference_aggregate_log_density(z, mu, logvar),
                              aggregate_log_density(z, mu, logvar), rtol=1e-12, atol=1e-9)
    mi_toy, bound_toy = evenly_spaced(**lesson05.MI_TOY), evenly_spaced(**lesson05.BOUND_TOY)
    assert torch.equal(lesson05.lattice_centres(16, 0.8, 2), mi_toy.mu)
    assert lesson05.mutual_info_expected() == pytest.approx(mi_toy.terms()["mutual_info"], abs=1e-10)
    assert lesson05.bound_slack_expected() == pytest.approx(bound_toy.terms()["expected_entropy"], abs=1e-10)


# ----- feedback that does not hand over the answer ----------------------------------------------------

@pytest.mark.parametrize("got, words", [
    (-0.7, "has the wrong sign (its size is right)"),
    (1.4, "is 2 times the right value"),
    (0.7 + math.log(5), "is too large by exactly log K"),
    (0.7 - math.log(5), "is too small by exactly log K"),
    (0.7000002, "is just outside the tolerance: it misses by 2e-07"),
    (0.9, "is too large in size by about 29%"),
    (2.1, "is about 3 times the right value in size"),
    (0.7 / 784, "is about 1/7.8e+02 of the right value in size"),
    (0.7 / math.log(2), "in bits instead of nats"),
    (0.0, "is 0, but the right value is not"),
])
def test_first_miss_diagnoses_without_the_expected_value(registry, got, words):
    exercise_id = registry("diag", expected=0.7, rtol=1e-7, atol=0.0, offsets={"log K": math.log(5)})
    text = evaluate(exercise_id, got).message
    assert words in text and "0.7 " not in text.replace(f"{got}", "") and "expected 0.7" not in text, text
    assert "Hint:" not in text and "a second miss also shows a hint" in text


def test_hints_are_staged_and_reveal_shows_the_value(registry, capsys):
    exercise_id = registry("staged", expected=2.5)
    with pytest.raises(AssertionError) as first:
        check(exercise_id, 2.0)
    with pytest.raises(AssertionError) as second:
        check(exercise_id, 2.0)
    assert "Hint:" not in str(first.value) and f"Hint: {HINT}" in str(second.value)
    assert "2.5" not in str(first.value) + str(second.value)
    with pytest.raises(AssertionError, match="expected 2.5, got 2"):
        check(exercise_id, 2.0, reveal=True)
    check(exercise_id, 2.5)
    with pytest.raises(AssertionError) as again:  # a pass resets the count
        check(exercise_id, 2.0)
    assert "Hint:" not in str(again.value)


def test_check_failures_render_without_the_checkers_frames(registry):
    exercise_id = registry("render", expected=1.0)
    with pytest.raises(grading.CheckFailed) as info:
        check(exercise_id, 3.0)
    assert info.value._render_traceback_() == str(info.value).splitlines()
    assert isinstance(info.value, AssertionError)


def test_verify_uses_the_spec_tolerance_and_reveals_nothing(registry):
    exercise_id = registry("hidden", expected=1.0, rtol=1e-3, atol=0.0)
    grading.verify(exercise_id, 1.0005, 1.0)
    with pytest.raises(AssertionError) as info:
        grading.verify(exercise_id, 1.002, 1.0)
    assert str(info.value) == "zz_test-hidden: a hidden test failed."


def test_dicts_count_wrong_choices_name_missing_keys_and_accept_bool_tensors(registry):
    exercise_id = registry("preds", expected={"a": True, "b": False, "c": "mean", "x": 1.5})
    right = {"a": True, "b": False, "c": "mean", "x": 1.5}
    check(exercise_id, {**right, "a": torch.tensor(True)})  # a 0-d bool tensor is a bool
    text = evaluate(exercise_id, {**right, "a": False, "c": "log"}).message
    assert "2 of the 3 True/False or choice entries are wrong" in text and "'a'" not in text
    text = evaluate(exercise_id, {"a": True, "b": False, "c": "mean", "y": 1.5}).message
    assert "missing: ['x']" in text and "not asked for: ['y']" in text
    text = evaluate(exercise_id, {**right, "x": 3.0}, reveal=True).message
    assert "['x']: expected 1.5, got 3 (allowed ±1.5e-06) — it is 2 times the right value" in text


def test_choices_tell_a_misspelling_from_a_wrong_choice(registry):
    exercise_id = registry("choice", expected="log_of_mean", choices=("log_of_mean", "mean_of_log"))
    assert "not one of the options ('log_of_mean', 'mean_of_log')" in evaluate(exercise_id, "log of mean").message
    assert "not the right answer" in evaluate(exercise_id, "mean_of_log").message


def test_graded_mode_switches_reveal_off(registry, monkeypatch, capsys):
    exercise_id = registry("graded", expected=0.625)
    monkeypatch.setenv("ELBO_COURSE_GRADED", "1")
    with pytest.raises(AssertionError) as info:
        check(exercise_id, 0.5, reveal=True)
    assert "0.625" not in str(info.value) and "switched off in graded assignments" in capsys.readouterr().out


def test_a_probe_compares_gradients_too(registry):
    def probe(function, case):
        x = torch.tensor(case[0], dtype=torch.float64, requires_grad=True)
        y = function(x)
        (grad,) = torch.autograd.grad(y, x)
        return y.detach(), grad

    exercise_id = registry("square_grad", cases=[(1.5,), (-2.0,)], reference=lambda x: x * x, probe=probe)
    check(exercise_id, lambda x: x ** 2)
    text = evaluate(exercise_id, lambda x: x.detach() * x).message  # right value, half the gradient
    assert "the result[1]" in text and "expected 3, got 1.5" in text
