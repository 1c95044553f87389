"""DiagonalGaussian, standard normal and Bernoulli likelihood against torch.distributions (independent code)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Bernoulli, Normal, kl_divergence

from elbo_course.distributions import DiagonalGaussian, bernoulli_log_likelihood, standard_normal_log_prob

SETTINGS = settings(deadline=None, derandomize=True, max_examples=30)


def _params(seed: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    mu = 3.0 * torch.randn(shape, generator=g, dtype=torch.float64)
    logvar = 2.0 * torch.randn(shape, generator=g, dtype=torch.float64)
    z = 4.0 * torch.randn(shape, generator=g, dtype=torch.float64)
    return mu, logvar, z


shapes = st.tuples(st.integers(1, 4), st.integers(1, 7))


@SETTINGS
@given(seed=st.integers(0, 10_000), shape=shapes)
def test_log_prob_and_entropy_match_torch_normal(seed: int, shape: tuple[int, int]) -> None:
    mu, logvar, z = _params(seed, shape)
    ref = Normal(mu, torch.exp(0.5 * logvar))
    q = DiagonalGaussian(mu, logvar)
    torch.testing.assert_close(q.log_prob(z), ref.log_prob(z).sum(-1), rtol=1e-12, atol=1e-10)
    torch.testing.assert_close(q.entropy(), ref.entropy().sum(-1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(standard_normal_log_prob(z), Normal(0.0, 1.0).log_prob(z).sum(-1), rtol=1e-12, atol=1e-10)
    assert q.log_prob(z).shape == shape[:-1]


@SETTINGS
@given(seed=st.integers(0, 10_000), shape=shapes)
def test_kl_matches_torch_kl_divergence(seed: int, shape: tuple[int, int]) -> None:
    mu, logvar, _ = _params(seed, shape)
    mu2, logvar2, _ = _params(seed + 1, shape)
    q, p = DiagonalGaussian(mu, logvar), DiagonalGaussian(mu2, logvar2)
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(mu2, torch.exp(0.5 * logvar2))).sum(-1)
    torch.testing.assert_close(q.kl(p), ref, rtol=1e-10, atol=1e-10)
    ref0 = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(q.kl_standard_normal(), ref0, rtol=1e-10, atol=1e-10)
    zero = torch.zeros_like(mu)
    torch.testing.assert_close(q.kl(DiagonalGaussian(zero, zero)), ref0, rtol=1e-10, atol=1e-10)
    assert (q.kl(p) >= 0).all() and q.kl(q).abs().max() < 1e-12


def test_sample_is_reparameterized_seeded_and_has_right_moments() -> None:
    mu = torch.tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(4.0), math.log(0.01)]], requires_grad=True)
    q = DiagonalGaussian(mu, logvar)
    z = q.sample(torch.Generator().manual_seed(3), sample_shape=(40_000,))
    assert z.shape == (40_000, 1, 3)
    again = q.sample(torch.Generator().manual_seed(3), sample_shape=(40_000,))
    assert torch.equal(z, again)
    m, s = z.detach().mean(0)[0], z.detach().std(0)[0]
    sd = torch.tensor([1.0, 2.0, 0.1])
    assert ((m - mu.detach()[0]).abs() < 5 * sd / math.sqrt(40_000)).all()
    assert ((s / sd - 1).abs() < 0.03).all()
    z.sum().backward()  # d z / d mu = 1 for every draw
    torch.testing.assert_close(mu.grad, torch.full_like(mu, 40_000.0))
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0
    torch.testing.assert_close(q.std ** 2, q.var)


@SETTINGS
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([1.0, 30.0, 1000.0]))
def test_bernoulli_log_likelihood_matches_torch_and_is_stable(seed: int, scale: float) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(5, 11, generator=g)
    x = (torch.rand(5, 11, generator=g) < 0.5).float()
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (5,) and torch.isfinite(got).all() and (got <= 0).all()
    ref = Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-4)
    l64 = logits.double()
    by_hand = (x.double() * l64 - torch.nn.functional.softplus(l64)).sum(-1)
    torch.testing.assert_close(got.double(), by_hand, rtol=1e-5, atol=1e-3)


def test_bernoulli_broadcasts_over_samples_and_accepts_grey_values() -> None:
    logits = torch.randn(4, 2, 6, generator=torch.Generator().manual_seed(0))
    x = torch.rand(2, 6, generator=torch.Generator().manual_seed(1))
    got = bernoulli_log_likelihood(logits, x)
    assert got.shape == (4, 2)
    p = torch.sigmoid(logits.double())
    ref = (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(-1)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)


def test_scalar_parameters_are_rejected_with_a_hint() -> None:
    with pytest.raises(ValueError, match="shape"):
        DiagonalGaussian(torch.tensor(0.0), torch.tensor(0.0))
