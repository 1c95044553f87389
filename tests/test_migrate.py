"""The results migration keeps every number and refuses to relabel a different run."""
from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from elbo_course.experiments import common, iwae, migrate, surgery

REPO = Path(__file__).resolve().parents[1]


def _numbers(obj, path=""):
    """Every number (and string) of a JSON tree by its path, except the configuration and fingerprints."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key not in ("config", "config_fingerprint", "migrated_from"):
                out.update(_numbers(value, f"{path}/{key}"))
        return out
    if isinstance(obj, list):
        return {k: v for i, item in enumerate(obj) for k, v in _numbers(item, f"{path}/{i}").items()}
    return {path: obj}


@pytest.fixture()
def version_one_schedules(monkeypatch):
    """The full schedules as they were when the version-1 files were trained (30 epochs, batch 100, constant lr)."""
    for module in (surgery, iwae):
        old = dataclasses.replace(module.SCHEDULES["full"], epochs=30, batch_size=100, lr=1e-3, lr_schedule=None,
                                  offset_images=0)
        monkeypatch.setitem(module.SCHEDULES, "full", old)


@pytest.mark.parametrize("name", ["surgery", "iwae"])
def test_committed_version_one_files_migrate_keeping_every_number(name, mnist_available, version_one_schedules) -> None:
    """The file as committed before the migration (git history) becomes the current file, number for number."""
    old_text = subprocess.run(["git", "show", f"e7b4883:results/{name}.json"], cwd=REPO, capture_output=True,
                              text=True)
    if old_text.returncode != 0:
        pytest.skip("no git history of version-1 results in this checkout")
    old = json.loads(old_text.stdout)
    new = migrate.migrate_record(old)
    module = {"surgery": surgery, "iwae": iwae}[name]
    assert new["config"] == module.config("full")
    assert new["config_fingerprint"] == common.config_fingerprint(module.config("full"))
    assert new["migrated_from"][0]["config"] == old["config"]
    assert new["test_data_sha256"] == old["data_sha256"] == common.data_sha256("test")
    kept = {k: v for k, v in _numbers(new).items()
            if not k.startswith(("/test_data_sha256", "/train_data_sha256", "/content_sha256"))}
    before = {k: v for k, v in _numbers(old).items() if k not in ("/data_sha256", "/figure", "/train_data_sha256")}
    assert kept == before
    assert migrate.migrate_record(new) == new  # idempotent
    assert common.validate_results(new) == []


def test_a_different_run_is_not_relabelled(mnist_available, version_one_schedules) -> None:
    record = json.loads(subprocess.run(["git", "show", "e7b4883:results/iwae.json"], cwd=REPO, capture_output=True,
                                       text=True).stdout or "{}") or None
    if record is None:
        pytest.skip("no git history of version-1 results in this checkout")
    other = copy.deepcopy(record)
    other["config"]["epochs"] = 31
    with pytest.raises(ValueError, match="retrain instead of migrating: epochs"):
        migrate.migrate_record(other)


def test_the_version_one_files_are_not_the_current_runs(mnist_available) -> None:
    """With today's schedules (more epochs) the old files must not be relabelled as current."""
    old = subprocess.run(["git", "show", "e7b4883:results/surgery.json"], cwd=REPO, capture_output=True, text=True)
    if old.returncode != 0:
        pytest.skip("no git history of version-1 results in this checkout")
    with pytest.raises(ValueError, match="retrain instead of migrating"):
        migrate.migrate_record(json.loads(old.stdout))
