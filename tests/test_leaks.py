"""The build refuses a lesson that leaks an answer (issue #11).

* A stub message (the solution cell's ``instruction``) or a spec's hint shares no code with the solution:
  no run of 10 or more non-blank characters of a solution line that contains code punctuation, and no
  ``module.function`` name.
* A lesson keeps no output of a cell that mentions an answer name (the check argument, a function whose
  body is the solution, a name the solution assigns and a later cell reads).
* No value exercise's expected number (three or more significant digits, printed at 2-6 decimals or 3-8
  significant digits) appears in the lesson's Markdown or outputs above its grade cell.
"""
from __future__ import annotations

import math
import numbers
import re
from pathlib import Path

import nbformat
import pytest
import torch

from elbo_course.grading import build, get_spec, notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CODE_CHARS = set("()[]*/=.+-")
MODULE_CALL = re.compile(r"\b(torch|math|np|numpy|F|nn|scipy)\.[A-Za-z_]\w*")


def _solution_lines(nb: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Exercise id -> the stripped code lines of its solution region."""
    found: dict[str, list[str]] = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and notebook.is_solution_cell(cell):
            inside, _ = notebook.split_regions(cell.source)
            found[notebook.nbgrader(cell)["grade_id"]] = [line.strip() for line in inside
                                                           if line.strip() and not line.strip().startswith("#")]
    return found


def shared_code(text: str, lines: list[str], width: int = 10) -> list[str]:
    """Runs of ``width`` non-blank characters of a code line (with code punctuation) found in ``text``."""
    squeezed = re.sub(r"\s+", "", text)
    shared = []
    for line in lines:
        code = re.sub(r"\s+", "", line.split("#")[0])
        for start in range(max(0, len(code) - width + 1)):
            piece = code[start:start + width]
            if set(piece) & CODE_CHARS and piece in squeezed:
                shared.append(line)
                break
    return shared


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_stub_messages_and_hints_share_no_code_with_the_solution(path):
    nb = nbformat.read(path, as_version=4)
    solutions = _solution_lines(nb)
    for cell in nb.cells:
        if cell.cell_type != "code" or not notebook.is_solution_cell(cell):
            continue
        exercise_id = notebook.nbgrader(cell)["grade_id"]
        instruction = cell.metadata.get("elbo_course", {}).get("instruction", build.DEFAULT_INSTRUCTION)
        hint = get_spec(exercise_id).hint
        for label, text in (("stub message", instruction), ("hint", hint)):
            assert not shared_code(text, solutions[exercise_id]), \
                f"{exercise_id}: the {label} contains solution code {shared_code(text, solutions[exercise_id])}"
            assert not MODULE_CALL.search(text), f"{exercise_id}: the {label} names {MODULE_CALL.search(text)[0]}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_lessons_keep_no_output_of_cells_that_show_an_answer(path):
    solution = nbformat.read(path, as_version=4)
    names = build.answer_names(solution)
    lesson = nbformat.read(ROOT / "lessons" / path.name, as_version=4)
    for index, cell in enumerate(lesson.cells):
        if cell.cell_type == "code" and build._mentions(cell.source, names):
            assert not cell.outputs, f"{path.name} cell {index} mentions an answer and keeps its output"


def _numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, numbers.Real):
        return [float(value)]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _numbers(v)]
    return []


def printed_forms(value: float) -> set[str]:
    """How a number with at least three significant digits may be printed (2-6 decimals, 3-8 digits)."""
    if not math.isfinite(value) or float(f"{value:.2g}") == value:
        return set()  # fewer than three significant digits (0, 1, 0.25, ...) are exempt
    forms = {f"{value:.{k}f}" for k in range(2, 7)} | {f"{value:.{k}g}" for k in range(3, 9)}
    return {f for f in forms if len(re.sub(r"[^0-9]", "", f).lstrip("0")) >= 3}


def _text_above(lesson: nbformat.NotebookNode, stop: int) -> str:
    parts = []
    for cell in lesson.cells[:stop]:
        parts.append(cell.source if cell.cell_type == "markdown" else "")
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
            parts.append(str(output.get("data", {}).get("text/markdown", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_no_expected_value_appears_above_its_grade_cell(path):
    lesson = nbformat.read(ROOT / "lessons" / path.name, as_version=4)
    for index, cell in enumerate(lesson.cells):
        if cell.cell_type != "code" or not notebook.is_grade_cell(cell):
            continue
        spec = get_spec(notebook.check_calls(cell.source)[0])
        if spec.cases is not None:
            continue
        text = _text_above(lesson, index)
        for value in _numbers(spec.expected_value()):
            leaks = [f for f in printed_forms(value) if re.search(rf"(?<![0-9.]){re.escape(f)}(?![0-9])", text)]
            assert not leaks, f"{spec.exercise_id}: its answer appears above the grade cell as {leaks}"


def test_the_leak_detectors_detect():
    assert shared_code("Return mu + exp(logvar / 2) * eps.", ["return mu + torch.exp(logvar / 2) * eps"])
    assert not shared_code("Draw z with the reparameterization trick.", ["return mu + torch.exp(logvar / 2) * eps"])
    assert "0.356" in printed_forms(0.35631636) and "0.35632" in printed_forms(0.35631636)
    assert printed_forms(1.0) == set() and printed_forms(0.25) == set()
