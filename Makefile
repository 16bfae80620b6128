# diffrisk — two commands: `make repro` (set up + run the pipeline), `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist processes for `make test` (a test file stays on one worker; files go out in
# collection order, the pipeline runs first: tests/conftest.py LONGEST_FIRST)
TEST_WORKERS ?= 2
export DVC_NO_ANALYTICS := 1
export OMP_WAIT_POLICY := PASSIVE
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Instruction-set profile of the pipeline's Jupyter kernel, which every stage runs in:
# avx2 caps numpy, OpenBLAS, PyTorch and numba at AVX2 on x86-64, so that any x86-64 CPU
# with AVX2 computes the committed tables; native lets them use the whole CPU (faster on
# AVX-512, other numbers). `make repro ISA_PROFILE=native`; see diffrisk.stages.kernel.
ISA_PROFILE ?= avx2
export ISA_PROFILE

.PHONY: help venv constraints kernel repro test lint format smoke bench lab deps dag metrics clean serve chromium docs

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned requirements (and diffrisk, editable)

constraints: ## Rewrite constraints.txt: install requirements.txt unconstrained, freeze .venv
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	{ sed -n '/^#/p' constraints.txt; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch=='; } > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt
	touch $(STAMP)

kernel: $(STAMP) ## Install the stages' Jupyter kernel (python3) with the profile ISA_PROFILE
	$(BIN)/python -m diffrisk.stages.kernel --install-kernel $(ISA_PROFILE)

repro: kernel ## Set up everything and rebuild every table and figure (dvc repro)
	$(BIN)/dvc repro

test: kernel ## Set up everything and run the test suite (includes an end-to-end smoke run)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

chromium: ## Install Debian's chromium for the page's browser test (root, Debian; .ci/run does it)
	@test -x /usr/bin/chromium || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

serve: $(STAMP) ## Start the scenario service on 127.0.0.1:8000 (needs `make repro` first; ARGS=...)
	$(BIN)/python -m diffrisk.service $(ARGS)

lint: $(STAMP) ## ruff (check + format) and the layering contract (import-linter)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP) ## Auto-format the code with ruff
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

docs: $(STAMP) ## Build the documentation site into site/ (mkdocs, warnings as errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

smoke: kernel ## Run only the end-to-end smoke pipeline test
	$(BIN)/python -m pytest tests/test_pipeline_smoke.py -v

bench: $(STAMP) ## Run the benchmarks (timings quoted in the README)
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lab: kernel ## Open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

deps: $(STAMP) ## Rewrite dvc.yaml's code deps from the notebooks' imports (tests/stages/dvc_deps.py)
	$(BIN)/python -m tests.stages.dvc_deps --write

dag: $(STAMP) ## Show the pipeline graph
	$(BIN)/dvc dag

metrics: $(STAMP) ## Show the headline metrics of the last run
	$(BIN)/dvc metrics show

clean: ## Remove the virtual environment and caches (not data or reports)
	rm -rf $(VENV) .pytest_cache .ruff_cache
