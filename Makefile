# Every target creates .venv (and installs the project with its extras) if needed.
#
# Installing: uv (bootstrapped into .venv by pip) where it can be had, which
# takes about a quarter of pip's time; pip otherwise, with the same packages
# (`make INSTALLER=pip ...` asks for pip). The stamp is remade, and everything
# reinstalled, when pyproject.toml changes.
#
# Both compile the packages' bytecode at install (pip does by default; uv is
# asked to): where PYTHONDONTWRITEBYTECODE is set, as on CI machines, Python
# would otherwise compile TensorFlow's sources in every process that imports
# it (an import took 17-22 s instead of 8 s here; the suite starts about 40
# processes).
PYTHON ?= python3
INSTALLER ?= uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS := test,plot,dev,scikeras,data,jax
export TF_CPP_MIN_LOG_LEVEL ?= 3
# uv's cache and .venv may lie on different file systems: copy, without a
# warning about hard links
export UV_LINK_MODE ?= copy

# The suite runs on Keras's TensorFlow backend (the default), then all of it
# again on JAX (make test-jax alone runs that half): the tests, the
# docstrings' examples, the code blocks of the README and the user guide,
# the demo and the integrations. Left out of the JAX half: the quiet-start
# checks, whose processes import TensorFlow by design. Each half runs
# in pytest-xdist workers, one per core up to WORKERS (make WORKERS=0 runs in
# one process); make test-quick leaves out the tests marked slow (examples
# run as scripts, other processes started, dask clusters), which make test
# and CI run. The examples run once, in the
# gallery of make docs, with every UserWarning an error (the check of
# tests/test_examples.py, marked examples, which make test leaves out).
# tests/conftest.py has XLA compile at its lowest backend optimisation (about
# 30% less compile time).
JAX_TESTS := -m "not examples" --ignore=tests/test_quiet_start.py

WORKERS ?= 4
XDIST := $(if $(filter 0,$(WORKERS)),,-n auto --maxprocesses $(WORKERS) --dist worksteal)
# The JAX half keeps its compiled programs between runs (JAX's persistent
# cache, in .venv): a second run of it took 1.9 min instead of 3.5 here. A
# clean clone starts with it empty.
JAX_CACHE := JAX_COMPILATION_CACHE_DIR=$(CURDIR)/$(VENV)/jax-cache \
	JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0

.PHONY: test test-jax test-quick demo bench lint format dist docs clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && $(BIN)/python -m pip install --quiet \
			--disable-pip-version-check uv >/dev/null 2>&1; then \
		echo "Installing skconstrain[$(EXTRAS)] into $(VENV) with uv"; \
		$(BIN)/python -m uv pip install --quiet --compile-bytecode \
			--python $(BIN)/python -e ".[$(EXTRAS)]"; \
	else \
		if [ "$(INSTALLER)" = uv ]; then echo "uv could not be installed"; fi; \
		echo "Installing skconstrain[$(EXTRAS)] into $(VENV) with pip"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check \
			-e ".[$(EXTRAS)]"; \
	fi
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not examples"
	KERAS_BACKEND=jax $(JAX_CACHE) $(BIN)/python -m pytest $(XDIST) $(JAX_TESTS)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(JAX_CACHE) $(BIN)/python -m pytest $(XDIST) $(JAX_TESTS)

test-quick: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) -m "not slow and not examples"

demo: $(STAMP)
	@$(BIN)/python -m skconstrain.demo

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# A wheel and an sdist (python -m build), each installed into a fresh virtual
# environment and smoke-tested there (import, one fit, one predict).
dist: $(STAMP)
	rm -rf dist build/dist-check
	$(BIN)/python -m build --installer $$($(BIN)/python -m uv --version \
		>/dev/null 2>&1 && echo uv || echo pip) --outdir dist .
	$(BIN)/python .ci/check_dist.py dist

# The documentation site, into docs/_build/html: offline (no intersphinx,
# MathJax served locally), warnings as errors, every example of the gallery
# run. Its tools are the "docs" extra, installed on first use.
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): $(STAMP)
	@if $(BIN)/python -m uv --version >/dev/null 2>&1; then \
		$(BIN)/python -m uv pip install --quiet --compile-bytecode \
			--python $(BIN)/python -e ".[docs]"; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[docs]"; \
	fi
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	rm -rf docs/_build docs/generated docs/auto_examples
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist *.egg-info \
		docs/_build docs/generated docs/auto_examples
