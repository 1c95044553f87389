"""Priors: the interface every prior implements, the closed forms against Monte Carlo, the registry."""
from __future__ import annotations

import math

import pytest
import torch

from elbo_course.distributions import DiagonalGaussian
from elbo_course.priors import MixtureOfGaussians, Prior, StandardNormal, build_prior, prior_spec, registry
from elbo_course.surgery import decompose


def test_standard_normal_density_sample_and_kl() -> None:
    prior = StandardNormal(3)
    z = torch.tensor([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], dtype=torch.float64)
    expected = -0.5 * (z.square().sum(1) + 3 * math.log(2 * math.pi))
    assert torch.allclose(prior.log_prob(z), expected)
    assert prior.log_prob(z[None]).shape == (1, 2)
    draws = prior.sample(20_000, torch.Generator().manual_seed(0))
    assert draws.shape == (20_000, 3) and abs(float(draws.mean())) < 0.02 and abs(float(draws.var()) - 1) < 0.03
    q = DiagonalGaussian(torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[-0.5, 0.2, 0.0]]))
    assert torch.allclose(prior.kl(q), q.kl_standard_normal())
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        prior.log_prob(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="non-negative integer"):
        prior.sample(-1)


def test_mixture_density_matches_a_direct_sum_and_its_samples() -> None:
    g = torch.Generator().manual_seed(1)
    means, logvar = torch.randn(4, 2, generator=g, dtype=torch.float64), 0.3 * torch.randn(4, 2, generator=g,
                                                                                            dtype=torch.float64)
    prior = MixtureOfGaussians.from_components(means, logvar)
    z = 2 * torch.randn(7, 2, generator=g, dtype=torch.float64)
    direct = torch.stack([DiagonalGaussian(means[c], logvar[c]).log_prob(z) for c in range(4)]).exp().mean(0).log()
    assert torch.allclose(prior.log_prob(z), direct, atol=1e-10)
    assert prior.log_prob(z.reshape(7, 1, 2)).shape == (7, 1)
    assert prior.kl(DiagonalGaussian(means[:1], logvar[:1])) is None
    draws = prior.sample(40_000, torch.Generator().manual_seed(2))
    assert torch.allclose(draws.mean(0), means.mean(0), atol=0.03)
    assert list(prior.buffers()) and not list(prior.parameters())  # fixed components are not trained


def test_monte_carlo_kl_of_a_mixture_agrees_with_its_definition() -> None:
    """KL(q ‖ p) ≈ E_q[log q - log p] by Monte Carlo, bounded by the convexity of KL in p."""
    prior = MixtureOfGaussians(2, components=5, seed=3)
    q = DiagonalGaussian(torch.tensor([0.5, -0.2]), torch.tensor([-1.0, -0.5]))
    z = q.sample(torch.Generator().manual_seed(4), (100_000,))
    with torch.no_grad():
        kl = float((q.log_prob(z) - prior.log_prob(z)).mean())
        upper = float(torch.stack([q.kl(DiagonalGaussian(prior.means[c], prior.logvar[c])) for c in range(5)]).mean())
    assert 0 < kl <= upper + 0.02


def test_learnable_mixture_has_gradients() -> None:
    prior = MixtureOfGaussians(3, components=4)
    prior.log_prob(torch.randn(10, 3, generator=torch.Generator().manual_seed(5))).sum().backward()
    assert prior.means.grad.abs().sum() > 0 and prior.logvar.grad.abs().sum() > 0


def test_registry_spec_round_trip_and_refusals() -> None:
    assert {"standard": StandardNormal, "mog": MixtureOfGaussians}.items() <= registry().items()
    prior = MixtureOfGaussians(2, components=3, seed=7)
    rebuilt = build_prior(prior_spec(prior))
    assert isinstance(rebuilt, MixtureOfGaussians) and torch.equal(rebuilt.means, prior.means)
    assert isinstance(build_prior(None, latent_dim=4), StandardNormal)
    for bad in ({"kind": "subprocess:call", "config": {}}, {"kind": "mog", "config": {"latent_dim": "2"}},
                {"kind": "mog", "config": {"latent_dim": 2, "components": 3, "evil": 1}},
                {"kind": "mog", "config": {"latent_dim": 2, "components": float("nan")}},
                {"kind": "standard", "config": {"latent_dim": [1, 2]}}, {"kind": "standard"}, "standard"):
        with pytest.raises(ValueError):
            build_prior(bad)

    class Outside(StandardNormal):
        kind = "outside"

    with pytest.raises(ValueError, match="priors.py"):
        prior_spec(Outside(2))
    assert "outside" not in registry()


def test_decompose_takes_any_prior() -> None:
    """surgery.decompose(log_prior=prior.log_prob) for both priors; with N(0, I) it agrees with None."""
    g = torch.Generator().manual_seed(6)
    mu, logvar = torch.randn(50, 2, generator=g, dtype=torch.float64), torch.full((50, 2), -2.0, dtype=torch.float64)
    closed = decompose(mu, logvar, -10.0, num_samples=4000, generator=torch.Generator().manual_seed(0))
    general = decompose(mu, logvar, -10.0, log_prior=StandardNormal(2).log_prob, num_samples=4000,
                        generator=torch.Generator().manual_seed(0))
    assert abs(general["avg_kl"] - closed["avg_kl"]) < 4 * general["avg_kl_se"]
    mog = decompose(mu, logvar, -10.0, log_prior=MixtureOfGaussians(2, components=3).log_prob, num_samples=4000,
                    generator=torch.Generator().manual_seed(1))
    assert abs(mog["identity_residual"]) < 4 * mog["identity_residual_se"]


def test_base_class_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="latent_dim"):
        StandardNormal(0)
    with pytest.raises(ValueError, match="components"):
        MixtureOfGaussians(2, components=0)
    assert Prior.kl(StandardNormal(1), None) is None


def test_vamp_prior_is_the_mixture_of_the_encoders_posteriors_at_its_pseudo_inputs():
    import math

    from elbo_course.models import VAE
    from elbo_course.priors import VampPrior

    prior = VampPrior(3, components=4, data_dim=6, seed=1)
    with pytest.raises(RuntimeError, match="needs the encoder"):
        prior.log_prob(torch.zeros(2, 3))
    model = VAE(3, hidden=(5,), prior=prior, data_dim=6)
    u = prior.pseudo_inputs()
    assert u.shape == (4, 6) and float(u.detach().min()) >= 0.0 and float(u.detach().max()) <= 1.0
    z = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    mu, logvar = model.encoder(u)                                  # an independent route: component by component
    per_component = torch.stack([(-0.5 * ((z - mu[c]) ** 2 / logvar[c].exp() + logvar[c] + math.log(2 * math.pi)))
                                 .sum(-1) for c in range(4)], dim=1)
    expected = torch.logsumexp(per_component, dim=1) - math.log(4)
    assert torch.allclose(prior.log_prob(z), expected, atol=1e-5)
    prior.log_prob(z).sum().backward()                              # gradients reach pseudo-inputs and encoder
    assert prior.pseudo_logits.grad is not None and model.encoder[0].weight.grad is not None
    assert prior.sample(5, generator=torch.Generator().manual_seed(2)).shape == (5, 3)
    assert not any(k.startswith("prior._encoder") for k in model.state_dict())  # one copy of the encoder
    rebuilt = build_prior(prior_spec(prior), latent_dim=3)
    assert isinstance(rebuilt, VampPrior) and rebuilt.config() == prior.config()
    assert registry()["vamp"] is VampPrior


def test_vamp_prior_round_trips_through_a_checkpoint(tmp_path):
    from elbo_course.checkpoints import load_checkpoint, save_checkpoint
    from elbo_course.models import VAE
    from elbo_course.priors import VampPrior

    model = VAE(2, hidden=(4,), prior=VampPrior(2, components=3, data_dim=5), data_dim=5)
    with torch.no_grad():
        model.prior.pseudo_logits.add_(0.3)
    path = tmp_path / "vamp.pt"
    sha = save_checkpoint(model, path)
    loaded = load_checkpoint(path, sha)
    z = torch.randn(4, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(loaded.prior.log_prob(z), model.prior.log_prob(z))


def test_a_vae_with_a_vamp_prior_trains_and_moves_its_pseudo_inputs():
    from elbo_course.models import VAE
    from elbo_course.priors import VampPrior
    from elbo_course.train import fit

    model = VAE(2, hidden=(16,), prior=VampPrior(2, components=3, data_dim=784, seed=0))
    before = model.prior.pseudo_logits.detach().clone()
    x = torch.rand(60, 784, generator=torch.Generator().manual_seed(1))
    history = fit(model, x, epochs=2, batch_size=20, lr=1e-2, progress=False)
    assert all(math.isfinite(v) for v in history["loss"])
    assert not torch.equal(before, model.prior.pseudo_logits.detach())
