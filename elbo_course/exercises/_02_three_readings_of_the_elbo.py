"""Exercise specs of lesson 02 (three readings of the ELBO).

kl_diag_gaussians  KL(N(mu_q, diag e^lv_q) ‖ N(mu_p, diag e^lv_p)) summed over the last dim, (..., d) -> (...);
                   compared on seeded float64 cases with ``DiagonalGaussian.kl``.
mc_elbo            (mean, se) of log p(x, z_j) - log q(z_j), z_j = m + s eps_j, on the unit linear-Gaussian
                   toy, se = std(unbiased) / sqrt(M); compared on stored (x, m, s, eps) cases.
prior_change       which of the six terms of the three readings change when the prior N(0, 1) becomes
                   N(0, 4) with x = 1.5, q = N(0.4, 0.9²) and p(x|z) fixed; the expected dict is computed
                   from ``LinearGaussian`` (a term "changes" when it moves by more than 1e-12).
"""
from __future__ import annotations

import math

import torch

from ..distributions import DiagonalGaussian
from ..grading import register
from ..runtime import seed_for
from ..toy import LinearGaussian

LESSON = "02_three_readings_of_the_elbo"
TERMS = ("log_evidence", "kl_to_posterior", "expected_log_joint", "entropy", "expected_log_likelihood",
         "kl_to_prior")


def _gen(tag: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed_for(f"{LESSON}.{tag}", seed=0))


def kl_reference(mu_q, logvar_q, mu_p, logvar_p) -> torch.Tensor:
    """Diagonal-Gaussian KL via ``DiagonalGaussian.kl``; shape (...)."""
    return DiagonalGaussian(mu_q, logvar_q).kl(DiagonalGaussian(mu_p, logvar_p))


def _kl_cases() -> list[tuple[torch.Tensor, ...]]:
    g = _gen("kl_cases")
    cases = []
    for shape in ((3,), (5, 4), (2, 3, 2), (1, 1)):
        mu_q, mu_p = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
        lv_q, lv_p = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
        cases.append((mu_q, lv_q, mu_p, lv_p))
    return cases


def mc_elbo_reference(x: float, q_mean: float, q_std: float, eps: torch.Tensor) -> tuple[float, float]:
    """(mean, se) of the reparameterized log weights log p(x, z) - log q(z), z = q_mean + q_std eps."""
    z = q_mean + q_std * eps
    log_w = LinearGaussian().log_joint(x, z) + 0.5 * (math.log(2 * math.pi * q_std**2) + eps**2)
    return float(log_w.mean()), float(log_w.std(unbiased=True) / math.sqrt(len(eps)))


def _mc_cases() -> list[tuple]:
    g = _gen("mc_cases")
    return [(x, m, s, torch.randn(n, generator=g, dtype=torch.float64))
            for x, m, s, n in ((2.0, 0.5, 0.6, 50), (-1.0, 0.0, 1.0, 1000), (0.3, 0.15, 0.5**0.5, 10), (1.5, -2.0, 0.2, 200))]


def prior_change_expected(x: float = 1.5, q_mean: float = 0.4, q_var: float = 0.81) -> dict[str, bool]:
    """True for each term that moves (> 1e-12) when the prior variance goes from 1 to 4."""
    def terms(model: LinearGaussian) -> dict[str, float]:
        return {"log_evidence": float(model.log_evidence(x)), "kl_to_posterior": float(model.kl_to_posterior(x, q_mean, q_var)),
                "expected_log_joint": float(model.expected_log_joint(x, q_mean, q_var)),
                "entropy": float(model.entropy(q_var)),
                "expected_log_likelihood": float(model.expected_log_likelihood(x, q_mean, q_var)),
                "kl_to_prior": float(model.kl_to_prior(q_mean, q_var))}
    before, after = terms(LinearGaussian(prior_var=1.0)), terms(LinearGaussian(prior_var=4.0))
    return {k: abs(after[k] - before[k]) > 1e-12 for k in TERMS}


register(f"{LESSON}.kl_diag_gaussians", difficulty=1, cases=_kl_cases, reference=kl_reference, rtol=1e-9, atol=1e-10,
         hint="KL = ½ Σ_i [logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)²) / exp(logvar_p) - 1], summed over "
              "the last dimension only (sum(dim=-1)), so (5, 4) inputs give shape (5,). The inputs are "
              "log-variances, not standard deviations.")

register(f"{LESSON}.mc_elbo", difficulty=2, cases=_mc_cases, reference=mc_elbo_reference, rtol=1e-9, atol=1e-10,
         hint="Return a pair (estimate, se). log w_j = log p(x, z_j) - log q(z_j) with z_j = m + s·eps_j and "
              "log q(z_j) = -½[log(2π s²) + eps_j²]; estimate = mean of log w, se = std(log w) / sqrt(M) "
              "with the unbiased std (torch.std's default). Use q_std, not its square, for z.")

register(f"{LESSON}.prior_change", difficulty=1, expected=prior_change_expected,
         hint="Give a dict with the six keys and a bool for each. A term changes when the prior appears in it: "
              "p(x) = ∫ p(z) p(x|z) dz and p(z|x) ∝ p(z) p(x|z) contain the prior; H[q] and "
              "E_q log p(x|z) involve only q and the decoder.")
