"""Exercise specs of lesson ``03_the_vae``: the reparameterized sample and the negative-ELBO loss.

reparameterized_sample  z = mu + exp(logvar / 2) eps, a function of (mu, logvar, eps), each (B, d).
negative_elbo           batch mean of -log p(x|z) + KL(q ‖ N(0, I)), a function of (logits (B, D), x (B, D),
                        mu (B, d), logvar (B, d)); one case has logits of size 30 where a naive
                        log(1 + e^l) overflows in float32.

References are NumPy float64 formulas, written independently of ``elbo_course.models``; cases are small
tensors from ``rng("03_the_vae:<purpose>", seed=0)``.
"""
from __future__ import annotations

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "03_the_vae"


def reference_reparameterized_sample(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, elementwise; shapes broadcast (e.g. (B, d) each)."""
    m, lv, e = (np.asarray(t.detach().numpy(), dtype=np.float64) for t in (mu, logvar, eps))
    return torch.from_numpy(m + np.sqrt(np.exp(lv)) * e).to(mu.dtype)


def _sample_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = rng(f"{LESSON}:reparameterized_sample_cases", seed=0)
    cases = [(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, -2.0]])),
             (torch.tensor([[1.0, -1.0, 0.5]]), torch.tensor([[0.0, 2.0, -4.0]]), torch.tensor([[0.3, 0.3, 0.3]]))]
    for shape in ((4, 2), (3, 20)):
        cases.append((torch.randn(shape, generator=g), torch.randn(shape, generator=g),
                      torch.randn(shape, generator=g)))
    return cases


def reference_negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
                            logvar: torch.Tensor) -> torch.Tensor:
    """Batch mean of -[log p(x|z) - KL(q || N(0, I))], one z per image; 0-d float64 tensor.

    log p(x|z) = Σ_j [x_j l_j - log(1 + e^{l_j})] (l = logits, shape (B, D));
    KL = 1/2 Σ_i [mu_i² + e^{logvar_i} - 1 - logvar_i] (shape (B, d)).
    """
    lg, xx, m, lv = (np.asarray(t.detach().numpy(), dtype=np.float64) for t in (logits, x, mu, logvar))
    log_px = (xx * lg - np.logaddexp(0.0, lg)).sum(axis=-1)
    kl = 0.5 * (m ** 2 + np.exp(lv) - 1.0 - lv).sum(axis=-1)
    return torch.tensor(float(np.mean(kl - log_px)), dtype=torch.float64)


def _loss_cases() -> list[tuple[torch.Tensor, ...]]:
    g = rng(f"{LESSON}:negative_elbo_cases", seed=0)
    cases = [(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]), torch.zeros(1, 2), torch.zeros(1, 2))]
    for b, dim, d, scale in ((5, 784, 2, 1.0), (3, 10, 4, 30.0)):  # large logits: log(1 + e^l) must not overflow
        x = (torch.rand(b, dim, generator=g) < 0.3).float()
        cases.append((scale * torch.randn(b, dim, generator=g), x, torch.randn(b, d, generator=g),
                      torch.randn(b, d, generator=g)))
    return cases


register(f"{LESSON}-reparameterized_sample", difficulty=1, cases=_sample_cases,
         reference=reference_reparameterized_sample, rtol=1e-5, atol=1e-6,
         hint="The encoder returns the log-variance, so the standard deviation is exp(logvar / 2), not "
              "exp(logvar) or logvar itself: z = mu + exp(0.5 * logvar) * eps.")

register(f"{LESSON}-negative_elbo", difficulty=2, cases=_loss_cases, reference=reference_negative_elbo,
         rtol=1e-4, atol=1e-3,
         hint="Sum over pixels and over latent units first, then average over the batch. The Bernoulli term "
              "is -BCE-with-logits (F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(-1)), "
              "which stays finite for large logits; the KL is 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1).")
