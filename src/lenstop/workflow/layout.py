"""Where a build writes, and how its steps report: the folder rules every step shares.

A build of the shipped synthetic cohort with its default options writes into the project
itself; any other build into `build/<name>[-suffixes]/` (git-ignored). Inside a build folder,
`.build/` is private (stamps, staging, per-notebook runs) and `.build/stage/` holds the next
version of every output until `publish` copies it out. `step` prints one line per step with
its time; `StepError` is how a step says it failed.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

from lenstop import config
from lenstop.errors import StepError
from lenstop.files import write_json

MANUSCRIPT_SOURCES = config.MANUSCRIPT_SOURCES


def report_files() -> tuple[str, ...]:
    """What the render step writes (as Quarto names them): the article site's index.html, the
    PDF, and for each notebook an HTML preview and the notebook itself, which every embedded
    figure and table links to."""
    from lenstop.config import NOTEBOOKS

    return ("_manuscript/index.html", "_manuscript/report.pdf",
            *(f"_manuscript/notebooks/{nb}{end}" for nb in NOTEBOOKS
              for end in ("-preview.html", ".ipynb")))


REPORT_FILES = report_files()


@contextmanager
def step(name: str):
    """Print `name` when it starts and its elapsed time when it ends."""
    start = time.perf_counter()
    print(f"[{name}] started", flush=True)
    yield
    print(f"[{name}] done in {time.perf_counter() - start:.1f} s", flush=True)


QUARTO_FILES = ("workflow/pre-render.sh", "_environment")
"""Written into a private build folder so that `quarto render build/<name>` works there too:
the pre-render script and a Quarto `_environment` naming the extract and the Python to use."""


def build_dir(data: Path, min_cell: int | None = None, sensitivity: bool = True,
              params: dict | None = None) -> Path:
    """Where a build of `data` goes: the project itself for the shipped synthetic cohort with
    its default options; build/<extract stem>, with `-min<k>` when k is not the extract's
    default (`config.default_min_cell`), `-nogrid` without the sensitivity grid and
    `-<parameter><value>` for analysis parameters other than the paper's, otherwise
    (git-ignored): a non-default build never replaces the shipped results."""
    default = config.default_min_cell(data)
    min_cell = default if min_cell is None else int(min_cell)
    suffix = (f"-min{min_cell}" if min_cell != default else "") + \
        ("" if sensitivity else "-nogrid") + config.parameter_suffix(params or {})
    if config.is_shipped(data) and not suffix:
        return config.ROOT
    return config.BUILD_DIR / f"{Path(data).stem}{suffix}"


def claim_build_dir(data: Path, out: Path, replace: bool = False) -> None:
    """Record which extract build folder `out` belongs to; refuse another one's folder.

    Monthly exports are often named alike (`extract.xlsx` in several folders): a build of one
    must never silently replace the build of another. `replace=True` hands the folder over.
    """
    if Path(out).resolve() == config.ROOT.resolve():
        return
    owner = work_dir(out) / "extract.json"
    data = Path(data).resolve()
    if owner.exists() and not replace:
        previous = json.loads(owner.read_text()).get("extract")
        if previous and Path(previous) != data:
            raise StepError(
                f"{relative(out)} holds the build of {previous}; this extract is {data} "
                "(another file of the same name). Rename one of them, or rebuild the folder "
                "for this one with `make report REPLACE=1` (`lenstop build --replace`)")
    owner.parent.mkdir(parents=True, exist_ok=True)
    write_json(owner, {"extract": str(data)})


def work_dir(out: Path) -> Path:
    """The build folder's private area (git-ignored): stamps, staging, per-notebook runs."""
    return Path(out) / ".build"


def stage_dir(out: Path) -> Path:
    """The staging area: the next version of every output, laid out like the build folder."""
    return work_dir(out) / "stage"


def relative(path: Path) -> str:
    """`path` as the terminal shows it: relative to the project, else absolute."""
    try:
        rel = Path(path).resolve().relative_to(config.ROOT.resolve())
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(Path(path).resolve())
