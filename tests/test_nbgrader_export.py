"""The nbgrader export without nbgrader: source notebooks, private tests, settings, the command line, progress.

(The class simulated with the real nbgrader is tests/test_nbgrader_class.py.)
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from elbo_course import cli, runtime
from elbo_course.data import default_root
from elbo_course.grading import build, get_spec, nbgrader_course, private_tests
from elbo_course.grading import progress_table as progress_module
from elbo_course.grading.feedback import PrivateTestFailed, is_stub
from elbo_course.grading.notebook import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, NBGRADER_STUB, NotebookFormatError,
                                          exercises, is_grade_cell, is_solution_cell, nbgrader)

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
IDS = ["04_iwae-iwae_bound", "04_iwae-active_units"]


# ----- private tests ---------------------------------------------------------------------------------

def test_parse_splits_sections_and_keeps_line_numbers():
    text = "# my tests\n\n# %% 04_iwae-iwae_bound\nx = 1\n\n# %% 04_iwae-active_units\nassert False, 'no'\n"
    code = private_tests.parse(text, "t.py", IDS)
    assert code == {"04_iwae-iwae_bound": "x = 1\n", "04_iwae-active_units": "assert False, 'no'\n"}


@pytest.mark.parametrize("text, message", [
    ("x = 1\n# %% 04_iwae-iwae_bound\n", r"t\.py:1: code before the first"),
    ("# %% 04_iwae-iwae_bund\n", r"t\.py:1: '04_iwae-iwae_bund' is not an exercise of this lesson; its exercises are "
                                 r"04_iwae-iwae_bound, 04_iwae-active_units"),
    ("# %% 04_iwae-iwae_bound\n\n# %% 04_iwae-iwae_bound\n", r"t\.py:3: a second section"),
    ("# %% 04_iwae-iwae_bound\nx = 1\nif x\n", r"t\.py:3: syntax error in the tests of 04_iwae-iwae_bound"),
])
def test_parse_rejects_what_would_drop_or_break_a_test(text, message):
    with pytest.raises(NotebookFormatError, match=message):
        private_tests.parse(text, "t.py", IDS)


def test_read_rejects_a_file_named_after_no_lesson(tmp_path):
    (tmp_path / "04_iwea.py").write_text("# %% 04_iwae-iwae_bound\n")
    with pytest.raises(NotebookFormatError, match="no exported lesson is called '04_iwea'"):
        private_tests.read_private_tests(tmp_path, {"04_iwae": IDS})
    with pytest.raises(NotebookFormatError, match="is not a folder"):
        private_tests.read_private_tests(tmp_path / "missing", {"04_iwae": IDS})


def test_merged_test_runs_in_the_namespace_and_fails_without_showing_its_code():
    code = "secret_input = torch.zeros(3, 2)\nassert my_iwae_bound(secret_input).shape == (2,), 'one bound per column'\n"
    source = private_tests.merge('check("04_iwae-iwae_bound", my_iwae_bound)\n' + BEGIN_HIDDEN + "\nverify()\n"
                                 + END_HIDDEN, "04_iwae-iwae_bound", code)
    lines = source.split("\n")
    assert lines[-1] == END_HIDDEN and lines[-3] == "verify()" and "secret_input" not in source
    hidden = lines[-2]
    namespace = {"torch": torch, "my_iwae_bound": lambda w: torch.logsumexp(w, 0)}
    exec(hidden, namespace)                                    # passes
    namespace["my_iwae_bound"] = lambda w: torch.logsumexp(w, 0, keepdim=True)
    with pytest.raises(PrivateTestFailed) as info:
        exec(hidden, namespace)
    shown = "\n".join(info.value._render_traceback_())
    assert "a private test of your instructor failed: AssertionError: one bound per column" in shown
    assert "secret_input" not in shown and "b64" not in shown
    assert private_tests.merge("check('x-y', a)", "04_iwae-iwae_bound", code).split("\n")[1] == BEGIN_HIDDEN


def test_private_test_shows_the_students_frames_of_an_error():
    def broken(w):
        return w.no_such_method()

    line = private_tests.hidden_line("04_iwae-iwae_bound", "my_iwae_bound(torch.zeros(2, 2))\n")
    with pytest.raises(PrivateTestFailed) as info:
        exec(line, {"torch": torch, "my_iwae_bound": broken})
    shown = str(info.value)
    assert "AttributeError" in shown and "in broken" in shown and "w.no_such_method()" in shown


# ----- the source notebooks and the course folder ----------------------------------------------------

def test_source_notebook_tags_and_merges_and_changes_nothing_else():
    path = ROOT / "solutions" / "04_iwae.ipynb"
    solution = nbformat.read(path, as_version=4)
    source = nbgrader_course.source_notebook(solution, {"04_iwae-active_units": "assert True\n"}, str(path))
    assert len(source.cells) == len(solution.cells)
    for before, after in zip(solution.cells, source.cells):
        tags = after.metadata.get("tags", [])
        assert (build.RUN_ON_TAG in tags) == (is_solution_cell(after) or is_grade_cell(after))
        if nbgrader(after).get("grade_id") == "04_iwae-active_units-grade":
            assert after.source.startswith(before.source.split(END_HIDDEN)[0])
            assert "private_tests" in after.source and after.source.endswith(END_HIDDEN)
        else:
            assert after.source == before.source
    assert source.metadata.kernelspec == build.KERNELSPEC


def test_export_writes_the_course_and_keeps_the_instructors_config(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "00_start_here.py").write_text("# %% 00_start_here-jensen\nassert jensen_answer\n")
    course = tmp_path / "course"
    lines = nbgrader_course.export(course, ROOT / "solutions", private_tests=private,
                                   lessons=["00_start_here", "04_iwae"], data=default_root())
    assert sorted(p.relative_to(course).as_posix() for p in course.rglob("*") if p.is_file()) == [
        "elbo_course_nbgrader.py", "nbgrader_config.py", "source/00_start_here/00_start_here.ipynb",
        "source/04_iwae/04_iwae.ipynb"]
    assert any("(1 exercises with private tests)" in line for line in lines)
    settings = (course / "elbo_course_nbgrader.py").read_text()
    ast.parse(settings)
    assert "c.Execute.timeout = 30" in settings and repr(NBGRADER_STUB) in settings and "ClearHiddenTests" in settings
    assert repr(str(default_root().resolve())) in settings and "ELBO_COURSE_GRADED" in settings
    config = course / "nbgrader_config.py"
    assert "load_subconfig('elbo_course_nbgrader.py')" in config.read_text()
    config.write_text(config.read_text() + "c.Exchange.root = '/srv/x'\n")
    nbgrader_course.export(course, ROOT / "solutions", lessons=["00_start_here"], data=default_root())
    assert "/srv/x" in config.read_text(), "a second export must keep the instructor's config"


def test_export_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="surgery.json.*pass --results"):
        nbgrader_course.export(tmp_path / "c", ROOT / "solutions", results=tmp_path, data=default_root())
    with pytest.raises(FileNotFoundError, match=r"MNIST is missing.*python -m elbo_course\.data fetch --root"):
        nbgrader_course.export(tmp_path / "c", ROOT / "solutions", data=tmp_path)
    with pytest.raises(ValueError, match="No lesson 99_x"):
        nbgrader_course.export(tmp_path / "c", ROOT / "solutions", lessons=["99_x"], data=default_root())
    assert not (tmp_path / "c").exists(), "nothing is written before everything is checked"


def test_console_script(tmp_path, capsys):
    assert cli.main([]) == 2 and "nbgrader" in capsys.readouterr().err
    code = cli.main(["nbgrader", str(tmp_path / "c"), "--lessons", "01_jensen_and_the_elbo", "--data",
                     str(default_root())])
    assert code == 0 and "nbgrader generate_assignment" in capsys.readouterr().out
    assert cli.main(["nbgrader", str(tmp_path / "d"), "--private-tests", str(tmp_path / "none")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    script = Path(sys.executable).parent / "elbo-course"
    if script.exists():  # installed by pip from [project.scripts]
        done = subprocess.run([str(script)], capture_output=True, text=True)
        assert done.returncode == 2 and "subcommands" in done.stderr


# ----- the stub nbgrader writes, and the progress table ----------------------------------------------

def test_nbgraders_stub_is_shown_and_graded_as_not_solved():
    err = NotImplementedError(ast.literal_eval(NBGRADER_STUB.split("(", 1)[1][:-1]))
    assert is_stub(err, "04_iwae-iwae_bound")
    line = runtime.exercise_stub_message(err, None)
    assert line.startswith("⏳ This exercise is not solved yet: replace the stub line")
    ours = NotImplementedError("Exercise 04_iwae-iwae_bound: do it")
    assert runtime.exercise_stub_message(ours, None).startswith("⏳ Exercise 04_iwae-iwae_bound is not solved yet")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_specs_name_the_answers_in_the_notebooks_order(path):
    nb = nbformat.read(path, as_version=4)
    lesson = nb.metadata["elbo_course"]["lesson_id"]
    checked = [re.search(r'check\("([^"]+)",\s*(\w+)', c.source).groups() for c in nb.cells if is_grade_cell(c)]
    assert [(s.exercise_id, s.answer) for s in progress_module.lesson_specs(lesson)] == checked
    assert list(exercises(nb)) == [exercise_id for exercise_id, _ in checked]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_lesson_ends_with_its_progress_table(path):
    solution = nbformat.read(path, as_version=4)
    lesson = solution.metadata["elbo_course"]["lesson_id"]
    last = solution.cells[-1]
    assert last.cell_type == "code" and f'progress("{lesson}", globals())' in last.source
    stored = "".join(o.get("text", "") for o in last.outputs)
    n = len(progress_module.lesson_specs(lesson))
    assert stored.startswith(f"Lesson {lesson}: {n} of {n} exercises pass.")
    student = nbformat.read(ROOT / "lessons" / path.name, as_version=4)
    assert student.cells[-1].outputs == [], "the lesson must not show the solution's 'all pass' table"


def test_progress_rows_and_grading_skip(monkeypatch, capsys):
    def my_iwae_bound(log_w):
        return torch.log(torch.exp(log_w).mean(dim=0))

    def my_active_units(mu):
        raise NotImplementedError(ast.literal_eval(NBGRADER_STUB.split("(", 1)[1][:-1]))

    namespace = {"my_iwae_bound": my_iwae_bound, "my_active_units": my_active_units,
                 "variance_threshold": get_spec("04_iwae-finite_variance_threshold").expected_value()}
    rows = {name: (status, message) for name, status, message in progress_module.progress_rows("04_iwae", namespace)}
    assert rows["iwae_bound"][0] == "failed" and "NaN/inf" in rows["iwae_bound"][1]
    assert rows["finite_variance_threshold"] == ("passed", "agrees")
    assert rows["active_units"][0] == "not implemented"
    assert rows["qew_mass"] == ("not implemented", "not solved yet: `qew_mass_answer` is not defined (run its cell)")
    monkeypatch.delenv(runtime.GRADER_ENV, raising=False)
    progress_module.progress("04_iwae", namespace)
    assert capsys.readouterr().out.startswith("Lesson 04_iwae: 1 of 5 exercises pass.\nexercise ")
    monkeypatch.setenv(runtime.GRADER_ENV, "autograde")
    progress_module.progress("04_iwae", {})
    assert capsys.readouterr().out.startswith("Progress table skipped")
    with pytest.raises(ValueError, match="No exercises are registered for lesson '04_iwea'"):
        progress_module.lesson_specs("04_iwea")


def test_nbgrader_is_an_extra_and_the_command_is_declared():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.lower().startswith("nbgrader") for dep in project["dependencies"])
    assert project["optional-dependencies"]["instructor"] == ["nbgrader>=0.9.6,<0.10"]
    assert project["scripts"]["elbo-course"] == "elbo_course.cli:main"
    makefile = (ROOT / "Makefile").read_text()
    assert 'pip install --quiet -e ".[instructor]"' in makefile and "test: setup instructor" in makefile
