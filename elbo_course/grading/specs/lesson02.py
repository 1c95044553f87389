"""Exercise specs of lesson ``02_three_readings_of_the_elbo``.

kl_diag_gaussians  KL(N(mu_q, diag e^lv_q) ‖ N(mu_p, diag e^lv_p)) summed over the last dim, (..., d) -> (...);
                   the student's function is run on seeded float64 cases.
mc_elbo            (mean, se) of log p(x, z_j) - log q(z_j), z_j = m + s eps_j, on the unit linear-Gaussian
                   toy, se = std(unbiased) / sqrt(M); the student's function is run on stored (x, m, s, eps).
prior_change       which of the six terms of the three readings change when the prior N(0, 1) becomes
                   N(0, 4) with x = 1.5, q = N(0.4, 0.9²) and p(x|z) = N(z, 1) fixed (a term "changes" when
                   it moves by more than 1e-12).

References are written here in closed form (float64), independently of ``elbo_course.distributions`` and
``elbo_course.toys``.
"""
from __future__ import annotations

import math

import torch

from ...runtime import rng
from ..check import register

LESSON = "02_three_readings_of_the_elbo"
TERMS = ("log_evidence", "kl_to_posterior", "expected_log_joint", "entropy", "expected_log_likelihood",
         "kl_to_prior")
LOG_2PI = math.log(2 * math.pi)


def kl_reference(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                 logvar_p: torch.Tensor) -> torch.Tensor:
    """½ Σ_i [lv_p - lv_q + (e^lv_q + (mu_q - mu_p)²) e^-lv_p - 1] over the last dim; (..., d) -> (...) float64."""
    mu_q, logvar_q, mu_p, logvar_p = (t.double() for t in (mu_q, logvar_q, mu_p, logvar_p))
    ratio = (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp()
    return 0.5 * (logvar_p - logvar_q + ratio - 1.0).sum(dim=-1)


def _kl_cases() -> list[tuple[torch.Tensor, ...]]:
    g = rng(f"{LESSON}:kl_cases", seed=0)
    cases = []
    for shape in ((3,), (5, 4), (2, 3, 2), (1, 1)):
        mu_q, lv_q, mu_p, lv_p = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(4))
        cases.append((mu_q, lv_q, mu_p, lv_p))
    return cases


def mc_elbo_reference(x: float, q_mean: float, q_std: float, eps: torch.Tensor) -> tuple[float, float]:
    """(mean, se) of log w_j = log N(z_j; 0, 1) + log N(x; z_j, 1) - log N(z_j; m, s²), z_j = m + s eps_j."""
    z = q_mean + q_std * eps.double()
    log_joint = -LOG_2PI - 0.5 * z**2 - 0.5 * (x - z) ** 2
    log_q = -0.5 * LOG_2PI - math.log(q_std) - 0.5 * ((z - q_mean) / q_std) ** 2
    log_w = log_joint - log_q
    return float(log_w.mean()), float(log_w.std(correction=1) / math.sqrt(log_w.numel()))


def _mc_cases() -> list[tuple]:
    g = rng(f"{LESSON}:mc_elbo_cases", seed=0)
    return [(x, m, s, torch.randn(n, generator=g, dtype=torch.float64))
            for x, m, s, n in ((2.0, 0.5, 0.6, 50), (-1.0, 0.0, 1.0, 1000), (0.3, 0.15, 0.5**0.5, 10),
                               (1.5, -2.0, 0.2, 200))]


def reading_terms(x: float, q_mean: float, q_var: float, prior_var: float) -> dict[str, float]:
    """The six terms for z ~ N(0, v0), x | z ~ N(z, 1), q = N(m, v); closed form, in nats.

    p(x) = N(x; 0, v0 + 1); p(z|x) = N(v* x, v*) with v* = v0 / (v0 + 1);
    E_q log p(x|z) = -½ log 2π - ½[(x - m)² + v];  E_q log p(z) = -½ log 2π v0 - (m² + v) / (2 v0);
    H[q] = ½ log 2πe v;  KL(N(m, v) ‖ N(m', v')) = ½ [v/v' + (m - m')²/v' - 1 - log(v/v')].
    """
    def kl(m: float, v: float, m2: float, v2: float) -> float:
        return 0.5 * (v / v2 + (m - m2) ** 2 / v2 - 1.0 - math.log(v / v2))

    post_var = prior_var / (prior_var + 1.0)
    log_lik = -0.5 * LOG_2PI - 0.5 * ((x - q_mean) ** 2 + q_var)
    log_prior = -0.5 * (LOG_2PI + math.log(prior_var)) - (q_mean**2 + q_var) / (2.0 * prior_var)
    return {"log_evidence": -0.5 * (LOG_2PI + math.log(prior_var + 1.0)) - x**2 / (2.0 * (prior_var + 1.0)),
            "kl_to_posterior": kl(q_mean, q_var, post_var * x, post_var),
            "expected_log_joint": log_lik + log_prior,
            "entropy": 0.5 * (LOG_2PI + 1.0 + math.log(q_var)),
            "expected_log_likelihood": log_lik,
            "kl_to_prior": kl(q_mean, q_var, 0.0, prior_var)}


def prior_change_expected(x: float = 1.5, q_mean: float = 0.4, q_var: float = 0.81) -> dict[str, bool]:
    """True for each term that moves (> 1e-12) when the prior variance goes from 1 to 4."""
    before, after = reading_terms(x, q_mean, q_var, 1.0), reading_terms(x, q_mean, q_var, 4.0)
    return {k: abs(after[k] - before[k]) > 1e-12 for k in TERMS}


def _kl_wrong() -> list:
    """Typical slips: the ½ forgotten; summed over every dimension; logvar read as a log standard deviation;
    the log-ratio of the variances turned round."""
    def parts(mu_q, lv_q, mu_p, lv_p):
        return lv_p - lv_q, (lv_q.exp() + (mu_q - mu_p) ** 2) / lv_p.exp()

    def no_half(mu_q, lv_q, mu_p, lv_p):
        log_ratio, ratio = parts(mu_q, lv_q, mu_p, lv_p)
        return (log_ratio + ratio - 1.0).sum(dim=-1)

    def all_dims(mu_q, lv_q, mu_p, lv_p):
        log_ratio, ratio = parts(mu_q, lv_q, mu_p, lv_p)
        return 0.5 * (log_ratio + ratio - 1.0).sum()

    def log_std(mu_q, lv_q, mu_p, lv_p):
        return kl_reference(mu_q, 2 * lv_q, mu_p, 2 * lv_p)

    def flipped(mu_q, lv_q, mu_p, lv_p):
        log_ratio, ratio = parts(mu_q, lv_q, mu_p, lv_p)
        return 0.5 * (-log_ratio + ratio - 1.0).sum(dim=-1)

    return [no_half, all_dims, log_std, flipped]


def _mc_elbo_wrong() -> list:
    """Typical slips: the biased standard deviation; the standard deviation instead of the standard error;
    log q without the log s; z drawn with the variance s² in place of s."""
    def log_w(x, m, s, eps, z_scale=None, log_s=True):
        eps = eps.double()
        z = m + (s if z_scale is None else z_scale) * eps
        log_q = -0.5 * LOG_2PI - (math.log(s) if log_s else 0.0) - 0.5 * eps**2
        return -LOG_2PI - 0.5 * z**2 - 0.5 * (x - z) ** 2 - log_q

    def summary(values, correction=1, divide=True):
        sd = float(values.std(correction=correction))
        return float(values.mean()), sd / math.sqrt(values.numel()) if divide else sd

    return [lambda x, m, s, eps: summary(log_w(x, m, s, eps), correction=0),
            lambda x, m, s, eps: summary(log_w(x, m, s, eps), divide=False),
            lambda x, m, s, eps: summary(log_w(x, m, s, eps, log_s=False)),
            lambda x, m, s, eps: summary(log_w(x, m, s, eps, z_scale=s**2))]


def _prior_change_wrong() -> list[dict[str, bool]]:
    """Only the prior KL moves; everything moves; the evidence and posterior KL held fixed; all but the entropy."""
    def answer(*changes: bool) -> dict[str, bool]:
        return dict(zip(TERMS, changes))

    return [answer(False, False, False, False, False, True), answer(True, True, True, True, True, True),
            answer(False, False, True, False, False, True), answer(True, True, True, False, True, True)]


register(f"{LESSON}-kl_diag_gaussians", answer="kl_diag_gaussians", difficulty=1, cases=_kl_cases, reference=kl_reference, rtol=1e-9,
         atol=1e-10, wrong=_kl_wrong(),
         hint="KL = ½ Σ_i [log σ²_p,i - log σ²_q,i + (σ²_q,i + (μ_q,i - μ_p,i)²) / σ²_p,i - 1], with σ² = e^logvar "
              "(the inputs are log-variances, not standard deviations). Sum over the last dimension only, so "
              "inputs of shape (5, 4) give an output of shape (5,).")

register(f"{LESSON}-mc_elbo", answer="mc_elbo", difficulty=2, cases=_mc_cases, reference=mc_elbo_reference, rtol=1e-9, atol=1e-10,
         wrong=_mc_elbo_wrong(),
         hint="Return a pair (estimate, se) of floats. With z_j = m + s ε_j (s the standard deviation), "
              "log w_j = log p(x, z_j) - log q(z_j), log p(x, z) = log N(z; 0, 1) + log N(x; z, 1) and "
              "log q(z_j) = -½ [log(2π s²) + ε_j²]. The estimate is the mean of the M values of log w; se is "
              "their unbiased std, the sample standard deviation dividing by M - 1, over √M.")

register(f"{LESSON}-prior_change", answer="prior_change_answer", difficulty=1, expected=prior_change_expected, wrong=_prior_change_wrong(),
         hint="A dict with the six keys and a bool for each. A term changes when the prior appears in it: "
              "p(x) = ∫ p(z) p(x|z) dz and p(z|x) ∝ p(z) p(x|z) both contain the prior; H[q] and "
              "E_q log p(x|z) involve only q and the decoder.")
