"""The decks and handouts in a real browser: headless Chromium driven by Playwright, pages served on 127.0.0.1.

Every student deck is built from lessons/ into a temporary folder and walked through slide by slide with
reveal.js's scaling switched off: no request leaves localhost, MathJax typesets without an error, no raw
`$$` or `\\begin` stays visible, every image loads, and each slide's content is at most 720 px tall. The
first slide of each deck is saved to build/screenshots/. One handout is printed and checked page by page.
Without Chromium or Playwright the tests skip with the install hint, except under CI=true, where they fail.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from elbo_course.grading.notebook import BEGIN_HIDDEN, BEGIN_SOLUTION
from elbo_course.publish import browser, handouts, slides

from missing_tools import missing_tool

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "lessons").glob("*.ipynb"))
SCREENSHOTS = ROOT / "build" / "screenshots"
pytestmark = pytest.mark.slow

WALK_JS = """async ([height, limit]) => {
  const contentHeight = eval(height);
  Reveal.configure({minScale: 1, maxScale: 1});           // scaling off: layout pixels are screen pixels
  Reveal.slide(0, 0, -1);
  const seen = [];
  for (let step = 0; step < 2000; step++) {
    const slide = Reveal.getCurrentSlide(), idx = Reveal.getIndices();
    const text = slide.innerText;
    seen.push({h: idx.h, v: idx.v, f: idx.f, height: contentHeight(slide),
               raw: text.includes("$$") || text.includes("\\\\begin")});
    if (Reveal.isLastSlide() && !Reveal.availableFragments().next) { break; }
    Reveal.next();
    await new Promise(r => setTimeout(r, 0));
  }
  return seen;
}"""


def _need_browser() -> None:
    try:
        browser.chromium_path()
        import playwright  # noqa: F401
    except (browser.BrowserMissing, ImportError):
        missing_tool(browser.INSTALL_HINT)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    _need_browser()
    out = tmp_path_factory.mktemp("publish")
    try:
        slides.copy_vendor(out)              # npm pack, once into .vendor/ (needs npm and the registry the first time)
    except RuntimeError as err:
        missing_tool(str(err))
    slides.build_decks(ROOT / "lessons", out, answers=False)
    slides.build_decks(ROOT / "solutions", out, answers=True, lessons=["04_iwae"])
    return out


@pytest.fixture(scope="module")
def walked(built):
    """Deck -> what the walk saw: slides, outside requests, failed requests, page errors, MathJax errors, images."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    found = {}
    with browser.served(built) as base, browser.page() as page:
        outside, failed, errors = [], [], []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        for lesson in LESSONS:
            outside.clear(), failed.clear(), errors.clear()
            browser.open_deck(page, f"{base}/slides/{lesson}.slides.html")
            page.screenshot(path=str(SCREENSHOTS / f"{lesson}.slides.png"))
            seen = page.evaluate(WALK_JS, [browser.CONTENT_HEIGHT_JS, slides.HEIGHT])
            found[lesson] = {
                "slides": seen, "total": page.evaluate("Reveal.getTotalSlides()"),
                "outside": list(outside), "failed": list(failed), "errors": list(errors),
                "mathjax_errors": page.evaluate("document.querySelectorAll('.MathJax_Error, merror').length"),
                "broken_images": page.evaluate(
                    "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"),
                "images": page.evaluate("document.images.length")}
    return found


@pytest.mark.parametrize("lesson", LESSONS)
def test_deck_is_offline_typeset_and_every_image_loads(walked, lesson):
    deck = walked[lesson]
    assert deck["outside"] == [] and deck["failed"] == [] and deck["errors"] == []
    assert deck["mathjax_errors"] == 0
    assert not [s for s in deck["slides"] if s["raw"]], "raw TeX is visible"
    assert deck["images"] > 0 and deck["broken_images"] == 0


@pytest.mark.parametrize("lesson", LESSONS)
def test_every_slide_fits_720_px_and_navigation_reaches_the_end(walked, lesson):
    deck = walked[lesson]
    horizontal = {s["h"] for s in deck["slides"]}
    assert horizontal == set(range(max(horizontal) + 1)) and len({(s["h"], s["v"]) for s in deck["slides"]}) == deck["total"]
    tall = [(s["h"], s["v"], s["f"], s["height"]) for s in deck["slides"] if s["height"] > slides.HEIGHT]
    assert tall == [], f"slides taller than {slides.HEIGHT} px (h, v, fragment, px): run python -m elbo_course.publish.layout"
    assert (SCREENSHOTS / f"{lesson}.slides.png").stat().st_size > 10_000


def test_student_decks_hide_exercise_cells_and_answer_decks_strip_markers(built):
    student = (built / "slides" / "04_iwae.slides.html").read_text(encoding="utf-8")
    answers = (built / "slides" / "answers" / "04_iwae.slides.html").read_text(encoding="utf-8")
    for html in (student, answers):
        assert BEGIN_SOLUTION not in html and BEGIN_HIDDEN not in html and "verify(" not in html
        assert "NBVAL_IGNORE_OUTPUT" not in html and "qew_explorer" not in html
    assert "col_max" in answers and "col_max" not in student   # the solution of Exercise 4.1
    assert "raise NotImplementedError" not in student


def test_handout_has_a_page_per_slide_and_fragment_with_typeset_math(built):
    """Printed as `make handouts` does: as many pages as slides and fragment steps, and where the first typeset
    formula sits on its page in the browser's print layout, the PDF page rendered to PNG has ink."""
    pdfium = pytest.importorskip("pypdfium2")
    lesson = "01_jensen_and_the_elbo"
    (pdf_path,) = handouts.print_decks(built, [lesson])
    with browser.served(built) as base, browser.page() as page:
        browser.open_deck(page, f"{base}/slides/{lesson}.slides.html")
        steps = page.evaluate("""() => Array.from(document.querySelectorAll('.reveal .slides section'))
            .filter(s => !s.querySelector('section'))
            .map(s => 1 + new Set(Array.from(s.querySelectorAll('.fragment')).map(f => f.dataset.fragmentIndex)).size)
            .reduce((a, b) => a + b, 0)""")
        browser.open_deck(page, f"{base}/slides/{lesson}.slides.html?print-pdf")
        page.wait_for_function("document.querySelectorAll('.reveal .pdf-page').length > 0")
        math = page.evaluate("""() => { const pages = Array.from(document.querySelectorAll('.reveal .pdf-page'));
            for (let i = 0; i < pages.length; i++) {
              const m = pages[i].querySelector('.MathJax_CHTML');
              if (!m) { continue; }
              const p = pages[i].getBoundingClientRect(), b = m.getBoundingClientRect();
              return {page: i, box: [(b.left - p.left) / p.width, (b.top - p.top) / p.height,
                                     (b.right - p.left) / p.width, (b.bottom - p.top) / p.height]};
            }
            return null; }""")
    pdf = pdfium.PdfDocument(str(pdf_path))
    assert len(pdf) == steps
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    assert not any("$$" in t or re.search(r"\\(frac|mathbb|begin)\b", t) for t in texts), "raw TeX in the PDF"
    assert math is not None, "no typeset formula in the print layout"
    image = pdf[math["page"]].render(scale=2).to_pil().convert("L")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    image.save(SCREENSHOTS / f"{lesson}.handout-page-{math['page'] + 1}.png")
    x0, y0, x1, y1 = (round(f * size) for f, size in zip(math["box"], image.size * 2))
    ink = sum(1 for pixel in image.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))).getdata() if pixel < 128)
    assert ink > 20, f"no ink where the formula should be on page {math['page'] + 1}"
    shutil.rmtree(built / "handouts", ignore_errors=True)


# ----- the website -----------------------------------------------------------------------------------

SITE_PAGES = ("index.html", "lessons/04_iwae.html", "answers/04_iwae.html", "errata.html", "results.html")


@pytest.fixture(scope="module")
def site(built):
    from elbo_course.publish import site as site_module

    try:
        site_module.jupyter_book()
    except RuntimeError as err:
        missing_tool(str(err))
    site_module.build_site(ROOT, built)
    found = {}
    with browser.served(built) as base, browser.page() as page:
        outside, errors = [], []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((base, "data:")) else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name in SITE_PAGES:
            page.goto(f"{base}/site/{name}", wait_until="networkidle")
            if page.evaluate("!!document.querySelector('script[src*=mathjax]')"):
                page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("MathJax.startup.promise")
            if name == "index.html":
                page.screenshot(path=str(SCREENSHOTS / "site-index.png"), full_page=True)
            text = page.evaluate("document.body.innerText")
            found[name] = {
                "raw": [m for m in ("$$", "\\begin", "\\(", "\\[") if m in text],
                "math": page.evaluate("document.querySelectorAll('mjx-container').length"),
                "errors": page.evaluate("document.querySelectorAll('mjx-merror').length"),
                "images": page.evaluate("document.images.length"),
                "broken": page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length"),
                "links": page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))"),
                "html": page.content()}
        found["outside"], found["page errors"] = list(outside), list(errors)
    return found


def test_site_pages_are_offline_and_typeset(site):
    assert site["outside"] == [] and site["page errors"] == []
    for name in SITE_PAGES:
        assert site[name]["raw"] == [] and site[name]["errors"] == 0 and site[name]["broken"] == 0, name
    assert site["lessons/04_iwae.html"]["math"] > 100 and site["lessons/04_iwae.html"]["images"] >= 5
    assert (SCREENSHOTS / "site-index.png").stat().st_size > 10_000


def test_site_index_links_every_lesson_its_answers_deck_and_handout(site, built):
    links = site["index.html"]["links"]
    for lesson in LESSONS:
        assert f"lessons/{lesson}.html" in links and f"answers/{lesson}.html" in links
        assert f"../slides/{lesson}.slides.html" in links and f"../handouts/{lesson}.pdf" in links
        assert (built / "slides" / f"{lesson}.slides.html").is_file()
    assert "errata.html" in links and "results.html" in links


def test_site_answer_pages_are_stripped_and_lesson_pages_hold_no_answers(site):
    answers, lesson = site["answers/04_iwae.html"]["html"], site["lessons/04_iwae.html"]["html"]
    for html in (answers, lesson):
        assert "BEGIN SOLUTION" not in html and "HIDDEN TESTS" not in html and "verify(" not in html
    assert "col_max" in answers and "col_max" not in lesson
    assert "(answers)" in answers
