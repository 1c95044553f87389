"""Exercise specs of lesson ``00_start_here`` (warm-ups: a stable log-mean-exp, Jensen's inequality).

References are written independently of ``elbo_course.bounds`` (float64 NumPy), so each check is a
second implementation, not the same code run twice.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from elbo_course.grading import register

# Log-weights log w_k of the Jensen exercise (predict-then-check); the notebook prints the same numbers.
JENSEN_LOG_W = (-3.0, -1.0, -2.5, -0.5)


def reference_log_mean_exp(x: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k exp(x_k) over the K entries of x (shape (K,)) as a 0-d float64 tensor.

    Computed as m + log mean exp(x - m) with m = max x; all entries -inf gives -inf.
    """
    values = np.asarray(x.detach().cpu().numpy(), dtype=np.float64).ravel()
    m = float(values.max())
    result = m if math.isinf(m) else m + math.log(float(np.mean(np.exp(values - m))))
    return torch.tensor(result, dtype=torch.float64)


def _log_mean_exp_cases() -> list[tuple[torch.Tensor]]:
    """Inputs of shape (K,): easy ones, then ones where exp overflows or underflows in float32."""
    g = torch.Generator().manual_seed(0)
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
    "00_start_here.log_mean_exp",
    difficulty=1,
    cases=_log_mean_exp_cases,
    reference=reference_log_mean_exp,
    rtol=1e-5,
    atol=1e-5,
    hint="Subtract m = x.max() before exponentiating: log mean exp(x) = m + log mean exp(x - m). "
         "Every exp(x - m) is at most 1, so nothing overflows, and the largest one is exactly 1.",
)

register(
    "00_start_here.jensen",
    difficulty=1,
    expected=_jensen_expected,
    rtol=1e-6,
    atol=1e-6,
    hint="log is concave, so Jensen's inequality says mean(log w) <= log(mean w). "
         "Answer {'larger': 'log_of_mean' or 'mean_of_log', 'gap': log(mean w) - mean(log w)}; "
         "compute log(mean w) from log_w with elbo_course.bounds.log_mean_exp.",
)
