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
epochs per budget (``SCHEDULES``), so the schedule is deterministic. Run it with
``python -m elbo_course.experiments surgery --budget ci|full|paper``. The figures of lesson 06 are drawn
from the results by ``elbo_course.figures.lesson06``.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import runtime
from ..distributions import DiagonalGaussian, bernoulli_log_likelihood
from ..models import VAE, active_units, encode_dataset, encoder_means
from ..surgery import decompose
from ..train import fit
from .common import Schedule, data_sha256, elbo_curve, learning_curve, mnist_inputs, resume_path, save_model

NAME = "surgery"
LATENT_DIMS = (2, 10, 20)
HIDDEN = (500, 500)
PUBLISHED_KEY = "hoffman2016.surgery"
MODELS = tuple(f"vae_d{d}" for d in LATENT_DIMS)
CURVE_IMAGES = 1000  # learning curve: the training-set ELBO on the first 1,000 fixed-binarized training images

#: Per budget. eval_samples: M draws from q(z) per Monte Carlo term; recon_samples: R draws per image.
#: ``full``: 120 epochs at batch 250 with a tenfold learning-rate decay, about 9-10 minutes of training per model
#: on 2 CPU cores (4.6 s per epoch measured; batch 250 reached a 0.8-nat better test ELBO than batch 100 in
#: the same 10 minutes, and bf16 autocast was no faster per epoch: benchmarks/README.md).
SCHEDULES: dict[str, Schedule] = {
    "ci": Schedule(epochs=1, train_images=2000, test_images=500, eval_samples=500, models=MODELS),
    "full": Schedule(epochs=120, train_images=60_000, test_images=1000, eval_samples=10_000, batch_size=250, lr=1.5e-3,
                     lr_schedule="decay10", models=MODELS),
    "paper": Schedule(epochs=500, train_images=60_000, test_images=10_000, eval_samples=100_000,
                      recon_samples=10, models=MODELS),
}
RUN_TIME = {"ci": "about 30 s", "full": "about 30-35 min on 2 CPU cores (10 min of training per model)",
            "paper": "about 1 GPU-hour (or a night on a CPU)"}


def model_id(latent_dim: int) -> str:
    """The id of the d-dimensional model in results["models"], e.g. ``vae_d10``."""
    return f"vae_d{latent_dim}"


def config(budget: str) -> dict[str, Any]:
    """Everything that determines the results of ``budget`` (its SHA-256 is the config_fingerprint)."""
    return {"latent_dims": list(LATENT_DIMS), "hidden": list(HIDDEN), "activation": "softplus",
            "optimizer": "adam", "binarization_train": "dynamic",
            "binarization_eval": "fixed (seed 0 train, seed 1 test)", "prior": "standard normal",
            **SCHEDULES[budget].as_config()}


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
    z = model.reparameterize(mu, logvar, samples, generator)
    return bernoulli_log_likelihood(model.decode(z), xb).double(), z


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


def train_model(latent_dim: int, x_grey: Tensor, sched: Schedule, out_dir: Path, progress: bool = True,
                x_curve: Tensor | None = None) -> tuple[VAE, dict[str, Any]]:
    """A fresh VAE(d, 500-500, softplus) trained by ``fit`` on ``sched`` (resumable via DIR/resume/)."""
    with torch.random.fork_rng():
        torch.manual_seed(_seed(f"init/d{latent_dim}"))
        model = VAE(latent_dim, hidden=HIDDEN, activation="softplus")
    history = fit(model, x_grey, epochs=sched.epochs, batch_size=sched.batch_size, lr=sched.lr,
                  adam_eps=sched.adam_eps, lr_schedule=sched.lr_at(), precision=sched.precision, seed=_seed(f"train/d{latent_dim}"), device="auto", progress=progress,
                  checkpoint_path=resume_path(out_dir, NAME, model_id(latent_dim)),
                  on_epoch=None if x_curve is None else elbo_curve(x_curve, f"{NAME}/curve/d{latent_dim}", "train_elbo"))
    return model.cpu().eval(), history


def run(budget: str, out_dir: Path) -> dict[str, Any]:
    """Train the three models of ``budget``, evaluate every term, save the checkpoints."""
    sched = SCHEDULES[budget]
    out_dir = Path(out_dir)
    x_grey, x_fixed, x_test = mnist_inputs(sched)
    models, seconds_eval = [], {}
    for d in LATENT_DIMS:
        mid = model_id(d)
        model, history = train_model(d, x_grey, sched, out_dir, progress=budget != "ci", x_curve=x_fixed[:CURVE_IMAGES])
        load_after_training = _load_average()
        started = time.perf_counter()
        terms = evaluate(model, x_fixed, x_test, sched.eval_samples, sched.recon_samples, mid)
        seconds_eval[mid] = round(time.perf_counter() - started, 1)
        saved = save_model(model, out_dir, NAME, mid, {"latent_dim": d, "epochs": len(history["epoch"])})
        models.append({"model_id": mid, "latent_dim": d, **terms, "epochs": len(history["epoch"]),
                       "seconds": round(float(history["elapsed"]), 1),
                       "seconds_per_epoch": [round(s, 2) for s in history["seconds"]],
                       "train_loss": [round(v, 3) for v in history["loss"]],
                       "learning_curve": learning_curve(history),
                       "eval_seconds": seconds_eval[mid], "load_average": load_after_training,
                       "device": history["device"], **saved})
        print(f"{mid}: ELBO {terms['elbo']:.2f}  avg KL {terms['avg_kl']:.2f}  I {terms['mutual_info']:.3f}"
              f"  marginal KL {terms['marginal_kl']:.3f} ± {terms['marginal_kl_se']:.3f}"
              f"  ({len(history['epoch'])} epochs, {history['elapsed']:.0f} s)", flush=True)
    return {"config": config(budget), "models": models,
            "seeds": {"base": 0, **{model_id(d): {"init": _seed(f"init/d{d}"), "train": _seed(f"train/d{d}")}
                                    for d in LATENT_DIMS}},
            "train_data_sha256": data_sha256("train"), "test_data_sha256": data_sha256("test"),
            "log_n": math.log(x_fixed.shape[0]), "threads": torch.get_num_threads(), "load_average": _load_average()}


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def published_rows() -> list[dict[str, Any]]:
    """Hoffman & Johnson's table (label ``unverified``) as rows {d, elbo, avg_kl, mutual_info, marginal_kl}."""
    from ..reference import published

    return published(PUBLISHED_KEY)["rows"]
