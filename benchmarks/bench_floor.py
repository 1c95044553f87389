"""Training and evaluation against the hardware: the GEMM floor of an epoch and of the L_5000 estimator.

The floor is the time the matrix products alone take, measured in this run at exactly the shapes the work
uses, with the same thread count:

    epoch of ``fit`` (the d = 20 Hoffman & Johnson VAE, 784-500-500-2d / d-500-500-784, batch B)
        per step and layer (in -> out): forward (B, in) @ (in, out); weight gradient (out, B) @ (B, in);
        input gradient (B, out) @ (out, in), except for the first layer (x needs no gradient)
        FLOPs per image = 3 * sum_layers 2 * in * out - 2 * 784 * 500
    L_5000 per 1,000 test images (Burda et al.'s 784-200-200-100 / 50-200-200-784 network, ``VAE.log_likelihood``)
        encoder forward once per image; decoder forward on K x B rows per chunk (no backward)

Printed: the floor in fp32 and (where the CPU has AVX512-BF16 or AMX) in bf16 with the sgemm rate it implies,
the measured time of ``fit`` for one epoch (fp32 and bf16 autocast) and of the estimator, and their ratios to
the floor. Repetitions alternate between the arms; medians are reported.
Usage: ``python -m benchmarks.bench_floor [--quick] [--rounds R] [--threads T]``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from elbo_course.data import fixed_test_subset, load_mnist  # noqa: E402
from elbo_course.models import VAE  # noqa: E402
from elbo_course.train import fit  # noqa: E402

TRAIN_LAYERS = [(784, 500), (500, 500), (500, 40), (20, 500), (500, 500), (500, 784)]  # d = 20
EVAL_DECODER = [(50, 200), (200, 200), (200, 784)]  # Burda et al., d = 50
EVAL_ENCODER = [(784, 200), (200, 200), (200, 100)]


def bf16_supported() -> bool:
    """True when this CPU multiplies bf16 matrices natively (AVX512-BF16 or AMX)."""
    capability = torch.backends.cpu.get_cpu_capability()
    try:
        flags = open("/proc/cpuinfo", encoding="utf-8").read()
    except OSError:
        flags = ""
    return "avx512_bf16" in flags or "amx_bf16" in flags or capability == "AMX"


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step_products(batch: int, dtype: torch.dtype) -> tuple[float, float]:
    """(seconds, FLOPs) of every matrix product of one training step at ``batch``."""
    g = torch.Generator().manual_seed(0)
    mats = []
    flops = 0.0
    for i, (n_in, n_out) in enumerate(TRAIN_LAYERS):
        x = torch.randn(batch, n_in, generator=g).to(dtype)
        w = torch.randn(n_in, n_out, generator=g).to(dtype)
        dy = torch.randn(batch, n_out, generator=g).to(dtype)
        mats.append((x, w, dy, i > 0))
        flops += 2 * batch * n_in * n_out * (3 if i > 0 else 2)

    def step() -> None:
        for x, w, dy, needs_input_grad in mats:
            x @ w
            dy.T @ x
            if needs_input_grad:
                dy @ w.T

    return _median_seconds(step, 20), flops


def estimator_products(images: int, samples: int, batch: int, chunk_rows: int) -> tuple[float, float]:
    """(seconds, FLOPs) of the matrix products of L_samples over ``images`` in fp32 (decoder on chunks of rows)."""
    g = torch.Generator().manual_seed(1)
    rows = chunk_rows
    dec = [(torch.randn(rows, a, generator=g), torch.randn(a, b, generator=g)) for a, b in EVAL_DECODER]
    enc = [(torch.randn(batch, a, generator=g), torch.randn(a, b, generator=g)) for a, b in EVAL_ENCODER]
    passes = (images // batch) * (samples * batch // rows)
    per_pass = _median_seconds(lambda: [x @ w for x, w in dec], 5)
    per_batch = _median_seconds(lambda: [x @ w for x, w in enc], 20)
    flops = passes * sum(2 * rows * a * b for a, b in EVAL_DECODER) + (images // batch) * sum(
        2 * batch * a * b for a, b in EVAL_ENCODER)
    return passes * per_pass + (images // batch) * per_batch, flops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_floor", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="12,000 training images and 200 test images")
    parser.add_argument("--rounds", type=int, default=3, help="alternating repetitions of each arm")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("ELBO_COURSE_THREADS", 2)))
    args, _ = parser.parse_known_args(argv)
    torch.set_num_threads(args.threads)
    n_train, n_test = (12_000, 200) if args.quick else (60_000, 1000)
    grey = load_mnist("train")[0][:n_train].clone()
    steps = -(-n_train // args.batch)
    bf16 = bf16_supported()
    print(f"torch {torch.__version__}, {args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, bf16 matmul {'yes' if bf16 else 'no'}, "
          f"load average {os.getloadavg()[0]:.1f}")
    precisions = ["fp32", "bf16"] if bf16 else ["fp32"]
    floor, fit_times = {p: [] for p in precisions}, {p: [] for p in precisions}
    flops = 0.0
    for round_ in range(args.rounds):
        for p in precisions if round_ % 2 == 0 else precisions[::-1]:
            seconds, flops = train_step_products(args.batch, torch.bfloat16 if p == "bf16" else torch.float32)
            floor[p].append(seconds * steps)
            torch.manual_seed(round_)
            model = VAE(20)
            start = time.perf_counter()
            fit(model, grey, epochs=1, batch_size=args.batch, seed=round_, device="cpu", progress=False, precision=p)
            fit_times[p].append(time.perf_counter() - start)
    epoch_flops = flops * steps
    print(f"epoch of fit, d = 20, {n_train:,} images, batch {args.batch}: {epoch_flops / 1e9:.0f} GFLOP of matrix products")
    for p in precisions:
        f, t = statistics.median(floor[p]), statistics.median(fit_times[p])
        print(f"  {p}: GEMM floor {f:6.2f} s ({epoch_flops / f / 1e9:5.0f} GFLOP/s); fit {t:6.2f} s = "
              f"{t / f:4.1f}x the floor")
    if bf16:
        print(f"  bf16 autocast epoch / fp32 epoch: {statistics.median(fit_times['bf16']) / statistics.median(fit_times['fp32']):.2f}")

    torch.manual_seed(0)
    net = VAE(50, hidden=(200, 200), activation="tanh").eval()
    x = fixed_test_subset(n_test)
    samples, batch = 5000, 100
    chunk_rows = max(1, 20_000 // batch) * batch
    est_floor, est_flops = estimator_products(n_test, samples, batch, chunk_rows)
    start = time.perf_counter()
    net.log_likelihood(x, k=samples, generator=torch.Generator().manual_seed(0), batch_size=batch)
    est_time = time.perf_counter() - start
    per = 1000 / n_test
    print(f"L_5000 on {n_test:,} test images (d = 50 network): {est_flops / 1e9:.0f} GFLOP; GEMM floor "
          f"{est_floor:.1f} s, measured {est_time:.1f} s = {est_time / est_floor:.1f}x the floor "
          f"(per 1,000 images: floor {est_floor * per:.1f} s, measured {est_time * per:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
