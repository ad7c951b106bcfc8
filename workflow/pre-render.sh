#!/bin/sh
# Quarto's pre-render step (see _quarto.yml): run the workflow up to the manuscript variables
# (validate -> papermill notebooks -> results/results.json -> _variables.yml). Snakemake skips
# every step whose inputs did not change, so a second `quarto render` executes no notebook.
# `make report` runs the same workflow (workflow/Snakefile), then renders with pandoc/Typst
# where Quarto is absent.
#
# Which extract: LENSTOP_DATA (set in the _environment file of a staged build folder, see
# README "Build with Quarto"); default the shipped synthetic cohort.
# Which Python: LENSTOP_PYTHON, else the project's .venv, else python3 on PATH (conda env).
set -eu
py="${LENSTOP_PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
if [ -n "${LENSTOP_DATA:-}" ]; then
  exec "$py" -m lenstop.cli build --until variables --data "$LENSTOP_DATA"
fi
exec "$py" -m lenstop.cli build --until variables
