#!/bin/sh
# Quarto's pre-render step (see _quarto.yml): run the workflow up to the manuscript variables
# (validate -> papermill notebooks -> results/results.json -> _variables.yml). Snakemake skips
# every step whose inputs did not change, so a second `quarto render` executes no notebook.
# `make report` runs the same workflow (workflow/Snakefile), then renders with pandoc/Typst
# where Quarto is absent.
#
# Which extract: LENSTOP_DATA, with LENSTOP_MIN_CELL (minimum cell size) and LENSTOP_SHEET
# (Excel sheet), all set in the _environment file of a staged build folder (see README "Build
# with Quarto"); default the shipped synthetic cohort with the default options.
# LENSTOP_LINE_NUMBERS=1 numbers the PDF's lines (for review); LENSTOP_SENSITIVITY=0 skips the
# sensitivity grid.
# Which Python: LENSTOP_PYTHON, else the project's .venv, else python3 on PATH (conda env).
set -eu
py="${LENSTOP_PYTHON:-}"
if [ -z "$py" ]; then
  if [ -x .venv/bin/python ]; then py=.venv/bin/python; else py=python3; fi
fi
set -- build --until variables
if [ -n "${LENSTOP_DATA:-}" ]; then set -- "$@" --data "$LENSTOP_DATA"; fi
if [ -n "${LENSTOP_MIN_CELL:-}" ]; then set -- "$@" --min-cell "$LENSTOP_MIN_CELL"; fi
if [ -n "${LENSTOP_SHEET:-}" ]; then set -- "$@" --sheet "$LENSTOP_SHEET"; fi
case "${LENSTOP_LINE_NUMBERS:-}" in 1|yes|true) set -- "$@" --line-numbers ;; esac
case "${LENSTOP_SENSITIVITY:-1}" in 0|no|false) set -- "$@" --no-sensitivity ;; esac
exec "$py" -m lenstop.cli "$@"
