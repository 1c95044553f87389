"""Figures and widget of lesson 01 (``elbo_course.figures.lesson01``): presets, the explorer's buttons
driving its plain callback, and the style rules."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from elbo_course.figures import lesson01 as figs  # noqa: E402
from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.toys.linear_gaussian import elbo_explorer_state  # noqa: E402


def test_presets_order_and_exact_preset_is_tight():
    for x in (-1.0, 1.0, 2.5):
        states = [elbo_explorer_state(*figs.q_preset(name, x), x=x) for name in ("poor", "better", "exact")]
        assert states[0]["elbo"] < states[1]["elbo"] < states[2]["elbo"]
        assert abs(states[2]["gap"]) < 1e-12
    assert list(figs.Q_PRESETS) == ["poor", "better", "exact"]
    with pytest.raises(KeyError, match="choose one of"):
        figs.q_preset("perfect")


def test_widget_buttons_drive_the_callback():
    box = figs.elbo_explorer(x=1.0)
    (mean, std), buttons = box.children[0].children, box.children[1].children
    assert [b.description for b in buttons] == list(figs.Q_PRESETS)
    buttons[2].click()  # "exact"
    assert (mean.value, std.value) == pytest.approx(figs.q_preset("exact", 1.0), abs=0.01)
    buttons[0].click()  # "poor"
    assert (mean.value, std.value) == pytest.approx(figs.q_preset("poor", 1.0))
    plt.close("all")


def test_static_figures_have_labelled_axes_and_follow_the_style():
    fig = figs.plot_q_presets(1.0)
    assert len(fig.axes) == 4 and all(ax.get_xlabel() or ax.get_ylabel() or ax.get_title() for ax in fig.axes)
    assert "nats" in fig.axes[3].get_ylabel()
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == list(figs.Q_PRESETS)
    state = elbo_explorer_state(-0.5, 1.5, 1.0)
    view = figs.plot_elbo_state(state)
    assert "nats" in view.axes[1].get_ylabel() and f"{state['gap']:.3f}" in view.axes[1].get_title()
    jensen = figs.plot_jensen()
    assert "nats" in jensen.axes[1].get_ylabel()
    for figure in (fig, view, jensen):
        figure.canvas.draw()
        assert style_problems(figure) == []
    plt.close("all")


@pytest.mark.parametrize("q_mean, q_std", [(-1.0, 1.5), (-3.0, 0.1), (0.6, 0.75), (2.5, 2.5)])
def test_explorer_legend_sits_outside_both_panels(q_mean, q_std):
    """The legend must not cover a curve, the shaded gap or a label, whatever the sliders say."""
    fig = figs.plot_elbo_state(elbo_explorer_state(q_mean, q_std, 1.0))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax_d, ax_n = fig.axes
    legend = ax_d.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax_d.get_window_extent(renderer).y1 - 1  # above the density panel
    assert not legend.overlaps(ax_n.get_window_extent(renderer))
    assert not legend.overlaps(ax_d.title.get_window_extent(renderer))
    assert style_problems(fig) == []
    plt.close(fig)
