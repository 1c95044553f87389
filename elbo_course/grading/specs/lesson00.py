"""Exercise specs of lesson ``00_start_here`` (warm-ups: a first log-likelihood on MNIST, Jensen's inequality).

pixel_baseline  the average log-likelihood, in nats per image, of the first 1,000 fixed-binarized test
                images under independent Bernoulli pixels whose probabilities are the mean grey training
                image (no clipping, no smoothing; 67 pixels have p = 0, and no test image of the 1,000 has
                ink there, so the value is finite). A spec loads no MNIST: the value is stored below
                (PIXEL_BASELINE_NATS) and tests/test_specs_lessons00_02.py recomputes it from the data.
jensen          {"larger": which of log(mean w) and mean(log w) is larger, "gap": their difference} for
                the log-weights JENSEN_LOG_W.

References are float64 NumPy, written independently of ``elbo_course.bounds``.
"""
from __future__ import annotations

import math

import numpy as np

from ..check import register

LESSON = "00_start_here"
N_TEST_IMAGES = 1_000
# Σ_i log p(x_i) averaged over the first 1,000 fixed-binarized test images, p_i = mean grey training image,
# computed in float64 with 0·log 0 = 0 (nats per image).
PIXEL_BASELINE_NATS = -199.97210937567368
# Log-weights log w_k of the Jensen exercise (predict-then-check); the notebook prints the same numbers.
JENSEN_LOG_W = (-3.0, -1.0, -2.5, -0.5)


def _pixel_baseline_wrong() -> list[float]:
    """The sign flipped, the same number in bits, the per-pixel mean, and probabilities clipped to [1e-3, 1-1e-3]."""
    return [-PIXEL_BASELINE_NATS, PIXEL_BASELINE_NATS / math.log(2.0), PIXEL_BASELINE_NATS / 784,
            -200.14314896524024]


def _jensen_parts() -> tuple[float, float, float]:
    """(log of the mean of w, mean of log w, mean of w) for w = exp(JENSEN_LOG_W), float64."""
    log_w = np.asarray(JENSEN_LOG_W, dtype=np.float64)
    m = float(log_w.max())
    return m + math.log(float(np.mean(np.exp(log_w - m)))), float(log_w.mean()), float(np.mean(np.exp(log_w)))


def _jensen_expected() -> dict[str, object]:
    """The larger of log(mean w) and mean(log w), and the gap log mean w - mean log w >= 0."""
    log_of_mean, mean_of_log, _ = _jensen_parts()
    return {"larger": "log_of_mean", "gap": log_of_mean - mean_of_log}


def _jensen_wrong() -> list[dict[str, object]]:
    """The gap with its sign flipped, zero, off by log K (log of the sum, not the mean), and in w-space."""
    log_of_mean, mean_of_log, mean_w = _jensen_parts()
    gap, k = log_of_mean - mean_of_log, len(JENSEN_LOG_W)
    return [{"larger": "mean_of_log", "gap": -gap},
            {"larger": "log_of_mean", "gap": 0.0},
            {"larger": "log_of_mean", "gap": gap + math.log(k)},
            {"larger": "log_of_mean", "gap": mean_w - math.exp(mean_of_log)}]


register(
    f"{LESSON}-pixel_baseline",
    answer="pixel_baseline_nats",
    difficulty=2,
    expected=PIXEL_BASELINE_NATS,
    rtol=1e-6,
    atol=1e-6,
    wrong=_pixel_baseline_wrong(),
    hint="log p(x) = Σ_i [x_i log p_i + (1 - x_i) log(1 - p_i)]: sum over the 784 pixels of each image, then "
         "average over the 1,000 images; natural logs, no clipping. A pixel that is never inked in training has "
         "p_i = 0; when it is off its term is 0 · log 0, whose limit is 0, but floating point computes "
         "0 · (-∞) = nan. Take, for each pixel, the probability of the value it actually has (p_i when on, "
         "1 - p_i when off) and only then the log.",
)

register(
    f"{LESSON}-jensen",
    answer="jensen_answer",
    difficulty=1,
    expected=_jensen_expected,
    rtol=1e-6,
    atol=1e-6,
    wrong=_jensen_wrong(),
    offsets={"log K": math.log(len(JENSEN_LOG_W))},
    hint="log is concave, so Jensen's inequality orders the two summaries. The gap is "
         "log((1/K) Σ_k w_k) - (1/K) Σ_k log w_k with K = 4: an average inside the log (not a sum), and the "
         "average of the logs is the plain mean of the four given numbers.",
)
