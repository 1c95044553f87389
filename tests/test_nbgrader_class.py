"""A graded class, simulated end to end with the real nbgrader (the `instructor` extra in .venv-instructor).

The instructor exports lessons 00 and 04 with one private test, generates and releases them through an
exchange folder; three students with home folders of their own fetch and submit: alice the solutions, bob the
untouched lessons, carol planted mistakes (an answer off by log K, a log-mean-exp without the max-shift, a
sign error, a wrong shape, a 0-d tensor where the stub asks for a float, which only the private test rejects,
and an endless loop). The instructor collects, autogrades and generates feedback; the scores are read back
from nbgrader's gradebook. Run by `make test` (which builds .venv-instructor); without it the tests skip
with the command to run, except under CI=true, where they fail. About 3 minutes on 2 cores.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from elbo_course.data import default_root
from elbo_course.grading.build import answer_source
from elbo_course.grading.notebook import nbgrader
from missing_tools import missing_tool

REPO = Path(__file__).resolve().parents[1]
IBIN = REPO / ".venv-instructor" / "bin"
LESSONS = ("00_start_here", "04_iwae")
COURSE = "elbo_course"
pytestmark = pytest.mark.slow

PRIVATE_00 = """# Private tests of lesson 00 (this simulated instructor's own)
# %% 00_start_here-pixel_baseline
assert isinstance(pixel_baseline_nats, float), "pixel_baseline_nats must be a Python float: wrap it in float(...)"
"""

# carol's answers: exercise id -> (old, new) replacements in the solution's code
CAROL = {
    "00_start_here-pixel_baseline": ("pixel_baseline_nats = float(torch.log(prob_of_value).sum(dim=1).mean())",
                                     "pixel_baseline_nats = torch.log(prob_of_value).sum(dim=1).mean()"),
    "00_start_here-jensen": ("log_of_mean = float(log_mean_exp(jensen_log_w))",
                             "log_of_mean = float(torch.logsumexp(jensen_log_w, dim=0))"),
    "04_iwae-iwae_bound": ("return col_max + torch.log(torch.exp(log_w - col_max).mean(dim=0))",
                           "return torch.log(torch.exp(log_w).mean(dim=0))"),
    "04_iwae-finite_variance_threshold": ("variance_threshold = 0.4 / 2",
                                          "while True:\n    pass\nvariance_threshold = 0.4 / 2"),
    "04_iwae-iwae_gradient": ("return (w_tilde.unsqueeze(-1) * grad_log_w).sum(dim=0)",
                              "return -(w_tilde.unsqueeze(-1) * grad_log_w).sum(dim=0)"),
    "04_iwae-qew_mass": ('"mass": float(single_masses.mean())', '"mass": single_masses'),
}
CAROL_MESSAGES = {  # what the feedback tells carol for each lost exercise
    "00_start_here-pixel_baseline": "must be a Python float",
    "00_start_here-jensen": "log K",
    "04_iwae-iwae_bound": "subtract the maximum before exponentiating",
    "04_iwae-finite_variance_threshold": "not solved yet",    # and its cell says why (the time limit)
    "04_iwae-iwae_gradient": "wrong sign",
    "04_iwae-qew_mass": "shape",
}
EXPECTED = {"alice": {"00_start_here": 2, "04_iwae": 5}, "bob": {"00_start_here": 0, "04_iwae": 0},
            "carol": {"00_start_here": 0, "04_iwae": 1}}

GRADEBOOK = """
import json, sys
from nbgrader.api import Gradebook
out = {}
with Gradebook("sqlite:///gradebook.db", course_id=sys.argv[1]) as gb:
    for assignment in sys.argv[2:]:
        for sub in gb.assignment_submissions(assignment):
            cells = {g.name: g.score for nb in sub.notebooks for g in nb.grades}
            out.setdefault(sub.student_id, {})[assignment] = {"score": sub.score, "max": sub.max_score, "cells": cells}
print(json.dumps(out))
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(args: list[str], cwd: Path, home: Path, user: str, timeout: float = 600, check: bool = True) -> str:
    env = {**os.environ, "HOME": str(home), "USER": user, "LOGNAME": user, "PYTHONNOUSERSITE": "1",
           "ELBO_COURSE_DATA": str(default_root()),   # as a hub's spawner gives every kernel (INSTRUCTORS.md)
           "PATH": f"{IBIN}{os.pathsep}{os.environ.get('PATH', '')}"}   # as after `source .venv-instructor/bin/activate`
    env.pop("JUPYTER_CONFIG_DIR", None)
    env.pop("NBGRADER_EXECUTION", None)
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


def _solved_sources(lesson: str) -> dict[str, str]:
    """exercise id -> the solution cell's code without the markers (what a student who solved it typed)."""
    nb = nbformat.read(REPO / "solutions" / f"{lesson}.ipynb", as_version=4)
    return {nbgrader(c)["grade_id"]: answer_source(c.source) for c in nb.cells if nbgrader(c).get("solution")}


def _answer(path: Path, sources: dict[str, str]) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        exercise_id = nbgrader(cell).get("grade_id")
        if nbgrader(cell).get("solution") and exercise_id in sources:
            cell.source = sources[exercise_id]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    if not (IBIN / "nbgrader").exists():
        missing_tool("nbgrader is not installed: run `make instructor` (the `instructor` extra in .venv-instructor).")
    root = tmp_path_factory.mktemp("class")
    exchange, course, private = root / "exchange", root / "course", root / "private"
    for folder in (exchange, private):
        folder.mkdir()
    (private / "00_start_here.py").write_text(PRIVATE_00, encoding="utf-8")
    teacher = root / "home" / "teacher"
    teacher.mkdir(parents=True)
    xopt = f"--Exchange.root={exchange}"

    def nbgrader_as(user: str, *args: str, cwd: Path | None = None) -> str:
        home = root / "home" / user
        home.mkdir(parents=True, exist_ok=True)
        return _run([str(IBIN / "nbgrader"), *args, xopt], cwd or home, home, user)

    _run([str(IBIN / "elbo-course"), "nbgrader", str(course), "--private-tests", str(private),
          "--lessons", *LESSONS, "--data", str(default_root())], root, teacher, "teacher")
    for lesson in LESSONS:
        nbgrader_as("teacher", "generate_assignment", lesson, "--force", cwd=course)
        nbgrader_as("teacher", "release_assignment", lesson, "--force", cwd=course)
    submitted = {}
    for student in EXPECTED:
        for lesson in LESSONS:
            nbgrader_as(student, "fetch_assignment", lesson, f"--course={COURSE}")
            path = root / "home" / student / lesson / f"{lesson}.ipynb"
            solved = _solved_sources(lesson)
            if student == "alice":
                _answer(path, solved)
            elif student == "carol":
                edits = {k: solved[k].replace(*CAROL[k]) for k in solved if k in CAROL}
                assert all(edits[k] != solved[k] for k in edits), "a planted mistake did not apply"
                _answer(path, {**solved, **edits})
            # one machine, one OS user: the student id is given (on a hub it is the user's login name)
            nbgrader_as(student, "submit", lesson, f"--course={COURSE}", f"--CourseDirectory.student_id={student}")
            submitted[(student, lesson)] = (path, _sha(path))
    validated = {student: _run([str(IBIN / "nbgrader"), "validate", "00_start_here/00_start_here.ipynb"],
                               root / "home" / student, root / "home" / student, student, check=False)
                 for student in ("alice", "bob")}   # the students' Validate button
    logs = {}
    for lesson in LESSONS:
        nbgrader_as("teacher", "collect", lesson, cwd=course)
        logs[lesson] = nbgrader_as("teacher", "autograde", lesson, "--force", cwd=course)
        nbgrader_as("teacher", "generate_feedback", lesson, "--force", cwd=course)
    scores = json.loads(_run([str(IBIN / "python"), "-c", GRADEBOOK, COURSE, *LESSONS], course, teacher, "teacher"))
    return {"root": root, "course": course, "scores": scores, "submitted": submitted, "logs": logs,
            "validated": validated}


def test_scores_from_the_gradebook(graded_class):
    scores = graded_class["scores"]
    got = {student: {lesson: scores[student][lesson]["score"] for lesson in LESSONS} for student in EXPECTED}
    assert got == EXPECTED
    assert {scores["alice"][lesson]["max"] for lesson in LESSONS} == {2.0, 5.0}


def test_carol_loses_exactly_the_broken_exercises(graded_class):
    cells = {**graded_class["scores"]["carol"]["00_start_here"]["cells"],
             **graded_class["scores"]["carol"]["04_iwae"]["cells"]}
    lost = {name.removesuffix("-grade") for name, score in cells.items() if score == 0}
    assert lost == set(CAROL)
    assert cells["04_iwae-active_units-grade"] == 1


def _feedback(graded_class, student: str, lesson: str) -> str:
    path = graded_class["course"] / "feedback" / student / lesson / f"{lesson}.html"
    return path.read_text(encoding="utf-8")


def _errors(graded_class, student: str, lesson: str, kind: str = "grade") -> dict[str, str]:
    """grade id -> the text of the error outputs of each ``kind`` ("grade" or "solution") cell, as graded."""
    path = graded_class["course"] / "autograded" / student / lesson / f"{lesson}.ipynb"
    nb = nbformat.read(path, as_version=4)
    ansi = re.compile(r"\x1b\[[0-9;]*m")
    return {nbgrader(c)["grade_id"]: ansi.sub("", "\n".join("\n".join(o.get("traceback", [])) for o in c.outputs
                                                          if o.output_type == "error"))
            for c in nb.cells if nbgrader(c).get(kind)}


def test_every_lost_exercise_gets_a_message_a_student_can_act_on(graded_class):
    for lesson in LESSONS:
        for grade_id, text in _errors(graded_class, "bob", lesson).items():
            assert "not solved yet" in text, (grade_id, text)
        carol = _errors(graded_class, "carol", lesson)
        for exercise_id, words in CAROL_MESSAGES.items():
            if exercise_id.startswith(lesson):
                assert words in carol[f"{exercise_id}-grade"], (exercise_id, carol[f"{exercise_id}-grade"])
        assert not any(_errors(graded_class, "alice", lesson).values())
    looped = _errors(graded_class, "carol", "04_iwae", "solution")["04_iwae-finite_variance_threshold"]
    assert "did not finish within 30 s" in looped and "while True" in looped


def test_feedback_hides_hidden_and_private_tests(graded_class):
    for student in EXPECTED:
        for lesson in LESSONS:
            html = _feedback(graded_class, student, lesson)
            assert "BEGIN HIDDEN TESTS" not in html and "verify(" not in html and "b64decode" not in html
            assert "isinstance(pixel_baseline_nats" not in html
    released = graded_class["course"] / "release" / "00_start_here" / "00_start_here.ipynb"
    text = released.read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in text and "private_tests" not in text and "BEGIN SOLUTION" not in text


def test_students_files_are_never_modified(graded_class):
    course = graded_class["course"]
    for (student, lesson), (path, digest) in graded_class["submitted"].items():
        assert _sha(path) == digest
        assert _sha(course / "submitted" / student / lesson / f"{lesson}.ipynb") == digest


def test_the_student_version_runs_through_like_our_lessons(graded_class):
    """bob's notebook (nbgrader's student version, untouched) executed to the end: every cell after the first
    stub ran, the stubs show one line, and the progress cell was skipped under grading."""
    nb = nbformat.read(graded_class["course"] / "autograded" / "bob" / "04_iwae" / "04_iwae.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "a cell was not executed"
    last = "".join(o.get("text", "") for o in code[-1].outputs)
    assert "Progress table skipped" in last
    stubs = [c for c in code if nbgrader(c).get("solution") and re.search(r"^raise NotImplementedError", c.source, re.M)]
    assert stubs and all(any("This exercise is not solved yet" in "".join(o.get("traceback", []))
                             for o in c.outputs) for c in stubs)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))


def test_validate_button_passes_the_solutions_and_explains_the_stubs(graded_class):
    alice, bob = graded_class["validated"]["alice"], graded_class["validated"]["bob"]
    assert "Success! Your notebook passes all the tests." in alice
    assert "VALIDATION FAILED" in bob and bob.count("not solved yet") >= 2
