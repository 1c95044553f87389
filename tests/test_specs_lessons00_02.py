"""The exercise specs of lessons 00-02: a right answer passes, every listed wrong answer fails, both in
``check`` (``evaluate``) and in the grade cell's hidden ``verify`` lines; and the stored MNIST value of
exercise 0.1 is what the data give."""
from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch

from elbo_course.distributions import DiagonalGaussian
from elbo_course.grading import evaluate, get_spec, verify
from elbo_course.grading.notebook import BEGIN_HIDDEN, END_HIDDEN, is_grade_cell, nbgrader
from elbo_course.toys.linear_gaussian import LinearGaussian

ROOT = Path(__file__).resolve().parents[1]
L00, L01, L02 = "00_start_here", "01_jensen_and_the_elbo", "02_three_readings_of_the_elbo"


def _toy_elbo(x: float, q_mean: float, q_std: float) -> float:
    return float(LinearGaussian().elbo(x, q_mean, q_std**2))


def _kl(mu_q, logvar_q, mu_p, logvar_p):
    return DiagonalGaussian(mu_q, logvar_q).kl(DiagonalGaussian(mu_p, logvar_p))


def _mc_elbo(x: float, q_mean: float, q_std: float, eps: torch.Tensor) -> tuple[float, float]:
    z = q_mean + q_std * eps
    q = DiagonalGaussian(torch.tensor([q_mean], dtype=torch.float64), torch.tensor([2 * math.log(q_std)], dtype=torch.float64))
    log_w = LinearGaussian().log_joint(x, z) - q.log_prob(z[:, None])
    return float(log_w.mean()), float(log_w.std() / math.sqrt(len(eps)))


# exercise id -> (answer name in the notebook, a right answer computed another way than the spec's reference)
RIGHT = {
    f"{L00}-pixel_baseline": ("pixel_baseline_nats", -199.972109),
    f"{L00}-jensen": ("jensen_answer", {"larger": "log_of_mean",
                                        "gap": math.log(sum(math.exp(v) for v in (-3.0, -1.0, -2.5, -0.5)) / 4) + 1.75}),
    f"{L01}-uniform_gap": ("uniform_gap_answer", math.log(2.0) - (1.5 * math.log(3.0) - 1.0)),
    f"{L01}-toy_elbo": ("toy_elbo", _toy_elbo),
    f"{L02}-kl_diag_gaussians": ("kl_diag_gaussians", _kl),
    f"{L02}-mc_elbo": ("mc_elbo", _mc_elbo),
    f"{L02}-prior_change": ("prior_change_answer", {"log_evidence": True, "kl_to_posterior": True,
                                                    "expected_log_joint": True, "entropy": False,
                                                    "expected_log_likelihood": False, "kl_to_prior": True}),
}
WRONG = [(exercise_id, k) for exercise_id in RIGHT for k in range(len(get_spec(exercise_id).wrong))]


def _hidden_block(exercise_id: str) -> str:
    """The hidden-test lines of the exercise's grade cell in its solution notebook."""
    lesson = exercise_id.split("-")[0]
    nb = nbformat.read(ROOT / "solutions" / f"{lesson}.ipynb", as_version=4)
    cells = [c for c in nb.cells if is_grade_cell(c) and nbgrader(c)["grade_id"] == f"{exercise_id}-grade"]
    assert len(cells) == 1, exercise_id
    lines = cells[0].source.split("\n")
    return "\n".join(lines[lines.index(BEGIN_HIDDEN) + 1:lines.index(END_HIDDEN)])


def _run_hidden(exercise_id: str, answer) -> None:
    name = RIGHT[exercise_id][0]
    exec(_hidden_block(exercise_id), {"verify": verify, "torch": torch, "math": math, name: answer})


@pytest.mark.parametrize("exercise_id", list(RIGHT))
def test_right_answer_passes_check_and_hidden_tests(exercise_id):
    answer = RIGHT[exercise_id][1]
    result = evaluate(exercise_id, answer)
    assert result.status == "passed", result.message
    _run_hidden(exercise_id, answer)
    spec = get_spec(exercise_id)
    assert 2 <= len(spec.wrong) <= 4 and spec.difficulty in (1, 2, 3)
    assert not any(word in spec.hint for word in ("torch.", "math.", "np.", "()")), "hints are words, not code"


@pytest.mark.parametrize("exercise_id, k", WRONG)
def test_each_wrong_answer_fails_check_and_hidden_tests(exercise_id, k):
    wrong = get_spec(exercise_id).wrong[k]
    result = evaluate(exercise_id, wrong)
    assert result.status == "failed", result.message
    with pytest.raises(AssertionError):
        _run_hidden(exercise_id, wrong)


def test_value_feedback_never_states_the_expected_value():
    for exercise_id in (f"{L00}-pixel_baseline", f"{L01}-uniform_gap"):
        expected = get_spec(exercise_id).expected_value()
        for wrong in get_spec(exercise_id).wrong:
            message = evaluate(exercise_id, wrong).message
            assert f"{expected:.4g}" not in message and f"{expected:.3f}" not in message


def test_jensen_off_by_log_k_is_named():
    wrong = get_spec(f"{L00}-jensen").wrong[2]
    assert "log K" in evaluate(f"{L00}-jensen", wrong).message


def test_pixel_baseline_matches_the_data():
    """The stored value is Σ_i log p(x_i) averaged over the first 1,000 fixed-binarized test images, with
    p_i the mean grey training image and 0·log 0 = 0 (skipped when MNIST is not downloaded)."""
    from elbo_course.grading.specs.lesson00 import PIXEL_BASELINE_NATS
    data = pytest.importorskip("elbo_course.data")
    try:
        x_train, _ = data.load_mnist("train")
        x_test = data.fixed_test_subset(1000).double()
    except (FileNotFoundError, OSError, RuntimeError) as err:
        pytest.skip(f"MNIST not available: {err}")
    probs = x_train.double().mean(dim=0)
    log_lik = (torch.xlogy(x_test, probs) + torch.xlogy(1 - x_test, 1 - probs)).sum(dim=1)
    assert int((probs == 0).sum()) > 0  # the 0 · log 0 trap is real
    assert bool(torch.isfinite(log_lik).all())
    assert math.isclose(float(log_lik.mean()), PIXEL_BASELINE_NATS, rel_tol=1e-12)
