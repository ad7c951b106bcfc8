"""Execute an analysis notebook with papermill and strip what would differ between runs.

Papermill and nbclient stamp every cell with start/end times; those are removed so that the
same inputs give byte-identical notebooks (and committed notebooks do not churn).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager

NOTEBOOKS = ("01_cohort", "02_ti_duration", "03_cytogenetics", "04_retreatment", "05_outcomes",
             "06_simulation", "07_sensitivity")
"""The analysis notebooks, in report order; each writes the results section of its name."""

SECTION_OF = dict(zip(NOTEBOOKS, ("cohort", "ti_duration", "cytogenetics", "retreatment",
                                  "outcomes", "simulation", "sensitivity"), strict=True))


RUN_STEP_MODULES = ("workflow.pipeline", "workflow.notebooks", "workflow.layout", "files",
                    "disclosure.placement", "config")
"""The modules of the workflow's notebook step itself (lenstop.workflow.pipeline.run_notebook):
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
        todo |= _imports(path.read_text(encoding="utf-8"), own) - set(seen)
    return sorted(seen.values())


STOP_REQUESTED = False
"""Set by `stop_handler` when this process was asked to stop (Ctrl-C, SIGTERM)."""


def stop_handler(signum, frame):
    """SIGINT/SIGTERM: remember that a stop was asked for, then stop like Ctrl-C."""
    global STOP_REQUESTED
    STOP_REQUESTED = True
    raise KeyboardInterrupt


class IPCKernelManager(AsyncKernelManager):
    """Kernel manager talking over Unix sockets: parallel kernels cannot race for TCP ports.

    jupyter_client interrupts a kernel before every shutdown; after a notebook has finished
    the kernel is idle, and that interrupt only makes ipykernel print 'KeyboardInterrupt
    caught in kernel' and, when it races with the sockets closing, a ZMQError traceback on
    the build's console. So the shutdown interrupts the kernel only when a stop was asked for
    (a notebook may then still be running).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        # each kernel gets its own socket folder, so parallel builds never share a path
        self.ip = str(Path(tempfile.mkdtemp(prefix="lenstop-kernel-")) / "ipc")

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down and not STOP_REQUESTED:
            return
        await super()._async_interrupt_kernel()


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop execution timestamps and durations from a notebook (in place) and return it."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
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
                                   progress_bar=progress, log_output=False,
                                   kernel_manager_class=IPCKernelManager)
        nb = scrub(nbformat.read(tmp, as_version=4))
        nbformat.write(nb, tmp)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output
