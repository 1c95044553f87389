"""Lesson 02 (three readings of the ELBO): the readings as bars and the Monte Carlo convergence figure.

    plot_readings(terms, elbo)        one panel per reading: its two terms and their sum (nats)
    plot_mc_convergence(rows, exact)  estimates ± 2 se against M, and their error bars shrinking like 1/√M

The numbers come from ``toys.linear_gaussian`` (``LinearGaussian``, ``mc_elbo_dataset``).
"""
from __future__ import annotations

import math

import torch

from . import COLORS, FONT, finish, new_figure

__all__ = ["plot_readings", "plot_mc_convergence"]


def plot_readings(terms: dict[str, tuple[str, float, str, float]], elbo: float):
    """One panel per reading: its two terms as bars (nats) and the sum, with the common ELBO as a line.

    ``terms`` maps a reading's title to (label1, value1, label2, value2); the reading is value1 + value2.
    Returns the Figure.
    """
    fig, axes = new_figure(8.0, 3.4, 1, len(terms), sharey=True, layout="constrained")
    for ax, (title, (l1, v1, l2, v2)) in zip(axes, terms.items()):
        ax.bar([0, 1, 2], [v1, v2, v1 + v2], color=["tab:grey", COLORS["second"], COLORS["q"]])
        ax.axhline(elbo, color=COLORS["gap"], ls=":", lw=1.5, label=f"ELBO = {elbo:.3f} (every panel)")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks([0, 1, 2], [l1, l2, "sum"], fontsize=FONT, rotation=20)
        ax.set_title(title, fontsize=FONT)
    axes[0].set_ylabel("nats")
    axes[0].legend(loc="lower left", fontsize=FONT, frameon=False)
    fig.suptitle("Three readings, three pairs of terms, one ELBO")
    return finish(fig)


def plot_mc_convergence(rows: list[dict], exact: float):
    """Left: estimates ± 2 se against M (log x) with the exact ELBO. Right: se and |error| against M,
    log-log, with a c/sqrt(M) reference line. ``rows``: dicts with m, and (mean, se) per estimator key
    ("full_mc", "closed_kl"). Returns the Figure."""
    fig, (ax, ax2) = new_figure(8.0, 3.6, 1, 2, layout="constrained")
    ms = torch.tensor([r["m"] for r in rows], dtype=torch.float64)
    for key, color, shift in (("full_mc", COLORS["q"], 0.94), ("closed_kl", COLORS["second"], 1.06)):
        mean = [r[key][0] for r in rows]
        se = torch.tensor([r[key][1] for r in rows])
        ax.errorbar(ms * shift, mean, yerr=2 * se, fmt="o", color=color, capsize=3, label=f"{key} ± 2 se")
        ax2.loglog(ms, se, "-o", color=color, label=f"{key}: se")
        ax2.loglog(ms, [abs(m_ - exact) for m_ in mean], "x", color=color, label=f"{key}: |error|")
    ax.axhline(exact, color="black", lw=1, label="exact ELBO")
    ax.set(xscale="log", xlabel="Monte Carlo samples M", ylabel="nats per data point", title="estimates")
    ax.legend(fontsize=FONT, frameon=False)
    c = rows[0]["full_mc"][1] * math.sqrt(rows[0]["m"])
    ax2.loglog(ms, c / ms.sqrt(), ":", color="grey", label="∝ 1/√M")
    ax2.set(xlabel="Monte Carlo samples M", ylabel="nats", title="error bars shrink like 1/√M")
    ax2.legend(fontsize=FONT, frameon=False, ncol=2)
    return finish(fig)
