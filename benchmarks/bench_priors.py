"""What a learned prior costs per training step (lesson 07), and why its density is one matrix product.

    step     one Adam step of the d = 40 Hoffman & Johnson VAE at batch 250 with p(z) = N(0, I), a mixture of
             C = 500 Gaussians and the VampPrior with C = 500 pseudo-inputs (which runs the encoder on the
             pseudo-inputs every step); rounds interleave the three priors, each reports its median
    density  log p(z) of a C = 500 mixture for 250 codes, with its gradient: the package's expanded-square
             matrix product (``surgery.mixture_log_density``) against a (B, C, d) broadcast of squared distances

Ratios within one run are the figures to read; absolute times swing with the machine's load.
Usage: ``python -m benchmarks.bench_priors [--quick] [--rounds R] [--threads T]``.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from elbo_course.distributions import DiagonalGaussian  # noqa: E402
from elbo_course.models import VAE  # noqa: E402
from elbo_course.priors import MixtureOfGaussians, VampPrior  # noqa: E402
from elbo_course.surgery import mixture_log_density  # noqa: E402

BATCH, LATENT, COMPONENTS = 250, 40, 500


def _model(prior: str) -> VAE:
    torch.manual_seed(0)
    made = {"standard": None, "mog": MixtureOfGaussians(LATENT, COMPONENTS),
            "vamp": VampPrior(LATENT, COMPONENTS)}[prior]
    return VAE(LATENT, prior=made)


def step_seconds(prior: str, steps: int) -> float:
    """Median seconds of one Adam step on the negative ELBO (random binary batch of 250)."""
    model = _model(prior)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    x = (torch.rand(BATCH, 784, generator=torch.Generator().manual_seed(1)) < 0.3).float()
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        loss = -model.elbo(x).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 3:  # warm-up steps are not timed
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def _broadcast(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    log_comp = DiagonalGaussian(mu[None], logvar[None]).log_prob(z[:, None, :])      # (B, C) via (B, C, d)
    return torch.logsumexp(log_comp, dim=1) - math.log(mu.shape[0])


def density_seconds(kind: str, repeats: int) -> float:
    """Median seconds of log p(z) and its backward pass for 250 codes and 500 components."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(BATCH, LATENT, generator=g, requires_grad=True)
    mu = torch.randn(COMPONENTS, LATENT, generator=g, requires_grad=True)
    logvar = (0.1 * torch.randn(COMPONENTS, LATENT, generator=g)).requires_grad_()
    fn = mixture_log_density if kind == "matmul" else _broadcast
    times = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        fn(z, mu, logvar).sum().backward()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ELBO_COURSE_THREADS", 2)))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps, rounds = (5, 1) if args.quick else (30, args.rounds)
    print(f"training step, d = {LATENT}, batch {BATCH}, C = {COMPONENTS}; {args.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, {rounds} interleaved rounds of {steps} steps")
    found: dict[str, list[float]] = {p: [] for p in ("standard", "mog", "vamp")}
    for r in range(rounds):
        for prior in (("standard", "mog", "vamp") if r % 2 == 0 else ("vamp", "mog", "standard")):
            found[prior].append(step_seconds(prior, steps))
    base = statistics.median(found["standard"])
    for prior, values in found.items():
        median = statistics.median(values)
        print(f"  {prior:>8}: {1000 * median:7.1f} ms per step = {median / base:4.2f} x the standard prior's")
    dens = {kind: density_seconds(kind, 5 if args.quick else 30) for kind in ("matmul", "broadcast")}
    print(f"mixture log-density with gradient, 250 codes x {COMPONENTS} components: matrix product "
          f"{1000 * dens['matmul']:.2f} ms, (B, C, d) broadcast {1000 * dens['broadcast']:.2f} ms "
          f"= {dens['broadcast'] / dens['matmul']:.1f} x")


if __name__ == "__main__":
    main()
