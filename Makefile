# Two commands do all set-up on a fresh machine: `make report` and `make test`.
# Each (re)creates .venv from requirements.txt when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LAB_STAMP := $(VENV)/.lab-installed
QUICK  ?=
ARGS   ?=
PORT   ?= 8888
REPORT_FLAGS := $(if $(filter 1 yes true,$(QUICK)),--quick,)

.DEFAULT_GOAL := help
.PHONY: help install report readme-results test test-unit lint lab bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  make report QUICK=1   every notebook with small parameters"
	@echo "  make lab PORT=9999    JupyterLab on another port"
	@echo "  make report ARGS='--param data_path=/data/cifar10'   extra options of python -m lab_utils report"

# The project itself is installed editable (pyproject.toml), so a kernel started in any folder imports lab_utils.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools
	$(PY) -m pip install --quiet -r requirements.txt
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP) ## create .venv from requirements.txt and install lab_utils into it (done by every other target when needed)

report: $(STAMP) ## check the data, run every notebook (papermill), build reports/index.html and figures/
	TQDM_DISABLE=1 $(PY) -m lab_utils report $(REPORT_FLAGS) $(ARGS)

readme-results: $(STAMP) ## rewrite README.md's results section from results/*/summary.json (after a full `make report`)
	$(PY) -m lab_utils report --readme

test: $(STAMP) ## every test: unit, slow (system, workers) and every notebook in quick mode
	$(PY) -m pytest -q tests

test-unit: $(STAMP) ## the fast tests only (-m "not slow and not notebooks"), about 40 s
	$(PY) -m pytest -q -m "not slow and not notebooks" tests

lint: $(STAMP) ## ruff
	$(PY) -m ruff check lab_utils tests bench

$(LAB_STAMP): $(STAMP) requirements-lab.txt
	$(PY) -m pip install --quiet -r requirements-lab.txt
	@touch $@

lab: $(LAB_STAMP) ## JupyterLab at the repository root (PORT=8888), with the project's environment
	$(PY) -m jupyter lab --ServerApp.root_dir=$(CURDIR) --ServerApp.port=$(PORT) --ServerApp.port_retries=0 \
		$(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP) ## run every benchmark in bench/ (prints ratio: lines)
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean: ## remove generated reports, results, figures and caches (keeps .venv and data/)
	rm -rf reports/*.ipynb reports/*.html results .pytest_cache .ruff_cache .hypothesis
	find figures -name '*.png' -delete
	find . -name __pycache__ -prune -exec rm -rf {} +
