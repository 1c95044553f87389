"""``toys.gaussian_mixture``: the quadrature terms against closed forms and limits, the lesson-05 decoder,
priors and explorer state against independent formulas and Monte Carlo, and the derivation lines."""
from __future__ import annotations

import math

import pytest
import torch

from elbo_course import rng
from elbo_course.distributions import DiagonalGaussian
from elbo_course.priors import MixtureOfGaussians
from elbo_course.toys import gaussian_mixture as gm
from elbo_course.toys.gaussian_mixture import GaussianMixtureToy, evenly_spaced, surgery_terms

f64 = dict(dtype=torch.float64)
F64 = torch.float64


def normal_log_pdf(x: torch.Tensor, mean: torch.Tensor, var: float) -> torch.Tensor:
    """Σ_i log N(x_i; mean_i, var), written out independently of the package."""
    return (-0.5 * math.log(2 * math.pi * var) - (x - mean) ** 2 / (2 * var)).sum(-1)


# ---- the toy and its quadrature ----------------------------------------------------------------------------
@pytest.mark.parametrize("n,spacing,width,d", [(5, 1.0, 0.5, 1), (7, 0.3, 1.2, 1), (9, 1.0, 0.5, 2), (6, 2.0, 0.3, 2)])
def test_mixture_identity_by_quadrature(n: int, spacing: float, width: float, d: int) -> None:
    t = surgery_terms(n, spacing, width, d)
    assert t["mass_error"] < 1e-10
    assert abs(t["identity_residual"]) < 1e-9  # avg KL (closed form) = MI + marginal KL (quadrature)
    assert -1e-12 <= t["mutual_info"] <= t["log_n"] + 1e-12 and t["marginal_kl"] >= 0
    finer = evenly_spaced(n, spacing, width, d, points=2 * t["grid_points"] - 1 if d == 1 else 700).terms()
    assert abs(finer["marginal_kl"] - t["marginal_kl"]) < 1e-9  # converged grid


def test_mutual_information_at_both_ends() -> None:
    collapsed = evenly_spaced(6, spacing=0.0, width=0.7).terms()
    assert abs(collapsed["mutual_info"]) < 1e-10
    single = DiagonalGaussian(torch.zeros(1, **f64), torch.full((1,), 2 * math.log(0.7), **f64))
    assert abs(collapsed["marginal_kl"] - float(single.kl_standard_normal())) < 1e-10  # q(z) is one Gaussian
    for d in (1, 2):
        sharp = evenly_spaced(9, spacing=1.0, width=0.02, d=d).terms()
        assert abs(sharp["mutual_info"] - math.log(9)) < 1e-8
        assert abs(sharp["identity_residual"]) < 1e-8


def test_mixture_with_a_callable_prior_matches_closed_form_kl() -> None:
    wide = DiagonalGaussian(torch.zeros(2, **f64), torch.full((2,), math.log(4.0), **f64))
    toy = GaussianMixtureToy(torch.tensor([[0.5, -1.0], [1.5, 0.0], [-1.0, 1.0]], **f64), 0.6, log_prior=wide.log_prob)
    q = DiagonalGaussian(toy.mu, toy.logvar)
    assert abs(toy.avg_kl() - float(q.kl(wide).mean())) < 1e-9
    t = toy.terms()
    assert abs(t["identity_residual"]) < 1e-9 and 0 < t["mutual_info"] < math.log(3)


def test_index_posterior_and_densities() -> None:
    toy = evenly_spaced(4, 1.0, 0.4, d=2)
    assert torch.allclose(toy.mu.mean(0), torch.zeros(2, **f64), atol=1e-12) and toy.mu.shape == (4, 2)
    z = torch.randn(10, 2, generator=torch.Generator().manual_seed(0), **f64)
    post = toy.index_posterior(z)
    assert post.shape == (4, 10)
    torch.testing.assert_close(post.exp().sum(0), torch.ones(10, **f64))
    by_bayes = toy.component_log_prob(z) - torch.logsumexp(toy.component_log_prob(z), dim=0)
    torch.testing.assert_close(post, by_bayes, rtol=0, atol=1e-12)
    grid, q, p = toy.densities()
    assert grid.shape[0] == q.shape[0] == p.shape[0] and abs(float(q.sum()) * toy.cell - 1.0) < 1e-9
    with pytest.raises(ValueError, match="d = 1 or 2"):
        GaussianMixtureToy(torch.zeros(3, 3), 1.0)
    with pytest.raises(ValueError, match="d = 1 or d = 2"):
        evenly_spaced(4, d=3)


# ---- lesson 05: decoder, priors, explorer state ------------------------------------------------------------
@pytest.mark.parametrize("prior", gm.PRIOR_KINDS)
@pytest.mark.parametrize("width, spacing, n, dim", [(0.5, 1.0, 8, 1), (0.1, 1.0, 5, 1), (2.0, 0.3, 12, 1),
                                                    (0.4, 1.5, 9, 2)])
def test_state_identity_bounds_and_evidence(prior, width, spacing, n, dim):
    s = gm.surgery_state(width, spacing, n, prior, dim=dim)
    assert s["avg_kl"] == pytest.approx(s["mutual_info"] + s["marginal_kl"], abs=1e-8)
    assert -1e-10 <= s["mutual_info"] <= math.log(n) + 1e-10 and s["marginal_kl"] >= -1e-10
    assert s["elbo"] == pytest.approx(s["avg_recon"] - s["avg_kl"], abs=1e-8)
    assert s["elbo"] <= s["log_evidence"] + 1e-12
    if prior == "aggregate":
        assert abs(s["marginal_kl"]) < 1e-9 and s["avg_kl"] == pytest.approx(s["mutual_info"], abs=1e-9)


def test_prior_q_of_z_is_best_and_only_term_three_moves():
    states = [gm.surgery_state(0.5, 1.0, 8, p) for p in gm.PRIOR_KINDS]
    for key in ("avg_recon", "mutual_info"):
        assert max(s[key] for s in states) - min(s[key] for s in states) < 1e-12
    elbos = [s["elbo"] for s in states]
    assert elbos[2] > elbos[1] > elbos[0]  # q(z) beats the fitted Gaussian, which beats N(0, 1)
    assert [round(s["elbo"], 4) for s in states] == [-3.6689, -2.2713, -2.1718]  # printed in the notebook


def test_reconstruction_matches_monte_carlo():
    x = torch.tensor([[-1.0, 0.5], [0.3, 2.0], [1.2, -0.7]], dtype=F64)
    mu, sigma = 0.8 * x + 0.1, torch.tensor([[0.3, 0.6], [0.2, 0.2], [1.0, 0.5]], dtype=F64)
    g = rng("tests:toys_gaussian_mixture:recon")
    z = mu + sigma * torch.randn(200_000, 3, 2, generator=g, dtype=F64)
    values = normal_log_pdf(x, z, 0.25).mean(1)  # (1/N) Σ_n log N(x_n; z_n, 0.5² I) per draw
    mean, se_ = float(values.mean()), float(values.std() / math.sqrt(values.numel()))
    assert abs(gm.average_reconstruction(x, mu, sigma, 0.5) - mean) < 4 * se_


def test_evidence_under_standard_and_mixture_priors():
    x = torch.tensor([[-2.0], [0.0], [1.5]], dtype=F64)
    means, logvar = gm.prior_components("standard", x, torch.ones_like(x))
    expected = float(normal_log_pdf(x, torch.zeros_like(x), 1.25).mean())  # p(x) = N(0, 1 + tau²)
    assert gm.average_log_evidence(x, means, logvar, 0.5) == pytest.approx(expected, abs=1e-12)
    mix_mu, mix_sd = torch.tensor([[-1.0], [2.0]], dtype=F64), torch.tensor([[0.5], [0.3]], dtype=F64)
    means, logvar = gm.prior_components("aggregate", mix_mu, mix_sd)
    dens = 0.5 * sum(normal_log_pdf(x, m, float(s) ** 2 + 0.25).exp() for m, s in zip(mix_mu, mix_sd))
    assert gm.average_log_evidence(x, means, logvar, 0.5) == pytest.approx(float(dens.log().mean()), abs=1e-12)


def test_fitted_prior_matches_moments_of_q_by_quadrature():
    t = GaussianMixtureToy(evenly_spaced(6, spacing=0.7, width=0.4).mu + 0.3, 0.4)  # off-centre mean
    m, logvar = gm.prior_components("fitted", t.mu, t.sigma)
    grid = torch.linspace(-8, 8, 16001, dtype=F64)[:, None]
    w = t.log_aggregate(grid).exp() * (grid[1, 0] - grid[0, 0])
    mean = float((w * grid[:, 0]).sum())
    assert float(m) == pytest.approx(mean, abs=1e-9)
    assert float(logvar.exp()) == pytest.approx(float((w * (grid[:, 0] - mean) ** 2).sum()), abs=1e-9)


def test_mixture_prior_is_the_prior_class_with_the_components():
    t = evenly_spaced(3, spacing=1.0, width=0.5)
    prior = gm.mixture_prior("aggregate", t.mu, t.sigma)
    assert isinstance(prior, MixtureOfGaussians) and prior.components == 3
    z = torch.linspace(-3, 3, 7, dtype=F64)[:, None]
    torch.testing.assert_close(prior.log_prob(z), t.log_aggregate(z), rtol=0, atol=1e-12)


def test_state_rejects_bad_settings():
    with pytest.raises(ValueError):
        gm.surgery_state(width=0.0)
    with pytest.raises(ValueError, match="choose one of"):
        gm.surgery_state(prior="uniform")
    assert "z" not in gm.surgery_state(0.5, 1.0, 4, dim=2)


# ---- lesson 05: the derivation lines -----------------------------------------------------------------------
@pytest.mark.parametrize("toy", [evenly_spaced(8, 1.0, 0.5, d=1), evenly_spaced(9, 1.5, 0.4, d=2, points=241)])
def test_every_derivation_line_equals_the_closed_form_average_kl(toy):
    closed = float(DiagonalGaussian(toy.mu, toy.logvar).kl_standard_normal().mean())
    quad = gm.derivation_lines_quadrature(toy)
    assert list(quad) == list(gm.DERIVATION_LINES)
    assert all(abs(value - closed) < 1e-8 for value in quad.values())
    mc = gm.derivation_lines_mc(toy, 4000, rng("tests:toys_gaussian_mixture:lines"))
    for line, (value, se) in mc.items():
        assert 0 < se < 0.1 and abs(value - closed) < 4 * se, line


def test_lines_a_to_c_agree_draw_by_draw():
    toy = evenly_spaced(5, 1.0, 0.6, d=1)
    z = torch.linspace(-3, 3, 13, dtype=F64)[:, None]
    values = list(gm.derivation_integrands(toy, z).values())
    assert all(v.shape == (5, 13) for v in values)
    torch.testing.assert_close(values[0], values[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(values[0], values[2], rtol=0, atol=1e-12)
