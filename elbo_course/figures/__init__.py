"""Figures, widgets and their static presets: one module per lesson, and the styling they share.

    lesson01   Jensen's chord, the ELBO explorer (q against the exact posterior) and its presets
    lesson02   the three readings as bars, Monte Carlo convergence of the data-set ELBO
    lesson03   variance sweeps of three gradient estimators
    lesson04   the IWAE gap on the Gaussian toy, SIR draws from q_EW and their explorer
    lesson05   the Gaussian-mixture toys, the ELBO-surgery explorer and its presets, the I(n; z) sweeps
    lesson06   the MNIST decomposition (from stored results)
    curves     learning curves of the MNIST experiments (test ELBO against epochs and minutes)

Figures import the maths (``elbo_course.toys``, ``surgery`` ...) and never the reverse; they compute
nothing that a notebook asserts on. Every widget is a thin ipywidgets shell around a plain callback that
a test calls, and has a static figure of fixed settings. ``explorer`` wraps a widget so that its stored
output also carries a picture of its starting state: a notebook opened without a kernel (or not trusted,
as every freshly downloaded notebook is) shows that picture instead of the widget's repr.

Style (STYLE_GUIDE.md): at most ``MAX_SIZE`` = 8 × 4 inches, text of at least ``MIN_FONT`` = 9 pt,
labelled axes with units (nats), a title that states the finding. ``new_figure`` makes a figure under
these rules and ``style_problems`` lists what a finished figure breaks (the tests call it).
"""
from __future__ import annotations

from typing import Any

__all__ = ["MAX_SIZE", "MIN_FONT", "FONT", "TITLE_FONT", "COLORS", "new_figure", "finish", "style_problems", "save",
           "explorer", "EXPLORER_TEXT"]

MAX_SIZE = (8.0, 4.0)   # inches (width, height)
MIN_FONT = 9.0          # points
FONT = 9                # the size of small text (legends, annotations, tick labels)

# One colour per role, used by every lesson.
COLORS = {
    "q": "tab:blue",            # the variational distribution / encoder
    "posterior": "black",       # exact posterior or exact evidence
    "gap": "tab:red",           # a gap (KL) or the q_EW draws
    "prior": "grey",            # p(z)
    "recon": "tab:blue",        # ① average reconstruction
    "mi": "tab:orange",         # ② index-code mutual information
    "mkl": "tab:red",           # ③ marginal KL
    "second": "tab:orange",     # the second estimator / model of a comparison
    "third": "tab:green",
}

TITLE_FONT = 10         # suptitles and long axes titles


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, mosaic: list | None = None,
               **subplots_kw: Any):
    """(Figure, axes) of ``plt.subplots(nrows, ncols, figsize=(width, height), **subplots_kw)``, or of
    ``plt.subplot_mosaic(mosaic, ...)`` (axes: a dict by label) when ``mosaic`` is given, with tick labels
    at ``FONT`` pt; width ≤ 8 and height ≤ 4 inches, else ValueError.

    Global rcParams are left alone (a temporary ``rc_context`` around the first figure of a Jupyter
    session would also undo the inline backend's interactive mode, and later figures would not show).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not (0 < width <= MAX_SIZE[0] and 0 < height <= MAX_SIZE[1]):
        raise ValueError(f"figures are at most {MAX_SIZE[0]:g} x {MAX_SIZE[1]:g} inches; got {width:g} x {height:g}.")
    if mosaic is not None:
        fig, axes = plt.subplot_mosaic(mosaic, figsize=(width, height), **subplots_kw)
        flat = list(axes.values())
    else:
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **subplots_kw)
        flat = list(np.atleast_1d(axes).ravel())
    for ax in flat:
        ax.tick_params(labelsize=FONT)
    return fig, axes


def finish(fig):
    """Shrink the figure's suptitle and axes titles to ``TITLE_FONT`` (matplotlib draws them at 12 pt);
    returns ``fig``. Every figure function of the lesson modules ends with it."""
    if fig._suptitle is not None and fig._suptitle.get_fontsize() > TITLE_FONT:
        fig._suptitle.set_fontsize(TITLE_FONT)
    for ax in fig.axes:
        if ax.title.get_fontsize() > TITLE_FONT:
            ax.title.set_fontsize(TITLE_FONT)
    return fig


def style_problems(fig) -> list[str]:
    """What ``fig`` breaks of the style rules: a size above 8 × 4 inches, visible text under 9 pt."""
    problems = []
    width, height = fig.get_size_inches()
    if width > MAX_SIZE[0] + 1e-9 or height > MAX_SIZE[1] + 1e-9:
        problems.append(f"figure is {width:.2f} x {height:.2f} inches")
    for text in fig.findobj(lambda artist: hasattr(artist, "get_fontsize") and hasattr(artist, "get_text")):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < MIN_FONT - 1e-9:
            problems.append(f"text {text.get_text()[:30]!r} at {text.get_fontsize():g} pt")
    return problems


def save(fig, name: str, folder: str = "build/figures") -> str:
    """Write ``fig`` as ``folder/name.png`` (authoring only: build/ is git-ignored); returns the path."""
    from pathlib import Path

    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    return str(path)


EXPLORER_TEXT = ("Interactive explorer: run this cell (with a kernel) to move the sliders; "
                 "the picture shows its starting settings.")
_EXPLORER_CLASS: list[type] = []


def _explorer_class() -> type:
    """A VBox whose display bundle adds ``image/png`` (its starting picture) and a readable ``text/plain``.

    JupyterLab renders ``application/vnd.jupyter.widget-view+json`` only with a live kernel in a trusted
    notebook; otherwise it falls back to the richest safe type, which is now the picture, not the repr.
    """
    if not _EXPLORER_CLASS:
        import ipywidgets as widgets

        class Explorer(widgets.VBox):
            _picture_png: str = ""

            def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
                data = super()._repr_mimebundle_(**kwargs)
                data["text/plain"] = EXPLORER_TEXT
                if self._picture_png:
                    data["image/png"] = self._picture_png
                return data

        _EXPLORER_CLASS.append(Explorer)
    return _EXPLORER_CLASS[0]


def explorer(children: list[Any], picture: Any) -> Any:
    """``VBox(children)`` that also displays ``picture`` (a matplotlib Figure, closed here) as its static
    PNG fallback (see ``_explorer_class``)."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    picture.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(picture)
    box = _explorer_class()(children)
    box._picture_png = base64.b64encode(buffer.getvalue()).decode("ascii")
    return box
