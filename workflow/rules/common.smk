# Settings from --config (set by `lenstop build`), the build folder's paths, and what the
# rules share. Included first by the Snakefile.

import shlex
from pathlib import Path

from lenstop.config import MANUSCRIPT_SOURCES, NOTEBOOKS, ROOT
from lenstop.manuscript.variables import TYPST_HEADER
from lenstop.workflow import simulation_plan
from lenstop.workflow.layout import REPORT_FILES
from lenstop.workflow.notebooks import closure, code_inputs
from lenstop.workflow.sensitivity_grid import GRID_FILE, load_grid

DATA = config["data"]
OUT = config.get("out", ".")
UNTIL = config.get("until", "report")
MIN_CELL = int(config.get("min_cell", 0))
SHEET = config.get("sheet", "")
LINE_NUMBERS = int(config.get("line_numbers", 0))
GRID_CODE = [str(p.relative_to(ROOT)) for p in closure(["analyses.sensitivity"])]
"""What a grid point's job runs (lenstop.analyses.sensitivity.run_job and its imports)."""
RENDER_CODE = sorted(str(p) for p in Path("src/lenstop/manuscript/render").rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)
SOURCES = list(MANUSCRIPT_SOURCES)
# a private build folder is also a Quarto project of its own (layout.QUARTO_FILES)
SHEET_ARG = f"--sheet {shlex.quote(SHEET)}" if SHEET else ""


QUARTO_FILES = ["workflow/pre-render.sh", "_environment"] if OUT != "." else []

# The sensitivity grid (config/sensitivity.yaml): one job per point, gathered for notebook 07.
# sensitivity=0 (make report SENSITIVITY=0) runs no point; notebook 07 then says so.
SENSITIVITY = int(config.get("sensitivity", 1))
GRID = config.get("grid", str(GRID_FILE.relative_to(GRID_FILE.parents[1])))
POINTS = [p.name for p in load_grid(GRID)] if SENSITIVITY else []

# The simulation study (lenstop.analyses.simulation): batches of seeds as jobs, then the summary
# that notebook 06 shows. It reads no extract, so every build of the project shares its folder
# (build/simulation/R<replicates>/); `lenstop simulate --out DIR` puts it elsewhere.
REPLICATES = int(config.get("replicates", simulation_plan.DEFAULT_REPLICATES))
FIRST_SEED = int(config.get("first_seed", simulation_plan.FIRST_SEED))
SIM_DIR = config.get("sim_dir") or str(
    simulation_plan.results_dir(REPLICATES, FIRST_SEED).relative_to(GRID_FILE.parents[1]))
SIM_BATCHES = [f"{SIM_DIR}/batches/seeds-{a}-{b}.json"
               for a, b in simulation_plan.batches(REPLICATES, FIRST_SEED)]
SIM_CODE = sorted(str(p.relative_to(GRID_FILE.parents[1])) for p in simulation_plan.code_files())


def at(path):
    """A path inside the build folder (the project itself for the synthetic cohort)."""
    return f"{OUT}/{path}" if OUT != "." else path


WORK = at(".build")
STAGE = f"{WORK}/stage"
REPORT = [f"{STAGE}/{f}" for f in REPORT_FILES]

wildcard_constraints:
    nb="|".join(NOTEBOOKS),
    until="variables|report",
    point=r"[A-Za-z0-9_]+",
    first=r"\d+",
    last=r"\d+",

# cheap steps run where Snakemake runs, also with a cluster profile; the notebooks, grid
# points and simulation batches are the jobs (resources declared for a cluster)
localrules: all, validate, merge, variables, stage, render, publish, sensitivity,
    simulate_summary

TARGETS = {"sensitivity": f"{WORK}/sensitivity/points.json",
           "simulation": f"{SIM_DIR}/summary.json"}


def to_publish(wildcards):
    """The staged files a publication needs: all of them, the report only for `report`."""
    files = [*expand(f"{WORK}/products/{{nb}}.json", nb=NOTEBOOKS),
             *expand(f"{STAGE}/notebooks/{{nb}}.ipynb", nb=NOTEBOOKS),
             f"{STAGE}/results/results.json", f"{STAGE}/_variables.yml",
             f"{STAGE}/{TYPST_HEADER}",
             *[f"{STAGE}/{s}" for s in SOURCES + QUARTO_FILES]]
    return files + (REPORT if wildcards.until == "report" else [])
