"""Exercise specs of lesson ``04_iwae``: the IWAE bound, when the weights have finite variance, the IWAE
gradient as a reweighted average, counting active units, and a numeric witness that q_EW integrates to one.

iwae_bound                 L̂_K = log (1/K) Σ_k exp(log_w[k, b]), a function (K, B) -> (B,); one case has
                           log-weights near -90 (exp underflows in float32) and one near ±1e4.
finite_variance_threshold  the largest q-variance σ² below which Var_q(w) is infinite: v*/2 for the
                           posterior variance v* = POSTERIOR_VAR (a float).
iwae_gradient              ∇ L̂_K = Σ_k w̃_k ∇ log w_k with w̃_k = w_k / Σ_j w_j, a function
                           (log_w (K, B), grad_log_w (K, B, P)) -> (B, P); cases with K = 1 and with log
                           weights near -1e4 and +1e3 (exp underflows / overflows even in float64).
active_units               number of latent units with population variance Var_n(mu_ni) > 0.01, a function
                           (N, d) -> int; one case sits on both sides of 0.01 to tell divisor N from N - 1.
qew_mass                   {"mass", "se"}: the Monte Carlo estimate of ∫ q_EW(z) dz on the 1-D Gaussian toy
                           (q_A, K = QEW_K) from the R = QEW_INNER shared inner draws the notebook makes with
                           rng(QEW_INNER_TAG), i.e. the mean of the masses m_r = ∫ K p(x, z) / (w(z) + S_r) dz,
                           and its standard error sd(m) / √R (divisor R - 1).

References are independent float64 NumPy code (not ``elbo_course.bounds`` / ``models`` / ``toys``). Each
spec lists typical wrong answers (``wrong=``): tests/test_specs_lesson04.py holds the checker and the
hidden tests of the notebook to rejecting them.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "04_iwae"
#: Posterior variance of the finite-variance exercise (the notebook's toy prints the same number).
POSTERIOR_VAR = 0.4
#: The 1-D toy of the q_EW witness: z ~ N(0, 1), x | z ~ N(z, 2/3), x = 1.5, proposal q_A = N(1.5, 0.6).
QEW_X, QEW_NOISE_VAR, QEW_Q_MEAN, QEW_Q_VAR = 1.5, 2.0 / 3.0, 1.5, 0.6
QEW_K, QEW_INNER, QEW_INNER_TAG = 5, 1000, f"{LESSON}:qew_mass_inner"


# ---- iwae_bound ----------------------------------------------------------------------------------------------
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


def _naive_iwae_bound(log_w: torch.Tensor) -> torch.Tensor:
    return torch.log(torch.exp(log_w).mean(dim=0))                # underflows to log 0


def _log_sum_exp_bound(log_w: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(log_w, dim=0)                          # forgets the 1/K: too large by log K


def _mean_of_logs(log_w: torch.Tensor) -> torch.Tensor:
    return log_w.mean(dim=0)                                      # the averaged ELBO, not L̂_K


def _bound_over_batch(log_w: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(log_w, dim=1) - math.log(log_w.shape[1])   # reduces over B instead of K


# ---- finite_variance_threshold -------------------------------------------------------------------------------
def _threshold() -> float:
    """Var_q(w) < ∞ iff ∫ p(z|x)² / q(z) dz < ∞ iff -1/v* + 1/(2σ²) < 0 iff σ² > v*/2."""
    return POSTERIOR_VAR / 2


# ---- iwae_gradient -------------------------------------------------------------------------------------------
def reference_iwae_gradient(log_w: torch.Tensor, grad_log_w: torch.Tensor) -> torch.Tensor:
    """Σ_k w̃_kb grad_log_w[k, b, :] with w̃_kb = exp(log_w[k, b] - max_k) / Σ_j exp(log_w[j, b] - max_k);
    (K, B), (K, B, P) -> (B, P) float64."""
    a = np.asarray(log_w.detach().numpy(), dtype=np.float64)
    g = np.asarray(grad_log_w.detach().numpy(), dtype=np.float64)
    e = np.exp(a - a.max(axis=0))
    return torch.from_numpy(np.einsum("kb,kbp->bp", e / e.sum(axis=0), g))


def _gradient_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = rng(f"{LESSON}:iwae_gradient_cases", seed=0)

    def grads(k: int, b: int, p: int) -> torch.Tensor:
        return torch.randn(k, b, p, generator=g, dtype=torch.float64)

    return [(torch.tensor([[0.0, 1.0], [1.0, -1.0], [-0.5, 0.0]], dtype=torch.float64), grads(3, 2, 2)),
            (torch.randn(1, 4, generator=g, dtype=torch.float64), grads(1, 4, 3)),      # K = 1: the ELBO gradient
            (torch.randn(4, 3, generator=g, dtype=torch.float64) - 1.0e4, grads(4, 3, 2)),  # exp underflows
            (torch.randn(5, 2, generator=g, dtype=torch.float64) * 3.0 + 1.0e3, grads(5, 2, 4)),  # exp overflows
            (torch.tensor([[0.0], [-50.0], [-60.0]], dtype=torch.float64), grads(3, 1, 2)),  # one weight dominates
            (torch.randn(50, 5, generator=g, dtype=torch.float64) * 2.0, grads(50, 5, 3))]


def _uniform_gradient(log_w: torch.Tensor, grad_log_w: torch.Tensor) -> torch.Tensor:
    return grad_log_w.mean(dim=0)                                  # the "VAE, k" gradient: weights 1/K


def _unnormalized_gradient(log_w: torch.Tensor, grad_log_w: torch.Tensor) -> torch.Tensor:
    return (torch.exp(log_w)[..., None] * grad_log_w).sum(dim=0)   # w_k, not w̃_k


def _naive_normalized_gradient(log_w: torch.Tensor, grad_log_w: torch.Tensor) -> torch.Tensor:
    w = torch.exp(log_w)                                           # 0/0 or inf/inf at large |log w|
    return ((w / w.sum(dim=0))[..., None] * grad_log_w).sum(dim=0)


def _normalized_over_batch(log_w: torch.Tensor, grad_log_w: torch.Tensor) -> torch.Tensor:
    return (torch.softmax(log_w, dim=1)[..., None] * grad_log_w).sum(dim=0)   # normalizes over B, not K


# ---- active_units --------------------------------------------------------------------------------------------
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


def _units_unbiased(mu: torch.Tensor) -> int:
    return int((mu.double().var(dim=0) > 0.01).sum())              # divisor N - 1


def _units_std(mu: torch.Tensor) -> int:
    return int((mu.double().std(dim=0, correction=0) > 0.01).sum())   # thresholds the std, not the variance


def _units_over_rows(mu: torch.Tensor) -> int:
    return int((mu.double().var(dim=1, correction=0) > 0.01).sum())   # variance across units, per data point


# ---- qew_mass ------------------------------------------------------------------------------------------------
def qew_inner_draws(seed: int = 0) -> torch.Tensor:
    """The notebook's R = QEW_INNER shared inner draws z_{2:K} ~ q_A, shape (R, K - 1), float64."""
    eps = torch.randn(QEW_INNER, QEW_K - 1, generator=rng(QEW_INNER_TAG, seed=seed), dtype=torch.float64)
    return QEW_Q_MEAN + math.sqrt(QEW_Q_VAR) * eps


def _qew_log_w(z: np.ndarray) -> np.ndarray:
    """log w(z) = log N(z; 0, 1) + log N(x; z, s²) - log N(z; m_q, v_q) on the 1-D toy."""
    log_joint = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)
                 - 0.5 * (QEW_X - z) ** 2 / QEW_NOISE_VAR - 0.5 * math.log(2 * math.pi * QEW_NOISE_VAR))
    log_q = -0.5 * (z - QEW_Q_MEAN) ** 2 / QEW_Q_VAR - 0.5 * math.log(2 * math.pi * QEW_Q_VAR)
    return log_joint - log_q, log_joint


def reference_qew_masses(inner: np.ndarray, k: int = QEW_K) -> np.ndarray:
    """m_r = ∫ K p(x, z) / (w(z) + S_r) dz, S_r = Σ_k w(inner[r, k]), by the trapezoid rule on [-12, 12]
    (spacing 0.005; the integrand is smooth and below K q(z), negligible outside); shape (R,)."""
    inner_log_w, _ = _qew_log_w(np.asarray(inner, dtype=np.float64))
    top = inner_log_w.max(axis=1)
    log_s = top + np.log(np.exp(inner_log_w - top[:, None]).sum(axis=1))              # (R,)
    z = np.linspace(-12.0, 12.0, 4801)
    log_w, log_joint = _qew_log_w(z)
    integrand = np.exp(math.log(k) + log_joint[None, :] - np.logaddexp(log_w[None, :], log_s[:, None]))
    return np.trapezoid(integrand, z, axis=1)


@lru_cache(maxsize=1)
def _notebook_masses() -> np.ndarray:
    """The masses m_r of the notebook's inner draws (computed once)."""
    return reference_qew_masses(qew_inner_draws().numpy())


def _qew_mass_expected() -> dict[str, float]:
    masses = _notebook_masses()
    return {"mass": float(masses.mean()), "se": float(masses.std(ddof=1) / math.sqrt(len(masses)))}


def _qew_mass_wrong() -> list[dict[str, float]]:
    right, masses = _qew_mass_expected(), _notebook_masses()
    return [{"mass": 1.0, "se": 0.0},                                          # the theorem, not a witness
            {"mass": right["mass"] / QEW_K, "se": right["se"] / QEW_K},        # q_IW without the factor K
            {"mass": right["mass"], "se": float(masses.std(ddof=1))},          # the spread of m_r, not its se
            {"mass": float(masses[0]), "se": 0.0}]                             # one inner draw: q_IW alone


# ---- registrations -------------------------------------------------------------------------------------------
register(f"{LESSON}-iwae_bound", answer="my_iwae_bound", difficulty=2, cases=_iwae_cases, reference=reference_iwae_bound,
         rtol=1e-5, atol=1e-4,
         wrong=[_naive_iwae_bound, _log_sum_exp_bound, _mean_of_logs, _bound_over_batch],
         offsets={"log K (K = 2)": math.log(2), "log K (K = 5)": math.log(5), "log K (K = 50)": math.log(50)},
         hint="Work along the K samples of each column. Let m be the column's largest log weight; then "
              "log (1/K) Σ_k e^{a_k} = m + log (1/K) Σ_k e^{a_k − m}, where every e^{a_k − m} lies in (0, 1] and the "
              "largest is exactly 1, so nothing underflows to log 0. Keep the 1/K: without it the answer is too "
              "large by log K.")

register(f"{LESSON}-finite_variance_threshold", answer="variance_threshold", difficulty=2, expected=_threshold, rtol=1e-6, atol=1e-9,
         wrong=[POSTERIOR_VAR, 2 * POSTERIOR_VAR, POSTERIOR_VAR / 4],
         hint="Var_q(w) is finite exactly when ∫ p(z|x)² / q(z) dz is. The exponent of p(z|x)² / q(z) is a "
              "quadratic in z, −(z − m*)²/v* + (z − μ)²/(2σ²); the integral converges exactly when its coefficient "
              "of z² is negative. Solve that inequality for σ².")

register(f"{LESSON}-iwae_gradient", answer="my_iwae_gradient", difficulty=3, cases=_gradient_cases, reference=reference_iwae_gradient,
         rtol=1e-6, atol=1e-9,
         wrong=[_uniform_gradient, _unnormalized_gradient, _naive_normalized_gradient, _normalized_over_batch],
         hint="∇ L̂_K = Σ_k w̃_k ∇ log w_k with w̃_k = w_k / Σ_j w_j: for each data point b, normalize the "
              "weights over its K samples (not over the batch) and average the K gradient rows with these "
              "weights. Compute w̃ from the log weights after subtracting their maximum over k, as in Exercise "
              "4.1, so that neither e^{−10⁴} nor e^{10³} appears. With K = 1 the weight is 1.")

register(f"{LESSON}-active_units", answer="my_active_units", difficulty=1, cases=_units_cases, reference=reference_active_units,
         rtol=0.0, atol=0.0,
         wrong=[_units_unbiased, _units_std, _units_over_rows],
         hint="For each latent unit i (a column), take the variance of its N values (over the data points, "
              "the rows) with divisor N, not N − 1; count the units whose variance, not standard deviation, is "
              "strictly above 0.01, and return the count as a Python int.")

register(f"{LESSON}-qew_mass", answer="qew_mass_answer", difficulty=3, expected=_qew_mass_expected, rtol=2e-4, atol=1e-7,
         wrong=_qew_mass_wrong(),
         hint="Swap the two integrals: for each inner draw r, S_r = Σ_{k≥2} w(z_{r,k}) is a number and "
              "z ↦ K p(x, z) / (w(z) + S_r) is a function of one variable; integrate it on a fine grid (it decays "
              "like q). One such integral need not be 1; the witness is the average of the R integrals, and its "
              "standard error is their sample standard deviation (divisor R − 1) divided by √R.")
