"""Lesson 07, part 1: the aggregate posterior q(z) of a trained VAE used as its prior, image by image.

For a VAE with prior p(z) = N(0, I), encoder q(z | x) and the aggregate posterior of the N training images
q(z) = (1/N) Σ_n q(z | x_n), one draw z_n ~ q(z | x_n) per image n gives the two single-sample ELBOs

    ELBO_p(x_n)  = log p(x_n | z_n) + log p(z_n) - log q(z_n | x_n)
    ELBO_q(x_n)  = log p(x_n | z_n) + log q(z_n) - log q(z_n | x_n)        (the prior swapped for q(z))

from the SAME draw, so their paired difference (the gain) is log q(z_n) - log p(z_n). Averaged over the
training images the gain estimates E_q(z)[log q(z) - log p(z)] = KL(q(z) ‖ p(z)), the marginal KL of
lesson 06 (here with one draw per image, not lesson 06's draws from the mixture). On test images x_t
the prior is still the training mixture q(z), evaluated at z_t ~ q(z | x_t). The leave-one-out density
q₋ₙ(z) = (1/(N-1)) Σ_{n' ≠ n} q(z | x_n') removes each training image's own component.
Every log q(z) is a log-sum-exp over all N components (``surgery.aggregate_log_density``).
"""
from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor

from ..bounds import mean_and_se
from ..distributions import DiagonalGaussian, bernoulli_log_likelihood, standard_normal_log_prob
from ..models import VAE, encode_dataset
from ..surgery import aggregate_log_density


@torch.no_grad()
def single_draw_terms(model: VAE, x: Tensor, generator: torch.Generator, batch_size: int = 1000
                      ) -> dict[str, Tensor]:
    """One draw z_n ~ q(z | x_n) per image: {"z" (N, d), "log_px_z", "log_qz_x", "log_pz"} (N,) float64."""
    mu, logvar = encode_dataset(model, x, batch_size)
    z = DiagonalGaussian(mu, logvar).sample(generator=generator)
    recon = torch.cat([bernoulli_log_likelihood(model.decode(z[s:s + batch_size]), x[s:s + batch_size])
                       for s in range(0, x.shape[0], batch_size)])
    return {"z": z.double(), "log_px_z": recon.double(),
            "log_qz_x": DiagonalGaussian(mu.double(), logvar.double()).log_prob(z.double()),
            "log_pz": standard_normal_log_prob(z.double())}


def _summary(values: Tensor) -> tuple[float, float]:
    mean, se = mean_and_se(values)
    return float(mean), float(se)


def swap_prior(model: VAE, x_train: Tensor, x_test: Tensor, generator: torch.Generator,
               matmul_dtype: torch.dtype = torch.float64) -> dict[str, Any]:
    """The standard and swapped-prior ELBOs, their paired gains and the cost of log q(z), in nats.

    x_train (N, 784): the images whose encodings form q(z) (and on which the training gain is measured);
    x_test (T, 784): held-out images. Returns means and standard errors over images (se = s / √images):
    train_elbo_standard, train_elbo_aggregate, train_gain (= ELBO_q - ELBO_p on x_train), loo_gain (with
    q₋ₙ), test_elbo_standard, test_elbo_aggregate, test_gain, the fraction of training gain that leaving
    each image's own component out removes, and seconds_per_1000_log_q (one log q(z) = N components).
    """
    mu, logvar = encode_dataset(model, x_train)
    train = single_draw_terms(model, x_train, generator)
    test = single_draw_terms(model, x_test, generator)
    started = time.perf_counter()
    log_q_train = aggregate_log_density(train["z"], mu, logvar, matmul_dtype=matmul_dtype)
    seconds = time.perf_counter() - started
    own = torch.arange(x_train.shape[0])
    log_q_loo = aggregate_log_density(train["z"], mu, logvar, matmul_dtype=matmul_dtype, exclude=own)
    log_q_test = aggregate_log_density(test["z"], mu, logvar, matmul_dtype=matmul_dtype)
    out: dict[str, Any] = {"train_images": int(x_train.shape[0]), "test_images": int(x_test.shape[0]),
                           "latent_dim": int(mu.shape[1]), "draws_per_image": 1}
    for split, terms, log_q in (("train", train, log_q_train), ("test", test, log_q_test)):
        base = terms["log_px_z"] - terms["log_qz_x"]
        for name, value in ((f"{split}_elbo_standard", base + terms["log_pz"]),
                            (f"{split}_elbo_aggregate", base + log_q),
                            (f"{split}_gain", log_q - terms["log_pz"])):
            out[name], out[f"{name}_se"] = _summary(value)
    out["loo_gain"], out["loo_gain_se"] = _summary(log_q_loo - train["log_pz"])
    out["own_component_gain"], out["own_component_gain_se"] = _summary(log_q_train - log_q_loo)
    out["test_gain_positive_fraction"] = float((log_q_test > test["log_pz"]).double().mean())
    out["seconds_per_1000_log_q"] = round(1000 * seconds / x_train.shape[0], 3)
    return out
