"""Experiment ``iwae`` (lesson 04): a VAE and IWAEs with Burda et al.'s one-layer architecture on MNIST.

    python -m elbo_course.experiments iwae --budget ci|full|paper

Models (784-200-200-50 tanh encoder/decoder, d = 50, Bernoulli decoder, N(0, I) prior, as in Burda et al.):
    vae_k1     objective "elbo" (closed-form KL, one sample)       compare with Burda's k = 1 row
    iwae_k5    objective "iwae", K = 5                              compare with Burda's IWAE, k = 5
    iwae_k50   objective "iwae", K = 50 (paper budget only)         compare with Burda's IWAE, k = 50
Training: Adam (lr 1e-3), batch 100, dynamic binarization, the same number of epochs for every model.
An IWAE step runs the decoder K times per image, so its cost per epoch grows roughly like K.

Evaluation on the fixed test subset x_1..x_N (fixed binarization; N = 1,000 in full, 10,000 in paper): for
each image, M = 5000 log weights log w_m = log p(x, z_m) - log q(z_m | x), z_m ~ q(z | x). From the same
draws, for K in {1, 5, 50, 5000}, the M/K disjoint groups of K give M/K independent copies of
L̂_K = log (1/K) Σ_k w_k; their average estimates E[L̂_K] per image. Reported: the mean over images and
its standard error over images (``bounds``); ``test_ll`` is the K = 5000 value (Burda's estimator, whose
sign-flipped value is the NLL in their Table 1). Active units: ``models.active_units`` over the encoder
means of the same N images.

Wall time (2 CPU cores; per model in the results as ``seconds`` and ``eval_seconds``): ci about 1 minute;
full (30 epochs per model) took 31 minutes on 2 cores shared with other jobs (load average 3-9; the
1-minute load average before and after each training is stored), of which 7 + 12 minutes training and
11 minutes evaluation (5000 samples x 1000 images per model); expect about 20-25 minutes on idle cores. paper: 3,280 epochs with Burda's schedule (lr
1e-3 · 10^(-i/7) for 3^i epochs, i = 0..7, batch 20, Adam eps 1e-4) is NOT practical on a CPU. Measured
on 2 shared cores at batch 100: about 9 s per epoch for the VAE, 20 s for IWAE-5 and 200 s for IWAE-50,
so 3,280 epochs are roughly 8, 18 and 180 CPU-hours (more at batch 20). On one GPU expect hours per model
(not measured here). Run it on a GPU or over several nights.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from .. import runtime
from ..bounds import log_mean_exp, mean_and_se
from ..data import fixed_test_subset, load_mnist
from ..models import VAE, active_units, encoder_means
from ..train import fit
from .common import Schedule, data_sha256, elbo_curve, learning_curve, save_model

NAME = "iwae"
RUN_TIME = {"ci": "about 1 minute", "full": "about 15-20 minutes on 2 CPU cores (IWAE-5: 10 min of training)",
            "paper": "days on a CPU; hours per model on a GPU"}
EVAL_KS = (1, 5, 50, 5000)
OFFSET_SAMPLES = 50  # L_50 for the subset offset: cheap enough for all 10,000 test images

_MODELS = {"vae_k1": ("elbo", 1), "iwae_k5": ("iwae", 5), "iwae_k50": ("iwae", 50)}
ARCHITECTURE = {"latent_dim": 50, "hidden": [200, 200], "activation": "tanh"}


#: Per budget: eval_samples importance samples per test image, from which L_K is estimated for each K in
#: eval_ks (every K divides eval_samples). ``paper`` follows Burda et al.'s schedule (3,280 epochs, batch 20).
SCHEDULES: dict[str, Schedule] = {
    "ci": Schedule(epochs=1, train_images=2000, test_images=100, eval_samples=500, eval_ks=(1, 5, 50, 500),
                   offset_images=300, models=("vae_k1", "iwae_k5")),
    "full": Schedule(epochs=100, train_images=60_000, test_images=1000, eval_samples=5000, eval_ks=EVAL_KS,
                     batch_size=250, lr=1.5e-3, lr_schedule="decay10", offset_images=10_000,
                     models=("vae_k1", "iwae_k5")),
    "paper": Schedule(epochs=3280, train_images=60_000, test_images=10_000, eval_samples=5000, eval_ks=EVAL_KS,
                      batch_size=20, adam_eps=1e-4, lr_schedule="burda", models=("vae_k1", "iwae_k5", "iwae_k50")),
}


def config(budget: str) -> dict[str, Any]:
    """The configuration of a budget (its fingerprint marks stored results as stale when it changes)."""
    return {**ARCHITECTURE, **SCHEDULES[budget].as_config()}


@torch.no_grad()
def bounds_from_log_weights(model: VAE, x: torch.Tensor, samples: int, ks: list[int],
                            generator: torch.Generator, batch_size: int = 100,
                            chunk: int = 250) -> dict[int, torch.Tensor]:
    """Per-image estimates of E[L̂_K] for each K in ``ks`` from ``samples`` log weights: {K: (N,) float64}.

    For each image the (samples,) log weights are cut into samples // K groups of K (K must divide
    ``samples``); L̂_K of each group is log_mean_exp over it, and the groups are averaged.
    """
    if any(samples % k for k in ks):
        raise ValueError(f"Every K in {ks} must divide the number of samples {samples}.")
    model.eval()
    out: dict[int, list[torch.Tensor]] = {k: [] for k in ks}
    for s in range(0, x.shape[0], batch_size):
        xb = x[s:s + batch_size]
        log_w = torch.cat([model.log_weights(xb, min(chunk, samples - c), generator).double()
                           for c in range(0, samples, chunk)])                       # (samples, B)
        for k in ks:
            groups = log_w.reshape(samples // k, k, -1)                                # (G, K, B)
            out[k].append(log_mean_exp(groups, dim=1).mean(dim=0))
    return {k: torch.cat(v) for k, v in out.items()}


def _train_one(model_id: str, sched: Schedule, x_train: torch.Tensor, out_dir: Path,
               x_test: torch.Tensor) -> dict[str, Any]:
    objective, k = _MODELS[model_id]
    cfg = {**ARCHITECTURE, **sched.as_config()}
    seed = runtime.seed_for(f"iwae.train.{model_id}") % 2**31
    torch.manual_seed(seed)
    model = VAE(cfg["latent_dim"], hidden=tuple(cfg["hidden"]), activation=cfg["activation"])
    load_before = os.getloadavg()[0]
    history = fit(model, x_train, epochs=sched.epochs, batch_size=sched.batch_size, lr=sched.lr,
                  objective=objective, k=k, seed=seed, device="auto", progress=False,
                  adam_eps=sched.adam_eps, lr_schedule=sched.lr_at(), precision=sched.precision,
                  on_epoch=elbo_curve(x_test, f"iwae.curve.{model_id}"))
    model = model.cpu().eval()
    t0 = time.perf_counter()
    gen = runtime.rng(f"iwae.eval.{model_id}")
    per_image = bounds_from_log_weights(model, x_test, sched.eval_samples, list(sched.eval_ks), gen)
    bounds = {}
    for kk, values in per_image.items():
        mean, se = mean_and_se(values)
        bounds[str(kk)] = {"mean": round(float(mean), 4), "se": round(float(se), 4)}
    gap = per_image[cfg["eval_ks"][-1]] - per_image[1]
    gap_mean, gap_se = mean_and_se(gap)
    units = active_units(encoder_means(model, x_test))
    offset = subset_offset(model, sched, runtime.rng(f"iwae.offset.{model_id}")) if sched.offset_images else None
    eval_seconds = time.perf_counter() - t0
    entry = {"model_id": model_id, "objective": "vae" if objective == "elbo" else "iwae", "train_objective": objective,
             "k": k, "latent_dim": cfg["latent_dim"], "hidden": cfg["hidden"], "activation": cfg["activation"],
             "epochs": len(history["epoch"]), "steps": history["steps"], "seconds": round(history["elapsed"], 1),
             "seconds_per_epoch": round(history["elapsed"] / max(1, len(history["epoch"])), 2),
             "decoder_passes_per_image_per_step": k, "final_train_loss": round(history["loss"][-1], 3),
             "train_loss": [round(v, 3) for v in history["loss"]], "seed": seed,
             "test_ll": bounds[str(cfg["eval_ks"][-1])]["mean"], "test_ll_se": bounds[str(cfg["eval_ks"][-1])]["se"],
             "test_images": int(x_test.shape[0]), "eval_samples": cfg["eval_samples"], "bounds": bounds,
             "gap_LM_minus_L1": round(float(gap_mean), 4), "gap_LM_minus_L1_se": round(float(gap_se), 4),
             "active_units": units, "eval_seconds": round(eval_seconds, 1),
             "test_ll_per_image": [round(v, 4) for v in per_image[cfg["eval_ks"][-1]].tolist()],
             "learning_curve": learning_curve(history), "subset_offset": offset,
             "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
             "device": history["device"]}
    entry.update(save_model(model, out_dir, NAME, model_id, meta={"objective": objective, "k": k}))
    return entry


def subset_offset(model: VAE, sched: Schedule, generator: torch.Generator) -> dict[str, Any]:
    """How much easier the first ``test_images`` fixed-binarized test images are than the first
    ``offset_images`` (all 10,000 in full): L_50 per image over the larger set, averaged over both.
    offset = mean over the subset - mean over the larger set (> 0: the subset scores higher, so our test_ll
    on the subset overstates the whole-test-set value by about ``offset``)."""
    x_all = fixed_test_subset(sched.offset_images)
    values = bounds_from_log_weights(model, x_all, OFFSET_SAMPLES, [OFFSET_SAMPLES], generator)[OFFSET_SAMPLES]
    subset, everything = mean_and_se(values[:sched.test_images]), mean_and_se(values)
    return {"samples": OFFSET_SAMPLES, "images": sched.offset_images, "subset_images": sched.test_images,
            "mean_subset": round(float(subset[0]), 4), "mean_all": round(float(everything[0]), 4),
            "se_all": round(float(everything[1]), 4), "offset": round(float(subset[0] - everything[0]), 4)}


def paired_differences(models: list[dict[str, Any]], baseline: str) -> dict[str, dict[str, float]]:
    """test_ll(model) - test_ll(baseline) per image, averaged, with its paired standard error, for every other
    model: {"<model> - <baseline>": {"mean", "se"}}. The error bar covers the test images' noise (the same
    images for both models), not the variation between training seeds."""
    base = next(m for m in models if m["model_id"] == baseline)["test_ll_per_image"]
    out = {}
    for entry in models:
        if entry["model_id"] != baseline:
            diff = torch.tensor(entry["test_ll_per_image"], dtype=torch.float64) - torch.tensor(base, dtype=torch.float64)
            mean, se = mean_and_se(diff)
            out[f"{entry['model_id']} - {baseline}"] = {"mean": round(float(mean), 4), "se": round(float(se), 4)}
    return out


def run(budget: str, out_dir: Path) -> dict[str, Any]:
    """Train and evaluate the models of ``budget``; checkpoints go to out_dir/checkpoints/iwae/."""
    sched = SCHEDULES[budget]
    x_train = load_mnist("train")[0][:sched.train_images]
    x_test = fixed_test_subset(sched.test_images)
    models = [_train_one(mid, sched, x_train, Path(out_dir), x_test) for mid in sched.models]
    return {"config": config(budget), "test_data_sha256": data_sha256("test"),
            "paired_differences": paired_differences(models, "vae_k1"), "models": models, "seeds": {m["model_id"]: m["seed"] for m in models},
            "eval_generator_tags": {m["model_id"]: f"iwae.eval.{m['model_id']}" for m in models},
            "threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}


__all__ = ["SCHEDULES", "config", "run", "bounds_from_log_weights", "EVAL_KS", "RUN_TIME"]
