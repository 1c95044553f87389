"""Exercise specs of lesson ``06_mnist_decomposition`` (ELBO surgery on MNIST VAEs).

* ``marginal_kl_estimate``: a function (z (M, d), mu (N, d), logvar (N, d)) -> (value, se) with
  value = 1/M Σ_m [log q(z_m) - log p(z_m)], q(z) = 1/N Σ_n N(z; mu_n, diag exp logvar_n), p = N(0, I),
  se = sample standard deviation (ddof = 1) of the M terms / sqrt(M). The reference below is a second,
  independent float64 NumPy implementation (not ``elbo_course.surgery``).
* ``max_mutual_info``: the largest value I(n; z) can take for N = 60,000 images: log N nats.
* ``samples_for_se``: how many draws M' would bring the stored d = 10 marginal-KL standard error to
  0.01 nats; se ∝ 1/sqrt(M), so M' = M (se / 0.01)², read from ``results/surgery.json`` (config "eval_samples").
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "06_mnist_decomposition"
N_TRAIN = 60_000
TARGET_SE = 0.01


def reference_marginal_kl_estimate(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[float, float]:
    """(mean, se) of log q(z_m) - log N(z_m; 0, I) over the M rows of z, in float64 NumPy.

    log q(z_m) = logsumexp_n [-1/2 Σ_i ((z_mi - mu_ni)² e^{-logvar_ni} + logvar_ni + log 2π)] - log N.
    """
    zz = np.asarray(z.detach().double().cpu().numpy())
    mm = np.asarray(mu.detach().double().cpu().numpy())
    lv = np.asarray(logvar.detach().double().cpu().numpy())
    quad = ((zz[:, None, :] - mm[None]) ** 2 * np.exp(-lv)[None]).sum(-1)  # (M, N)
    comp = -0.5 * (quad + lv.sum(-1)[None] + mm.shape[1] * math.log(2 * math.pi))
    top = comp.max(axis=1, keepdims=True)
    log_q = top[:, 0] + np.log(np.exp(comp - top).sum(axis=1)) - math.log(mm.shape[0])
    log_p = -0.5 * ((zz**2).sum(-1) + zz.shape[1] * math.log(2 * math.pi))
    terms = log_q - log_p
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(terms.size))


def _marginal_kl_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Small aggregate posteriors: 1-D, 2-D and 5-D, one with a draw far in the tails (underflow test)."""
    g = rng(f"{LESSON}:marginal_kl_cases", seed=0)
    cases = []
    for m, n, d, spread in ((50, 7, 1, 1.0), (200, 30, 2, 2.0), (100, 60, 5, 0.5)):
        mu = torch.randn(n, d, generator=g) * spread
        logvar = torch.rand(n, d, generator=g) * 2.0 - 3.0
        z = torch.randn(m, d, generator=g) * 1.5
        cases.append((z, mu, logvar))
    z_far = torch.tensor([[40.0, -35.0], [0.1, 0.2], [1.0, -1.0]])
    cases.append((z_far, cases[1][1], cases[1][2]))
    return cases


def _samples_for_se() -> float:
    """M (se / 0.01)² for the stored d = 10 model: the draws needed for a 0.01-nat standard error."""
    from ...experiments import load_results

    results = load_results("surgery", "full")
    entry = next(m for m in results["models"] if m["latent_dim"] == 10)
    return results["config"]["eval_samples"] * (entry["marginal_kl_se"] / TARGET_SE) ** 2


register(
    f"{LESSON}-marginal_kl_estimate",
    difficulty=2,
    cases=_marginal_kl_cases,
    reference=reference_marginal_kl_estimate,
    rtol=1e-4,
    atol=1e-5,
    hint="For every draw z_m build the (M, N) matrix of component log densities log N(z_m; mu_n, sigma_n²), "
         "take torch.logsumexp over n and subtract log N to get log q(z_m); subtract the standard normal "
         "log density; return (terms.mean(), terms.std() / sqrt(M)) as floats (std with ddof = 1).",
)

register(
    f"{LESSON}-max_mutual_info",
    difficulty=1,
    expected=math.log(N_TRAIN),
    rtol=1e-4,
    atol=1e-4,
    hint="I(n; z) = log N - E_q(z) H[q(n | z)], and the entropy of a distribution over N indices is never "
         "negative. When is it zero? Give the value in nats for N = 60,000 (use math.log).",
)

register(
    f"{LESSON}-samples_for_se",
    difficulty=2,
    expected=_samples_for_se,
    rtol=0.02,
    atol=1.0,
    hint="A Monte Carlo standard error is s / sqrt(M): to divide it by c you need c² times more draws. "
         "Use M = results['config']['eval_samples'] and the d = 10 entry's marginal_kl_se.",
)
