"""Decks without a browser: the deck rules, the slide packing, and the pinned, checked vendoring."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from elbo_course.grading.notebook import grade_metadata, solution_metadata
from elbo_course.publish import layout, slides, vendor

ROOT = Path(__file__).resolve().parents[1]


def _cell(cell, kind="-", **meta):
    cell.metadata.update({"slideshow": {"slide_type": kind}, **meta})
    return cell


def _demo() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        _cell(new_markdown_cell("# 00 · Demo"), "slide"),
        _cell(new_code_cell("import elbo_course"), "-", tags=["setup"]),
        _cell(new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(1)"), "fragment"),
        _cell(new_code_cell("x = ...\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION"), "subslide",
              nbgrader=solution_metadata("00_demo-x")),
        _cell(new_code_cell('check("00_demo-x", x)\n### BEGIN HIDDEN TESTS\nverify("00_demo-x", x, 2)\n'
                            "### END HIDDEN TESTS"), "fragment", nbgrader=grade_metadata("00_demo-x")),
        _cell(new_code_cell("figs.qew_explorer()"), "fragment"),
        _cell(new_markdown_cell("say this"), "notes"),
    ])


def test_student_deck_keeps_only_what_a_room_can_see():
    deck = slides.deck_notebook(_demo(), answers=False)
    assert [c.source for c in deck.cells] == ["# 00 · Demo", "print(1)", "say this"]


def test_answer_deck_shows_solutions_without_markers_or_hidden_tests():
    deck = slides.deck_notebook(_demo(), answers=True)
    assert [c.source for c in deck.cells] == ["# 00 · Demo", "print(1)", "x = ...\nx = 2", 'check("00_demo-x", x)',
                                              "say this"]


def test_pack_keeps_the_authors_breaks_and_breaks_where_a_slide_overflows():
    nb = new_notebook(cells=[_cell(new_markdown_cell(str(i)), kind) for i, kind in
                             enumerate(["slide", "fragment", "-", "subslide", "fragment", "fragment"])])
    heights = {0: 300, 1: 300, 2: 200, 3: 400, 4: 200, 5: 900}
    changes, too_tall = layout.pack(nb, heights, limit=690)
    assert changes == {2: "subslide", 5: "subslide"} and too_tall == [5]


def test_every_lesson_deck_starts_with_a_slide_and_shows_no_markers():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        deck = slides.deck_notebook(nbformat.read(path, as_version=4), answers=False)
        assert slides.slide_type(deck.cells[0]) == "slide", path.name
        assert not any("### BEGIN" in c.source for c in deck.cells)


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_vendor_checks_the_pinned_hash_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    data = _tarball({"MathJax.js": b"mj", "unpacked/MathJax.js": b"big", "fonts/HTML-CSS/TeX/otf/a.otf": b"x"})
    package = vendor.Package("mathjax", "9.9.9", hashlib.sha256(data).hexdigest(), drop=("unpacked/", "fonts/HTML-CSS/TeX/otf/"))
    monkeypatch.setitem(vendor.PACKAGES, "demo", package)

    def fake_pack(pkg, into):
        (into / "demo.tgz").write_bytes(data)
        return into / "demo.tgz"

    monkeypatch.setattr(vendor, "_npm_pack", fake_pack)
    folder = vendor.fetch("demo", tmp_path)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == ["MathJax.js"]
    monkeypatch.setitem(vendor.PACKAGES, "bad", vendor.Package("mathjax", "9.9.8", "0" * 64))
    with pytest.raises(RuntimeError, match="is not the pinned"):
        vendor.fetch("bad", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mathjax-9.9.9"]


def test_the_pins_match_what_the_reveal_template_expects():
    assert vendor.PACKAGES["reveal"].version == "4.0.2" and vendor.PACKAGES["mathjax2"].version.startswith("2.")
    assert all(len(p.sha256) == 64 for p in vendor.PACKAGES.values())
    template = (slides.TEMPLATES / "elbo_reveal" / "index.html.j2").read_text()
    assert "html_head_js_mermaidjs" in template and "MathJax.Hub.Queue" in template


def test_site_answer_pages_and_index(tmp_path):
    from elbo_course.publish import site

    answer = site.answer_notebook(_demo())
    assert answer.cells[0].source == "# 00 · Demo (answers)"
    assert [c.source for c in answer.cells][3:5] == ["x = ...\nx = 2", 'check("00_demo-x", x)']
    index = site.index_page(ROOT)
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        stem = path.stem
        assert f"(lessons/{stem}.ipynb)" in index and f"(answers/{stem}.ipynb)" in index
        assert f'href="../slides/{stem}.slides.html"' in index and f'href="../handouts/{stem}.pdf"' in index
    site.write_source(ROOT, tmp_path / "src")
    toc = (tmp_path / "src" / "_toc.yml").read_text()
    assert toc.count("lessons/") == toc.count("answers/") == len(list((ROOT / "solutions").glob("*.ipynb")))
    assert not (tmp_path / "src" / "_static").exists(), "Jupyter Book would put every .js there on every page"
    assert (tmp_path / "src" / "mathjax_static" / "mathjax" / "tex-chtml-full.js").is_file()


def test_every_section_has_speaker_notes():
    """Each lesson's title and each `## ` section heading is followed by a notes cell (what to say, what to ask)."""
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(cells):
            if (cell.cell_type == "markdown" and cell.source.startswith(("# ", "## "))
                    and slides.slide_type(cell) != "skip"):      # the progress table is not presented
                after = cells[i + 1]
                assert slides.slide_type(after) == "notes", f"{path.name} cell {i}: {cell.source.splitlines()[0]}"
                assert "Say:" in after.source and "Ask" in after.source, f"{path.name} cell {i + 1}"


def test_launch_buttons_come_only_from_a_public_repository_url():
    from elbo_course.publish import site

    assert site.launch_config({}) == ["launch_buttons:", "  notebook_interface: none"]
    assert site.launch_config({"Homepage": "https://example.org"})[-1] == "  notebook_interface: none"
    lines = site.launch_config({"Repository": "https://github.com/someone/elbo_course/"})
    assert "  url: https://github.com/someone/elbo_course" in lines and "  binderhub_url: https://mybinder.org" in lines
