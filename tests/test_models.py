"""The VAE: shapes, the estimators against closed forms, active units."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from elbo_course.bounds import mean_and_se
from elbo_course.distributions import DiagonalGaussian
from elbo_course.models import VAE, active_units, encoder_means
from elbo_course.priors import MixtureOfGaussians, Prior, StandardNormal


class GaussianPrior(Prior):
    """p(z) = N(m, diag exp(lv)) with learnable m, lv: a prior outside the package, with a known KL that
    the model must not use (``kl`` returns None, so the VAE estimates the KL by Monte Carlo)."""

    kind = "test_gaussian"

    def __init__(self, latent_dim: int) -> None:
        super().__init__(latent_dim)
        self.mean = nn.Parameter(torch.full((latent_dim,), 0.5))
        self.logvar = nn.Parameter(torch.full((latent_dim,), -0.3))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return DiagonalGaussian(self.mean, self.logvar).log_prob(z)


@pytest.fixture()
def x() -> torch.Tensor:
    return (torch.rand(6, 784, generator=torch.Generator().manual_seed(3)) < 0.3).float()


def test_shapes_and_architecture(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = VAE(10)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, 10)
    assert model.decode(mu).shape == (6, 784)
    assert model.log_weights(x, k=4).shape == (4, 6)
    assert model.elbo(x).shape == (6,)
    assert model.log_likelihood(x, k=8, chunk=3).shape == (6,)
    sizes = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert sizes == [(784, 500), (500, 500), (500, 20), (10, 500), (500, 500), (500, 784)]
    assert sum(isinstance(m, nn.Softplus) for m in model.modules()) == 4
    burda = VAE(50, hidden=(200, 200), activation="tanh")
    assert burda.encode(x)[0].shape == (6, 50) and sum(isinstance(m, nn.Tanh) for m in burda.modules()) == 4
    with pytest.raises(ValueError, match="activation"):
        VAE(2, activation="sigmoidish")
    assert isinstance(model.prior, StandardNormal) and model.config["prior"] == {"kind": "standard",
                                                                                "config": {"latent_dim": 10}}
    with pytest.raises(TypeError, match="Prior"):
        VAE(2, prior=nn.Identity())
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(2, prior=StandardNormal(3))


def test_log_weights_agree_with_closed_form_elbo(x: torch.Tensor) -> None:
    """E_q[log w] = E_q log p(x|z) - KL: the K=1 estimates average to the closed-form-KL ELBO."""
    torch.manual_seed(1)
    model = VAE(5, hidden=(64, 64))
    with torch.no_grad():
        log_w = model.log_weights(x, k=4000, generator=torch.Generator().manual_seed(0))
        mean, se = log_w.double().mean(0), log_w.double().std(0) / math.sqrt(4000)
        elbo = model.elbo(x, k=4000, generator=torch.Generator().manual_seed(1)).double()
    assert torch.all((mean - elbo).abs() < 5 * se + 0.05), (mean, elbo, se)


def test_monte_carlo_kl_for_other_priors(x: torch.Tensor) -> None:
    torch.manual_seed(2)
    prior = GaussianPrior(4)
    model = VAE(4, hidden=(32, 32), prior=prior)
    assert prior.kl(DiagonalGaussian(torch.zeros(4), torch.zeros(4))) is None
    with torch.no_grad():
        _, kl_mc = model.elbo_parts(x, k=5000, generator=torch.Generator().manual_seed(5))
        mu, logvar = model.encode(x)
        exact = DiagonalGaussian(mu, logvar).kl(DiagonalGaussian(prior.mean, prior.logvar))
    assert torch.allclose(kl_mc, exact, atol=0.1, rtol=0.02), (kl_mc, exact)


def test_iwae_bound_exceeds_elbo_in_expectation(x: torch.Tensor) -> None:
    """E[L_1] = ELBO <= E[L_5] <= E[L_50], checked with standard errors over repeated draws."""
    torch.manual_seed(4)
    model = VAE(5, hidden=(64, 64))
    with torch.no_grad():  # a z-dependent decoder and a too-narrow q make the gaps visible
        model.decoder[0].weight.mul_(8.0)
        model.encoder[-1].bias[5:].fill_(-3.0)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        elbo = model.log_weights(x, k=4000, generator=gen).double()
        draws = {k: torch.stack([model.log_likelihood(x, k=k, generator=gen) for _ in range(reps)])
                 for k, reps in ((1, 400), (5, 400), (50, 100))}
    mean = {k: v.mean(0) for k, v in draws.items()}
    se = {k: v.std(0) / math.sqrt(v.shape[0]) for k, v in draws.items()}
    elbo_mean, elbo_se = elbo.mean(0), elbo.std(0) / math.sqrt(4000)
    assert torch.all((mean[1] - elbo_mean).abs() < 4 * (se[1] + elbo_se))  # L_1 is the ELBO estimate
    assert torch.all(mean[5] - elbo_mean > 4 * (se[5] + elbo_se)), (mean[5] - elbo_mean, se[5])
    assert torch.all(mean[50] - mean[5] > 3 * (se[50] + se[5])), (mean[50] - mean[5], se[50])


def test_log_likelihood_is_reproducible_and_chunk_independent_in_distribution(x: torch.Tensor) -> None:
    torch.manual_seed(5)
    model = VAE(3, hidden=(32, 32))
    a = model.log_likelihood(x, k=400, chunk=50, generator=torch.Generator().manual_seed(0))
    b = model.log_likelihood(x, k=400, chunk=50, generator=torch.Generator().manual_seed(0))
    c = model.log_likelihood(x, k=400, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.float64
    assert torch.allclose(a, c, atol=1.0)
    mean, se = mean_and_se(model.log_likelihood(x, k=100, generator=torch.Generator().manual_seed(0)))
    assert math.isfinite(float(mean)) and float(se) > 0


def test_mean_and_se() -> None:
    mean, se = mean_and_se(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert float(mean) == pytest.approx(2.5) and float(se) == pytest.approx(math.sqrt(5 / 3) / 2)


def test_active_units_on_constructed_means() -> None:
    gen = torch.Generator().manual_seed(0)
    base = torch.randn(5000, 1, generator=gen)
    # population variances 1, 0.04, 0.0025, 0, and 0.0121 / 0.0081 around the threshold 0.01
    scales = torch.tensor([1.0, 0.2, 0.05, 0.0, 0.11, 0.09])
    mu = (base - base.mean()) / base.std(correction=0) * scales + 3.0
    assert active_units(mu) == 3
    assert active_units(mu, threshold=0.001) == 5
    assert active_units(torch.zeros(10, 4)) == 0
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        active_units(torch.zeros(5))


def test_encoder_means_match_encode(x: torch.Tensor) -> None:
    model = VAE(3, hidden=(16, 16))
    mu = encoder_means(model, x, batch_size=4)
    assert torch.allclose(mu, model.encode(x)[0].detach())


def test_prior_sees_the_encoder() -> None:
    """A prior's attach() receives the model's encoder (what a VampPrior needs)."""
    seen = []

    class Spy(GaussianPrior):
        def attach(self, encoder: nn.Module) -> None:
            seen.append(encoder)

    model = VAE(3, hidden=(8, 8), prior=Spy(3))
    assert seen == [model.encoder]


def test_mixture_prior_trains_through_the_monte_carlo_kl(x: torch.Tensor) -> None:
    torch.manual_seed(8)
    model = VAE(2, hidden=(16, 16), prior=MixtureOfGaussians(2, components=3))
    loss = -model.elbo(x, generator=torch.Generator().manual_seed(0)).mean()
    loss.backward()
    assert model.prior.means.grad is not None and model.prior.means.grad.abs().sum() > 0
