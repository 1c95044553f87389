"""Exercise specs of lesson ``04_iwae``: a stable IWAE bound, counting active units, and when the
importance weights of the Gaussian toy have finite variance.

iwae_bound                 L̂_K = log (1/K) Σ_k exp(log_w[k, b]), a function (K, B) -> (B,); one case has
                           log-weights near -90 (exp underflows in float32) and one near ±1e4.
active_units               number of latent units with population variance Var_n(mu_ni) > 0.01, a function
                           (N, d) -> int; one case sits on both sides of 0.01 to tell divisor N from N - 1.
finite_variance_threshold  the largest q-variance σ² below which Var_q(w) is infinite: v*/2 for the
                           posterior variance v* = POSTERIOR_VAR.

References are independent float64 NumPy code (not ``elbo_course.bounds`` / ``models``).
"""
from __future__ import annotations

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "04_iwae"
#: Posterior variance of the conceptual exercise (the notebook states the same number).
POSTERIOR_VAR = 0.4


def reference_iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    """L̂_K = log (1/K) Σ_k exp(log_w[k, b]) for log_w of shape (K, B) -> (B,), via the max shift."""
    a = np.asarray(log_w.detach().numpy(), dtype=np.float64)
    m = a.max(axis=0)
    return torch.from_numpy(m + np.log(np.mean(np.exp(a - m), axis=0))).to(log_w.dtype)


def _iwae_cases() -> list[tuple[torch.Tensor]]:
    g = rng(f"{LESSON}:iwae_bound_cases", seed=0)
    return [(torch.tensor([[0.0], [1.0]]),),
            (torch.randn(5, 3, generator=g),),
            (torch.randn(50, 4, generator=g) * 10.0 - 90.0,),     # MNIST-sized: exp underflows to 0 in float32
            (torch.tensor([[-1.0e4, 1.0e3], [-1.0e4 + 3.0, 1.0e3 - 1.0]]),),
            (torch.randn(1, 6, generator=g),)]                    # K = 1: the one-sample ELBO estimate


def reference_active_units(mu: torch.Tensor) -> int:
    """Number of columns i of mu (N, d) with population variance Var_n(mu_ni) > 0.01."""
    a = np.asarray(mu.detach().numpy(), dtype=np.float64)
    return int((a.var(axis=0) > 0.01).sum())


def _units_cases() -> list[tuple[torch.Tensor]]:
    g = rng(f"{LESSON}:active_units_cases", seed=0)
    scales = torch.tensor([1.0, 0.05, 0.5, 0.001, 0.2, 0.0])
    big = torch.randn(400, 6, generator=g) * scales + 3.0
    # Column 0 (values ±0.0999) has population variance 0.00998 and must not count, although its unbiased
    # variance (divisor N - 1 = 19) is 0.0105; column 1 (±0.1002, variance 0.01004) must count.
    edge = torch.tensor([[0.0999, 0.1002], [-0.0999, -0.1002]], dtype=torch.float64).repeat(10, 1)
    return [(big,), (edge,), (torch.randn(3, 50, generator=g),)]


register(f"{LESSON}-iwae_bound", difficulty=2, cases=_iwae_cases, reference=reference_iwae_bound,
         rtol=1e-5, atol=1e-4,
         hint="Work along dim 0 (the K samples): m = log_w.max(dim=0).values, then "
              "m + log(mean(exp(log_w - m), dim=0)). Never exponentiate log weights of size -90 directly.")

register(f"{LESSON}-active_units", difficulty=1, cases=_units_cases, reference=reference_active_units,
         rtol=0.0, atol=0.0,
         hint="Variance over the data points (dim 0), one number per latent unit, with divisor N "
              "(torch.var(..., dim=0, correction=0)); count the units whose variance is strictly above 0.01, "
              "and return a Python int.")

register(f"{LESSON}-finite_variance_threshold", difficulty=2, expected=POSTERIOR_VAR / 2, rtol=1e-6, atol=1e-9,
         hint="Var_q(w) is finite iff ∫ p(z|x)² / q(z) dz is. Write the exponent of p(z|x)² / q(z): it is "
              "-(z-m)²/v* + (z-μ)²/(2σ²); the integral converges iff the coefficient of z², -1/v* + 1/(2σ²), "
              "is negative.")
