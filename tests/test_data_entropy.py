"""The entropy of dynamically binarized MNIST (lesson 08): the posterior over images against brute force,
impossible images, bad input, and the committed estimate re-estimated with fresh draws."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from elbo_course import rng
from elbo_course.data_entropy import entropy, posterior_entropies


def _brute_force(x: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
    lik = (grey[None] ** x[:, None] * (1 - grey[None]) ** (1 - x[:, None])).prod(-1)    # (M, N), 0 ** 0 = 1
    post = lik / lik.sum(1, keepdim=True)
    return -(torch.where(post > 0, post * post.log(), torch.zeros_like(post))).sum(1)


def test_posterior_entropies_match_brute_force_with_pixels_at_0_and_1():
    g = torch.Generator().manual_seed(0)
    grey = torch.rand(6, 5, generator=g, dtype=torch.float64)
    grey[0, :2] = 0.0
    grey[1, 2] = 1.0
    grey[2] = grey[3]                                            # two identical images: log 2 of posterior entropy
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=5)), dtype=torch.float64)   # every binary image
    got = posterior_entropies(x, grey)
    expected = _brute_force(x, grey)
    assert torch.allclose(got, expected, atol=1e-10)
    only_twins = torch.zeros(1, 6, dtype=torch.float64)
    twins = torch.tensor([[0.0] * 6, [0.0] * 6, [0.5] * 6, [0.5] * 6], dtype=torch.float64)
    twins[0, 0] = twins[1, 0] = 1.0                              # images 0 and 1 make x = 0 impossible
    assert float(posterior_entropies(only_twins, twins)[0]) == pytest.approx(math.log(2), abs=1e-12)


def test_entropy_needs_at_least_two_draws():
    with pytest.raises(ValueError, match="draws"):
        entropy(1, rng("test_data_entropy:bad"))


@pytest.mark.slow
def test_committed_entropy_re_estimated_with_fresh_draws():
    from elbo_course.experiments import load_results

    stored = load_results("rate_distortion", "full")
    fresh = entropy(1000, rng("test_data_entropy:fresh"))
    assert fresh["binarization_entropy"] == pytest.approx(stored["binarization_entropy"], abs=1e-9)
    assert fresh["log_n"] == pytest.approx(math.log(60_000))
    assert abs(fresh["entropy"] - stored["entropy"]) < 4 * math.hypot(fresh["entropy_se"], stored["entropy_se"]) + 1e-3
    assert 0 <= stored["posterior_entropy"] < 1
