"""The build's steps, each a small command that the Snakemake workflow calls.

`build()` is the one entry point users reach (`make report`, `lenstop build`, Quarto's
pre-render): it picks the build folder, then lets Snakemake (`workflow/Snakefile`) run only
the steps whose inputs changed. Steps print what they do and how long it took; none prints
patient-level values.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import config

SNAKEFILE = config.ROOT / "workflow" / "Snakefile"
MANUSCRIPT_SOURCES = ("report.qmd", "_quarto.yml", "references.bib", "vancouver.csl")


class StepError(RuntimeError):
    """A build step failed; the message names the step (and notebook cell) and the error."""


@contextmanager
def step(name: str):
    """Print `name` when it starts and its elapsed time when it ends."""
    start = time.perf_counter()
    print(f"[{name}] started", flush=True)
    yield
    print(f"[{name}] done in {time.perf_counter() - start:.1f} s", flush=True)


def build_dir(data: Path) -> Path:
    """The project itself for the shipped synthetic cohort; build/<extract stem> otherwise."""
    return config.ROOT if config.is_shipped(data) else config.BUILD_DIR / Path(data).stem


def _relative(path: Path) -> str:
    try:
        rel = Path(path).resolve().relative_to(config.ROOT.resolve())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(Path(path).resolve())


def validate_stamp(data: Path, stamp: Path, sheet: str | None = None) -> None:
    """Validate `data`; on success write a stamp (fingerprint and counts, no patient data)."""
    from .results import dumps, sha256, write_atomic
    from .validate import load_cohort

    cohort, warnings = load_cohort(data, sheet=sheet)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    write_atomic(Path(stamp), dumps({"data_file": Path(data).name, "sha256": sha256(data),
                                     "patients": len(cohort)}))
    print(f"{Path(data).name}: {len(cohort)} patients, all checks passed.")


def run_notebook(name: str, data: Path, out: Path) -> None:
    """Execute one analysis notebook with papermill for `data`, writing into `out`."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError

    from .notebooks import SECTION_OF, execute, scrub

    out = Path(out).resolve()
    source = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    shipped = config.is_shipped(data)
    target = source if shipped else out / "notebooks" / f"{name}.ipynb"
    scratch = out / ".build" / f"{name}.ipynb"
    # The committed notebooks run with their defaults (no injected cell, no local paths);
    # any other build names its data and output folder explicitly.
    default = shipped and out == config.ROOT.resolve()
    params = {} if default else {"data_path": str(Path(data).resolve()), "output_dir": str(out)}
    os.environ.pop("LENSTOP_OUTPUT_DIR", None)  # the build decides where outputs go
    with step(f"notebook {name}"):
        try:
            execute(source, scratch, params, cwd=config.NOTEBOOKS_DIR)
        except PapermillExecutionError as exc:
            raise StepError(f"notebook {name}.ipynb failed in cell {exc.exec_count}: "
                            f"{exc.ename}: {exc.evalue}") from None
        new = scratch.read_bytes()
        if not target.exists() or target.read_bytes() != new:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(scratch, target)
        else:
            scratch.unlink()
        nbformat.validate(scrub(nbformat.read(target, as_version=4)))
    section = out / "results" / "sections" / f"{SECTION_OF[name]}.json"
    if not section.exists():
        raise StepError(f"notebook {name}.ipynb ran but wrote no results section {section}")
    os.utime(section)  # newer than the notebook it came from, so the workflow sees it current


def merge(out: Path) -> None:
    """Merge the notebooks' results sections into results/results.json."""
    from . import results

    with step("merge results"):
        results.merge(Path(out) / "results")


def write_variables(out: Path) -> None:
    """Write the manuscript variables (`_variables.yml`) from results/results.json."""
    from . import results, variables

    with step("manuscript variables"):
        variables.write(results.read(Path(out) / "results" / "results.json"),
                        Path(out) / "_variables.yml")


def stage(out: Path) -> None:
    """Copy the manuscript sources into a build folder (for extracts other than the shipped)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in MANUSCRIPT_SOURCES:
        shutil.copyfile(config.ROOT / name, out / name)


def render(project: Path) -> None:
    """Render the manuscript of `project` to _manuscript/report.html and .pdf (pandoc, Typst)."""
    from .render import render as render_manuscript

    with step("render manuscript"):
        paths = render_manuscript(Path(project).resolve(), Path(project).resolve() /
                                  "_manuscript")
    for path in paths.values():
        print(f"  wrote {_relative(path)}")


def snakemake(data: Path, out: Path, until: str = "report", extra: list[str] | None = None
              ) -> int:
    """Run the workflow for `data` into `out` up to `until` ('variables' or 'report')."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
           "--directory", str(config.ROOT), "--cores", str(min(4, os.cpu_count() or 1)),
           "--quiet", "rules", "--config", f"data={_relative(data)}", f"out={_relative(out)}",
           f"until={until}", *(extra or [])]
    return subprocess.run(cmd, env=env, cwd=config.ROOT).returncode


def build(data: Path, sheet: str | None = None, until: str = "report") -> int:
    """Validate, run the notebooks, merge, and render the report for `data`."""
    data = Path(data).resolve()
    if sheet:
        # the workflow reads files by path: a chosen sheet is validated here up front
        validate_stamp(data, build_dir(data) / ".build" / "validated.json", sheet=sheet)
    out = build_dir(data)
    start = time.perf_counter()
    code = snakemake(data, out, until=until)
    if code == 0:
        what = "variables" if until == "variables" else "report"
        print(f"build of {what} for {data.name} finished in {time.perf_counter() - start:.1f} s"
              f" -> {_relative(out)}")
    else:
        print(f"build failed (exit {code}); the last good report is unchanged.",
              file=sys.stderr)
    return code


def read_stamp(path: Path) -> dict:
    """The validation stamp (used by tests and the benchmark)."""
    return json.loads(Path(path).read_text())
