"""The experiments framework: folders, fingerprints, atomic results, verified checkpoints, the command line."""
from __future__ import annotations

import json
import sys
import types

import pytest
import torch

import elbo_course.experiments as experiments
from elbo_course.experiments import __main__ as cli
from elbo_course.experiments import common
from elbo_course.checkpoints import StaleArtifactError
from elbo_course.models import VAE

REAL_REGISTRY = experiments.registry
REGENERATE = "python -m elbo_course.experiments demo --budget full"


@pytest.fixture()
def stored(tmp_path, mnist_available):
    """A full-budget results folder holding one model, written through the framework."""
    torch.manual_seed(0)
    model = VAE(3, hidden=(16, 16))
    entry = common.save_model(model, tmp_path, "demo", "vae_d3", meta={"epochs": 0})
    payload = {"config": {"latent_dim": 3, "epochs": 0}, "seeds": {"init": 0},
               "test_data_sha256": common.data_sha256("test"),
               "models": {"vae_d3": {**entry, "test_elbo": -500.0, "test_elbo_se": 1.0}}}
    path = common.write_results("demo", "full", payload, tmp_path, wall_seconds=1.23)
    return tmp_path, path, model


def test_fingerprint_is_canonical() -> None:
    a = common.config_fingerprint({"b": [1, 2], "a": {"y": 1.0, "x": "s"}})
    assert a == common.config_fingerprint({"a": {"x": "s", "y": 1.0}, "b": [1, 2]})
    assert a != common.config_fingerprint({"b": [1, 2], "a": {"y": 1.5, "x": "s"}})
    assert len(a) == 64 and common.canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_results_dirs() -> None:
    root = common.results_root()
    assert (root.parent / "pyproject.toml").is_file() and root.name == "results"
    assert common.results_dir("full") == root and common.results_dir("paper") == root / "paper"
    ci = common.results_dir("ci").resolve()
    assert root.resolve() not in ci.parents and ci != root.resolve()
    with pytest.raises(ValueError, match="budget"):
        common.results_dir("huge")
    names = REAL_REGISTRY()
    assert "common" not in names and all(path == f"elbo_course.experiments.{n}" for n, path in names.items())


def test_round_trip(stored) -> None:
    directory, path, model = stored
    record = json.loads(path.read_text())
    for key in ("budget", "config_fingerprint", "test_data_sha256", "versions", "seeds", "wall_seconds", "name"):
        assert key in record
    assert record["versions"]["torch"] == torch.__version__
    assert not list(directory.glob(".*.tmp")) and path.stat().st_mode & 0o777 == 0o644
    results = common.load_results("demo", "full", root=directory)
    assert results.directory == directory and results["models"]["vae_d3"]["test_elbo"] == -500.0
    loaded = common.load_model(results, "vae_d3")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert loaded.meta["model_id"] == "vae_d3"
    with pytest.raises(KeyError, match="vae_d3"):
        common.load_model(results, "vae_d99")


def test_missing_and_stale_results_name_the_command(stored, tmp_path_factory) -> None:
    directory, path, _ = stored
    with pytest.raises(StaleArtifactError, match=REGENERATE):
        common.load_results("demo", "full", root=tmp_path_factory.mktemp("empty"))
    results = common.load_results("demo", "full", root=directory)
    ckpt = directory / results["models"]["vae_d3"]["checkpoint"]
    ckpt.write_bytes(ckpt.read_bytes() + b"x")
    with pytest.raises(StaleArtifactError, match=f"stale or corrupted.*{REGENERATE}"):
        common.load_model(results, "vae_d3")
    record = json.loads(path.read_text())
    _rewrite(path, {**record, "test_data_sha256": "0" * 64})
    with pytest.raises(StaleArtifactError, match=f"different data.*{REGENERATE}"):
        common.load_results("demo", "full", root=directory)
    _rewrite(path, {**record, "budget": "ci"})
    with pytest.raises(StaleArtifactError, match="budget"):
        common.load_results("demo", "full", root=directory)


def _rewrite(path, record: dict) -> None:
    """Write an edited record with a matching content hash (so that the check under test is the one that fires)."""
    common.write_json_atomic({**record, "content_sha256": common.content_sha256(record)}, path)


def test_run_experiment_and_cli(tmp_path, monkeypatch, mnist_available, capsys) -> None:
    module = types.ModuleType("elbo_course.experiments.fake_demo")

    def run(budget: str, out_dir) -> dict:
        torch.manual_seed(1)
        entry = common.save_model(VAE(2, hidden=(8, 8)), out_dir, "fake_demo", "tiny")
        return {"seeds": {"init": 1}, "models": {"tiny": entry}, "test_data_sha256": common.data_sha256("test")}

    module.run = run
    module.config = lambda budget: {"budget_epochs": {"ci": 1, "full": 5}[budget]}
    module.RUN_TIME = {"ci": "a second", "full": "a minute"}
    monkeypatch.setitem(sys.modules, "elbo_course.experiments.fake_demo", module)
    monkeypatch.setattr(experiments, "registry", lambda: {"fake_demo": "elbo_course.experiments.fake_demo"})
    monkeypatch.setattr(cli, "registry", experiments.registry)
    assert cli.main(["fake_demo", "--budget", "ci", "--out", str(tmp_path)]) == 0
    assert "fake_demo (ci): wrote" in capsys.readouterr().out
    results = common.load_results("fake_demo", "ci", root=tmp_path)
    assert results["config_fingerprint"] == common.config_fingerprint({"budget_epochs": 1})
    assert isinstance(common.load_model(results, "tiny"), VAE)
    with pytest.raises(StaleArtifactError, match=r"configuration changed.*--budget full` \(takes a minute\)"):
        json_path = tmp_path / "fake_demo.json"
        _rewrite(json_path, {**json.loads(json_path.read_text()), "budget": "full"})
        common.load_results("fake_demo", "full", root=tmp_path)
    with pytest.raises(ValueError, match="committed results"):
        experiments.run_experiment("fake_demo", "ci", common.results_root())
    assert cli.main(["--list"]) == 0 and "fake_demo" in capsys.readouterr().out


def test_reproduce_runs_only_missing_or_stale_experiments(tmp_path, monkeypatch, mnist_available, capsys) -> None:
    module = types.ModuleType("elbo_course.experiments.fake_repro")
    calls = []

    def run(budget: str, out_dir) -> dict:
        calls.append(budget)
        torch.manual_seed(1)
        entry = common.save_model(VAE(2, hidden=(8, 8)), out_dir, "fake_repro", "tiny")
        return {"models": [{"model_id": "tiny", **entry}], "test_data_sha256": common.data_sha256("test")}

    module.run, module.config = run, lambda budget: {"epochs": module.EPOCHS}
    module.EPOCHS = 1
    monkeypatch.setitem(sys.modules, "elbo_course.experiments.fake_repro", module)
    monkeypatch.setattr(experiments, "registry", lambda: {"fake_repro": "elbo_course.experiments.fake_repro"})
    monkeypatch.setattr(cli, "registry", experiments.registry)
    monkeypatch.setattr(common, "results_root", lambda: tmp_path)
    assert cli.main(["--stale"]) == 0 and calls == ["full"]            # missing: run
    assert "needs a run" in capsys.readouterr().out
    assert cli.main(["--stale"]) == 0 and calls == ["full"]            # current: nothing to do
    assert "fake_repro: current" in capsys.readouterr().out
    module.EPOCHS = 2                                                  # the configuration changed: stale
    assert cli.main(["--stale", "--only", "fake_repro"]) == 0 and calls == ["full", "full"]
    assert cli.main(["--stale", "--force"]) == 0 and len(calls) == 3
    assert cli.main(["--stale", "--only", "nope"]) == 2


def test_reproduce_orders_by_after_and_reruns_dependents(monkeypatch) -> None:
    """An experiment that reads another's models (``AFTER``) runs after it, and reruns when it does."""
    modules = {name: types.ModuleType(f"elbo_course.experiments.{name}") for name in ("alpha", "zeta", "mid")}
    modules["alpha"].AFTER = ("zeta",)
    modules["mid"].AFTER = ("alpha",)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, f"elbo_course.experiments.{name}", module)
    monkeypatch.setattr(cli, "registry", lambda: {n: f"elbo_course.experiments.{n}" for n in modules})
    assert cli.in_dependency_order(["alpha", "mid", "zeta"]) == ["zeta", "alpha", "mid"]
    assert cli.in_dependency_order(["mid", "alpha"]) == ["alpha", "mid"]
    ran = []
    monkeypatch.setattr(cli, "stale", lambda budget, names: {"zeta": "missing"})
    monkeypatch.setattr(cli, "run_experiment", lambda name, budget: ran.append(name) or "path")
    monkeypatch.setattr(cli.runtime, "setup", lambda budget=None: None)
    assert cli.reproduce("full") == 0 and ran == ["zeta", "alpha", "mid"]
    modules["zeta"].AFTER = ("mid",)
    with pytest.raises(RuntimeError, match="cycle"):
        cli.in_dependency_order(["alpha", "mid", "zeta"])


def test_priors_runs_after_surgery() -> None:
    assert cli.in_dependency_order(["priors", "rate_distortion", "surgery", "iwae"]) == [
        "iwae", "rate_distortion", "surgery", "priors"]
