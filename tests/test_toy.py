"""Exact toys: closed forms against independent computations (Bayes' rule, quadrature, Monte Carlo)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from elbo_course.distributions import DiagonalGaussian
from elbo_course.toy import GaussianMixtureToy, LinearGaussian, evenly_spaced, surgery_terms

SETTINGS = settings(deadline=None, derandomize=True, max_examples=40)
f64 = dict(dtype=torch.float64)
models = st.builds(LinearGaussian, st.floats(0.2, 5.0), st.floats(0.1, 5.0), st.floats(-3.0, 3.0))


def _quad(f, lo: float = -40.0, hi: float = 40.0, n: int = 400_001) -> torch.Tensor:
    z = torch.linspace(lo, hi, n, **f64)
    return f(z).sum() * (z[1] - z[0])


@SETTINGS
@given(model=models, x=st.floats(-4, 4), m=st.floats(-3, 3), v=st.floats(0.01, 4.0))
def test_elbo_readings_agree_and_equal_evidence_minus_posterior_kl(model: LinearGaussian, x: float, m: float, v: float) -> None:
    r = model.readings(x, m, v)
    target = model.log_evidence(x) - model.kl_to_posterior(x, m, v)
    for value in r.values():
        assert abs(float(value - target)) < 1e-6
    assert abs(float(model.elbo(x, m, v) - target)) < 1e-6
    assert float(model.elbo(x, m, v)) <= float(model.log_evidence(x)) + 1e-12
    pm, pv = model.posterior(x)
    assert abs(float(model.elbo(x, pm, pv) - model.log_evidence(x))) < 1e-9  # the true posterior is tight
    assert abs(float(model.kl_to_posterior(x, pm, pv))) < 1e-12


@SETTINGS
@given(model=models, x=st.floats(-4, 4), z=st.floats(-5, 5))
def test_bayes_rule_gives_the_closed_form_posterior(model: LinearGaussian, x: float, z: float) -> None:
    pm, pv = model.posterior(x)
    log_post = -0.5 * (math.log(2 * math.pi * pv) + (z - pm) ** 2 / pv)
    assert abs(float(model.log_joint(x, z) - model.log_evidence(x) - log_post)) < 1e-9


def test_closed_forms_against_quadrature() -> None:
    model, x, m, v = LinearGaussian(2.0, 0.5, weight=1.7), 1.3, -0.4, 0.7
    evidence = _quad(lambda z: model.log_joint(x, z).exp())
    assert abs(float(evidence.log() - model.log_evidence(x))) < 1e-9
    log_q = lambda z: -0.5 * (math.log(2 * math.pi * v) + (z - m) ** 2 / v)  # noqa: E731
    q = lambda z: log_q(z).exp()  # noqa: E731
    assert abs(float(_quad(lambda z: q(z) * model.log_likelihood(x, z)) - model.expected_log_likelihood(x, m, v))) < 1e-9
    assert abs(float(_quad(lambda z: q(z) * model.log_joint(x, z)) - model.expected_log_joint(x, m, v))) < 1e-9
    kl_prior = _quad(lambda z: q(z) * (log_q(z) - model.log_prior(z)))
    assert abs(float(kl_prior - model.kl_to_prior(m, v))) < 1e-9
    assert abs(float(-_quad(lambda z: q(z) * log_q(z)) - model.entropy(v))) < 1e-9


def test_log_weights_average_to_the_elbo_and_are_constant_at_the_posterior() -> None:
    model, x = LinearGaussian(1.0, 1.0), torch.tensor([0.5, -2.0], **f64)
    log_w = model.log_weights(x, 0.3, 0.2, 20_000, torch.Generator().manual_seed(0))
    assert log_w.shape == (20_000, 2)
    mean, se = log_w.mean(0), log_w.std(0) / math.sqrt(20_000)
    assert ((mean - model.elbo(x, 0.3, 0.2)).abs() < 4 * se).all()
    pm, pv = model.posterior(x)
    exact = model.log_weights(x, pm, pv, 50, torch.Generator().manual_seed(1))
    torch.testing.assert_close(exact, model.log_evidence(x).expand(50, 2), rtol=0, atol=1e-12)


def test_multi_observation_average_over_data() -> None:
    model = LinearGaussian(1.0, 0.5, weight=2.0)
    x = model.sample_data(5000, torch.Generator().manual_seed(0))
    assert abs(float(x.var()) - (4.0 + 0.5)) < 0.3 and abs(float(x.mean())) < 0.1
    m, v = 0.8 * model.posterior(x)[0], torch.full_like(x, 0.3)  # one (mismatched) q per data point
    avg = model.average_readings(x, m, v)
    per_point = model.expected_log_likelihood(x, m, v) - model.kl_to_prior(m, v)
    for value in avg.values():
        assert value.shape == () and abs(float(value - per_point.mean())) < 1e-9
    gap = float(model.log_evidence(x).mean() - avg["recon_minus_kl"])
    assert gap > 0 and abs(gap - float(model.kl_to_posterior(x, m, v).mean())) < 1e-9


def test_linear_gaussian_rejects_bad_variances() -> None:
    with pytest.raises(ValueError, match="positive"):
        LinearGaussian(prior_var=0.0)


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
    torch.testing.assert_close(toy.index_posterior(z).exp().sum(0), torch.ones(10, **f64))
    grid, q, p = toy.densities()
    assert grid.shape[0] == q.shape[0] == p.shape[0] and abs(float(q.sum()) * toy.cell - 1.0) < 1e-9
    with pytest.raises(ValueError, match="d = 1 or 2"):
        GaussianMixtureToy(torch.zeros(3, 3), 1.0)
