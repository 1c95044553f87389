"""The exercise specs of lesson 03: a right answer (computed another way than the spec's reference) passes
``check`` and the grade cell's hidden block, every listed wrong answer fails both, and the ELBO-gradient
exercise's tolerance is what its statistics justify."""
from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import nbformat
import numpy as np
import pytest
import torch

from elbo_course import rng
from elbo_course.grading import PASSED, evaluate, get_spec, verify
from elbo_course.grading.notebook import BEGIN_HIDDEN, END_HIDDEN, is_grade_cell, nbgrader
from elbo_course.grading.specs import lesson03 as spec03
from elbo_course.toys import gradient_variance as est

ROOT = Path(__file__).resolve().parents[1]
L = "03_the_vae"


def _sample(mu, logvar, eps):
    return mu + torch.sqrt(torch.exp(logvar)) * eps


def _negative_elbo(logits, x, mu, logvar):
    log_px = (x * torch.nn.functional.logsigmoid(logits) + (1 - x) * torch.nn.functional.logsigmoid(-logits)).sum(-1)
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)),
                                           torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu)))
    return (kl.sum(-1) - log_px).mean()


def _elbo_gradient(grad_loglik, mu, log_sigma, eps):
    """Autodiff of a surrogate: (∇ℓ(z) held fixed) · z averaged over the draws, minus the closed-form KL."""
    mu, log_sigma = mu.detach().clone().requires_grad_(True), log_sigma.detach().clone().requires_grad_(True)
    z = mu + torch.exp(log_sigma) * eps
    kl = 0.5 * (mu**2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum()
    surrogate = (grad_loglik(z.detach()) * z).sum(-1).mean() - kl
    surrogate.backward()
    return torch.stack([mu.grad, log_sigma.grad])


# exercise id -> (answer name in the notebook, a right answer)
RIGHT = {
    f"{L}-reparameterized_sample": ("my_reparameterized_sample", _sample),
    f"{L}-variance_scaling": ("variance_scaling_answer", {
        "reparameterization_vs_d": "Constant", "score_function_vs_d": "d^2", "score_function_baseline_vs_d": "d",
        "reparameterization_small_sigma": "vanishes", "score_function_small_sigma": " explodes",
        "score_function_baseline_small_sigma": "constant"}),
    f"{L}-elbo_gradient": ("my_elbo_gradient", _elbo_gradient),
    f"{L}-negative_elbo": ("my_negative_elbo", _negative_elbo),
}
WRONG = [(exercise_id, k) for exercise_id in RIGHT for k in range(len(get_spec(exercise_id).wrong))]


def _notebook() -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "solutions" / f"{L}.ipynb", as_version=4)


def _hidden_block(exercise_id: str) -> str:
    cells = [c for c in _notebook().cells if is_grade_cell(c) and nbgrader(c)["grade_id"] == f"{exercise_id}-grade"]
    assert len(cells) == 1, exercise_id
    lines = cells[0].source.split("\n")
    return "\n".join(lines[lines.index(BEGIN_HIDDEN) + 1:lines.index(END_HIDDEN)])


def _run_hidden(exercise_id: str, answer) -> None:
    namespace = {"verify": verify, "torch": torch, "math": math, "np": np, "rng": rng, RIGHT[exercise_id][0]: answer}
    exec(_hidden_block(exercise_id), namespace)


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_right_answer_passes_check_and_hidden_tests(exercise_id):
    answer = RIGHT[exercise_id][1]
    result = evaluate(exercise_id, answer)
    assert result.status == PASSED, result.message
    _run_hidden(exercise_id, answer)
    spec = get_spec(exercise_id)
    assert 2 <= len(spec.wrong) <= 4 and spec.difficulty in (1, 2, 3)
    assert not any(word in spec.hint for word in ("torch", "math.", "np.", "()", "F.")), "hints are words, not code"


@pytest.mark.parametrize("exercise_id, k", WRONG)
def test_each_wrong_answer_fails_check_and_hidden_tests(exercise_id, k):
    wrong = get_spec(exercise_id).wrong[k]
    assert evaluate(exercise_id, wrong).status != PASSED
    with pytest.raises(Exception):
        _run_hidden(exercise_id, wrong)


def test_stars_ramp_up_to_a_design_task():
    assert [get_spec(e).difficulty for e in RIGHT] == [1, 2, 3, 2]


# ---------------------------------------------------------------- the ELBO-gradient tolerance

def _settings():
    """(likelihood, mu, log_sigma, S) of every statistical comparison: the check's cases and the hidden calls."""
    out = [(lik, torch.tensor(mu, dtype=torch.float64), torch.log(torch.tensor(sigma, dtype=torch.float64)), s)
           for lik, mu, sigma, s in spec03.ELBO_GRADIENT_SETTINGS]
    hidden = [(spec03.GradLogLik("flat"), [1.0, -0.5, 0.2], [1.2, 0.4, 1.0], 500),
              (spec03.GradLogLik("quadratic", [1.0, 1.0, 1.0]), [0.0, 0.5, -1.0], [0.8, 1.1, 0.6], 300_000)]
    out += [(lik, torch.tensor(mu, dtype=torch.float64), torch.log(torch.tensor(sigma, dtype=torch.float64)), s)
            for lik, mu, sigma, s in hidden]
    return out


def test_hidden_block_matches_the_settings_it_is_sized_for():
    block = _hidden_block(f"{L}-elbo_gradient")
    assert "randn(500, 3" in block and "randn(300_000, 3" in block and "1.0 - z" in block
    assert sum(2 * 3 for _ in range(block.count("verify("))) == spec03.HIDDEN_ENTRIES
    # the stored literals are the exact gradients of the two hidden settings
    assert torch.allclose(spec03.reference_elbo_gradient(*_settings()[-2][:3]),
                          torch.tensor([[-1.0, 0.5, -0.2], [-0.44, 0.84, 0.0]], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(spec03.reference_elbo_gradient(*_settings()[-1][:3]),
                          torch.tensor([[1.0, 0.0, 3.0], [-0.28, -1.42, 0.28]], dtype=torch.float64), atol=1e-12)


def test_tolerance_covers_a_closed_form_kl_estimator_at_the_family_wise_level():
    settings = _settings()
    entries = sum(2 * len(mu) for _, mu, _, _ in settings)
    assert entries == 4 * 2 * 4 + spec03.HIDDEN_ENTRIES
    z_star = NormalDist().inv_cdf(1 - spec03.ELBO_GRADIENT_ALPHA / (2 * entries))
    for lik, mu, log_sigma, s in settings:
        se = spec03.elbo_gradient_noise(lik, mu, log_sigma) / math.sqrt(s)
        assert float(se.max()) * z_star <= spec03.ELBO_GRADIENT_ATOL, (lik, float(se.max()) * z_star)


def test_the_generic_estimator_is_far_too_noisy_where_the_likelihood_is_flat():
    for lik, mu, log_sigma, s in _settings():
        if lik.kind != "flat":
            continue
        se = spec03.elbo_gradient_noise(lik, mu, log_sigma, closed_form=False) / math.sqrt(s)
        assert int((se >= spec03.ELBO_GRADIENT_ATOL).sum()) >= 4   # each such entry misses with probability > 32%
        assert float(spec03.elbo_gradient_noise(lik, mu, log_sigma).max()) < 1e-12   # the closed form: no noise


def test_reference_agrees_with_the_package_toy():
    for lik, mu, sigma, _ in spec03.ELBO_GRADIENT_SETTINGS:
        mu_np, ls_np = np.asarray(mu), np.log(np.asarray(sigma))
        theirs = est.exact_elbo_gradient(lambda z: lik(torch.from_numpy(z)).numpy(), mu_np, ls_np)
        ours = spec03.reference_elbo_gradient(lik, torch.tensor(mu_np), torch.tensor(ls_np)).numpy()
        assert np.allclose(ours, theirs, atol=1e-9)
