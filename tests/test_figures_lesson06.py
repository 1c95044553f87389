"""Figures of lesson 06, drawn from stored results (``elbo_course.figures.lesson06``)."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from elbo_course.experiments import surgery as experiment  # noqa: E402
from elbo_course.figures import lesson06 as figs  # noqa: E402


def test_density_grid_matches_a_single_gaussian_and_plots():
    mu = torch.tensor([[0.0, 0.0]])
    logvar = torch.zeros(1, 2)
    axis, log_q, log_p = figs.density_grid(mu, logvar, limit=3.0, steps=31)
    assert log_q.shape == (31, 31) and axis.shape == (31,)
    assert torch.allclose(log_q, log_p, atol=1e-10)  # q(z) = N(0, I) = p(z)
    shifted = figs.density_grid(torch.tensor([[1.0, -2.0]]), logvar, limit=3.0, steps=31)[1]
    row, col = divmod(int(shifted.argmax()), 31)
    assert (float(axis[col]), float(axis[row])) == pytest.approx((1.0, -2.0))  # rows index z_2, columns z_1
    with pytest.raises(ValueError):
        figs.density_grid(torch.zeros(3, 4), torch.zeros(3, 4))
    fig = figs.plot_holes(axis, shifted, log_p)
    assert len(fig.axes) == 5  # three panels and two colour bars


def test_plot_terms_shows_ours_and_published():
    models = [{"latent_dim": d, "avg_kl": 5.0 + d, "mutual_info": 4.0, "mutual_info_se": 0.01, "marginal_kl": 1.0 + d,
               "marginal_kl_se": 0.02, "elbo": -100.0 - d, "elbo_se": 0.1, "avg_recon": -90.0, "log_n": math.log(60000)}
              for d in experiment.LATENT_DIMS]
    fig = figs.plot_terms(models)
    left, right = fig.axes
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert any("unverified" in text for text in labels) and any("log N" in text for text in labels)
    assert list(left.get_xticks()) == list(experiment.LATENT_DIMS)


def _terms_and_holes_figures():
    """The terms figure on made-up rows and the holes figure on a one-component toy."""
    models = [{"latent_dim": d, "avg_kl": 5.0 + d, "mutual_info": 4.0, "mutual_info_se": 0.01, "marginal_kl": 1.0 + d,
               "marginal_kl_se": 0.02, "elbo": -100.0 - d, "elbo_se": 0.1, "avg_recon": -90.0, "log_n": math.log(60000)}
              for d in experiment.LATENT_DIMS]
    axis, log_q, log_p = figs.density_grid(torch.tensor([[0.5, 0.0]]), torch.zeros(1, 2), limit=3.0, steps=21)
    return figs.plot_terms(models), figs.plot_holes(axis, log_q, log_p)


def test_lesson06_figures_follow_the_style_rules():
    from elbo_course.figures import style_problems

    for fig in _terms_and_holes_figures():
        assert style_problems(fig) == []


def test_lesson06_figures_state_their_finding():
    for fig in _terms_and_holes_figures():
        assert fig._suptitle is not None and len(fig._suptitle.get_text()) > 20
