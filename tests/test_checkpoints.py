"""Checkpoints: round trip, SHA-256 verification, priors rebuilt from the registry, nothing executed."""
from __future__ import annotations

import pytest
import torch

from elbo_course.checkpoints import StaleArtifactError, load_checkpoint, save_checkpoint
from elbo_course.fileio import atomic_torch_save, file_sha256
from elbo_course.models import VAE
from elbo_course.priors import MixtureOfGaussians

COMMAND = "python -m elbo_course.experiments demo --budget full"


def test_checkpoint_round_trip_and_sha_mismatch(tmp_path) -> None:
    torch.manual_seed(6)
    model = VAE(4, hidden=(32, 16), activation="tanh")
    path = tmp_path / "sub" / "m.pt"
    sha = save_checkpoint(model, path, {"note": "test"})
    loaded = load_checkpoint(path, expected_sha256=sha)
    assert loaded.config == model.config and loaded.meta == {"note": "test"}
    assert not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert save_checkpoint(model, tmp_path / "again.pt") == save_checkpoint(model, tmp_path / "again2.pt")
    with pytest.raises(StaleArtifactError, match=COMMAND):
        load_checkpoint(path, expected_sha256="0" * 64, command=COMMAND)
    with pytest.raises(StaleArtifactError, match="missing"):
        load_checkpoint(tmp_path / "nope.pt", sha)
    with pytest.raises(StaleArtifactError, match="No valid SHA-256"):
        load_checkpoint(path, None)  # type: ignore[arg-type]
    assert not list(tmp_path.glob("**/*.tmp")) and path.stat().st_mode & 0o777 == 0o644


def test_checkpoint_with_learned_prior(tmp_path) -> None:
    x = (torch.rand(5, 784, generator=torch.Generator().manual_seed(3)) < 0.3).float()
    model = VAE(4, hidden=(16, 16), prior=MixtureOfGaussians(4, components=6))
    with torch.no_grad():
        model.prior.means.add_(1.0)
    sha = save_checkpoint(model, tmp_path / "p.pt")
    loaded = load_checkpoint(tmp_path / "p.pt", sha)
    assert isinstance(loaded.prior, MixtureOfGaussians) and torch.equal(loaded.prior.means, model.prior.means)
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.log_weights(x, 3, gen()), model.eval().log_weights(x, 3, gen()))


def test_version_one_checkpoints_without_a_prior_kind_load(tmp_path) -> None:
    """Checkpoints written before priors had kinds store prior None: they load with N(0, I)."""
    model = VAE(3, hidden=(8, 8))
    blob = {"format": "elbo_course.vae/1", "config": {**model.config, "prior": None}, "meta": {},
            "state_dict": model.state_dict()}
    atomic_torch_save(blob, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt", file_sha256(tmp_path / "old.pt"))
    assert loaded.prior.kind == "standard"


@pytest.mark.parametrize("config", [
    {"latent_dim": 3, "hidden": [8, 8], "prior": {"class": "subprocess:call", "config": {"args": ["touch", "x"]}}},
    {"latent_dim": 3, "hidden": [8, 8], "prior": {"kind": "subprocess", "config": {}}},
    {"latent_dim": 3, "hidden": [8, 8], "prior": {"kind": "mog", "config": {"latent_dim": 3, "components": "os"}}},
    {"latent_dim": 3, "hidden": [8, 8], "activation": "os.system"},
    {"latent_dim": "3", "hidden": [8, 8]},
    {"latent_dim": 3, "hidden": [8, 8], "exec": "print(1)"},
])
def test_crafted_checkpoints_are_refused_and_nothing_runs(tmp_path, monkeypatch, config) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "crafted.pt"
    atomic_torch_save({"format": "elbo_course.vae/1", "config": config, "meta": {}, "state_dict": {}}, path)
    with pytest.raises(StaleArtifactError, match="Regenerate|regenerate"):
        load_checkpoint(path, file_sha256(path), command=COMMAND)
    assert not (tmp_path / "x").exists()


def test_unreadable_and_foreign_files_are_stale(tmp_path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(StaleArtifactError, match="cannot be read"):
        load_checkpoint(junk, file_sha256(junk))
    other = tmp_path / "other.pt"
    atomic_torch_save({"weights": torch.zeros(2)}, other)
    with pytest.raises(StaleArtifactError, match="not an elbo_course.vae/1 checkpoint"):
        load_checkpoint(other, file_sha256(other))
