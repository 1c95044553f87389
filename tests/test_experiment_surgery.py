"""The ELBO-surgery experiment (lesson 06): a ci smoke run, the committed results, and its helpers."""
from __future__ import annotations

import json
import math

import pytest
import torch

from elbo_course.experiments import common, load_model, load_results, run_experiment
from elbo_course.fileio import file_sha256
from elbo_course.experiments import surgery as experiment
from elbo_course.models import VAE, active_units, encode_dataset, encoder_means

MODEL_KEYS = ("model_id", "latent_dim", "elbo", "elbo_se", "avg_recon", "avg_recon_se", "avg_kl", "mutual_info",
              "mutual_info_se", "marginal_kl", "marginal_kl_se", "identity_residual", "identity_residual_se",
              "log_n", "epochs", "seconds", "active_units", "checkpoint", "checkpoint_sha256")


def _check_model_entry(entry: dict, n_images: int, directory) -> None:
    for key in MODEL_KEYS:
        assert key in entry, key
    assert entry["model_id"] == experiment.model_id(entry["latent_dim"])
    for key in ("elbo", "avg_recon", "avg_kl", "mutual_info", "marginal_kl", "identity_residual"):
        assert math.isfinite(entry[key]), key
        assert entry[f"{key}_se" if key != "avg_kl" else "avg_kl_se"] >= 0
    for key in ("elbo_se", "avg_recon_se", "mutual_info_se", "marginal_kl_se", "identity_residual_se"):
        assert 0 < entry[key] < 5, key
    assert entry["log_n"] == pytest.approx(math.log(n_images))
    assert entry["elbo"] == pytest.approx(entry["avg_recon"] - entry["avg_kl"], abs=1e-9)
    assert entry["avg_kl"] >= 0 and entry["avg_recon"] < 0
    assert -4 * entry["mutual_info_se"] <= entry["mutual_info"] <= entry["log_n"] + 4 * entry["mutual_info_se"]
    assert abs(entry["identity_residual"]) < 4 * entry["identity_residual_se"]
    assert 0 <= entry["active_units"] <= entry["latent_dim"]
    path = directory / entry["checkpoint"]
    assert path.is_file() and file_sha256(path) == entry["checkpoint_sha256"]


@pytest.mark.slow
def test_ci_smoke_run_writes_the_schema(tmp_path):
    path = run_experiment("surgery", "ci", tmp_path)
    record = json.loads(path.read_text())
    assert record["budget"] == "ci" and record["name"] == "surgery"
    assert record["config_fingerprint"] == common.config_fingerprint(experiment.config("ci"))
    assert record["test_data_sha256"] == common.data_sha256("test")
    assert record["train_data_sha256"] == common.data_sha256("train")
    assert set(record["versions"]) >= {"python", "torch", "numpy"} and record["wall_seconds"] > 0
    assert [m["latent_dim"] for m in record["models"]] == list(experiment.LATENT_DIMS)
    n_images = experiment.SCHEDULES["ci"].train_images
    for entry in record["models"]:
        _check_model_entry(entry, n_images, tmp_path)
        assert entry["epochs"] == experiment.SCHEDULES["ci"].epochs and entry["num_samples"] == 500
        assert str(record["seeds"][entry["model_id"]]["train"]).isdigit()
        curve = entry["learning_curve"]
        assert curve["epoch"] == [1] and len(curve["train_elbo"]) == 1 and curve["train_elbo"][0] < 0
    assert not list(tmp_path.glob("*.png"))  # experiments write results and checkpoints, never figures
    # the notebook's loader accepts the run and rebuilds a model whose encoder reproduces the stored KL
    results = load_results("surgery", "ci", root=tmp_path)
    model = load_model(results, "vae_d2")
    assert isinstance(model, VAE) and model.latent_dim == 2


@pytest.mark.slow
def test_committed_results_rederive_from_checkpoints():
    """Re-derive stored numbers from the committed checkpoints on a slice of the fixed binarization."""
    if not (common.results_root() / "surgery.json").is_file():
        pytest.skip("results/surgery.json is not in this checkout; run "
                    "`python -m elbo_course.experiments surgery --budget full`.")
    from elbo_course.data import fixed_binarization, fixed_test_subset

    results = load_results("surgery", "full")  # also checks data hash and config fingerprint
    assert results["log_n"] == pytest.approx(math.log(60_000))
    x_head = torch.from_numpy(fixed_binarization("train")[:1000].astype("float32"))
    x_test = fixed_test_subset(experiment.SCHEDULES["full"].test_images)
    for entry in results["models"]:
        _check_model_entry(entry, 60_000, results.directory)
        model = load_model(results, entry["model_id"])
        mu, logvar = encode_dataset(model, x_head)
        kl = 0.5 * (mu.double() ** 2 + logvar.double().exp() - 1 - logvar.double()).sum(1)
        assert float(kl.mean()) == pytest.approx(entry["avg_kl_first_1000"], abs=1e-4)
        assert active_units(encoder_means(model, x_test)) == entry["active_units"]
    by_d = {m["latent_dim"]: m for m in results["models"]}
    assert by_d[20]["mutual_info"] > by_d[2]["mutual_info"]  # more room, more information about n


def test_reconstruction_se_is_the_monte_carlo_error():
    torch.manual_seed(0)
    model = VAE(3, hidden=(16,), activation="tanh").eval()
    x = (torch.rand(40, 784) < 0.3).float()
    value, se = experiment.reconstruction(model, x, 4, torch.Generator().manual_seed(1), batch_size=15)
    draws, z = experiment._recon_draws(model, x, 4, torch.Generator().manual_seed(1))
    assert draws.shape == (4, 40) and draws.dtype == torch.float64 and z.shape == (4, 40, 3)
    assert math.isfinite(value) and value < 0 and se > 0
    # independent repeats scatter by about se
    repeats = torch.tensor([experiment.reconstruction(model, x, 4, torch.Generator().manual_seed(s))[0]
                            for s in range(2, 42)], dtype=torch.float64)
    assert 0.5 * se < float(repeats.std()) < 2.0 * se
    with pytest.raises(ValueError):
        experiment.reconstruction(model, x, 1, torch.Generator())


def test_config_is_deterministic_and_budgets_differ():
    fingerprints = {b: common.config_fingerprint(experiment.config(b)) for b in ("ci", "full", "paper")}
    assert len(set(fingerprints.values())) == 3
    assert experiment.config("full")["epochs"] >= 20 and experiment.config("ci")["train_images"] <= 5000


