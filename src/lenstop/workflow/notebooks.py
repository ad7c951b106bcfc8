"""The analysis notebooks and their workflow step: which notebooks, what code each runs (its
rule's code inputs), and executing one with papermill into the build's staging area.

Papermill and nbclient stamp every cell with start/end times; those are removed so that the
same inputs give byte-identical notebooks (and committed notebooks do not churn).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
from pathlib import Path

import nbformat

from lenstop import config
from lenstop.config import SECTION_OF
from lenstop.errors import StepError
from lenstop.files import sha256, write_json
from lenstop.workflow.kernels import IPCKernelManager, lease, stop_handler
from lenstop.workflow.layout import relative, stage_dir, step, work_dir

RUN_STEP_MODULES = ("workflow.notebooks", "workflow.kernels", "workflow.layout", "files", "errors",
                    "disclosure.placement", "config")
"""The modules of the workflow's notebook step itself (`run_notebook` below):
an edit there may change every executed notebook. (Their own imports serve the other steps and
are not followed; what the notebook step uses of them is listed here.)"""


def _module_file(package: Path, dotted: str) -> Path | None:
    """The file of lenstop module `dotted` ('stats.cox', 'stats'), or None if it is not one."""
    path = package.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(source: str, module: str) -> set[str]:
    """The lenstop modules `source` (of lenstop module `module`, '' for a notebook) imports,
    lazily inside functions too, as dotted names below the package."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the importing module's package
                parts = module.split(".")[:-node.level] if module else []
                base = ".".join([*parts, *([node.module] if node.module else [])])
                names = [base, *(f"{base}.{a.name}".strip(".") for a in node.names)]
            else:
                base = node.module or ""
                names = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        for name in names:
            if name == "lenstop" or name.startswith("lenstop."):
                found.add(name.removeprefix("lenstop").lstrip("."))
            elif isinstance(node, ast.ImportFrom) and node.level:
                found.add(name)  # relative: already below the package
    return {n for n in found if n}


@functools.cache
def _module_imports(path: Path, module: str) -> frozenset[str]:
    """`_imports` of one package file, parsed once per process: Snakemake asks for the code
    inputs of every notebook and grid point while it plans (5 s of parsing, uncached)."""
    return frozenset(_imports(path.read_text(encoding="utf-8"), module))


def code_inputs(name: str) -> list[Path]:
    """The package files notebook `name` runs, directly or through what they import, and those
    of the notebook step (`RUN_STEP_MODULES`): its rule's code inputs, so that editing a module
    no notebook uses (the command line, the renderer) reruns no notebook."""
    import json

    from lenstop.config import NOTEBOOKS_DIR

    package = Path(__file__).resolve().parents[1]
    nb = json.loads((NOTEBOOKS_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))
    step = closure_files(package, RUN_STEP_MODULES)
    todo: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            todo |= _imports("\n".join(line for line in src.splitlines()
                                        if not line.lstrip().startswith(("%", "!"))), "")
    return sorted({*closure(todo, named=False), *step})


def closure_files(package: Path, modules) -> list[Path]:
    """The files of lenstop `modules` (dotted, below the package); a name that is no module is
    an error, so that a renamed module cannot silently drop a rule's code inputs."""
    files = [_module_file(package, m) for m in modules]
    unknown = [m for m, f in zip(modules, files, strict=True) if f is None]
    if unknown:
        raise ValueError(f"not lenstop modules: {', '.join(sorted(unknown))}")
    return files


def closure(modules: set[str] | list[str], named: bool = True) -> list[Path]:
    """The files of lenstop `modules` (dotted, below the package) and of everything they
    import, lazily inside functions too: what a job running them may execute. With `named`,
    each of `modules` must be a module (not a name imported from one)."""
    package = Path(__file__).resolve().parents[1]
    if named:
        closure_files(package, modules)
    todo, seen = set(modules), {}
    while todo:
        dotted = todo.pop()
        path = _module_file(package, dotted)
        if path is None or dotted in seen:
            continue
        seen[dotted] = path
        own = dotted if path.name != "__init__.py" else f"{dotted}.__init__"
        todo |= _module_imports(path, own) - set(seen)
    return sorted(seen.values())


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution timestamps and durations from a notebook (in place) and return it."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    return nb


# ------------------------------------------------------------------ the notebook step

FAULT_ENV = "LENSTOP_TEST_FAULT"
"""Test hook: `<notebook>` (or `*`, every notebook) makes the notebook fail in its first cell
after the parameters; `<notebook>:hang` makes it sleep there (tests of failed and interrupted
builds; a notebook cannot otherwise be made to fail without editing the committed ones)."""


def _with_fault(source: Path, name: str, scratch: Path) -> Path:
    """The notebook with the test fault of FAULT_ENV inserted after its parameters cell."""
    import nbformat

    fault = os.environ.get(FAULT_ENV, "")
    target, _, kind = fault.partition(":")
    if target not in (name, "*"):
        return source
    nb = nbformat.read(source, as_version=4)
    code = ("import time\ntime.sleep(600)" if kind == "hang" else
            f"raise RuntimeError('fault injected by {FAULT_ENV} (tests only)')")
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(code)
    cell["id"] = "test-fault"
    nb.cells.insert(at + 1, cell)
    path = scratch / f"{name}.fault.ipynb"
    nbformat.write(nb, path)
    return path


def merge_streams(nb):
    """Join adjacent stdout (stderr) outputs of a cell into one, in place, and return `nb`.

    The kernel sends printed text in chunks as its buffer is flushed, so where one output
    ends and the next begins depends on timing; joined, the same run gives the same bytes.
    """
    for cell in nb.cells:
        outputs = []
        for out in cell.get("outputs", []):
            last = outputs[-1] if outputs else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last["name"] == out["name"]):
                last["text"] += out["text"]
            else:
                outputs.append(out)
        if "outputs" in cell:
            cell["outputs"] = outputs
    return nb


def _cell_name(source: str) -> str:
    """A failed cell's label (`#| label: x`) or its first line, to name it in the error."""
    lines = [ln.strip() for ln in source.splitlines() if ln.strip()]
    label = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("#| label:")), "")
    return label or (lines[0][:60] if lines else "")


def run_notebook(name: str, data: Path, out: Path, min_cell: int | None = None,
                 sheet: str | None = None) -> None:
    """Execute one analysis notebook for `data` into the staging area of build folder `out`.

    The notebook runs in its own folder (`.build/run/<name>/`) and its products (results
    section, figures, tables, executed notebook) move into `.build/stage/` only when it
    succeeded; a failed notebook is kept as `.build/failed/<name>.ipynb` for debugging.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from lenstop.disclosure import placement
    from lenstop.files import write_atomic

    # SIGTERM stops the notebook like Ctrl-C: papermill then shuts its kernel down (and, as a
    # stop was asked for, interrupts it first: see kernels.IPCKernelManager); a pooled kernel
    # is stopped by its lease
    signal.signal(signal.SIGTERM, stop_handler)
    signal.signal(signal.SIGINT, stop_handler)
    out = Path(out).resolve()
    min_cell = config.MIN_CELL_SIZE if min_cell is None else int(min_cell)
    source = config.NOTEBOOKS_DIR / f"{name}.ipynb"
    placement.check_notebooks([source])  # (build() checked all; one may be edited since)
    work, stage = work_dir(out), stage_dir(out)
    run, failed = work / "run" / name, work / "failed" / f"{name}.ipynb"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True)
    failed.unlink(missing_ok=True)
    # The committed notebooks run with their defaults (no injected cell, no local paths);
    # other builds name their data (and a minimum cell size) as papermill parameters.
    params: dict = {}
    if not config.is_shipped(data):
        params["data_path"] = str(Path(data).resolve())
    if min_cell != config.MIN_CELL_SIZE:
        params["min_cell"] = min_cell
    if sheet:
        params["sheet"] = sheet
    params.update(config.build_parameters())  # the build's analysis parameters, if not the paper's
    os.environ[config.OUTPUT_ENV] = str(run)  # where open_study() writes: this run's own folder
    os.environ[placement.BUILD_DATA_ENV] = str(Path(data).resolve())  # the only extract it opens
    # papermill warns about every parameter line it cannot type-infer (comments with ';'):
    # noise on every build, and nothing it says is acted on
    logging.getLogger("papermill").setLevel(logging.ERROR)
    executed = work / "run" / f"{name}.ipynb"
    with step(f"notebook {name}"):
        try:
            with lease(config.NOTEBOOKS_DIR) as km:  # the build's warm kernel, if it has one
                papermill.execute_notebook(
                    str(_with_fault(source, name, work / "run")), str(executed),
                    parameters=params, kernel_name="python3", cwd=str(config.NOTEBOOKS_DIR),
                    progress_bar=False, log_output=False, kernel_manager_class=IPCKernelManager,
                    **({"km": km} if km is not None else {}))
        except PapermillExecutionError as exc:
            if executed.exists():
                failed.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(scrub(nbformat.read(executed, as_version=4)), failed)
                executed.unlink()
            cell = _cell_name(exc.source)
            raise StepError(
                f"notebook {name}.ipynb failed in cell [{exc.exec_count}]"
                + (f" ({cell})" if cell else "") + f": {exc.ename}: {exc.evalue}\n"
                f"  the failed notebook is kept in {relative(failed)}; nothing was published"
            ) from None
        nb = merge_streams(scrub(nbformat.read(executed, as_version=4)))
        nbformat.validate(nb)
        section = run / "results" / "sections" / f"{SECTION_OF[name]}.json"
        if not section.exists():
            raise StepError(f"notebook {name}.ipynb ran but wrote no results section")
        products = {}
        for path in sorted(p for p in run.rglob("*") if p.is_file()):
            rel = path.relative_to(run).as_posix()
            products[rel] = sha256(path)
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        write_atomic(stage / "notebooks" / f"{name}.ipynb", nbformat.writes(nb) + "\n")
        executed.unlink()
        write_json(work / "products" / f"{name}.json", {"notebook": name, "files": products})
