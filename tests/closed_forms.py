"""Independent closed forms of the lessons' linear-Gaussian toy, z ~ N(0, 1), x | z ~ N(z, 1), with
q(z) = N(m, s²): written out by hand so that tests never check the package against itself."""
from __future__ import annotations

import math


def log_evidence(x: float) -> float:
    """log p(x) = log N(x; 0, 2)."""
    return -0.5 * math.log(4 * math.pi) - x * x / 4


def elbo(x: float, m: float, s: float) -> float:
    """E_q[log p(x, z)] + H[q] for q = N(m, s²)."""
    return -0.5 * math.log(2 * math.pi) + 0.5 - m * m / 2 - (x - m) ** 2 / 2 - s * s + math.log(s)


def kl_to_posterior(x: float, m: float, s: float) -> float:
    """KL(N(m, s²) ‖ p(z | x) = N(x/2, 1/2))."""
    return 0.5 * ((s * s + (m - x / 2) ** 2) / 0.5 - 1 - math.log(s * s / 0.5))
