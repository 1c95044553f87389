"""`python -m benchmarks [--quick]`: run every benchmark module's main() in turn.

Modules are imported lazily, so one that is missing (or fails) is reported and the others still run; the
exit status is 1 when any benchmark is missing or failed. What they print is also written, with the
machine, the thread count, OMP_WAIT_POLICY and the date, to benchmarks/README.md (the last figures).
"""
from __future__ import annotations

import contextlib
import datetime
import importlib
import inspect
import io
import os
import platform
import sys
import traceback
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported by any benchmark

BENCHMARKS = ("bench_floor", "bench_epoch", "bench_marginal_kl", "bench_priors", "bench_grading")


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, terminal) -> None:
        self.terminal, self.copy = terminal, io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        self.copy.write(text)
        return len(text)

    def flush(self) -> None:
        self.terminal.flush()


def machine() -> str:
    """CPU model, cores, threads, OMP_WAIT_POLICY, Python and torch versions, date: the README's header line."""
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")), "unknown CPU")
    import torch

    return (f"{model}, {os.cpu_count()} cores; {os.environ.get('ELBO_COURSE_THREADS', 2)} threads, "
            f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; Python {platform.python_version()}, "
            f"torch {torch.__version__}; {datetime.date.today().isoformat()}")


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def write_readme(output: str, argv: list[str], path: Path = Path(__file__).with_name("README.md")) -> None:
    """benchmarks/README.md: the command, the machine, and what the benchmarks printed."""
    from elbo_course.fileio import atomic_write

    command = " ".join(["python -m benchmarks", *argv])
    lines = ["# Benchmarks: the last figures", "",
             f"Written by `{command}` (`make bench`) on {machine()}.",
             "Read them as ratios within one run: on a shared machine the absolute times swing with the load.",
             "", "```", output.rstrip(), "```", ""]
    atomic_write(path, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tee = _Tee(sys.stdout)
    with contextlib.redirect_stdout(tee):
        status = _run_all(argv)
    if "--no-readme" not in argv:
        write_readme(tee.copy.getvalue(), [a for a in argv if a != "--no-readme"])
    return status


def _run_all(argv: list[str]) -> int:
    problems: list[str] = []
    for name in BENCHMARKS:
        print(f"=== benchmarks.{name} ===", flush=True)
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__package__}.{name}":
                raise
            print(f"missing: benchmarks/{name}.py does not exist yet")
            problems.append(f"{name} (missing)")
            continue
        takes_args = bool(inspect.signature(module.main).parameters)
        try:
            status = module.main(argv) if takes_args else module.main()
        except Exception:  # report and go on with the next benchmark
            traceback.print_exc()
            status = 1
        if isinstance(status, int) and not isinstance(status, bool) and status != 0:  # other returns are results
            problems.append(f"{name} (exit status {status})")
    if problems:
        print("benchmarks with problems: " + ", ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    from elbo_course import runtime

    runtime.flush_denormals_in_this_process()  # as the experiments' command line does, before any parallel op
    sys.exit(main())
