"""Figures of lesson 02 (``elbo_course.figures.lesson02``): the readings and the Monte Carlo convergence."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from elbo_course.figures import lesson02 as figs  # noqa: E402
from elbo_course.figures import style_problems  # noqa: E402
from elbo_course.toys.linear_gaussian import LinearGaussian, mc_elbo_dataset  # noqa: E402


def test_readings_figure_shows_two_terms_and_their_sum_per_reading():
    terms = {"(A) first": ("a", -1.0, "b", -0.5), "(B) second": ("c", -2.0, "d", 0.5)}
    fig = figs.plot_readings(terms, elbo=-1.5)
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "nats"
    heights = [[p.get_height() for p in ax.patches] for ax in fig.axes]
    assert heights == [[-1.0, -0.5, -1.5], [-2.0, 0.5, -1.5]]
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)


def test_convergence_figure_draws_both_estimators():
    toy, data = LinearGaussian(), torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    rows = [{"m": m, **mc_elbo_dataset(toy, data, (0.3, 0.2, 0.9), m, torch.Generator().manual_seed(m))}
            for m in (10, 100, 1000)]
    fig = figs.plot_mc_convergence(rows, exact=-2.0)
    assert len(fig.axes) == 2 and "nats" in fig.axes[0].get_ylabel() and fig.axes[1].get_yscale() == "log"
    fig.canvas.draw()
    assert style_problems(fig) == []
    plt.close(fig)
