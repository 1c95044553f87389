"""Exercise specs of lesson ``00_start_here`` (warm-ups: a stable log-mean-exp, Jensen's inequality).

log_mean_exp   the student's log (1/K) Σ_k exp(x_k), a function (K,) -> 0-d tensor, run on stored cases
               (easy ones, then ones where exp overflows or underflows in float32); reference below.
jensen         {"larger": which of log(mean w) and mean(log w) is larger, "gap": their difference} for
               the log-weights JENSEN_LOG_W.

References are float64 NumPy, written independently of ``elbo_course.bounds``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ...runtime import rng
from ..check import register

LESSON = "00_start_here"
# Log-weights log w_k of the Jensen exercise (predict-then-check); the notebook prints the same numbers.
JENSEN_LOG_W = (-3.0, -1.0, -2.5, -0.5)


def reference_log_mean_exp(x: torch.Tensor) -> torch.Tensor:
    """log (1/K) Σ_k exp(x_k) over the K entries of x (shape (K,)) as a 0-d float64 tensor.

    Computed as m + log mean exp(x - m) with m = max x; all entries -inf gives -inf.
    """
    values = np.asarray(x.detach().cpu().numpy(), dtype=np.float64).ravel()
    m = float(values.max())
    result = m if math.isinf(m) else m + math.log(float(np.mean(np.exp(values - m))))
    return torch.tensor(result, dtype=torch.float64)


def _log_mean_exp_cases() -> list[tuple[torch.Tensor]]:
    """Inputs of shape (K,): easy ones, then ones where exp overflows or underflows in float32."""
    g = rng(f"{LESSON}:log_mean_exp_cases", seed=0)
    rows = [
        torch.tensor([0.0, 1.0, 2.0]),
        torch.tensor([5.0]),
        torch.tensor([1000.0, 1000.5, 999.0]),
        torch.tensor([-1.0e4, -1.0e4 + 2.0, -1.0e4 + 1.0, -1.0e4]),
        torch.randn(50, generator=g) * 3.0,
        torch.tensor([-float("inf"), 0.0, 1.0]),
    ]
    return [(row,) for row in rows]


def _jensen_expected() -> dict[str, object]:
    """The larger of log(mean w) and mean(log w), and the gap log mean w - mean log w >= 0."""
    log_w = np.asarray(JENSEN_LOG_W, dtype=np.float64)
    m = log_w.max()
    log_of_mean = m + math.log(float(np.mean(np.exp(log_w - m))))
    return {"larger": "log_of_mean", "gap": log_of_mean - float(log_w.mean())}


register(
    f"{LESSON}-log_mean_exp",
    difficulty=1,
    cases=_log_mean_exp_cases,
    reference=reference_log_mean_exp,
    rtol=1e-5,
    atol=1e-5,
    hint="Subtract m = x.max() before exponentiating: log mean exp(x) = m + log mean exp(x - m). "
         "Every exp(x - m) is at most 1, so nothing overflows, and the largest one is exactly 1.",
)

register(
    f"{LESSON}-jensen",
    difficulty=1,
    expected=_jensen_expected,
    rtol=1e-6,
    atol=1e-6,
    hint="log is concave, so Jensen's inequality says mean(log w) <= log(mean w). "
         "Answer {'larger': 'log_of_mean' or 'mean_of_log', 'gap': log(mean w) - mean(log w)}; "
         "compute log(mean w) from log_w with elbo_course.bounds.log_mean_exp.",
)
