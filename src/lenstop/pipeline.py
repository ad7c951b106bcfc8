"""The build: validate the extract, then run every later step that exists.

The notebooks and the manuscript are added by later steps of the project; until then a build
validates the data and says what it checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .validate import load_cohort


def build(data: Path, sheet: str | None = None) -> int:
    """Validate `data` (raises DataError on problems) and return the exit code."""
    cohort, warnings = load_cohort(data, sheet=sheet)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"[1/1] validated {data.name}: {len(cohort)} patients")
    return 0
