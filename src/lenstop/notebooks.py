"""Execute an analysis notebook with papermill and strip what would differ between runs.

Papermill and nbclient stamp every cell with start/end times; those are removed so that the
same inputs give byte-identical notebooks (and committed notebooks do not churn).
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

NOTEBOOKS = ("01_cohort", "02_ti_duration", "03_cytogenetics", "04_retreatment")
"""The analysis notebooks, in report order; each writes the results section of its name."""

SECTION_OF = dict(zip(NOTEBOOKS, ("cohort", "ti_duration", "cytogenetics", "retreatment"),
                      strict=True))


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution timestamps and durations from a notebook (in place) and return it."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    return nb


def execute(notebook: Path, output: Path, parameters: dict, cwd: Path | None = None,
            kernel: str = "python3", progress: bool = False) -> Path:
    """Run `notebook` with `parameters` into `output` (atomically), scrubbed of timestamps."""
    import papermill

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.stem}.running{os.getpid()}.ipynb")
    try:
        papermill.execute_notebook(str(notebook), str(tmp), parameters=parameters,
                                   kernel_name=kernel, cwd=str(cwd or Path(notebook).parent),
                                   progress_bar=progress, log_output=False)
        nb = scrub(nbformat.read(tmp, as_version=4))
        nbformat.write(nb, tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
