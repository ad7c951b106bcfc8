"""The validation stamp: which extract (bytes, crosswalk) a build validated, and what the
reader noticed on the way, written where the workflow's `validate` rule finds it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lenstop import config
from lenstop.files import sha256


def _stamp_text(data: Path, cohort) -> str:
    """The validation stamp: the extract's name, fingerprint and size (no patient data)."""
    from lenstop.manuscript.results import dumps

    mapping = config.mapping_path()
    return dumps({"data_file": Path(data).name, "sha256": sha256(data),
                  "mapping_sha256": sha256(mapping) if mapping else None,
                  "patients": len(cohort)})


def print_loading_messages(messages: list[str]) -> None:
    """What reading the extract noticed, on stderr: a documented convention applied (a date
    known to the month set to the 15th, and flagged) is a note; anything else a warning."""
    for m in messages:
        kind = "note" if "set to the 15th" in m else "warning"
        print(f"{kind}: {m}", file=sys.stderr)


def write_stamp(data: Path, stamp: Path, cohort) -> bool:
    """Write the validation stamp of `data` unless it is already current; True if written.

    Current means same bytes and not older than the extract: Snakemake then finds the
    `validate` rule's output up to date (it reruns a rule whose input is newer than its
    output), and the notebooks, whose input it is, keep theirs. An extract dated in the
    future (a clock ahead, a copy that kept its date) gives the stamp the same date.
    """
    from lenstop.files import write_atomic

    stamp, text = Path(stamp), _stamp_text(data, cohort)
    data_time = Path(data).stat().st_mtime_ns
    if (stamp.is_file() and stamp.read_text(encoding="utf-8") == text
            and stamp.stat().st_mtime_ns >= data_time):
        return False
    write_atomic(stamp, text)
    if stamp.stat().st_mtime_ns < data_time:
        os.utime(stamp, ns=(data_time, data_time))
    return True


def validate_stamp(data: Path, stamp: Path, sheet: str | None = None) -> None:
    """Validate `data`; on success write a stamp (fingerprint and counts, no patient data).

    The workflow's `validate` rule. `build()` writes the stamp itself after its up-front
    check, so the rule runs only when Snakemake is started by hand; it then uses the cohort
    cache of the stamp's folder when that holds this extract.
    """
    from lenstop.cohort.cache import load
    from lenstop.ingest.validate import load_cohort

    cached = load(data, Path(stamp).parent, sheet)
    cohort, warnings = cached if cached is not None else load_cohort(
        data, sheet=sheet, mapping=config.mapping_path())
    print_loading_messages(warnings)
    write_stamp(data, stamp, cohort)
    print(f"{Path(data).name}: {len(cohort)} patients, all checks passed.")
