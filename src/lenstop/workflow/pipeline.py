"""The build: `build()` (and `simulate()`), the entry point users reach.

`build()` is the one entry point users reach (`make report`, `lenstop build`): it validates the
extract in-process (bad data stops here: the problems go to the terminal, no workflow starts, no
log file sees a value), picks the build folder, then lets Snakemake (`workflow/Snakefile`) run
only the steps whose inputs changed. That validation is the build's only one: it writes the
validation stamp and the cohort cache (lenstop.cohort.cache) that the notebooks load.

Builds are atomic: every step writes into the build folder's staging area `.build/stage/`
(laid out like the build folder itself); only the last step, `publish` (lenstop.workflow.publish),
copies the staged files into their public places, report last. A build that fails or is
interrupted before `publish` leaves the previous outputs as they were. Steps print what they
do and how long it took; none prints patient-level values.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from lenstop import config
from lenstop.errors import GridError, StepError
from lenstop.workflow import uptodate
from lenstop.workflow.layout import (
    build_dir,
    claim_build_dir,
    relative,
    work_dir,
)
from lenstop.workflow.notebooks import FAULT_ENV
from lenstop.workflow.quarto import quarto_render, use_quarto
from lenstop.workflow.runner import profile_dir, snakemake
from lenstop.workflow.stamp import print_loading_messages, write_stamp


def build(data: Path, sheet: str | None = None, until: str = "report",
          min_cell: int | None = None, replace: bool = False, line_numbers: bool = False,
          mapping: Path | None = None, sensitivity: bool = True, grid: Path | None = None,
          profile: Path | None = None, params: dict | None = None) -> int:
    """Validate, run the notebooks, merge, render and publish the report for `data`.

    `mapping` is a crosswalk (lenstop.ingest.crosswalk) from the extract's columns, codes and units
    to the data dictionary; every step and notebook reads it through `config.MAPPING_ENV`.
    `sensitivity=False` skips the sensitivity grid (`grid`, default config/sensitivity.yaml);
    `until="sensitivity"` runs only the grid. `profile` runs the jobs through a Snakemake
    profile (workflow/profiles/slurm: on a Slurm cluster). `params` are analysis parameters
    (config/config.yaml keys): values other than the paper's run every notebook with them
    (`config.PARAMS_ENV`) into a folder of their own.
    """
    from lenstop.disclosure import placement
    from lenstop.workflow.publish import published_intact

    data = Path(data).resolve()
    if mapping is not None:
        mapping = Path(mapping).resolve()
        if not mapping.is_file():
            raise StepError(f"crosswalk {mapping} does not exist")
        os.environ[config.MAPPING_ENV] = str(mapping)  # inherited by every step
    else:
        os.environ.pop(config.MAPPING_ENV, None)
    try:
        params = config.check_parameters(params or {}, "build parameters")
    except ValueError as exc:
        raise StepError(str(exc)) from None
    params = {k: v for k, v in params.items() if v != config.ANALYSIS[k]}
    if params:
        os.environ[config.PARAMS_ENV] = json.dumps(params, sort_keys=True)
    else:
        os.environ.pop(config.PARAMS_ENV, None)
    min_cell = config.default_min_cell(data) if min_cell is None else int(min_cell)
    if min_cell < 0:
        raise StepError(f"--min-cell must be 0 (no suppression) or more, not {min_cell}")
    start = time.perf_counter()
    placement.check_extract_location(data)
    from lenstop.config import NOTEBOOKS

    placement.check_notebooks(config.NOTEBOOKS_DIR / f"{nb}.ipynb" for nb in NOTEBOOKS)
    grid = Path(grid).resolve() if grid else config.SENSITIVITY_GRID
    profile = profile_dir(profile) if profile else None  # (a wrong name stops here)
    out = build_dir(data, min_cell, sensitivity, params)
    work = work_dir(out)
    placement.check_output_dir(data, out)
    intact = published_intact(out)
    # Nothing changed since the last successful build (same extract bytes, options, code,
    # notebooks and sources; published files intact): say so without starting Snakemake.
    skip = (until == "report" and use_quarto()) or not data.is_file() or \
        FAULT_ENV in os.environ or until not in ("report", "variables") or profile is not None
    inputs = None if skip else uptodate.fingerprint(data, sheet, min_cell, until,
                                                    line_numbers=line_numbers, mapping=mapping,
                                                    grid=grid if sensitivity else None,
                                                    params=params)
    if inputs is not None and uptodate.is_current(work, until, inputs, intact):
        print(f"{data.name}: nothing changed since the last build of {relative(out)} "
              "(extract, options, code, notebooks and sources as then; validated then): "
              f"the {until} is up to date.")
        return 0
    if sensitivity:  # (checked only when there is work: the import costs seconds)
        from lenstop.workflow import sensitivity_grid as grid_module

        try:
            grid_module.load_grid(grid)  # a bad grid stops here, with every problem named
        except GridError as exc:
            raise StepError(str(exc)) from None
    # Validate here, before any workflow starts: a bad extract stops with every problem on
    # the terminal (DataError, exit 2) and no log file ever sees a row-level value.
    from lenstop.cohort import cache  # (pandas and pandera: imported only when there is work)
    from lenstop.ingest.validate import load_cohort

    cohort, warnings = load_cohort(data, sheet=sheet, mapping=mapping)
    print_loading_messages(warnings)
    claim_build_dir(data, out, replace)  # (after validation: bad data is reported first)
    if not intact:  # a published file was edited or deleted: publish again
        for stamp in work.glob("published-*.json"):
            stamp.unlink()
        uptodate.forget(work)
    # This check is the build's only validation: the stamp makes the workflow's `validate`
    # rule current, and the notebooks load the cohort from the cache (removed at the end).
    write_stamp(data, work / "validated.json", cohort)
    cache.save(data, work, cohort, warnings, sheet)
    print(f"{data.name}: {len(cohort)} patients, all checks passed; building in "
          f"{relative(out)}", flush=True)
    options = {"sensitivity": int(sensitivity), "grid": relative(grid)}
    try:
        code = _run(data, out, until, min_cell, sheet, start, line_numbers, options, profile)
    finally:
        cache.discard(work)
    if code == 0 and inputs is not None:
        uptodate.record(work, until, inputs)
    return code


def _run(data: Path, out: Path, until: str, min_cell: int, sheet: str | None,
         start: float, line_numbers: bool = False, options: dict | None = None,
         profile: Path | None = None) -> int:
    """The workflow part of `build()`: Snakemake (then Quarto, where it renders)."""
    run = dict(min_cell=min_cell, sheet=sheet, line_numbers=line_numbers, options=options,
               profile=profile)
    if until == "report" and use_quarto():
        if out.resolve() != config.ROOT.resolve():  # first publish the folder's Quarto project
            code = snakemake(data, out, until="variables", **run)
            if code != 0:
                return code
        return quarto_render(out)
    code = snakemake(data, out, until=until, **run)
    if code == 0:
        folder = "the project folder" if out.resolve() == config.ROOT.resolve() else \
            relative(out) + "/"
        made = {"variables": "_variables.yml and results/results.json",
                "sensitivity": ".build/sensitivity/points.json (the grid's points)",
                }.get(until, "_manuscript/index.html and _manuscript/report.pdf")
        print(f"{data.name}: built in {time.perf_counter() - start:.1f} s: {made} in {folder}")
    elif code == 130:
        print("build interrupted; the previous outputs are unchanged.", file=sys.stderr)
    else:
        print(f"build failed (exit {code}); the previous outputs are unchanged.",
              file=sys.stderr)
    return code


def simulate(replicates: int, first_seed: int = 1, out: Path | None = None,
             profile: Path | None = None) -> int:
    """The planted-against-recovered study as workflow jobs (batches of seeds, then the
    summary) into `out` (default `simulation.results_dir`), locally or through `profile`."""
    from lenstop.analyses import simulation

    if replicates < 2 or first_seed < 1:
        raise StepError("the simulation needs at least 2 replicates and seeds from 1")
    out = Path(out).resolve() if out else simulation.results_dir(replicates, first_seed)
    profile = profile_dir(profile) if profile else None
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    code = snakemake(config.SYNTHETIC_COHORT, config.ROOT, until="simulation",
                     options={"replicates": replicates, "first_seed": first_seed,
                              "sim_dir": relative(out)}, profile=profile, lock=out)
    if code == 0:
        print(f"simulation: {replicates} replicates in {time.perf_counter() - start:.1f} s: "
              f"{relative(out / 'summary.json')}")
    return code
