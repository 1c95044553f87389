"""The README's generated tables: the lessons (from the notebooks' own metadata) and the reproduced
numbers (from the committed results files).

``python -m elbo_course.report`` prints the Markdown; ``python -m elbo_course.report --write README.md``
replaces the blocks between ``<!-- lessons:begin -->`` / ``<!-- lessons:end -->`` and
``<!-- results:begin -->`` / ``<!-- results:end -->``. A test fails when the README's blocks differ from
what this module writes, so the front page never drifts from the notebooks or results/. The lessons table
reads ``metadata.elbo_course`` of each ``solutions/`` notebook: ``title``, ``summary``,
``study_time_minutes`` and ``compute_full``. Every published number comes from ``elbo_course.reference``
with its label.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import reference
from .fileio import atomic_write
from .experiments import load_results
from .experiments.common import StaleArtifactError, command, results_root

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
LESSONS_BEGIN, LESSONS_END = "<!-- lessons:begin -->", "<!-- lessons:end -->"
LESSON_FIELDS = ("title", "summary", "study_time_minutes", "compute_full")


def lesson_metadata(root: Path | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(lesson id, ``metadata.elbo_course``) of every ``solutions/*.ipynb`` in order; ValueError naming a missing
    field of ``LESSON_FIELDS`` (the README's table and the site's home page are generated from them)."""
    import nbformat

    root = Path(root) if root is not None else Path(__file__).resolve().parents[1]
    found = []
    for path in sorted((root / "solutions").glob("*.ipynb")):
        meta = nbformat.read(path, as_version=4).metadata.get("elbo_course", {})
        missing = [f for f in LESSON_FIELDS if f not in meta]
        if missing:
            raise ValueError(f"{path.name}: metadata.elbo_course lacks {', '.join(missing)}; add them "
                             "(the README's lessons table is generated from them).")
        found.append((path.stem, meta))
    return found


def lessons_block(root: Path | None = None) -> str:
    """The README's lessons table from ``solutions/*.ipynb`` metadata (ValueError naming a missing field)."""
    rows = ["| # | notebook | what you learn | study time | compute (full budget) |", "|---|---|---|---|---|"]
    for stem, meta in lesson_metadata(root):
        rows.append(f"| {stem[:2]} | [{meta['title']}](lessons/{stem}.ipynb) | {meta['summary']} | "
                    f"{int(meta['study_time_minutes'])} min | {meta['compute_full']} |")
    return "\n".join([LESSONS_BEGIN, *rows, LESSONS_END])


def _load(name: str) -> dict[str, Any] | None:
    """The verified ``full`` results of experiment ``name``, or None when they are missing (no table)."""
    try:
        return load_results(name, "full")
    except StaleArtifactError:
        if (results_root() / f"{name}.json").is_file():
            raise  # present but stale or corrupted: never print a table from it
        return None


def _models(results: dict[str, Any]) -> list[dict[str, Any]]:
    models = results.get("models", [])
    return list(models.values()) if isinstance(models, dict) else list(models)


def _pm(value: float, se: float | None, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if se is None else f"{value:.{digits}f} ± {se:.{digits}f}"


def surgery_table() -> str:
    """Markdown table: our ELBO-surgery terms per latent size beside Hoffman & Johnson's (unverified)."""
    results = _load("surgery")
    if results is None:
        return f"*Surgery results missing: run `{command('surgery')}`.*"
    key = "hoffman2016.surgery"
    lines = [
        "| d | ELBO (ours / H&J) | avg KL (ours / H&J) | index-code MI (ours / H&J) | marginal KL (ours / H&J) "
        "| identity residual | epochs | active units |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in sorted(_models(results), key=lambda m: m["latent_dim"]):
        try:
            pub = reference.row(key, d=m["latent_dim"])
        except (KeyError, LookupError):
            pub = {}
        ref = lambda k: f"{pub[k]:.2f}" if k in pub else "–"  # noqa: E731
        lines.append(
            f"| {m['latent_dim']} | {m['elbo']:.2f} / {ref('elbo')} | {m['avg_kl']:.2f} / {ref('avg_kl')} "
            f"| {_pm(m['mutual_info'], m.get('mutual_info_se'), 3)} / {ref('mutual_info')} "
            f"| {_pm(m['marginal_kl'], m.get('marginal_kl_se'), 3)} / {ref('marginal_kl')} "
            f"| {_pm(m['identity_residual'], m.get('identity_residual_se'), 3)} | {m['epochs']} "
            f"| {m['active_units']} / {m['latent_dim']} |")
    lines.append("")
    lines.append(f"Nats, over the fixed binarization of all 60,000 training images (log N = "
                 f"{reference.LOG_N_MNIST:.4f}). Hoffman & Johnson 2016: {reference.label(key)}, binarization "
                 f"and training length not stated; ours: {_training(results['config'])}. "
                 f"Regenerate: `{command('surgery')}`.")
    return "\n".join(lines)


def iwae_table() -> str:
    """Markdown table: our test log-likelihoods beside Burda et al. Table 1 (one stochastic layer)."""
    results = _load("iwae")
    if results is None:
        return f"*IWAE results missing: run `{command('iwae')}`.*"
    key = "burda2015.table1"
    lines = ["| model | k | d | epochs | test NLL, ours (L_5000) | Burda et al. (3,280 epochs) | active units |",
             "|---|---|---|---|---|---|---|"]
    for m in _models(results):
        try:
            pub = reference.row(key, layers=1, k=m["k"])[m["objective"]]
            pub_text = f"{pub:.2f}"
        except (KeyError, LookupError):
            pub_text = "–"
        lines.append(
            f"| {m['objective'].upper()} | {m['k']} | {m['latent_dim']} | {m['epochs']} "
            f"| {_pm(-m['test_ll'], m.get('test_ll_se'))} | {pub_text} | {m['active_units']} / {m['latent_dim']} |")
    images = _models(results)[0].get("test_images", "?") if _models(results) else "?"
    lines.append("")
    lines.append(f"Negative log-likelihood in nats on the first {images} fixed-binarized test images; Burda et al. "
                 f"2015 Table 1 ({reference.label(key)}), dynamic binarization, the full test set. Ours: "
                 f"{_training(results['config'])}.{_iwae_extras(results)} Regenerate: `{command('iwae')}`.")
    return "\n".join(lines)


def priors_table() -> str:
    """Markdown: test NLL and paired differences of the three priors (lesson 07), Tomczak & Welling beside them,
    and the aggregate posterior of lesson 06's models used as their prior."""
    results = _load("priors")
    if results is None:
        return f"*Priors results missing: run `{command('priors')}`.*"
    published = {"standard": reference.published("tomczak2018.standard_prior"),
                 "vamp": reference.published("tomczak2018.vampprior")}
    lines = ["| prior | d | C | test NLL, ours (L_5000) | paired difference vs N(0, I) | ELBO (train) | marginal KL "
             "| active units | Tomczak & Welling NLL |", "|---|---|---|---|---|---|---|---|---|"]
    for m in _models(results):
        pub = published.get(m["prior"]) if m["latent_dim"] == 40 else None
        pub_text = f"{pub['value']:.2f} ({pub['label']})" if pub else "–"
        diff = "–" if m["prior"] == "standard" else f"{m['diff_vs_standard']:+.2f} ± {m['diff_vs_standard_se']:.2f}"
        lines.append(f"| {m['prior']} | {m['latent_dim']} | {m['components'] or '–'} | {_pm(-m['test_ll'], m['test_ll_se'])} "
                     f"| {diff} | {m['elbo']:.2f} | {_pm(m['marginal_kl'], m['marginal_kl_se'], 3)} "
                     f"| {m['active_units']} / {m['latent_dim']} | {pub_text} |")
    config = results["config"]
    lines += ["", f"Nats; NLL on the first {config['test_images']:,} fixed-binarized test images, paired differences "
              "over the same images (test-image noise only, not seed variation), ELBO and marginal KL over the "
              f"{config['train_images']:,} training images. Ours: {_training(config)} (d = 2: {config['epochs_d2']} "
              f"epochs), KL warm-up {config['warmup_epochs']} epochs. Tomczak & Welling 2018 used static binarization "
              "and much longer training: not comparable. Regenerate: `" + command("priors") + "`.", "",
              "| lesson 06 model | training-set gain with p(z) = q(z) | marginal KL (lesson 06) | leave-one-out gain "
              "| test-set gain |", "|---|---|---|---|---|"]
    for e in results["aggregate_prior"]["models"]:
        lines.append(f"| {e['surgery_model']} | {_pm(e['train_gain'], e['train_gain_se'])} "
                     f"| {_pm(e['stored_marginal_kl'], e['stored_marginal_kl_se'])} | {_pm(e['loo_gain'], e['loo_gain_se'])} "
                     f"| {_pm(e['test_gain'], e['test_gain_se'])} |")
    return "\n".join(lines)


def rate_distortion_table() -> str:
    """Markdown: the β sweep of lesson 08 (rate, distortion, the index-code split), H(X), Alemi et al.'s points."""
    results = _load("rate_distortion")
    if results is None:
        return f"*Rate-distortion results missing: run `{command('rate_distortion')}`.*"
    lines = ["| β | rate R | distortion D | -ELBO | test R / D | I(n; z) | marginal KL | active units |",
             "|---|---|---|---|---|---|---|---|"]
    for p in results["points"]:
        lines.append(f"| {p['beta']:g} | {p['rate']:.2f} | {_pm(p['distortion'], p['distortion_se'])} | {-p['elbo']:.2f} "
                     f"| {p['test_rate']:.2f} / {p['test_distortion']:.2f} | {_pm(p['mutual_info'], p['mutual_info_se'])} "
                     f"| {_pm(p['marginal_kl'], p['marginal_kl_se'])} | {p['active_units']} / {p['latent_dim']} |")
    auto, zero = (reference.published(f"alemi2018.{k}") for k in ("autoencoder_point", "zero_rate_point"))
    lines += ["", f"Nats, d = 20, over the fixed binarization of the 60,000 training images (test: first "
              f"{results['config']['test_images']:,} test images). Ours: {_training(results['config'])}, objective "
              f"D + βR. H(X) of dynamically binarized MNIST = {results['entropy']:.3f} ± {results['entropy_se']:.3f} "
              f"nats; rate-0 distortion of a factorized decoder {results['independent_pixel_entropy']:.2f}. Alemi et al. "
              f"2018 ({auto['label']}, other architectures): R = {auto['rate']:g}, D = {auto['distortion']:g}; at rate 0 "
              f"with an autoregressive decoder D = {zero['distortion']:g}. Regenerate: `{command('rate_distortion')}`."]
    return "\n".join(lines)


def _training(config: dict[str, Any]) -> str:
    """How our models were trained, from a results file's config: epochs, Adam, batch, learning rate, precision."""
    decay = {"decay10": ", decaying tenfold", "burda": ", Burda et al.'s stages"}.get(config.get("lr_schedule"), "")
    return (f"{config['epochs']} epochs, Adam, batch {config['batch_size']}, learning rate {config['lr']:g}{decay}, "
            f"{config.get('precision', 'fp32')}")


def _iwae_extras(results: dict[str, Any]) -> str:
    """The paired IWAE - VAE difference and the subset offsets, where the results have them."""
    parts = []
    for name, diff in results.get("paired_differences", {}).items():
        parts.append(f" Paired difference {name}: {diff['mean']:+.2f} ± {diff['se']:.2f} nats (test-image noise only).")
    offsets = [m["subset_offset"] for m in _models(results) if m.get("subset_offset")]
    if offsets:
        parts.append(" On all 10,000 test images (L_50) our NLLs are higher by "
                     + " and ".join(f"{o['offset']:.2f}" for o in offsets) + " nats (the first images are easier).")
    return "".join(parts)


def storage_line(budget_mb: float = 120.0) -> str:
    """The running total of committed results and checkpoints (``results/`` without paper runs or staging)."""
    root = results_root()
    files = [p for p in root.rglob("*") if p.is_file() and not {"paper", ".staging", "resume"} & set(p.parts)]
    total = sum(p.stat().st_size for p in files) / 2**20
    return (f"Committed results and checkpoints: {total:.1f} MB in {len(files)} files, of the {budget_mb:.0f} MB "
            "the course allows itself.")


def results_block() -> str:
    """The whole generated block, markers included."""
    return "\n\n".join([BEGIN, "### ELBO surgery on MNIST (lesson 06)", surgery_table(),
                        "### Importance-weighted bounds on MNIST (lesson 04)", iwae_table(),
                        "### Learned priors on MNIST (lesson 07)", priors_table(),
                        "### Rate and distortion on MNIST (lesson 08)", rate_distortion_table(), storage_line(), END])


def replace_block(text: str, block: str, begin: str = BEGIN, end: str = END) -> str:
    """``text`` with its marked block replaced by ``block`` (ValueError when the markers are missing)."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise ValueError(f"README has no {begin} … {end} block to replace.")
    return text[:start] + block + text[stop + len(end):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.report", description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="README", help="replace the results block of this file")
    args = parser.parse_args(argv)
    block, lessons = results_block(), lessons_block()
    if not args.write:
        print(lessons + "\n\n" + block)
        return 0
    path = Path(args.write)
    new = replace_block(path.read_text(encoding="utf-8"), block)
    new = replace_block(new, lessons, LESSONS_BEGIN, LESSONS_END)
    atomic_write(path, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
