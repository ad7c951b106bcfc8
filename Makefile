# Reproducible report: RBC-TI after lenalidomide discontinuation in del(5q) MDS.
# `make help` lists the targets. Every target creates .venv from the pinned requirements first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?= data/synthetic/cohort.csv
MIN_CELL ?=
SHEET ?=
REPLACE ?=
LINE_NUMBERS ?=
MAPPING ?=
SENSITIVITY ?= 1
PROFILE ?=
R ?= 200
PARAMS ?=
CYCLES_CUTOFF ?=
TB_CUTOFF ?=
ALPHA ?=

export PYTHONHASHSEED := 0
# the report's date is the commit time of HEAD unless SOURCE_DATE_EPOCH is set (lenstop.config)

# A .venv copied or moved with the folder still runs the old checkout's code (its editable
# install and scripts name that path): the stamp records the checkout, and a venv made for
# another folder is rebuilt here rather than writing into the original.
VENV_HOME := $(shell cat $(STAMP) 2>/dev/null)
ifneq ($(VENV_HOME),)
ifneq ($(VENV_HOME),$(CURDIR))
$(info .venv was made for $(VENV_HOME); rebuilding it for $(CURDIR))
$(shell rm -rf $(VENV))
endif
endif

.PHONY: help venv report simulate test sysdeps lint format validate synthetic lab bench clean

help: ## List the targets and what they do
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-12s %s\n", $$1, $$2}'
	@echo "  Variables: DATA=path/to/extract (default $(DATA)),"
	@echo "             MIN_CELL=k (counts below k shown as <k; default 5 for a registry extract,"
	@echo "               0 for the synthetic cohort; MIN_CELL=0 builds without suppression),"
	@echo "             SHEET=name (Excel sheet; default: the one with patient_id),"
	@echo "             MAPPING=crosswalk.yml (extract columns, codes, units -> data dictionary),"
	@echo "             REPLACE=1 (take over build/<name>/ from another extract of that name),"
	@echo "             LINE_NUMBERS=1 (number the PDF's lines, for review),"
	@echo "             SENSITIVITY=0 (skip the sensitivity grid; builds into build/<name>-nogrid/),"
	@echo "             PROFILE=workflow/profiles/slurm (run the jobs on a Slurm cluster),"
	@echo "             R=2000 (replicates of make simulate; default 200, as the report),"
	@echo "             CYCLES_CUTOFF=6, TB_CUTOFF=3, ALPHA=0.01 or PARAMS=my.yaml (analysis"
	@echo "               parameters other than the paper's, config/config.yaml; own build folder)"

$(STAMP): requirements.txt requirements.lock pyproject.toml workflow/jupyterlab-overrides.json
	@command -v $(PYTHON_SYS) >/dev/null || { echo "error: $(PYTHON_SYS) not found (Python 3.11 is required)"; exit 1; }
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@mkdir -p $(VENV)/share/jupyter/lab/settings && cp workflow/jupyterlab-overrides.json \
	  $(VENV)/share/jupyter/lab/settings/overrides.json
	@echo "$(CURDIR)" > $(STAMP)

venv: $(STAMP) ## Create or update .venv from the pinned requirements (idempotent)

report: $(STAMP) ## Build the report from DATA (MIN_CELL=5 shows counts below 5 as "<5")
	$(VENV)/bin/lenstop build --data "$(DATA)" $(if $(MIN_CELL),--min-cell "$(MIN_CELL)") \
	  $(if $(SHEET),--sheet "$(SHEET)") $(if $(filter 1 yes true,$(REPLACE)),--replace) \
	  $(if $(filter 1 yes true,$(LINE_NUMBERS)),--line-numbers) $(if $(MAPPING),--mapping "$(MAPPING)") \
	  $(if $(filter 0 no false,$(SENSITIVITY)),--no-sensitivity) $(if $(PROFILE),--profile "$(PROFILE)") \
	  $(if $(PARAMS),--params "$(PARAMS)") $(if $(CYCLES_CUTOFF),--param cycles_cutoff=$(CYCLES_CUTOFF)) \
	  $(if $(TB_CUTOFF),--param tb_cutoff=$(TB_CUTOFF)) $(if $(ALPHA),--param alpha=$(ALPHA))

simulate: $(STAMP) ## Run the simulation study (R replicates; PROFILE=... on a cluster) into build/simulation/R<R>/
	$(VENV)/bin/lenstop simulate --replicates "$(R)" $(if $(PROFILE),--profile "$(PROFILE)")

# -n auto --dist loadfile: one pytest-xdist worker per core, each test file on one worker, and
# the files that share tests/_builds.py's build together (conftest.py, pytest_xdist_make_scheduler)
# Debian tools some tests use (poppler's pdftotext for the PDF layout check, Chromium for the
# HTML banner script): installed when root with apt-get, else those tests skip and say why
SYSTEM_TOOLS := pdftotext:poppler-utils chromium:chromium
sysdeps: ## Install the Debian tools the tests use, where this is root with apt-get
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing$$missing (apt-get)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null \
	  || echo "warning: could not install$$missing; the tests that need them will skip"; fi

test: $(STAMP) sysdeps ## Run lint and the whole test suite (unit, notebooks via nbval, report)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n auto --dist loadfile

# tests/cluster/slurm.sh starts a one-node Slurm (slurmdbd + MariaDB accounting; installs the
# Debian packages when root with apt-get, else the tests skip and say why) and stops it after
test-cluster: $(STAMP) ## Run the Slurm profile's tests on a one-node Slurm cluster started for them
	$(PY) -m pytest tests/cluster -p no:cacheprovider -m cluster

lint: $(STAMP) ## Ruff lint only
	$(VENV)/bin/ruff check .

format: $(STAMP) ## Ruff format and fix imports
	$(VENV)/bin/ruff check --fix --select I .
	$(VENV)/bin/ruff format src tests benchmarks

validate: $(STAMP) ## Validate DATA, print every problem, write build/<name>/quality/report.html and .xlsx
	$(VENV)/bin/lenstop validate "$(DATA)" --report $(if $(SHEET),--sheet "$(SHEET)") $(if $(MAPPING),--mapping "$(MAPPING)")

synthetic: $(STAMP) ## Regenerate data/synthetic/cohort.csv (deterministic, seeded)
	$(VENV)/bin/lenstop synthesize --out data/synthetic/cohort.csv

lab: $(STAMP) ## Start JupyterLab on the project's kernel (outputs of runs by hand go to build/scratch/)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

bench: $(STAMP) ## Run the benchmark and write benchmarks/results.md
	$(PY) benchmarks/run.py

clean: ## Remove build outputs (keeps .venv and committed results)
	rm -rf build _manuscript .snakemake .build .quarto
