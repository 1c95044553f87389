"""An nbgrader course made from ``solutions/``: ``elbo-course nbgrader DIR [--private-tests DIR]``.

What the export writes (DIR is created if needed; exporting again updates it)::

    DIR/nbgrader_config.py                     written once, then the instructor's: course id, exchange, ...;
                                               it loads the next file
    DIR/elbo_course_nbgrader.py                rewritten by every export: this course's grading settings
    DIR/source/<lesson_id>/<lesson_id>.ipynb   one assignment per lesson, for ``nbgrader generate_assignment``

A source notebook is the solution notebook with the tag ``raises-exception`` on its solution and grade cells
(as in ``lessons/``: Run All goes on past an unsolved exercise in the student version), the instructor's
private tests (``grading.private_tests``) at the end of their grade cells' hidden blocks, and the kernelspec
JupyterLab writes. Everything else, outputs included, is the solution's: nbgrader clears outputs itself.

The settings in ``elbo_course_nbgrader.py``:

* ``Execute.timeout = 30``: the per-cell limit; an endless loop loses its exercise, the rest is graded
  (``Execute.error_on_timeout``: the message the cell then shows);
* ``ClearSolutions.code_stub``: nbgrader's student version gets the stub ``notebook.NBGRADER_STUB``, which
  ``setup()`` shows as one "not solved yet" line, as our lessons' stubs;
* ``GenerateFeedback.preprocessors`` with ``ClearHiddenTests``: feedback shows no hidden test;
* ``ELBO_COURSE_RESULTS`` and ``ELBO_COURSE_DATA`` (set only where the environment has not set them) and
  ``ELBO_COURSE_GRADED=1`` for the kernels nbgrader starts: a course installed with pip has no ``results/``
  or MNIST of its own (students' kernels on a hub need the same variables, from the spawner's environment).

Autograde and Validate run in the ``ci`` budget without a setting: nbgrader sets ``NBGRADER_EXECUTION`` in the
kernel's environment, and ``runtime.budget`` then chooses ``ci``.
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from ..data import FETCH_COMMAND, bad_files, resolve_root
from ..fileio import atomic_write
from .build import KERNELSPEC, render, tag_run_on
from .check import GRADED_ENV
from .limits import DEFAULT_TIMEOUT
from .notebook import NBGRADER_STUB, NotebookFormatError, exercises
from .private_tests import merge, read_private_tests

COMMAND = "elbo-course nbgrader"
SETTINGS = "elbo_course_nbgrader.py"


def source_notebook(solution: nbformat.NotebookNode, private: dict[str, str] | None = None,
                    name: str = "notebook") -> nbformat.NotebookNode:
    """The nbgrader source of one lesson (see the module docstring); ``private``: exercise id -> test code."""
    found = exercises(solution, name)  # the format checks of the lesson build
    source = copy.deepcopy(solution)
    source.metadata["kernelspec"] = dict(KERNELSPEC)
    for exercise_id, code in (private or {}).items():
        cell = source.cells[found[exercise_id].grade]
        cell.source = merge(cell.source, exercise_id, code)
    for cell in source.cells:
        tag_run_on(cell)
    return source


def settings_text(results: Path, data: Path) -> str:
    """The text of ``elbo_course_nbgrader.py``."""
    return f'''# Written by `{COMMAND}`, and rewritten by every export: put your own settings in nbgrader_config.py.
import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (nbgrader provides it)

# Each cell gets {DEFAULT_TIMEOUT:.0f} s when nbgrader executes a notebook (autograde, Validate); a cell that runs longer
# is interrupted, its exercise scores zero and the cells after it still run.
c.Execute.timeout = {DEFAULT_TIMEOUT:.0f}
c.Execute.error_on_timeout = {{
    "ename": "CellTimeoutError", "evalue": "",
    "traceback": ["⏱ This cell did not finish within {DEFAULT_TIMEOUT:.0f} s, so the grader stopped it: look for a loop that "
                  "never ends (or work far larger than the exercise asks). What this cell should define stays "
                  "undefined, so the exercises that need it score zero; every other cell was still run."]}}
# The stub of the student version (setup() shows it as one "not solved yet" line, like the course's lessons).
c.ClearSolutions.code_stub = {{"python": {NBGRADER_STUB!r}}}
# Feedback shows the student's notebook as graded, without the hidden tests (yours and the course's).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# The kernels nbgrader starts inherit these: where the course's stored results and MNIST are, and that
# check(..., reveal=True) is off. Autograde and Validate use the ci budget (nbgrader sets NBGRADER_EXECUTION).
os.environ.setdefault("ELBO_COURSE_RESULTS", {str(results)!r})
os.environ.setdefault("ELBO_COURSE_DATA", {str(data)!r})
os.environ["{GRADED_ENV}"] = "1"
'''


def config_text(course_id: str) -> str:
    """The text of the instructor's ``nbgrader_config.py`` (written only when absent)."""
    return f'''# nbgrader settings of this course; `{COMMAND}` wrote this file once and never overwrites it.
c = get_config()  # noqa: F821 (nbgrader provides it)

c.CourseDirectory.course_id = {course_id!r}
# The exchange students fetch from and submit to (nbgrader's default is /srv/nbgrader/exchange):
# c.Exchange.root = "/srv/nbgrader/exchange"

# The course's grading settings (timeout, stubs, feedback, where results and data are):
load_subconfig({SETTINGS!r})  # noqa: F821
'''


def _default_results() -> Path:
    from ..experiments.common import results_root

    return results_root()


def check_stored(results: Path, data: Path) -> None:
    """Raise FileNotFoundError saying what to do when the stored results or the MNIST files are missing."""
    from ..experiments import registry

    missing = [f"{name}.json" for name in sorted(registry()) if not (results / f"{name}.json").is_file()]
    if missing:
        raise FileNotFoundError(f"{results} lacks {', '.join(missing)}: pass --results with the course's results/ "
                                "folder (a clone of the repository has it).")
    if bad_files(data):
        raise FileNotFoundError(f"MNIST is missing or damaged under {data}: run `{FETCH_COMMAND} --root {data}` "
                                "or pass --data with a folder that has it.")


def export(course_dir: str | Path, solutions_dir: str | Path, *, private_tests: str | Path | None = None,
           lessons: list[str] | None = None, results: str | Path | None = None, data: str | Path | None = None,
           course_id: str = "elbo_course") -> list[str]:
    """Write the course (see the module docstring); return one line per file written.

    ``lessons``: lesson ids to export (default: every notebook of ``solutions_dir``). Everything is built and
    checked before the first file is written, and each file is written atomically.
    """
    course_dir, solutions_dir = Path(course_dir), Path(solutions_dir)
    results = Path(results).expanduser().resolve() if results else _default_results()
    data = resolve_root(data).resolve()
    check_stored(results, data)
    paths = {p.stem: p for p in sorted(solutions_dir.glob("*.ipynb"))}
    if not paths:
        raise FileNotFoundError(f"No notebooks in {solutions_dir}: pass the course's solutions/ folder.")
    unknown = sorted(set(lessons or ()) - set(paths))
    if unknown:
        raise ValueError(f"No lesson {', '.join(unknown)}; the lessons are {', '.join(paths)}.")
    chosen = {lesson: paths[lesson] for lesson in (lessons or paths)}
    solutions = {lesson: nbformat.read(path, as_version=4) for lesson, path in chosen.items()}
    found = {lesson: list(exercises(nb, str(chosen[lesson]))) for lesson, nb in solutions.items()}
    private = read_private_tests(private_tests, found) if private_tests else {}
    texts = {Path("source", lesson, f"{lesson}.ipynb"):
             render(source_notebook(nb, private.get(lesson), str(chosen[lesson]))) for lesson, nb in solutions.items()}
    texts[Path(SETTINGS)] = settings_text(results, data)
    if not (course_dir / "nbgrader_config.py").exists():
        texts[Path("nbgrader_config.py")] = config_text(course_id)
    written = []
    for relative, text in texts.items():
        atomic_write(course_dir / relative, text)
        tests = len(private.get(relative.stem, {})) if relative.suffix == ".ipynb" else 0
        written.append(f"wrote {course_dir / relative}" + (f" ({tests} exercises with private tests)" if tests else ""))
    return written


def main(argv: list[str] | None = None) -> int:
    """``elbo-course nbgrader DIR [--private-tests DIR] [--lessons ...]``; 0 on success, 2 on an error."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("course_dir", type=Path, help="the nbgrader course folder to write (created if needed)")
    parser.add_argument("--private-tests", type=Path, default=None,
                        help="folder of <lesson_id>.py files with your own hidden tests (see INSTRUCTORS.md)")
    parser.add_argument("--lessons", nargs="+", default=None, help="lesson ids to export (default: all)")
    parser.add_argument("--solutions", type=Path, default=None,
                        help="the course's solutions/ folder (default: the one beside the installed package)")
    parser.add_argument("--results", type=Path, default=None,
                        help="the course's results/ folder (default: the checkout's, else $ELBO_COURSE_RESULTS)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the MNIST data root (default: $ELBO_COURSE_DATA or ~/.cache/elbo_course/data)")
    parser.add_argument("--course-id", default="elbo_course", help="nbgrader course id (first export only)")
    args = parser.parse_args(argv)
    solutions = args.solutions or Path(__file__).resolve().parents[2] / "solutions"
    try:
        lines = export(args.course_dir, solutions, private_tests=args.private_tests, lessons=args.lessons,
                       results=args.results, data=args.data, course_id=args.course_id)
    except (NotebookFormatError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"{COMMAND}: {err}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    print(f"Next: cd {args.course_dir} && nbgrader generate_assignment <lesson_id> (see INSTRUCTORS.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
