"""Fit every slide into 1280x720: measure each cell in a real browser and re-break the slides that overflow.

    python -m elbo_course.publish.layout [--write] [LESSON ...]      # maintainers; needs Playwright + Chromium

For each solution notebook (the answer deck: the tallest version of every slide) every cell the deck shows is
rendered once as a slide of its own, and its height is read in Chromium. Then the cells are packed in order:
a cell marked ``slide`` or ``subslide`` starts a new slide, as its author chose; a ``fragment`` or ``-`` cell
that would push its slide past ``LIMIT`` pixels becomes a ``subslide`` (the next slide down). A single cell
taller than the slide (720 px) cannot be fixed this way and is reported: split it, or shorten its output.
``--write`` stores the new slide types in ``solutions/`` (run ``make lessons`` after); without it the command
only reports. ``tests/test_browser.py`` checks the built decks slide by slide.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import nbformat

from . import browser, slides

LIMIT = 690          # px a slide is packed to: the 720 px slide less a margin (cells' heights add up inexactly)
VISIBLE = ("slide", "subslide", "fragment", "-")


def measure(nb: nbformat.NotebookNode, workdir: Path) -> dict[int, int]:
    """Cell index -> height in px of each cell the answer deck shows, each rendered as a slide of its own."""
    marked = copy.deepcopy(nb)   # the deck rules drop cells: each cell carries its index in ``nb`` through them
    for i, cell in enumerate(marked.cells):
        cell.metadata.setdefault("elbo_course", {})["layout_index"] = i
    deck = slides.deck_notebook(marked, answers=True)
    single = copy.deepcopy(deck)
    single.cells = [cell for cell in single.cells if slides.slide_type(cell) in VISIBLE]   # notes are not measured
    shown = [cell.metadata["elbo_course"]["layout_index"] for cell in single.cells]
    for cell in single.cells:
        cell.metadata["slideshow"]["slide_type"] = "slide"
    html, _ = slides.exporter(workdir / "slides", slides.copy_vendor(workdir)).from_notebook_node(
        single, resources={"metadata": {"name": "measure"}})
    (workdir / "slides").mkdir(parents=True, exist_ok=True)
    (workdir / "slides" / "measure.slides.html").write_text(html, encoding="utf-8")
    with browser.served(workdir) as base, browser.page() as page:
        browser.open_deck(page, f"{base}/slides/measure.slides.html")
        heights = page.evaluate(f"""() => {{ const height = {browser.CONTENT_HEIGHT_JS};
            return Array.from(document.querySelectorAll('.reveal .slides > section')).map(
              (s, h) => {{ Reveal.slide(h, 0); return height(s); }}); }}""")
    return dict(zip(shown, heights))


def pack(nb: nbformat.NotebookNode, heights: dict[int, int], limit: int = LIMIT) -> tuple[dict[int, str], list[int]]:
    """(cell index -> new slide type, for the cells that change; indices of cells taller than a slide alone)."""
    changes, too_tall, used = {}, [], 0
    for i in sorted(heights):
        kind, h = slides.slide_type(nb.cells[i]), heights[i]
        if h > slides.HEIGHT:
            too_tall.append(i)
        if kind in ("slide", "subslide"):
            used = h
        elif used + h > limit:
            changes[i], used = "subslide", h
        else:
            used += h
    return changes, too_tall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.publish.layout", description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--write", action="store_true", help="store the new slide types in solutions/")
    args = parser.parse_args(argv)
    status = 0
    for path in sorted((slides.vendor.REPO / "solutions").glob("*.ipynb")):
        if args.lessons and path.stem not in args.lessons:
            continue
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            heights = measure(nb, Path(tmp))
        changes, too_tall = pack(nb, heights)
        for i in too_tall:
            status = 1
            print(f"{path.stem} cell {i}: {heights[i]} px alone (a slide is {slides.HEIGHT}): split it by hand")
        print(f"{path.stem}: {len(changes)} cells start a new slide" + (" (written)" if args.write else ""))
        if args.write and changes:
            for i, kind in changes.items():
                nb.cells[i].metadata.setdefault("slideshow", {})["slide_type"] = kind
            nbformat.write(nb, path)
    return status


if __name__ == "__main__":
    sys.exit(main())
