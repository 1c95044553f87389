"""Figures of lesson 03 (``elbo_course.figures.lesson03``): the variance sweeps."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from elbo_course.figures import lesson03 as figs  # noqa: E402
from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.toys import gradient_variance as est  # noqa: E402


def test_plot_variance_sweeps_draws_three_panels():
    rng = np.random.default_rng(4)
    tables = {p: est.variance_table(p, v, S=4, R=200, rng=rng) for p, v in
              (("S", [2, 4]), ("d", [1, 4]), ("sigma", [0.5, 1.0]))}
    fig = figs.plot_variance_sweeps(tables, title="three sweeps")
    assert len(fig.axes) == 3 and all(len(ax.lines) >= 3 for ax in fig.axes)
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    assert fig.get_suptitle() == "three sweeps" and len(fig.legends[0].get_texts()) == len(est.ESTIMATORS)
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)
