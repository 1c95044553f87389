"""elbo_course: the helper package of a Jupyter course on the evidence lower bound (ELBO).

Layers, lowest first. A module imports only modules of lower layers (or of its own package, as
``experiments.surgery`` imports ``experiments.common``); tests/test_packaging.py reads this list and checks
it against the tree and the imports.

    runtime, fileio, reference        set-up, budgets and seeded generators; atomic files; published numbers
    mnist_files                       the four original MNIST files: fetch (or rebuild offline) and verify
    data                              exact MNIST in memory, fixed and dynamic binarizations
    distributions                     the diagonal Gaussian, the standard normal, the Bernoulli likelihood
    bounds                            ELBO and IWAE bounds from log weights; mean and standard error
    data_entropy                      the entropy H(X) of dynamically binarized MNIST (lesson 08)
    surgery                           Hoffman & Johnson's decomposition; Gaussian-mixture densities
    priors                            priors p(z): one interface, a registry (StandardNormal, MixtureOfGaussians)
    toys/, models                     exact toy models of lessons 01-05; the VAE (encoder, decoder, prior)
    checkpoints, train                model files; the training loop
    experiments/                      ``python -m elbo_course.experiments NAME --budget ...``: results, checkpoints
    figures/, grading/, report        figures and widgets per lesson; check(), lessons/, nbgrader export; README
    publish/                          decks, handouts (and the site) built offline from the notebooks
    cli                               the `elbo-course` command (`elbo-course nbgrader DIR`)

Maths (data to experiments) never imports matplotlib or ipywidgets; experiments write results and never draw;
figures read results.
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
