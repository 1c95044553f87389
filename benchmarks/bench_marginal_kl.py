"""Benchmark: Monte Carlo marginal KL(q(z) ‖ N(0, I)) for an aggregate posterior of N = 60,000 Gaussians.

KL(q(z) ‖ p(z)) ≈ (1/M) Σ_m [log q(z_m) - log p(z_m)], q(z) = (1/N) Σ_n N(z; mu_n, diag exp logvar_n).

Compared, each in a fresh subprocess (so that ru_maxrss is the peak of that computation alone):
    chunked64   elbo_course.surgery.aggregate_log_density, float64 blocks, all M samples
    chunked32   the same with float32 matmul/exponentials and float64 accumulation
    slice-*     chunked and naive on the first ``slice`` samples only; the naive version builds the full
                (M, N, d) float64 tensor and calls torch.logsumexp (on all M it would need M·N·d·8 bytes,
                about 96 GB for M = 10,000, N = 60,000, d = 20, so it runs on a slice where it fits).
Rounds are interleaved (every method once per round) and the report gives medians and ratios, which
are steadier than raw times on a shared machine; CPU seconds (all threads) are reported beside wall time. Run: ``python -m benchmarks.bench_marginal_kl``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

METHODS = ("baseline", "chunked64", "chunked32", "slice-chunked", "slice-naive")


def _problem(n: int, m: int, d: int, seed: int):
    import torch

    from elbo_course.surgery import sample_aggregate

    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g)
    logvar = 0.3 * torch.randn(n, d, generator=g) - 1.0
    z = sample_aggregate(mu, logvar, m, g)
    return mu, logvar, z


def _naive_log_q(z, mu, logvar):
    """Direct float64 log q(z): the full (M, N, d) tensor, summed over d, then logsumexp over N."""
    import torch

    z, mu, lv = z.double()[:, None, :], mu.double()[None], logvar.double()[None]
    comp = (-0.5 * (math.log(2 * math.pi) + lv + (z - mu) ** 2 / lv.exp())).sum(-1)
    return torch.logsumexp(comp, dim=1) - math.log(mu.shape[1])


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux's VmHWM belongs to the current address space, so it starts afresh at exec; ru_maxrss does not
    (a worker forked from a large parent would report the parent's peak), so it is only the fallback.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux and BSD: kilobytes


def worker(method: str, n: int, m: int, d: int, slice_: int, seed: int) -> dict:
    """Run one method in this process; returns seconds, peak RSS (MB) and the estimate."""
    import torch

    from elbo_course.bounds import mean_and_se
    from elbo_course.distributions import standard_normal_log_prob
    from elbo_course.surgery import aggregate_log_density

    torch.set_num_threads(int(os.environ.get("ELBO_COURSE_THREADS", "2")))
    mu, logvar, z = _problem(n, m, d, seed)
    if method.startswith("slice"):
        z = z[:slice_]
    start, cpu_start = time.perf_counter(), time.process_time()
    if method == "baseline":
        log_q = torch.zeros(z.shape[0], dtype=torch.float64)
    elif method == "slice-naive":
        log_q = _naive_log_q(z, mu, logvar)
    else:
        dtype = torch.float32 if method == "chunked32" else torch.float64
        log_q = aggregate_log_density(z, mu, logvar, matmul_dtype=dtype)
    value, se = mean_and_se(log_q - standard_normal_log_prob(z.double()))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_mb = _peak_rss_mb()
    return {"method": method, "seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "value": float(value), "se": float(se),
            "samples": int(z.shape[0])}


def _run(method: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    cmd = [sys.executable, "-m", "benchmarks.bench_marginal_kl", "--worker", method, "--n", str(args.n),
           "--m", str(args.m), "--d", str(args.d), "--slice", str(args.slice), "--seed", str(args.seed)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark worker {method!r} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    """Interleaved rounds of every method; prints a table and returns the summary dict."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=60_000, help="mixture components N")
    p.add_argument("--m", type=int, default=10_000, help="Monte Carlo samples M")
    p.add_argument("--d", type=int, default=20, help="latent dimension d")
    p.add_argument("--slice", type=int, default=25, help="samples for the naive (M, N, d) comparison")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.m, args.d, args.slice, args.seed)))
        return {}
    runs: dict[str, list[dict]] = {k: [] for k in METHODS}
    for r in range(args.rounds):
        order = METHODS if r % 2 == 0 else tuple(reversed(METHODS))  # interleave, alternating order
        for method in order:
            runs[method].append(_run(method, args))
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in runs.items()}
    cpu = {k: statistics.median(x["cpu_seconds"] for x in v) for k, v in runs.items()}
    peak = {k: max(x["peak_mb"] for x in v) for k, v in runs.items()}
    ratios = {k: [c["seconds"] / b["seconds"] for b, c in zip(runs["slice-chunked"], runs["slice-naive"])]
              for k in ("naive/chunked per sample",)}
    ratios["chunked32/chunked64"] = [a["seconds"] / b["seconds"] for a, b in zip(runs["chunked32"], runs["chunked64"])]
    agree = abs(runs["slice-naive"][0]["value"] - runs["slice-chunked"][0]["value"])
    f32_gap = abs(runs["chunked32"][0]["value"] - runs["chunked64"][0]["value"])
    print(f"marginal KL, N={args.n}, M={args.m}, d={args.d}, threads={os.environ.get('ELBO_COURSE_THREADS', '2')}, "
          f"{args.rounds} interleaved rounds (medians)")
    print(f"  estimate (chunked64): {runs['chunked64'][0]['value']:.4f} ± {runs['chunked64'][0]['se']:.4f} (se)")
    for k in METHODS:
        extra = peak[k] - peak["baseline"]
        print(f"  {k:14s} {med[k]:8.2f} s wall {cpu[k]:8.2f} s CPU   peak RSS {peak[k]:7.0f} MB (+{extra:6.0f} MB over imports), "
              f"{runs[k][0]['samples']} samples")
    for k, v in ratios.items():
        print(f"  ratio {k:26s} median {statistics.median(v):6.2f}  (rounds: {', '.join(f'{x:.2f}' for x in v)})")
    per_sample = med["slice-naive"] / args.slice * args.m
    print(f"  naive extrapolated to M={args.m}: ~{per_sample:.0f} s and {args.m * args.n * args.d * 8 / 1e9:.0f} GB "
          f"for the (M, N, d) tensor; chunked: {med['chunked64']:.1f} s")
    print(f"  agreement on the slice |naive - chunked| = {agree:.2e}; |float32 - float64| = {f32_gap:.2e}")
    if agree > 1e-8:
        raise AssertionError(f"chunked and naive marginal KL disagree by {agree:.3e} on the same samples")
    return {"median_seconds": med, "median_cpu_seconds": cpu, "peak_mb": peak, "ratios": ratios, "agreement": agree, "float32_gap": f32_gap}


if __name__ == "__main__":
    main()
