"""The manuscript steps the workflow's rules call: merge the results sections, write the
variables, stage the sources, render (pandoc/Typst)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lenstop import config
from lenstop.errors import StepError
from lenstop.workflow.layout import (
    MANUSCRIPT_SOURCES,
    QUARTO_FILES,
    stage_dir,
    step,
)


def merge(stage: Path, min_cell: int | None = None, data: Path | None = None) -> None:
    """Merge the notebooks' results sections into results/results.json, checking that every
    notebook analysed `data` (the build's extract) with the build's minimum cell size."""
    from lenstop.manuscript import results

    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    with step("merge results"):
        try:
            merged = results.merge(Path(stage) / "results", data=data)
        except ValueError as exc:
            raise StepError(f"{exc}; nothing was published") from None
        wrong = [s for s, sec in merged.items()
                 if sec.get("meta", {}).get("parameters", {}).get("min_cell") != min_cell]
        if wrong:
            raise StepError(
                f"results section(s) {', '.join(wrong)} do not record min_cell = {min_cell}: "
                "their notebooks must pass min_cell=min_cell to open_study() and suppress "
                "small counts with it")


def write_variables(stage: Path, line_numbers: bool = False) -> None:
    """Write the manuscript variables (`_variables.yml`) and the Typst header from
    results/results.json (`line_numbers`: number the PDF's lines, for review)."""
    from lenstop.manuscript import results, variables

    with step("manuscript variables"):
        variables.write(results.read(Path(stage) / "results" / "results.json"),
                        Path(stage) / "_variables.yml", line_numbers=line_numbers)


def stage(stage: Path, data: Path | None = None, min_cell: int | None = None,
          sheet: str | None = None) -> None:
    """Copy the manuscript sources into the staging area (the renderer's project folder).

    For a build folder other than the project itself (any extract but the shipped cohort, or
    the shipped cohort with a minimum cell size), also stage what a Quarto render of that
    folder needs (`QUARTO_FILES`), so that folder is a complete Quarto project that rebuilds
    the same extract with the same options.
    """
    from lenstop.files import write_atomic

    for name in MANUSCRIPT_SOURCES:
        write_atomic(Path(stage) / name, (config.ROOT / name).read_text(encoding="utf-8"))
    if data is None or Path(stage).resolve() == stage_dir(config.ROOT).resolve():
        return
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    script = (config.ROOT / QUARTO_FILES[0]).read_text(encoding="utf-8")
    write_atomic(Path(stage) / QUARTO_FILES[0], script)
    write_atomic(Path(stage) / QUARTO_FILES[1], (
        "# Written by the build: `quarto render` in this folder rebuilds this extract\n"
        "# (its pre-render step runs the same workflow as `make report DATA=...`).\n"
        f'LENSTOP_DATA="{Path(data).resolve()}"\n'
        f'LENSTOP_MIN_CELL="{min_cell}"\n'
        f'LENSTOP_SHEET="{sheet or ""}"\n'
        f'LENSTOP_MAPPING="{config.mapping_path() or ""}"\n'
        + (f"LENSTOP_PARAMS='{os.environ[config.PARAMS_ENV]}'\n"
           if os.environ.get(config.PARAMS_ENV) else "") +
        f'LENSTOP_PYTHON="{Path(sys.executable)}"\n'))


def render(project: Path) -> None:
    """Render the manuscript of `project` into _manuscript/ (`REPORT_FILES`; pandoc, Typst)."""
    from lenstop.manuscript.render import render as render_manuscript

    project = Path(project).resolve()
    with step("render manuscript"):
        render_manuscript(project, project / "_manuscript")
