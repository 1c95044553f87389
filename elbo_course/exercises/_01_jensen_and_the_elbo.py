"""Exercise specs of lesson 01 (Jensen's inequality and the ELBO).

uniform_gap   J(W) = log E[W] - E[log W] for W ~ Uniform(a, b), a = 1, b = 3:
              E[W] = (a + b)/2,  E[log W] = [b log b - b - (a log a - a)] / (b - a).
toy_elbo      ELBO of q = N(m, s²) on z ~ N(0, 1), x | z ~ N(z, 1), compared on stored (x, m, s) cases
              with ``LinearGaussian().elbo(x, m, s²)``.
"""
from __future__ import annotations

import math

from ..grading import register
from ..toy import LinearGaussian

LESSON = "01_jensen_and_the_elbo"


def uniform_jensen_gap(a: float, b: float) -> float:
    """Exact Jensen gap of W ~ Uniform(a, b), 0 < a < b (nats)."""
    mean_log = ((b * math.log(b) - b) - (a * math.log(a) - a)) / (b - a)
    return math.log((a + b) / 2) - mean_log


def toy_elbo_reference(x: float, q_mean: float, q_std: float) -> float:
    """Closed-form ELBO of N(q_mean, q_std²) for the unit linear-Gaussian toy (float)."""
    return float(LinearGaussian().elbo(x, q_mean, q_std**2))


register(f"{LESSON}.uniform_gap", difficulty=2, expected=lambda: uniform_jensen_gap(1.0, 3.0),
         rtol=1e-7, atol=1e-9,
         hint="An exact value is expected (a Monte Carlo estimate is off by about 1e-3). E[W] = 2 and "
              "E[log W] = (1/2) ∫_1^3 log w dw with ∫ log w dw = w log w - w; the gap is log E[W] - E[log W] "
              "(positive, about 0.05 nats).")

register(f"{LESSON}.toy_elbo", difficulty=2,
         cases=[(1.0, 0.5, math.sqrt(0.5)), (1.0, -1.0, 1.5), (0.0, 0.0, 1.0), (-2.0, 0.3, 0.4),
                (3.5, 1.0, 0.05), (0.7, -0.2, 2.0)],
         reference=toy_elbo_reference, rtol=1e-9, atol=1e-10,
         hint="ELBO = E_q[log p(x|z)] + E_q[log p(z)] + H[q] with E_q(x - z)² = (x - m)² + s², "
              "E_q z² = m² + s² and H[q] = ½ log(2πe s²); each Gaussian log-density brings -½ log 2π. "
              "q_std is a standard deviation: square it. At q = N(x/2, 1/2) the ELBO equals log p(x).")
