"""Suite-wide test settings and shared fixtures.

* Hypothesis runs derandomized (the same examples on every run, so CI cannot flake) and without a deadline
  (a shared 2-core machine makes timings meaningless). The profile is loaded for every test module.
* ``mnist_available`` returns the data root after checking the four MNIST files against their MD5s. When
  they are missing it FAILS with the command to run; tests never skip to, or fall back on, fake data.
* ``committed_results(name)`` loads an experiment's committed ``full`` results, failing the same way.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

settings.register_profile("elbo_course", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("elbo_course")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"  # ../shared beside the clone (absent in some checkouts)


@pytest.fixture(scope="session")
def mnist_available() -> Path:
    """The MNIST root (``data.default_root()``), verified; fails loudly naming `make data` when absent."""
    from elbo_course import data

    root = data.default_root()
    bad = data.bad_files(root)
    if bad:
        pytest.fail(
            f"These tests need the real MNIST files, but {', '.join(bad)} are missing or corrupt in "
            f"{data.raw_dir(root)}. Run `make data` (= `python -m elbo_course.data fetch`) first.",
            pytrace=False,
        )
    return root


@pytest.fixture(scope="session")
def shared_dir() -> Path | None:
    """``../shared`` when it exists, else None (tests comparing against it skip only that comparison)."""
    return SHARED if SHARED.is_dir() else None


@pytest.fixture(scope="session")
def committed_results():
    """A loader of the committed ``full`` results of an experiment: ``committed_results("priors")``; FAILS (never
    skips) when they are missing or stale, with the loader's message naming the command that regenerates them."""
    from elbo_course.experiments import StaleArtifactError, load_results

    def load(name: str):
        try:
            return load_results(name, "full")
        except StaleArtifactError as error:
            pytest.fail(f"the committed {name} results are missing or stale: {error}")

    return load
