"""Lecture decks from the notebooks, offline: ``make slides`` (and ``make slides SOLUTIONS=1``).

    python -m elbo_course.publish.slides [--answers] [--out build] [LESSON ...]

A student deck is built from ``lessons/``, an answer deck (``--answers``) from ``solutions/``, one HTML file
per lesson in ``OUT/slides/`` or ``OUT/slides/answers/``. Before nbconvert's reveal.js exporter sees a notebook
the deck rules below are applied to a copy; the cells' own slide metadata (slide / subslide / fragment /
skip / notes) decides everything else. Rules:

* cells tagged ``setup`` (imports, settings) and cells showing a live explorer (``...explorer(``: a widget
  does nothing without a kernel; the static figure beside it stays) are skipped;
* a student deck skips the exercise cells (stubs), the grade cells and the helper cells that set up an
  exercise's inputs (tagged ``context``);
* an answer deck shows the solution code without the ``### BEGIN/END SOLUTION`` lines and the grade cell's
  visible check without its hidden tests;
* the first line ``# NBVAL_IGNORE_OUTPUT`` (a test marker) is not shown;
* skipped cells are left out of the page altogether (nbconvert would keep them, hidden).

Every script, style sheet and font comes from ``OUT/vendor/`` (a copy of the pinned packages of
``publish.vendor``), through the template ``templates/elbo_reveal``: nbconvert's reveal template without its
mermaid import, reveal.js 4.0.2 at 1280x720 started once MathJax 2 has typeset the page (so that reveal's
copies of fragments for printing carry typeset math; ``handouts`` prints them).
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat

from ..fileio import atomic_write
from ..grading.build import answer_source
from ..grading.notebook import is_grade_cell, is_solution_cell
from . import vendor

WIDTH, HEIGHT = 1280, 720
TEMPLATES = Path(__file__).resolve().parent / "templates"
DECK_VENDOR = ("reveal", "mathjax2", "requirejs", "jquery", "font_awesome", "html_manager")
EXPLORER = re.compile(r"explorer\(")  # figs.qew_explorer(...), figs.elbo_explorer(...)
IGNORE_MARK = "# NBVAL_IGNORE_OUTPUT"


def slide_type(cell: nbformat.NotebookNode) -> str:
    """A cell's ``slideshow.slide_type`` ("-" when it has none: it continues the slide above)."""
    return cell.metadata.get("slideshow", {}).get("slide_type", "-")


def _skip(cell: nbformat.NotebookNode) -> None:
    cell.metadata.setdefault("slideshow", {})["slide_type"] = "skip"


def deck_notebook(nb: nbformat.NotebookNode, answers: bool) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the deck rules of the module docstring applied."""
    deck = copy.deepcopy(nb)
    for cell in deck.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if "setup" in tags or EXPLORER.search(cell.source) or ("context" in tags and not answers):
            _skip(cell)
        elif is_solution_cell(cell) or is_grade_cell(cell):
            if answers:
                cell.source = answer_source(cell.source)
            else:
                _skip(cell)
        if cell.source.startswith(IGNORE_MARK):
            cell.source = cell.source[len(IGNORE_MARK):].lstrip("\n")
    deck.cells = [cell for cell in deck.cells if slide_type(cell) != "skip"]  # nbconvert would keep them, hidden
    return deck


def copy_vendor(out: Path) -> Path:
    """``out/vendor/<package>`` for every package a deck loads (copied from the cache once); returns out/vendor."""
    target = out / "vendor"
    for key in DECK_VENDOR:
        source = vendor.fetch(key)
        if not (target / source.name).is_dir():
            staging = target / f".{source.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(source, staging)
            os.replace(staging, target / source.name)
    return target


def exporter(deck_dir: Path, vendor_dir: Path):
    """nbconvert's SlidesExporter with the template override and every URL pointing into ``vendor_dir``."""
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    rel = Path(os.path.relpath(vendor_dir, deck_dir)).as_posix()
    folder = {key: vendor.PACKAGES[key].folder for key in DECK_VENDOR}
    config = Config({"SlidesExporter": {
        "reveal_url_prefix": f"{rel}/{folder['reveal']}",
        "reveal_theme": "white",
        "reveal_width": str(WIDTH), "reveal_height": str(HEIGHT),
        "reveal_number": "c/t",
        "mathjax_url": f"{rel}/{folder['mathjax2']}/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
        "require_js_url": f"{rel}/{folder['requirejs']}/require.js",
        "jquery_url": f"{rel}/{folder['jquery']}/dist/jquery.min.js",
        "font_awesome_url": f"{rel}/{folder['font_awesome']}/css/font-awesome.min.css",
        "widget_renderer_url": f"{rel}/{folder['html_manager']}/dist/embed-amd.js",
        "exclude_input_prompt": True, "exclude_output_prompt": True,
    }, "TemplateExporter": {"extra_template_basedirs": [str(TEMPLATES)], "template_name": "elbo_reveal"}})
    return SlidesExporter(config=config)


def build_decks(source_dir: Path, out: Path, answers: bool, lessons: list[str] | None = None) -> list[Path]:
    """Write one deck per notebook of ``source_dir`` (or of ``lessons``); return the deck paths."""
    deck_dir = out / "slides" / ("answers" if answers else "")
    vendor_dir = copy_vendor(out)
    export = exporter(deck_dir, vendor_dir)
    written = []
    for path in sorted(Path(source_dir).glob("*.ipynb")):
        if lessons and path.stem not in lessons:
            continue
        deck = deck_notebook(nbformat.read(path, as_version=4), answers)
        html, _ = export.from_notebook_node(deck, resources={"metadata": {"name": path.stem}})
        target = deck_dir / f"{path.stem}.slides.html"
        atomic_write(target, html)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.publish.slides", description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--answers", action="store_true", help="answer decks from solutions/")
    parser.add_argument("--out", type=Path, default=vendor.REPO / "build", help="output folder (default: build/)")
    args = parser.parse_args(argv)
    source = vendor.REPO / ("solutions" if args.answers else "lessons")
    try:
        for path in build_decks(source, args.out, args.answers, args.lessons or None):
            print(f"wrote {path}")
    except RuntimeError as err:
        print(f"slides: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
