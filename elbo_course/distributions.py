"""Distributions the course uses: a diagonal Gaussian, the standard normal and a Bernoulli likelihood.

Shapes: a ``DiagonalGaussian(mu, logvar)`` holds tensors of shape ``(..., d)``; densities sum over the
last (event) dimension and return shape ``(...)``.

Formulas (d = event dimension, sigma² = exp(logvar)):

    log N(z; mu, diag sigma²) = -1/2 Σ_i [ log 2π + logvar_i + (z_i - mu_i)² / sigma_i² ]
    H[N(mu, diag sigma²)]     =  1/2 Σ_i [ log 2π + 1 + logvar_i ]
    KL(N(mu_q, s_q²) ‖ N(mu_p, s_p²))
                              =  1/2 Σ_i [ logvar_p - logvar_q + (s_q² + (mu_q - mu_p)²) / s_p² - 1 ]
    KL(N(mu, s²) ‖ N(0, I))   =  1/2 Σ_i [ mu_i² + s_i² - logvar_i - 1 ]
    log Bernoulli(x; sigmoid(l)) = Σ_i [ x_i l_i - softplus(l_i) ]  = -BCEWithLogits(l, x) summed
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2.0 * math.pi)

__all__ = ["LOG_2PI", "DiagonalGaussian", "standard_normal_log_prob", "bernoulli_log_likelihood"]


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) = -1/2 Σ_i (z_i² + log 2π), summed over the last dim: ``(..., d) -> (...)``."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(dim=-1)


def bernoulli_log_likelihood(logits: Tensor, x: Tensor) -> Tensor:
    """log p(x | logits) = Σ_i [x_i log σ(l_i) + (1-x_i) log(1-σ(l_i))], summed over the last dim.

    Computed as ``-binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)``, which is
    stable for large |logits|. ``logits`` and ``x`` broadcast; x may be binary or in [0, 1].
    Shapes: ``(..., D), (..., D) -> (...)``.
    """
    logits, x = torch.broadcast_tensors(logits, x.to(logits.dtype))
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


class DiagonalGaussian:
    """N(mu, diag exp(logvar)) with ``mu``, ``logvar`` of shape ``(..., d)`` (batch dims ``...``).

    Parameterized by the log-variance, as VAE encoders output it. All methods keep gradients.
    """

    def __init__(self, mu: Tensor, logvar: Tensor) -> None:
        given = torch.as_tensor(logvar)
        mu, logvar = torch.broadcast_tensors(torch.as_tensor(mu), given)
        if mu.dim() == 0:
            raise ValueError("DiagonalGaussian needs tensors of shape (..., d); got scalars. Use mu[None].")
        self.mu = mu
        self.logvar = logvar
        self._logvar_given = given  # unexpanded: log_prob takes exp of a shared log-variance once, not per row

    @property
    def var(self) -> Tensor:
        """sigma² = exp(logvar), shape ``(..., d)``."""
        return self.logvar.exp()

    @property
    def std(self) -> Tensor:
        """sigma = exp(logvar / 2), shape ``(..., d)``."""
        return (0.5 * self.logvar).exp()

    @property
    def dim(self) -> int:
        """Event dimension d."""
        return int(self.mu.shape[-1])

    def sample(self, generator: torch.Generator | None = None, sample_shape: tuple[int, ...] | torch.Size = ()) -> Tensor:
        """Reparameterized draw z = mu + sigma * eps, eps ~ N(0, I) from ``generator``.

        Returns shape ``(*sample_shape, ..., d)``; gradients flow to mu and logvar.
        """
        shape = tuple(sample_shape) + tuple(self.mu.shape)
        eps = torch.randn(shape, generator=generator, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + self.std * eps

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(z; mu, diag sigma²) = -1/2 Σ_i [log 2π + logvar_i + (z_i-mu_i)²/sigma_i²]; ``(..., d) -> (...)``."""
        sq = (z - self.mu).pow(2) * torch.exp(-self._logvar_given)
        return -0.5 * (LOG_2PI + self._logvar_given + sq).sum(dim=-1)

    def entropy(self) -> Tensor:
        """H = 1/2 Σ_i [log 2π + 1 + logvar_i], shape ``(...)``."""
        return 0.5 * (LOG_2PI + 1.0 + self.logvar).sum(dim=-1)

    def kl(self, other: "DiagonalGaussian") -> Tensor:
        """KL(self ‖ other) = 1/2 Σ_i [lv_p - lv_q + (s_q² + (mu_q-mu_p)²)/s_p² - 1], shape ``(...)``."""
        if not isinstance(other, DiagonalGaussian):
            raise TypeError("kl() expects another DiagonalGaussian; for N(0, I) call kl_standard_normal().")
        ratio = torch.exp(self.logvar - other.logvar)
        mean_term = (self.mu - other.mu).pow(2) * torch.exp(-other.logvar)
        return 0.5 * (ratio + mean_term - 1.0 - (self.logvar - other.logvar)).sum(dim=-1)

    def kl_standard_normal(self) -> Tensor:
        """KL(self ‖ N(0, I)) = 1/2 Σ_i [mu_i² + sigma_i² - logvar_i - 1], shape ``(...)``."""
        return 0.5 * (self.mu.pow(2) + self.logvar.exp() - self.logvar - 1.0).sum(dim=-1)

    def __repr__(self) -> str:
        return f"DiagonalGaussian(batch_shape={tuple(self.mu.shape[:-1])}, d={self.dim}, dtype={self.mu.dtype})"
