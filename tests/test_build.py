"""Tests of elbo_course.build and of every solution/lesson notebook pair.

Per notebook: lessons/ is what `make lessons` writes, no lesson leaks solution code or hidden tests, the
identifiers and slide metadata follow the conventions, every exercise is graded by `check` with a starred
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

from elbo_course import build, grading

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
CELL_TIME_LIMIT_S = 30  # the per-cell limit of the grader (notebook conventions)
MARKERS = (build.BEGIN_SOLUTION, build.END_SOLUTION, build.BEGIN_HIDDEN, build.END_HIDDEN)
CHECK_CALL = re.compile(r"""\bcheck\(\s*["']([^"']+)["']""")


# ----- unit tests of the transformation --------------------------------------------------------------

def test_stub_keeps_code_around_the_region_and_its_indentation():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n\nz = f"
    out = build.stub_source(source, "00_demo.f", "add y")
    assert out == 'def f(x):\n    y = 1\n    raise NotImplementedError("Exercise 00_demo.f: add y")\n\nz = f'
    namespace: dict = {}
    exec(compile(out, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Exercise 00_demo.f: add y"):
        namespace["f"](1)


def test_top_level_stub_raises_when_run():
    source = '### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nprint(answer)'
    out = build.stub_source(source, "00_demo.answer", 'say "42"')
    assert "42" not in out.replace('say \\"42\\"', "")
    with pytest.raises(NotImplementedError, match='Exercise 00_demo.answer: say "42"'):
        exec(compile(out, "<stub>", "exec"), {})


def test_hidden_tests_are_removed_without_a_blank_tail():
    source = 'check("00_demo.f", f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS\n'
    assert build.stub_source(source, None) == 'check("00_demo.f", f)'
    assert build.stub_source("x = 1\n", None) == "x = 1\n"  # a cell without markers is untouched


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "has no"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open region"),
    ("#### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "must stand alone"),
    ("x = 1  ### END HIDDEN TESTS", "must stand alone"),
])
def test_malformed_markers_are_errors(source, message):
    with pytest.raises(build.BuildError, match=message):
        build.stub_source(source, "00_demo.x")


def test_solution_region_needs_a_grade_id():
    with pytest.raises(build.BuildError, match="nbgrader metadata"):
        build.stub_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", None)


def _demo_notebook(answer: int = 1) -> nbformat.NotebookNode:
    solution = new_code_cell(f"### BEGIN SOLUTION\nanswer = {answer}\n### END SOLUTION", execution_count=2,
                             metadata={"nbgrader": {"solution": True, "grade_id": "00_demo.answer"},
                                       "slideshow": {"slide_type": "subslide"}})
    solution.outputs = [new_output("stream", name="stdout", text="secret\n")]
    grade = new_code_cell('check("00_demo.answer", answer)\n### BEGIN HIDDEN TESTS\nassert answer == 1\n'
                          "### END HIDDEN TESTS", execution_count=3,
                          metadata={"nbgrader": {"grade": True, "locked": True, "points": 1,
                                                 "grade_id": "00_demo.answer_grade"}})
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
    assert stub.metadata == solution.cells[2].metadata and lesson.metadata == solution.metadata
    assert "replace this line with your code" in stub.source
    assert solution.cells[2].outputs  # the source notebook is not modified


def test_markers_outside_their_cells_are_errors():
    nb = _demo_notebook()
    nb.cells[0].source = "### BEGIN SOLUTION"
    with pytest.raises(build.BuildError, match="code cells only"):
        build.lesson_notebook(nb)
    nb = _demo_notebook()
    nb.cells[1].source = "### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"
    with pytest.raises(build.BuildError, match="grade cell"):
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
    broken.cells[2].source = "### BEGIN SOLUTION\nanswer = 1"
    nbformat.write(broken, tmp_path / "solutions" / "01_broken.ipynb")
    with pytest.raises(build.BuildError, match="01_broken.ipynb cell 2"):
        build.write_lessons(tmp_path / "solutions", tmp_path / "lessons")
    assert not list((tmp_path / "lessons").glob("*.ipynb"))


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
    command = [sys.executable, "-m", "elbo_course.build", "check", "--root", str(tmp_path)]
    stale = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "missing:" in stale.stdout and "make lessons" in stale.stderr


def _exercises(nb: nbformat.NotebookNode) -> dict[str, dict]:
    """grade_id -> {'solution': index, 'grade': index, 'prompt': markdown text before the solution}."""
    found: dict[str, dict] = {}
    prompt_start = 0
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            assert meta["grade_id"] not in found, f"two solution cells for {meta['grade_id']}"
            starred = [i for i in range(prompt_start, index) if "★" in nb.cells[i].source
                       and nb.cells[i].cell_type == "markdown"]  # the prompt begins at the last starred cell
            begin = starred[-1] if starred else index
            prompt = "\n".join(c.source for c in nb.cells[begin:index] if c.cell_type == "markdown")
            found[meta["grade_id"]] = {"solution": index, "grade": None, "prompt": prompt}
        elif meta.get("grade"):
            called = CHECK_CALL.findall(cell.source)
            assert len(called) == 1, f"grade cell {index} must call check(...) exactly once"
            assert called[0] in found and found[called[0]]["grade"] is None, \
                f"grade cell {index} checks {called[0]!r}, which has no earlier solution cell of its own"
            found[called[0]]["grade"] = index
            prompt_start = index + 1
    return found


def _is_grader_cell(cell) -> bool:
    tags = set(cell.metadata.get("tags", []))
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(tags & {"setup", "context"} or meta.get("solution")
                                             or meta.get("grade"))


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_identifiers_slides_and_exercises(path):
    nb = nbformat.read(path, as_version=4)
    lesson_id = path.stem
    assert nb.metadata.get("elbo_course", {}).get("lesson_id") == lesson_id
    for index, cell in enumerate(nb.cells):
        assert cell.metadata.get("slideshow", {}).get("slide_type") in SLIDE_TYPES, f"cell {index}: slide type"
    grade_ids = [c.metadata["nbgrader"].get("grade_id", "") for c in nb.cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "nbgrader grade_ids must be unique"
    assert all(g.startswith(lesson_id + ".") for g in grade_ids), grade_ids
    exercises = _exercises(nb)
    assert len(exercises) >= 2, "a lesson has at least two graded exercises"
    for exercise_id, info in exercises.items():
        assert grading.lesson_id_of(exercise_id) == lesson_id
        assert build.BEGIN_SOLUTION in nb.cells[info["solution"]].source, exercise_id
        assert info["grade"] is not None, f"{exercise_id} has no grade cell"
        grade = nb.cells[info["grade"]].metadata["nbgrader"]
        assert grade.get("locked") and float(grade.get("points", 0)) > 0, f"{exercise_id}: locked, points"
        spec = grading.get_spec(exercise_id)
        stars = re.findall("★+", info["prompt"])
        assert "★" * spec.difficulty in stars, f"{exercise_id}: prompt must show {'★' * spec.difficulty}"
        assert "hint" in info["prompt"].lower(), f"{exercise_id}: the prompt needs a hint"
    setup_cells = [c for c in nb.cells if "setup" in c.metadata.get("tags", [])]
    assert setup_cells and "elbo_course.setup(" in setup_cells[0].source


def _region_lines(source: str) -> tuple[set[str], set[str]]:
    """(stripped lines inside solution or hidden-test regions, stripped lines outside them) of one cell."""
    inside, outside, active = set(), set(), False
    for line in source.split("\n"):
        text = line.strip()
        if text in MARKERS:
            active = text in (build.BEGIN_SOLUTION, build.BEGIN_HIDDEN)
            continue
        (inside if active else outside).add(text)
    return inside, outside


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_lessons_leak_no_solution_or_hidden_test(path):
    solution = nbformat.read(path, as_version=4)
    secret, public = set(), set()
    for cell in solution.cells:
        inside, outside = _region_lines(cell.source)
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
    cells = [nbformat.from_dict(dict(c)) for c in nb.cells if _is_grader_cell(c)]
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
        for exercise_id in CHECK_CALL.findall(cell.source) if "nbgrader" in cell.metadata else []:
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
            exercise_id = CHECK_CALL.findall(cell.source)[0]
        else:
            assert not errors, f"setup/context cell {cell.source[:60]!r} raised {errors and errors[0].ename}"
            continue
        if errors and exercise_id not in first_error:
            first_error[exercise_id] = errors[0]
        elif errors:  # after a stub: the check of a missing answer, or of a function that still raises
            assert errors[0].ename in ("NameError", "NotImplementedError"), f"{exercise_id}: {errors[0].ename}"
    exercises = _exercises(lesson)
    assert set(first_error) == set(exercises), f"exercises that did not fail: {set(exercises) - set(first_error)}"
    for exercise_id, error in first_error.items():
        assert error.ename == "NotImplementedError" and exercise_id in error.evalue, \
            f"{exercise_id}: first error is {error.ename}: {error.evalue}"
