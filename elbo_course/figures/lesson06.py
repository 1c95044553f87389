"""Figures of lesson 06 (the decomposition on MNIST), drawn from the stored results of
``python -m elbo_course.experiments surgery``; nothing here trains or evaluates a model.

    plot_terms(models)                  avg KL = I + marginal KL against d, and ELBO / reconstruction
    density_grid(mu, logvar)            log q(z) and log p(z) on a grid (d = 2) for ``plot_holes``
    plot_holes(axis, log_q, log_p)      p(z), q(z) and log q(z)/p(z), with the "holes" q < p/10 outlined
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ..distributions import standard_normal_log_prob
from . import FONT, MAX_SIZE, finish
from ..experiments.surgery import published_rows
from ..surgery import aggregate_log_density


def _figure(fig, width: float, height: float):
    """``fig`` (e.g. ``plt.figure()`` in a notebook, so that it displays inline) resized, or a new Figure;
    at most ``MAX_SIZE``."""
    from matplotlib.figure import Figure

    width, height = min(width, MAX_SIZE[0]), min(height, MAX_SIZE[1])
    if fig is None:
        return Figure(figsize=(width, height))
    fig.set_size_inches(width, height)
    return fig


def plot_terms(models: list[dict[str, Any]], show_published: bool = True, fig=None):
    """Figure: left, avg KL = I + marginal KL against d (with ±2 se bars and log N); right, ELBO and
    avg reconstruction against d. Hollow markers: Hoffman & Johnson (2016, unverified). Returns the Figure
    (drawn into ``fig`` when given)."""
    ds = [m["latent_dim"] for m in models]
    fig = _figure(fig, 8, 4)
    left, right = fig.subplots(1, 2)
    for key, colour, label in (("avg_kl", "C0", "average KL"), ("mutual_info", "C1", "index-code MI  I(n; z)"),
                               ("marginal_kl", "C2", "marginal KL(q(z) ‖ p(z))")):
        err = [2 * m.get(f"{key}_se", 0.0) for m in models]
        left.errorbar(ds, [m[key] for m in models], yerr=err, marker="o", color=colour, label=label, capsize=3)
    left.axhline(models[0]["log_n"], color="grey", ls="--", lw=1, label=f"log N = {models[0]['log_n']:.4f}")
    right.errorbar(ds, [m["elbo"] for m in models], yerr=[2 * m["elbo_se"] for m in models], marker="o",
                   color="C3", label="ELBO", capsize=3)
    right.plot(ds, [m["avg_recon"] for m in models], marker="s", color="C4", label="average reconstruction")
    if show_published:
        rows = {r["d"]: r for r in published_rows()}
        pd = [d for d in ds if d in rows]
        for key, colour in (("avg_kl", "C0"), ("mutual_info", "C1"), ("marginal_kl", "C2")):
            left.plot(pd, [rows[d][key] for d in pd], ls="none", marker="D", mfc="none", color=colour)
        right.plot(pd, [rows[d]["elbo"] for d in pd], ls="none", marker="D", mfc="none", color="C3",
                   label="ELBO, H&J 2016 (unverified)")
        left.plot([], [], ls="none", marker="D", mfc="none", color="k", label="H&J 2016 (unverified)")
    for ax, title in ((left, "KL terms (nats)"), (right, "ELBO and reconstruction (nats)")):
        ax.set_xticks(ds)
        ax.set_xlabel("latent dimension d")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=FONT)
        ax.legend(fontsize=FONT)
    fig.suptitle("I(n; z) stops just below log N; the rest of the average KL, the marginal KL, grows with d")
    fig.tight_layout()
    return finish(fig)


def density_grid(mu: Tensor, logvar: Tensor, limit: float = 4.0, steps: int = 101
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """log q(z) and log p(z) on a steps × steps grid over [-limit, limit]² (d = 2 only).

    Returns (axis (steps,), log_q (steps, steps), log_p (steps, steps)) in float64, rows indexed by z_2
    and columns by z_1 (ready for ``imshow(origin="lower")``).
    """
    if mu.shape[1] != 2:
        raise ValueError(f"density_grid draws a 2-D picture; the model has d = {mu.shape[1]}.")
    axis = torch.linspace(-limit, limit, steps, dtype=torch.float64)
    z2, z1 = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
    log_q = aggregate_log_density(grid, mu, logvar).reshape(steps, steps)
    log_p = standard_normal_log_prob(grid).reshape(steps, steps)
    return axis, log_q, log_p


def plot_holes(axis: Tensor, log_q: Tensor, log_p: Tensor, ratio_limit: float = 4.0, radius: float = 3.0,
               fig=None):
    """Three heat maps on the ``density_grid`` output: p(z), q(z) (same colour scale, capped at 1.5 times
    the prior's peak) and log q(z)/p(z).

    The last panel is clipped to ±ratio_limit nats and shown only inside |z| < radius, where the prior has
    its mass (99% of it for radius 3); the black contour marks q(z) = p(z)/10, the edge of a "hole" (a
    region the prior favours but hardly any training image is encoded into). Returns the Figure (drawn
    into ``fig`` when given).
    """
    lim = float(axis[-1])
    extent = [-lim, lim, -lim, lim]
    fig = _figure(fig, 8, 3.2)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 3)
    vmax = 1.5 * float(log_p.max().exp())  # shared scale; q's sharpest ridges saturate (colour bar arrow)
    for ax, log_density, title in ((axes[0], log_p, "prior p(z) = N(0, I)"),
                                   (axes[1], log_q, "aggregate q(z)")):
        image = ax.imshow(log_density.exp().numpy(), origin="lower", extent=extent, vmin=0.0, vmax=vmax,
                          cmap="viridis")
        ax.set_title(title)
    fig.colorbar(image, ax=axes[1], label="density", extend="max", shrink=0.8)
    inside = log_p >= log_p.max() - 0.5 * radius**2  # |z| <= radius
    ratio = torch.where(inside, (log_q - log_p).clamp(-ratio_limit, ratio_limit), torch.nan).numpy()
    image = axes[2].imshow(ratio, origin="lower", extent=extent, cmap="RdBu_r", vmin=-ratio_limit,
                           vmax=ratio_limit)
    axes[2].contour(axis.numpy(), axis.numpy(), torch.where(inside, log_q - log_p, torch.nan).numpy(),
                    levels=[-math.log(10.0)], colors="k", linewidths=1.0)
    axes[2].set_title("log q(z)/p(z)\n(black: q = p/10)")
    fig.suptitle("The aggregate posterior leaves thin channels where the prior has mass")
    fig.colorbar(image, ax=axes[2], label="nats", shrink=0.8)
    for ax in axes:
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
        ax.tick_params(labelsize=FONT)
    return finish(fig)
