"""The course as a static website, offline: ``make site`` (Jupyter Book 1, in an environment of its own).

    python -m elbo_course.publish.site [--out build]

Writes a Jupyter Book source folder ``OUT/site_src`` and builds it into ``OUT/site`` with the
``jupyter-book`` of ``.venv-site`` (``$ELBO_COURSE_JUPYTER_BOOK`` or PATH otherwise): Jupyter Book 1 pins
Sphinx 7 and myst-parser 3, so it stays out of the notebook environment. Pages:

* ``index``: the lesson table from the notebooks' own metadata (title, what you learn, study and compute time),
  each row linking the lesson page, its answer page, its deck (``../slides/``) and its handout
  (``../handouts/``), the decks and handouts of ``make slides handouts`` beside the site in ``OUT``;
* one page per lesson from ``lessons/`` with its stored outputs (nothing is executed) and one answer page per
  lesson from ``solutions/`` without the solution markers and hidden tests; a live explorer shows its
  stored static figure (the widget view is left out, as is every script a widget would need);
* ``errata``: the errors of the source material the course corrects (``pages/errata.md``);
* ``results``: the reproduced numbers beside the published ones (``report``'s tables).

MathJax 3 is served from the site itself (a copy of the pinned package of ``publish.vendor``), and the pages
lose sphinx-thebe's loader (live kernels need a server): nothing is fetched from outside.
"""
from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .. import report
from ..grading.build import answer_source, render
from ..grading.notebook import is_grade_cell, is_solution_cell
from . import vendor

PAGES = Path(__file__).resolve().parent / "pages"
THEBE = re.compile(r'<script>const THEBE_JS_URL[^<]*</script>\s*|<script async="async" src="[^"]*sphinx-thebe\.js[^"]*"></script>\s*')
MATHJAX = "mathjax/tex-chtml-full.js"   # relative to _static/, where Sphinx looks


def answer_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution without ``### BEGIN/END SOLUTION`` lines and without hidden tests (outputs kept), its
    title marked "(answers)"."""
    nb = copy.deepcopy(solution)
    title, newline, rest = nb.cells[0].source.partition("\n")
    nb.cells[0].source = f"{title} (answers){newline}{rest}"     # the page title tells it from the lesson's
    for cell in nb.cells:
        if is_solution_cell(cell) or is_grade_cell(cell):
            cell.source = answer_source(cell.source)
    return nb


def index_page(root: Path) -> str:
    """The home page: what the course is, and the lesson table with its four links per lesson."""
    rows = ["| # | lesson | what you learn | study time | compute (full) | also |", "|---|---|---|---|---|---|"]
    for stem, meta in report.lesson_metadata(root):
        rows.append(f"| {stem[:2]} | [{meta['title']}](lessons/{stem}.ipynb) | {meta['summary']} | "
                    f"{int(meta['study_time_minutes'])} min | {meta['compute_full']} | "
                    f"[answers](answers/{stem}.ipynb), <a href=\"../slides/{stem}.slides.html\">slides</a>, "
                    f"<a href=\"../handouts/{stem}.pdf\">PDF</a> |")
    return "\n".join([
        "# The evidence lower bound, checked by numbers you can re-run", "",
        "A course on the variational evidence lower bound (ELBO): from Jensen's inequality through the VAE and "
        "importance-weighted bounds to the ELBO surgery of Hoffman & Johnson on all 60,000 binarized MNIST "
        "images, learned priors and rate–distortion. Each lesson is a Jupyter notebook that runs on a laptop CPU; "
        "these pages show them with their stored outputs. To run them, clone the repository and type "
        "`make lab`.", "",
        *rows, "",
        "Each lesson page is the student's notebook (exercises as stubs); its answer page is the solved notebook. "
        "The decks and handouts are built by `make slides handouts`. See also the [errors in the source "
        "material](errata.md) the course corrects and the [reproduced numbers](results.md).", ""])


def write_source(root: Path, src: Path) -> None:
    """The Jupyter Book source folder: config, table of contents, pages, notebooks, local MathJax."""
    if src.exists():
        shutil.rmtree(src)
    (src / "lessons").mkdir(parents=True)
    (src / "answers").mkdir()
    stems = [p.stem for p in sorted((root / "solutions").glob("*.ipynb"))]
    for stem in stems:
        shutil.copyfile(root / "lessons" / f"{stem}.ipynb", src / "lessons" / f"{stem}.ipynb")
        solution = nbformat.read(root / "solutions" / f"{stem}.ipynb", as_version=4)
        (src / "answers" / f"{stem}.ipynb").write_text(render(answer_notebook(solution)), encoding="utf-8")
    (src / "index.md").write_text(index_page(root), encoding="utf-8")
    shutil.copyfile(PAGES / "errata.md", src / "errata.md")
    block = report.results_block().replace(report.BEGIN, "").replace(report.END, "")
    block = block.replace("\n### ", "\n## ").lstrip().removeprefix("### ").strip()  # H1 then H2, as Sphinx wants
    (src / "results.md").write_text("# Reproduced numbers beside the papers\n\n## " + block + "\n", encoding="utf-8")
    # not in _static/: Jupyter Book puts every .js file found there on every page
    shutil.copytree(vendor.fetch("mathjax3") / "es5", src / "mathjax_static" / "mathjax")
    (src / "_ext").mkdir()
    (src / "_ext" / "all_pages_math.py").write_text(
        '"""Load MathJax on every page: the sidebar shows lesson titles with math on pages that have none."""\n\n\n'
        "def setup(app):\n    app.set_html_assets_policy('always')\n    return {'parallel_read_safe': True}\n",
        encoding="utf-8")
    toc = ["format: jb-book", "root: index", "parts:", "  - caption: Lessons", "    chapters:"]
    toc += [f"      - file: lessons/{stem}" for stem in stems]
    toc += ["  - caption: Answers", "    chapters:"] + [f"      - file: answers/{stem}" for stem in stems]
    toc += ["  - caption: About", "    chapters:", "      - file: errata", "      - file: results"]
    (src / "_toc.yml").write_text("\n".join(toc) + "\n", encoding="utf-8")
    (src / "_config.yml").write_text("\n".join([
        "title: elbo_course", "author: The elbo_course developers", "copyright: '2026'", "only_build_toc_files: true",
        "execute:", "  execute_notebooks: 'off'",
        "html:", "  use_repository_button: false", "  use_issues_button: false", "  use_edit_page_button: false",
        *launch_config(_project_urls(root)),
        "sphinx:", "  local_extensions:", "    all_pages_math: _ext", "  config:", f"    mathjax_path: {MATHJAX}", "    html_static_path: ['mathjax_static']",
        "    nb_ipywidgets_js: {}",
        "    nb_mime_priority_overrides: [['html', 'application/vnd.jupyter.widget-view+json', null],"
        " ['html', 'application/vnd.jupyter.widget-state+json', null]]",
        ""]), encoding="utf-8")


def launch_config(urls: dict[str, str]) -> list[str]:
    """``_config.yml`` lines for Binder and Colab buttons, generated from ``[project.urls]``: only a public GitHub
    ``Repository`` gets them (none otherwise, so no button points at a repository that does not exist)."""
    repo = urls.get("Repository", "").rstrip("/")
    if not repo.startswith("https://github.com/"):
        return ["launch_buttons:", "  notebook_interface: none"]
    return ["repository:", f"  url: {repo}", "  branch: main", "launch_buttons:", "  notebook_interface: jupyterlab",
            "  binderhub_url: https://mybinder.org", "  colab_url: https://colab.research.google.com"]


def _project_urls(root: Path) -> dict[str, str]:
    import tomllib

    return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"].get("urls", {})


def jupyter_book() -> str:
    """The ``jupyter-book`` command: ``$ELBO_COURSE_JUPYTER_BOOK``, ``.venv-site``'s, or PATH's."""
    for candidate in (os.environ.get("ELBO_COURSE_JUPYTER_BOOK"), str(vendor.REPO / ".venv-site/bin/jupyter-book"),
                      shutil.which("jupyter-book")):
        if candidate and Path(candidate).is_file():
            return candidate
    raise RuntimeError("jupyter-book is not installed: run `make site` (it creates .venv-site with Jupyter Book 1).")


def build_site(root: Path, out: Path) -> Path:
    """Write the source into ``out/site_src``, build it, and move the HTML to ``out/site``; returns out/site."""
    src = out / "site_src"
    write_source(root, src)
    done = subprocess.run([jupyter_book(), "build", str(src), "--path-output", str(out / "site_build"), "-W",
                           "--keep-going", "-q"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    html, target = out / "site_build" / "_build" / "html", out / "site"
    staging = out / ".site.partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(html, staging)
    for page in staging.rglob("*.html"):   # no live kernels offline: drop sphinx-thebe's loader and its CDN URL
        text = page.read_text(encoding="utf-8")
        page.write_text(THEBE.sub("", text), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.publish.site", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=vendor.REPO / "build", help="output folder (default: build/)")
    args = parser.parse_args(argv)
    try:
        print(f"wrote {build_site(vendor.REPO, args.out)}/index.html")
    except RuntimeError as err:
        print(f"site: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
