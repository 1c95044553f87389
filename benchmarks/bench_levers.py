"""Which speed levers pay, judged by what a learner gets: the ELBO a model reaches in a fixed training time.

Each arm trains the d = 20 Hoffman & Johnson VAE (784-500-500-40 / 20-500-500-784, softplus, the ``surgery``
experiment's network) on all 60,000 dynamically binarized training images with ``fit(time_limit=T)``, then
evaluates in float32 on the fixed binarization of the first 1,000 test images: the ELBO (closed-form KL,
R = 8 reconstruction draws per image, the same draws for every arm) and its standard error over images.
Arms alternate (seed 0 of every arm, then seed 1, ...) so that load from other processes hits them alike.

    fp32        batch 100, Adam lr 1e-3, float32 throughout
    bf16        the same with bfloat16 matrix products under autocast (float32 weights and loss)
    fp32-b250   batch 250, lr 1e-3 · sqrt(2.5) (fewer, larger steps)  -- with --batch-arms
    bf16-b250   likewise in bf16                                      -- with --batch-arms

Prints one row per run and per arm (mean over seeds, and the spread between seeds), and writes them to
``--out`` (JSON). Usage: ``python -m benchmarks.bench_levers [--minutes 10] [--seeds 2] [--batch-arms]``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from elbo_course.bounds import mean_and_se  # noqa: E402
from elbo_course.data import fixed_test_subset, load_mnist  # noqa: E402
from elbo_course.fileio import atomic_write  # noqa: E402
from elbo_course.models import VAE  # noqa: E402
from elbo_course.train import fit  # noqa: E402

ARMS = {"fp32": (100, 1e-3, "fp32"), "bf16": (100, 1e-3, "bf16")}
BATCH_ARMS = {"fp32-b250": (250, 1e-3 * math.sqrt(2.5), "fp32"), "bf16-b250": (250, 1e-3 * math.sqrt(2.5), "bf16")}


@torch.no_grad()
def test_elbo(model: VAE, x: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error over images of the float32 ELBO, R = 8 draws per image (fixed generator)."""
    model.eval()
    values = model.elbo(x, k=8, generator=torch.Generator().manual_seed(12345)).double()
    mean, se = mean_and_se(values)
    return float(mean), float(se)


def run_arm(name: str, seed: int, minutes: float, grey: torch.Tensor, x_test: torch.Tensor) -> dict:
    batch, lr, precision = {**ARMS, **BATCH_ARMS}[name]
    torch.manual_seed(1000 + seed)
    model = VAE(20)
    history = fit(model, grey, epochs=10_000, batch_size=batch, lr=lr, seed=seed, device="cpu", progress=False,
                  time_limit=60 * minutes, precision=precision)
    elbo, se = test_elbo(model, x_test)
    return {"arm": name, "seed": seed, "batch_size": batch, "lr": lr, "precision": precision,
            "minutes": minutes, "epochs": len(history["epoch"]), "steps": history["steps"],
            "seconds_per_epoch": round(statistics.median(history["seconds"][:-1] or history["seconds"]), 2),
            "test_elbo": round(elbo, 3), "test_elbo_se": round(se, 3), "load_average": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_levers", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training time per run")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch-arms", action="store_true", help="also batch 250 in fp32 and bf16")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ELBO_COURSE_THREADS", 2)))
    parser.add_argument("--out", default="build/bench_levers.json")
    args, _ = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    grey, x_test = load_mnist("train")[0], fixed_test_subset(1000)
    arms = list(ARMS) + (list(BATCH_ARMS) if args.batch_arms else [])
    print(f"{args.minutes:g} minutes per run, {args.threads} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}, torch {torch.__version__}", flush=True)
    rows = []
    for seed in range(args.seeds):
        for name in arms if seed % 2 == 0 else arms[::-1]:
            started = time.perf_counter()
            row = run_arm(name, seed, args.minutes, grey, x_test)
            rows.append(row)
            atomic_write(args.out, json.dumps(rows, indent=1) + "\n")
            print(f"  {name:10s} seed {seed}: {row['epochs']:4d} epochs ({row['seconds_per_epoch']:.2f} s each), "
                  f"test ELBO {row['test_elbo']:.2f} ± {row['test_elbo_se']:.2f}  "
                  f"[{time.perf_counter() - started:.0f} s, load {row['load_average']:.1f}]", flush=True)
    print("arm          epochs   test ELBO (mean of seeds)   seed-to-seed range")
    for name in arms:
        mine = [r for r in rows if r["arm"] == name]
        values = [r["test_elbo"] for r in mine]
        print(f"{name:10s} {statistics.mean(r['epochs'] for r in mine):8.0f}   {statistics.mean(values):10.2f}"
              f"                  {max(values) - min(values):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
