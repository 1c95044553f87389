"""Exercise specs of lesson 05 (ELBO surgery).

aggregate_log_density  the student's log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)), a function
                       (M, d), (N, d), (N, d) -> (M,), run on stored cases and compared with
                       ``surgery.aggregate_log_density``; one case sits ~1e6 nats out in the tails, where
                       exponentiating before the sum gives -inf (log-sum-exp is needed).
mutual_info            I(n; z) = (1/N) Σ_n KL(q(z|x_n) ‖ N(0, I)) - KL(q(z) ‖ N(0, I)) for the 2-D toy
                       ``toy.evenly_spaced(16, spacing=0.8, width=0.3, d=2)``; expected: the independent
                       quadrature route log N - E_q(z) H[q(n|z)].
log_n_bound            the fact behind I ≤ log N ("b": H[q(n|z)] ≥ 0 for a distribution on N points), the
                       slack log N - I = E_q(z) H[q(n|z)] of ``toy.evenly_spaced(2, spacing=1.0, width=0.5)``
                       by quadrature, and whether narrower encoders make the bound tighter (True).
"""
from __future__ import annotations

import math

import torch

from ..grading import register
from ..runtime import rng
from ..surgery import aggregate_log_density
from ..toy import evenly_spaced

LESSON = "05_elbo_surgery"
MI_TOY = dict(n=16, spacing=0.8, width=0.3, d=2)
BOUND_TOY = dict(n=2, spacing=1.0, width=0.5, d=1)


def _aggregate_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Small float64 cases (z, mu, logvar): 1-D, 2-D with unequal widths, one component, far tails."""
    g = rng("exercise.05.aggregate_log_density", seed=0)
    cases = []
    for m, n, d in ((5, 3, 1), (7, 4, 2), (4, 1, 2), (6, 10, 3)):
        z = 2.0 * torch.randn(m, d, generator=g, dtype=torch.float64)
        mu = torch.randn(n, d, generator=g, dtype=torch.float64)
        logvar = 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
        cases.append((z, mu, logvar))
    far_z = torch.tensor([[40.0], [-35.0], [0.3]], dtype=torch.float64)
    far_mu = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
    cases.append((far_z, far_mu, torch.full((3, 1), 2.0 * math.log(0.02), dtype=torch.float64)))
    return cases


def _reference(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return aggregate_log_density(z, mu, logvar)


def mutual_info_expected() -> float:
    """log N - E_q(z) H[q(n | z)] by quadrature for the MI_TOY."""
    return evenly_spaced(**MI_TOY).terms()["mutual_info"]


def bound_slack_expected() -> float:
    """log N - I = E_q(z) H[q(n | z)] by quadrature for the BOUND_TOY (N = 2)."""
    return evenly_spaced(**BOUND_TOY).terms()["expected_entropy"]


register(f"{LESSON}.aggregate_log_density", difficulty=2, cases=_aggregate_cases, reference=_reference,
         rtol=1e-9, atol=1e-9,
         hint="Build the (M, N) matrix of log N(z_m; mu_n, diag exp(logvar_n)) by broadcasting z[:, None, :] "
              "against mu[None], sum the d coordinates, then take torch.logsumexp over n and subtract log N. "
              "Exponentiating first underflows to exp(-1e6) = 0 and gives -inf in the far-tail case. "
              "Return a float64 tensor of shape (M,).")

register(f"{LESSON}.mutual_info", difficulty=1, expected=mutual_info_expected, rtol=1e-7, atol=1e-9,
         hint="The identity says avg KL = I + marginal KL, so I = avg KL - marginal KL. The average KL to "
              "N(0, I) is closed form: (1/N) Σ_n ½ Σ_i (mu_ni² + sigma_ni² - log sigma_ni² - 1); sigma is a "
              "standard deviation (square it). The answer lies between 0 and log 16 ≈ 2.77.")

register(f"{LESSON}.log_n_bound", difficulty=3,
         expected=lambda: {"fact": "b", "slack": bound_slack_expected(), "narrow_is_tighter": True},
         rtol=1e-6, atol=1e-9,
         hint="I = log N - E_q(z) H[q(n|z)]: which sign does the entropy of a distribution on N points have, "
              "and why? (Each q(n|z) ≤ 1, so -log q(n|z) ≥ 0.) The slack is E_q(z) H[q(n|z)]: evaluate "
              "q(n|z) = softmax over n of log q(z|n) on the toy's grid, its entropy at each grid point, and "
              "weight by q(z)·cell (quadrature, not Monte Carlo). Narrow encoders make q(n|z) nearly one-hot.")
