"""``elbo_course.figures``: the common styling rules (size, font sizes) that every lesson's figures follow."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from elbo_course import figures  # noqa: E402


def test_new_figure_applies_the_fonts_and_refuses_large_figures():
    fig, axes = figures.new_figure(8.0, 4.0, 1, 2)
    assert len(axes) == 2 and tuple(fig.get_size_inches()) == (8.0, 4.0)
    axes[0].set(title="a title", xlabel="z", ylabel="nats")
    axes[0].plot([0, 1], [0, 1], label="line")
    axes[0].legend()
    fig.canvas.draw()
    assert figures.style_problems(fig) == []
    assert min(t.get_fontsize() for t in axes[0].get_xticklabels()) >= figures.MIN_FONT
    plt.close(fig)
    fig, axes = figures.new_figure(6.0, 3.0, mosaic=[["a", "b"], ["c", "c"]])
    assert set(axes) == {"a", "b", "c"}
    plt.close(fig)
    with pytest.raises(ValueError, match="at most 8 x 4"):
        figures.new_figure(10.0, 3.0)


def test_style_problems_names_small_text_and_large_figures():
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.set_title("tiny", fontsize=7)
    problems = figures.style_problems(fig)
    assert any("10.00 x 5.00" in p for p in problems) and any("'tiny' at 7 pt" in p for p in problems)
    plt.close(fig)


def test_save_writes_a_png(tmp_path):
    fig, _ = figures.new_figure(3.0, 2.0)
    path = figures.save(fig, "check", folder=str(tmp_path))
    assert path.endswith("check.png") and (tmp_path / "check.png").stat().st_size > 0
    plt.close(fig)


def test_explorer_carries_a_picture_and_a_readable_text():
    import ipywidgets as widgets

    from elbo_course import figures

    fig, ax = figures.new_figure(3.0, 2.0)
    ax.plot([0, 1], [0, 1])
    box = figures.explorer([widgets.FloatSlider()], fig)
    data = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == figures.EXPLORER_TEXT and not data["text/plain"].startswith("VBox(")
    import base64
    assert base64.b64decode(data["image/png"]).startswith(b"\x89PNG")
