"""ELBO surgery on MNIST (lesson 06): three Hoffman & Johnson VAEs, d = 2, 10, 20, and their ELBO split.

Every term is evaluated over the N = 60,000 training images under ONE fixed binarization x_n
(``elbo_course.data.fixed_binarization("train")``), with encoder outputs mu, logvar of shape (N, d):

    avg_recon   = 1/N Σ_n E_q(z|x_n) log p(x_n | z)        Monte Carlo, R draws per image  -> avg_recon_se
    avg_kl      = 1/N Σ_n KL(q(z|x_n) ‖ N(0, I))            closed form (exact)
    mutual_info = I(n; z) = log N - E_q(z) H[q(n | z)]      Monte Carlo, M draws z ~ q(z) -> mutual_info_se
    marginal_kl = KL(q(z) ‖ p(z)), q(z) = 1/N Σ_n q(z|x_n)  Monte Carlo, M other draws    -> marginal_kl_se
    elbo        = avg_recon - avg_kl = avg_recon - mutual_info - marginal_kl
    identity_residual = avg_kl - mutual_info - marginal_kl  (≈ 0 within a few identity_residual_se)

avg_recon_se is the Monte Carlo error given the fixed data set: with R draws r_nr per image,
se² = 1/N² Σ_n s_n² / R, s_n² the sample variance of r_n1..r_nR (image-to-image spread is not noise here).

Training: Adam (lr 1e-3), batch 100, dynamic binarization (``elbo_course.train.fit``), a fixed number of
EPOCHS per budget, so the schedule is deterministic. Run it with
``python -m elbo_course.experiments surgery --budget ci|full|paper``.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import runtime
from ..data import fixed_binarization, fixed_sha256, fixed_test_subset, load_mnist
from ..distributions import DiagonalGaussian
from ..models import VAE, active_units, encode_dataset, encoder_means
from ..surgery import decompose
from ..train import fit
from .common import resume_path, save_model

NAME = "surgery"
LATENT_DIMS = (2, 10, 20)
HIDDEN = (500, 500)
FIGURE = "surgery_terms.png"
PUBLISHED_KEY = "hoffman2016.surgery"

#: Per budget: training epochs, images used (None = all 60,000), M Monte Carlo draws from q(z) per term,
#: R reconstruction draws per image. ``full``: 30 epochs, ~5 min of training per model on 2 idle CPU
#: cores (9-12 s per epoch), two to three times that on a shared machine.
SCHEDULES: dict[str, dict[str, Any]] = {
    "ci": {"epochs": 1, "images": 2000, "num_samples": 500, "recon_samples": 2},
    "full": {"epochs": 30, "images": None, "num_samples": 10_000, "recon_samples": 2},
    "paper": {"epochs": 500, "images": None, "num_samples": 100_000, "recon_samples": 10},
}
RUN_TIME = {"ci": "about 30 s", "full": "about 20-45 min on 2 CPU cores (depends on load)",
            "paper": "about 1 GPU-hour (or a night on a CPU)"}


def model_id(latent_dim: int) -> str:
    """The id of the d-dimensional model in results["models"], e.g. ``vae_d10``."""
    return f"vae_d{latent_dim}"


def config(budget: str) -> dict[str, Any]:
    """Everything that determines the results of ``budget`` (its SHA-256 is the config_fingerprint)."""
    return {"latent_dims": list(LATENT_DIMS), "hidden": list(HIDDEN), "activation": "softplus",
            "optimizer": "adam", "lr": 1e-3, "batch_size": 100, "binarization_train": "dynamic",
            "binarization_eval": "fixed (seed 0 train, seed 1 test)", "prior": "standard normal",
            **SCHEDULES[budget]}


def _seed(tag: str) -> int:
    return runtime.seed_for(f"{NAME}/{tag}") % 2**63


@torch.no_grad()
def reconstruction(model: VAE, x: Tensor, samples: int, generator: torch.Generator,
                   batch_size: int = 1000) -> tuple[float, float]:
    """(avg_recon, se): 1/N Σ_n 1/R Σ_r log p(x_n | z_nr), z_nr ~ q(z | x_n); x (N, 784) binary.

    se = sqrt(Σ_n s_n² / R) / N with s_n² the per-image sample variance over the R ≥ 2 draws.
    """
    if samples < 2:
        raise ValueError("reconstruction needs R >= 2 draws per image to estimate its standard error.")
    means, variances = [], []
    for start in range(0, x.shape[0], batch_size):
        recon, _ = _recon_draws(model, x[start:start + batch_size], samples, generator)
        means.append(recon.mean(0))
        variances.append(recon.var(0, correction=1))
    mean, var = torch.cat(means), torch.cat(variances)
    n = mean.numel()
    return float(mean.mean()), float(torch.sqrt(var.sum() / samples) / n)


def _recon_draws(model: VAE, xb: Tensor, samples: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """log p(x_b | z_rb) for R draws: (R, B) float64, and the draws z (R, B, d)."""
    mu, logvar = model.encode(xb)
    z, _ = model.reparameterize(mu, logvar, samples, generator)
    logits = model.decode(z)
    recon = -torch.nn.functional.binary_cross_entropy_with_logits(
        logits, xb.expand_as(logits), reduction="none").sum(-1)
    return recon.double(), z


def evaluate(model: VAE, x_fixed: Tensor, x_test: Tensor, num_samples: int, recon_samples: int,
             tag: str) -> dict[str, Any]:
    """Every surgery term of ``model`` over the fixed-binarized images ``x_fixed`` (N, 784), in nats.

    Returns the keys of ``elbo_course.surgery.decompose`` plus avg_recon_se, elbo_se, active_units
    (counted on the fixed test subset ``x_test``) and avg_kl_first_1000 (the average KL of the first
    1,000 images, an exact spot check).
    """
    model.eval()
    recon, recon_se = reconstruction(model, x_fixed, recon_samples, runtime.rng(f"{NAME}/{tag}/recon"))
    mu, logvar = encode_dataset(model, x_fixed)
    terms = decompose(mu, logvar, recon, num_samples=num_samples, generator=runtime.rng(f"{NAME}/{tag}/surgery"))
    head = DiagonalGaussian(mu[:1000].double(), logvar[:1000].double()).kl_standard_normal()
    terms.update(avg_recon_se=recon_se, elbo_se=recon_se,  # avg_kl is exact, so the ELBO inherits recon's error
                 active_units=active_units(encoder_means(model, x_test)), num_images=int(x_fixed.shape[0]),
                 avg_kl_first_1000=float(head.mean()))  # a spot check for tests: exact, cheap to recompute
    return terms


def train_model(latent_dim: int, x_grey: Tensor, epochs: int, out_dir: Path, progress: bool = True
                ) -> tuple[VAE, dict[str, Any]]:
    """A fresh VAE(d, 500-500, softplus) trained for ``epochs`` with ``fit`` (resumable via DIR/resume/)."""
    with torch.random.fork_rng():
        torch.manual_seed(_seed(f"init/d{latent_dim}"))
        model = VAE(latent_dim, hidden=HIDDEN, activation="softplus")
    resume = resume_path(out_dir, NAME, model_id(latent_dim))
    resume.parent.mkdir(parents=True, exist_ok=True)
    history = fit(model, x_grey, epochs=epochs, batch_size=100, lr=1e-3, seed=_seed(f"train/d{latent_dim}"),
                  device="auto", progress=progress, checkpoint_path=resume)
    return model.cpu().eval(), history


def run(budget: str, out_dir: Path) -> dict[str, Any]:
    """Train the three models of ``budget``, evaluate every term, save checkpoints and the figure."""
    schedule = SCHEDULES[budget]
    out_dir = Path(out_dir)
    images = schedule["images"]
    x_grey = load_mnist("train")[0][:images]
    x_fixed = torch.from_numpy(fixed_binarization("train")[:images].astype("float32"))
    x_test = fixed_test_subset(budget)
    models, seconds_eval = [], {}
    for d in LATENT_DIMS:
        mid = model_id(d)
        model, history = train_model(d, x_grey, schedule["epochs"], out_dir, progress=budget != "ci")
        load_after_training = _load_average()
        started = time.perf_counter()
        terms = evaluate(model, x_fixed, x_test, schedule["num_samples"], schedule["recon_samples"], mid)
        seconds_eval[mid] = round(time.perf_counter() - started, 1)
        saved = save_model(model, out_dir, NAME, mid, {"latent_dim": d, "epochs": len(history["epoch"])})
        models.append({"model_id": mid, "latent_dim": d, **terms, "epochs": len(history["epoch"]),
                       "seconds": round(float(history["elapsed"]), 1),
                       "seconds_per_epoch": [round(s, 2) for s in history["seconds"]],
                       "train_loss": [round(v, 3) for v in history["loss"]],
                       "eval_seconds": seconds_eval[mid], "load_average": load_after_training,
                       "device": history["device"], **saved})
        print(f"{mid}: ELBO {terms['elbo']:.2f}  avg KL {terms['avg_kl']:.2f}  I {terms['mutual_info']:.3f}"
              f"  marginal KL {terms['marginal_kl']:.3f} ± {terms['marginal_kl_se']:.3f}"
              f"  ({len(history['epoch'])} epochs, {history['elapsed']:.0f} s)", flush=True)
    payload = {"config": config(budget), "models": models,
               "seeds": {"base": 0, **{model_id(d): {"init": _seed(f"init/d{d}"), "train": _seed(f"train/d{d}")}
                                       for d in LATENT_DIMS}},
               "train_data_sha256": fixed_sha256("train"), "log_n": math.log(x_fixed.shape[0]),
               "threads": torch.get_num_threads(), "figure": FIGURE, "load_average": _load_average()}
    fig = plot_terms(models)
    fig.savefig(out_dir / FIGURE, dpi=90, bbox_inches="tight")
    return payload


def _load_average() -> list[float] | None:
    try:
        import os

        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def published_rows() -> list[dict[str, Any]]:
    """Hoffman & Johnson's table (label ``unverified``) as rows {d, elbo, avg_kl, mutual_info, marginal_kl}."""
    from ..reference import published

    return published(PUBLISHED_KEY)["rows"]


def _figure(fig, width: float, height: float):
    """``fig`` (e.g. ``plt.figure()`` in a notebook, so that it displays inline) resized, or a new Figure."""
    from matplotlib.figure import Figure

    if fig is None:
        return Figure(figsize=(width, height))
    fig.set_size_inches(width, height)
    return fig


def plot_terms(models: list[dict[str, Any]], show_published: bool = True, fig=None):
    """Figure: left, avg KL = I + marginal KL against d (with ±2 se bars and log N); right, ELBO and
    avg reconstruction against d. Hollow markers: Hoffman & Johnson (2016, unverified). Returns the Figure
    (drawn into ``fig`` when given)."""
    ds = [m["latent_dim"] for m in models]
    fig = _figure(fig, 10, 3.8)
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
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def density_grid(mu: Tensor, logvar: Tensor, limit: float = 4.0, steps: int = 101
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """log q(z) and log p(z) on a steps × steps grid over [-limit, limit]² (d = 2 only).

    Returns (axis (steps,), log_q (steps, steps), log_p (steps, steps)) in float64, rows indexed by z_2
    and columns by z_1 (ready for ``imshow(origin="lower")``).
    """
    from ..surgery import aggregate_log_density

    if mu.shape[1] != 2:
        raise ValueError(f"density_grid draws a 2-D picture; the model has d = {mu.shape[1]}.")
    axis = torch.linspace(-limit, limit, steps, dtype=torch.float64)
    z2, z1 = torch.meshgrid(axis, axis, indexing="ij")
    grid = torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1)
    log_q = aggregate_log_density(grid, mu, logvar).reshape(steps, steps)
    log_p = (-0.5 * (grid.square().sum(1) + 2 * math.log(2 * math.pi))).reshape(steps, steps)
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
    fig = _figure(fig, 12, 3.6)
    fig.set_layout_engine("constrained")
    axes = fig.subplots(1, 3)
    vmax = 1.5 * float(log_p.max().exp())  # shared scale; q's sharpest ridges saturate (colour bar arrow)
    for ax, log_density, title in ((axes[0], log_p, "prior p(z) = N(0, I)"),
                                   (axes[1], log_q, "aggregate posterior q(z)")):
        image = ax.imshow(log_density.exp().numpy(), origin="lower", extent=extent, vmin=0.0, vmax=vmax,
                          cmap="viridis")
        ax.set_title(title)
    fig.colorbar(image, ax=axes[1], label="density", extend="max")
    inside = log_p >= log_p.max() - 0.5 * radius**2  # |z| <= radius
    ratio = torch.where(inside, (log_q - log_p).clamp(-ratio_limit, ratio_limit), torch.nan).numpy()
    image = axes[2].imshow(ratio, origin="lower", extent=extent, cmap="RdBu_r", vmin=-ratio_limit,
                           vmax=ratio_limit)
    axes[2].contour(axis.numpy(), axis.numpy(), torch.where(inside, log_q - log_p, torch.nan).numpy(),
                    levels=[-math.log(10.0)], colors="k", linewidths=1.0)
    axes[2].set_title(f"log q(z)/p(z) for |z| < {radius:g} (black: q = p/10)")
    fig.colorbar(image, ax=axes[2], label="nats")
    for ax in axes:
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")
    return fig
