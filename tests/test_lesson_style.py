"""One style across the lessons (issue #11): headings, exercise prompts, study times, figure sizes, and
no run-dependent numbers such as machine load averages in the stored outputs."""
from __future__ import annotations

import base64
import re
import struct
from pathlib import Path

import nbformat
import pytest

from elbo_course.grading import get_spec, notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
IDS = [p.stem for p in SOLUTIONS]
DPI, MAX_INCHES, SLACK_PX = 90, (8.0, 4.0), 12
EXERCISE_HEADING = re.compile(r"^### Exercise (\d+)\.(\d+)[a-z]? \((★{1,3})\)", re.M)


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_title_heading_and_study_time_agree_with_the_metadata(path):
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    first = nb.cells[0].source.split("\n")[0]
    assert re.match(rf"^# {number} · \S", first), f"the title should read '# {number} · Title', got {first!r}"
    minutes = nb.metadata.get("elbo_course", {}).get("study_time_minutes")
    assert isinstance(minutes, int) and minutes > 0, "metadata.elbo_course.study_time_minutes (int) is missing"
    stated = re.findall(r"\*\*Study time\.?\*\*\.?\s*(?:About|about)\s+(\d+)\s+minutes", nb.cells[0].source)
    assert stated == [str(minutes)], f"the header states {stated} minutes, the metadata {minutes}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_every_exercise_has_one_heading_with_its_stars_and_a_hint(path):
    nb = nbformat.read(path, as_version=4)
    exercises = notebook.exercises(nb, path.name)
    headings = [m for c in nb.cells if c.cell_type == "markdown" for m in EXERCISE_HEADING.finditer(c.source)]
    assert len(headings) >= len(exercises) >= 2
    assert all(int(m.group(1)) == int(path.name[:2]) for m in headings), "exercise numbers start with the lesson's"
    for exercise_id, exercise in exercises.items():
        found = EXERCISE_HEADING.search(exercise.prompt)
        assert found, f"{exercise_id}: its prompt has no '### Exercise N.M (★)' heading"
        assert len(found.group(3)) == get_spec(exercise_id).difficulty, f"{exercise_id}: stars differ from the spec"
        assert "**Hint:**" in exercise.prompt, f"{exercise_id}: the prompt has no '**Hint:**' line"


def _png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data)
    return struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_stored_figures_fit_eight_by_four_inches(path):
    limit = (MAX_INCHES[0] * DPI + SLACK_PX, MAX_INCHES[1] * DPI + SLACK_PX)
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                width, height = _png_size(png)
                assert width <= limit[0] and height <= limit[1], f"cell {index}: a {width}x{height} px figure"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_no_load_averages_or_timings_in_outputs(path):
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        text = cell.source if cell.cell_type == "markdown" else ""
        text += "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", []))
        assert not re.search(r"load average|load avg|loadavg", text, re.I), f"cell {index} mentions a load average"


@pytest.mark.parametrize("path", SOLUTIONS, ids=IDS)
def test_explorers_show_a_picture_without_a_kernel(path):
    """A notebook opened without a kernel (or untrusted) renders the richest safe type: it must be the
    explorer's picture, never the widget's repr (``figures.explorer``)."""
    from elbo_course.figures import EXPLORER_TEXT

    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                assert "image/png" in data, f"cell {index}: an explorer without its picture"
                assert data.get("text/plain") == EXPLORER_TEXT, f"cell {index}: {data.get('text/plain', '')[:40]!r}"
