"""Every path and analysis default in one place, so notebooks, workflow and tests agree."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent
"""The lenstop package's own folder (its stage subpackages below it)."""
"""Project root (the folder holding `pyproject.toml`)."""

DATA_DIR = ROOT / "data"
SYNTHETIC_COHORT = DATA_DIR / "synthetic" / "cohort.csv"
PRIVATE_DIR = DATA_DIR / "private"
NOTEBOOKS_DIR = ROOT / "notebooks"
NOTEBOOKS = ("01_cohort", "02_ti_duration", "03_cytogenetics", "04_retreatment", "05_outcomes",
             "06_simulation", "07_sensitivity")
"""The analysis notebooks (in NOTEBOOKS_DIR), in report order; each writes the results section
`SECTION_OF[name]`."""

SECTION_OF = dict(zip(NOTEBOOKS, ("cohort", "ti_duration", "cytogenetics", "retreatment",
                                  "outcomes", "simulation", "sensitivity"), strict=True))
FIGURES_DIR = ROOT / "figures"
RESULTS_DIR = ROOT / "results"
RESULTS_FILE = RESULTS_DIR / "results.json"
BUILD_DIR = ROOT / "build"

DAYS_PER_MONTH = 30.4375
"""Months are days / 30.4375 (the study's definition: 365.25 / 12)."""

ANALYSIS_FILE = ROOT / "config" / "config.yaml"
"""The analysis defaults (the published definitions), one reviewed file."""

SENSITIVITY_GRID = ROOT / "config" / "sensitivity.yaml"
"""The reviewed sensitivity grid every build runs (unless SENSITIVITY=0;
lenstop.analyses.sensitivity)."""

PARAMS_ENV = "LENSTOP_PARAMS"
"""The running build's analysis parameters that differ from `ANALYSIS` (JSON): `lenstop build
--param` sets it for every step and notebook."""

MIN_TI_WEEKS = 8
"""RBC-TI (IWG 2006 HI-E, kept by IWG 2018): at least 8 consecutive weeks without an RBC
transfusion. A definition, not a build parameter (the sensitivity grid varies it per point)."""

MIN_CATEGORY = 5
"""Categories of a model term with fewer patients get no hazard ratio of their own: they merge
as Methods states (the reasons for discontinuation into patient decision), in the Cox models of
notebook 02 and of every sensitivity grid point alike."""

_PARAM_TYPES = {"cycles_cutoff": (int, float), "tb_cutoff": (int, float), "alpha": (float,),
                "landmarks": (list,)}


def check_parameters(values: dict, where: str) -> dict:
    """Analysis parameters checked against the known keys and types (ValueError naming
    `where` and every problem); numbers stay as given, landmarks become a list of numbers."""
    problems = parameter_problems(values)
    if problems:
        raise ValueError(f"{where}: " + "; ".join(problems))
    return dict(values)


def parameter_problems(values: dict) -> list[str]:
    """What is wrong with analysis parameters `values`, one text each (empty if nothing): an
    unknown key, a wrong type, landmarks that are not positive numbers, alpha out of range."""
    problems = []
    for key, value in values.items():
        if key not in _PARAM_TYPES:
            problems.append(f"unknown parameter {key!r} (known: {', '.join(_PARAM_TYPES)})")
        elif isinstance(value, bool) or not isinstance(value, _PARAM_TYPES[key]):
            problems.append(f"{key} = {value!r} is not a "
                            + " or ".join(t.__name__ for t in _PARAM_TYPES[key]))
        elif key == "landmarks" and not all(isinstance(v, int | float) and v > 0
                                            for v in value):
            problems.append("landmarks must be a list of positive numbers (months)")
        elif key == "alpha" and not 0 < value < 0.5:
            problems.append(f"alpha = {value} must be between 0 and 0.5")
    return problems


def _analysis_defaults() -> dict:
    import yaml

    data = yaml.safe_load(ANALYSIS_FILE.read_text(encoding="utf-8")) or {}
    values = check_parameters(data.get("analysis") or {}, str(ANALYSIS_FILE))
    missing = set(_PARAM_TYPES) - set(values)
    if missing:
        raise ValueError(f"{ANALYSIS_FILE}: analysis defaults missing: "
                         f"{', '.join(sorted(missing))}")
    return values


ANALYSIS = _analysis_defaults()
"""The published definitions (`config/config.yaml` `analysis:`)."""

CYCLES_CUTOFF = ANALYSIS["cycles_cutoff"]
"""LEN cycles at or above which treatment counts as long (published factor: >= 12 cycles)."""

TB_CUTOFF_UNITS_8WK = float(ANALYSIS["tb_cutoff"])
"""High transfusion burden (IWG 2018 HTB): >= 8 RBC units in 16 weeks, i.e. >= 4 units in 8 weeks.

Anything below (IWG 2018 LTB, 3-7 units/16 weeks, and lighter burdens) is low burden.
"""

ALPHA = ANALYSIS["alpha"]
"""Two-sided significance level for tests and confidence intervals."""

LANDMARK_MONTHS = tuple(ANALYSIS["landmarks"])
"""Times (months from discontinuation) at which survival-type estimates are reported."""


def build_parameters() -> dict:
    """The running build's parameters that differ from `ANALYSIS` (`PARAMS_ENV`; {} outside
    a build or for the published definitions)."""
    import json
    import os

    text = os.environ.get(PARAMS_ENV)
    return check_parameters(json.loads(text), PARAMS_ENV) if text else {}


def parameter_suffix(changed: dict) -> str:
    """The build-folder suffix of parameters that differ from the paper's: '-cycles_cutoff6'."""
    def text(v):
        return "_".join(f"{x:g}" for x in v) if isinstance(v, list) else f"{v:g}"

    return "".join(f"-{k}{text(v)}" for k, v in sorted(changed.items()))


SYNTHETIC_SEED = 20240805
"""Seed of the synthetic cohort (the paper's online date, 5 Aug 2024)."""

MIN_CELL_SIZE = 0
"""The notebooks' own default minimum cell size (0: no suppression), used for the synthetic
cohort; a build of any other extract defaults to `PRIVATE_MIN_CELL_SIZE`."""

PRIVATE_MIN_CELL_SIZE = 5
"""Minimum cell size of a build of any extract but the synthetic cohort, unless told otherwise
(MIN_CELL=0): counts below it show as '<5', as registries' disclosure rules usually require."""


def default_min_cell(path: str | Path) -> int:
    """The minimum cell size a build of `path` uses when none is given: private by default."""
    return MIN_CELL_SIZE if is_synthetic(path) else PRIVATE_MIN_CELL_SIZE

MANUSCRIPT_SOURCES = ("report.qmd", "_quarto.yml", "references.bib", "vancouver.csl",
                      "config/report.yaml", "config/offline.scss",
                      "config/banner-above-toc.html")
"""The manuscript's sources (project-relative): what the renderer reads besides the build's
notebooks and variables; staged into every build folder, scanned as text that is not data."""

OUTPUT_ENV = "LENSTOP_OUTPUT_DIR"
"""Environment variable that redirects a notebook's outputs (`lenstop.cohort.study`): the build
runs each notebook in its own staging folder, and the tests must not touch the committed
figures. Here, not in study, so that the notebook step need not import the notebooks' stack."""

MAPPING_ENV = "LENSTOP_MAPPING"
"""The crosswalk (lenstop.ingest.crosswalk) of the running build: `lenstop build --mapping` sets
it for every step and notebook, and a Quarto render of a build folder reads it from
`_environment`."""


def mapping_path() -> Path | None:
    """The crosswalk file named by `MAPPING_ENV`, or None."""
    import os

    value = os.environ.get(MAPPING_ENV, "").strip()
    return Path(value).resolve() if value else None


REPORT_CONFIG = ROOT / "config" / "report.yaml"
"""Authors, affiliations, keywords and declarations: the file a registry edits (Quarto reads
it as a metadata file; the build reads its declarations)."""

FALLBACK_SOURCE_DATE_EPOCH = 1722816000
"""2024-08-05, the paper's online date: the build date only where git cannot give one."""


def source_date_epoch() -> int:
    """The build's date as Unix time: SOURCE_DATE_EPOCH, else the commit time of HEAD.

    The same inputs then give the same report (reproducible builds), dated by the code version
    it was built from rather than by the day it ran.
    """
    import os
    import subprocess

    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value.isdigit():
        return int(value)
    try:
        run = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return FALLBACK_SOURCE_DATE_EPOCH
    out = run.stdout.strip()
    return int(out) if run.returncode == 0 and out.isdigit() else FALLBACK_SOURCE_DATE_EPOCH


def build_date():
    """The build's date (UTC) from `source_date_epoch()`."""
    import datetime as dt

    return dt.datetime.fromtimestamp(source_date_epoch(), dt.UTC).date()


def is_shipped(path: str | Path) -> bool:
    """True when `path` is the shipped synthetic cohort file itself (outputs go in place)."""
    return Path(path).resolve() == SYNTHETIC_COHORT.resolve()


def is_synthetic(path: str | Path) -> bool:
    """True when `path` holds the shipped synthetic cohort, here or as a copy (same bytes).

    Decides how a report labels its data; where outputs go depends on `is_shipped` only.
    """
    if is_shipped(path):
        return True
    path, shipped = Path(path), SYNTHETIC_COHORT
    if not path.is_file() or path.stat().st_size != shipped.stat().st_size:
        return False
    return path.read_bytes() == shipped.read_bytes()
