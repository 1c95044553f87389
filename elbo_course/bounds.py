"""Monte Carlo bounds on log p(x) from log importance weights, and small estimator helpers.

A log importance weight is log w_k = log p(x, z_k) - log q(z_k | x) with z_k ~ q(z | x). Tensors of log
weights have the K samples along ``dim`` (default 0, i.e. shape ``(K, B)`` for a batch of B points).

    iwae_bound     L̂_K  = log (1/K) Σ_k w_k                      (K = 1: the one-sample ELBO estimate)
    averaged_elbo  L̂^avg = (1/K) Σ_k log w_k                      (Burda et al.'s "VAE, k" objective)
    normalized w̃_k = w_k / Σ_j w_j   (a softmax of the log weights)
    ESS            = (Σ_k w_k)² / Σ_k w_k² = 1 / Σ_k w̃_k²        in [1, K]

In expectation E[L̂^avg] = ELBO ≤ E[L̂_K] ≤ E[L̂_{K+1}] ≤ log p(x); single draws need not be ordered.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "log_mean_exp",
    "iwae_bound",
    "normalized_weights",
    "effective_sample_size",
    "averaged_elbo",
    "mean_and_se",
]


def _checked(x: Tensor, dim: int, name: str) -> Tensor:
    """``x`` if it is a real floating-point tensor with at least one dimension and ``dim`` is one of them."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}; wrap it with "
                        "torch.as_tensor(x, dtype=torch.float64).")
    if not x.is_floating_point():
        raise TypeError(f"{name} expects real floating-point values (log weights), got dtype {x.dtype}; "
                        "convert with x.double() (complex numbers have no order, so no log-sum-exp bound).")
    if x.dim() == 0:
        raise ValueError(f"{name} needs the K samples along a dimension; got a 0-d tensor (one number). "
                         "Pass shape (K,) or (K, B).")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim={dim!r} is not a dimension of a tensor of shape {tuple(x.shape)}; "
                         f"use an integer in [-{x.dim()}, {x.dim() - 1}].")
    if x.shape[dim] == 0:
        raise ValueError(f"{name} needs at least one entry along dim={dim}; got an empty dimension.")
    return x


def log_mean_exp(x: Tensor, dim: int = 0, keepdim: bool = False) -> Tensor:
    """log (1/K) Σ_k exp(x_k) along ``dim`` (K = x.shape[dim]), computed stably.

    Uses the max-shift inside ``torch.logsumexp``: log Σ exp(x_k) = m + log Σ exp(x_k - m), m = max x,
    so inputs of magnitude 1e4 neither overflow nor underflow. ``-inf`` entries contribute zero weight;
    a slice that is all ``-inf`` gives ``-inf`` (never NaN). Shape: ``x`` with ``dim`` removed
    (kept with size 1 when ``keepdim``).
    """
    x = _checked(x, dim, "log_mean_exp")
    return torch.logsumexp(x, dim=dim, keepdim=keepdim) - math.log(x.shape[dim])


def iwae_bound(log_w: Tensor, dim: int = 0) -> Tensor:
    """The K-sample importance weighted bound L̂_K = log (1/K) Σ_k exp(log_w_k); ``(K, ...) -> (...)``.

    With K = 1 this is the one-sample ELBO estimate log p(x, z) - log q(z | x).
    """
    return log_mean_exp(_checked(log_w, dim, "iwae_bound"), dim=dim)


def normalized_weights(log_w: Tensor, dim: int = 0) -> Tensor:
    """w̃_k = exp(log_w_k) / Σ_j exp(log_w_j) (softmax along ``dim``); same shape as ``log_w``."""
    return torch.softmax(_checked(log_w, dim, "normalized_weights"), dim=dim)


def effective_sample_size(log_w: Tensor, dim: int = 0) -> Tensor:
    """Kish's ESS = (Σ_k w_k)² / Σ_k w_k² = exp(2 logsumexp(log_w) - logsumexp(2 log_w)) in [1, K].

    ``(K, ...) -> (...)``. ESS ≈ K when the weights are equal (q close to the posterior) and ≈ 1 when one
    weight dominates.
    """
    log_w = _checked(log_w, dim, "effective_sample_size")
    return torch.exp(2.0 * torch.logsumexp(log_w, dim=dim) - torch.logsumexp(2.0 * log_w, dim=dim))


def averaged_elbo(log_w: Tensor, dim: int = 0) -> Tensor:
    """The k-sample averaged ELBO (1/K) Σ_k log w_k ("VAE, k" in Burda et al.); ``(K, ...) -> (...)``.

    It has the same expectation as the one-sample ELBO, only a smaller variance: averaging outside the
    log does not tighten the bound, unlike :func:`iwae_bound`.
    """
    return _checked(log_w, dim, "averaged_elbo").mean(dim=dim)


def mean_and_se(x: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    """Sample mean and its standard error s / sqrt(n) along ``dim`` (s: unbiased sample std).

    ``(n, ...) -> ((...), (...))``. Computed in float64 when ``x`` is float32 (the mean of many terms);
    with n = 1 the standard error is NaN (one draw says nothing about its spread).
    """
    x = _checked(x, dim, "mean_and_se")
    x64 = x.double() if x.dtype in (torch.float16, torch.bfloat16, torch.float32) else x
    n = x64.shape[dim]
    mean = x64.mean(dim=dim)
    if n == 1:
        return mean, torch.full_like(mean, float("nan"))
    se = x64.std(dim=dim, unbiased=True) / math.sqrt(n)
    return mean, se
