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
