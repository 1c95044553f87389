"""Benchmarks of the course's hot paths (`make bench` = `python -m benchmarks`).

Each module ``bench_<name>.py`` defines ``main(argv: list[str] | None = None) -> int`` and prints its own
measurements with the conditions they were taken under (threads, OMP_WAIT_POLICY, load average).
"""
