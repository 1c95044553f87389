"""Tests of elbo_course.grading.notebook: exercise ids, cell markers, nbgrader metadata, one notebook's exercises."""
from __future__ import annotations

import re

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from elbo_course.grading import notebook
from elbo_course.grading.notebook import NotebookFormatError

NBGRADER = re.compile(r"^[a-zA-Z0-9_\-]*$")  # nbgrader's own rule, restated


# ----- exercise ids --------------------------------------------------------------------------------

@pytest.mark.parametrize("exercise_id, parts", [
    ("04_iwae-log_mean_exp", ("04_iwae", "log_mean_exp")),
    ("05_elbo_surgery-aggregate_log_density", ("05_elbo_surgery", "aggregate_log_density")),
    ("zz_test-x1", ("zz_test", "x1")),
])
def test_parse_exercise_id(exercise_id, parts):
    assert notebook.parse_exercise_id(exercise_id) == parts
    assert notebook.lesson_id_of(exercise_id) == parts[0]
    assert notebook.make_exercise_id(*parts) == exercise_id
    assert NBGRADER.match(exercise_id) and NBGRADER.match(notebook.grade_id_for(exercise_id))
    assert notebook.grade_id_for(exercise_id) == exercise_id + "-grade"


@pytest.mark.parametrize("bad", ["log_mean_exp", "00_start_here-", "-x", "00 start-x", "a-b-c", "00_start-x y",
                                 "00_start_here-x.y", "_00-x", "", 3, None])
def test_illegal_ids_are_rejected_with_the_rule(bad):
    with pytest.raises(ValueError, match="<lesson_id>-<name>") as info:
        notebook.parse_exercise_id(bad)
    assert "04_iwae-log_mean_exp" in str(info.value)  # the message shows a legal example


def test_old_dotted_ids_get_a_pointed_message():
    for bad in ("00_start_here.log_mean_exp", "01_jensen_and_the_elbo.uniform_gap"):
        assert not NBGRADER.match(bad)  # the reason for the change: nbgrader rejects them
        with pytest.raises(ValueError, match="join lesson id and name with '-'"):
            notebook.parse_exercise_id(bad)
    with pytest.raises(ValueError, match="<lesson_id>-<name>"):
        notebook.make_exercise_id("04_iwae", "log.mean")
    with pytest.raises(ValueError, match="<lesson_id>-<name>"):
        notebook.grade_id_for("04_iwae.iwae_bound")


def test_check_calls_finds_every_id_in_order():
    source = 'check("04_iwae-a", f)\nx = 1\ncheck( \'04_iwae-b\', g)\nrecheck = 2'
    assert notebook.check_calls(source) == ["04_iwae-a", "04_iwae-b"]
    assert notebook.check_calls("print('no check here')") == []


# ----- nbgrader metadata ---------------------------------------------------------------------------

def test_metadata_helpers_follow_the_style_guide():
    assert notebook.solution_metadata("04_iwae-iwae_bound") == {
        "grade": False, "grade_id": "04_iwae-iwae_bound", "locked": False, "schema_version": 3, "solution": True}
    assert notebook.grade_metadata("04_iwae-iwae_bound", points=2) == {
        "grade": True, "grade_id": "04_iwae-iwae_bound-grade", "locked": True, "points": 2, "schema_version": 3,
        "solution": False}
    with pytest.raises(ValueError):
        notebook.solution_metadata("04_iwae.iwae_bound")


def test_cell_roles():
    solution = new_code_cell("x = 1", metadata={"nbgrader": notebook.solution_metadata("00_demo-x")})
    grade = new_code_cell('check("00_demo-x", x)', metadata={"nbgrader": notebook.grade_metadata("00_demo-x")})
    setup = new_code_cell("import elbo_course", metadata={"tags": ["setup"]})
    context = new_code_cell("t = 1", metadata={"tags": ["context", "other"]})
    plain, prose = new_code_cell("plot()"), new_markdown_cell("text", metadata={"tags": ["setup"]})
    assert notebook.is_solution_cell(solution) and not notebook.is_grade_cell(solution)
    assert notebook.is_grade_cell(grade) and not notebook.is_solution_cell(grade)
    assert [notebook.is_grader_cell(c) for c in (solution, grade, setup, context, plain, prose)] == \
        [True, True, True, True, False, False]
    assert notebook.nbgrader(plain) == {}


# ----- cell markers --------------------------------------------------------------------------------

def test_marker_regions_and_their_errors():
    lines = ["a", "### BEGIN SOLUTION", "b", "### END SOLUTION", "  ### BEGIN SOLUTION", "c", "  ### END SOLUTION"]
    assert notebook.marker_regions(lines, notebook.BEGIN_SOLUTION, notebook.END_SOLUTION, "w") == [(1, 4), (4, 7)]
    for bad, message in ([["### BEGIN SOLUTION"], "has no"], [["### END SOLUTION"], "without"],
                         [["### BEGIN SOLUTION"] * 2, "inside an open region"]):
        with pytest.raises(NotebookFormatError, match=f"w: .*{message}"):
            notebook.marker_regions(bad, notebook.BEGIN_SOLUTION, notebook.END_SOLUTION, "w")


@pytest.mark.parametrize("line", ["#### BEGIN SOLUTION", "x = 1  ### END HIDDEN TESTS", "# BEGIN HIDDEN TESTS here"])
def test_markers_must_stand_alone(line):
    with pytest.raises(NotebookFormatError, match="cell 3, line 2: a marker must stand alone"):
        notebook.check_marker_lines(["ok", line], "cell 3")
    notebook.check_marker_lines(["    ### BEGIN SOLUTION", "### END HIDDEN TESTS"], "cell 3")  # indentation is fine


def test_has_marker_and_split_regions():
    source = "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\nc = 3\n### BEGIN HIDDEN TESTS\nassert b\n### END HIDDEN TESTS"
    assert notebook.has_marker(source) and notebook.has_marker(source, notebook.BEGIN_HIDDEN)
    assert not notebook.has_marker("x = 1  # BEGIN SOLUTION")
    assert notebook.split_regions(source) == ({"b = 2", "assert b"}, {"a = 1", "c = 3"})


# ----- one notebook's exercises --------------------------------------------------------------------

def _exercise(exercise_id: str, answer: str = "x", stars: str = "★") -> list:
    return [new_markdown_cell(f"### Exercise {stars}\nDo it.\n\n**Hint:** think."),
            new_code_cell(f"### BEGIN SOLUTION\n{answer} = 1\n### END SOLUTION",
                          metadata={"nbgrader": notebook.solution_metadata(exercise_id)}),
            new_code_cell(f'check("{exercise_id}", {answer})\n### BEGIN HIDDEN TESTS\nassert {answer} == 1\n'
                          "### END HIDDEN TESTS", metadata={"nbgrader": notebook.grade_metadata(exercise_id)})]


def _notebook(*cells, lesson_id: str = "00_demo"):
    return new_notebook(cells=list(cells), metadata={"elbo_course": {"lesson_id": lesson_id}})


def test_exercises_pairs_solution_grade_and_prompt():
    nb = _notebook(new_markdown_cell("# Demo"), *_exercise("00_demo-first", "first_answer", "★★"),
                   new_markdown_cell("between"), *_exercise("00_demo-second", "second_answer"))
    found = notebook.exercises(nb)
    assert list(found) == ["00_demo-first", "00_demo-second"]
    first, second = found.values()
    assert (first.solution, first.grade, second.solution, second.grade) == (2, 3, 6, 7)
    assert first.prompt.startswith("### Exercise ★★") and "between" not in second.prompt


def _broken(change) -> list:
    cells = _exercise("00_demo-x")
    change(cells)
    return cells


@pytest.mark.parametrize("change, message", [
    (lambda c: c[1].metadata.nbgrader.update(grade_id="00_demo.x"), r"not accepted by nbgrader"),
    (lambda c: c[1].metadata.nbgrader.update(grade_id="00_demo-x-y"), r"'<lesson_id>-<name>'"),
    (lambda c: c[1].metadata.nbgrader.update(grade_id="01_other-x"), r"must start with this notebook's lesson id"),
    (lambda c: c[2].metadata.nbgrader.update(grade_id="00_demo-x_grade"), r"needs grade_id '00_demo-x-grade'"),
    (lambda c: setattr(c[2], "source", 'check("00_demo-y", x)'), r"no earlier solution cell"),
    (lambda c: setattr(c[2], "source", 'check("00_demo-x", x)\ncheck("00_demo-x", x)'), r"exactly once \(found 2\)"),
    (lambda c: c.pop(2), r"no grade cell for 00_demo-x"),
])
def test_exercises_rejects_broken_ids_with_a_clear_message(change, message):
    with pytest.raises(NotebookFormatError, match=message):
        notebook.exercises(_notebook(*_broken(change)), "demo.ipynb")


def test_a_second_solution_with_the_same_id_is_an_error():
    with pytest.raises(NotebookFormatError, match="demo.ipynb cell 4: a second solution cell"):
        notebook.exercises(_notebook(*_exercise("00_demo-x"), *_exercise("00_demo-x")), "demo.ipynb")


def test_without_lesson_metadata_each_id_names_its_own_lesson():
    nb = new_notebook(cells=_exercise("07_new-x"))
    assert list(notebook.exercises(nb)) == ["07_new-x"]
