"""PDF handouts from the decks: ``make handouts`` (after ``make slides``).

    python -m elbo_course.publish.handouts [--out build] [LESSON ...]

Each deck ``OUT/slides/<lesson>.slides.html`` is opened in headless Chromium at ``?print-pdf`` (reveal.js's
print layout: one 1280x720 page per slide and per fragment step, ``pdfSeparateFragments``) once reveal has
started, which the deck template does only after MathJax has typeset the page, so every page carries typeset
math; then Chromium prints it to ``OUT/handouts/<lesson>.pdf`` (written atomically).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..fileio import atomic_write
from . import browser
from .vendor import REPO


def print_decks(out: Path, lessons: list[str] | None = None) -> list[Path]:
    """Print every student deck of ``out/slides`` (or those of ``lessons``); return the PDF paths."""
    decks = sorted((out / "slides").glob("*.slides.html"))
    decks = [d for d in decks if not lessons or d.name.split(".")[0] in lessons]
    if not decks:
        raise RuntimeError(f"No decks in {out / 'slides'}: run `make slides` first.")
    written = []
    with browser.served(out) as base, browser.page() as page:
        for deck in decks:
            browser.open_deck(page, f"{base}/slides/{deck.name}?print-pdf")
            page.wait_for_function("document.querySelectorAll('.reveal .pdf-page').length > 0")
            pdf = page.pdf(prefer_css_page_size=True, print_background=True)
            target = out / "handouts" / f"{deck.name.split('.')[0]}.pdf"
            atomic_write(target, pdf)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.publish.handouts", description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: all)")
    parser.add_argument("--out", type=Path, default=REPO / "build", help="the folder holding slides/ (default: build/)")
    args = parser.parse_args(argv)
    try:
        for path in print_decks(args.out, args.lessons or None):
            print(f"wrote {path}")
    except (RuntimeError, browser.BrowserMissing) as err:
        print(f"handouts: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
