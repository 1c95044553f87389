"""Packaging and structure: one dependency list, one test command, layered imports, small modules."""
from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import yaml

try:
    import tomllib
except ImportError:  # Python 3.10: pip vendors the same parser
    from pip._vendor import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "elbo_course"
SOFT_LIMIT, HARD_LIMIT = 300, 330  # non-blank lines per module
PLOTTING = ("matplotlib", "ipywidgets")


def declared_layers(init: Path = PACKAGE / "__init__.py") -> dict[str, int]:
    """Top-level module or package -> layer index, read from the "Layers" list of the package docstring."""
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    block = doc.split("Layers", 1)[1].split("\n\n", 2)[1]
    return {name.strip().rstrip("/"): index for index, line in enumerate(block.splitlines())
            for name in line.strip().split("  ", 1)[0].split(",")}


LAYERS = declared_layers()


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Dotted names relative to the package ("data", "experiments.common", ...) -> file; __init__ excluded."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).with_suffix("").parts
        if "__pycache__" not in parts and parts[-1] != "__init__":
            found[".".join(parts)] = path
    return found


def layer(module: str, layers: dict[str, int] = LAYERS) -> int:
    return layers.get(module.split(".")[0], max(layers.values()) + 1)


def imported(module: str, path: Path, package: Path = PACKAGE) -> set[str]:
    """Package modules that ``module`` imports anywhere in its file (also inside functions)."""
    package_parts = module.split(".")[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.startswith("elbo_course.")]
            out.update(n.removeprefix("elbo_course.") for n in names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
            elif (node.module or "").startswith("elbo_course"):
                base = []
                node = ast.ImportFrom(module=node.module.removeprefix("elbo_course").lstrip("."), names=node.names)
            else:
                continue
            target = ".".join(base + ([node.module] if node.module else []))
            # `from . import data` names a module; `from .data import load_mnist` names the module data.
            for alias in node.names:
                candidate = f"{target}.{alias.name}" if target else alias.name
                out.add(candidate if (package / Path(*candidate.split("."))).with_suffix(".py").exists()
                        or (package / Path(*candidate.split("."))).is_dir() else target)
    return {m for m in out if m}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    return {m: {t for t in imported(m, p, package) if t in known or t.split(".")[0] in LAYERS}
            for m, p in known.items()}


def layer_violations(package: Path = PACKAGE, layers: dict[str, int] = LAYERS) -> list[str]:
    """Imports that do not point strictly downwards (imports inside one package are allowed)."""
    return [f"elbo_course.{m} (layer {layer(m, layers)}) imports elbo_course.{t} (layer {layer(t, layers)})"
            for m, targets in sorted(graph(package).items()) for t in sorted(targets)
            if m.split(".")[0] != t.split(".")[0] and layer(t, layers) >= layer(m, layers)]


def find_cycle(package: Path = PACKAGE) -> list[str]:
    """One import cycle as a list of modules (first == last), or [] when the import graph is acyclic."""
    edges, state = graph(package), {}

    def visit(node: str, trail: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt):] + [node, nxt] if nxt in trail else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [node])):
                return cycle
        state[node] = "done"
        return []

    for module in sorted(edges):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return []


def test_environment_yml_lists_the_pyproject_dependencies():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pip_lists = [entry["pip"] for entry in conda if isinstance(entry, dict) and "pip" in entry]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: list"
    pip = [p for p in pip_lists[0] if p != "-e ."]
    assert "-e ." in pip_lists[0], "environment.yml must install the package itself (-e .)"
    assert sorted(pip) == sorted(deps) and len(set(pip)) == len(pip), (
        f"only in environment.yml: {set(pip) - set(deps)}; only in pyproject.toml: {set(deps) - set(pip)}")


def test_ci_runs_make_test():
    lines = [l.strip() for l in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "make test" in [l for l in lines if not l.startswith("#")], ".ci/run must call `make test`"
    makefile = (REPO / "Makefile").read_text()
    assert "\ntest:" in makefile and "pytest" in makefile.split("\ntest:")[1].split("\n\n")[0]


def test_readme_names_make_test():
    readme = REPO / "README.md"
    if not readme.exists():
        return  # nothing to check yet; pyproject's readme field will fail the install first
    text = readme.read_text(encoding="utf-8")
    assert "make test" in text, "README must give `make test` as the test command"
    bare = [l for l in text.splitlines() if l.strip().startswith(("pytest", "python -m pytest"))]
    assert not bare, f"README suggests another test command: {bare}; use `make test`"


def test_declared_layers_match_the_tree():
    tree = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
            if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()}
    assert set(LAYERS) == tree, "the Layers list of elbo_course/__init__.py must name every module and package"
    assert LAYERS["runtime"] < LAYERS["data"] < LAYERS["distributions"] < LAYERS["bounds"] < LAYERS["surgery"]
    assert LAYERS["priors"] < LAYERS["models"] < LAYERS["train"] < LAYERS["experiments"] < LAYERS["figures"]


def test_layers_are_respected():
    assert layer_violations() == [], "imports must point to lower layers (see elbo_course/__init__.py)"


def test_maths_and_experiments_never_plot():
    """From data to experiments nothing imports matplotlib or ipywidgets (figures/ draws, from results;
    runtime.setup only sets matplotlib's defaults for notebooks)."""
    offenders = []
    for module, path in modules().items():
        if layer(module) == 0 or layer(module) >= LAYERS["figures"]:   # figures and the layers above may draw
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offenders += [f"{module} imports {n}" for n in names if n.split(".")[0] in PLOTTING]
    assert offenders == []


def test_no_import_cycles():
    assert find_cycle() == [], "import cycle: " + " -> ".join(find_cycle())


def test_layer_and_cycle_checks_catch_a_bad_package(tmp_path):
    (tmp_path / "data.py").write_text("from .models import VAE\n")
    (tmp_path / "models.py").write_text("from . import train\n")
    (tmp_path / "train.py").write_text("def f():\n    from .models import VAE\n")
    layers = {"data": 1, "models": 4, "train": 5}
    assert layer_violations(tmp_path, layers) == ["elbo_course.data (layer 1) imports elbo_course.models (layer 4)",
                                                  "elbo_course.models (layer 4) imports elbo_course.train (layer 5)"]
    assert find_cycle(tmp_path) == ["models", "train", "models"]


def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted((m for m in modules() if not m.endswith("__main__")), key=lambda m: (-layer(m), m))
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module('elbo_course.' + n)"
    done = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_modules_are_small():
    for module, path in modules().items():
        lines = sum(1 for l in path.read_text(encoding="utf-8").splitlines() if l.strip())
        assert lines <= HARD_LIMIT, f"elbo_course/{path.relative_to(PACKAGE)} has {lines} non-blank lines (> {HARD_LIMIT})"
        if lines > SOFT_LIMIT:
            warnings.warn(f"elbo_course/{path.relative_to(PACKAGE)}: {lines} non-blank lines (aim for < {SOFT_LIMIT})")


def test_layer_parser_sees_relative_and_absolute_imports(tmp_path):
    fake = tmp_path / "m.py"
    fake.write_text("from .runtime import budget\nfrom . import data\nimport elbo_course.models\nimport numpy\n"
                    "def f():\n    from elbo_course.bounds import iwae_bound\n")
    assert imported("m", fake) == {"runtime", "data", "models", "bounds"}
    fake.write_text("from ..surgery import X\nfrom .common import Y\nfrom elbo_course import check\n")
    assert imported("experiments.m", fake) == {"surgery", "experiments.common"}
