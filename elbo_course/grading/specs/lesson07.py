"""Exercise specs of lesson ``07_priors_and_the_vampprior``.

vamp_log_density   log p(z) = log (1/C) Σ_c N(z; mu_c, diag e^lv_c) for z (M, d) and the components' (C, d)
                   parameters, by log-sum-exp; run on seeded float64 cases, one of them with z so far from every
                   component that e^{log N} underflows to 0 in float64 (a plain log of a sum gives -inf there).
mc_kl              (estimate, se) of KL(q ‖ p) from single-sample terms log q(z_j) - log p(z_j), z_j = mu + e^{lv/2}
                   eps_j, for q = N(mu, diag e^lv) and p a Gaussian mixture; se = std(unbiased) / √M.
aggregate_gain     predict-then-check with lesson 06's stored d = 20 model: the training-set ELBO gain when
                   p(z) = N(0, I) is replaced by q(z) (its stored marginal KL; tolerance 0.15 nats, 4 se of the
                   stored estimate), and where the test images' gain lies (a choice).

References are direct float64 computations, independent of ``elbo_course.surgery`` and ``priors``.
"""
from __future__ import annotations

import math

import torch

from ...runtime import rng
from ..check import register

LESSON = "07_priors_and_the_vampprior"
LOG_2PI = math.log(2 * math.pi)
TEST_CHOICES = ("larger than on the training images", "about the same", "smaller but positive", "negative")


def _component_log_densities(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_m; mu_c, diag e^lv_c), (M, d) x (C, d) -> (M, C) float64, from squared distances."""
    z, mu, logvar = z.double()[:, None, :], mu.double()[None], logvar.double()[None]
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)


def vamp_log_density_reference(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log (1/C) Σ_c N(z; mu_c, diag e^lv_c) per row of z: (M,) float64."""
    return torch.logsumexp(_component_log_densities(z, mu, logvar), dim=1) - math.log(mu.shape[0])


def _vamp_cases() -> list[tuple[torch.Tensor, ...]]:
    g = rng(f"{LESSON}:vamp_cases", seed=0)
    cases = []
    for m, c, d in ((5, 3, 2), (7, 10, 4), (1, 1, 3), (4, 50, 40)):
        z, mu = (torch.randn(n, d, generator=g, dtype=torch.float64) for n in (m, c))
        cases.append((z, mu, torch.randn(c, d, generator=g, dtype=torch.float64) - 1.0))
    far = torch.full((2, 2), 40.0, dtype=torch.float64)      # every component density underflows to 0 here
    far[1] = -40.0
    cases.append((far, torch.randn(3, 2, generator=g, dtype=torch.float64), torch.full((3, 2), -2.0, dtype=torch.float64)))
    return cases


def _vamp_wrong() -> list:
    def no_log_c(z, mu, lv):
        return torch.logsumexp(_component_log_densities(z, mu, lv), dim=1)

    def naive(z, mu, lv):
        return torch.log(_component_log_densities(z, mu, lv).exp().mean(1))

    def mean_of_logs(z, mu, lv):
        return _component_log_densities(z, mu, lv).mean(1)

    def std_for_var(z, mu, lv):  # e^lv used as the standard deviation
        return vamp_log_density_reference(z, mu, 2 * lv)

    return [no_log_c, naive, mean_of_logs, std_for_var]


def mc_kl_reference(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor, comp_mu: torch.Tensor,
                    comp_logvar: torch.Tensor) -> tuple[float, float]:
    """(mean, se) of t_j = log q(z_j) - log p(z_j), z_j = mu + e^{lv/2} eps_j; eps (M, d), mu/lv (d,)."""
    mu, logvar, eps = mu.double(), logvar.double(), eps.double()
    z = mu + (0.5 * logvar).exp() * eps
    log_q = -0.5 * (LOG_2PI + logvar + eps**2).sum(-1)
    terms = log_q - vamp_log_density_reference(z, comp_mu, comp_logvar)
    return float(terms.mean()), float(terms.std(correction=1) / math.sqrt(terms.numel()))


def _mc_cases() -> list[tuple[torch.Tensor, ...]]:
    g = rng(f"{LESSON}:mc_kl_cases", seed=0)
    cases = []
    for m, c, d in ((5, 4, 2), (200, 20, 3), (1000, 50, 10)):
        mu, lv = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64) - 1
        eps = torch.randn(m, d, generator=g, dtype=torch.float64)
        cases.append((mu, lv, eps, torch.randn(c, d, generator=g, dtype=torch.float64),
                      torch.randn(c, d, generator=g, dtype=torch.float64) * 0.3))
    return cases


def _mc_wrong() -> list:
    def population_sd(mu, lv, eps, cm, clv):
        value, se = mc_kl_reference(mu, lv, eps, cm, clv)
        return value, se * math.sqrt((eps.shape[0] - 1) / eps.shape[0])

    def no_root(mu, lv, eps, cm, clv):
        value, se = mc_kl_reference(mu, lv, eps, cm, clv)
        return value, se * math.sqrt(eps.shape[0])

    def flipped(mu, lv, eps, cm, clv):
        value, se = mc_kl_reference(mu, lv, eps, cm, clv)
        return -value, se

    def variance_as_scale(mu, lv, eps, cm, clv):  # z = mu + e^lv eps
        return mc_kl_reference(mu, 2 * lv, eps, cm, clv)

    return [population_sd, no_root, flipped, variance_as_scale]


def _stored_d20() -> dict:
    from ...experiments import load_results

    return next(m for m in load_results("surgery", "full")["models"] if m["latent_dim"] == 20)


def _aggregate_gain() -> dict:
    return {"train_gain": _stored_d20()["marginal_kl"], "test": "negative"}


# Typical wrong answers from the stored d = 20 numbers (the tests check that they are rejected).
_D20 = {"marginal_kl": 10.116702085576517, "mutual_info": 10.925028332696149, "avg_kl": 21.01654366378438}

register(f"{LESSON}-aggregate_gain", answer="aggregate_gain", difficulty=1, expected=_aggregate_gain, rtol=0.0, atol=0.15,
         choices=TEST_CHOICES,
         wrong=[{"train_gain": _D20["mutual_info"], "test": "negative"},
                {"train_gain": _D20["avg_kl"], "test": "negative"},
                {"train_gain": _D20["marginal_kl"], "test": "about the same"},
                {"train_gain": _D20["marginal_kl"], "test": "smaller but positive"}],
         offsets={"the marginal KL": _D20["marginal_kl"], "I(n; z)": _D20["mutual_info"]},
         hint="Only one of the three surgery terms contains p(z), and KL(q(z) ‖ q(z)) = 0. For the test images, "
              "ask where their codes fall: q(z) is built from the 60,000 training codes only, each a narrow "
              "Gaussian, and lesson 06 measured how close I(n; z) is to log N.")

register(f"{LESSON}-vamp_log_density", answer="vamp_log_density", difficulty=2, cases=_vamp_cases, reference=vamp_log_density_reference,
         rtol=1e-9, atol=1e-9, wrong=_vamp_wrong(),
         hint="log p(z) = log Σ_c exp(ℓ_c) − log C with ℓ_c = log N(z; μ_c, diag σ_c²) = −½ Σ_i [log 2π + log σ²_c,i + "
              "(z_i − μ_c,i)² / σ²_c,i]. Compute the (M, C) table of ℓ_c first, then take the log-sum-exp over the "
              "components: exponentiating ℓ_c directly gives 0 far from every component, and log 0 = −∞.")

register(f"{LESSON}-mc_kl", answer="mc_kl", difficulty=2, cases=_mc_cases, reference=mc_kl_reference, rtol=1e-9, atol=1e-10,
         wrong=_mc_wrong(),
         hint="Return a pair (estimate, se) of floats. Draw z_j = μ + σ ε_j with σ = exp(½ log σ²); each term is "
              "log q(z_j) − log p(z_j), where log q(z_j) = −½ Σ_i [log 2π + log σ²_i + ε²_j,i] and log p is the "
              "equally weighted mixture density of Exercise 7.2. The estimate is the mean of the M terms; se is their sample "
              "standard deviation (dividing by M − 1) over √M.")

