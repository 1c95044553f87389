"""Gradient estimators of ∇_μ E_q[f(z)]: reparameterization against the score function (lesson 03).

Maths only; ``elbo_course.figures.lesson03.plot_variance_sweeps`` draws the tables of ``variance_table``.

Toy objective (float64, numpy). q = N(μ, σ² I_d) and a quadratic "log target"

    f(z) = -1/2 ||z - a||²,          E_q f = -1/2 (||μ - a||² + d σ²),      ∇_μ E_q f = a - μ.

Three unbiased S-sample estimators of the gradient g = ∇_μ E_q f (shape (d,)), with z_s = μ + σ ε_s:

    reparameterization  ĝ = 1/S Σ_s ∇_z f(z_s)                     = 1/S Σ_s (a - z_s)
    score function      ĝ = 1/S Σ_s f(z_s) ∇_μ log q(z_s)           = 1/S Σ_s f(z_s) ε_s / σ
    score + baseline    ĝ = 1/S Σ_s (f(z_s) - b_s) ε_s / σ,  b_s = mean of f over the other S-1 samples
                        (leave-one-out: b_s does not depend on z_s, so E[b_s ε_s] = 0 and ĝ stays unbiased)

Every estimator's variance falls as 1/S; what separates them is how it scales with d and σ. For the
reparameterized one Var(ĝ_i) = σ²/S exactly; the score function's grows with d (f sums d terms) and,
without a baseline, like ||μ - a||⁴ / (4 σ² S) as σ → 0 (the score ε/σ blows up while f does not shrink).
We report the per-coordinate variance averaged over coordinates, v = (1/d) Σ_i Var(ĝ_i), estimated from R
independent replicates; its standard error comes from the R per-replicate terms (1/d) Σ_i (ĝ_ri - ḡ_i)²,
so it holds for correlated coordinates and heavy tails (the score function's ĝ is far from Gaussian).

Unbiasedness is a family of z-tests (``unbiasedness_test``): z_i = (ḡ_i - g_i) / sqrt(s_i² / R) for every
coordinate of every estimator, plus one for the reparameterized variance against σ²/S, each two-sided at
α / m (Bonferroni over the m tests), so that all m pass together with probability at least 1 - α when
every claim is true.

The toy ELBO of the ★★★ exercise (``elbo_gradient_samples``): prior N(0, I_d), q = N(μ, diag σ²) with
σ = e^ρ, a log-likelihood h(z) = log p(x|z) known through its gradient, and ELBO(μ, ρ) = E_q h(z) - KL(q ‖ p).
Differentiating the one-sample log weight h(z) + log N(z; 0, I) - log q(z) through z = μ + σ ε ("sampled"
KL) gives ĝ_μ = ∇h(z) - z and ĝ_ρ = (∇h(z) - z) σ ε + 1; taking the KL's gradient in closed form
(∂KL/∂μ = μ, ∂KL/∂ρ = σ² - 1) gives ĝ_μ = ∇h(z) - μ and ĝ_ρ = ∇h(z) σ ε + 1 - σ². ``exact_elbo_gradient``
integrates a separable ∇h by Gauss-Hermite quadrature.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable

import numpy as np

__all__ = ["QuadraticToy", "ESTIMATORS", "gradient_samples", "summarize", "gradient_variance",
           "bonferroni_threshold", "detectable_bias", "unbiasedness_test", "variance_table",
           "reparam_variance_exact", "KL_MODES", "quadratic_loglik_grad", "flat_loglik_grad",
           "elbo_gradient_samples", "exact_elbo_gradient", "compare_elbo_estimators"]

ESTIMATORS = ("reparameterization", "score_function", "score_function_baseline")
KL_MODES = ("sampled", "closed_form")


@dataclass(frozen=True)
class QuadraticToy:
    """f(z) = -1/2 ||z - a||² with a = ``target`` · 1_d, and q = N(μ = ``mean`` · 1_d, σ² I_d)."""

    d: int = 10
    sigma: float = 1.0
    mean: float = 0.0
    target: float = 1.0

    @property
    def mu(self) -> np.ndarray:
        """μ = ``mean`` · 1_d, shape (d,)."""
        return np.full(self.d, float(self.mean))

    @property
    def a(self) -> np.ndarray:
        """a = ``target`` · 1_d, shape (d,)."""
        return np.full(self.d, float(self.target))

    def f(self, z: np.ndarray) -> np.ndarray:
        """f(z) = -1/2 Σ_i (z_i - a_i)²; z (..., d) -> (...)."""
        return -0.5 * np.square(z - self.a).sum(axis=-1)

    def expected_f(self) -> float:
        """E_q f = -1/2 (||μ - a||² + d σ²) in closed form."""
        return float(-0.5 * (np.square(self.mu - self.a).sum() + self.d * self.sigma ** 2))

    def exact_gradient(self) -> np.ndarray:
        """∇_μ E_q f = a - μ, shape (d,)."""
        return self.a - self.mu


def gradient_samples(toy: QuadraticToy, estimator: str, S: int, R: int,
                     rng: np.random.Generator) -> np.ndarray:
    """R independent S-sample gradient estimates, shape (R, d), from ε ~ N(0, I) of shape (R, S, d).

    ``estimator`` is one of ``ESTIMATORS``; the baseline version needs S >= 2 (leave-one-out).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, not {estimator!r}.")
    if S < 1 or R < 1:
        raise ValueError(f"Need S >= 1 and R >= 1 (got S={S}, R={R}).")
    eps = rng.standard_normal((R, S, toy.d))
    z = toy.mu + toy.sigma * eps                        # (R, S, d)
    if estimator == "reparameterization":
        return (toy.a - z).mean(axis=1)
    fz = toy.f(z)                                       # (R, S)
    if estimator == "score_function_baseline":
        if S < 2:
            raise ValueError("The leave-one-out baseline needs S >= 2 samples (it averages the other S-1).")
        fz = fz - (fz.sum(axis=1, keepdims=True) - fz) / (S - 1)
    return (fz[..., None] * eps / toy.sigma).mean(axis=1)


def summarize(g: np.ndarray, exact: np.ndarray) -> dict[str, np.ndarray | float]:
    """Replicates g (R, ...) of an estimator of ``exact`` (...) -> mean, z-scores, variance and its se.

    z = (mean_r g - exact) / sqrt(s² / R) entrywise (s² the unbiased variance over replicates);
    variance = mean over entries of s²; variance_se = std over r of the per-replicate terms
    mean_entries (g_r - ḡ)² (times R / (R - 1)) divided by sqrt(R).
    """
    R = g.shape[0]
    flat = g.reshape(R, -1)
    centred = flat - flat.mean(axis=0)
    var_entries = (centred ** 2).sum(axis=0) / (R - 1)
    per_replicate = (centred ** 2).mean(axis=1) * R / (R - 1)
    z = (flat.mean(axis=0) - np.asarray(exact, dtype=float).reshape(-1)) / np.sqrt(var_entries / R)
    return {"mean": flat.mean(axis=0).reshape(g.shape[1:]), "z": z.reshape(g.shape[1:]),
            "var_entries": var_entries.reshape(g.shape[1:]), "variance": float(per_replicate.mean()),
            "variance_se": float(per_replicate.std(ddof=1) / np.sqrt(R))}


def gradient_variance(toy: QuadraticToy, estimator: str, S: int, R: int,
                      rng: np.random.Generator) -> dict[str, float | np.ndarray]:
    """Per-coordinate variance (1/d) Σ_i Var(ĝ_i) of the S-sample estimator, from R replicates.

    Returns {"variance", "variance_se", "z", "max_abs_z", "bias", "bias_se"}: ``z`` (d,) the z-scores of
    the coordinates' means against the exact gradient (see ``summarize``); ``bias`` the |mean - g_i| of
    the coordinate with the largest |z| and ``bias_se`` its standard error sqrt(s_i² / R).
    """
    g = gradient_samples(toy, estimator, S, R, rng)
    res = summarize(g, toy.exact_gradient())
    worst = int(np.argmax(np.abs(res["z"])))
    return {"variance": res["variance"], "variance_se": res["variance_se"], "z": res["z"],
            "max_abs_z": float(np.abs(res["z"][worst])),
            "bias": float(abs(res["mean"][worst] - toy.exact_gradient()[worst])),
            "bias_se": float(np.sqrt(res["var_entries"][worst] / R))}


def bonferroni_threshold(n_tests: int, alpha: float = 0.01) -> float:
    """z* with P(|Z| > z*) = α / n_tests for Z ~ N(0, 1): n two-sided tests all pass with prob ≥ 1 - α."""
    if n_tests < 1 or not 0 < alpha < 1:
        raise ValueError(f"Need n_tests >= 1 and 0 < alpha < 1 (got {n_tests}, {alpha}).")
    return NormalDist().inv_cdf(1.0 - alpha / (2 * n_tests))


def detectable_bias(se: float, threshold: float, power: float = 0.8) -> float:
    """The bias a two-sided test at |z| < threshold detects with probability ≈ ``power``: (z* + z_power) se."""
    return (threshold + NormalDist().inv_cdf(power)) * se


def unbiasedness_test(toy: QuadraticToy, S: int, R: int, rng: np.random.Generator,
                      alpha: float = 0.01) -> dict[str, object]:
    """The family of z-tests of the module docstring on ``toy``: every coordinate of every estimator's mean
    against a - μ, and the reparameterized variance against σ²/S; Bonferroni at family-wise ``alpha``.

    Returns {"rows": {estimator: gradient_variance(...) dict plus "se_mean" (the largest coordinate se)},
    "variance_z", "n_tests", "threshold", "alpha", "passed"}.
    """
    rows = {}
    for name in ESTIMATORS:
        res = gradient_variance(toy, name, S, R, rng)
        res["se_mean"] = float(np.sqrt(res["variance"] / R))
        rows[name] = res
    rep = rows["reparameterization"]
    variance_z = (rep["variance"] - reparam_variance_exact(toy, S)) / rep["variance_se"]
    n_tests = len(ESTIMATORS) * toy.d + 1
    threshold = bonferroni_threshold(n_tests, alpha)
    passed = all(r["max_abs_z"] < threshold for r in rows.values()) and abs(variance_z) < threshold
    return {"rows": rows, "variance_z": float(variance_z), "n_tests": n_tests, "threshold": threshold,
            "alpha": alpha, "passed": bool(passed)}


def reparam_variance_exact(toy: QuadraticToy, S: int) -> float:
    """Var(ĝ_i) of the reparameterized estimator: ĝ_i = a_i - μ_i - σ mean_s ε_si, so exactly σ² / S."""
    return toy.sigma ** 2 / S


def variance_table(parameter: str, values: list[float] | list[int], *, base: QuadraticToy | None = None,
                   S: int = 10, R: int = 4000, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sweep one of "S", "d", "sigma" and return {"values": (n,), <estimator>: (n,) variances, ...}.

    Each row uses a fresh draw from ``rng``; keys ``<estimator>_se`` hold the standard errors.
    """
    if parameter not in ("S", "d", "sigma"):
        raise ValueError('parameter must be "S", "d" or "sigma".')
    base = base or QuadraticToy()
    out: dict[str, list[float]] = {name: [] for name in ESTIMATORS}
    out.update({f"{name}_se": [] for name in ESTIMATORS})
    for v in values:
        toy, s = base, S
        if parameter == "d":
            toy = QuadraticToy(int(v), base.sigma, base.mean, base.target)
        elif parameter == "sigma":
            toy = QuadraticToy(base.d, float(v), base.mean, base.target)
        else:
            s = int(v)
        for name in ESTIMATORS:
            res = gradient_variance(toy, name, s, R, rng)
            out[name].append(res["variance"])
            out[f"{name}_se"].append(res["variance_se"])
    table = {k: np.asarray(v) for k, v in out.items()}
    table["values"] = np.asarray(values, dtype=float)
    return table


# ---------------------------------------------------------------- the toy ELBO (exercise 3.3)

GradLogLik = Callable[[np.ndarray], np.ndarray]


def quadratic_loglik_grad(a: np.ndarray | float, precision: float = 1.0) -> GradLogLik:
    """∇h for h(z) = -precision/2 ||z - a||² (the lesson's f when precision = 1): z (..., d) -> precision (a - z)."""
    return lambda z: precision * (np.asarray(a, dtype=float) - z)


def flat_loglik_grad() -> GradLogLik:
    """∇h = 0: a likelihood that says nothing about z, so the posterior is the prior."""
    return np.zeros_like


def elbo_gradient_samples(grad_loglik: GradLogLik, mu: np.ndarray, log_sigma: np.ndarray, eps: np.ndarray,
                          kl: str = "closed_form") -> np.ndarray:
    """S-sample estimates of (∇_μ, ∇_ρ) ELBO for each replicate; eps (R, S, d) -> (R, 2, d).

    kl="sampled": autodiff of the one-sample log weight, ĝ_μ = ∇h(z) - z, ĝ_ρ = (∇h(z) - z) σ ε + 1;
    kl="closed_form": ĝ_μ = ∇h(z) - μ, ĝ_ρ = ∇h(z) σ ε + 1 - σ² (z = μ + σ ε, σ = e^ρ; averages over S).
    """
    if kl not in KL_MODES:
        raise ValueError(f"kl must be one of {KL_MODES}, not {kl!r}.")
    mu, sigma = np.asarray(mu, dtype=float), np.exp(np.asarray(log_sigma, dtype=float))
    z = mu + sigma * eps
    g = grad_loglik(z)
    if kl == "sampled":
        g_mu, g_rho = g - z, (g - z) * sigma * eps + 1.0
    else:
        g_mu, g_rho = g - mu, g * sigma * eps + 1.0 - sigma ** 2
    return np.stack([g_mu.mean(axis=-2), g_rho.mean(axis=-2)], axis=-2)


def exact_elbo_gradient(grad_loglik: GradLogLik, mu: np.ndarray, log_sigma: np.ndarray,
                        nodes: int = 121) -> np.ndarray:
    """(∇_μ, ∇_ρ) ELBO, shape (2, d), for a separable ∇h (entry i depends on z_i only).

    ∇_μ = E[∇h(μ + σ x)] - μ and ∇_ρ = E[∇h(μ + σ x) σ x] + 1 - σ², x ~ N(0, 1) per coordinate, by
    Gauss-Hermite quadrature with ``nodes`` nodes (exact for polynomial ∇h of degree < 2 nodes).
    """
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / np.sqrt(2.0 * np.pi)
    mu, sigma = np.asarray(mu, dtype=float), np.exp(np.asarray(log_sigma, dtype=float))
    g = grad_loglik(mu + sigma * x[:, None])                   # (nodes, d)
    return np.stack([w @ g - mu, w @ (g * sigma * x[:, None]) + 1.0 - sigma ** 2])


def compare_elbo_estimators(grad_loglik: GradLogLik, mu: np.ndarray, log_sigma: np.ndarray, S: int, R: int,
                            rng: np.random.Generator) -> dict[str, dict[str, object]]:
    """Both KL modes on the same noise (R, S, d): {mode: summarize(...) against ``exact_elbo_gradient``}."""
    eps = rng.standard_normal((R, S, np.asarray(mu).shape[-1]))
    exact = exact_elbo_gradient(grad_loglik, mu, log_sigma)
    return {mode: summarize(elbo_gradient_samples(grad_loglik, mu, log_sigma, eps, mode), exact)
            for mode in KL_MODES}
