"""Training loop for the VAE: Adam on the negative ELBO / IWAE bound with dynamic binarization.

Per step (B images x_b, K samples, KL weight beta_t):
    "elbo"      loss = -1/B sum_b [ 1/K sum_k log p(x_b|z_bk) - beta_t KL(q(z|x_b) || p(z)) ]
    "averaged"  loss = -1/B sum_b 1/K sum_k log w_bk                    (Burda et al.'s "VAE, k")
    "iwae"      loss = -1/B sum_b log 1/K sum_k w_bk                    (the K-sample IWAE bound)
with log w = log p(x|z) + beta_t [log p(z) - log q(z|x)]. During ``warmup_epochs`` the KL weight grows
linearly per step, beta_t = beta * min(1, t / (warmup_epochs * steps_per_epoch)).

Data: ``x_train`` (N, 784) grey levels byte/255 in [0, 1]. Each epoch draws one index permutation and a
fresh binarization x ~ Bernoulli(grey) of the permuted set, in blocks (no DataLoader, no per-item Python).
Everything is seeded from ``seed``: on the CPU two runs with the same arguments give identical weights.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from . import runtime
from .bounds import averaged_elbo, iwae_bound
from .data import binarize
from .fileio import atomic_torch_save
from .models import VAE

OBJECTIVES = ("elbo", "iwae", "averaged")
PRECISIONS = ("fp32", "bf16")
_BLOCK_ROWS = 10_000  # rows binarized per call: vectorized, yet only ~100 MB of temporaries


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; anything else is passed to torch.device."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def training_loss(model: VAE, x: Tensor, objective: str = "elbo", k: int = 1, beta: float = 1.0,
                  generator: torch.Generator | None = None) -> Tensor:
    """Scalar loss = minus the batch mean of the objective (see the module docstring); x (B, 784) binary.

    "elbo" is ``model.elbo`` (closed-form KL where the prior has one); "averaged" and "iwae" apply
    ``bounds.averaged_elbo`` and ``bounds.iwae_bound`` to ``model.log_weights`` (K, B).
    """
    if objective == "elbo":
        return -model.elbo(x, beta=beta, k=k, generator=generator).mean()
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}.")
    log_w = model.log_weights(x, k=k, generator=generator, beta=beta)
    bound = averaged_elbo(log_w) if objective == "averaged" else iwae_bound(log_w)
    return -bound.mean()


def _fit_signature(model: VAE, n: int, args: dict[str, Any]) -> str:
    blob = json.dumps({"model": model.config, "n": n, **args}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def fit(model: VAE, x_train: Tensor, *, epochs: int, batch_size: int = 100, lr: float = 1e-3,
        beta: float = 1.0, warmup_epochs: int = 0, objective: str = "elbo", k: int = 1, seed: int = 0,
        device: str | torch.device = "auto", progress: bool = True, checkpoint_path: str | os.PathLike | None = None,
        time_limit: float | None = None, lr_schedule: Callable[[int], float] | None = None,
        adam_eps: float = 1e-8, precision: str = "fp32",
        on_epoch: Callable[[VAE], dict[str, float]] | None = None) -> dict[str, Any]:
    """Train ``model`` in place with Adam; return the history dict.

    x_train: (N, 784) grey levels in [0, 1] (byte/255; uint8 bytes are divided by 255), binarized afresh
    every epoch.
    lr_schedule: optional epoch -> learning rate (overrides ``lr`` from that epoch on).
    checkpoint_path: resume file (model, optimizer and generator state after each epoch; keep it out of
    git, e.g. ``*.resume.pt``); a matching file resumes training where it stopped, so an interrupted run
    ends with the same weights as an uninterrupted one.
    time_limit: seconds for this call; training stops after the first batch that ends past it
    (``history["stopped"] = "time_limit"``; the partial epoch is recorded but not checkpointed).
    precision: "fp32", or "bf16" for mixed precision: the matrix products run in bfloat16 under autocast
    while the weights (and Adam's state) stay float32 and the loss is computed in float32 (the networks
    return float32 outputs). Evaluation is unaffected: call the model outside ``fit``.
    on_epoch: optional ``model -> {name: number}`` called in eval mode after each full epoch (e.g. the test
    ELBO for a learning curve); its results are listed in ``history["on_epoch"]`` and its time is not
    counted in ``seconds``.
    History keys: epoch, loss (mean training loss per epoch), beta, lr, seconds (per epoch),
    elapsed, steps, stopped (None | "time_limit"), objective, k, device, precision, on_epoch.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, not {objective!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}.")
    if x_train.ndim != 2:
        raise ValueError(f"x_train must have shape (N, 784), got {tuple(x_train.shape)}.")
    dev = resolve_device(device)
    model.to(dev).train()
    grey = x_train.to(dev, torch.float32)
    if x_train.dtype == torch.uint8:  # raw bytes: grey level = byte / 255
        grey = grey / 255
    if grey.numel() and (grey.min() < 0 or grey.max() > 1):
        raise ValueError("x_train must hold grey levels in [0, 1] (byte/255, e.g. load_mnist('train')[0]).")
    n = grey.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    warmup_steps = warmup_epochs * steps_per_epoch
    generator = torch.Generator(device=dev).manual_seed(int(seed))
    fused = dev.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, eps=adam_eps, fused=fused)
    history: dict[str, Any] = {"epoch": [], "loss": [], "beta": [], "lr": [], "seconds": [], "elapsed": 0.0,
                               "steps": 0, "stopped": None, "objective": objective, "k": k, "device": str(dev),
                               "precision": precision, "on_epoch": []}
    signature = _fit_signature(model, n, {"batch_size": batch_size, "lr": lr, "beta": beta, "seed": seed,
                                          "warmup_epochs": warmup_epochs, "objective": objective, "k": k,
                                          "precision": precision, "on_epoch": []})
    start_epoch = 0
    if checkpoint_path is not None and Path(checkpoint_path).is_file():
        state = torch.load(checkpoint_path, map_location=dev, weights_only=True)
        if state.get("signature") == signature:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"].cpu())
            history = state["history"]
            start_epoch = len(history["epoch"])
        else:
            warnings.warn(f"{checkpoint_path} was written by a run with other arguments; training from scratch "
                          "and overwriting it.", stacklevel=2)
    torch.set_flush_denormal(True)  # this thread only: see runtime.flush_denormals_in_this_process
    bar = _progress_bar(epochs, start_epoch, progress)
    started = time.perf_counter() - history["elapsed"]  # elapsed counts earlier (resumed) sessions too
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            if lr_schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = float(lr_schedule(epoch))
            total, seen, beta_t = 0.0, 0, beta
            perm = torch.randperm(n, generator=generator, device=dev)
            for block in range(0, n, _BLOCK_ROWS):
                xs = binarize(grey.index_select(0, perm[block:block + _BLOCK_ROWS]), generator)
                for s in range(0, xs.shape[0], batch_size):
                    xb = xs[s:s + batch_size]
                    step = history["steps"]
                    beta_t = beta * min(1.0, step / warmup_steps) if warmup_steps else beta
                    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                        loss = training_loss(model, xb, objective, k, beta_t, generator)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    history["steps"] = step + 1
                    total += loss.detach() * xb.shape[0]
                    seen += xb.shape[0]
                    if deadline is not None and time.perf_counter() > deadline:
                        history["stopped"] = "time_limit"
                        break
                if history["stopped"]:
                    break
            history["epoch"].append(epoch + 1)
            history["loss"].append(float(total) / max(seen, 1))
            history["beta"].append(beta_t)
            history["lr"].append(optimizer.param_groups[0]["lr"])
            history["seconds"].append(time.perf_counter() - t0)
            history["elapsed"] = time.perf_counter() - started
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{history['loss'][-1]:.2f}")
            if history["stopped"]:
                break
            if on_epoch is not None:
                model.eval()
                with torch.no_grad():
                    history["on_epoch"].append({k: float(v) for k, v in on_epoch(model).items()})
                model.train()
                spent = time.perf_counter() - t0 - history["seconds"][-1]  # evaluation is not training time
                started += spent
                deadline = None if deadline is None else deadline + spent
            if checkpoint_path is not None:
                atomic_torch_save({"signature": signature, "model": model.state_dict(),
                                   "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
                                   "history": history}, checkpoint_path)
    finally:
        torch.set_flush_denormal(runtime.flush_denormal_default())
        if bar is not None:
            bar.close()
    model.eval()
    return history


def _progress_bar(epochs: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=epochs, initial=initial, desc="epochs", unit="epoch", leave=False)
