"""Exercise specs of lesson ``08_rate_and_distortion``.

beta_loss        the β-VAE training loss for a batch: mean_b [-recon_b + β kl_b], recon and kl of shape (B,) -> scalar;
                 run on seeded float64 cases.
rd_bits          rate and distortion read off the stored β = 1 model on the first 100 fixed-binarized test images,
                 R in closed form, D from one given draw per image, both in bits (÷ ln 2): {"rate", "distortion"};
                 rtol 1e-4 (a float32 network).
binary_entropy   H_b(p) = -p log p - (1 - p) log(1 - p) elementwise, in nats, with 0 log 0 = 0 (so H_b(0) = H_b(1) = 0);
                 run on cases that include 0 and 1.
ends             predict-then-check with the stored sweep: the marginal KL of the smallest β, I(n; z) of the largest β
                 (both read off the stored points, tolerance 0.01 nats) and which part of the curve gives good
                 samples from the prior (a choice).

References are direct float64 computations; the stored numbers come from ``results/rate_distortion.json``.
"""
from __future__ import annotations

import math

import torch

from ...runtime import rng
from ..check import register

LESSON = "08_rate_and_distortion"
END_CHOICES = ("the autoencoding end", "the collapse end", "in between")


def beta_loss_reference(recon: torch.Tensor, kl: torch.Tensor, beta: float) -> torch.Tensor:
    """mean_b [-recon_b + beta kl_b]: a 0-d float64 tensor."""
    return (-recon.double() + beta * kl.double()).mean()


def _beta_cases() -> list[tuple]:
    g = rng(f"{LESSON}:beta_cases", seed=0)
    cases = []
    for b, beta in ((5, 1.0), (7, 0.1), (3, 10.0), (1, 2.5)):
        recon = -100 - 20 * torch.rand(b, generator=g, dtype=torch.float64)
        cases.append((recon, 25 * torch.rand(b, generator=g, dtype=torch.float64), beta))
    return cases


def _beta_wrong() -> list:
    def on_recon(recon, kl, beta):
        return (-beta * recon.double() + kl.double()).mean()

    def summed(recon, kl, beta):
        return (-recon.double() + beta * kl.double()).sum()

    def elbo_not_loss(recon, kl, beta):
        return (recon.double() - beta * kl.double()).mean()

    return [on_recon, summed, elbo_not_loss]


def binary_entropy_reference(p: torch.Tensor) -> torch.Tensor:
    """H_b(p) elementwise in nats, 0 at p = 0 and p = 1; float64."""
    p = p.double()
    inner = p.clamp(1e-300, 1 - 1e-16)
    out = -(p * inner.log() + (1 - p) * torch.log1p(-inner))
    return torch.where((p == 0) | (p == 1), torch.zeros_like(p), out)


def _entropy_cases() -> list[tuple]:
    g = rng(f"{LESSON}:entropy_cases", seed=0)
    return [(torch.tensor([0.0, 0.5, 1.0, 0.1, 0.999], dtype=torch.float64),),
            (torch.rand(4, 6, generator=g, dtype=torch.float64),),
            (torch.tensor([[0.0, 1.0], [0.25, 0.75]], dtype=torch.float64),)]


def _entropy_wrong() -> list:
    def bits(p):
        return binary_entropy_reference(p) / math.log(2)

    def one_term(p):
        p = p.double()
        return torch.where(p > 0, -p * p.clamp_min(1e-300).log(), torch.zeros_like(p))

    def naive(p):
        p = p.double()
        return -(p * p.log() + (1 - p) * (1 - p).log())

    return [bits, one_term, naive]


def _stored_points() -> dict[float, dict]:
    from ...experiments import load_results

    return {p["beta"]: p for p in load_results("rate_distortion", "full")["points"]}


RD_IMAGES = 100


def rd_inputs() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """(the stored β = 1 model, the first 100 fixed-binarized test images, eps (100, 20) standard normal draws from
    ``rng("08_rate_and_distortion:rd_eps", seed=0)``): what the notebook's context cell loads for Exercise 8.2."""
    from ...data import fixed_test_subset
    from ...experiments import load_model, load_results

    model = load_model(load_results("rate_distortion", "full"), "beta_1")
    eps = torch.randn(RD_IMAGES, model.latent_dim, generator=rng(f"{LESSON}:rd_eps", seed=0))
    return model, fixed_test_subset(RD_IMAGES), eps


def rd_of_model(model: torch.nn.Module, x: torch.Tensor, eps: torch.Tensor) -> dict[str, float]:
    """{"rate", "distortion"} in BITS: R = mean_n KL(q(z|x_n) ‖ N(0, I)) in closed form, D = -mean_n log p(x_n | z_n)
    with z_n = mu_n + exp(logvar_n / 2) eps_n, both divided by ln 2; float64 from the float32 network outputs."""
    with torch.no_grad():
        mu, logvar = (t.double() for t in model.encode(x))
        kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(1)
        logits = model.decode((mu + (0.5 * logvar).exp() * eps.double()).float()).double()
        log_px = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x.double(), reduction="none").sum(1)
    return {"rate": float(kl.mean()) / math.log(2), "distortion": float(-log_px.mean()) / math.log(2)}


def _rd_bits() -> dict[str, float]:
    return rd_of_model(*rd_inputs())


def _ends() -> dict:
    points = _stored_points()
    return {"autoencoding_marginal_kl": points[min(points)]["marginal_kl"],
            "collapse_mutual_info": points[max(points)]["mutual_info"], "good_samples": "in between"}


# Exercise 8.2's typical slips, computed from the stored β = 1 model (a test recomputes them).
_RD = {"rate_nats": 19.778957275521254, "distortion_nats": 73.84960187853002, "rate_bits": 28.535003575349197,
       "distortion_bits": 106.54245440177955, "distortion_at_mean_bits": 98.85358928930279,
       "distortion_std_as_var_bits": 99.36150436449631}
# The stored numbers the wrong answers are built from (a test checks them against results/rate_distortion.json).
_STORED = {"marginal_kl_min_beta": 60.349057312809094, "mutual_info_min_beta": 11.002099841204238,
           "mutual_info_max_beta": 0.00012139396744004216, "marginal_kl_max_beta": 8.969597181116384e-06}

register(f"{LESSON}-beta_loss", answer="beta_loss", difficulty=1, cases=_beta_cases, reference=beta_loss_reference, rtol=1e-9,
         atol=1e-10, wrong=_beta_wrong(),
         hint="The β-VAE minimises D + β R per image: minus the reconstruction term plus β times the KL term, "
              "averaged (not summed) over the batch, returned as one number (a 0-d tensor).")

register(f"{LESSON}-rd_bits", answer="rd_bits", difficulty=2, expected=_rd_bits, rtol=1e-4, atol=1e-6,
         wrong=[{"rate": _RD["rate_nats"], "distortion": _RD["distortion_nats"]},
                {"rate": _RD["rate_bits"], "distortion": _RD["distortion_at_mean_bits"]},
                {"rate": _RD["rate_bits"], "distortion": _RD["distortion_std_as_var_bits"]},
                {"rate": _RD["distortion_bits"], "distortion": _RD["rate_bits"]}],
         hint="R: the closed-form KL of a diagonal Gaussian to N(0, I), ½ Σ_i (μ_i² + σ_i² − log σ_i² − 1), averaged "
              "over the images. D: minus the Bernoulli log-likelihood of each image under the decoder's logits at "
              "z = μ + σ ε (σ = exp(½ log σ²)), averaged. One bit is ln 2 ≈ 0.693 nats: divide by ln 2.")

register(f"{LESSON}-binary_entropy", answer="binary_entropy", difficulty=1, cases=_entropy_cases, reference=binary_entropy_reference,
         rtol=1e-9, atol=1e-12, wrong=_entropy_wrong(),
         hint="H_b(p) = −p log p − (1 − p) log(1 − p), natural logs. At p = 0 or p = 1 one factor is 0 and the "
              "other log is −∞; the limit is 0, so set those entries to 0 explicitly instead of computing 0 times −∞.")

register(f"{LESSON}-ends", answer="ends", difficulty=2, expected=_ends, rtol=0.0, atol=0.01, choices=END_CHOICES,
         wrong=[{"autoencoding_marginal_kl": _STORED["marginal_kl_min_beta"],
                 "collapse_mutual_info": _STORED["mutual_info_max_beta"], "good_samples": "the autoencoding end"},
                {"autoencoding_marginal_kl": _STORED["mutual_info_min_beta"],
                 "collapse_mutual_info": _STORED["mutual_info_max_beta"], "good_samples": "in between"},
                {"autoencoding_marginal_kl": _STORED["marginal_kl_min_beta"],
                 "collapse_mutual_info": _STORED["marginal_kl_max_beta"], "good_samples": "the collapse end"}],
         hint="Prior samples are decoded draws z ~ p(z). They look like training digits only where q(z) covers "
              "p(z) (a small marginal KL) and where the code still carries information about the image "
              "(I(n; z) well above 0). Read both numbers at each end of the sweep.")
