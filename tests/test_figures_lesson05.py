"""Figures and widget of lesson 05 (``elbo_course.figures.lesson05``): the toy, the explorer (whose
callback is ``toys.gaussian_mixture.surgery_state``), its presets and the sweep figures."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from elbo_course.figures import lesson05 as figs  # noqa: E402
from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.toys import gaussian_mixture as gm  # noqa: E402


def _check(fig) -> None:
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)


def test_state_view_and_presets():
    with pytest.raises(ValueError):
        figs.plot_state(gm.surgery_state(0.5, 1.0, 4, dim=2))
    _check(figs.plot_state(gm.surgery_state(0.3, 1.0, 8, "fitted")))
    fig = figs.plot_surgery_presets()
    assert len(fig.axes) == len(figs.SURGERY_PRESETS) + 1
    terms = fig.axes[-1]
    assert len(terms.get_xticks()) == len(figs.SURGERY_PRESETS) and "nats" in terms.get_ylabel()
    elbo_labels = [t.get_text() for t in terms.texts]
    assert elbo_labels == ["ELBO -2.33", "ELBO -3.67", "ELBO -4.68", "ELBO -2.33"]  # quoted in the notebook
    _check(fig)
    assert set(figs.PRIOR_LABELS) == set(gm.PRIOR_KINDS)


def test_explorer_widget():
    box = figs.surgery_explorer()
    assert len(box.children) == 3
    count = box.children[1].children[0]
    count.value = 3   # redraws through surgery_state
    plt.close("all")


def test_toy_and_sweep_figures():
    toy1, toy2 = gm.evenly_spaced(4, 1.0, 0.5), gm.evenly_spaced(4, 1.5, 0.4, d=2, points=101)
    fig = figs.plot_toy(toy1, toy2)
    assert len(fig.axes) == 3 and fig.axes[1].get_ylim() == (0.0, 1.0)
    _check(fig)
    fig = figs.plot_mi_sweeps([0.1, 1.0], {"1-D, N = 4": [1.3, 0.5]}, [0.0, 1.0], [(0.5, 0.4, -1.0), (0.0, 0.0, -2.0)],
                              {"1-D, N = 4": 4})
    assert all(ax.get_ylabel() == "nats" for ax in fig.axes)
    _check(fig)
    states = {figs.PRIOR_LABELS[p]: gm.surgery_state(0.5, 1.0, 4, prior=p) for p in gm.PRIOR_KINDS}
    fig = figs.plot_prior_comparison(states, [1.0, 2.0], [0.5, 0.3], 1.5)
    assert len(fig.axes) == 3 and "ELBO" in fig.axes[2].get_ylabel()
    _check(fig)


def test_explorer_title_rounds_like_the_sliders():
    """The log slider's value 10**-0.3 reads 0.501 (format .3g); the plot title must say the same."""
    box = figs.surgery_explorer()
    width, spacing = box.children[0].children
    width.value = 10 ** -0.3
    assert width.readout_format == ".3g" and spacing.readout_format == ".3g"
    fig = figs.plot_state(gm.surgery_state(width.value, 0.30000000000000004, 8))
    title = fig.axes[0].get_title()
    assert "width 0.501," in title and "spacing 0.3," in title and "0.501187" not in title
    _check(fig)
    plt.close("all")
