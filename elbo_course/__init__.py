"""elbo_course: the helper package of a Jupyter course on the evidence lower bound (ELBO).

Layers (lower never imports higher):
    runtime, reference                      set-up, seeds, published numbers
    data                                    exact MNIST, binarizations
    distributions                           diagonal Gaussian, Bernoulli
    bounds, surgery, toy                    ELBO / IWAE bounds, Hoffman & Johnson decomposition, exact toys
    models, train                           the VAE and its training loop
    experiments                             `python -m elbo_course.experiments NAME --budget ...`
    grading, build                          exercise checks, lessons/ from solutions/
"""
from __future__ import annotations

import os

# PyTorch's OpenMP threads busy-wait by default; on a shared 2-core machine that makes timings swing
# by an order of magnitude. This must happen before torch is imported anywhere.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .runtime import budget, np_rng, rng, seed_for, setup  # noqa: E402

__version__ = "0.1.0"
__all__ = ["setup", "budget", "rng", "np_rng", "seed_for", "check", "__version__"]


def __getattr__(name: str):
    # `from elbo_course import check` without importing the grader (and its exercise specs) eagerly.
    if name == "check":
        from .grading import check

        return check
    raise AttributeError(f"module 'elbo_course' has no attribute {name!r}")
