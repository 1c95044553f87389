"""Exercise specs of lesson ``06_mnist_decomposition`` (ELBO surgery on MNIST VAEs).

Every expected value is read from the stored full-budget run ``results/surgery.json`` (d = 10 model) and the
grade cells store the same numbers as literals:

* ``aggregate_prior_elbo``: the training-set ELBO of the d = 10 model with its prior replaced by q(z) itself,
  encoder and decoder unchanged. Only term ③ involves the prior and KL(q(z) ‖ q(z)) = 0, so it is
  avg_recon - I(n; z). The other route, elbo + marginal_kl, differs by the identity residual (-0.053 ± 0.034
  nats, Monte Carlo noise), so the tolerance is atol = 0.12 nats (3.5 se of the residual), far below the
  typical mistakes (the marginal KL, 9.0 nats, added with the wrong sign or not at all) and small enough
  that the diagnosis tells "off by the marginal KL" (9.01) from "off by I(n; z)" (10.92).
* ``slice_kl_bound``: the lower bounds on the marginal KL that avg KL = I + KL(q(z) ‖ p(z)) and
  I ≤ log N give: for the slice of the first N_s = 1,000 fixed-binarized training images,
  avg_kl_first_1000 - log 1000; for all N = 60,000, avg_kl - log 60000. atol = 1e-3 nats covers an
  average KL computed from float32 encodings.
* ``samples_for_se``: how many draws M' would bring the stored d = 10 marginal-KL standard error to
  0.01 nats; se ∝ 1/√M, so M' = M (se / 0.01)² (rtol 1%: the stored se rounded to 3 digits, 0.0340,
  gives 0.3% less).
"""
from __future__ import annotations

import math

from ..check import register

LESSON = "06_mnist_decomposition"
N_TRAIN = 60_000
N_SLICE = 1_000
TARGET_SE = 0.01


def _stored() -> tuple[dict, dict]:
    """(the stored full-budget results, its d = 10 model entry)."""
    from ...experiments import load_results

    results = load_results("surgery", "full")
    return results, next(m for m in results["models"] if m["latent_dim"] == 10)


def _aggregate_prior_elbo() -> float:
    """avg_recon - I(n; z) of the stored d = 10 model: the ELBO with p(z) = q(z)."""
    entry = _stored()[1]
    return entry["avg_recon"] - entry["mutual_info"]


def _slice_kl_bound() -> dict[str, float]:
    """Lower bounds avg KL - log N on KL(q(z) ‖ p(z)), for the 1,000-image slice and for all 60,000 images."""
    entry = _stored()[1]
    return {"slice": entry["avg_kl_first_1000"] - math.log(N_SLICE), "full": entry["avg_kl"] - math.log(N_TRAIN)}


def _samples_for_se() -> float:
    """M (se / 0.01)² for the stored d = 10 model: the draws needed for a 0.01-nat standard error."""
    results, entry = _stored()
    return results["config"]["eval_samples"] * (entry["marginal_kl_se"] / TARGET_SE) ** 2


# Typical wrong answers, as the stored d = 10 numbers give them (the tests check that they are rejected).
_D10 = {"avg_recon": -72.10843862659931, "mutual_info": 10.919394097359628, "marginal_kl": 9.012600427341644,
        "elbo": -91.98717514657153, "avg_kl": 19.87873651997223, "avg_kl_first_1000": 19.79123752436301,
        "marginal_kl_se": 0.034046456409704585, "eval_samples": 10_000}
_SLICE, _FULL = _D10["avg_kl_first_1000"], _D10["avg_kl"]

register(
    f"{LESSON}-aggregate_prior_elbo",
    answer="aggregate_prior_elbo",
    difficulty=1,
    expected=_aggregate_prior_elbo,
    rtol=0.0,
    atol=0.12,
    wrong=[_D10["elbo"], _D10["elbo"] - _D10["marginal_kl"], _D10["avg_recon"]],
    offsets={"the marginal KL": _D10["marginal_kl"], "I(n; z)": _D10["mutual_info"]},
    hint="Write the ELBO as ① average reconstruction − ② I(n; z) − ③ KL(q(z) ‖ p(z)). Which of the three "
         "terms change when only the prior changes, and what is a KL divergence from a distribution to itself?",
)

register(
    f"{LESSON}-slice_kl_bound",
    answer="slice_kl_bound",
    difficulty=2,
    expected=_slice_kl_bound,
    rtol=0.0,
    atol=1e-3,
    wrong=[{"slice": _SLICE, "full": _FULL},
           {"slice": _SLICE - math.log(N_TRAIN), "full": _FULL - math.log(N_TRAIN)},
           {"slice": _SLICE - math.log(N_SLICE), "full": _FULL - math.log(N_SLICE)},
           {"slice": math.log(N_SLICE) - _SLICE, "full": math.log(N_TRAIN) - _FULL}],
    offsets={"log N_s = log 1000": math.log(N_SLICE), "log N = log 60000": math.log(N_TRAIN),
             "log (N / N_s) = log 60": math.log(N_TRAIN / N_SLICE)},
    hint="The identity holds for any finite data set: its average KL = I(n; z) + KL(q(z) ‖ p(z)), with n uniform "
         "on that set's own N images, so I(n; z) ≤ log N for that N. The average KL of the slice is the mean over "
         "its 1,000 images of ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1); the full set's is in the stored table.",
)

register(
    f"{LESSON}-samples_for_se",
    answer="samples_needed",
    difficulty=1,
    expected=_samples_for_se,
    rtol=0.01,
    atol=1.0,
    wrong=[_D10["eval_samples"] * _D10["marginal_kl_se"] / TARGET_SE,
           _D10["eval_samples"] * (TARGET_SE / _D10["marginal_kl_se"]) ** 2,
           _D10["eval_samples"] * (_D10["marginal_kl_se"] / TARGET_SE) ** 2 - _D10["eval_samples"]],
    hint="A Monte Carlo standard error is s / √M, where the spread s of the terms is fixed by the model: to "
         "divide the error by c you need c² times as many draws.",
)
