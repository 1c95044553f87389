"""Tests of elbo_course.reference: the API, and that reference_values.json mirrors ../shared/reference-values.md.

The markdown comparison runs whenever ``../shared`` sits beside the repository (as in CI); only that
comparison is skipped in a bare clone, the API tests always run.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from elbo_course import reference
from elbo_course.reference import LABELS, LOG_N_MNIST, MNIST_MD5, format_published, label, published, row

MARKDOWN = Path(__file__).parents[2] / "shared" / "reference-values.md"
# Markdown section (by a word of its heading) -> prefix of its JSON keys.
SECTIONS = {"Burda": "burda2015.", "Tomczak": "tomczak2018.", "Hoffman": "hoffman2016.", "Alemi": "alemi2018.",
            "Facts measured": "mnist."}
MD5 = re.compile(r"\b[0-9a-f]{32}\b")
# A number: not glued to a word or a decimal point before it; a sign only when the minus stands alone
# ("−129.63"), not inside "784-200"; thousands separators allowed ("60,000").
NUMBER = re.compile(r"(?<![\w.])(?:[−-](?=\d))?\d+(?:,\d{3})*(?:\.\d+)?")
LABEL = re.compile(r"—\s*(secondary|unverified)\b")


def numbers(text: str) -> list[float]:
    return [float(n.replace(",", "").replace("−", "-")) for n in NUMBER.findall(MD5.sub("", text))]


def json_numbers(value) -> list[float]:
    """All numeric leaves of a JSON value (booleans excluded)."""
    if isinstance(value, dict):
        return [n for v in value.values() for n in json_numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in json_numbers(v)]
    return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def entries(prefix: str, wanted_label: str | None = None) -> dict[str, dict]:
    return {k: published(k) for k in reference.keys()
            if k.startswith(prefix) and (wanted_label is None or label(k) == wanted_label)}


def parse_markdown(text: str) -> list[dict]:
    """Sections ``{heading, prefix, label, units}``; a unit is a table row or a sentence, with its label."""
    sections = []
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, body = block.split("\n", 1)
        prefix = next((p for word, p in SECTIONS.items() if word in heading), None)
        assert prefix, f"new section {heading!r} in reference-values.md: add it to the JSON and to SECTIONS"
        found = LABEL.search(heading)
        default = found.group(1) if found else ("measured" if prefix == "mnist." else None)
        units = [line for line in body.splitlines() if line.startswith("|")]
        for paragraph in re.split(r"\n\s*\n", "\n".join(l for l in body.splitlines() if not l.startswith("|"))):
            units += re.split(r"(?<=[.;])\s+(?=[A-Z])", " ".join(paragraph.split()))
        labelled = [(u, LABEL.search(u).group(1) if LABEL.search(u) else default) for u in units if u.strip()]
        sections.append({"heading": heading, "prefix": prefix, "label": default, "units": labelled})
    return sections


@pytest.fixture(scope="module")
def markdown() -> str:
    if not MARKDOWN.is_file():
        pytest.skip(f"{MARKDOWN} is absent (bare clone): only the comparison with the markdown is skipped")
    return MARKDOWN.read_text(encoding="utf-8")


# ---------------------------------------------------------------- JSON <-> markdown
def test_every_markdown_number_is_in_its_section_of_the_json(markdown):
    for section in parse_markdown(markdown):
        have = json_numbers(entries(section["prefix"]))
        for value in numbers(section["heading"]) + [n for u, _ in section["units"] for n in numbers(u)]:
            assert value in have, f"{value} from section {section['heading']!r} is missing in the JSON"


def test_every_json_number_comes_from_the_markdown(markdown):
    for section in parse_markdown(markdown):
        source = numbers(section["heading"]) + [n for u, _ in section["units"] for n in numbers(u)]
        for key, entry in entries(section["prefix"]).items():
            extra = [n for n in json_numbers(entry) if n not in source]
            assert not extra, f"{key} holds numbers not in reference-values.md: {extra}"


def test_labels_follow_the_markdown(markdown):
    for section in parse_markdown(markdown):
        if section["label"]:
            assert {label(k) for k in entries(section["prefix"])} == {section["label"]}, section["heading"]
        for unit, unit_label in section["units"]:
            if unit_label:
                have = json_numbers(entries(section["prefix"], unit_label))
                missing = [n for n in numbers(unit) if n not in have]
                assert not missing, f"{missing} ({unit!r}) should sit in an entry labelled {unit_label}"


def test_burda_table_rows(markdown):
    lines = [l for l in markdown.splitlines() if l.startswith("|") and not l.startswith("|---")]
    header = [c.strip().lower() for c in lines[0].strip("|").split("|")]
    parsed = [dict(zip(header, map(float, l.strip("|").split("|")))) for l in lines[1:]]
    assert parsed == published("burda2015.table1")["rows"] and header == published("burda2015.table1")["columns"]
    static = re.search(r"IWAE k = ([\d/]+): ([\d. /]+)", markdown)
    ks, values = [float(k) for k in static.group(1).split("/")], numbers(static.group(2))
    assert [[r["k"], r["iwae"]] for r in published("burda2015.static_binarization")["rows"]] == list(map(list, zip(ks, values)))


def test_hoffman_johnson_rows(markdown):
    text = " ".join(markdown.split())
    triple = r"((?:−?\d+(?:\.\d+)? / ){2}−?\d+(?:\.\d+)?)"
    grab = {name: numbers(re.search(words + " " + triple, text).group(1)) for name, words in {
        "d": "For d =", "elbo": "ELBO", "avg_kl": "average KL", "mutual_info": "index-code MI",
        "marginal_kl": "marginal KL"}.items()}
    expected = [dict(zip(grab, values)) for values in zip(*grab.values())]
    assert published("hoffman2016.surgery")["rows"] == expected and len(expected) == 3


def test_md5s_follow_the_markdown(markdown):
    assert MD5.findall(markdown) == list(MNIST_MD5.values())
    for name, kind in zip(MNIST_MD5, ("train images", "train labels", "test images", "test labels")):
        assert re.search(MNIST_MD5[name] + r"\s*\(" + kind + r"\)", " ".join(markdown.split())), name


def test_number_parser():
    assert numbers("784-200-200-50 tanh; 3,280 epochs of 3^i; ELBO −129.63 / −88.95; p = byte/255.") == [
        784, 200, 200, 50, 3280, 3, -129.63, -88.95, 255]
    assert numbers("R ≈ 0; z_i; H_b; md5 6bbc9ace898e44ae57da46a324031adb; Var > 0.01") == [0, 0.01]


# ---------------------------------------------------------------- the API
def test_entries_are_labelled_and_sourced():
    raw = json.loads(reference.VALUES_PATH.read_text(encoding="utf-8"))
    assert set(raw) - {"_about"} == set(reference.keys()) and len(reference.keys()) >= 10
    for key in reference.keys():
        assert label(key) in LABELS and reference.source(key)


def test_published_returns_a_copy():
    entry = published("burda2015.table1")
    entry["rows"].clear()
    assert len(published("burda2015.table1")["rows"]) == 6
    with pytest.raises(KeyError, match="known keys"):
        published("nobody2099.table")


def test_row_lookup():
    assert row("burda2015.table1", layers=2, k=50) == {"layers": 2, "k": 50, "vae": 84.78, "iwae": 82.90}
    assert row("hoffman2016.surgery", d=10)["marginal_kl"] == 8.35
    with pytest.raises(KeyError, match="6 rows"):
        row("burda2015.table1")
    with pytest.raises(KeyError, match="not a table"):
        row("alemi2018.autoencoder_point")


def test_format_published():
    assert format_published(-87.45, "hoffman2016.surgery") == "−87.45 (Hoffman & Johnson 2016, unverified)"
    assert format_published(84.78, "burda2015.table1") == "84.78 (Burda, Grosse & Salakhutdinov 2015, secondary)"
    assert format_published(80.6, "alemi2018.zero_rate_point", decimals=1) == "80.6 (Alemi et al. 2018, unverified)"
    assert "unverified" in format_published(88.56, "tomczak2018.standard_prior")


def test_constants():
    assert LOG_N_MNIST == math.log(60000)
    assert round(LOG_N_MNIST, 4) == published("hoffman2016.surgery")["log_n"]
    assert len(MNIST_MD5) == 4 and all(re.fullmatch(r"[0-9a-f]{32}", v) for v in MNIST_MD5.values())
    # Hoffman & Johnson's decomposition is internally consistent: average KL = MI + marginal KL.
    for r in published("hoffman2016.surgery")["rows"]:
        assert r["avg_kl"] == pytest.approx(r["mutual_info"] + r["marginal_kl"], abs=0.011)
        assert r["mutual_info"] <= LOG_N_MNIST
