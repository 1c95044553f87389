"""Exercise specs of lesson ``05_elbo_surgery``.

aggregate_log_density  the student's log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)), a function
                       (M, d), (N, d), (N, d) -> (M,), run on stored cases; one case sits ~1e6 nats out in
                       the tails, where exponentiating before the sum gives -inf (log-sum-exp is needed).
mutual_info            I(n; z) = (1/N) Σ_n KL(q(z|x_n) ‖ N(0, I)) - KL(q(z) ‖ N(0, I)) for the 2-D toy
                       MI_TOY (16 encoders of width 0.3 on a 4 × 4 lattice of spacing 0.8, centred on 0);
                       expected: the other route, log N - E_q(z) H[q(n|z)], by quadrature.
log_n_bound            the fact behind I ≤ log N ("b": H[q(n|z)] ≥ 0 for a distribution on N points), the
                       slack log N - I = E_q(z) H[q(n|z)] of BOUND_TOY (N = 2 encoders at ±0.5, width 0.5)
                       by quadrature, and whether narrower encoders make the bound tighter (True).

References are written here as direct float64 computations, independently of ``elbo_course.surgery`` and
``elbo_course.toys``: the (M, N, d) Gaussian log-densities reduced with ``torch.logsumexp``, and the
rectangle rule on a grid of spacing sigma/6 over the centres ± 9 sigma (for Gaussians its error is far
below 1e-12).
"""
from __future__ import annotations

import math

import torch

from ...runtime import rng
from ..check import register

LESSON = "05_elbo_surgery"
MI_TOY = dict(n=16, spacing=0.8, width=0.3, d=2)
BOUND_TOY = dict(n=2, spacing=1.0, width=0.5, d=1)
LOG_2PI = math.log(2 * math.pi)


def reference_aggregate_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log (1/N) Σ_n N(z_m; mu_n, diag exp(logvar_n)); z (M, d), mu and logvar (N, d) -> (M,) float64."""
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    sq = (z[:, None, :] - mu[None, :, :]) ** 2 / logvar.exp()[None, :, :]   # (M, N, d)
    log_comp = -0.5 * (sq + logvar[None, :, :] + LOG_2PI).sum(dim=-1)      # (M, N)
    return torch.logsumexp(log_comp, dim=1) - math.log(mu.shape[0])


def _aggregate_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Small float64 cases (z, mu, logvar): 1-D, 2-D with unequal widths, one component, far tails."""
    g = rng(f"{LESSON}:aggregate_cases", seed=0)
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


def lattice_centres(n: int, spacing: float, d: int) -> torch.Tensor:
    """Centres of the lesson's toys, (n, d) float64: d = 1, (i - (n-1)/2)·spacing; d = 2, a lattice with
    ceil(sqrt(n)) columns filled row by row, shifted so that the centres' mean is the origin."""
    index = torch.arange(n, dtype=torch.float64)
    if d == 1:
        return ((index - (n - 1) / 2) * spacing)[:, None]
    cols = math.ceil(math.sqrt(n))
    centres = torch.stack([index % cols, torch.floor(index / cols)], dim=-1) * spacing
    return centres - centres.mean(dim=0)


def expected_index_entropy(n: int, spacing: float, width: float, d: int) -> float:
    """E_q(z) H[q(n|z)] = ∫ q(z) Σ_n -q(n|z) log q(n|z) dz for n encoders N(c_n, width² I), rectangle rule."""
    centres = lattice_centres(n, spacing, d)
    step = width / 6.0
    axes = [torch.arange(float(centres[:, i].min()) - 9 * width, float(centres[:, i].max()) + 9 * width + step,
                         step, dtype=torch.float64) for i in range(d)]
    grid = torch.stack([g.reshape(-1) for g in torch.meshgrid(*axes, indexing="ij")], dim=-1)   # (G, d)
    log_comp = (-0.5 * ((grid[:, None, :] - centres[None]) / width) ** 2
                - math.log(width) - 0.5 * LOG_2PI).sum(dim=-1)                                 # (G, N)
    log_total = torch.logsumexp(log_comp, dim=1, keepdim=True)
    log_post = log_comp - log_total                                                            # log q(n | z)
    entropy = -(log_post.exp() * log_post).sum(dim=1)
    q_mass = (log_total[:, 0] - math.log(n)).exp() * step**d
    return float((q_mass * entropy).sum())


def mutual_info_expected() -> float:
    """log N - E_q(z) H[q(n | z)] by quadrature for the MI_TOY."""
    return math.log(MI_TOY["n"]) - expected_index_entropy(**MI_TOY)


def bound_slack_expected() -> float:
    """log N - I = E_q(z) H[q(n | z)] by quadrature for the BOUND_TOY (N = 2)."""
    return expected_index_entropy(**BOUND_TOY)


register(f"{LESSON}-aggregate_log_density", difficulty=2, cases=_aggregate_cases,
         reference=reference_aggregate_log_density, rtol=1e-9, atol=1e-9,
         hint="Build the (M, N) matrix of log N(z_m; mu_n, diag exp(logvar_n)) by broadcasting z[:, None, :] "
              "against mu[None], sum the d coordinates, then take torch.logsumexp over n and subtract log N. "
              "Exponentiating first underflows to exp(-1e6) = 0 and gives -inf in the far-tail case. "
              "Return a float64 tensor of shape (M,).")

register(f"{LESSON}-mutual_info", difficulty=1, expected=mutual_info_expected, rtol=1e-7, atol=1e-9,
         hint="The identity says avg KL = I + marginal KL, so I = avg KL - marginal KL. The average KL to "
              "N(0, I) is closed form: (1/N) Σ_n ½ Σ_i (mu_ni² + sigma_ni² - log sigma_ni² - 1); sigma is a "
              "standard deviation (square it). The answer lies between 0 and log 16 ≈ 2.77.")

register(f"{LESSON}-log_n_bound", difficulty=3,
         expected=lambda: {"fact": "b", "slack": bound_slack_expected(), "narrow_is_tighter": True},
         rtol=1e-6, atol=1e-9,
         hint="I = log N - E_q(z) H[q(n|z)]: which sign does the entropy of a distribution on N points have, "
              "and why? (Each q(n|z) ≤ 1, so -log q(n|z) ≥ 0.) The slack is E_q(z) H[q(n|z)]: evaluate "
              "q(n|z) = softmax over n of log q(z|n) on the toy's grid, its entropy at each grid point, and "
              "weight by q(z)·cell (quadrature, not Monte Carlo). Narrow encoders make q(n|z) nearly one-hot.")
