"""Figures of lesson 07 (learned priors), drawn from the stored models of ``python -m elbo_course.experiments
priors``; nothing here trains a model, and nothing drawn here is asserted on by the notebook.

    plot_digits(rows, labels)               rows of 28 × 28 images (pseudo-inputs, decoded samples)
    prior_grids(models, x)                  log p(z) and log q(z) on a grid per d = 2 model (its own box)
    plot_priors_vs_aggregate(grids)         each prior's density above its log q(z)/p(z), holes outlined
    plot_gains(rows)                        the paired test log-likelihood gains with ±2 se error bars
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from . import COLORS, FONT, finish, new_figure
from ..models import VAE, encode_dataset
from ..surgery import aggregate_log_density


def plot_digits(rows: list[Tensor], labels: list[str], title: str, columns: int = 12):
    """One row of images per tensor of ``rows`` ((n, 784) values in [0, 1], the first ``columns`` shown),
    labelled on the left by ``labels``. Returns the Figure."""
    if len(rows) != len(labels):
        raise ValueError(f"give one label per row: {len(rows)} rows, {len(labels)} labels.")
    fig, axes = new_figure(7.5, min(4.0, 0.72 * len(rows) + 0.5), len(rows), columns, squeeze=False)
    for r, (images, label) in enumerate(zip(rows, labels)):
        for c in range(columns):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < images.shape[0]:
                ax.imshow(images[c].detach().reshape(28, 28).numpy(), cmap="gray_r", vmin=0.0, vmax=1.0)
        axes[r][0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=FONT)
    fig.suptitle(title)
    fig.subplots_adjust(left=0.16, right=0.99, bottom=0.02, top=0.86, wspace=0.05, hspace=0.08)
    return finish(fig)


@torch.no_grad()
def prior_grids(models: dict[str, VAE], x: Tensor, steps: int = 101, coverage: float = 0.99,
                generator: torch.Generator | None = None) -> dict[str, tuple[Tensor, Tensor, Tensor, Tensor]]:
    """For each d = 2 model: (axis_1 (steps,), axis_2 (steps,), log q(z), log p(z)), the last two (steps, steps)
    float64 with rows indexed by z_2; q(z) is the aggregate posterior of the images x (N, 784), p(z) the model's
    prior. A learned prior fixes no scale, so each model gets its own box: per axis the central ``coverage``
    of the encoder means and of 20,000 prior draws, widened by 10% on each side."""
    out = {}
    for label, model in models.items():
        if model.latent_dim != 2:
            raise ValueError(f"prior_grids draws 2-D pictures; model {label!r} has d = {model.latent_dim}.")
        mu, logvar = encode_dataset(model, x)
        points = torch.cat([mu, model.prior.sample(20_000, generator)]).double()
        tail = (1 - coverage) / 2
        low, high = torch.quantile(points, torch.tensor([tail, 1 - tail], dtype=torch.float64), dim=0)
        pad = 0.1 * (high - low)
        axes = [torch.linspace(float(low[i] - pad[i]), float(high[i] + pad[i]), steps, dtype=torch.float64)
                for i in range(2)]
        z2, z1 = torch.meshgrid(axes[1], axes[0], indexing="ij")
        grid = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
        log_q = aggregate_log_density(grid, mu, logvar).reshape(steps, steps)
        log_p = model.prior.log_prob(grid.float()).double().reshape(steps, steps)
        out[label] = (axes[0], axes[1], log_q, log_p)
    return out


def plot_priors_vs_aggregate(grids: dict[str, tuple[Tensor, Tensor, Tensor, Tensor]], ratio_limit: float = 4.0,
                             depth: float = 10.0):
    """Top row: each prior's log density, log p(z) - max log p over its top ``depth`` nats (the boxes differ in
    size, so each panel is relative to its own peak); bottom row:
    log q(z)/p(z) clipped to ±ratio_limit nats, with the black contour q(z) = p(z)/10 (the holes of lesson 06),
    shown where p(z) holds its mass (the highest-density region with 99% of the grid's prior mass)."""
    fig, axes = new_figure(8, 4, 2, len(grids), squeeze=False)
    for c, (label, (axis_1, axis_2, log_q, log_p)) in enumerate(grids.items()):
        extent = [float(axis_1[0]), float(axis_1[-1]), float(axis_2[0]), float(axis_2[-1])]
        top = float(log_p.max())
        shade = axes[0][c].imshow((log_p - top).clamp_min(-depth).numpy(), origin="lower", extent=extent,
                                  cmap="viridis", vmin=-depth, vmax=0.0, aspect="auto")
        axes[0][c].set_title(f"{label}: log p(z)")
        inside = _mass_region(log_p, 0.99)
        ratio = torch.where(inside, (log_q - log_p).clamp(-ratio_limit, ratio_limit), torch.nan).numpy()
        image = axes[1][c].imshow(ratio, origin="lower", extent=extent, cmap="RdBu_r", vmin=-ratio_limit,
                                  vmax=ratio_limit, aspect="auto")
        axes[1][c].contour(axis_1.numpy(), axis_2.numpy(), torch.where(inside, log_q - log_p, torch.nan).numpy(),
                           levels=[-math.log(10.0)], colors="k", linewidths=0.8)
        axes[1][c].set_xlabel("$z_1$", fontsize=FONT)
        axes[0][c].set_xticks([])
        for ax in (axes[0][c], axes[1][c]):
            ax.tick_params(labelsize=FONT)
    axes[1][0].set_ylabel("log q(z)/p(z)\n$z_2$", fontsize=FONT)
    axes[0][0].set_ylabel("$z_2$", fontsize=FONT)
    fig.colorbar(shade, ax=[axes[0][-1]], label="nats below peak", shrink=0.9)
    fig.colorbar(image, ax=[axes[1][-1]], label="nats", shrink=0.9)
    fig.suptitle("d = 2: each prior above log q(z)/p(z); black: holes, q(z) < p(z)/10 (note each box's own scale)")
    return finish(fig)


def _mass_region(log_p: Tensor, mass: float) -> Tensor:
    """The grid cells of the highest-density region that holds ``mass`` of the grid's prior mass."""
    p = log_p.exp().flatten()
    order = p.argsort(descending=True)
    keep = torch.zeros_like(p, dtype=torch.bool)
    keep[order[: int((p[order].cumsum(0) < mass * p.sum()).sum()) + 1]] = True
    return keep.reshape(log_p.shape)


def plot_gains(rows: list[dict[str, Any]], title: str):
    """Horizontal bars: each row {"label", "value", "se"} with an error bar of ±2 se; a zero line. Returns it."""
    fig, ax = new_figure(8, 0.45 * len(rows) + 1.2)
    y = list(range(len(rows)))[::-1]
    colours = [COLORS["q"] if r["value"] - 2 * r["se"] > 0 else COLORS["gap"] if r["value"] + 2 * r["se"] < 0
               else COLORS["prior"] for r in rows]
    ax.barh(y, [r["value"] for r in rows], xerr=[2 * r["se"] for r in rows], color=colours, capsize=3)
    ax.set_yticks(y, [r["label"] for r in rows], fontsize=FONT)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_xlabel("nats per image (± 2 standard errors)")
    ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return finish(fig)
