"""Exercise specs of lesson ``05_elbo_surgery``.

aggregate_log_density  the student's log q(z) = log (1/N) Σ_n N(z; mu_n, diag exp(logvar_n)), a function
                       (M, d), (N, d), (N, d) -> (M,), run on stored cases; one case sits ~1e6 nats out in
                       the tails, where exponentiating before the sum gives -inf (log-sum-exp is needed).
mutual_info            I(n; z) = (1/N) Σ_n KL(q(z|x_n) ‖ N(0, I)) - KL(q(z) ‖ N(0, I)) for the 2-D toy
                       MI_TOY (16 encoders of width 0.3 on a 4 × 4 lattice of spacing 0.8, centred on 0);
                       expected: the other route, log N - E_q(z) H[q(n|z)], by quadrature.
log_n_bound            the fact behind I ≤ log N ("b": H[q(n|z)] ≥ 0 for a distribution on N points), the
                       slack log N - I = E_q(z) H[q(n|z)] of BOUND_TOY (N = 2 encoders at ±0.5, width 0.5)
                       by quadrature, and whether moving the centres to ±1 (width unchanged) makes the bound
                       tighter (True: the slack depends on spacing / width only, like a narrower width).
mutual_info_from_pairs the student's estimator of I(n; z) from pairs (n_m, z_m) ~ q(n, z): the mean over the
                       pairs of log q(z_m | x_{n_m}) - log q(z_m), the log ratio in I's definition
                       E_q(n,z) log q(n, z) / (q(n) q(z)), and its standard error s / √M (s with M - 1);
                       a function (z (M, d), n (M,), mu (N, d), logvar (N, d)) -> (value, se), run on stored
                       cases (one with M = 4, where s with M in the denominator is 13% off; one far in the
                       tails, where exponentiating before the sums gives nan).

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
TOY1_MU = [(i - 3.5,) for i in range(8)]     # the lesson's 1-D toy: 8 centres 1 apart, width 0.5
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


def _log_components(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z_m; mu_n, diag exp(logvar_n)) as an (M, N) float64 matrix, written out coordinate by coordinate."""
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    sq = (z[:, None, :] - mu[None, :, :]) ** 2 / logvar.exp()[None, :, :]   # (M, N, d)
    return -0.5 * (sq + logvar[None, :, :] + LOG_2PI).sum(dim=-1)


def reference_mutual_info_from_pairs(z: torch.Tensor, n: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
                                     ) -> tuple[float, float]:
    """(mean, s/√M) of t_m = log q(z_m | x_{n_m}) - log q(z_m) over the M pairs, s with M - 1 (float64)."""
    comp = _log_components(z, mu, logvar)                                    # (M, N)
    own = comp[torch.arange(comp.shape[0]), n.long()]
    terms = own - (torch.logsumexp(comp, dim=1) - math.log(mu.shape[0]))
    m = terms.numel()
    mean = float(terms.sum()) / m
    var = float(((terms - mean) ** 2).sum()) / (m - 1)
    return mean, math.sqrt(var / m)


def _pairs_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(z, n, mu, logvar) in float64: pairs drawn from q(n, z) in 1-D, 2-D and 3-D (M = 4 to 200), one case
    whose draws sit 40 standard deviations out."""
    g = rng(f"{LESSON}:pairs_cases", seed=0)
    cases = []
    for m, n, d in ((200, 5, 1), (60, 9, 2), (4, 3, 3)):
        mu = 1.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
        logvar = 0.4 * torch.randn(n, d, generator=g, dtype=torch.float64) - 1.0
        idx = torch.randint(n, (m,), generator=g)
        z = mu[idx] + (0.5 * logvar[idx]).exp() * torch.randn(m, d, generator=g, dtype=torch.float64)
        cases.append((z, idx, mu, logvar))
    far_mu = torch.tensor([[-1.0], [0.0], [1.0]], dtype=torch.float64)
    far_lv = torch.full((3, 1), 2.0 * math.log(0.02), dtype=torch.float64)
    cases.append((torch.tensor([[1.8], [-0.9], [0.4]], dtype=torch.float64), torch.tensor([2, 0, 1]), far_mu, far_lv))
    return cases


# Typical wrong answers (tests: ``check`` and the grade cell's stored literals reject each of them).
def _wrong_density_exp_first(z, mu, logvar):       # exponentiates, then sums: log 0 = -inf in the tails
    return _log_components(z, mu, logvar).exp().mean(dim=1).log()


def _wrong_density_sum(z, mu, logvar):             # log Σ_n instead of log (1/N) Σ_n: too large by log N
    return torch.logsumexp(_log_components(z, mu, logvar), dim=1)


def _wrong_density_mean_of_logs(z, mu, logvar):    # (1/N) Σ_n log q(z|x_n): the log moved inside the average
    return _log_components(z, mu, logvar).mean(dim=1)


def _wrong_pairs_prior(z, n, mu, logvar):          # log p(z) in place of log q(z): estimates the average KL
    own = _log_components(z, mu, logvar)[torch.arange(z.shape[0]), n.long()]
    terms = own + 0.5 * (z.double() ** 2 + LOG_2PI).sum(dim=1)
    return float(terms.mean()), float(terms.std() / math.sqrt(terms.numel()))


def _wrong_pairs_population_sd(z, n, mu, logvar):  # s with M in the denominator
    comp = _log_components(z, mu, logvar)
    terms = comp[torch.arange(z.shape[0]), n.long()] - torch.logsumexp(comp, dim=1) + math.log(mu.shape[0])
    return float(terms.mean()), float(terms.std(correction=0) / math.sqrt(terms.numel()))


def _wrong_pairs_exp_first(z, n, mu, logvar):      # q(z) as a plain average of densities: log 0 far out
    comp = _log_components(z, mu, logvar)
    terms = comp[torch.arange(z.shape[0]), n.long()] - comp.exp().mean(dim=1).log()
    return float(terms.mean()), float(terms.std() / math.sqrt(terms.numel()))


def _wrong_pairs_no_log_n(z, n, mu, logvar):       # log Σ_n for log q(z): too small by log N
    comp = _log_components(z, mu, logvar)
    terms = comp[torch.arange(z.shape[0]), n.long()] - torch.logsumexp(comp, dim=1)
    return float(terms.mean()), float(terms.std() / math.sqrt(terms.numel()))


def _mi_toy_avg_kl(variance_is_sigma: bool = False) -> float:
    """(1/N) Σ_n ½ Σ_i (mu_ni² + v - log v - 1) for the MI_TOY, v = sigma² (or, wrongly, sigma)."""
    centres = lattice_centres(MI_TOY["n"], MI_TOY["spacing"], MI_TOY["d"])
    v = MI_TOY["width"] if variance_is_sigma else MI_TOY["width"] ** 2
    return float((0.5 * (centres**2 + v - math.log(v) - 1.0).sum(dim=1)).mean())


MI_TOY_MARGINAL_KL = 0.1880157460011288   # KL(q(z) ‖ N(0, I)) of the MI_TOY by quadrature (the lesson prints 0.1880)


register(f"{LESSON}-aggregate_log_density", answer="aggregate_log_density", difficulty=2, cases=_aggregate_cases,
         reference=reference_aggregate_log_density, rtol=1e-9, atol=1e-9,
         wrong=[_wrong_density_exp_first, _wrong_density_sum, _wrong_density_mean_of_logs],
         hint="log q(z_m) is the log of an AVERAGE of N Gaussian densities, one per encoder. Work with the N "
              "component log densities (a sum over the d coordinates each) and combine them with a log-sum-exp: "
              "subtract the largest before exponentiating, add it back after the log. Then subtract log N. Far "
              "in the tails every density is 0 in floating point, but its log is an ordinary number.")

register(f"{LESSON}-mutual_info", answer="mutual_info_answer", difficulty=1, expected=mutual_info_expected, rtol=1e-7, atol=1e-9,
         wrong=[_mi_toy_avg_kl(), _mi_toy_avg_kl() + MI_TOY_MARGINAL_KL, MI_TOY_MARGINAL_KL - _mi_toy_avg_kl(),
                _mi_toy_avg_kl(variance_is_sigma=True) - MI_TOY_MARGINAL_KL],
         offsets={"the marginal KL": MI_TOY_MARGINAL_KL},
         hint="The identity says: average KL = I(n; z) + marginal KL. The average KL to N(0, I) is closed form, "
              "the mean over the 16 encoders of ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1), where σ is a standard "
              "deviation (square it). The answer lies between 0 and log 16.")

register(f"{LESSON}-log_n_bound", answer="log_n_bound_answer", difficulty=2,
         expected=lambda: {"fact": "b", "slack": bound_slack_expected(), "wider_is_tighter": True},
         rtol=1e-6, atol=1e-9,
         wrong=[{"fact": "d", "slack": 0.35631636021311375, "wider_is_tighter": True},
                {"fact": "b", "slack": math.log(2) - 0.35631636021311375, "wider_is_tighter": True},
                {"fact": "b", "slack": 0.35631636021311375, "wider_is_tighter": False}],
         hint="(a) I = log N − E H[q(n|z)]: which sign has the entropy of a distribution on N points, and why? "
              "(b) The slack is E_q(z) H[q(n|z)]: at every grid point form q(n|z) by Bayes' rule, take its "
              "entropy, and average with the quadrature weights q(z)·(cell size) — no random draws. "
              "(c) Only the ratio of spacing to width matters: rescaling z changes neither q(n|z) nor I.")

register(f"{LESSON}-mutual_info_from_pairs", answer="mutual_info_from_pairs", difficulty=3, cases=_pairs_cases,
         reference=reference_mutual_info_from_pairs, rtol=1e-8, atol=1e-9,
         wrong=[_wrong_pairs_prior, _wrong_pairs_population_sd, _wrong_pairs_exp_first, _wrong_pairs_no_log_n],
         hint="In the definition I = E_q(n,z) log [q(n, z) / (q(n) q(z))], write q(n, z) = q(n) q(z | x_n): the "
              "ratio becomes q(z | x_n) / q(z). Evaluate its log at every pair (n_m, z_m): the encoder n_m's own "
              "Gaussian log density minus the aggregate log density (a log-sum-exp over all N encoders, minus "
              "log N). The estimate is the mean of these M terms; its standard error is their sample standard "
              "deviation (M − 1 in the denominator) divided by √M. Return two floats.")
