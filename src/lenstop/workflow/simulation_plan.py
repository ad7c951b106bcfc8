"""The simulation study's plan: which seeds, in which workflow jobs, and where its files go.

Kept apart from `lenstop.analyses.simulation` (numpy, pandas, the statistics) because the workflow
reads it every time Snakemake starts, on the login node and in every cluster job.
"""

from __future__ import annotations

from pathlib import Path

from lenstop.config import BUILD_DIR

DEFAULT_REPLICATES = 200
"""Replicates a build runs: 0.07-0.09 s each on one core here (about 15-20 s for 200, plus
about 5 s for `planted_values`). `run(range(1, 2001))` is the full study."""

FIRST_SEED = 1
"""Seeds of the default study are FIRST_SEED, FIRST_SEED + 1, ... (disjoint from the shipped
cohort's seed search, which starts at `config.SYNTHETIC_SEED`)."""

BATCH_SIZE = 50
"""Seeds per workflow job (rule `simulate_batch`): each job pays an interpreter start and the
imports (2-7 s, measured by the benchmark) before its replicates (0.07-0.2 s each), so 200
replicates are 4 jobs (two at a time on two cores) and 2,000 are 40 (for a cluster)."""

CODE = ("analyses/simulation.py", "ingest/synthetic.py", "cohort/derive.py", "config.py", "stats")
"""The package files a replicate's numbers depend on (the workflow's inputs of its jobs)."""


def code_files() -> list[Path]:
    """The files of `CODE`, sorted (stats/ expanded)."""
    here = Path(__file__).resolve().parents[1]
    files = []
    for name in CODE:
        path = here / name
        files += sorted(path.glob("*.py")) if path.is_dir() else [path]
    return files


def results_dir(replicates: int = DEFAULT_REPLICATES, first_seed: int = FIRST_SEED) -> Path:
    """Where the workflow keeps a study of `replicates` seeds from `first_seed` (git-ignored,
    shared by every build of the project: it does not depend on any extract)."""
    name = f"R{replicates}" + ("" if first_seed == FIRST_SEED else f"-from{first_seed}")
    return BUILD_DIR / "simulation" / name


def batches(replicates: int = DEFAULT_REPLICATES, first_seed: int = FIRST_SEED,
            size: int = BATCH_SIZE) -> list[tuple[int, int]]:
    """The (first, last) seeds of each job, last included."""
    stop = first_seed + replicates
    return [(s, min(s + size, stop) - 1) for s in range(first_seed, stop, size)]
