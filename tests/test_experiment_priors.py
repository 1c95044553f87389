"""The priors experiment (lesson 07): a ci smoke run, the committed full results re-estimated independently
from their checkpoints, and the leave-one-out aggregate density it relies on."""
from __future__ import annotations

import json
import math

import pytest
import torch

from elbo_course import data, rng
from elbo_course.bounds import mean_and_se
from elbo_course.distributions import DiagonalGaussian, standard_normal_log_prob
from elbo_course.experiments import common, load_model, load_results, run_experiment
from elbo_course.experiments import priors as experiment
from elbo_course.experiments.aggregate_prior import single_draw_terms
from elbo_course.fileio import file_sha256
from elbo_course.models import VAE, encode_dataset
from elbo_course.priors import MixtureOfGaussians, StandardNormal, VampPrior

# the fields issue #12 asks of every model entry
MODEL_KEYS = ("model_id", "prior", "latent_dim", "components", "test_ll", "test_ll_se", "diff_vs_standard",
              "diff_vs_standard_se", "test_images", "importance_samples", "elbo", "elbo_se", "avg_recon", "avg_kl",
              "mutual_info", "mutual_info_se", "marginal_kl", "marginal_kl_se", "active_units", "epochs", "seconds",
              "seconds_per_epoch", "checkpoint", "checkpoint_sha256")
AGGREGATE_KEYS = ("surgery_model", "checkpoint_sha256", "train_gain", "train_gain_se", "loo_gain", "loo_gain_se",
                  "test_gain", "test_gain_se", "seconds_per_1000_log_q", "stored_marginal_kl")
PRIOR_CLASSES = {"standard": StandardNormal, "mog": MixtureOfGaussians, "vamp": VampPrior}


def _check_entries(record: dict, directory) -> None:
    assert [m["model_id"] for m in record["models"]] == list(experiment.MODELS)
    for entry in record["models"]:
        for key in MODEL_KEYS:
            assert key in entry, (entry["model_id"], key)
        assert entry["prior"] in experiment.PRIORS and entry["latent_dim"] in experiment.LATENT_DIMS
        assert entry["elbo"] == pytest.approx(entry["avg_recon"] - entry["avg_kl"], abs=1e-9)
        assert entry["test_ll"] >= entry["test_elbo"] - 4 * entry["test_elbo_se"]   # L_K >= L_1 on average
        assert len(entry["test_ll_per_image"]) == entry["test_images"]
        assert entry["test_ll"] == pytest.approx(sum(entry["test_ll_per_image"]) / entry["test_images"], abs=1e-3)
        assert abs(entry["identity_residual"]) < 4 * entry["identity_residual_se"] + 1e-6
        assert 0.0 <= entry["hole_fraction"] <= 1.0 and 0 <= entry["active_units"] <= entry["latent_dim"]
        base = next(m for m in record["models"] if m["prior"] == "standard" and m["latent_dim"] == entry["latent_dim"])
        diff = torch.tensor(entry["test_ll_per_image"]) - torch.tensor(base["test_ll_per_image"])
        assert entry["diff_vs_standard"] == pytest.approx(float(diff.mean()), abs=1e-3)
        if entry["prior"] == "standard":
            assert entry["diff_vs_standard"] == 0.0 and entry["diff_vs_standard_se"] == 0.0
        path = directory / entry["checkpoint"]
        assert path.is_file() and file_sha256(path) == entry["checkpoint_sha256"]
    for entry in record["aggregate_prior"]["models"]:
        for key in AGGREGATE_KEYS:
            assert key in entry, key
        assert entry["own_component_gain"] == pytest.approx(entry["train_gain"] - entry["loo_gain"], abs=1e-6)
        assert entry["train_elbo_aggregate"] - entry["train_elbo_standard"] == pytest.approx(entry["train_gain"], abs=1e-6)
        assert entry["own_component_gain"] > 0   # removing a positive component can only lower the density


@pytest.mark.slow
def test_ci_smoke_run_writes_the_schema(tmp_path):
    path = run_experiment("priors", "ci", tmp_path)
    record = json.loads(path.read_text())
    assert record["budget"] == "ci" and record["config_fingerprint"] == common.config_fingerprint(experiment.config("ci"))
    _check_entries(record, tmp_path)
    results = load_results("priors", "ci", root=tmp_path)
    for entry in results["models"]:
        model = load_model(results, entry["model_id"])
        assert isinstance(model.prior, PRIOR_CLASSES[entry["prior"]])
        assert entry["epochs"] == (1 if entry["latent_dim"] == 2 else experiment.SCHEDULES["ci"].epochs)
    vamp = load_model(results, "vamp_d40")
    u = vamp.prior.pseudo_inputs().detach()
    assert u.shape == (experiment.SETTINGS["ci"]["components"], 784) and 0 <= float(u.min()) <= float(u.max()) <= 1


def test_the_three_priors_of_one_size_share_their_networks():
    models = {p: experiment.build_model(p, 2, 7) for p in experiment.PRIORS}
    for name, tensor in models["standard"].encoder.state_dict().items():
        for other in ("mog", "vamp"):
            assert torch.equal(tensor, models[other].encoder.state_dict()[name])
    assert experiment.build_model("vamp", 2, 7).prior.components == 7


def test_every_budget_states_its_settings_and_run_time():
    for budget in ("ci", "full", "paper"):
        assert set(experiment.SETTINGS[budget]) == set(experiment.SETTINGS["full"])
        assert budget in experiment.RUN_TIME
    full = experiment.SCHEDULES["full"]
    assert full.train_images + experiment.VALIDATION_IMAGES == 60_000 and full.test_images == 1000
    assert experiment.SETTINGS["full"]["components"] == 500 and experiment.SCHEDULES["paper"].test_images == 10_000


# ---- the committed full results, re-estimated from their checkpoints -------------------------------------

@pytest.fixture(scope="module")
def full(committed_results):
    return committed_results("priors")


def test_committed_results_hold_every_field(full):
    _check_entries(full, full.directory)
    assert {m["latent_dim"] for m in full["models"]} == {2, 40}
    surgery = load_results("surgery", "full")
    shas = {m["model_id"]: m["checkpoint_sha256"] for m in surgery["models"]}
    for entry in full["aggregate_prior"]["models"]:
        assert entry["checkpoint_sha256"] == shas[entry["surgery_model"]]


@pytest.mark.slow
def test_test_log_likelihoods_re_estimated_from_the_checkpoints(full):
    """L_5000 on the first 30 test images with fresh draws: per model, the mean over the images agrees with the
    stored per-image values, and so does each prior's paired difference from the standard prior, within 4 standard
    errors of the (fresh - stored) differences. (One image's L_5000 can move by nats between draws: the importance
    weights of a d = 40 model are heavy-tailed, so single images are not compared.)"""
    n = 30
    x = data.fixed_test_subset(n)
    fresh, stored = {}, {}
    for entry in full["models"]:
        if entry["latent_dim"] == 40:
            model = load_model(full, entry["model_id"])
            fresh[entry["prior"]] = model.log_likelihood(x, k=5000, generator=rng(f"test_priors:{entry['model_id']}"))
            stored[entry["prior"]] = torch.tensor(entry["test_ll_per_image"][:n], dtype=torch.float64)
    for prior in fresh:
        mean, se = mean_and_se(fresh[prior] - stored[prior])
        assert abs(float(mean)) < 4 * float(se) + 0.05, (prior, float(mean), float(se))
        if prior != "standard":
            change = (fresh[prior] - fresh["standard"]) - (stored[prior] - stored["standard"])
            mean, se = mean_and_se(change)
            assert abs(float(mean)) < 4 * float(se) + 0.05, (prior, float(mean), float(se))


@pytest.mark.slow
def test_aggregate_prior_gains_re_estimated(full):
    """The d = 10 swap: on 300 training images (all 60,000 components) the gain, its leave-one-out version and
    300 test images' gain agree with the stored means within 4 combined standard errors."""
    surgery = load_results("surgery", "full")
    model = load_model(surgery, "vae_d10")
    x_train = torch.from_numpy(data.fixed_binarization("train").astype("float32"))
    x_test = torch.from_numpy(data.fixed_binarization("test")[:300].astype("float32"))
    mu, logvar = encode_dataset(model, x_train)
    stored = next(e for e in full["aggregate_prior"]["models"] if e["surgery_model"] == "vae_d10")
    from elbo_course.surgery import aggregate_log_density

    train = single_draw_terms(model, x_train[:300], rng("test_priors:swap_train"))
    test = single_draw_terms(model, x_test, rng("test_priors:swap_test"))
    checks = {"train_gain": aggregate_log_density(train["z"], mu, logvar) - train["log_pz"],
              "loo_gain": aggregate_log_density(train["z"], mu, logvar, exclude=torch.arange(300)) - train["log_pz"],
              "test_gain": aggregate_log_density(test["z"], mu, logvar) - test["log_pz"]}
    for key, values in checks.items():
        mean, se = (float(v) for v in mean_and_se(values))
        assert abs(mean - stored[key]) < 4 * math.hypot(se, stored[f"{key}_se"]), (key, mean, stored[key])
