"""An untouched lesson runs top to bottom (Run All), as a student first opens it.

Every code cell executes; only solution and grade cells may fail, each with one clear "not solved yet"
line (the stub, or the grade cell's check of an answer that is not defined yet), and every figure and
explorer below an exercise still appears. nbclient, like JupyterLab, goes on past a cell tagged
``raises-exception`` (the lesson build tags every solution and grade cell).
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from elbo_course.grading import build, notebook

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("*.ipynb"))


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_untouched_lesson_runs_through(path, monkeypatch):
    monkeypatch.setenv("ELBO_COURSE_BUDGET", "ci")
    lesson = nbformat.read(path, as_version=4)
    client = NotebookClient(lesson, timeout=300, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(ROOT / "lessons")}})
    client.execute()  # raises CellExecutionError at the first error in an untagged cell
    unsolved = set()
    for index, cell in enumerate(lesson.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, f"cell {index} did not run"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if not errors:
            continue
        assert notebook.is_solution_cell(cell) or notebook.is_grade_cell(cell), \
            f"cell {index} (not an exercise cell) failed: {errors[0].ename}"
        lines = errors[0].traceback
        assert len(lines) == 1 and lines[0].startswith("⏳ Exercise ") and "is not solved yet" in lines[0], \
            f"cell {index}: expected one 'not solved yet' line, got {lines}"
        unsolved.add(lines[0].split()[2])
    assert unsolved == set(notebook.exercises(lesson, path.name)), "every exercise says it is not solved yet"


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lessons_store_jupyterlabs_kernelspec(path):
    assert nbformat.read(path, as_version=4).metadata.get("kernelspec") == build.KERNELSPEC
