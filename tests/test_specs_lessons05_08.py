"""Exercises of lessons 05 to 08: specs, prompts and grade cells agree, and neither leaks an answer.

For every exercise of these solution notebooks:
* the prompt has the heading ``### Exercise N.M (★…)`` with the spec's number of stars and a ``**Hint:**`` line;
  the spec's hint and the stub's instruction are words and maths, not code;
* the grade cell is ``check("<id>", <name>)`` followed by hidden ``verify`` lines only (helper names start with _);
* ``check`` accepts the spec's own answer and rejects every ``wrong=`` answer, and so does the hidden block with
  its stored literals (run with the answer name bound to the right and to each wrong answer);
* no expected value (at three or more significant digits, as it would be printed) appears in the Markdown or the
  outputs above its grade cell.
"""
from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch

from elbo_course.grading import evaluate, get_spec, verify
from elbo_course.grading.notebook import (BEGIN_HIDDEN, END_HIDDEN, exercises, is_grade_cell, is_solution_cell)

REPO = Path(__file__).resolve().parents[1]
LESSONS = ("05_elbo_surgery", "06_mnist_decomposition", "07_priors_and_the_vampprior", "08_rate_and_distortion")
# code, not maths: module prefixes, method calls, snake_case calls, slicing, keyword arguments, Python operators
CODE_IN_WORDS = re.compile(r"torch\.|math\.|np\.|numpy|\bdef\b|\[\s*:|\]\[|\w\.\w+\(|[a-z]+_[a-z_]+\(|"
                           r"\b(dim|keepdim|axis|ddof)=|\bimport\b|==|\*\*|\[\s*None")


def _load(lesson: str) -> nbformat.NotebookNode:
    return nbformat.read(REPO / "solutions" / f"{lesson}.ipynb", as_version=4)


def _cases() -> list[tuple[str, str]]:
    return [(lesson, exercise_id) for lesson in LESSONS for exercise_id in exercises(_load(lesson), lesson)]


CASES = _cases()


def _grade_parts(nb: nbformat.NotebookNode, exercise_id: str) -> tuple[str, str]:
    """(answer name passed to check, hidden block source) of the exercise's grade cell."""
    cell = nb.cells[exercises(nb)[exercise_id].grade]
    lines = cell.source.split("\n")
    match = re.fullmatch(rf'check\("{re.escape(exercise_id)}", ([A-Za-z_]\w*)\)', lines[0])
    assert match, f"{exercise_id}: the grade cell must start with check(\"<id>\", <answer name>): {lines[0]!r}"
    assert lines[1] == BEGIN_HIDDEN and lines[-1] == END_HIDDEN and len(lines) > 3, exercise_id
    return match.group(1), "\n".join(lines[2:-1])


def _right_answer(exercise_id: str):
    spec = get_spec(exercise_id)
    return spec.reference if spec.cases is not None else spec.expected_value()


@pytest.mark.parametrize("lesson, exercise_id", CASES)
def test_prompt_heading_stars_hint_and_instruction(lesson, exercise_id):
    nb = _load(lesson)
    exercise = exercises(nb)[exercise_id]
    spec = get_spec(exercise_id)
    heading = re.search(r"^### Exercise (\d+)\.(\d+) \((★+)\)", exercise.prompt, re.MULTILINE)
    assert heading, f"{exercise_id}: no '### Exercise N.M (★)' heading in its prompt"
    assert int(heading.group(1)) == int(lesson[:2]) and len(heading.group(3)) == spec.difficulty, exercise_id
    assert re.search(r"^\*\*Hint:\*\*", exercise.prompt, re.MULTILINE), f"{exercise_id}: no **Hint:** line"
    assert not CODE_IN_WORDS.search(spec.hint), f"{exercise_id}: the spec's hint contains code: {spec.hint!r}"
    instruction = nb.cells[exercise.solution].metadata.get("elbo_course", {}).get("instruction", "")
    assert instruction and not CODE_IN_WORDS.search(instruction), f"{exercise_id}: instruction {instruction!r}"
    name, _ = _grade_parts(nb, exercise_id)
    assert name != "answer" and name in exercise.prompt, f"{exercise_id}: the prompt must name {name!r}"


@pytest.mark.parametrize("lesson, exercise_id", CASES)
def test_check_and_hidden_literals_accept_the_right_answer_and_reject_the_wrong_ones(lesson, exercise_id):
    nb = _load(lesson)
    spec = get_spec(exercise_id)
    name, hidden = _grade_parts(nb, exercise_id)
    tree = ast.parse(hidden)
    for node in tree.body:  # only verify calls and assignments to _names
        if isinstance(node, ast.Assign):
            assert all(isinstance(t, ast.Name) and t.id.startswith("_") for t in node.targets), ast.unparse(node)
        else:
            assert isinstance(node, ast.Expr) and ast.unparse(node.value.func) == "verify", ast.unparse(node)
            assert ast.literal_eval(node.value.args[0]) == exercise_id
    right = _right_answer(exercise_id)
    assert evaluate(exercise_id, right).status == "passed"
    exec(compile(tree, exercise_id, "exec"), {"torch": torch, "math": math, "verify": verify, name: right})
    assert 2 <= len(spec.wrong) <= 4, f"{exercise_id}: give 2-4 typical wrong answers"
    for wrong in spec.wrong:
        assert evaluate(exercise_id, wrong).status in ("failed", "error"), (exercise_id, wrong)
        with pytest.raises(Exception):
            exec(compile(tree, exercise_id, "exec"), {"torch": torch, "math": math, "verify": verify, name: wrong})


@pytest.mark.parametrize("lesson, exercise_id", [c for c in CASES if get_spec(c[1]).cases is None])
def test_stored_literal_is_the_spec_value(lesson, exercise_id):
    """A value exercise's hidden literal and its spec's expected value agree within the spec's tolerance."""
    _, hidden = _grade_parts(_load(lesson), exercise_id)
    calls = [n.value for n in ast.parse(hidden).body if isinstance(n, ast.Expr)]
    assert len(calls) == 1
    verify(exercise_id, get_spec(exercise_id).expected_value(), ast.literal_eval(calls[0].args[2]))


def _numbers(value) -> list[float]:
    if isinstance(value, bool) or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    return [x for v in value for x in _numbers(v)]


def _printed_forms(value: float) -> set[str]:
    """How a value could be printed with at least three significant digits (2-6 decimals, thousands commas)."""
    forms = set()
    for decimals in range(0, 7):
        text = f"{abs(value):.{decimals}f}"
        if len(text.replace(".", "").lstrip("0")) >= 3:
            forms |= {text, f"{abs(value):,.{decimals}f}"}
    return forms


@pytest.mark.parametrize("lesson, exercise_id", [c for c in CASES if get_spec(c[1]).cases is None])
def test_no_expected_value_above_the_grade_cell(lesson, exercise_id):
    nb = _load(lesson)
    grade = exercises(nb)[exercise_id].grade
    shown = []
    for cell in nb.cells[:grade]:
        if cell.cell_type == "markdown":
            shown.append(cell.source)
        elif not is_solution_cell(cell) and not is_grade_cell(cell):  # the lesson drops these outputs
            for out in cell.get("outputs", []):
                shown.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    text = "\n".join(shown)
    for value in _numbers(get_spec(exercise_id).expected_value()):
        for form in _printed_forms(value):
            hit = re.search(rf"(?<![\d.,]){re.escape(form)}(?![\d])", text)
            assert not hit, f"{exercise_id}: its expected value appears above the grade cell as {form!r}"


def test_every_registered_exercise_is_in_its_notebook():
    import sys

    check_module = sys.modules["elbo_course.grading.check"]

    for lesson in LESSONS:
        get_spec(next(e for l, e in CASES if l == lesson))  # import the spec module
        registered = {k for k in check_module._REGISTRY if k.startswith(lesson + "-")}
        assert registered == set(exercises(_load(lesson))), lesson


def test_pairs_reference_agrees_with_the_package_estimator():
    """The spec's reference for Exercise 5.4 and ``surgery.mutual_information_from_pairs`` are two
    implementations of one formula."""
    from elbo_course import surgery
    from elbo_course.grading.specs import lesson05

    for z, n, mu, logvar in lesson05._pairs_cases():
        ours = surgery.mutual_information_from_pairs(z, n, mu, logvar)
        ref = lesson05.reference_mutual_info_from_pairs(z, n, mu, logvar)
        assert ours == pytest.approx(ref, rel=1e-10, abs=1e-10)


def test_lesson06_expected_values_are_the_stored_run():
    """The d = 10 numbers quoted in the spec (for its wrong answers) are those of results/surgery.json."""
    from elbo_course.experiments import load_results
    from elbo_course.grading.specs import lesson06

    results = load_results("surgery", "full")
    entry = next(m for m in results["models"] if m["latent_dim"] == 10)
    for key, value in lesson06._D10.items():
        stored = results["config"][key] if key == "eval_samples" else entry[key]
        assert value == stored, key


def test_lesson07_references_agree_with_the_package_and_the_stored_run():
    """The spec's direct mixture density equals ``surgery.mixture_log_density`` (the package's matrix-product
    form); the d = 20 numbers quoted for its wrong answers are those of results/surgery.json."""
    from elbo_course import surgery
    from elbo_course.experiments import load_results
    from elbo_course.grading.specs import lesson07

    for z, mu, logvar in lesson07._vamp_cases()[:-1]:
        direct = lesson07.vamp_log_density_reference(z, mu, logvar)
        assert torch.allclose(surgery.mixture_log_density(z, mu, logvar), direct, rtol=0, atol=1e-9)
    entry = next(m for m in load_results("surgery", "full")["models"] if m["latent_dim"] == 20)
    for key, value in lesson07._D20.items():
        assert value == entry[key], key
