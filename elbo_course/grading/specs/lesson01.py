"""Exercise specs of lesson ``01_jensen_and_the_elbo`` (Jensen's inequality and the ELBO).

uniform_gap   J(W) = log E[W] - E[log W] for W ~ Uniform(a, b), a = 1, b = 3:
              E[W] = (a + b)/2,  E[log W] = [b log b - b - (a log a - a)] / (b - a).
toy_elbo      the student's closed-form ELBO of q = N(m, s²) on z ~ N(0, 1), x | z ~ N(z, 1), a function
              (x, m, s) -> float, run on stored cases. The reference takes the other route,
              log p(x) - KL(q ‖ p(z | x)) with p(x) = N(x; 0, 2) and p(z | x) = N(x/2, 1/2), written here
              without ``elbo_course.toys`` (the student sums E log p(x|z) + E log p(z) + H[q]).
"""
from __future__ import annotations

import math

from ..check import register

LESSON = "01_jensen_and_the_elbo"
TOY_ELBO_CASES = [(1.0, 0.5, math.sqrt(0.5)), (1.0, -1.0, 1.5), (0.0, 0.0, 1.0), (-2.0, 0.3, 0.4),
                  (3.5, 1.0, 0.05), (0.7, -0.2, 2.0)]


def uniform_jensen_gap(a: float, b: float) -> float:
    """Exact Jensen gap of W ~ Uniform(a, b), 0 < a < b (nats)."""
    mean_log = ((b * math.log(b) - b) - (a * math.log(a) - a)) / (b - a)
    return math.log((a + b) / 2) - mean_log


def toy_elbo_reference(x: float, q_mean: float, q_std: float) -> float:
    """ELBO = log N(x; 0, 2) - KL(N(q_mean, q_std²) ‖ N(x/2, 1/2)) for the unit linear-Gaussian toy (nats).

    KL(N(m, v) ‖ N(m', v')) = ½ [v/v' + (m - m')²/v' - 1 - log(v/v')].
    """
    log_evidence = -0.5 * math.log(2 * math.pi * 2.0) - x**2 / 4.0
    var, post_mean, post_var = q_std**2, x / 2.0, 0.5
    kl = 0.5 * (var / post_var + (q_mean - post_mean) ** 2 / post_var - 1.0 - math.log(var / post_var))
    return log_evidence - kl


def _uniform_gap_wrong() -> list[float]:
    """The sign flipped; E[log W] without the 1/(b - a); the antiderivative without its -w; and 0."""
    gap = uniform_jensen_gap(1.0, 3.0)
    return [-gap, math.log(2.0) - (3.0 * math.log(3.0) - 2.0), math.log(2.0) - 1.5 * math.log(3.0), 0.0]


def _toy_elbo_wrong() -> list:
    """Typical slips: the entropy without its e; q_std used as a variance; the s² in E(x - z)² and E z²
    forgotten; the entropy subtracted."""
    half_log_2pi = 0.5 * math.log(2 * math.pi)

    def energy(x: float, m: float, var: float) -> float:
        return -2 * half_log_2pi - 0.5 * ((x - m) ** 2 + var) - 0.5 * (m**2 + var)

    return [lambda x, m, s: energy(x, m, s**2) + 0.5 * math.log(2 * math.pi * s**2),
            lambda x, m, s: energy(x, m, s) + 0.5 * math.log(2 * math.pi * math.e * s),
            lambda x, m, s: energy(x, m, 0.0) + 0.5 * math.log(2 * math.pi * math.e * s**2),
            lambda x, m, s: energy(x, m, s**2) - 0.5 * math.log(2 * math.pi * math.e * s**2)]


register(f"{LESSON}-uniform_gap", answer="uniform_gap_answer", difficulty=2, expected=lambda: uniform_jensen_gap(1.0, 3.0),
         rtol=1e-7, atol=1e-9, wrong=_uniform_gap_wrong(),
         hint="An exact value is expected (a Monte Carlo estimate misses by 1e-4 or more). E[W] is the midpoint "
              "of [1, 3]; E[log W] = (1/(b - a)) ∫_a^b log w dw, and w log w - w is an antiderivative of log w "
              "(keep both of its terms, and the 1/(b - a)). The gap is log E[W] - E[log W], a small positive "
              "number.")

register(f"{LESSON}-toy_elbo", answer="toy_elbo", difficulty=1, cases=TOY_ELBO_CASES, reference=toy_elbo_reference,
         rtol=1e-9, atol=1e-10, wrong=_toy_elbo_wrong(),
         hint="ELBO = E_q[log p(x|z)] + E_q[log p(z)] + H[q] with E_q(x - z)² = (x - m)² + s², "
              "E_q z² = m² + s² and H[q] = ½ log(2πe s²); each Gaussian log-density brings -½ log 2π. "
              "The third argument is the standard deviation s: square it where a variance is needed. At "
              "q = N(x/2, 1/2) the ELBO equals log p(x).")
