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
We report the per-coordinate variance averaged over coordinates, (1/d) Σ_i Var(ĝ_i), estimated from R
independent replicates of the S-sample estimator.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["QuadraticToy", "ESTIMATORS", "gradient_samples", "gradient_variance", "variance_table",
           "reparam_variance_exact"]

ESTIMATORS = ("reparameterization", "score_function", "score_function_baseline")


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


def gradient_variance(toy: QuadraticToy, estimator: str, S: int, R: int,
                      rng: np.random.Generator) -> dict[str, float]:
    """Per-coordinate variance (1/d) Σ_i Var(ĝ_i) of the S-sample estimator, from R replicates.

    Returns {"variance", "variance_se", "bias", "bias_se"}: ``variance_se`` uses the large-R formula
    SE(s²) ≈ s² sqrt(2 / (R - 1)) (exact for Gaussian ĝ); ``bias`` is the largest |mean_r ĝ_i - g_i| over
    coordinates and ``bias_se`` the matching standard error sqrt(Var(ĝ_i) / R).
    """
    g = gradient_samples(toy, estimator, S, R, rng)
    var_i = g.var(axis=0, ddof=1)
    variance = float(var_i.mean())
    err = np.abs(g.mean(axis=0) - toy.exact_gradient())
    worst = int(np.argmax(err / np.sqrt(var_i / R)))
    return {"variance": variance, "variance_se": variance * float(np.sqrt(2.0 / (R - 1))),
            "bias": float(err[worst]), "bias_se": float(np.sqrt(var_i[worst] / R))}


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
