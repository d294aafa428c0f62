# Two commands do all set-up on a fresh machine: `make report` and `make test`.
# Each (re)creates .venv from requirements.txt when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
QUICK  ?=
REPORT_FLAGS := $(if $(filter 1 yes true,$(QUICK)),--quick,)

.DEFAULT_GOAL := help
.PHONY: help install report test test-unit lint lab bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'
	@echo "  make report QUICK=1   every notebook with small parameters"

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

install: $(STAMP) ## create .venv from requirements.txt (done by every other target when needed)

report: $(STAMP) ## run every notebook (papermill) and build reports/index.html and figures/
	TQDM_DISABLE=1 $(PY) -m lab_utils report $(REPORT_FLAGS)

test: $(STAMP) ## every test: unit, slow (system, workers) and every notebook in quick mode
	$(PY) -m pytest -q tests

test-unit: $(STAMP) ## the fast tests only (-m "not slow and not notebooks"), well under a minute
	$(PY) -m pytest -q -m "not slow and not notebooks" tests

lint: $(STAMP) ## ruff
	$(PY) -m ruff check lab_utils tests bench

lab: $(STAMP) ## JupyterLab on notebooks/ with the project's environment (installs jupyterlab once)
	@$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet -r requirements-lab.txt
	$(PY) -m jupyter lab --notebook-dir=notebooks

bench: $(STAMP) ## run every benchmark in bench/ (prints ratio: lines)
	@for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean: ## remove generated reports, results, figures and caches (keeps .venv and data/)
	rm -rf reports/*.ipynb reports/*.html results .pytest_cache .ruff_cache .hypothesis
	find figures -name '*.png' -delete
	find . -name __pycache__ -prune -exec rm -rf {} +
