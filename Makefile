# The two commands a user needs: `make lab` and `make test`. Everything else is for maintainers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SVENV  := .venv-site
SSTAMP := $(SVENV)/.installed

export OMP_WAIT_POLICY := PASSIVE
# CI and `make test` run the notebooks in the small `ci` budget; override with
# `make test ELBO_COURSE_BUDGET=full`.
ELBO_COURSE_BUDGET ?= ci
NBVAL := -p no:cacheprovider --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab test unit nbval smoke setup data instructor lessons solutions slides handouts site vendor bench \
	experiments reproduce clean

setup: $(STAMP) data

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -e ".[publish]"
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/python -m elbo_course.data fetch

# The `instructor` extra (nbgrader) in an environment of its own, .venv-instructor: nbgrader switches on its
# JupyterLab extensions for every user of an environment, so it stays out of .venv. It reuses .venv's packages
# (a .pth file adds .venv's site-packages), so torch is not installed twice. See INSTRUCTORS.md.
IVENV  := .venv-instructor
ISTAMP := $(IVENV)/.installed

instructor: $(ISTAMP)

$(ISTAMP): $(STAMP)
	test -x $(IVENV)/bin/python || $(BIN)/python -m venv $(IVENV)
	$(BIN)/python -c "import site, sys; print('import site; site.addsitedir(%r)' % site.getsitepackages()[0])" \
	  > "$$($(IVENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/elbo_course_venv.pth"
	$(IVENV)/bin/python -m pip install --quiet -e ".[instructor]"
	# nbconvert (from .venv) looks for its templates under this environment's prefix: feedback needs them
	mkdir -p $(IVENV)/share/jupyter && ln -sfn "$(abspath $(VENV))/share/jupyter/nbconvert" $(IVENV)/share/jupyter/nbconvert
	touch $(ISTAMP)

# Extra JupyterLab arguments, e.g. `make lab LAB_ARGS="--no-browser --port 8899"` (headless).
LAB_ARGS ?=
# JupyterLab refuses to run as root unless told; containers and cloud VMs often are root, so allow it there.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: setup
	@$(if $(ROOT_ARG),echo "make lab: running as root (a container or cloud VM?): JupyterLab starts with --allow-root.")
	$(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS) lessons/

test: setup instructor vendor $(SSTAMP)
	$(BIN)/python -m pytest -q tests
	ELBO_COURSE_BUDGET=$(ELBO_COURSE_BUDGET) $(BIN)/python -m pytest -q $(NBVAL) solutions/

unit: setup
	$(BIN)/python -m pytest -q tests

nbval: setup
	ELBO_COURSE_BUDGET=$(ELBO_COURSE_BUDGET) $(BIN)/python -m pytest -q $(NBVAL) solutions/

# Write lessons/ from solutions/ (the single source).
lessons: $(STAMP)
	$(BIN)/python -m elbo_course.grading.build lessons

# Re-execute every solution notebook in the full budget from a fresh kernel, then rebuild lessons/.
solutions: setup
	for nb in solutions/*.ipynb; do \
	  ELBO_COURSE_BUDGET=full $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; done
	$(MAKE) lessons

# Decks and handouts (INSTRUCTORS.md). The JavaScript they load is fetched once from the npm registry into
# .vendor/ (pinned versions, SHA-256 checked); the pages then work offline. Handouts need Chromium
# (`apt-get install chromium`).
SOLUTIONS ?=
vendor: $(STAMP)
	$(BIN)/python -m elbo_course.publish.vendor

slides: vendor
	$(BIN)/python -m elbo_course.publish.slides $(if $(SOLUTIONS),--answers)

handouts: slides
	$(BIN)/python -m elbo_course.publish.handouts

# The website (Jupyter Book 1) in build/site/. Jupyter Book 1 pins Sphinx 7 and myst-parser 3, so it gets an
# environment of its own, .venv-site, with only the `site` extra of pyproject.toml (no torch).
$(SSTAMP): pyproject.toml
	test -x $(SVENV)/bin/python || $(PYTHON) -m venv $(SVENV)
	$(SVENV)/bin/python -m pip install --quiet $$($(SVENV)/bin/python -c "import tomllib; \
	  print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['site']))")
	touch $(SSTAMP)

site: vendor $(SSTAMP)
	$(BIN)/python -m elbo_course.publish.site

bench: setup
	$(BIN)/python -m benchmarks

# Run every full experiment whose committed results are missing or stale (EXP=name: only that one;
# FORCE=1: rerun even current ones), resuming an interrupted run, then regenerate the README's table.
reproduce: setup
	$(BIN)/python -m elbo_course.experiments --stale $(if $(EXP),--only $(EXP)) $(if $(FORCE),--force)
	$(BIN)/python -m elbo_course.report --write README.md

experiments: reproduce

clean:
	rm -rf build .pytest_cache
