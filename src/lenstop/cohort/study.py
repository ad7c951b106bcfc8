"""What every notebook opens first: the validated cohort, its analysis table and output folders.

`open_study(...)` takes the notebook's papermill parameters, so the four notebooks stay thin and
agree on where outputs go: `<output_dir>/figures`, `<output_dir>/results/sections`,
`<output_dir>/results/tables`. The shipped synthetic cohort writes into the project itself;
any other extract must write elsewhere (by default `build/<extract name>/`, git-ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from lenstop import config, files
from lenstop.cohort import cache
from lenstop.cohort.derive import analysis_table, exclusion_counts, included
from lenstop.content import figures
from lenstop.content.tables import Table
from lenstop.disclosure.placement import BUILD_DATA_ENV, check_build_data, check_output_dir
from lenstop.disclosure.placement import (
    PrivacyError as PrivacyError,  # raised here; defined with the guard
)
from lenstop.disclosure.suppression import Cells
from lenstop.manuscript import results

SCRATCH_DIR = config.BUILD_DIR / "scratch"
"""Where a notebook run by hand on the shipped cohort writes (git-ignored)."""

OUTPUT_ENV = config.OUTPUT_ENV


def default_output_dir(data_path: Path, min_cell: int | None = None) -> Path:
    """The build folder of `data_path` with this minimum cell size (`layout.build_dir`):
    the project for the shipped cohort, `build/<extract stem>[-min<k>]/` for anything else."""
    from lenstop.workflow.layout import build_dir

    return build_dir(data_path, min_cell)


@dataclass
class Study:
    """The validated cohort of one build and where this notebook writes its outputs."""

    data_path: Path
    output_dir: Path
    cohort: pd.DataFrame
    analysis: pd.DataFrame
    synthetic: bool
    data_sha256: str
    parameters: dict
    exclusions: pd.DataFrame = field(default_factory=pd.DataFrame)
    """`derive.exclusion_counts` of the validated cohort: the flow figure's exclusion boxes;
    `analysis` holds the patients left (`cohort` holds every patient assessed)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def min_cell(self) -> int:
        """Counts below this are shown as '<min_cell' in shareable outputs (0: none)."""
        return self.parameters["min_cell"]

    @property
    def cells(self) -> Cells:
        """How counts are shown in this build's outputs (see `lenstop.disclosure.suppression`)."""
        return Cells(self.min_cell)

    @property
    def figures_dir(self) -> Path:
        return self.output_dir / "figures"

    @property
    def results_dir(self) -> Path:
        return self.output_dir / "results"

    @property
    def tables_dir(self) -> Path:
        return self.results_dir / "tables"

    @property
    def data_label(self) -> str:
        """How outputs name the data: 'SYNTHETIC cohort' or the extract's file name."""
        return "SYNTHETIC cohort, not patient data" if self.synthetic else self.data_path.name

    def save_figure(self, fig: plt.Figure, name: str) -> None:
        """Save `fig` as SVG and PNG under the figures folder."""
        figures.save(fig, name, self.figures_dir)

    def save_table(self, table: Table) -> Table:
        """Write the table's markdown next to the results and return it for display."""
        table.save(self.tables_dir)
        return table

    def save_results(self, section: str, data: dict) -> dict:
        """Write this notebook's results section, with the data's fingerprint and parameters."""
        meta = {"data_sha256": self.data_sha256, "data_file": self.data_path.name,
                "synthetic": self.synthetic, "parameters": self.parameters}
        payload = {"meta": meta, **data}
        results.write_section(self.results_dir, section, payload)
        return results.clean(payload)


def open_study(data_path: str | Path | None = None, output_dir: str | Path | None = None,
               cycles_cutoff: float = config.CYCLES_CUTOFF,
               tb_cutoff: float = config.TB_CUTOFF_UNITS_8WK, alpha: float = config.ALPHA,
               landmarks: tuple | list = config.LANDMARK_MONTHS,
               min_cell: int = config.MIN_CELL_SIZE, sheet: str | None = None) -> Study:
    """Validate the extract, derive the analysis table and resolve the output folders.

    Every parameter is recorded in the results' meta; `min_cell` is the minimum cell size
    (counts below it are shown as '<min_cell' in shareable outputs, 0 disables it); `sheet`
    names the Excel sheet to read (default: the one with patient_id). Within a build the
    cohort comes from the build's cache (validated once, up front); otherwise it is
    validated here.
    """
    data_path = Path(data_path) if data_path else config.SYNTHETIC_COHORT
    if not data_path.is_absolute():
        data_path = (config.ROOT / data_path) if not data_path.exists() else data_path.resolve()
    check_build_data(data_path)
    if output_dir is None:
        output_dir = os.environ.get(OUTPUT_ENV) or default_output_dir(data_path, min_cell)
        if Path(output_dir).resolve() == config.ROOT.resolve() and not os.environ.get(
                BUILD_DATA_ENV):  # run by hand (JupyterLab): never over the committed outputs
            output_dir = SCRATCH_DIR
            print(f"Run by hand: outputs go to {SCRATCH_DIR.relative_to(config.ROOT)}/; the "
                  "committed figures/ and results/ are written by `make report` only.")
    output_dir = Path(output_dir).resolve()
    check_output_dir(data_path, output_dir)
    cohort, warnings = cache.load_or_validate(data_path, output_dir, sheet)
    figures.use_style()
    params = {"cycles_cutoff": cycles_cutoff, "tb_cutoff": tb_cutoff, "alpha": alpha,
              "landmarks": list(landmarks), "min_cell": int(min_cell)}
    return Study(
        data_path=data_path, output_dir=output_dir, cohort=cohort,
        analysis=analysis_table(included(cohort), cycles_cutoff=cycles_cutoff,
                                tb_cutoff=tb_cutoff),
        exclusions=exclusion_counts(cohort),
        synthetic=config.is_synthetic(data_path), data_sha256=files.sha256(data_path),
        parameters=params, warnings=warnings)
