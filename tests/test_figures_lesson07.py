"""Figures of lesson 07: they draw from small untrained models and follow the style rules."""
from __future__ import annotations

import math

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from elbo_course.figures import lesson07 as figs, style_problems  # noqa: E402
from elbo_course.models import VAE  # noqa: E402
from elbo_course.priors import MixtureOfGaussians, VampPrior  # noqa: E402


def _models() -> dict[str, VAE]:
    torch.manual_seed(0)
    return {"standard": VAE(2, hidden=(8,)), "mog": VAE(2, hidden=(8,), prior=MixtureOfGaussians(2, 4)),
            "vamp": VAE(2, hidden=(8,), prior=VampPrior(2, 5))}


def test_prior_grids_are_normalized_densities_on_the_grid():
    x = (torch.rand(40, 784, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    grids = figs.prior_grids(_models(), x, steps=81, coverage=0.999, generator=torch.Generator().manual_seed(2))
    for label, (axis_1, axis_2, log_q, log_p) in grids.items():
        cell = float(axis_1[1] - axis_1[0]) * float(axis_2[1] - axis_2[0])
        assert log_q.shape == log_p.shape == (81, 81)
        assert float(log_p.exp().sum()) * cell == pytest.approx(1.0, abs=0.05), label
    fig = figs.plot_priors_vs_aggregate(grids)
    assert style_problems(fig) == [] and len(fig.axes) >= 6


def test_prior_grids_refuse_a_model_with_more_than_two_latents():
    with pytest.raises(ValueError, match="2-D"):
        figs.prior_grids({"d3": VAE(3, hidden=(8,))}, torch.zeros(2, 784))


def test_digits_and_gains_follow_the_style_rules():
    images = torch.rand(12, 784)
    fig = figs.plot_digits([images, images[:5]], ["a", "b"], "two rows")
    assert style_problems(fig) == []
    with pytest.raises(ValueError, match="one label per row"):
        figs.plot_digits([images], ["a", "b"], "bad")
    fig = figs.plot_gains([{"label": "up", "value": 1.0, "se": 0.1}, {"label": "down", "value": -2.0, "se": 0.5},
                           {"label": "zero", "value": 0.1, "se": 0.2}], "gains")
    assert style_problems(fig) == []


def test_mass_region_holds_the_requested_mass():
    axis = torch.linspace(-5, 5, 201, dtype=torch.float64)
    z2, z1 = torch.meshgrid(axis, axis, indexing="ij")
    log_p = -0.5 * (z1**2 + z2**2) - math.log(2 * math.pi)
    inside = figs._mass_region(log_p, 0.99)
    share = float(log_p.exp()[inside].sum() / log_p.exp().sum())
    assert 0.99 <= share < 0.995
