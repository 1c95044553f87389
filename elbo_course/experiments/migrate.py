"""Migrate stored results files to the current configuration form, keeping every number.

    python -m elbo_course.experiments.migrate [NAME ...] [--root DIR]

Version 1 results (before the ``SCHEDULES`` tables) stored the same runs under other field names. The
migration rebuilds ``config`` with the experiment's ``config(budget)`` after checking that the old
configuration describes the same run (``_same_run``), renames ``data_sha256`` to ``test_data_sha256``,
adds ``train_data_sha256`` where the experiment evaluates on the training set, drops the ``figure`` key
(experiments no longer draw), appends the replaced configuration to ``migrated_from`` and adds the
``content_sha256`` that ``load_results`` checks. A later field with a default that every earlier run used
(``precision`` = "fp32") migrates the same way. Every other key and number
is kept as it was; the checkpoints are untouched. A file that is already current is left alone.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from .common import config_fingerprint, content_sha256, data_sha256, results_dir, write_json_atomic

#: Old config key -> new key, and how an old value reads in the new form (None images = all 60,000).
_RENAMED = {"images": "train_images", "num_samples": "eval_samples"}
_OLD_DEFAULTS = {"train_images": lambda v: 60_000 if v is None else v}
#: Fields added later, with the value every run before them used (checked like any other field).
_ADDED = {"precision": "fp32", "offset_images": 0}
#: Keys the old surgery config did not state, with the value every version-1 run used.
_IMPLIED = {"surgery": {"test_images": {"ci": 500, "full": 1000, "paper": 10_000}}}


def _same_run(name: str, budget: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Differences between an old config and the current one, after renaming; [] when they agree."""
    read = {}
    for key, value in old.items():
        key = _RENAMED.get(key, key)
        read[key] = _OLD_DEFAULTS.get(key, lambda v: v)(value)
    for key, by_budget in _IMPLIED.get(name, {}).items():
        read.setdefault(key, by_budget[budget])
    for key, value in _ADDED.items():
        read.setdefault(key, value)
    return [f"{key}: {read.get(key)!r} != {new.get(key)!r}" for key in sorted(set(read) | set(new))
            if key in read and read[key] != new.get(key)]


def migrate_record(record: dict[str, Any]) -> dict[str, Any]:
    """The version-2 form of a results record (a new dict); ValueError when the runs differ."""
    name, budget = record["name"], record["budget"]
    new_config = importlib.import_module(f"{__package__}.{name}").config(budget)
    if "data_sha256" not in record and record.get("config_fingerprint") == config_fingerprint(new_config):
        out = copy.deepcopy(record)  # the configuration is current; only the content hash may be missing
        out["content_sha256"] = content_sha256(out)
        return out
    differences = _same_run(name, budget, record["config"], new_config)
    if differences:
        raise ValueError(f"{name} ({budget}) was not the run the current config describes; retrain instead of "
                         f"migrating: {'; '.join(differences)}")
    out = copy.deepcopy(record)
    earlier = out.pop("migrated_from", [])
    earlier = earlier if isinstance(earlier, list) else [earlier]
    out["migrated_from"] = [*earlier, {"config": out.pop("config"), "config_fingerprint": out["config_fingerprint"]}]
    out["config"], out["config_fingerprint"] = new_config, config_fingerprint(new_config)
    if "data_sha256" in out:
        out["test_data_sha256"] = out.pop("data_sha256")
    if name == "surgery" and "train_data_sha256" not in out:
        out["train_data_sha256"] = data_sha256("train")
    out.pop("figure", None)
    out["content_sha256"] = content_sha256(out)
    return out


def migrate_file(path: str | Path) -> bool:
    """Rewrite one results file in place (atomically) if it needs it; return whether it changed."""
    path = Path(path)
    record = json.loads(path.read_text(encoding="utf-8"))
    new = migrate_record(record)
    if new == record:
        return False
    write_json_atomic(new, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.experiments.migrate", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", default=["surgery", "iwae"])
    parser.add_argument("--root", default=None, help="the results folder (default: results/)")
    args = parser.parse_args(argv)
    for name in args.names:
        path = results_dir("full", args.root) / f"{name}.json"
        print(f"{path}: {'migrated' if migrate_file(path) else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
