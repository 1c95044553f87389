"""Where experiment results live, how they are written, fingerprinted and verified, and how models load.

Layout (DIR = ``results_dir(budget)``)::

    DIR/NAME.json                          results of ``python -m elbo_course.experiments NAME --budget B``
    DIR/checkpoints/NAME/<model_id>.pt     float32 state dicts of the models the lessons show (committed)
    DIR/resume/NAME/<model_id>.resume.pt   training state with optimizer moments (git-ignored)

DIR is ``<repo>/results`` for ``full``, ``<repo>/results/paper`` for ``paper`` and a folder under the system
temporary directory for ``ci`` (a smoke run never touches committed results). ``<repo>/results`` is used when
the package sits in a source checkout (its parent holds pyproject.toml, as with ``pip install -e .``);
otherwise ``$ELBO_COURSE_RESULTS`` names the folder that plays the role of ``results/``.

Budgets: every experiment states what each budget trains and evaluates in one table,
``SCHEDULES: dict[str, Schedule]``, and its ``config(budget)`` is built from that row; functions receive the
sizes explicitly (``schedule(name, budget)``); the active budget of ``elbo_course.setup`` is only the default
that notebooks pass on.

Every results file records budget, config, config_fingerprint = SHA-256 of the canonical JSON of the config
(sorted keys, no spaces), train_data_sha256 / test_data_sha256 = SHA-256 of the fixed binarizations of the
MNIST training and test images (``data.fixed_sha256``), library versions, seeds and wall time; each model
entry records ``checkpoint`` (path relative to DIR) and ``checkpoint_sha256``. ``load_results`` /
``load_model`` check them and name the command that regenerates.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoints import StaleArtifactError, load_checkpoint, save_checkpoint
from ..fileio import atomic_write
from ..models import VAE
from ..runtime import BUDGETS
from .schedules import Schedule

PACKAGE_DIR = Path(__file__).resolve().parents[1]
DATA_SPLITS = ("train", "test")
REQUIRED_KEYS = ("name", "budget", "config", "config_fingerprint", "models", "content_sha256")
RESULTS_ENV = "ELBO_COURSE_RESULTS"


def _module(name: str):
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        return None


def schedule(name: str, budget: str) -> Schedule:
    """The ``Schedule`` of experiment ``name`` in ``budget`` (its module's ``SCHEDULES[budget]``)."""
    if budget not in BUDGETS:
        raise ValueError(f"Unknown budget {budget!r}: use one of {', '.join(BUDGETS)}.")
    module = _module(name)
    if module is None or not hasattr(module, "SCHEDULES"):
        raise KeyError(f"Experiment {name!r} has no SCHEDULES table.")
    return module.SCHEDULES[budget]


class Results(dict):
    """A results dict (the parsed NAME.json) that remembers the folder it came from (``.directory``)."""

    directory: Path


def command(name: str, budget: str = "full") -> str:
    """The shell command that (re)generates experiment ``name`` in ``budget``."""
    return f"python -m elbo_course.experiments {name} --budget {budget}"


def run_time(name: str, budget: str = "full") -> str:
    """The advertised run time of an experiment: its module's ``RUN_TIME[budget]``, when it has one."""
    try:
        return str(getattr(_module(name), "RUN_TIME", {})[budget])
    except KeyError:
        return "an unstated time: see the experiment's docstring"


def _hint(name: str, budget: str) -> str:
    return f"Run `{command(name, budget)}` (takes {run_time(name, budget)}) to regenerate it."


def results_root() -> Path:
    """The folder that holds ``full`` results: <repo>/results in a checkout, else $ELBO_COURSE_RESULTS."""
    repo = PACKAGE_DIR.parent
    if (repo / "pyproject.toml").is_file():
        return repo / "results"
    if os.environ.get(RESULTS_ENV):
        return Path(os.environ[RESULTS_ENV]).expanduser()
    raise RuntimeError(
        "elbo_course is installed outside its source checkout, so it cannot find results/. Set "
        f"{RESULTS_ENV}=/path/to/elbo_course/results (or install with `pip install -e .` from the checkout).")


def results_dir(budget: str, root: str | os.PathLike | None = None) -> Path:
    """DIR for a budget: root (default ``results_root()``) for full, root/paper for paper, a temp folder for ci."""
    if budget not in BUDGETS:
        raise ValueError(f"Unknown budget {budget!r}: use one of {', '.join(BUDGETS)}.")
    if budget == "ci":
        return Path(root) if root is not None else Path(tempfile.gettempdir()) / "elbo_course_ci_results"
    base = Path(root) if root is not None else results_root()
    return base / "paper" if budget == "paper" else base


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no spaces: the text that fingerprints hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable)


def config_fingerprint(config: dict[str, Any]) -> str:
    """SHA-256 hex digest of ``canonical_json(config)``."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


def data_sha256(split: str) -> str:
    """SHA-256 of the fixed binarization of an MNIST split, "train" or "test" (``data.fixed_sha256``)."""
    from ..data import fixed_sha256

    return fixed_sha256(split)


def mnist_inputs(sched: Schedule) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What an experiment trains and evaluates on: (the first ``sched.train_images`` training images as grey levels
    for ``fit``, (N, 784); the same images under the fixed binarization, float32 0/1, (N, 784); the first
    ``sched.test_images`` fixed-binarized test images, (T, 784))."""
    from ..data import fixed_binarization, fixed_test_subset, load_mnist

    x_grey = load_mnist("train")[0][:sched.train_images]
    x_fixed = torch.from_numpy(fixed_binarization("train")[:sched.train_images].astype("float32"))
    return x_grey, x_fixed, fixed_test_subset(sched.test_images)


def library_versions() -> dict[str, str]:
    """Versions of python, torch and numpy that produced a result."""
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, Path):
        return obj.as_posix()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable; convert it to numbers or lists first.")


def write_json_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON (sorted keys) atomically (``fileio.atomic_write``)."""
    text = json.dumps(obj, indent=1, sort_keys=True, default=_jsonable, allow_nan=True) + "\n"
    return atomic_write(path, text)


def write_results(name: str, budget: str, payload: dict[str, Any], out_dir: str | os.PathLike,
                  wall_seconds: float | None = None) -> Path:
    """Write DIR/NAME.json: ``payload`` plus name, budget, config_fingerprint, the two data hashes, versions,
    wall time.

    payload should hold ``config`` (dict), ``seeds``, ``models`` (a list of entries with ``model_id``) and
    the hash of each fixed binarization the experiment evaluates on, ``train_data_sha256`` and/or
    ``test_data_sha256`` (``data_sha256(split)``).
    """
    record = dict(payload)
    if not any(f"{split}_data_sha256" in record for split in DATA_SPLITS):
        raise ValueError("write_results needs train_data_sha256 and/or test_data_sha256 in the payload: the hash "
                         "of each fixed binarization the results were evaluated on (data_sha256(split)).")
    config = record.setdefault("config", {})
    record.update(name=name, budget=budget, config_fingerprint=config_fingerprint(config),
                  versions=library_versions())
    record.setdefault("seeds", {})
    if wall_seconds is not None:
        record["wall_seconds"] = round(float(wall_seconds), 1)
    record = json.loads(json.dumps(record, default=_jsonable))  # plain JSON, as it will be read back
    record["content_sha256"] = content_sha256(record)
    return write_json_atomic(record, Path(out_dir) / f"{name}.json")


def content_sha256(record: dict[str, Any]) -> str:
    """SHA-256 of ``canonical_json`` of a results record without its own ``content_sha256`` key: any edit of a
    stored number, key or string changes it."""
    return hashlib.sha256(canonical_json({k: v for k, v in record.items() if k != "content_sha256"}).encode()).hexdigest()


def _non_finite(obj: Any, where: str = "") -> list[str]:
    if isinstance(obj, float) and not math.isfinite(obj):
        return [where or "/"]
    if isinstance(obj, dict):
        return [p for key, value in obj.items() for p in _non_finite(value, f"{where}/{key}")]
    if isinstance(obj, list):
        return [p for i, value in enumerate(obj) for p in _non_finite(value, f"{where}/{i}")]
    return []


def validate_results(record: Any) -> list[str]:
    """What is wrong with a parsed results record ([] when nothing): required keys, model entries with a
    checkpoint and a 64-hex SHA-256, finite numbers, the config against its fingerprint, the content hash."""
    if not isinstance(record, dict):
        return [f"the file holds a {type(record).__name__}, not a results object"]
    problems = [f"missing key {key!r}" for key in REQUIRED_KEYS if key not in record]
    if not any(f"{split}_data_sha256" in record for split in DATA_SPLITS):
        problems.append("no train_data_sha256 or test_data_sha256")
    models = record.get("models", [])
    entries = list(models.values()) if isinstance(models, dict) else models if isinstance(models, list) else None
    if not entries:
        problems.append("no model entries")
    for entry in entries or []:
        sha = entry.get("checkpoint_sha256") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or len(sha) != 64 or "checkpoint" not in entry:
            problems.append(f"model entry {entry.get('model_id') if isinstance(entry, dict) else entry!r} lacks a "
                            "checkpoint and its checkpoint_sha256")
    problems += [f"non-finite number at {where}" for where in _non_finite(record)]
    if "config" in record and record.get("config_fingerprint") != config_fingerprint(record["config"]):
        problems.append("the stored config does not match its config_fingerprint")
    if "content_sha256" in record and record["content_sha256"] != content_sha256(record):
        problems.append("content_sha256 does not match the stored numbers (edited by hand or corrupted)")
    return problems


def elbo_curve(x: "torch.Tensor", tag: str, key: str = "test_elbo"):
    """An ``on_epoch`` callback for ``fit``: ``{key: mean ELBO}`` (K = 1, closed-form KL) on the fixed images
    ``x`` with the same draws every epoch (generator ``runtime.rng(tag)``), so that the learning curve moves only
    with the model."""
    from ..runtime import rng

    return lambda model: {key: model.elbo(x, generator=rng(tag)).mean()}


def learning_curve(history: dict[str, Any]) -> dict[str, list[float]]:
    """Epoch, cumulative training minutes and the ``on_epoch`` values of a ``fit`` history, for a results entry."""
    minutes, total = [], 0.0
    for seconds in history["seconds"][: len(history["on_epoch"])]:
        total += seconds
        minutes.append(round(total / 60, 3))
    curve: dict[str, list[float]] = {"epoch": history["epoch"][: len(history["on_epoch"])], "minutes": minutes}
    for key in (history["on_epoch"][0] if history["on_epoch"] else {}):
        curve[key] = [round(point[key], 3) for point in history["on_epoch"]]
    return curve


def checkpoint_path(out_dir: str | os.PathLike, name: str, model_id: str) -> Path:
    """DIR/checkpoints/NAME/<model_id>.pt"""
    return Path(out_dir) / "checkpoints" / name / f"{model_id}.pt"


def resume_path(out_dir: str | os.PathLike, name: str, model_id: str) -> Path:
    """DIR/resume/NAME/<model_id>.resume.pt (training state for ``fit(checkpoint_path=...)``; git-ignored)."""
    return Path(out_dir) / "resume" / name / f"{model_id}.resume.pt"


def save_model(model: VAE, out_dir: str | os.PathLike, name: str, model_id: str,
               meta: dict[str, Any] | None = None) -> dict[str, str]:
    """Save a checkpoint and return the two keys a model entry needs: checkpoint (relative), checkpoint_sha256."""
    path = checkpoint_path(out_dir, name, model_id)
    sha = save_checkpoint(model, path, {"experiment": name, "model_id": model_id, **(meta or {})})
    return {"checkpoint": path.relative_to(out_dir).as_posix(), "checkpoint_sha256": sha}


def _current_config(name: str, budget: str) -> dict[str, Any] | None:
    module = _module(name)
    return module.config(budget) if hasattr(module, "config") else None


def load_results(name: str, budget: str | None = None, root: str | os.PathLike | None = None,
                 check_data: bool = True) -> Results:
    """Load DIR/NAME.json and verify it; budget None -> ``paper`` in the paper budget, else ``full``.

    (Notebooks in the ``ci`` budget read the committed ``full`` results.) Raises StaleArtifactError naming
    the regenerating command when the file is missing, not valid JSON or fails ``validate_results``, was
    written for another budget, its train_data_sha256 or test_data_sha256 differs from today's fixed
    binarization, or its config_fingerprint differs from the experiment module's ``config(budget)``.
    """
    if budget is None:
        from ..runtime import budget as active_budget

        budget = "paper" if active_budget() == "paper" else "full"
    directory = results_dir(budget, root)
    path = directory / f"{name}.json"
    if not path.is_file():
        raise StaleArtifactError(f"No stored results for experiment {name!r} ({path} is missing). "
                                 f"{_hint(name, budget)}")
    restore = f"Restore the committed file with `git checkout -- {path}`, or: {_hint(name, budget)}"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise StaleArtifactError(f"{path} is not valid JSON (empty, truncated or corrupted: {error}). "
                                 f"{restore}") from None
    problems = validate_results(record)
    if problems:
        raise StaleArtifactError(f"{path} cannot be trusted: {'; '.join(problems)}. {restore}")
    results = Results(record)
    results.directory = directory
    if results.get("budget") != budget:
        raise StaleArtifactError(f"{path} was written by the {results.get('budget')!r} budget, not {budget!r}. "
                                 f"{_hint(name, budget)}")
    for split in DATA_SPLITS if check_data else ():
        if f"{split}_data_sha256" in results and results[f"{split}_data_sha256"] != data_sha256(split):
            raise StaleArtifactError(f"{path} was computed on different data ({split}_data_sha256 differs from "
                                     f"today's fixed binarization). {_hint(name, budget)}")
    current = _current_config(name, budget)
    if current is not None and config_fingerprint(current) != results.get("config_fingerprint"):
        raise StaleArtifactError(f"{path} is stale: the experiment's configuration changed since it was written. "
                                 f"{_hint(name, budget)}")
    return results


def model_entry(results: dict[str, Any], model_id: str) -> dict[str, Any]:
    """The entry of ``model_id`` in results["models"] (a dict by id, or a list of dicts with "model_id")."""
    models = results.get("models", {})
    entry = models.get(model_id) if isinstance(models, dict) else next(
        (m for m in models if m.get("model_id") == model_id), None)
    if entry is None:
        known = list(models) if isinstance(models, dict) else [m.get("model_id") for m in models]
        raise KeyError(f"No model {model_id!r} in results {results.get('name')!r}; known: {known}.")
    return entry


def load_model(results: Results, model_id: str, map_location: str | torch.device = "cpu") -> VAE:
    """Load the checkpoint of ``model_id`` after checking its SHA-256 against the results entry."""
    entry = model_entry(results, model_id)
    name, budget = str(results.get("name")), str(results.get("budget", "full"))
    directory = getattr(results, "directory", None) or results_dir(budget)
    path = Path(directory) / entry["checkpoint"]
    try:
        return load_checkpoint(path, entry.get("checkpoint_sha256"), map_location=map_location,
                               command=command(name, budget))
    except StaleArtifactError as error:
        raise StaleArtifactError(f"{str(error).rstrip('.')} (takes {run_time(name, budget)}).") from None


__all__ = ["Results", "StaleArtifactError", "command", "run_time", "results_root", "results_dir", "canonical_json",
           "config_fingerprint", "data_sha256", "library_versions", "write_json_atomic", "write_results",
           "checkpoint_path", "resume_path", "save_model", "load_results", "model_entry", "load_model",
           "Schedule", "schedule", "content_sha256", "validate_results"]
