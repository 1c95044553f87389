"""Experiment ``rate_distortion`` (lesson 08): a β-VAE sweep, d = 20, from near-autoencoding to collapse.

    python -m elbo_course.experiments rate_distortion --budget ci|full|paper

Models: Hoffman & Johnson's VAE (784-500-500-40 encoder, 20-500-500-784 decoder, softplus, Bernoulli, p(z) =
N(0, I)), one per β in ``BETAS``, trained on the objective D + β R per batch (``train.fit(beta=β)``: loss =
-[recon - β KL]) with one schedule for all (Adam, batch 250, lr 1.5e-3 decaying tenfold, the same number of
epochs, dynamic binarization, the same initial weights and seed for every β).

Evaluation on the fixed binarization of all N = 60,000 training images (``experiments.surgery.evaluate``):
    rate        R = 1/N Σ_n KL(q(z|x_n) ‖ N(0, I))        closed form (exact)
    distortion  D = -1/N Σ_n E_q log p(x_n | z)           Monte Carlo, 2 draws per image -> distortion_se
    mutual_info, marginal_kl: R = I(n; z) + KL(q(z) ‖ p(z)) (lesson 05), Monte Carlo with standard errors
    elbo = -(D + R)
and on the first ``test_images`` fixed-binarized test images: test_rate, test_distortion (± se).
The data entropy (``data_entropy.entropy``): H(X) of dynamically binarized MNIST, with its pieces.
Checkpoints are kept for the β of ``SHOWN`` only (the models the notebook shows).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from .. import runtime
from ..data_entropy import entropy
from ..distributions import DiagonalGaussian
from ..models import VAE, encode_dataset
from ..train import fit
from .common import Schedule, data_sha256, learning_curve, mnist_inputs, resume_path, save_model
from .surgery import evaluate, reconstruction

NAME = "rate_distortion"
LATENT_DIM = 20
HIDDEN = (500, 500)
BETAS = {"ci": (0.1, 1.0, 10.0), "full": (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0),
         "paper": (0.01, 0.03, 0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)}
SHOWN = (0.03, 1.0, 10.0)  # the β whose checkpoints are kept (ci, which has not all of them, keeps its own)
ENTROPY_DRAWS = {"ci": 200, "full": 10_000, "paper": 100_000}

SCHEDULES: dict[str, Schedule] = {
    "ci": Schedule(epochs=1, train_images=2000, test_images=200, eval_samples=300, batch_size=250, lr=1.5e-3,
                   lr_schedule="decay10", models=tuple(f"beta_{b:g}" for b in BETAS["ci"])),
    "full": Schedule(epochs=60, train_images=60_000, test_images=1000, eval_samples=10_000, batch_size=250,
                     lr=1.5e-3, lr_schedule="decay10", models=tuple(f"beta_{b:g}" for b in BETAS["full"])),
    "paper": Schedule(epochs=500, train_images=60_000, test_images=10_000, eval_samples=100_000, batch_size=250,
                      lr=1.5e-3, lr_schedule="decay10", models=tuple(f"beta_{b:g}" for b in BETAS["paper"])),
}
RUN_TIME = {"ci": "about 1 minute", "full": "about 30-35 minutes on 2 CPU cores (7 models of 60 epochs)",
            "paper": "about 6 hours on 2 CPU cores (11 models of 500 epochs), or 1-2 GPU-hours"}


def model_id(beta: float) -> str:
    """The id of the β model, e.g. ``beta_0.3``."""
    return f"beta_{beta:g}"


def config(budget: str) -> dict[str, Any]:
    """Everything that determines the results of ``budget`` (its SHA-256 is the config_fingerprint)."""
    return {"latent_dim": LATENT_DIM, "hidden": list(HIDDEN), "activation": "softplus", "prior": "standard normal",
            "betas": list(BETAS[budget]), "shown": [b for b in SHOWN if b in BETAS[budget]] or list(BETAS[budget]),
            "entropy_draws": ENTROPY_DRAWS[budget], "binarization_train": "dynamic",
            "binarization_eval": "fixed (seed 0 train, seed 1 test)", **SCHEDULES[budget].as_config()}


def _seed(tag: str) -> int:
    return runtime.seed_for(f"{NAME}/{tag}") % 2**63


def train_beta(beta: float, x_grey: torch.Tensor, sched: Schedule, out_dir: Path,
               progress: bool) -> tuple[VAE, dict[str, Any]]:
    """A fresh VAE (same initial weights for every β) trained on D + β R by ``fit`` (resumable)."""
    with torch.random.fork_rng():
        torch.manual_seed(_seed("init"))
        model = VAE(LATENT_DIM, hidden=HIDDEN, activation="softplus")
    history = fit(model, x_grey, epochs=sched.epochs, batch_size=sched.batch_size, lr=sched.lr, beta=beta,
                  lr_schedule=sched.lr_at(), seed=_seed("train"), device="auto", progress=progress,
                  checkpoint_path=resume_path(out_dir, NAME, model_id(beta)))
    return model.cpu().eval(), history


@torch.no_grad()
def test_point(model: VAE, x_test: torch.Tensor, tag: str) -> dict[str, float]:
    """test_rate (closed-form average KL) and test_distortion ± se on the fixed test images."""
    recon, recon_se = reconstruction(model, x_test, 2, runtime.rng(f"{NAME}/{tag}/test_recon"))
    mu, logvar = encode_dataset(model, x_test)
    rate = float(DiagonalGaussian(mu.double(), logvar.double()).kl_standard_normal().mean())
    return {"test_rate": rate, "test_distortion": -recon, "test_distortion_se": recon_se}


def run(budget: str, out_dir: Path) -> dict[str, Any]:
    """Train and evaluate the sweep of ``budget``; keep the checkpoints of the shown β; estimate H(X)."""
    sched = SCHEDULES[budget]
    out_dir = Path(out_dir)
    x_grey, x_fixed, x_test = mnist_inputs(sched)
    shown = config(budget)["shown"]
    points, models = [], []
    for beta in BETAS[budget]:
        mid = model_id(beta)
        model, history = train_beta(beta, x_grey, sched, out_dir, progress=budget != "ci")
        terms = evaluate(model, x_fixed, x_test, sched.eval_samples, sched.recon_samples, f"{NAME}/{mid}")
        point = {"model_id": mid, "beta": beta, "latent_dim": LATENT_DIM, "rate": terms["avg_kl"],
                 "distortion": -terms["avg_recon"], "distortion_se": terms["avg_recon_se"],
                 **test_point(model, x_test, mid),
                 **{k: terms[k] for k in ("mutual_info", "mutual_info_se", "marginal_kl", "marginal_kl_se", "elbo",
                                          "elbo_se", "identity_residual", "identity_residual_se", "active_units",
                                          "log_n")},
                 "epochs": len(history["epoch"]), "seconds": round(float(history["elapsed"]), 1),
                 "train_loss": [round(v, 3) for v in history["loss"]], "learning_curve": learning_curve(history)}
        if beta in shown:
            point.update(save_model(model, out_dir, NAME, mid, {"latent_dim": LATENT_DIM, "beta": beta}))
            models.append({k: point[k] for k in ("model_id", "beta", "checkpoint", "checkpoint_sha256")})
        points.append(point)
        print(f"{mid}: R {point['rate']:.2f}  D {point['distortion']:.2f}  I {point['mutual_info']:.2f}"
              f"  ELBO {point['elbo']:.2f}  ({point['epochs']} epochs, {point['seconds']:.0f} s)", flush=True)
    h = entropy(ENTROPY_DRAWS[budget], runtime.rng(f"{NAME}/entropy"))
    return {"config": config(budget), "points": points, "models": models, **h,
            "seeds": {"base": 0, "init": _seed("init"), "train": _seed("train")},
            "train_data_sha256": data_sha256("train"), "test_data_sha256": data_sha256("test"),
            "log_n": math.log(x_fixed.shape[0]), "threads": torch.get_num_threads()}
