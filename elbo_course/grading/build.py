"""Write the student notebooks ``lessons/`` from the single source ``solutions/``.

    python -m elbo_course.grading.build lessons   # (re)write lessons/*.ipynb, delete lessons whose solution is gone
    python -m elbo_course.grading.build check     # exit 1 and list the differences when lessons/ is stale

Every solution notebook is first validated against the exercise format of ``grading.notebook`` (legal,
matching ids in the solution cell, the grade cell and its ``check`` call; markers alone on their lines,
in the right cells); a violation stops the build with a message naming the cell, and nothing is written.
Then, for every code cell:

* the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (a cell with nbgrader ``solution``
  metadata) become one line, at the indentation of the BEGIN marker,
  ``raise NotImplementedError("Exercise <grade_id>: <instruction>")``; code before and after the region
  (e.g. the ``def f(x):`` line) stays. ``<instruction>`` is ``metadata.elbo_course.instruction`` of
  the cell, or a default;
* the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` (a grade cell) are removed;
* a cell whose source changed loses its outputs and execution count, and so does every other code cell that
  mentions an answer name (``answer_names``) or calls ``progress(`` (the progress table), so that no lesson
  keeps an output showing an answer or a solved exercise;
* solution and grade cells get the tag ``raises-exception``, so that Run All goes on past an unsolved
  exercise (JupyterLab and nbclient honour it; the stub shows one "not solved yet" line, see
  ``runtime.setup``), while under nbgrader an unsolved exercise still scores zero;
* the notebook's kernelspec becomes ``KERNELSPEC`` (what JupyterLab itself writes, so that opening a
  lesson does not mark it as changed); other cells are copied unchanged.

Output is deterministic (``nbformat.writes``: sorted keys, one-space indent, trailing newline) and every
file is written atomically (temporary file in the same folder, then ``os.replace``).
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import nbformat

from ..fileio import atomic_write
from ..runtime import CHECK_CALL
from .notebook import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION, NotebookFormatError,
                       PROGRESS_CALL, check_marker_lines, exercises, has_marker, is_grade_cell, is_solution_cell,
                       marker_regions, nbgrader)

DEFAULT_INSTRUCTION = "replace this line with your code"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
RUN_ON_TAG = "raises-exception"
_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(")
_ASSIGN = re.compile(r"^([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]*)?=(?!=)")
COMMAND = "python -m elbo_course.grading.build"


def stub_source(source: str, grade_id: str | None, instruction: str = DEFAULT_INSTRUCTION,
                where: str = "cell") -> str:
    """The student version of one code cell's source (solution regions stubbed, hidden tests removed)."""
    lines = source.split("\n")
    check_marker_lines(lines, where)
    solutions = marker_regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
    hidden = marker_regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
    if solutions and not grade_id:
        raise NotebookFormatError(f"{where}: a solution region needs nbgrader metadata "
                                  "{'solution': true, 'grade_id': '<lesson_id>-<name>'} on its cell.")
    replace = dict(solutions)
    drop = dict(hidden)
    out, i = [], 0
    while i < len(lines):
        if i in replace:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            message = json.dumps(f"Exercise {grade_id}: {instruction}", ensure_ascii=False)
            out.append(f"{indent}raise NotImplementedError({message})")
            i = replace[i]
        elif i in drop:
            i = drop[i]
        else:
            out.append(lines[i])
            i += 1
    while hidden and out and not out[-1].strip():  # no blank tail where the hidden block was
        out.pop()
    return "\n".join(out)


def answer_source(source: str, where: str = "cell") -> str:
    """A code cell as its solved form reads (answer decks, answer pages, a student who typed the solution): the
    ``### BEGIN/END SOLUTION`` lines dropped with the code between them kept, and hidden tests removed."""
    if has_marker(source, BEGIN_HIDDEN, END_HIDDEN):
        source = stub_source(source, None, where=where)
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


def answer_names(solution: nbformat.NotebookNode, name: str = "notebook") -> set[str]:
    """Names that hold an exercise's answer: the argument of every ``check("<id>", name)``, each function
    whose body is a solution region, and each top-level name a solution region assigns that a later
    non-exercise cell reads."""
    names: set[str] = set()
    assigned: list[tuple[int, set[str]]] = []
    for index, cell in enumerate(solution.cells):
        if cell.cell_type != "code":
            continue
        names |= {match["name"] for match in CHECK_CALL.finditer(cell.source)}
        if not is_solution_cell(cell):
            continue
        lines = cell.source.split("\n")
        here: set[str] = set()
        for begin, end in marker_regions(lines, BEGIN_SOLUTION, END_SOLUTION, f"{name} cell {index}"):
            defs = [m.group(1) for m in map(_DEF.match, lines[:begin]) if m]
            if defs and lines[begin].startswith((" ", "\t")):
                names.add(defs[-1])
            for line in lines[begin + 1:end]:
                match = _ASSIGN.match(line)
                if match:
                    here |= {n.strip() for n in match.group(1).split(",")}
        assigned.append((index, here))
    for index, here in assigned:
        later = "\n".join(c.source for c in solution.cells[index + 1:]
                          if c.cell_type == "code" and not is_solution_cell(c) and not is_grade_cell(c))
        names |= {n for n in here if _mentions(later, {n})}
    return names


def _mentions(source: str, names: set[str]) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}\b", source) for n in names)


def tag_run_on(cell: nbformat.NotebookNode) -> None:
    """Give a solution or grade cell the tag ``RUN_ON_TAG`` (in place; once), so that Run All goes past it."""
    if is_solution_cell(cell) or is_grade_cell(cell):
        tags = list(cell.metadata.get("tags", []))
        cell.metadata["tags"] = tags if RUN_ON_TAG in tags else tags + [RUN_ON_TAG]


def lesson_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A deep copy of ``solution`` with every code cell passed through ``stub_source``.

    Raises NotebookFormatError (naming ``name`` and the cell) for a notebook that breaks the format.
    """
    lesson = copy.deepcopy(solution)
    lesson.metadata["kernelspec"] = dict(KERNELSPEC)
    answers = answer_names(solution, name)
    for index, cell in enumerate(lesson.cells):
        where = f"{name} cell {index}"
        if cell.cell_type != "code":
            if has_marker(cell.source):
                raise NotebookFormatError(f"{where}: solution/hidden-test markers belong in code cells only.")
            continue
        if has_marker(cell.source, BEGIN_HIDDEN, END_HIDDEN) and not is_grade_cell(cell):
            raise NotebookFormatError(f"{where}: hidden tests belong in a grade cell (nbgrader 'grade': true).")
        grade_id = nbgrader(cell).get("grade_id") if is_solution_cell(cell) else None
        instruction = cell.metadata.get("elbo_course", {}).get("instruction", DEFAULT_INSTRUCTION)
        new_source = stub_source(cell.source, grade_id, instruction, where)
        if new_source != cell.source or _mentions(cell.source, answers) or PROGRESS_CALL.search(cell.source):
            cell.source = new_source
            cell.outputs = []
            cell.execution_count = None
        tag_run_on(cell)
    exercises(solution, name)  # ids, grade cells and check() calls follow grading.notebook
    return lesson


def render(nb: nbformat.NotebookNode) -> str:
    """The exact file text written for a notebook (stable JSON, trailing newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def expected_lessons(solutions_dir: Path) -> dict[str, str]:
    """File name -> text of every lesson that ``solutions_dir`` produces."""
    result = {}
    for path in sorted(Path(solutions_dir).glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        result[path.name] = render(lesson_notebook(solution, name=str(path)))
    return result


def differences(solutions_dir: Path, lessons_dir: Path) -> list[str]:
    """Human-readable list of what ``build lessons`` would change in ``lessons_dir`` (empty when up to date)."""
    wanted = expected_lessons(solutions_dir)
    lessons_dir = Path(lessons_dir)
    present = {p.name for p in lessons_dir.glob("*.ipynb")} if lessons_dir.is_dir() else set()
    diffs = [f"missing: {lessons_dir / n}" for n in sorted(set(wanted) - present)]
    diffs += [f"stale: {lessons_dir / n}" for n in sorted(set(wanted) & present)
              if (lessons_dir / n).read_text(encoding="utf-8") != wanted[n]]
    diffs += [f"no solution (would be removed): {lessons_dir / n}" for n in sorted(present - set(wanted))]
    return diffs


def write_lessons(solutions_dir: Path, lessons_dir: Path) -> list[str]:
    """Write every lesson whose text changed, remove lessons without a solution; return what changed."""
    wanted = expected_lessons(solutions_dir)  # build everything first: an error writes nothing
    lessons_dir = Path(lessons_dir)
    lessons_dir.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in wanted.items():
        path = lessons_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write(path, text)
            changed.append(f"wrote {path}")
    for path in sorted(lessons_dir.glob("*.ipynb")):
        if path.name not in wanted:
            path.unlink()
            changed.append(f"removed {path} (its solution is gone)")
    return changed


def main(argv: list[str] | None = None) -> int:
    """The command line; returns 0 (done / up to date), 1 (lessons/ stale) or 2 (a notebook breaks the format)."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("lessons", "check"))
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="repository root holding solutions/ and lessons/ (default: current folder)")
    args = parser.parse_args(argv)
    solutions, lessons = args.root / "solutions", args.root / "lessons"
    if not solutions.is_dir():
        print(f"No {solutions}/ here: run this from the repository root or pass --root.", file=sys.stderr)
        return 2
    try:
        if args.command == "lessons":
            for line in write_lessons(solutions, lessons):
                print(line)
            return 0
        diffs = differences(solutions, lessons)
    except NotebookFormatError as err:
        print(f"build error: {err}", file=sys.stderr)
        return 2
    for line in diffs:
        print(line)
    if diffs:
        print(f"lessons/ is stale: run `make lessons` ({COMMAND} lessons).", file=sys.stderr)
        return 1
    print("lessons/ is up to date.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
