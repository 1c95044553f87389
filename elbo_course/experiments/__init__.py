"""Experiments: the MNIST trainings behind the lessons, run once and stored (``python -m elbo_course.experiments``).

An experiment NAME is the module ``elbo_course.experiments.<NAME>``; it defines

    run(budget: str, out_dir: pathlib.Path) -> dict      trains, saves checkpoints with ``common.save_model``,
                                                          returns the payload: config, seeds, models, metrics
    config(budget: str) -> dict          (optional)       the configuration whose fingerprint marks staleness
    RUN_TIME: dict[str, str]             (optional)       e.g. {"ci": "~1 min", "full": "~40 min on 2 CPU cores"}

``run_experiment`` adds budget, config_fingerprint, data_sha256, versions and wall time and writes
DIR/NAME.json atomically (see ``common``). Notebooks read results with ``load_results`` and ``load_model``.
"""
from __future__ import annotations

import importlib
import pkgutil
import time
from pathlib import Path
from typing import Any

from . import staging
from .common import (
    StaleArtifactError,
    command,
    load_model,
    load_results,
    results_dir,
    results_root,
    save_model,
    schedule,
    write_results,
)

_NOT_EXPERIMENTS = {"aggregate_prior", "common", "migrate", "schedules", "staging"}


def registry() -> dict[str, str]:
    """Experiment NAME -> module path, for every module in this package except ``common`` and private ones."""
    return {info.name: f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name not in _NOT_EXPERIMENTS}


def run_experiment(name: str, budget: str, out_dir: str | Path | None = None) -> Path:
    """Run experiment ``name`` in ``budget``, write DIR/NAME.json, return its path.

    out_dir defaults to ``results_dir(budget)``; a ``ci`` run refuses to write into the committed results.
    The run writes into ``staging.staging_dir(out_dir, name)`` and its files replace the committed ones only
    when it has finished (``staging.commit``): a killed run leaves them byte-identical and resumes later.
    """
    experiments = registry()
    if name not in experiments:
        raise KeyError(f"Unknown experiment {name!r}; available: {', '.join(sorted(experiments)) or 'none yet'}.")
    out = Path(out_dir) if out_dir is not None else results_dir(budget)
    if budget == "ci":
        try:
            committed = results_root().resolve()
        except RuntimeError:
            committed = None
        if committed is not None and (out.resolve() == committed or committed in out.resolve().parents):
            raise ValueError(f"A ci run may not write into the committed results ({committed}); pick another --out.")
    module = importlib.import_module(experiments[name])
    staging.recover(out, name)
    stage = staging.staging_dir(out, name)
    stage.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    payload: dict[str, Any] = module.run(budget, stage)
    if hasattr(module, "config"):
        payload.setdefault("config", module.config(budget))
    write_results(name, budget, payload, stage, wall_seconds=time.perf_counter() - started)
    return staging.commit(out, name)


__all__ = ["registry", "run_experiment", "load_results", "load_model", "save_model", "results_dir",
           "command", "schedule", "StaleArtifactError"]
