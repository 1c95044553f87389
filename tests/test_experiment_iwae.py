"""Smoke test of ``python -m elbo_course.experiments iwae --budget ci`` (about a minute) and its schema."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from elbo_course.experiments import common
from elbo_course.experiments import iwae

MODEL_KEYS = {"model_id", "objective", "k", "latent_dim", "epochs", "seconds", "test_ll", "test_ll_se",
              "test_images", "active_units", "checkpoint", "checkpoint_sha256", "bounds"}


@pytest.fixture(scope="module")
def ci_results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("iwae_ci")
    proc = subprocess.run([sys.executable, "-m", "elbo_course.experiments", "iwae", "--budget", "ci", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.mark.slow
def test_ci_run_writes_a_valid_results_file(ci_results: Path) -> None:
    results = common.load_results("iwae", budget="ci", root=ci_results)
    for key in ("budget", "config_fingerprint", "test_data_sha256", "models"):
        assert key in results
    assert results["budget"] == "ci"
    assert results["config_fingerprint"] == common.config_fingerprint(iwae.config("ci"))
    assert [m["model_id"] for m in results["models"]] == ["vae_k1", "iwae_k5"]
    paired = results["paired_differences"]["iwae_k5 - vae_k1"]
    ll = {m["model_id"]: m["test_ll_per_image"] for m in results["models"]}
    diffs = [a - b for a, b in zip(ll["iwae_k5"], ll["vae_k1"])]
    assert paired["mean"] == pytest.approx(sum(diffs) / len(diffs), abs=1e-3) and paired["se"] > 0
    for entry in results["models"]:
        assert MODEL_KEYS <= set(entry), MODEL_KEYS - set(entry)
        assert entry["objective"] in ("vae", "iwae")
        assert entry["test_images"] == iwae.config("ci")["test_images"]
        assert 0 <= entry["active_units"] <= entry["latent_dim"]
        assert math.isfinite(entry["test_ll"]) and entry["test_ll"] < 0 and entry["test_ll_se"] > 0
        means = [entry["bounds"][str(k)]["mean"] for k in iwae.config("ci")["eval_ks"]]
        # E[L_1] <= E[L_5] <= ... holds in expectation; with shared draws the averages are ordered too
        # up to Monte Carlo noise far below 1 nat.
        assert all(b >= a - 0.5 for a, b in zip(means, means[1:])), means
        assert entry["test_ll"] == entry["bounds"]["500"]["mean"]
        per_image = entry["test_ll_per_image"]
        assert len(per_image) == entry["test_images"]
        assert sum(per_image) / len(per_image) == pytest.approx(entry["test_ll"], abs=1e-3)
        offset = entry["subset_offset"]
        assert offset["images"] == 300 and offset["subset_images"] == 100 and offset["samples"] == 50
        assert offset["offset"] == pytest.approx(offset["mean_subset"] - offset["mean_all"], abs=2e-4)
        curve = entry["learning_curve"]
        assert curve["epoch"] == [1] and len(curve["test_elbo"]) == 1 and curve["test_elbo"][0] < 0
        model = common.load_model(results, entry["model_id"])
        assert model.latent_dim == 50 and model.hidden == (200, 200) and model.activation == "tanh"


@pytest.mark.slow
def test_tampered_checkpoint_is_refused(ci_results: Path, tmp_path: Path) -> None:
    results = common.load_results("iwae", budget="ci", root=ci_results)
    path = ci_results / results["models"][0]["checkpoint"]
    blob = path.read_bytes()
    try:
        path.write_bytes(blob + b"x")
        with pytest.raises(common.StaleArtifactError, match="experiments iwae"):
            common.load_model(results, "vae_k1")
    finally:
        path.write_bytes(blob)


def test_bounds_from_log_weights_groups_the_same_draws() -> None:
    model = iwae.VAE(3, hidden=(8, 8), activation="tanh")
    x = (torch.rand(4, 784, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    out = iwae.bounds_from_log_weights(model, x, 20, [1, 5, 20], torch.Generator().manual_seed(1), chunk=7)
    g = torch.Generator().manual_seed(1)  # the same draws, in the same chunks of 7, 7 and 6 samples
    log_w = torch.cat([model.log_weights(x, n, g).double() for n in (7, 7, 6)])
    assert torch.allclose(out[1], log_w.mean(0))
    assert torch.allclose(out[20], torch.logsumexp(log_w, 0) - math.log(20))
    with pytest.raises(ValueError, match="divide"):
        iwae.bounds_from_log_weights(model, x, 20, [3], torch.Generator())


def test_burda_schedule_has_eight_stages_of_3_to_the_i_epochs() -> None:
    burda_lr = iwae.SCHEDULES["paper"].lr_at()
    lrs = [burda_lr(e) for e in range(3280)]
    assert sum(3 ** i for i in range(8)) == 3280
    assert lrs[0] == pytest.approx(1e-3) and lrs[1] == pytest.approx(1e-3 * 10 ** (-1 / 7))
    assert lrs[3] == pytest.approx(1e-3 * 10 ** (-1 / 7)) and lrs[4] == pytest.approx(1e-3 * 10 ** (-2 / 7))
    assert lrs[-1] == pytest.approx(1e-4) and len(set(lrs)) == 8


def test_full_config_is_burdas_architecture() -> None:
    cfg = iwae.config("full")
    assert (cfg["latent_dim"], cfg["hidden"], cfg["activation"]) == (50, [200, 200], "tanh")
    assert cfg["test_images"] == 1000 and cfg["eval_samples"] == 5000 and cfg["eval_ks"][-1] == 5000
    assert iwae.config("paper")["models"] == ["vae_k1", "iwae_k5", "iwae_k50"]
    json.dumps(cfg)
