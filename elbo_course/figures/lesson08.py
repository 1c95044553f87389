"""Figures of lesson 08 (rate, distortion and β), drawn from the stored results of
``python -m elbo_course.experiments rate_distortion``; nothing here trains or evaluates a model.

    lower_hull(points)                 the lower convex hull of (R, D) points, left to right
    plot_rate_distortion(points, ...)  the (R, D) plane: the sweep, its hull, the line R + D = -ELBO(β = 1)
    plot_information(points, ...)      R, I(n; z) and the marginal KL against β, with log N
    plot_mutual_info_interval(...)     the interval [max(0, H - D), R] that holds I(X; Z), per β
"""
from __future__ import annotations

from typing import Any

from . import COLORS, FONT, finish, new_figure


def lower_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The lower convex hull of (x, y) points (monotone chain), sorted by x: the vertices an upper bound on a
    convex, decreasing D(R) can use."""
    hull: list[tuple[float, float]] = []
    for p in sorted(set(points)):
        while len(hull) >= 2 and _cross(hull[-2], hull[-1], p) <= 0:
            hull.pop()
        hull.append(p)
    return hull


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def plot_rate_distortion(points: list[dict[str, Any]], zero_rate: float, published: dict[str, tuple] | None = None):
    """Distortion against rate (nats) for every β, the lower convex hull, the line R + D = -ELBO of the β = 1
    point and the rate-0 distortion ``zero_rate`` of a factorized decoder (Σ_i H_b(p̄_i)). Returns the Figure."""
    fig, ax = new_figure(7.5, 4)
    rates, dists = [p["rate"] for p in points], [p["distortion"] for p in points]
    ax.plot(rates, dists, "o", color=COLORS["q"], label="β-VAE, d = 20 (training set)")
    for p in points:
        ax.annotate(f"β = {p['beta']:g}", (p["rate"], p["distortion"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=FONT)
    hull = lower_hull(list(zip(rates, dists)))
    ax.plot(*zip(*hull), color=COLORS["q"], lw=1, alpha=0.6, label="lower convex hull (bounds D(R) from above)")
    one = next((p for p in points if p["beta"] == 1.0), None)
    if one is not None:
        total = one["rate"] + one["distortion"]
        ax.plot([0, total], [total, 0], ls="--", color=COLORS["gap"], lw=1,
                label=f"R + D = {total:.1f} (-ELBO of β = 1)")
    ax.axhline(zero_rate, color=COLORS["prior"], ls=":", label=f"rate 0: Σ H_b(p̄_i) = {zero_rate:.1f}")
    for label, (rate, dist) in (published or {}).items():
        ax.plot([rate], [dist], "D", mfc="none", color="black", label=label)
    ax.set(xlabel="rate R = average KL (nats)", ylabel="distortion D = -reconstruction (nats)",
           xlim=(-5, max(rates) * 1.1 + 5), ylim=(0, max(max(dists), zero_rate) * 1.1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT, loc="upper right")
    fig.suptitle("Rate against distortion: many (R, D) pairs, one β each")
    fig.tight_layout()
    return finish(fig)


def plot_information(points: list[dict[str, Any]], log_n: float):
    """R, I(n; z) and the marginal KL (nats, ± 2 se) against β on a log axis, with the ceiling log N."""
    fig, ax = new_figure(7.5, 3.6)
    betas = [p["beta"] for p in points]
    ax.plot(betas, [p["rate"] for p in points], "o-", color=COLORS["q"], label="rate R = average KL")
    for key, colour, label in (("mutual_info", COLORS["mi"], "I(n; z)"), ("marginal_kl", COLORS["mkl"], "marginal KL")):
        ax.errorbar(betas, [p[key] for p in points], yerr=[2 * p[f"{key}_se"] for p in points], fmt="s-",
                    color=colour, capsize=3, label=label)
    ax.axhline(log_n, color="black", ls=":", label=f"log N = {log_n:.2f}")
    ax.set(xscale="log", xlabel="β", ylabel="nats (log scale above 1)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(0.0, 1.5 * max(max(p["rate"] for p in points), log_n))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT)
    fig.suptitle("The rate split into the index-code information and the marginal KL, against β")
    fig.tight_layout()
    return finish(fig)


def plot_mutual_info_interval(points: list[dict[str, Any]], entropy: float):
    """For each β the interval [max(0, H - D), R] that must contain I(X; Z) (Alemi et al.), on a log-β axis."""
    fig, ax = new_figure(7.5, 3.4)
    for p in points:
        low = max(0.0, entropy - p["distortion"])
        colour = COLORS["q"] if low > 0 else COLORS["prior"]
        ax.plot([p["beta"]] * 2, [low, p["rate"]], color=colour, lw=4, solid_capstyle="butt")
    ax.plot([], [], color=COLORS["q"], lw=4, label="D < H: the lower end H - D is a real bound")
    ax.plot([], [], color=COLORS["prior"], lw=4, label="D ≥ H: only 0 ≤ I(X; Z) ≤ R")
    ax.set(xscale="log", xlabel="β", ylabel="I(X; Z) lies in the bar (nats)")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(0.0, 1.5 * max(p["rate"] for p in points) + 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT)
    fig.suptitle(f"H - D ≤ I(X; Z) ≤ R, with H(X) = {entropy:.2f} nats")
    fig.tight_layout()
    return finish(fig)
