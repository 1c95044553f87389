"""Experiment ``priors`` (lesson 07): the standard, mixture-of-Gaussians and VampPrior priors on MNIST.

    python -m elbo_course.experiments priors --budget ci|full|paper

Models: Hoffman & Johnson's VAE (encoder 784-500-500-2d, decoder d-500-500-784, softplus, Bernoulli) with
    standard   p(z) = N(0, I)
    mog        p(z) = 1/C Σ_c N(z; m_c, diag s_c²), m_c and log s_c² learned (``priors.MixtureOfGaussians``)
    vamp       p(z) = 1/C Σ_c q(z | u_c), C learned pseudo-inputs u_c in [0, 1]^784 (``priors.VampPrior``)
at d = 40 with C = 500 (Tomczak & Welling's set-up), and at d = 2 (pictures of the prior against the
aggregate posterior). The three priors of one d share the network initialisation and the training seed
(same data order, binarizations and noise: common random numbers for the paired comparison).

Training, fixed in advance and the same for the three priors: Adam, batch 250, lr 1.5e-3 decaying tenfold
(``decay10``), KL warm-up (beta from 0 to 1, linearly over ``warmup_epochs``), dynamic binarization, on the
first 50,000 training images. The last 10,000 training images are the validation set: their ELBO (fixed
binarization) is recorded after every epoch. No choice in this experiment is made on the test set.

Evaluation on the first ``test_images`` fixed-binarized test images (``data.fixed_test_subset``):
    test_ll   per image E[L̂_K] with K = ``eval_samples`` = 5000 importance samples (stored per image),
              its mean and standard error over images; test_elbo the same from L̂_1
    diff_vs_standard   the paired mean of test_ll(prior) - test_ll(standard) over the same images, se over images
Over the N = 50,000 fixed-binarized training images the surgery terms of ``surgery.decompose`` with the
model's own prior (avg_kl by Monte Carlo where the prior has no closed-form KL), active units on the test
subset, and the prior's holes: z ~ p(z), hole_fraction = P_p[q(z) < p(z)/10], reverse_kl = KL(p ‖ q).
Part 1 of the lesson (``aggregate_prior``): lesson 06's stored d = 10 and 20 models with q(z) as prior.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

import torch

from .. import runtime
from ..bounds import mean_and_se
from ..data import fixed_binarization
from ..models import VAE, active_units, encode_dataset, encoder_means
from ..priors import MixtureOfGaussians, Prior, VampPrior
from ..surgery import decompose, prior_holes
from ..train import fit
from .aggregate_prior import swap_prior
from .common import (Schedule, data_sha256, elbo_curve, learning_curve, load_model, load_results, mnist_inputs, resume_path,
                     save_model)
from .iwae import bounds_from_log_weights
from .surgery import reconstruction

NAME = "priors"
AFTER = ("surgery",)  # part 1 reads lesson 06's stored models: `make reproduce` runs surgery first
PRIORS = ("standard", "mog", "vamp")
HIDDEN = (500, 500)
LATENT_DIMS = (40, 2)
VALIDATION_IMAGES = 10_000  # the last 10,000 training images
SURGERY_MODELS = (10, 20)   # lesson 06's models used in part 1
MODELS = tuple(f"{p}_d{d}" for d in LATENT_DIMS for p in PRIORS)
HOLE_KEYS = ("hole_fraction", "hole_fraction_se", "reverse_kl", "reverse_kl_se")  # of surgery.prior_holes, stored

#: Training and evaluation sizes; SETTINGS adds what a Schedule has no field for.
SCHEDULES: dict[str, Schedule] = {
    "ci": Schedule(epochs=1, train_images=2000, test_images=100, eval_samples=100, batch_size=250, lr=1.5e-3,
                   lr_schedule="decay10", models=MODELS),
    "full": Schedule(epochs=100, train_images=50_000, test_images=1000, eval_samples=5000, batch_size=250,
                     lr=1.5e-3, lr_schedule="decay10", models=MODELS),
    "paper": Schedule(epochs=1000, train_images=50_000, test_images=10_000, eval_samples=5000, batch_size=250,
                      lr=1.5e-3, lr_schedule="decay10", models=MODELS),
}
SETTINGS: dict[str, dict[str, int]] = {
    "ci": {"components": 50, "warmup_epochs": 1, "epochs_d2": 1, "validation_images": 500,
           "surgery_samples": 300, "aggregate_train_images": 2000, "aggregate_test_images": 200},
    "full": {"components": 500, "warmup_epochs": 10, "epochs_d2": 30, "validation_images": VALIDATION_IMAGES,
             "surgery_samples": 10_000, "aggregate_train_images": 60_000, "aggregate_test_images": 10_000},
    "paper": {"components": 500, "warmup_epochs": 100, "epochs_d2": 200, "validation_images": VALIDATION_IMAGES,
              "surgery_samples": 100_000, "aggregate_train_images": 60_000, "aggregate_test_images": 10_000},
}
RUN_TIME = {"ci": "about 1 minute",
            "full": "about 50 minutes on 2 CPU cores (three d = 40 models of 100 epochs, three d = 2 models of 30)",
            "paper": "about 6-7 hours on 2 CPU cores (1,000 epochs per d = 40 model; all 10,000 test images)"}


def model_id(prior: str, latent_dim: int) -> str:
    """The id of a model in results["models"], e.g. ``vamp_d40``."""
    return f"{prior}_d{latent_dim}"


def config(budget: str) -> dict[str, Any]:
    """Everything that determines the results of ``budget`` (its SHA-256 is the config_fingerprint)."""
    return {"latent_dims": list(LATENT_DIMS), "priors": list(PRIORS), "hidden": list(HIDDEN),
            "activation": "softplus", "optimizer": "adam", "binarization_train": "dynamic",
            "binarization_eval": "fixed (seed 0 train, seed 1 test)", "validation": "last 10,000 training images",
            "surgery_models": [f"vae_d{d}" for d in SURGERY_MODELS],
            **SETTINGS[budget], **SCHEDULES[budget].as_config()}


def _seed(tag: str) -> int:
    return runtime.seed_for(f"{NAME}/{tag}") % 2**63


def build_model(prior: str, latent_dim: int, components: int) -> VAE:
    """A fresh VAE(d, 500-500, softplus) with prior ``prior``; the networks' initial weights depend on d only."""
    seed = _seed(f"prior/d{latent_dim}") % 2**31
    made: Prior | None = {"standard": lambda: None,
                          "mog": lambda: MixtureOfGaussians(latent_dim, components, seed=seed),
                          "vamp": lambda: VampPrior(latent_dim, components, seed=seed)}[prior]()
    with torch.random.fork_rng():
        torch.manual_seed(_seed(f"init/d{latent_dim}"))
        return VAE(latent_dim, hidden=HIDDEN, activation="softplus", prior=made)


def evaluate(model: VAE, prior: str, x_train: torch.Tensor, x_test: torch.Tensor, sched: Schedule,
             surgery_samples: int, tag: str) -> dict[str, Any]:
    """Test L_K and ELBO per image, the surgery terms over x_train, active units and holes (see the docstring)."""
    model.eval()
    per_image = bounds_from_log_weights(model, x_test, sched.eval_samples, [1, sched.eval_samples],
                                        runtime.rng(f"{NAME}/{tag}/ll"))
    ll, ll_se = mean_and_se(per_image[sched.eval_samples])
    elbo_t, elbo_t_se = mean_and_se(per_image[1])
    recon, recon_se = reconstruction(model, x_train, 2, runtime.rng(f"{NAME}/{tag}/recon"))
    mu, logvar = encode_dataset(model, x_train)
    log_prior = None if prior == "standard" else model.prior.log_prob
    terms = decompose(mu, logvar, recon, log_prior, num_samples=surgery_samples,
                      generator=runtime.rng(f"{NAME}/{tag}/surgery"))
    terms.update(avg_recon_se=recon_se, elbo_se=math.hypot(recon_se, terms["avg_kl_se"]),
                 test_ll=float(ll), test_ll_se=float(ll_se), test_elbo=float(elbo_t), test_elbo_se=float(elbo_t_se),
                 test_images=int(x_test.shape[0]), importance_samples=sched.eval_samples,
                 active_units=active_units(encoder_means(model, x_test)), train_images=int(x_train.shape[0]),
                 test_ll_per_image=[round(v, 4) for v in per_image[sched.eval_samples].tolist()],
                 test_elbo_per_image=[round(v, 4) for v in per_image[1].tolist()])
    holes = prior_holes(mu, logvar, num_samples=surgery_samples, generator=runtime.rng(f"{NAME}/{tag}/holes"),
                        prior=model.prior)
    terms.update({k: holes[k] for k in HOLE_KEYS})
    return terms


def train_model(prior: str, latent_dim: int, x_grey: torch.Tensor, x_val: torch.Tensor, sched: Schedule,
                settings: dict[str, int], out_dir: Path, progress: bool) -> tuple[VAE, dict[str, Any]]:
    """Train one model by ``fit`` (resumable via DIR/resume/) with the validation ELBO after every epoch."""
    model = build_model(prior, latent_dim, settings["components"])
    mid = model_id(prior, latent_dim)
    epochs = sched.epochs if latent_dim != 2 else settings["epochs_d2"]
    lr_at = dataclasses.replace(sched, epochs=epochs).lr_at()
    history = fit(model, x_grey, epochs=epochs, batch_size=sched.batch_size, lr=sched.lr,
                  warmup_epochs=settings["warmup_epochs"], lr_schedule=lr_at, seed=_seed(f"train/d{latent_dim}"),
                  device="auto", progress=progress, checkpoint_path=resume_path(out_dir, NAME, mid),
                  on_epoch=elbo_curve(x_val, f"{NAME}/val/d{latent_dim}", "val_elbo"))
    return model.cpu().eval(), history


def run(budget: str, out_dir: Path) -> dict[str, Any]:
    """Train and evaluate the six models of ``budget`` and the aggregate-posterior comparison; save checkpoints."""
    sched, settings = SCHEDULES[budget], SETTINGS[budget]
    out_dir = Path(out_dir)
    x_grey, x_train, x_test = mnist_inputs(sched)
    x_val = torch.from_numpy(fixed_binarization("train")[-VALIDATION_IMAGES:][:settings["validation_images"]]
                             .astype("float32"))
    models: list[dict[str, Any]] = []
    for d in LATENT_DIMS:
        for prior in PRIORS:
            mid = model_id(prior, d)
            model, history = train_model(prior, d, x_grey, x_val, sched, settings, out_dir, budget != "ci")
            terms = evaluate(model, prior, x_train, x_test, sched, settings["surgery_samples"], mid)
            saved = save_model(model, out_dir, NAME, mid, {"latent_dim": d, "prior": prior,
                                                           "epochs": len(history["epoch"])})
            curve = learning_curve(history)
            models.append({"model_id": mid, "prior": prior, "latent_dim": d,
                           "components": None if prior == "standard" else settings["components"], **terms,
                           "epochs": len(history["epoch"]), "steps": history["steps"],
                           "seconds": round(float(history["elapsed"]), 1),
                           "seconds_per_epoch": round(float(history["elapsed"]) / max(1, len(history["epoch"])), 2),
                           "seconds_per_step": round(float(history["elapsed"]) / max(1, history["steps"]), 4),
                           "train_loss": [round(v, 3) for v in history["loss"]], "learning_curve": curve,
                           "best_val_epoch": int(curve["epoch"][max(range(len(curve["val_elbo"])),
                                                                    key=curve["val_elbo"].__getitem__)]),
                           "device": history["device"], **saved})
            print(f"{mid}: test LL {terms['test_ll']:.2f} ± {terms['test_ll_se']:.2f}  ELBO {terms['elbo']:.2f}"
                  f"  marginal KL {terms['marginal_kl']:.2f}  AU {terms['active_units']}"
                  f"  ({len(history['epoch'])} epochs, {history['elapsed']:.0f} s)", flush=True)
    _paired_differences(models)
    return {"config": config(budget), "models": models,
            "aggregate_prior": aggregate_prior_part(settings),
            "seeds": {"base": 0, **{f"d{d}": {"init": _seed(f"init/d{d}"), "train": _seed(f"train/d{d}"),
                                               "prior": _seed(f"prior/d{d}") % 2**31} for d in LATENT_DIMS}},
            "train_data_sha256": data_sha256("train"), "test_data_sha256": data_sha256("test"),
            "threads": torch.get_num_threads(), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")}


def _paired_differences(models: list[dict[str, Any]]) -> None:
    """Add diff_vs_standard(_se): the paired per-image mean of test_ll - test_ll(standard, same d)."""
    for entry in models:
        base = next(m for m in models if m["prior"] == "standard" and m["latent_dim"] == entry["latent_dim"])
        diff = torch.tensor(entry["test_ll_per_image"], dtype=torch.float64) - torch.tensor(
            base["test_ll_per_image"], dtype=torch.float64)
        mean, se = mean_and_se(diff)
        entry["diff_vs_standard"], entry["diff_vs_standard_se"] = float(mean), float(se)


def aggregate_prior_part(settings: dict[str, int]) -> dict[str, Any]:
    """Part 1: lesson 06's stored d = 10 and 20 models with their prior swapped for q(z) (``swap_prior``)."""
    surgery = load_results("surgery", "full")
    x_train = torch.from_numpy(fixed_binarization("train")[:settings["aggregate_train_images"]].astype("float32"))
    x_test = torch.from_numpy(fixed_binarization("test")[:settings["aggregate_test_images"]].astype("float32"))
    entries = []
    for d in SURGERY_MODELS:
        mid = f"vae_d{d}"
        stored = next(m for m in surgery["models"] if m["model_id"] == mid)
        model = load_model(surgery, mid)
        swap = swap_prior(model, x_train, x_test, runtime.rng(f"{NAME}/aggregate/{mid}"))
        entries.append({"surgery_model": mid, "checkpoint": f"results/{stored['checkpoint']}",
                        "checkpoint_sha256": stored["checkpoint_sha256"],
                        "stored_elbo": stored["elbo"], "stored_marginal_kl": stored["marginal_kl"],
                        "stored_marginal_kl_se": stored["marginal_kl_se"], **swap})
        print(f"{mid} with p(z) = q(z): train gain {swap['train_gain']:.3f} ± {swap['train_gain_se']:.3f} "
              f"(stored marginal KL {stored['marginal_kl']:.3f}); leave-one-out {swap['loo_gain']:.2f}; "
              f"test {swap['test_gain']:.2f} ± {swap['test_gain_se']:.2f}", flush=True)
    return {"surgery_config_fingerprint": surgery["config_fingerprint"], "models": entries}
