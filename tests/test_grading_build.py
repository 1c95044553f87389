"""Tests of elbo_course.grading.build and of every solution/lesson notebook pair.

Per notebook: lessons/ is what `make lessons` writes, no lesson leaks solution code or hidden tests, the
identifiers (legal nbgrader ids, `<lesson_id>-<name>`) and slide metadata follow the conventions, every exercise is graded by `check` with a starred
prompt and a hint, and the grader's subset of cells (setup, context, solution, grade) passes on the
solution notebook and fails only at the stubs, with NotImplementedError naming the exercise, on the lesson.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from elbo_course import grading
from elbo_course.grading import build, notebook
from elbo_course.grading.notebook import NotebookFormatError

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
CELL_TIME_LIMIT_S = 30  # the per-cell limit of the grader (notebook conventions)
MARKERS = notebook.MARKERS
NBGRADER_ID = re.compile(r"^[a-zA-Z0-9_\-]*$")  # nbgrader's rule for grade_id


# ----- unit tests of the transformation --------------------------------------------------------------

def test_stub_keeps_code_around_the_region_and_its_indentation():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nz = f"
    out = build.stub_source(source, "00_demo-f", "add y")
    assert out == 'def f(x):\n    y = 1\n    raise NotImplementedError("Exercise 00_demo-f: add y")\n\nz = f'
    namespace: dict = {}
    exec(compile(out, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Exercise 00_demo-f: add y"):
        namespace["f"](1)


def test_top_level_stub_raises_when_run():
    source = '### BEGIN SOLUTION\ndemo_answer = 42\n### END SOLUTION\nprint(demo_answer)'
    out = build.stub_source(source, "00_demo-demo_answer", 'say "42"')
    assert "42" not in out.replace('say \\"42\\"', "")
    with pytest.raises(NotImplementedError, match='Exercise 00_demo-demo_answer: say "42"'):
        exec(compile(out, "<stub>", "exec"), {})


def test_hidden_tests_are_removed_without_a_blank_tail():
    source = 'check("00_demo-f", f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n'
    assert build.stub_source(source, None) == 'check("00_demo-f", f)'
    assert build.stub_source("x = 1\n", None) == "x = 1\n"  # a cell without markers is untouched


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "has no"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open region"),
    ("#### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "must stand alone"),
    ("x = 1  ### END HIDDEN TESTS", "must stand alone"),
])
def test_malformed_markers_are_errors(source, message):
    with pytest.raises(NotebookFormatError, match=message):
        build.stub_source(source, "00_demo-x")


def test_solution_region_needs_a_grade_id():
    with pytest.raises(NotebookFormatError, match="nbgrader metadata"):
        build.stub_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", None)


def _demo_notebook(answer: int = 1) -> nbformat.NotebookNode:
    solution = new_code_cell(f"### BEGIN SOLUTION\ndemo_answer = {answer}\n### END SOLUTION", execution_count=2,
                             metadata={"nbgrader": {"solution": True, "grade_id": "00_demo-demo_answer"},
                                       "slideshow": {"slide_type": "subslide"}})
    solution.outputs = [new_output("stream", name="stdout", text="secret\n")]
    grade = new_code_cell('check("00_demo-demo_answer", demo_answer)\n### BEGIN HIDDEN TESTS\nassert demo_answer == 1\n'
                          "### END HIDDEN TESTS", execution_count=3,
                          metadata={"nbgrader": {"grade": True, "locked": True, "points": 1,
                                                 "grade_id": "00_demo-demo_answer-grade"}})
    plain = new_code_cell("print(2)", execution_count=1)
    plain.outputs = [new_output("stream", name="stdout", text="2\n")]
    return new_notebook(cells=[new_markdown_cell("# Demo"), plain, solution, grade],
                        metadata={"elbo_course": {"lesson_id": "00_demo"}})


def test_lesson_notebook_clears_only_changed_cells_and_keeps_metadata():
    solution = _demo_notebook()
    lesson = build.lesson_notebook(solution)
    plain, stub, grade = lesson.cells[1:]
    assert plain.outputs == solution.cells[1].outputs and plain.execution_count == 1
    assert stub.outputs == [] and stub.execution_count is None and grade.execution_count is None
    added = {"tags": ["raises-exception"]}  # Run All goes on past an unsolved exercise
    assert stub.metadata == {**solution.cells[2].metadata, **added} and grade.metadata["tags"] == added["tags"]
    assert lesson.metadata == {**solution.metadata, "kernelspec": build.KERNELSPEC}
    assert "tags" not in plain.metadata or "raises-exception" not in plain.metadata["tags"]
    assert "replace this line with your code" in stub.source
    assert solution.cells[2].outputs  # the source notebook is not modified


def test_markers_outside_their_cells_are_errors():
    nb = _demo_notebook()
    nb.cells[0].source = "### BEGIN SOLUTION"
    with pytest.raises(NotebookFormatError, match="code cells only"):
        build.lesson_notebook(nb)
    nb = _demo_notebook()
    nb.cells[1].source = "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"
    with pytest.raises(NotebookFormatError, match="grade cell"):
        build.lesson_notebook(nb)


def test_write_lessons_is_deterministic_atomic_and_removes_stale(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    nbformat.write(_demo_notebook(), tmp_path / "solutions" / "00_demo.ipynb")
    assert build.main(["check", "--root", str(tmp_path)]) == 1
    assert "missing:" in capsys.readouterr().out
    assert build.main(["lessons", "--root", str(tmp_path)]) == 0
    lesson = tmp_path / "lessons" / "00_demo.ipynb"
    first = lesson.read_bytes()
    assert build.write_lessons(tmp_path / "solutions", tmp_path / "lessons") == []
    assert lesson.read_bytes() == first and first.endswith(b"\n")
    assert sorted(p.name for p in (tmp_path / "lessons").iterdir()) == ["00_demo.ipynb"]  # no temp files
    umask = os.umask(0)
    os.umask(umask)
    assert lesson.stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600
    assert build.main(["check", "--root", str(tmp_path)]) == 0
    lesson.write_text(lesson.read_text() + " ")
    (tmp_path / "lessons" / "99_gone.ipynb").write_text("{}")
    assert build.main(["check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "stale:" in out and "99_gone.ipynb" in out
    build.write_lessons(tmp_path / "solutions", tmp_path / "lessons")
    assert lesson.read_bytes() == first and not (tmp_path / "lessons" / "99_gone.ipynb").exists()


def test_a_broken_solution_writes_nothing(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(_demo_notebook(), tmp_path / "solutions" / "00_demo.ipynb")
    broken = _demo_notebook()
    broken.cells[2].source = "### BEGIN SOLUTION\ndemo_answer = 1"
    nbformat.write(broken, tmp_path / "solutions" / "01_broken.ipynb")
    with pytest.raises(NotebookFormatError, match="01_broken.ipynb cell 2"):
        build.write_lessons(tmp_path / "solutions", tmp_path / "lessons")
    assert not list((tmp_path / "lessons").glob("*.ipynb"))


@pytest.mark.parametrize("cell, grade_id, message", [
    (2, "00_demo.demo_answer", "not accepted by nbgrader"),
    (2, "00_demo-demo answer", "not accepted by nbgrader"),
    (2, "01_other-demo_answer", "must start with this notebook's lesson id"),
    (3, "00_demo-demo_answer_grade", "needs grade_id '00_demo-demo_answer-grade'"),
])
def test_an_illegal_exercise_id_stops_the_build(tmp_path, capsys, cell, grade_id, message):
    nb = _demo_notebook()
    nb.cells[cell].metadata["nbgrader"]["grade_id"] = grade_id
    with pytest.raises(NotebookFormatError, match=f"00_demo.ipynb cell {cell}: .*{message}"):
        build.lesson_notebook(nb, "00_demo.ipynb")
    (tmp_path / "solutions").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / "00_demo.ipynb")
    assert build.main(["lessons", "--root", str(tmp_path)]) == 2
    assert "build error" in capsys.readouterr().err and not (tmp_path / "lessons").exists()


def test_a_check_call_with_another_id_stops_the_build():
    nb = _demo_notebook()
    nb.cells[3].source = nb.cells[3].source.replace("00_demo-demo_answer", "00_demo.demo_answer")
    with pytest.raises(NotebookFormatError, match="cell 3: check\\('00_demo.demo_answer', ...\\) has no earlier"):
        build.lesson_notebook(nb, "demo")


def test_make_lessons_runs_the_grading_builder():
    lessons_target = (ROOT / "Makefile").read_text().split("\nlessons:")[1].split("\n\n")[0]
    assert "-m elbo_course.grading.build lessons" in lessons_target


# ----- the notebooks of the course -------------------------------------------------------------------

@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_lesson_is_what_make_lessons_writes(path):
    lesson = ROOT / "lessons" / path.name
    expected = build.render(build.lesson_notebook(nbformat.read(path, as_version=4), name=str(path)))
    up_to_date = lesson.exists() and lesson.read_text(encoding="utf-8") == expected  # no slow diff of JSON
    assert up_to_date, f"{lesson} is missing or stale: run `make lessons`"


def test_every_lesson_has_a_solution():
    orphans = {p.name for p in (ROOT / "lessons").glob("*.ipynb")} - {p.name for p in SOLUTIONS}
    assert not orphans, f"lessons without a solution (run `make lessons` to remove them): {sorted(orphans)}"


def test_check_command_exits_1_when_stale(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(_demo_notebook(), tmp_path / "solutions" / "00_demo.ipynb")
    command = [sys.executable, "-m", "elbo_course.grading.build", "check", "--root", str(tmp_path)]
    stale = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "missing:" in stale.stdout and "make lessons" in stale.stderr


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_identifiers_slides_and_exercises(path):
    nb = nbformat.read(path, as_version=4)
    lesson_id = path.stem
    assert nb.metadata.get("elbo_course", {}).get("lesson_id") == lesson_id
    for index, cell in enumerate(nb.cells):
        assert cell.metadata.get("slideshow", {}).get("slide_type") in SLIDE_TYPES, f"cell {index}: slide type"
    grade_ids = [c.metadata["nbgrader"].get("grade_id", "") for c in nb.cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "nbgrader grade_ids must be unique"
    assert all(g.startswith(lesson_id + "-") and NBGRADER_ID.match(g) for g in grade_ids), grade_ids
    exercises = notebook.exercises(nb, path.name)
    assert len(exercises) >= 2, "a lesson has at least two graded exercises"
    for exercise_id, info in exercises.items():
        assert notebook.lesson_id_of(exercise_id) == lesson_id
        assert notebook.BEGIN_SOLUTION in nb.cells[info.solution].source, exercise_id
        assert info.grade is not None, f"{exercise_id} has no grade cell"
        grade = nb.cells[info.grade].metadata["nbgrader"]
        assert grade["grade_id"] == f"{exercise_id}-grade", f"{exercise_id}: grade cell id"
        assert notebook.check_calls(nb.cells[info.grade].source) == [exercise_id]
        assert grade.get("locked") and float(grade.get("points", 0)) > 0, f"{exercise_id}: locked, points"
        spec = grading.get_spec(exercise_id)
        stars = re.findall("★+", info.prompt)
        assert "★" * spec.difficulty in stars, f"{exercise_id}: prompt must show {'★' * spec.difficulty}"
        assert "hint" in info.prompt.lower(), f"{exercise_id}: the prompt needs a hint"
    setup_cells = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    assert setup_cells and "elbo_course.setup(" in setup_cells[0].source


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_lessons_leak_no_solution_or_hidden_test(path):
    solution = nbformat.read(path, as_version=4)
    secret, public = set(), set()
    for cell in solution.cells:
        inside, outside = notebook.split_regions(cell.source)
        secret |= inside
        public |= outside
    secret = {s for s in secret - public if s and not s.startswith("#")}
    assert secret, "no solution code found to look for"
    built = build.lesson_notebook(solution)
    on_disk = ROOT / "lessons" / path.name
    for lesson in [built] + ([nbformat.read(on_disk, as_version=4)] if on_disk.exists() else []):
        for index, cell in enumerate(lesson.cells):
            lines = {line.strip() for line in cell.source.split("\n")}
            assert not lines & set(MARKERS), f"cell {index} keeps a marker"
            assert not lines & secret, f"cell {index} leaks {sorted(lines & secret)}"
            if "nbgrader" in cell.metadata:
                assert not cell.get("outputs"), f"cell {index}: outputs of exercise cells must be cleared"


def _run_grader_subset(nb: nbformat.NotebookNode, folder: Path) -> list:
    """Execute the setup/context/solution/grade cells in a fresh kernel; return the executed cells."""
    cells = [nbformat.from_dict(dict(c)) for c in nb.cells if notebook.is_grader_cell(c)]
    for cell in cells:
        cell.outputs, cell.execution_count = [], None
    subset = new_notebook(cells=cells, metadata=nb.metadata)
    client = NotebookClient(subset, timeout=CELL_TIME_LIMIT_S, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    client.execute()
    return [(cell, [o for o in cell.outputs if o.output_type == "error"]) for cell in subset.cells]


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_grader_subset_passes_on_the_solution(path, monkeypatch):
    monkeypatch.setenv("ELBO_COURSE_BUDGET", "ci")
    for cell, errors in _run_grader_subset(nbformat.read(path, as_version=4), path.parent):
        assert not errors, f"{cell.source[:60]!r} raised {errors[0].ename}: {errors[0].evalue}"
        for exercise_id in notebook.check_calls(cell.source) if "nbgrader" in cell.metadata else []:
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert f"✓ {exercise_id} passed" in text


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_grader_subset_fails_only_at_the_stubs_of_the_lesson(path, monkeypatch):
    monkeypatch.setenv("ELBO_COURSE_BUDGET", "ci")
    lesson = build.lesson_notebook(nbformat.read(path, as_version=4))
    first_error: dict[str, object] = {}
    for cell, errors in _run_grader_subset(lesson, path.parent):
        grading_meta = cell.metadata.get("nbgrader", {})
        if grading_meta.get("solution"):
            exercise_id = grading_meta["grade_id"]
        elif grading_meta.get("grade"):
            exercise_id = notebook.check_calls(cell.source)[0]
        else:
            assert not errors, f"setup/context cell {cell.source[:60]!r} raised {errors and errors[0].ename}"
            continue
        if errors and exercise_id not in first_error:
            first_error[exercise_id] = errors[0]
        elif errors:  # after a stub: the check of a missing answer, or of a function that still raises
            assert errors[0].ename in ("NameError", "NotImplementedError", "NotSolved"), f"{exercise_id}: {errors[0].ename}"
    exercises = notebook.exercises(lesson, path.name)
    assert set(first_error) == set(exercises), f"exercises that did not fail: {set(exercises) - set(first_error)}"
    for exercise_id, error in first_error.items():
        assert error.ename in ("NotImplementedError", "NotSolved") and exercise_id in error.evalue, \
            f"{exercise_id}: first error is {error.ename}: {error.evalue}"
