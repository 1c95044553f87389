"""Exercise specs of lesson ``03_the_vae``.

reparameterized_sample  (★)   z = mu + exp(logvar / 2) eps, a function of (mu, logvar, eps), each (B, d).
variance_scaling        (★★)  predict-then-check: how each estimator's per-coordinate variance behaves for large
                              d ("constant", "d", "d^2") and as sigma -> 0 ("vanishes", "constant", "explodes").
elbo_gradient           (★★★) an unbiased S-sample estimate of (∇_mu, ∇_rho) ELBO on the toy ELBO (prior N(0, I),
                              q = N(mu, diag e^{2 rho}), a log-likelihood h given by its gradient), less noisy than
                              differentiating the one-sample log weight. Graded on its average over S draws against
                              the exact gradient (Gauss-Hermite quadrature), within ``ELBO_GRADIENT_ATOL``.
negative_elbo           (★★)  batch mean of -log p(x|z) + KL(q ‖ N(0, I)), a function of (logits (B, D), x (B, D),
                              mu (B, d), logvar (B, d)); one case has logits of size 30 where a naive
                              log(1 + e^l) overflows in float32.

Why the elbo_gradient tolerance is honest. Every case's S is large enough that an estimator with the KL term in
closed form lands within ``ELBO_GRADIENT_ATOL`` of the exact gradient in every entry with probability above
99% (Bonferroni over all entries of the check's cases and the notebook's hidden tests, using the estimator's
exact per-draw variance; ``elbo_gradient_noise`` computes it and the tests assert the margin). In the case whose
likelihood is flat the closed-form-KL estimator has no noise at all, while the generic estimator (the KL
sampled through log q - log p) misses by several tolerances: that is the variance test.

References are float64 formulas written independently of ``elbo_course.models`` and ``elbo_course.toys``; cases
are small tensors from ``rng("03_the_vae:<purpose>", seed=0)``.
"""
from __future__ import annotations

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "03_the_vae"
LOG_2PI = float(np.log(2 * np.pi))


# ---------------------------------------------------------------- 3.1 the reparameterized sample

def reference_reparameterized_sample(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, elementwise; shapes broadcast (e.g. (B, d) each)."""
    m, lv, e = (np.asarray(t.detach().numpy(), dtype=np.float64) for t in (mu, logvar, eps))
    return torch.from_numpy(m + np.sqrt(np.exp(lv)) * e).to(mu.dtype)


def _sample_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    g = rng(f"{LESSON}:reparameterized_sample_cases", seed=0)
    cases = [(torch.zeros(1, 2), torch.zeros(1, 2), torch.tensor([[1.0, -2.0]])),
             (torch.tensor([[1.0, -1.0, 0.5]]), torch.tensor([[0.0, 2.0, -4.0]]), torch.tensor([[0.3, 0.3, 0.3]]))]
    for shape in ((4, 2), (3, 20)):
        cases.append((torch.randn(shape, generator=g), torch.randn(shape, generator=g),
                      torch.randn(shape, generator=g)))
    return cases


def _sample_with_variance(mu, logvar, eps):
    return mu + torch.exp(logvar) * eps


def _sample_with_logvar_as_scale(mu, logvar, eps):
    return mu + logvar * eps


def _sample_with_precision(mu, logvar, eps):
    return mu + torch.exp(-0.5 * logvar) * eps


def _sample_detached(mu, logvar, eps):
    return torch.from_numpy((mu.detach().numpy() + np.exp(0.5 * logvar.detach().numpy()) * eps.numpy()))


def sample_and_gradients(function, case) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z, ∂Σz/∂μ, ∂Σz/∂log σ²) of ``function(mu, logvar, eps)``, the gradients by autograd: the point of the
    trick is that gradients reach μ and log σ². For the reference they are the analytic ones, 1 and ½ σ ε."""
    mu, logvar, eps = (t.detach().clone() for t in case)
    if function is reference_reparameterized_sample:
        return function(mu, logvar, eps), torch.ones_like(mu), 0.5 * torch.exp(0.5 * logvar) * eps
    mu.requires_grad_(True)
    logvar.requires_grad_(True)
    z = function(mu, logvar, eps)
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        raise ValueError("the sample carries no gradient back to mu and logvar: build it from them with torch "
                         "operations only (no conversion to NumPy or Python numbers, no detaching, no no_grad)")
    grads = torch.autograd.grad(z.sum(), (mu, logvar), allow_unused=True)
    if any(g is None for g in grads):
        raise ValueError("no gradient reaches " + " and ".join(n for n, g in zip(("mu", "logvar"), grads) if g is None)
                         + ": every input must enter the sample through torch operations")
    return z.detach(), grads[0], grads[1]


register(f"{LESSON}-reparameterized_sample", answer="my_reparameterized_sample", difficulty=1, cases=_sample_cases,
         reference=reference_reparameterized_sample, rtol=1e-5, atol=1e-6, probe=sample_and_gradients,
         wrong=[_sample_with_variance, _sample_with_logvar_as_scale, _sample_with_precision, _sample_detached],
         hint="z = μ + σ ⊙ ε needs the standard deviation σ, the square root of the variance; the encoder "
              "gives the logarithm of the variance, log σ², so σ = exp(½ log σ²).")


# ---------------------------------------------------------------- 3.2 predict, then check

VARIANCE_SCALING = {
    "reparameterization_vs_d": "constant",
    "score_function_vs_d": "d^2",
    "score_function_baseline_vs_d": "d",
    "reparameterization_small_sigma": "vanishes",
    "score_function_small_sigma": "explodes",
    "score_function_baseline_small_sigma": "constant",
}

register(f"{LESSON}-variance_scaling", answer="variance_scaling_answer", difficulty=2, expected=dict(VARIANCE_SCALING),
         wrong=[{**VARIANCE_SCALING, "score_function_vs_d": "d", "score_function_baseline_vs_d": "d^2"},
                {**VARIANCE_SCALING, "score_function_baseline_small_sigma": "explodes"},
                {**VARIANCE_SCALING, "reparameterization_small_sigma": "constant"},
                {key: "constant" for key in VARIANCE_SCALING}],
         hint="Write each estimator's single-sample term for one coordinate i. Reparameterization: a_i - μ_i - σ ε_i "
              "involves coordinate i only, and its noise has size σ. Score function: f(z) ε_i / σ, where f(z) "
              "sums d terms, so f² grows like d²; subtracting a baseline removes f's mean (of size d) but leaves "
              "its spread (variance of size d). As σ → 0, f(z) - f(μ) shrinks like σ, which cancels the 1/σ of "
              "the score only when f's value at μ has been subtracted.")


# ---------------------------------------------------------------- 3.3 a lower-variance ELBO gradient

ELBO_GRADIENT_ATOL = 0.02   # absolute, per entry of the (2, d) average over S draws
ELBO_GRADIENT_ALPHA = 0.01  # family-wise level that ELBO_GRADIENT_ATOL is sized for
HIDDEN_ENTRIES = 12         # entries that the notebook's hidden tests compare (2 calls x (2, 3))


class GradLogLik:
    """A log-likelihood's gradient as a black box: z (..., d) float64 -> (..., d), entry i depending on z_i only.

    kind "flat": h = 0; "quadratic": h = -precision/2 ||z - a||²; "logcosh": h = -Σ_i log cosh(z_i - a_i).
    """

    def __init__(self, kind: str, a: list[float] | None = None, precision: float = 1.0) -> None:
        self.kind, self.a, self.precision = kind, None if a is None else torch.tensor(a, dtype=torch.float64), precision

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        if self.kind == "flat":
            return torch.zeros_like(z)
        if self.kind == "quadratic":
            return self.precision * (self.a - z)
        return -torch.tanh(z - self.a)

    def __repr__(self) -> str:
        a = None if self.a is None else ", ".join(f"{v:g}" for v in self.a.tolist())
        if self.kind == "flat":
            return "grad of the flat log-likelihood 0"
        if self.kind == "quadratic":
            return f"grad of -{self.precision:g}/2 ||z - a||^2, a = ({a})"
        return f"grad of -sum log cosh(z - a), a = ({a})"


def _hermite(nodes: int = 161) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return x, w / np.sqrt(2 * np.pi)


def reference_elbo_gradient(grad_loglik, mu: torch.Tensor, log_sigma: torch.Tensor,
                            eps: torch.Tensor | None = None) -> torch.Tensor:
    """The exact (∇_mu, ∇_rho) ELBO, float64 (2, d), by quadrature (``eps`` is ignored).

    ELBO = E_q h(z) - KL(N(mu, diag s²) ‖ N(0, I)), s = e^rho:
    ∂/∂mu = E[∇h(mu + s x)] - mu,  ∂/∂rho = E[∇h(mu + s x) s x] - (s² - 1),  x ~ N(0, 1) per entry.
    """
    x, w = _hermite()
    m = mu.detach().double()
    s = torch.exp(log_sigma.detach().double())
    xs, ws = torch.from_numpy(x)[:, None], torch.from_numpy(w)
    g = grad_loglik(m + s * xs)                                    # (nodes, d)
    return torch.stack([ws @ g - m, ws @ (g * s * xs) - (s ** 2 - 1.0)])


def elbo_gradient_noise(grad_loglik, mu: torch.Tensor, log_sigma: torch.Tensor, closed_form: bool = True
                        ) -> torch.Tensor:
    """Per-draw standard deviation (2, d) of the closed-form-KL (or, if not ``closed_form``, the sampled-KL)
    single-draw estimator, by quadrature: the noise that ``ELBO_GRADIENT_ATOL`` is sized against."""
    x, w = _hermite()
    m, s = mu.double(), torch.exp(log_sigma.double())
    xs, ws = torch.from_numpy(x)[:, None], torch.from_numpy(w)
    z = m + s * xs
    g = grad_loglik(z)
    g_mu, g_rho = (g - m, g * s * xs) if closed_form else (g - z, (g - z) * s * xs)
    return torch.stack([torch.sqrt(ws @ (t - ws @ t) ** 2) for t in (g_mu, g_rho)])


ELBO_GRADIENT_SETTINGS = (  # (likelihood, mu, sigma, S)
    (GradLogLik("flat"), [0.5, -1.0, 1.5, 0.0], [0.5, 1.5, 0.8, 2.0], 400),
    (GradLogLik("quadratic", [1.0, 1.0, 1.0, 1.0]), [0.0, 0.5, -0.5, 1.0], [0.7, 1.2, 0.5, 1.0], 300_000),
    (GradLogLik("logcosh", [3.0, -2.0, 0.0, 2.0]), [0.0, 1.0, -1.0, 2.0], [0.6, 1.0, 1.4, 0.8], 200_000),
    (GradLogLik("quadratic", [2.0, -2.0, 1.0, 0.0], precision=0.1), [0.3, -0.3, 0.0, 1.0], [1.0, 0.6, 1.5, 0.9],
     50_000),
)


def _elbo_gradient_cases() -> list[tuple]:
    g = rng(f"{LESSON}:elbo_gradient_cases", seed=0)
    cases = []
    for lik, mu, sigma, s in ELBO_GRADIENT_SETTINGS:
        mu_t = torch.tensor(mu, dtype=torch.float64)
        cases.append((lik, mu_t, torch.log(torch.tensor(sigma, dtype=torch.float64)),
                      torch.randn(s, len(mu), generator=g, dtype=torch.float64)))
    return cases


def _sampled_kl(grad_loglik, mu, log_sigma, eps):
    sigma = torch.exp(log_sigma)
    z = mu + sigma * eps
    g = grad_loglik(z) - z
    return torch.stack([g.mean(0), (g * sigma * eps).mean(0) + 1.0])


def _without_kl(grad_loglik, mu, log_sigma, eps):
    sigma = torch.exp(log_sigma)
    g = grad_loglik(mu + sigma * eps)
    return torch.stack([g.mean(0), (g * sigma * eps).mean(0)])


def _chain_rule_without_sigma(grad_loglik, mu, log_sigma, eps):
    sigma = torch.exp(log_sigma)
    g = grad_loglik(mu + sigma * eps)
    return torch.stack([g.mean(0) - mu, (g * eps).mean(0) + 1.0 - sigma ** 2])


def _gradient_at_the_mean(grad_loglik, mu, log_sigma, eps):
    sigma = torch.exp(log_sigma)
    return torch.stack([grad_loglik(mu) - mu, 1.0 - sigma ** 2])


register(f"{LESSON}-elbo_gradient", answer="my_elbo_gradient", difficulty=3, cases=_elbo_gradient_cases, reference=reference_elbo_gradient,
         rtol=0.0, atol=ELBO_GRADIENT_ATOL,
         wrong=[_sampled_kl, _without_kl, _chain_rule_without_sigma, _gradient_at_the_mean],
         hint="The ELBO is E_q[h(z)] − KL(q ‖ p). Only the first term needs samples: for a Gaussian q and the "
              "prior N(0, I) the KL has a closed form, ½ Σ_i (μ_i² + σ_i² − 1 − 2ρ_i), so differentiate it "
              "exactly with respect to μ and to ρ. For E_q[h(z)] use the reparameterization z = μ + σ ⊙ ε: "
              "∂z_i/∂μ_i = 1 and ∂z_i/∂ρ_i = σ_i ε_i. Then average over the S draws.")


# ---------------------------------------------------------------- 3.4 the negative-ELBO loss

def reference_negative_elbo(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor,
                            logvar: torch.Tensor) -> torch.Tensor:
    """Batch mean of -[log p(x|z) - KL(q || N(0, I))], one z per image; 0-d tensor of the logits' dtype
    (computed in float64).

    log p(x|z) = Σ_j [x_j l_j - log(1 + e^{l_j})] (l = logits, shape (B, D));
    KL = 1/2 Σ_i [mu_i² + e^{logvar_i} - 1 - logvar_i] (shape (B, d)).
    """
    lg, xx, m, lv = (np.asarray(t.detach().numpy(), dtype=np.float64) for t in (logits, x, mu, logvar))
    log_px = (xx * lg - np.logaddexp(0.0, lg)).sum(axis=-1)
    kl = 0.5 * (m ** 2 + np.exp(lv) - 1.0 - lv).sum(axis=-1)
    return torch.tensor(float(np.mean(kl - log_px)), dtype=logits.dtype)


def _loss_cases() -> list[tuple[torch.Tensor, ...]]:
    g = rng(f"{LESSON}:negative_elbo_cases", seed=0)
    cases = [(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]), torch.zeros(1, 2), torch.zeros(1, 2))]
    for b, dim, d, scale in ((5, 784, 2, 1.0), (3, 10, 4, 30.0), (2, 6, 2, 120.0)):  # e^l overflows float32 near 88.7
        x = (torch.rand(b, dim, generator=g) < 0.3).float()
        cases.append((scale * torch.randn(b, dim, generator=g), x, torch.randn(b, d, generator=g),
                      torch.randn(b, d, generator=g)))
    return cases


def _kl(mu, logvar):
    return 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1)


def _loss_naive_log_sigmoid(logits, x, mu, logvar):
    p = torch.sigmoid(logits)
    nll = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1)
    return (nll + _kl(mu, logvar)).mean()


def _loss_mean_over_pixels(logits, x, mu, logvar):
    nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").mean(-1)
    return (nll + _kl(mu, logvar)).mean()


def _loss_kl_subtracted(logits, x, mu, logvar):
    nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    return (nll - _kl(mu, logvar)).mean()


def _loss_without_kl(logits, x, mu, logvar):
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1).mean()


register(f"{LESSON}-negative_elbo", answer="my_negative_elbo", difficulty=2, cases=_loss_cases, reference=reference_negative_elbo,
         rtol=1e-4, atol=1e-3,
         wrong=[_loss_naive_log_sigmoid, _loss_mean_over_pixels, _loss_kl_subtracted, _loss_without_kl],
         hint="Per image: −log p(x|z) = Σ_j [log(1 + e^{ℓ_j}) − x_j ℓ_j] summed over the pixels, plus "
              "KL = ½ Σ_i (μ_i² + σ_i² − 1 − log σ_i²) summed over the latent units; then the mean over the "
              "batch. For large |ℓ| write log(1 + e^{ℓ}) = max(ℓ, 0) + log(1 + e^{−|ℓ|}) (PyTorch's binary "
              "cross-entropy that takes logits does exactly this).")
