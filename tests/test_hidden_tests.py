"""The visible ``check`` and the hidden tests agree (issue #11): one tolerance per exercise, from its spec.

Every grade cell's hidden block calls ``verify("<its id>", ..., <stored value>)`` (which compares with the
spec's rtol/atol) and sets no tolerance of its own. Every spec lists typical wrong answers (``wrong=``).
On the spec's right answer both accept; on every stored wrong answer both reject: ``check`` through
``evaluate``, the hidden side through ``verify`` with the grade cell's stored value (for a function
exercise, by running the hidden block with the wrong function wherever it needs no notebook context; the
right function passes the hidden block in nbval's run of the solution notebook).
"""
from __future__ import annotations

import ast
import math
from pathlib import Path

import nbformat
import pytest
import torch

from elbo_course.grading import PASSED, evaluate, get_spec, notebook, verify

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NAMESPACE = {"torch": torch, "math": math}


def _grade_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and notebook.is_grade_cell(cell):
            lines = cell.source.split("\n")
            (begin, end), = notebook.marker_regions(lines, notebook.BEGIN_HIDDEN, notebook.END_HIDDEN, path.name)
            visible = ast.parse("\n".join(lines[:begin])).body[0].value
            yield visible.args[0].value, ast.unparse(visible.args[1]), "\n".join(lines[begin + 1:end])


def _verify_calls(hidden: str) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(hidden)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "verify"]


def _literal(node: ast.AST):
    return eval(compile(ast.Expression(node), "<hidden>", "eval"), dict(NAMESPACE))  # our own notebooks' text


CELLS = [(path.stem, *cell) for path in SOLUTIONS for cell in _grade_cells(path)]


@pytest.mark.parametrize("lesson, exercise_id, name, hidden", CELLS, ids=[c[1] for c in CELLS])
def test_hidden_block_uses_verify_with_the_spec_tolerance(lesson, exercise_id, name, hidden):
    calls = _verify_calls(hidden)
    assert calls, f"{exercise_id}: the hidden block has no verify(...) call"
    assert all(c.args[0].value == exercise_id for c in calls), f"{exercise_id}: verify names another exercise"
    for word in ("allclose", "isclose", "rtol", "atol"):
        assert word not in hidden, f"{exercise_id}: the hidden block sets its own tolerance ({word})"
    assert get_spec(exercise_id).wrong, f"{exercise_id}: the spec lists no typical wrong answers (wrong=[...])"


@pytest.mark.parametrize("lesson, exercise_id, name, hidden", CELLS, ids=[c[1] for c in CELLS])
def test_check_and_hidden_tests_agree_on_right_and_wrong_answers(lesson, exercise_id, name, hidden):
    spec = get_spec(exercise_id)
    calls = _verify_calls(hidden)
    if spec.cases is None:
        right = spec.expected_value()
        assert evaluate(exercise_id, right).status == PASSED
        stored = [_literal(c.args[2]) for c in calls if ast.unparse(c.args[1]) == name]
        assert stored, f"{exercise_id}: no hidden verify compares {name} itself"
        for value in stored:
            verify(exercise_id, right, value)
        for wrong in spec.wrong:
            assert evaluate(exercise_id, wrong).status != PASSED, f"{exercise_id}: check accepts {wrong!r}"
            for value in stored:
                with pytest.raises(AssertionError):
                    verify(exercise_id, wrong, value)
        return
    assert evaluate(exercise_id, spec.reference).status == PASSED
    for wrong in spec.wrong:
        assert evaluate(exercise_id, wrong).status != PASSED, f"{exercise_id}: check accepts a wrong function"
        namespace = {**NAMESPACE, "verify": verify, name: wrong}
        try:
            exec(compile(hidden, f"<hidden {exercise_id}>", "exec"), namespace)  # our own notebooks' text
        except NameError as err:
            if err.name == name or err.name in NAMESPACE:
                raise
            continue  # the block needs the notebook's context (a toy built above): nbval runs it there
        except Exception:
            continue  # rejected, as check rejects it
        pytest.fail(f"{exercise_id}: the hidden tests accept {getattr(wrong, '__name__', wrong)}, which check rejects")
