"""Tests of elbo_course.grading: spec registration, comparisons, messages, and the 00_start_here specs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_course import grading
from elbo_course.grading import check, evaluate, register

HINT = "think about the formula"


@pytest.fixture
def registry():
    """Register test specs under the fake lesson 'zz_test' and remove them afterwards."""
    created: list[str] = []

    def add(name: str, **kwargs) -> str:
        exercise_id = f"zz_test.{name}"
        kwargs.setdefault("hint", HINT)
        register(exercise_id, **kwargs)
        created.append(exercise_id)
        return exercise_id

    yield add
    for exercise_id in created:
        grading._REGISTRY.pop(exercise_id, None)


def test_module_mapping_and_lesson_ids():
    assert grading.module_for("00_start_here.log_mean_exp") == "elbo_course.exercises._00_start_here"
    assert grading.lesson_id_of("04_iwae.iwae_bound") == "04_iwae"
    for bad in ("log_mean_exp", "00_start_here.", ".x", "00 start.x", "a.b.c", 3):
        with pytest.raises(ValueError, match="<lesson_id>.<name>"):
            grading.lesson_id_of(bad)


def test_statuses():
    assert grading.STATUSES == ("passed", "failed", "error", "timeout")


@pytest.mark.parametrize("kwargs, message", [
    (dict(hint=" "), "non-empty hint"),
    (dict(hint=HINT, difficulty=4, expected=1.0), "difficulty"),
    (dict(hint=HINT), "either expected"),
    (dict(hint=HINT, expected=1.0, cases=[(1,)], reference=abs), "either expected"),
    (dict(hint=HINT, cases=[(1,)]), "reference"),
])
def test_register_rejects_incomplete_specs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        register("zz_test.bad", **kwargs)
    assert "zz_test.bad" not in grading._REGISTRY


def test_pass_line_is_short_and_deterministic(registry, capsys):
    exercise_id = registry("number", expected=math.pi, rtol=1e-6)
    check(exercise_id, math.pi + 1e-9)
    check(exercise_id, torch.tensor(math.pi, dtype=torch.float64))
    assert capsys.readouterr().out == "✓ zz_test.number passed.\n" * 2


def test_wrong_number_reports_expected_got_and_hint(registry):
    exercise_id = registry("number", expected=1.0 / 3.0, rtol=1e-4)
    with pytest.raises(AssertionError) as info:
        check(exercise_id, 0.3)
    text = str(info.value)
    assert "expected 0.333333, got 0.3" in text and f"Hint: {HINT}" in text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), torch.tensor(float("-inf"))])
def test_non_finite_number_is_named(registry, bad):
    exercise_id = registry("number", expected=2.0)
    with pytest.raises(AssertionError, match="subtract the maximum"):
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
    with pytest.raises(AssertionError, match=r"1 NaN/inf entries of 6 \(first at index \(1, 2\)\)"):
        check(exercise_id, bad)
    bad[1, 2] = 5.5
    with pytest.raises(AssertionError, match=r"1 of 6 entries differ; at index \(1, 2\) expected 5, got 5.5"):
        check(exercise_id, bad)


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
        check(exercise_id, {"larger": "log_of_mean", "ok": False, "pair": (1.0, 2)})
    with pytest.raises(AssertionError, match=r"your answer\['pair'\]\[1\]: expected 2, got 3"):
        check(exercise_id, {"larger": "log_of_mean", "ok": True, "pair": (1.0, 3)})
    with pytest.raises(AssertionError, match="should be a dict with keys"):
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
    assert capsys.readouterr().out == "✓ zz_test.square passed (3 cases).\n"
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
        raise NotImplementedError("Exercise zz_test.square: replace this line with your code")

    with pytest.raises(NotImplementedError, match="Exercise zz_test.square is not implemented yet"):
        check(function_id, stub)
    value_id = registry("value", expected=1.0)
    with pytest.raises(NotImplementedError, match="Exercise zz_test.value is not implemented yet"):
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
    assert torch.equal(grading.get_spec(exercise_id).case_list()[0][0], torch.ones(3))


def test_unknown_ids_say_what_exists():
    with pytest.raises(KeyError, match="zz_missing_lesson"):
        grading.get_spec("zz_missing_lesson.x")
    with pytest.raises(KeyError, match="00_start_here.jensen, 00_start_here.log_mean_exp"):
        grading.get_spec("00_start_here.no_such_exercise")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), st.integers(0, 5), st.floats(1e-3, 10.0))
def test_tolerance_is_respected(values, index, shift):
    register("zz_test.hypothesis", hint=HINT, expected=np.array(values), rtol=1e-6, atol=1e-6)
    try:
        check("zz_test.hypothesis", np.array(values))
        moved = np.array(values)
        moved[index % len(values)] += shift * (1.0 + abs(moved[index % len(values)]))
        with pytest.raises(AssertionError, match="entries differ"):
            check("zz_test.hypothesis", moved)
    finally:
        grading._REGISTRY.pop("zz_test.hypothesis", None)


# ----- the specs of lesson 00_start_here -------------------------------------------------------------

def test_start_here_reference_agrees_with_bounds():
    from elbo_course.bounds import log_mean_exp
    from elbo_course.exercises._00_start_here import reference_log_mean_exp

    for (x,) in grading.get_spec("00_start_here.log_mean_exp").case_list():
        ours = float(reference_log_mean_exp(x))
        assert math.isclose(ours, float(log_mean_exp(x.double())), rel_tol=1e-12, abs_tol=1e-12)
    check("00_start_here.log_mean_exp", lambda x: log_mean_exp(x, dim=0))


def test_start_here_log_mean_exp_catches_the_naive_formula():
    with pytest.raises(AssertionError, match="inf"):
        check("00_start_here.log_mean_exp", lambda x: torch.log(torch.exp(x).mean()))


def test_start_here_jensen_expected_value():
    from elbo_course.exercises._00_start_here import JENSEN_LOG_W

    w = np.exp(np.array(JENSEN_LOG_W))
    gap = math.log(w.mean()) - float(np.log(w).mean())
    assert gap > 0
    check("00_start_here.jensen", {"larger": "log_of_mean", "gap": gap})
    with pytest.raises(AssertionError, match="not the right answer"):
        check("00_start_here.jensen", {"larger": "mean_of_log", "gap": gap})
