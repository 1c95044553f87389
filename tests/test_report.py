"""The README's generated blocks (lessons from the notebooks' metadata, reproduced numbers from results/)
must never drift."""
from pathlib import Path

import pytest

from elbo_course import report

ROOT = Path(__file__).resolve().parents[1]


def test_readme_results_block_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, stop = text.index(report.BEGIN), text.index(report.END) + len(report.END)
    assert text[start:stop] == report.results_block(), (
        "README.md's results table is stale: run `python -m elbo_course.report --write README.md`.")


def test_readme_lessons_table_is_current():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(report.LESSONS_BEGIN)
    stop = text.index(report.LESSONS_END) + len(report.LESSONS_END)
    assert text[start:stop] == report.lessons_block(), (
        "README.md's lessons table is stale: run `python -m elbo_course.report --write README.md`.")
    assert text[start:stop].count("\n| ") == 1 + len(list((ROOT / "solutions").glob("*.ipynb")))


def test_lessons_table_names_a_missing_field(tmp_path):
    import nbformat

    (tmp_path / "solutions").mkdir()
    nb = nbformat.v4.new_notebook(metadata={"elbo_course": {"lesson_id": "09_x", "title": "x"}})
    nbformat.write(nb, tmp_path / "solutions" / "09_x.ipynb")
    with pytest.raises(ValueError, match="09_x.ipynb: metadata.elbo_course lacks summary, study_time_minutes"):
        report.lessons_block(tmp_path)


def test_replace_block_round_trip_and_error():
    text = f"intro\n{report.BEGIN}\nold\n{report.END}\nend\n"
    assert report.replace_block(text, "NEW") == "intro\nNEW\nend\n"
    with pytest.raises(ValueError, match="results:begin"):
        report.replace_block("no markers here", "NEW")


def test_quick_start_is_exactly_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in quick.splitlines()[1:] if line.strip()]
    assert commands == ["make lab", "make test"]
