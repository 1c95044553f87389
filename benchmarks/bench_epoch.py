"""One training epoch of the d = 20 Hoffman & Johnson VAE on the CPU: in-memory pipeline vs a DataLoader.

    ours        ``elbo_course.train.fit``: grey levels held as one (N, 784) float tensor, one index permutation
                per epoch, binarized in blocks of 10,000 rows, batches are slices (no per-image Python)
    dataloader  torchvision.datasets.MNIST(root, download=False) + ToTensor + flatten + Bernoulli binarize,
                DataLoader(batch_size=100, shuffle=True, num_workers=0)

Both train the same freshly initialized model with the same step (``training_loss`` + Adam) at batch size
100, so the ratio isolates the data pipeline. Runs alternate (ours, dataloader, dataloader, ours, ...) so
that load from other processes hits both alike; each pipeline reports its fastest run (wall clock and CPU time of
this process, which other processes disturb less) and the median.
A third arm (skip it with ``--no-baseline``) is a minimal hand-written PyTorch loop on the same in-memory data
(per-batch gather and torch.bernoulli, per-pixel loss terms, Adam's default for-loop step): ``fit`` against it
shows what the training-step choices buy.
Usage: ``python -m benchmarks.bench_epoch [--quick] [--no-baseline] [--images N] [--rounds R] [--threads T]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from elbo_course.data import default_root, load_mnist  # noqa: E402
from elbo_course.models import VAE  # noqa: E402
from elbo_course.train import fit, training_loss  # noqa: E402

BATCH = 100
LATENT = 20


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def epoch_ours(grey: torch.Tensor, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds for one epoch of ``fit`` over the rows of ``grey`` (N, 784)."""
    torch.manual_seed(seed)
    model = VAE(LATENT)
    start = _clock()
    fit(model, grey, epochs=1, batch_size=BATCH, seed=seed, device="cpu", progress=False)
    return _since(start)


def epoch_plain(grey: torch.Tensor, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds for the straightforward loop ``--baseline`` adds: same data in memory, but per batch
    an index gather and torch.bernoulli, the loss from (B, 784) per-pixel terms, and Adam's default step."""
    torch.manual_seed(seed)
    model = VAE(LATENT)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    start = _clock()
    order = torch.randperm(grey.shape[0], generator=generator)
    for s in range(0, grey.shape[0], BATCH):
        x = torch.bernoulli(grey[order[s:s + BATCH]], generator=generator)
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        recon = -F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none").sum(-1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        loss = -(recon - kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return _since(start)


def make_loader(n: int, seed: int) -> torch.utils.data.DataLoader:
    """The torchvision pipeline over the first n training images."""
    from torchvision import datasets, transforms

    binarize = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: torch.bernoulli(t.view(-1)))])
    dataset = datasets.MNIST(str(default_root()), train=True, download=False, transform=binarize)
    if n < len(dataset):
        dataset = torch.utils.data.Subset(dataset, range(n))
    return torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0,
                                       generator=torch.Generator().manual_seed(seed))


def epoch_dataloader(n: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds for one epoch with the DataLoader pipeline and the same model, loss and optimizer."""
    torch.manual_seed(seed)
    model = VAE(LATENT)
    loader = make_loader(n, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    generator = torch.Generator().manual_seed(seed)
    start = _clock()
    for x, _ in loader:
        loss = training_loss(model, x, "elbo", 1, 1.0, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return _since(start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_epoch", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6,000 images instead of 60,000")
    parser.add_argument("--images", type=int, default=None, help="images per epoch (default 60,000; --quick 6,000)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per pipeline, interleaved (default 2)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the straightforward hand-written training loop over the same in-memory data")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ELBO_COURSE_THREADS", 2)))
    args, _ = parser.parse_known_args(argv)
    n = args.images or (6_000 if args.quick else 60_000)
    torch.set_num_threads(args.threads)
    grey = load_mnist("train")[0][:n].clone()
    load_before = os.getloadavg()
    print(f"epoch of the d={LATENT} VAE (784-500-500-{2 * LATENT}, softplus), {n} images, batch {BATCH}, CPU; "
          f"torch {torch.__version__}, {args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {load_before[0]:.1f} on {os.cpu_count()} CPUs")
    pipelines = {"ours": lambda seed: epoch_ours(grey, seed), "dataloader": lambda seed: epoch_dataloader(n, seed)}
    if args.baseline:
        pipelines["plain loop"] = lambda seed: epoch_plain(grey, seed)
    epoch_ours(grey[:1000], 0), epoch_dataloader(1000, 0)  # warm-up: first-call initialization is not timed
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in pipelines}
    names = list(pipelines)
    for round_ in range(args.rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:  # rotate the order each round
            wall, cpu = pipelines[name](round_)
            times[name].append((wall, cpu))
            print(f"  round {round_ + 1} {name:10s} wall {wall:7.2f} s  CPU {cpu:7.2f} s", flush=True)
    scale = 60_000 / n
    best = {name: (min(w for w, _ in v), min(c for _, c in v)) for name, v in times.items()}
    for name, values in times.items():
        print(f"{name:10s} wall best {best[name][0]:7.2f} s, median {statistics.median(w for w, _ in values):7.2f} s;"
              f" CPU best {best[name][1]:7.2f} s  (per 60,000-image epoch: wall {best[name][0] * scale:6.1f} s)")
    print(f"speed-up of the in-memory pipeline: wall {best['dataloader'][0] / best['ours'][0]:.2f}x, "
          f"CPU time {best['dataloader'][1] / best['ours'][1]:.2f}x (best vs best); "
          f"load average now {os.getloadavg()[0]:.1f}")
    if args.baseline:
        print(f"speed-up over the plain loop: wall {best['plain loop'][0] / best['ours'][0]:.2f}x, "
              f"CPU time {best['plain loop'][1] / best['ours'][1]:.2f}x (best vs best)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
