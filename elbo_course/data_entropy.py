"""The entropy of dynamically binarized MNIST, H(X), for the rate-distortion bounds of lesson 08.

The data a VAE is trained on: n uniform over the N = 60,000 training images, then X | n ~ Π_i Bernoulli(g_ni)
with grey levels g_ni = byte_ni / 255. Its entropy, from H(n, X) written both ways,

    H(X) = H(n) + H(X | n) - H(n | X) = log N + (1/N) Σ_n Σ_i H_b(g_ni) - E_X H[p(n | X)],

where H(X | n) is exact (``data.binarization_noise``) and H(n | X) ≥ 0 is a Monte Carlo average over draws
(n_m, X_m) of the entropy of the posterior p(n' | X_m) ∝ Π_i g_n'i^X_mi (1 - g_n'i)^(1 - X_mi) over all N images
(a Rao-Blackwellized estimator: the entropy of the whole posterior, not -log p(n_m | X_m)). Its log-likelihood
table is one matrix product per block of draws: log p(X | n') = X · (log g - log(1 - g))_n' + Σ_i log(1 - g_n'i),
with the pixels of value 0 and 255 masked out (their terms are exactly 0, or the image is impossible, which a
second product counts).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .bounds import mean_and_se
from .data import binarization_noise, independent_pixel_entropy, load_mnist

BLOCK = 256  # draws per matrix product


def _tables(grey: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(W, c, Z, z1) for grey (N, D) in [0, 1], float64: log p(x | n) = x·W_n + c_n where possible, and
    x·Z_n + z1_n > 0 counts the pixels that make x impossible under image n."""
    log_g = torch.where(grey > 0, grey.clamp_min(1e-300).log(), torch.zeros_like(grey))
    log_1g = torch.where(grey < 1, (1 - grey).clamp_min(1e-300).log(), torch.zeros_like(grey))
    zero, one = (grey == 0).float(), (grey == 1).float()
    return log_g - log_1g, log_1g.sum(1), zero - one, one.sum(1)


def posterior_entropies(x: Tensor, grey: Tensor) -> Tensor:
    """H[p(n | x_m)] for each row of x (M, D) binary, over the N images of grey (N, D): (M,) float64 nats."""
    w, c, z, z1 = _tables(grey.double())
    out = []
    for start in range(0, x.shape[0], BLOCK):
        xb = x[start:start + BLOCK]
        log_lik = xb.double() @ w.T + c                                   # (B, N)
        impossible = (xb.float() @ z.T + z1) > 0.5                        # counts of impossible pixels
        log_lik = log_lik.masked_fill(impossible, -math.inf)
        log_post = log_lik - torch.logsumexp(log_lik, dim=1, keepdim=True)
        prob = log_post.exp()
        out.append(-(prob * log_post.masked_fill(impossible, 0.0)).sum(1))
    return torch.cat(out).clamp_min(0.0)


def entropy(draws: int, generator: torch.Generator, split: str = "train") -> dict[str, float]:
    """H(X) of dynamically binarized MNIST and its pieces, in nats (see the module docstring).

    Returns entropy, entropy_se (from the Monte Carlo H(n | X) alone), log_n, binarization_entropy = H(X | n),
    posterior_entropy = H(n | X) and its se, entropy_draws, independent_pixel_entropy (Σ_i H_b(p̄_i), the
    best distortion at rate 0 of a factorized Bernoulli decoder).
    """
    if isinstance(draws, bool) or not isinstance(draws, int) or draws < 2:
        raise ValueError(f"draws must be an integer >= 2 (for a standard error), got {draws!r}.")
    grey = load_mnist(split)[0].double()
    n = torch.randint(grey.shape[0], (draws,), generator=generator)
    x = torch.bernoulli(grey[n], generator=generator)
    post, post_se = mean_and_se(posterior_entropies(x, grey))
    log_n, noise = math.log(grey.shape[0]), binarization_noise(split)
    return {"entropy": log_n + noise - float(post), "entropy_se": float(post_se), "log_n": log_n,
            "binarization_entropy": noise, "posterior_entropy": float(post), "posterior_entropy_se": float(post_se),
            "entropy_draws": draws, "independent_pixel_entropy": independent_pixel_entropy(split)}
