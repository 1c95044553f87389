"""Checkpoints of trained VAEs: float32 state dicts with the plain-data config that rebuilds the model.

File format (``torch.save`` of a dict, read back with ``torch.load(weights_only=True)``)::

    {"format": "elbo_course.vae/1", "config": VAE.config, "meta": {...}, "state_dict": {name: float32 tensor}}

``config["prior"]`` is ``{"kind": ..., "config": {...}}`` (``priors.prior_spec``), or None in checkpoints
written before priors had kinds (then the prior is N(0, I)). The prior is rebuilt from the fixed registry
``priors.registry()`` with validated plain-data arguments: nothing stored in a file is imported or called.
Files are written atomically; a load compares the file's SHA-256 with the one its results file recorded.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .fileio import atomic_torch_save, file_sha256
from .models import ACTIVATIONS, VAE
from .priors import build_prior

FORMAT = "elbo_course.vae/1"
_CONFIG_KEYS = {"latent_dim", "hidden", "activation", "data_dim", "prior"}


class StaleArtifactError(RuntimeError):
    """A stored result or checkpoint is missing, corrupted or does not match what the code expects."""


def save_checkpoint(model: VAE, path: str | os.PathLike, meta: dict[str, Any] | None = None) -> str:
    """Write {format, config, meta, state_dict (float32, CPU)} atomically to ``path``; return its SHA-256."""
    state = {name: t.detach().to("cpu", torch.float32 if t.is_floating_point() else t.dtype).contiguous()
             for name, t in model.state_dict().items()}
    atomic_torch_save({"format": FORMAT, "config": model.config, "meta": dict(meta or {}), "state_dict": state},
                      path)
    return file_sha256(path)


def _regenerate_hint(command: str | None) -> str:
    return f" Regenerate it with `{command}`." if command else " Regenerate it with the command that wrote it."


def _validated_config(cfg: Any, path: Path, command: str | None) -> dict[str, Any]:
    """The VAE constructor arguments of a checkpoint's config, checked to be the plain data they should be."""
    problem = None
    if not isinstance(cfg, dict) or not set(cfg) <= _CONFIG_KEYS or not {"latent_dim", "hidden"} <= set(cfg):
        problem = f"has no valid model config (expected keys {sorted(_CONFIG_KEYS)})"
    else:
        hidden = cfg["hidden"] if isinstance(cfg["hidden"], list) else [None]
        sizes = [cfg["latent_dim"], cfg.get("data_dim", 784), *hidden]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes):
            problem = "has latent_dim, data_dim or hidden sizes that are not positive integers"
        elif cfg.get("activation", "softplus") not in ACTIVATIONS:
            problem = f"names an unknown activation {cfg.get('activation')!r}"
    if problem:
        raise StaleArtifactError(f"Checkpoint {path} {problem}.{_regenerate_hint(command)}")
    return dict(cfg)


def load_checkpoint(path: str | os.PathLike, expected_sha256: str, *, map_location: str | torch.device = "cpu",
                    command: str | None = None) -> VAE:
    """Rebuild a VAE from ``save_checkpoint`` output, in eval mode, after checking the file's SHA-256.

    ``expected_sha256`` is required: a missing file, a missing expected hash or a mismatch raises
    StaleArtifactError naming ``command``. The prior comes from ``priors.build_prior`` (registry only).
    """
    path = Path(path)
    if not path.is_file():
        raise StaleArtifactError(f"Checkpoint {path} is missing.{_regenerate_hint(command)}")
    if not isinstance(expected_sha256, str) or len(expected_sha256) != 64:
        raise StaleArtifactError(f"No valid SHA-256 was recorded for checkpoint {path}, so it cannot be "
                                 f"verified.{_regenerate_hint(command)}")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise StaleArtifactError(
            f"Checkpoint {path} has SHA-256 {actual[:12]}..., but the results expect {expected_sha256[:12]}...; "
            f"it is stale or corrupted. Restore the committed file with `git checkout -- {path}`, or"
            f"{_regenerate_hint(command).replace(' Regenerate', ' regenerate', 1)}")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is a stale artifact
        raise StaleArtifactError(f"Checkpoint {path} cannot be read ({error}).{_regenerate_hint(command)}") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise StaleArtifactError(f"{path} is not an {FORMAT} checkpoint.{_regenerate_hint(command)}")
    cfg = _validated_config(blob.get("config"), path, command)
    try:
        prior = build_prior(cfg.pop("prior", None), cfg["latent_dim"])
    except ValueError as error:
        raise StaleArtifactError(f"{path}: {error}{_regenerate_hint(command)}") from None
    model = VAE(**cfg, prior=prior)
    model.load_state_dict(blob["state_dict"])
    model.meta = blob.get("meta", {})  # type: ignore[attr-defined]
    return model.to(map_location).eval()
